#!/usr/bin/env bash
# Compares iomapfs with the host file system, with libfuse 3's passthrough_ll example and with the binding's
# floor (not a test): the same fio jobs run on all four, interleaved job by job (host, passthrough_ll, floor,
# iomapfs) so that load from other work on the machine hits all alike. The floor is `iomapfs floor MNT`: a minimal
# in-memory Vfs (fs-fuse floor/FloorVfs) served through the same FuseMount and request loop as the engine, so
# iomapfs/floor is what the engine costs and floor/passthrough_ll what the Java binding (jnr-fuse, libfuse 2) costs.
# Jobs: sequential 1 MiB buffered writes and reads, 4 KiB O_DIRECT random reads and writes, 4 KiB random writes over a
# 256 MiB file through a shared mapping (ioengine=mmap, msync every 256 writes), 4 KiB O_DIRECT random reads with 4
# and 16 jobs; every run starts with all page caches dropped, the engine's own too. Prints one table with MB/s or
# IOPS, the ratios iomapfs/passthrough_ll, iomapfs/floor, floor/passthrough_ll and iomapfs/host, and each daemon's CPU
# time (utime+stime of the whole process from /proc/PID/stat, JIT and GC threads included) per completed fio I/O: one
# I/O of a 1 MiB job is one 1 MiB FUSE request (iomapfs and the floor ask for 256 pages with FUSE_MAX_PAGES, as
# libfuse 3 does for passthrough_ll), an mmap I/O is a store that may cause no request at all.
# passthrough_ll is compiled from the libfuse3-dev examples (Debian ships them in /usr/share/doc/libfuse3-dev) and
# runs with its defaults (cache=auto, no writeback cache), with one change: it opens the backing files without
# O_DIRECT. As shipped it passes the caller's O_DIRECT on, and its 4 KiB O_DIRECT writes then fail with EINVAL (the
# payload sits unaligned in libfuse's request buffer); iomapfs likewise does buffered I/O on its image whatever
# the caller's flags, so both serve O_DIRECT requests (which bypass the kernel's page cache of the FUSE file)
# through the host's page cache. PASSTHROUGH_LL names a prebuilt binary instead (it must have that change).
# iomapfs and the floor run with their default mount options.
# Needs root and /dev/fuse; installs fio and libfuse3-dev if missing.
# With rounds > 1 every job runs that many times on each file system (still interleaved) and the table shows the
# median of the rounds, plus the lowest and highest per-round ratio iomapfs/passthrough_ll: on a shared 2-CPU
# machine one 10 s run of a job can be off by a factor of two.
# Usage: fs-fuse/bench/fio-compare.sh [seconds-per-job] [rounds]
# Environment: IOMAPFS_BENCH_DIR (where the host directory, the image and the mount points go; default /tmp),
#              IOMAPFS_DAEMON_JAVA_OPTS (JVM options of the iomapfs and floor daemons, e.g. a JFR recording),
#              PASSTHROUGH_LL (a passthrough_ll binary to use instead of building one).
set -euo pipefail
secs=${1:-10}
rounds=${2:-1}
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || { echo "fio-compare: seconds-per-job must be a positive integer" >&2; exit 1; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "fio-compare: rounds must be a positive integer" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "fio-compare: needs root (drop_caches, mounting passthrough_ll)" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "fio-compare: /dev/fuse is absent" >&2; exit 1; }
repo="$(cd "$(dirname "$0")/../.." && pwd)"

need=()
command -v fio >/dev/null || need+=(fio)
if [ -z "${PASSTHROUGH_LL:-}" ]; then
  [ -e /usr/share/doc/libfuse3-dev/examples/passthrough_ll.c ] || need+=(libfuse3-dev)
  command -v pkg-config >/dev/null || need+=(pkg-config)
  command -v cc >/dev/null || need+=(gcc)
fi
# not fuse3: it conflicts with the fuse package iomapfs's libfuse 2 needs, and root mounts without fusermount3
if [ ${#need[@]} -gt 0 ]; then
  echo "fio-compare: installing ${need[*]}" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

work="$(mktemp -d "${IOMAPFS_BENCH_DIR:-/tmp}/iomapfs-fio.XXXXXX")"
cleanup() {
  for m in "$work/pll" "$work/floor" "$work/iomapfs"; do
    if mountpoint -q "$m"; then umount "$m" || umount -l "$m"; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/host" "$work/pll-src" "$work/pll" "$work/floor" "$work/iomapfs"

pll_bin=${PASSTHROUGH_LL:-}
if [ -z "$pll_bin" ]; then
  ex=/usr/share/doc/libfuse3-dev/examples
  sed 's/~O_NOFOLLOW/~(O_NOFOLLOW | O_DIRECT)/' "$ex/passthrough_ll.c" >"$work/passthrough_ll.c"
  grep -q 'O_NOFOLLOW | O_DIRECT' "$work/passthrough_ll.c" || { echo "fio-compare: cannot patch passthrough_ll.c" >&2; exit 1; }
  # shellcheck disable=SC2046
  cc -O2 -Wall -D_FILE_OFFSET_BITS=64 -I"$ex" $(pkg-config --cflags fuse3) "$work/passthrough_ll.c" \
    -o "$work/passthrough_ll" $(pkg-config --libs fuse3)
  pll_bin="$work/passthrough_ll"
fi
"$pll_bin" -o source="$work/pll-src" "$work/pll"
"$repo/iomapfs" floor "$work/floor" >/dev/null
"$repo/iomapfs" mkfs "$work/img" --size 4G >/dev/null
"$repo/iomapfs" mount "$work/img" "$work/iomapfs" >/dev/null
# the daemons whose CPU time is measured (passthrough_ll forks into the background: found by its options)
declare -A pid
pid[host]=""
pid[pll]=$(pgrep -f "source=$work/pll-src $work/pll")
pid[floor]=$(pgrep -f "floor $work/floor --foreground")
pid[iomapfs]=$(pgrep -f "mount $work/img $work/iomapfs --foreground")
hz=$(getconf CLK_TCK)
cpu_ticks() { if [ -n "$1" ]; then awk '{print $14+$15}' "/proc/$1/stat"; else echo 0; fi; }
echo "daemon pids: passthrough_ll ${pid[pll]}, floor ${pid[floor]}, iomapfs ${pid[iomapfs]};" \
  "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

# before the job's own options: fio takes the last of a repeated option, so a job's --size wins (until 2026-12-04
# it came after them, and the mmap job ran on a 512 MiB file where it names 256 MiB)
common=(--size=512M --time_based --runtime="$secs" --group_reporting --output-format=json)
# name | what is measured | fio options
jobs=(
  "seq-write-1M|MB/s|--filename=f --rw=write --bs=1M --ioengine=psync --end_fsync=1"
  "seq-read-1M|MB/s|--filename=f --rw=read --bs=1M --ioengine=psync"
  "rand-read-4k-direct|IOPS|--filename=f --rw=randread --bs=4k --direct=1 --ioengine=psync"
  "rand-write-4k-direct|IOPS|--filename=f --rw=randwrite --bs=4k --direct=1 --ioengine=psync"
  "mmap-rand-write-4k|IOPS|--filename=m --rw=randwrite --bs=4k --ioengine=mmap --fsync=256 --size=256M"
  "rand-read-4k-direct-4jobs|IOPS|--filename=f --rw=randread --bs=4k --direct=1 --ioengine=psync --numjobs=4"
  "rand-read-4k-direct-16jobs|IOPS|--filename=f --rw=randread --bs=4k --direct=1 --ioengine=psync --numjobs=16"
)
results="$work/results"
: >"$results"
for round in $(seq 1 "$rounds"); do
for job in "${jobs[@]}"; do
  IFS='|' read -r name unit opts <<<"$job"
  for fs in host pll floor iomapfs; do
    # Every job starts with cold caches. drop_caches empties the host's page cache (the host's and passthrough_ll's
    # files, the image) and the FUSE files' pages, but not the engine's own page cache, which kept what the jobs
    # before had read or written (until 2026-12-05 the mmap job found its file cached there whenever it had
    # survived them). The engine's drop_caches writes it back and drops it, as sync and drop_caches do for XFS.
    if [ "$fs" = iomapfs ]; then echo 1 >"$work/iomapfs/.iomapfs/drop_caches"; fi
    sync
    echo 3 >/proc/sys/vm/drop_caches
    t0=$(cpu_ticks "${pid[$fs]}")
    # shellcheck disable=SC2086
    read -r value ios < <(cd "$work/$fs" && fio --name="$name" "${common[@]}" $opts | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
d = j["write"] if j["write"]["io_bytes"] > 0 else j["read"]
print(round(d["bw_bytes"] / 1e6, 1) if sys.argv[1] == "MB/s" else int(d["iops"]),
      j["read"]["total_ios"] + j["write"]["total_ios"])' "$unit")
    [ -n "${ios:-}" ] || { echo "fio-compare: fio failed on $fs ($name)" >&2; exit 1; }
    t1=$(cpu_ticks "${pid[$fs]}")
    # daemon CPU microseconds per completed fio I/O (- for the host: no daemon)
    cpu=$([ -n "${pid[$fs]}" ] && python3 -c "print(round(($t1 - $t0) * 1e6 / $hz / max($ios, 1), 2))" || echo -)
    echo "$name $unit $fs $value $cpu" >>"$results"
    echo "  $name on $fs: $value $unit, daemon CPU $cpu us/io" >&2
  done
done
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end (other work on this machine shares the CPUs)"
python3 - "$results" <<'PY'
import statistics, sys
rows, cpu = {}, {}
for line in open(sys.argv[1]):
    name, unit, fs, value, c = line.split()
    rows.setdefault((name, unit), {}).setdefault(fs, []).append(float(value))
    if c != "-":
        cpu.setdefault((name, unit), {}).setdefault(fs, []).append(float(c))
print(f"{'job':27} {'unit':4} {'host':>7} {'pthru_ll':>8} {'floor':>7} {'iomapfs':>7} {'io/pll':>6} {'io/flr':>6} "
      f"{'flr/pll':>7} {'io/host':>7}  {'io/pll rounds':13}  daemon CPU us/io: pll floor iomapfs")
for (name, unit), v in rows.items():
    med = {fs: statistics.median(vals) for fs, vals in v.items()}
    c = {fs: statistics.median(vals) for fs, vals in cpu.get((name, unit), {}).items()}
    ratio = lambda a, b: f"{a / b:.2f}" if b else "-"
    per_round = [a / b for a, b in zip(v["iomapfs"], v["pll"]) if b]
    spread = f"{min(per_round):.2f}-{max(per_round):.2f}" if len(per_round) > 1 else ""
    print(f"{name:27} {unit:4} {med['host']:7g} {med['pll']:8g} {med['floor']:7g} {med['iomapfs']:7g} "
          f"{ratio(med['iomapfs'], med['pll']):>6} {ratio(med['iomapfs'], med['floor']):>6} "
          f"{ratio(med['floor'], med['pll']):>7} {ratio(med['iomapfs'], med['host']):>7}  {spread:13}  "
          f"{c.get('pll', 0):g} {c.get('floor', 0):g} {c.get('iomapfs', 0):g}")
PY

#!/usr/bin/env bash
# Where the iomapfs daemon spends its time in the fio-compare jobs (not a test). Mounts a fresh image with the
# default options, runs fio-compare.sh's jobs in the same order on it and, for each job, prints:
#   - the figure (MB/s or IOPS) and the daemon's CPU time per request,
#   - the daemon's CPU time by thread group (/proc/PID/task/*/stat: FUSE workers, flusher, I/O completion,
#     JIT compilers, GC), which also covers time in the kernel and in native code,
#   - the hottest Java frames from a JFR recording of that job (jdk.ExecutionSample, profile settings): the
#     methods most samples were in (self) and the iomapfs methods most samples passed through (total).
# JFR samples only threads running Java code, so a job whose daemon time is mostly in the kernel (copies,
# /dev/fuse) shows few samples: read the thread-group table first.
# Needs root and /dev/fuse; installs fio if missing. The recordings stay in the printed directory.
# Usage: fs-fuse/bench/fio-profile.sh [seconds-per-job] [job-name...]
# Environment: IOMAPFS_BENCH_DIR (default /tmp), IOMAPFS_MOUNT_OPTS (extra `iomapfs mount` options).
set -euo pipefail
secs=${1:-10}
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || { echo "fio-profile: seconds-per-job must be a positive integer" >&2; exit 1; }
shift || true
[ "$(id -u)" = 0 ] || { echo "fio-profile: needs root (drop_caches, mounting)" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "fio-profile: /dev/fuse is absent" >&2; exit 1; }
command -v fio >/dev/null || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio >&2; }
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d "${IOMAPFS_BENCH_DIR:-/tmp}/iomapfs-prof.XXXXXX")"
cleanup() { mountpoint -q "$work/mnt" && "$repo/iomapfs" umount "$work/mnt"; rm -f "$work/img" "$work/img.meta"; }
trap cleanup EXIT
mkdir -p "$work/mnt"
"$repo/iomapfs" mkfs "$work/img" --size 4G >/dev/null
# DebugNonSafepoints: without it a sample in compiled code is charged to the nearest safepoint's frame (earlier
# profiles named Hooks.fire and Injector.delay, which return at once, among the hottest methods)
# shellcheck disable=SC2086
IOMAPFS_DAEMON_JAVA_OPTS="-XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints ${IOMAPFS_DAEMON_JAVA_OPTS:-}" \
  "$repo/iomapfs" mount "$work/img" "$work/mnt" ${IOMAPFS_MOUNT_OPTS:-} >/dev/null
pid=$(pgrep -f "mount $work/img $work/mnt --foreground")
echo "iomapfs daemon pid $pid; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); recordings in $work"

names=(seq-write-1M seq-read-1M rand-read-4k-direct rand-write-4k-direct mmap-rand-write-4k
       rand-read-4k-direct-4jobs rand-read-4k-direct-16jobs)
declare -A opts=(
  [seq-write-1M]="--filename=f --rw=write --bs=1M --ioengine=psync --end_fsync=1"
  [seq-read-1M]="--filename=f --rw=read --bs=1M --ioengine=psync"
  [rand-read-4k-direct]="--filename=f --rw=randread --bs=4k --direct=1 --ioengine=psync"
  [rand-write-4k-direct]="--filename=f --rw=randwrite --bs=4k --direct=1 --ioengine=psync"
  [mmap-rand-write-4k]="--filename=m --rw=randwrite --bs=4k --ioengine=mmap --fsync=256 --size=256M"
  [rand-read-4k-direct-4jobs]="--filename=f --rw=randread --bs=4k --direct=1 --ioengine=psync --numjobs=4"
  [rand-read-4k-direct-16jobs]="--filename=f --rw=randread --bs=4k --direct=1 --ioengine=psync --numjobs=16"
)
want=" $* "
common=(--size=512M --time_based --runtime="$secs" --group_reporting --output-format=json)
threads() { # "name utime+stime" of every daemon thread, in clock ticks
  for t in /proc/"$pid"/task/*; do
    printf '%s\t%s\n' "$(cat "$t/comm")" "$(sed 's/^.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done
}
for name in "${names[@]}"; do
  # cold caches, the engine's own too, as fio-compare.sh starts every job
  echo 1 >"$work/mnt/.iomapfs/drop_caches"
  sync
  echo 3 >/proc/sys/vm/drop_caches
  profile=$([ $# -eq 0 ] || [[ "$want" == *" $name "* ]] && echo 1 || echo 0)
  [ "$profile" = 1 ] && jcmd "$pid" JFR.start name=job settings=profile >/dev/null
  threads >"$work/$name.t0"
  # shellcheck disable=SC2086
  (cd "$work/mnt" && fio --name="$name" ${opts[$name]} "${common[@]}") >"$work/$name.json"
  threads >"$work/$name.t1"
  [ "$profile" = 1 ] || continue
  jcmd "$pid" JFR.stop name=job filename="$work/$name.jfr" >/dev/null
  jfr print --json --stack-depth 64 --events jdk.ExecutionSample "$work/$name.jfr" >"$work/$name.samples.json"
  python3 - "$name" "$work" "$(getconf CLK_TCK)" <<'PY'
import collections, json, re, sys
name, work, hz = sys.argv[1], sys.argv[2], int(sys.argv[3])
j = json.load(open(f"{work}/{name}.json"))["jobs"][0]
d = j["write"] if j["write"]["io_bytes"] > 0 else j["read"]
def ticks(path):
    out = collections.Counter()
    for line in open(path):
        comm, t = line.rstrip("\n").split("\t")
        out[comm] += int(t)
    return out
t0, t1 = ticks(f"{work}/{name}.t0"), ticks(f"{work}/{name}.t1")
def group(comm):
    if "Compiler" in comm:
        return "JIT"
    if comm.startswith(("GC Thread", "G1 ")):
        return "GC"
    return re.sub(r"[-#]?\d+$", "", comm.strip())
cpu = collections.Counter()
for comm, t in t1.items():
    cpu[group(comm)] += t - t0.get(comm, 0)
total = sum(cpu.values())
ios = d["total_ios"] or 1
print(f"\n== {name}: {d['bw_bytes'] / 1e6:.1f} MB/s, {int(d['iops'])} IOPS; daemon CPU {total / hz:.2f} s "
      f"({total / hz * 1e6 / ios:.0f} us per fio I/O)")
print("   CPU by thread group: " + ", ".join(f"{k} {100 * v / max(total, 1):.0f}%" for k, v in cpu.most_common(6) if v))
evs = json.load(open(f"{work}/{name}.samples.json"))["recording"]["events"]
selfc, incl = collections.Counter(), collections.Counter()
for e in evs:
    frames = ((e["values"].get("stackTrace") or {}).get("frames")) or []
    names = [f["method"]["type"]["name"].split(".")[-1] + "." + f["method"]["name"] for f in frames]
    if names:
        selfc[names[0]] += 1
    seen = set()
    for f, n in zip(frames, names):
        if f["method"]["type"]["name"].startswith("org/iomapfs/core") and n not in seen:
            seen.add(n)
            incl[n] += 1
n = max(len(evs), 1)
print(f"   JFR: {len(evs)} Java samples; self: " + ", ".join(f"{k} {100 * v / n:.0f}%" for k, v in selfc.most_common(8)))
print("   engine methods on the stack: " + ", ".join(f"{k} {100 * v / n:.0f}%" for k, v in incl.most_common(12)))
PY
done

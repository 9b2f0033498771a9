#!/usr/bin/env bash
# Where a sequential buffered write through the mount spends its CPU (not a test): mounts iomapfs (a fresh 4 GiB
# image) or the binding's floor (`iomapfs floor`), runs fio's sequential 1 MiB write job of fio-compare.sh on a
# 512 MiB file (5 s warm-up, then ROUNDS rounds of SECONDS, host page cache dropped before each) and prints per
# round the MB/s and the daemon's CPU time per MiB written, split into its request threads (fuse-worker-*), the
# flusher (iomapfs-flusher) and the whole process, read from /proc/PID/task/*/stat. One writer keeps one 1 MiB
# request in flight, so a request's time is the writer's side in the kernel plus a request thread's, in series,
# while the flusher runs beside them: this splits fio-compare's ratio iomapfs/floor into those parts.
# Usage: fs-fuse/bench/seq-write-cpu.sh iomapfs|floor [seconds] [rounds] [mount options...]
#        e.g. seq-write-cpu.sh iomapfs 8 3 --cache-mb 2048 (the file stays cached: no folio created or reclaimed)
# Environment: IOMAPFS_BENCH_DIR (where the image and the mount point go; default /tmp),
#              IOMAPFS_DAEMON_JAVA_OPTS (JVM options of the daemon).
set -euo pipefail
fs=${1:-}
secs=${2:-8}
rounds=${3:-3}
case "$fs" in iomapfs|floor) ;; *) echo "seq-write-cpu: first argument must be iomapfs or floor" >&2; exit 1 ;; esac
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || { echo "seq-write-cpu: seconds must be a positive integer" >&2; exit 1; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "seq-write-cpu: rounds must be a positive integer" >&2; exit 1; }
shift $(($# < 3 ? $# : 3))
[ "$(id -u)" = 0 ] || { echo "seq-write-cpu: needs root (drop_caches)" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "seq-write-cpu: /dev/fuse is absent" >&2; exit 1; }
repo="$(cd "$(dirname "$0")/../.." && pwd)"
if ! command -v fio >/dev/null; then
  echo "seq-write-cpu: installing fio" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fio >&2
fi

work="$(mktemp -d "${IOMAPFS_BENCH_DIR:-/tmp}/iomapfs-sw.XXXXXX")"
mnt="$work/mnt"
cleanup() {
  cd /
  if mountpoint -q "$mnt"; then umount "$mnt" || umount -l "$mnt"; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$mnt"
if [ "$fs" = iomapfs ]; then
  "$repo/iomapfs" mkfs "$work/img" --size 4G >/dev/null
  "$repo/iomapfs" mount "$work/img" "$mnt" "$@" >/dev/null
  pid=$(pgrep -f "mount $work/img $mnt --foreground")
else
  "$repo/iomapfs" floor "$mnt" "$@" >/dev/null
  pid=$(pgrep -f "floor $mnt --foreground")
fi

# clock ticks of the request threads, the flusher and the whole process
ticks() {
  local w=0 f=0 a=0 t s name rest c v
  for t in /proc/"$pid"/task/*; do
    s=$(cat "$t/stat" 2>/dev/null) || continue
    name=${s#*(}; name=${name%)*}
    rest=${s##*) }
    read -r -a v <<<"$rest"
    c=$((v[11] + v[12]))
    a=$((a + c))
    case "$name" in fuse-worker*) w=$((w + c)) ;; iomapfs-flush*) f=$((f + c)) ;; esac
  done
  echo "$w $f $a"
}

job=(--rw=write --bs=1M --ioengine=psync --end_fsync=1 --filename=f --size=512M --time_based)
cd "$mnt"
fio --name=warm "${job[@]}" --runtime=5 --output-format=terse >/dev/null
hz=$(getconf CLK_TCK)
printf '%-8s %5s %9s %24s %14s %11s\n' fs round MB/s "request threads us/MiB" "flusher us/MiB" "all us/MiB"
for r in $(seq 1 "$rounds"); do
  sync
  echo 3 >/proc/sys/vm/drop_caches
  read -r w0 f0 a0 <<<"$(ticks)"
  read -r mbs ios <<<"$(fio --name=m "${job[@]}" --runtime="$secs" --output-format=json | python3 -c '
import json, sys
w = json.load(sys.stdin)["jobs"][0]["write"]
print(round(w["bw_bytes"] / 1e6, 1), w["total_ios"])')"
  read -r w1 f1 a1 <<<"$(ticks)"
  python3 -c "
n = max($ios, 1); us = 1e6 / $hz / n
print('%-8s %5d %9.1f %24.0f %14.0f %11.0f' % ('$fs', $r, $mbs, ($w1 - $w0) * us, ($f1 - $f0) * us, ($a1 - $a0) * us))"
done

#!/usr/bin/env bash
# Compares the two request loops of the mount (not a test): libfuse 2.9's fuse_loop_mt ("stock") and the fixed
# pool of Java threads ("pool"), on 4 KiB O_DIRECT random reads with 1, 4 and 16 fio jobs against the real
# engine. Prints IOPS and the daemon's CPU time per request (utime+stime from /proc/PID/stat).
# Needs root, /dev/fuse and fio. Usage: fs-fuse/bench/loop-compare.sh [seconds-per-job]
set -euo pipefail
secs=${1:-8}
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/iomapfs-bench.XXXXXX)"
trap 'mountpoint -q "$work/mnt" && "$repo/iomapfs" umount "$work/mnt"; rm -rf "$work"' EXIT
hz=$(getconf CLK_TCK)
for loop in stock pool; do
  rm -f "$work/img" "$work/img.meta"; mkdir -p "$work/mnt"
  "$repo/iomapfs" mkfs "$work/img" --size 4G >/dev/null
  "$repo/iomapfs" mount "$work/img" "$work/mnt" --loop "$loop" --cache-mb 1024 >/dev/null
  pid=$(pgrep -f "mount $work/img $work/mnt --foreground")
  fio --name=prep --filename="$work/mnt/f" --size=512M --rw=write --bs=1M --direct=1 --output-format=terse >/dev/null
  for jobs in 1 4 16; do
    t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    read -r iops ios < <(fio --name=rr --filename="$work/mnt/f" --size=512M --rw=randread --bs=4k --direct=1 \
      --ioengine=psync --numjobs="$jobs" --time_based --runtime="$secs" --group_reporting --output-format=json |
      python3 -c "import json,sys; j=json.load(sys.stdin)['jobs'][0]['read']; print(int(j['iops']), int(j['total_ios']))")
    t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    printf 'loop=%-5s jobs=%-2s iops=%-7s daemon_cpu_us_per_request=%s\n' "$loop" "$jobs" "$iops" \
      "$(python3 -c "print(round(($t1-$t0)*1e6/$hz/$ios,1))")"
  done
  "$repo/iomapfs" umount "$work/mnt"
done

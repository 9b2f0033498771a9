# shellcheck shell=bash
# Sourced by ./iomapfs and ./run-tests: installs, as root on Debian, what a fresh machine lacks. Every message
# goes to stderr (the launcher's stdout is the CLI's). Both functions return non-zero instead of exiting, so
# call them as `iomapfs_ensure_deps WHO MODE || exit 1`.

# Seconds to wait for another apt process's lock, and between two tries of `apt-get update`.
IOMAPFS_APT_LOCK_WAIT_S=${IOMAPFS_APT_LOCK_WAIT_S:-600}
IOMAPFS_APT_RETRY_S=${IOMAPFS_APT_RETRY_S:-5}

# The Debian packages missing here, one a line. MODE "fuse" counts libfuse2 and fusermount too; "fuse-as-root"
# only when running as root (the tests that mount skip otherwise); "tests" is fuse-as-root plus chromium, which
# the compare report's screenshot test (xfstests-shim ReportScreenshotTest) renders report.html in.
iomapfs_missing_packages() {
  local mode=$1
  command -v java >/dev/null 2>&1 || echo openjdk-17-jdk-headless
  command -v mvn >/dev/null 2>&1 || echo maven
  if [ "$mode" = fuse ] || [ "$(id -u)" = 0 ]; then
    # Debian's libfuse2 ships only the versioned soname, which is what the mount loads
    ls /lib/*/libfuse.so.2 /usr/lib/*/libfuse.so.2 >/dev/null 2>&1 || echo libfuse2
    # fusermount comes from fuse (2) or fuse3, which conflict: keep whichever is installed
    command -v fusermount >/dev/null 2>&1 || command -v fusermount3 >/dev/null 2>&1 || echo fuse
  fi
  if [ "$mode" = tests ]; then
    command -v chromium >/dev/null 2>&1 || echo chromium
  fi
}

# apt-get update, waiting for another apt process that holds the package lists lock: DPkg::Lock::Timeout covers
# only the dpkg frontend lock (apt 2.6's apt-get update fails at once on /var/lib/apt/lists/lock).
iomapfs_apt_update() {
  local who=$1 out waited=0
  while :; do
    # LC_ALL=C: the lock message below is matched in English
    if out="$(LC_ALL=C apt-get -o DPkg::Lock::Timeout="$IOMAPFS_APT_LOCK_WAIT_S" update -qq 2>&1)"; then
      [ -z "$out" ] || printf '%s\n' "$out" >&2
      return 0
    fi
    if [[ "$out" == *"Could not get lock"* ]] && [ "$waited" -lt "$IOMAPFS_APT_LOCK_WAIT_S" ]; then
      [ "$waited" -gt 0 ] || echo "$who: another apt process holds its lock; waiting up to ${IOMAPFS_APT_LOCK_WAIT_S} s" >&2
      sleep "$IOMAPFS_APT_RETRY_S"
      waited=$((waited + IOMAPFS_APT_RETRY_S))
      continue
    fi
    printf '%s\n' "$out" >&2
    return 1
  done
}

# Installs PACKAGES as root; says which step failed and stops there.
iomapfs_install() {
  local who=$1
  shift
  if [ "$(id -u)" != 0 ]; then
    echo "$who: missing $*; run as root once, or install them: apt-get install -y $*" >&2
    return 1
  fi
  echo "$who: installing $*" >&2
  if ! iomapfs_apt_update "$who"; then
    echo "$who: 'apt-get update' failed (above), so $* cannot be installed; fix the package sources or the network and run again" >&2
    return 1
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$IOMAPFS_APT_LOCK_WAIT_S" install -y -qq "$@" >&2; then
    echo "$who: 'apt-get install -y $*' failed (above)" >&2
    return 1
  fi
}

# iomapfs_ensure_deps WHO MODE: installs what iomapfs_missing_packages MODE lists, if anything.
iomapfs_ensure_deps() {
  local who=$1 mode=$2 need
  mapfile -t need < <(iomapfs_missing_packages "$mode")
  [ ${#need[@]} -eq 0 ] || iomapfs_install "$who" "${need[@]}"
}

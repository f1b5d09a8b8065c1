#!/bin/sh
# Fetches the stock Debian guest pieces into .cache/guest/ (idempotent): the kernel behind
# linux-image-amd64 (vmlinuz + modules tree), busybox-static, and optional extra packages
# (e.g. `scripts/fetch-guest.sh xenstore-utils libxenstore4 libxentoolcore1`); `--xenstore` is shorthand for
# xenstore-utils with its shared libraries and libc6 (the guest needs the dynamic loader too).
# `--update` re-resolves linux-image-amd64 (after `apt-get update` when root) and switches to a newer kernel.
# Uses `apt-get download` (no root needed); runs `apt-get update` only as root and only when the
# package lists are missing or stale, or for --update. Layout:
#   .cache/guest/vmlinuz          -> vmlinuz-<version> (bzImage)
#   .cache/guest/config           -> config-<version>
#   .cache/guest/busybox          static busybox binary
#   .cache/guest/kernel/          -> kernel-<version>/, the extracted linux-image package (lib/modules/<version>/...)
#   .cache/guest/pkgs/<name>/     extracted extra packages
#   .cache/guest/debs/            downloaded .deb files
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${TSXEN_GUEST_DIR:-$ROOT/.cache/guest}
mkdir -p "$DEST/debs"
# One fetch at a time per cache: tests run in parallel and may all ask for the guest at once.
if command -v flock >/dev/null 2>&1 && [ -z "${FETCH_GUEST_LOCKED:-}" ]; then
  FETCH_GUEST_LOCKED=1 exec flock "$DEST/.lock" sh "$0" "$@"
fi

say() { echo "fetch-guest: $*" >&2; }
die() { echo "fetch-guest: error: $*" >&2; exit 1; }

command -v apt-get >/dev/null || die "apt-get not found (a Debian-based host is needed to fetch the guest kernel)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

updated=0
# As root, apt would drop to the _apt user, which cannot write into the checkout: download as root.
sandbox=""
[ "$(id -u)" = 0 ] && sandbox="-o APT::Sandbox::User=root"

extra=""
update=0
for arg in "$@"; do
  case "$arg" in
    --update) update=1 ;;
    --xenstore) extra="$extra xenstore-utils libxenstore4 libxentoolcore1 libc6" ;;
    -*) die "unknown option $arg" ;;
    *) extra="$extra $arg" ;;
  esac
done
apt_update() {
  [ "$updated" = 1 ] && return 1
  if [ "$(id -u)" = 0 ]; then
    say "running apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    updated=1
    return 0
  fi
  return 1
}

# Prints the package name that linux-image-amd64 depends on (linux-image-6.1.0-NN-amd64).
kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1
}

# download PKG: fetches PKG's .deb into $DEST/debs unless already there; prints the .deb path.
download() {
  pkg=$1
  existing=$(ls "$DEST/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
  if [ -n "$existing" ]; then echo "$existing"; return; fi
  say "downloading $pkg"
  while :; do
    if (cd "$DEST/debs" && apt-get download -q $sandbox "$pkg" >&2); then break; fi
    apt_update || die "apt-get download $pkg failed (run 'apt-get update' as root and retry)"
  done
  ls "$DEST/debs/${pkg}_"*.deb | head -n1
}

extract() { # extract DEB DIR
  if [ -f "$2/.extracted" ]; then return; fi
  say "extracting $(basename "$1")"
  rm -rf "$2"; mkdir -p "$2"
  dpkg-deb -x "$1" "$2"
  touch "$2/.extracted"
}

# --- kernel ---
# Older layout: kernel/ was a directory; move it to kernel-<version>/.
if [ -d "$DEST/kernel" ] && [ ! -L "$DEST/kernel" ]; then
  old=$(ls "$DEST/kernel/boot/" 2>/dev/null | sed -n 's/^vmlinuz-//p' | head -n1)
  if [ -n "$old" ] && [ ! -e "$DEST/kernel-$old" ]; then mv "$DEST/kernel" "$DEST/kernel-$old" && ln -s "kernel-$old" "$DEST/kernel"; fi
fi
# With --update, re-resolve linux-image-amd64 and switch the links when Debian moved to a newer kernel.
if [ ! -e "$DEST/vmlinuz" ] || [ "$update" = 1 ]; then
  [ "$update" = 1 ] && apt_update || true
  kpkg=$(kernel_package)
  if [ -z "$kpkg" ]; then
    apt_update || die "apt-cache does not know linux-image-amd64 (run 'apt-get update' as root)"
    kpkg=$(kernel_package)
    [ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 to a kernel package"
  fi
  version=${kpkg#linux-image-}
  if [ -e "$DEST/vmlinuz-$version" ] && [ "$(readlink "$DEST/vmlinuz" 2>/dev/null)" = "vmlinuz-$version" ]; then
    say "kernel $version is current"
  else
    say "kernel package: $kpkg"
    deb=$(download "$kpkg")
    extract "$deb" "$DEST/kernel-$version"
    cp "$DEST/kernel-$version/boot/vmlinuz-$version" "$DEST/vmlinuz-$version"
    cp "$DEST/kernel-$version/boot/config-$version" "$DEST/config-$version" 2>/dev/null || true
    ln -sfn "kernel-$version" "$DEST/kernel"
    ln -sf "config-$version" "$DEST/config"
    ln -sf "vmlinuz-$version" "$DEST/vmlinuz"
    say "kernel $version ready: $DEST/vmlinuz"
  fi
else
  say "kernel already present: $DEST/vmlinuz -> $(readlink "$DEST/vmlinuz" || echo vmlinuz) (--update checks for a newer one)"
fi

# --- busybox-static ---
if [ ! -x "$DEST/busybox" ]; then
  deb=$(download busybox-static)
  extract "$deb" "$DEST/pkgs/busybox-static"
  cp "$DEST/pkgs/busybox-static/bin/busybox" "$DEST/busybox"
  chmod 755 "$DEST/busybox"
  say "busybox ready: $DEST/busybox"
else
  say "busybox already present: $DEST/busybox"
fi

# --- extra packages given on the command line ---
for pkg in $extra; do
  deb=$(download "$pkg")
  extract "$deb" "$DEST/pkgs/$pkg"
  say "$pkg ready: $DEST/pkgs/$pkg"
done

say "done ($DEST)"

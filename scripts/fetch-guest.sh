#!/bin/sh
# Fetches the stock Debian guest pieces into .cache/guest/ (idempotent): the kernel behind
# linux-image-amd64 (vmlinuz + modules tree), busybox-static, and optional extra packages
# (e.g. `scripts/fetch-guest.sh xenstore-utils libxenstore4 libxentoolcore1`); `--xenstore` is shorthand for
# xenstore-utils with its shared libraries and libc6 (the guest needs the dynamic loader too).
# Uses `apt-get download` (no root needed); runs `apt-get update` only as root and only when the
# package lists are missing or stale. Layout:
#   .cache/guest/vmlinuz          -> vmlinuz-<version> (bzImage)
#   .cache/guest/config           -> config-<version>
#   .cache/guest/busybox          static busybox binary
#   .cache/guest/kernel/          extracted linux-image package (lib/modules/<version>/...)
#   .cache/guest/pkgs/<name>/     extracted extra packages
#   .cache/guest/debs/            downloaded .deb files
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${TSXEN_GUEST_DIR:-$ROOT/.cache/guest}
mkdir -p "$DEST/debs"

say() { echo "fetch-guest: $*" >&2; }
die() { echo "fetch-guest: error: $*" >&2; exit 1; }

command -v apt-get >/dev/null || die "apt-get not found (a Debian-based host is needed to fetch the guest kernel)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

updated=0
# As root, apt would drop to the _apt user, which cannot write into the checkout: download as root.
sandbox=""
[ "$(id -u)" = 0 ] && sandbox="-o APT::Sandbox::User=root"

extra=""
for arg in "$@"; do
  case "$arg" in
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
if [ ! -e "$DEST/vmlinuz" ]; then
  kpkg=$(kernel_package)
  if [ -z "$kpkg" ]; then
    apt_update || die "apt-cache does not know linux-image-amd64 (run 'apt-get update' as root)"
    kpkg=$(kernel_package)
    [ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 to a kernel package"
  fi
  say "kernel package: $kpkg"
  deb=$(download "$kpkg")
  extract "$deb" "$DEST/kernel"
  vmlinuz=$(ls "$DEST/kernel/boot/"vmlinuz-* | head -n1)
  version=${vmlinuz##*/vmlinuz-}
  cp "$vmlinuz" "$DEST/vmlinuz-$version"
  cp "$DEST/kernel/boot/config-$version" "$DEST/config-$version" 2>/dev/null || true
  ln -sf "config-$version" "$DEST/config"
  ln -sf "vmlinuz-$version" "$DEST/vmlinuz"
  say "kernel $version ready: $DEST/vmlinuz"
else
  say "kernel already present: $DEST/vmlinuz -> $(readlink "$DEST/vmlinuz" || echo vmlinuz)"
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

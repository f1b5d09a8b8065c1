#!/bin/sh
# Installs host packages that optional interop tests use; idempotent, safe to call from .ci/run.
# Each line: skip if already present, else install with apt-get (needs root; prints a note otherwise).
set -eu

need() { # need <command> <debian-package>
  if command -v "$1" >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then echo "install-test-deps: $2 missing (run as root to install)" >&2; return 0; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >/dev/null; }
}

# xenstored interop test (src/dom0/xenstored/xenstore_utils.interop.test.ts): Debian's libxenstore clients.
need xenstore-read xenstore-utils

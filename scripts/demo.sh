#!/usr/bin/env bash
# Set up pyqemu and run a demo guest: Debian's unmodified busybox-static for arm64.
set -eu
cd "$(dirname "$0")/.."
cache=tests/.cache/demo
mkdir -p "$cache"
if ! command -v pyqemu-aarch64 >/dev/null 2>&1; then
    python3 -m pip install -q -e .
fi
if [ ! -x "$cache/bin/busybox" ]; then
    if [ "$(id -u)" = 0 ]; then
        dpkg --add-architecture arm64 || true
        apt-get update -q >/dev/null 2>&1 || echo "apt-get update reported errors; continuing"
    fi
    (cd "$cache" && apt-get download busybox-static:arm64 >/dev/null)
    dpkg-deb -x "$cache"/busybox-static_*_arm64.deb "$cache"
fi
bb="$cache/bin/busybox"
echo "== pyqemu-aarch64 running Debian's busybox-static (arm64) =="
pyqemu-aarch64 "$bb" sh -c 'echo "hello from $(uname -m) busybox"; for i in 1 2 3; do echo "loop $i"; done | wc -l'
pyqemu-aarch64 "$bb" sh -c 'seq 1 5 | awk "{ s += \$1 } END { print \"sum:\", s }"'
echo "== exit status of 'busybox false': $(pyqemu-aarch64 "$bb" false; echo $?) =="

#!/usr/bin/env bash
# Regenerate the generated sources (decoder, syscall numbers). Run after editing a .decode or .tbl file.
set -eu
cd "$(dirname "$0")/.."
python3 scripts/decodetree.py src/pyqemu/target/arm/decode_a64.py src/pyqemu/target/arm/a64_*.decode
python3 scripts/gen_syscall_nr.py src/pyqemu/linux_user/aarch64/syscall.tbl src/pyqemu/linux_user/aarch64/syscall_nr.py

#!/usr/bin/env bash
# Regenerate the generated sources (decoder, syscall numbers). Run after editing a .decode or .tbl file.
set -eu
cd "$(dirname "$0")/.."
python3 scripts/decodetree.py src/pyqemu/target/arm/decode_a64.py src/pyqemu/target/arm/a64_*.decode
python3 scripts/gen_syscall_nr.py src/pyqemu/linux_user/aarch64/syscall.tbl src/pyqemu/linux_user/aarch64/syscall_nr.py
python3 scripts/gen_syscall_nr.py src/pyqemu/linux_user/arm/syscall.tbl src/pyqemu/linux_user/arm/syscall_nr.py
A=src/pyqemu/target/arm
python3 scripts/decodetree.py $A/decode_a32.py $A/a32_*.decode
python3 scripts/decodetree.py $A/decode_a32u.py $A/a32u_*.decode
python3 scripts/decodetree.py $A/decode_t32.py $A/t32_*.decode
python3 scripts/decodetree.py --insnwidth 16 $A/decode_t16.py $A/t16_*.decode

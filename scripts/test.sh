#!/usr/bin/env bash
# The test command (README): the whole suite, two workers. Without arguments it then runs the
# differential tests against Unicorn again with the native tier forced on for every block
# (PYQEMU_JIT=force, docs/native-tier.md): both tiers are checked instruction by instruction.
set -u
cd "$(dirname "$0")/.."
python3 -m pytest -q -n 2 --dist loadgroup --timeout=600 tests "$@"
status=$?
if [ $# -eq 0 ]; then
    echo "== differential tests, native tier forced on (PYQEMU_JIT=force)"
    PYQEMU_JIT=force python3 -m pytest -q -n 2 --timeout=600 -p no:cacheprovider \
        tests/unit/test_diff_*.py tests/functional/test_count_insns.py || status=1
fi
exit $status

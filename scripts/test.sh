#!/usr/bin/env bash
# The test command (README): the whole suite, two workers.
set -u
cd "$(dirname "$0")/.."
exec python3 -m pytest -q -n 2 --dist loadgroup --timeout=600 tests "$@"

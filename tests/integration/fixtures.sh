#!/usr/bin/env bash
# fixtures.sh -- where PyTorch is installed (Debian's python3-torch), the
# reference fixtures are regenerated and compared with the committed ones;
# elsewhere it skips through ctest's skip code, 77 (the unit tests compare
# against the committed fixtures either way).
source "$(dirname "$0")/lib.bash"
if ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
  echo "skipped: PyTorch (python3-torch) is not installed; the committed fixtures are used as they are"
  exit 77
fi
run /usr/bin/python3 "$PP_SOURCE_DIR/scripts/gen_fixtures.py" --check "$PP_SOURCE_DIR/tests/data/fixtures"
expect_rc 0
echo "$out"
finish

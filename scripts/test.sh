#!/usr/bin/env bash
# Sets everything up, runs the whole test suite, and ends with "N passed, N failed".
#   scripts/test.sh            the suite on a release build
#   LUV_SANITIZE=1 scripts/test.sh   also on an ASan+UBSan build (build-asan/)
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build || { echo "0 passed, 1 failed"; exit 1; }
dirs=(build)
if [ "${LUV_SANITIZE:-0}" = 1 ]; then
  scripts/setup.sh build-asan -Dsanitize=true -Dbuildtype=debugoptimized ||
    { echo "0 passed, 1 failed"; exit 1; }
  dirs+=(build-asan)
fi

status=0
for d in "${dirs[@]}"; do
  echo "=== meson test -C $d"
  meson test -C "$d" --print-errorlogs --num-processes 2 "${@}" || status=1
done

# meson's own summary is per build dir; count every test of every dir in one line.
python3 - "${dirs[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    try:
        lines = open(f"{d}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
if skipped:
    print(f"({skipped} skipped: their tool or peer is missing here; see the log above)")
print(f"{passed} passed, {failed} failed")
PY
exit $status

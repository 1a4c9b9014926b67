#!/bin/sh
# run.sh BUILD — run every test: unit programs, CLI scripts, Python cross-checks.
# Each test is one program; it passes when it exits 0.  Ends with the line
# "N passed, N failed" and exits non-zero if any failed.
# TESTS=pattern runs only the tests whose name contains pattern.
BUILD=${1:-build}
export SHRINK="$PWD/$BUILD/shrink" SHRINK_BUILD="$PWD/$BUILD" PY="$PWD/.venv/bin/python" ROOT="$PWD"
pass=0; fail=0; failed=""
LOG="$BUILD/test-logs"; mkdir -p "$LOG/unit" "$LOG/cli" "$LOG/py"
run() {  # name, command...
    name=$1; shift
    case "$name" in *"${TESTS:-}"*) ;; *) return ;; esac
    t0=$(date +%s)
    if "$@" >"$LOG/$name.log" 2>&1; then
        pass=$((pass + 1)); echo "PASS $name ($(( $(date +%s) - t0 ))s)"
    else
        fail=$((fail + 1)); failed="$failed $name"; echo "FAIL $name"; sed 's/^/    /' "$LOG/$name.log" | tail -30
    fi
}
for t in "$BUILD"/tests/*; do
    case "$t" in *.d) continue ;; esac
    [ -x "$t" ] && run "unit/$(basename "$t")" "$t"
done
for t in tests/cli/*.sh; do [ -f "$t" ] && run "cli/$(basename "$t" .sh)" sh "$t"; done
for t in tests/py/test_*.py; do [ -f "$t" ] && run "py/$(basename "$t" .py)" "$PY" "$t"; done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

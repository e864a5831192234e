#!/usr/bin/env bash
# lsan-retry reruns a command only for LeakSanitizer's tracer crash, and
# passes every other result through (exit status and output).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
expect() { # expect WHAT STATUS RUNS -- COMMAND...
  local what=$1 want=$2 runs=$3
  shift 4
  rm -f "$work/count"
  "$here/lsan-retry" "$@" >"$work/out" 2>&1
  local rc=$? n
  n=$(wc -l <"$work/count" 2>/dev/null || echo 0)
  if ((rc != want || n != runs)); then
    echo "FAIL: $what: exit $rc (want $want), $n run(s) (want $runs)"
    cat "$work/out"
    fails=$((fails + 1))
  fi
}
# A fake test: counts its runs; the first one prints $1 and exits $2.
cat >"$work/fake" <<'FAKE'
#!/usr/bin/env bash
echo run >>"$(dirname "$0")/count"
if [[ $(wc -l <"$(dirname "$0")/count") -eq 1 ]]; then printf '%b\n' "$1"; exit "$2"; fi
exit 0
FAKE
chmod +x "$work/fake"
tracer='Tracer caught signal 11: addr=0xbe0\n==1==LeakSanitizer has encountered a fatal error.'
expect "tracer crash is retried" 0 2 -- "$work/fake" "$tracer" 1
expect "plain failure passes through" 3 1 -- "$work/fake" "FAIL: something" 3
expect "leak report is not retried" 1 1 -- "$work/fake" "$tracer\n==1==ERROR: LeakSanitizer: detected memory leaks" 1
expect "UBSan report is not retried" 1 1 -- "$work/fake" "$tracer\nx.c:3:5: runtime error: signed integer overflow" 1
expect "success runs once" 0 1 -- "$work/fake" "fine" 0
echo "lsan-retry: $fails failure(s)"
((fails == 0))

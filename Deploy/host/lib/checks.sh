# shellcheck shell=bash
# checks.sh: how the booted-host tests report (sourced after hosts.sh). One line per step with
# the seconds since the start, `ok`/`FAIL` per check, the summary as the last line; at exit the
# hosts are torn down (unless keep=1) and the work directory removed.
#
#   checks_init NAME      start the clock; the EXIT trap prints the summary
#   step TEXT | ok TEXT | fail TEXT | check TEXT COMMAND [ARG...]
#
# The test sets CHECKS_ON (what "PASS: N checks on ..." names), KEPT (what --keep leaves, for
# the message), `work` (removed at exit) and may define on_exit (runs first: a load generator
# to stop, a server of its own).
checks_init() {
  CHECKS_NAME=$1; CHECKS_ON=${CHECKS_ON:-booted hosts}
  started=$(date +%s); passed=0; failed=0; failures=()
  trap checks_finish EXIT
}
step() { echo "$CHECKS_NAME: [$(( $(date +%s) - started ))s] $*"; }
ok() { passed=$((passed + 1)); step "ok   $*"; }
fail() { failed=$((failed + 1)); failures+=("$*"); step "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
checks_finish() {
  local rc=$?
  ! declare -F on_exit >/dev/null || on_exit || true
  if [ "${keep:-0}" = 1 ]; then step "kept: ${KEPT:-the hosts}; clean up with: $0 --cleanup-only"
  else hosts_cleanup; fi
  [ -z "${work:-}" ] || rm -rf "$work"
  if [ "$failed" = 0 ] && [ $rc = 0 ]; then
    echo "$CHECKS_NAME: PASS: $passed checks on $CHECKS_ON in $(( $(date +%s) - started )) s"
    echo "$CHECKS_NAME: $passed passed, 0 failed"
  else
    echo "$CHECKS_NAME: FAIL: $failed of $((passed + failed)) checks failed${failures[*]:+: ${failures[*]}} (exit $rc)"
    echo "$CHECKS_NAME: $passed passed, $((failed > 0 ? failed : 1)) failed"
    exit 1
  fi
}

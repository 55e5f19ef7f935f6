# test/lib/expect.sh: the check helpers of the end-to-end scripts that
# compare values (dump_restore.sh, upgrade.sh).
#
#   check NAME EXPECTED ACTUAL   counts and prints "ok - NAME" or the mismatch
#   q DB SQL                     the SQL's result (unaligned, tuples only), or its error

passed=0 failed=0
check() {
	if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"
	else failed=$((failed + 1)); printf 'FAILED - %s\n  expected: %s\n  got:      %s\n' "$1" "$2" "$3"; fi
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2" 2>&1; }

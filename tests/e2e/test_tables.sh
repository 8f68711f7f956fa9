#!/usr/bin/env bash
# test_tables.sh - the findings and event.action tables against the README's
# tables, the e2e tests and the sources, so none of them can drift.
set -u
. "$(dirname "$0")/lib.sh"

README=$ROOT/README.md
CORPUS=${CORPUS:-$ROOT/../shared/corpus/zeek-tls}

# readme_table HEADER: the rows of the README table under that header line,
# one a line, cells tab-separated, backticks and edge spaces dropped.
readme_table() {
	awk -v h="$1" '
		$0 == h { inside = 1; getline; next }	# the |---| line
		inside && !/^\|/ { exit }
		inside {
			gsub(/`/, ""); sub(/^\| */, ""); sub(/ *\|$/, "")
			gsub(/ *\| */, "\t"); print
		}' "$README"
}

# code, severity, needs ("chain,lists") per finding, in table order.
readme_findings() {
	readme_table '| code | severity | needs | what |' |
		awk -F'\t' '{ gsub(/, */, ",", $3); print $1 "\t" $2 "\t" $3 }'
}
bin_findings() {
	"$BIN" --list-findings --format json |
		jq -r '.[] | [.code, .severity, (.needs | join(","))] | @tsv'
}
readme_events() { readme_table '| action | when |' | cut -f1; }
bin_events() { "$BIN" --list-events -f json | jq -r '.[].action'; }

# check NAME EXPECTED-FILE GOT-FILE: equal, or the difference.
check() {
	if [ ! -s "$2" ]; then
		fail "$1" "nothing to compare: $2 is empty"
	elif diff "$2" "$3" >"$TMP/$1.diff"; then
		pass "$1"
	else
		fail "$1" "$(tr '\n' ' ' <"$TMP/$1.diff")"
	fi
}

test_findings_readme() {
	bin_findings >"$TMP/bin-findings" ||
		{ fail findings_readme "--list-findings -f json failed"; return; }
	readme_findings >"$TMP/readme-findings"
	check findings_readme "$TMP/bin-findings" "$TMP/readme-findings"
	# The text listing says the same as the JSON one.
	"$BIN" --list-findings | awk 'NR > 1 { print $1 "\t" $2 "\t" $3 }' >"$TMP/text-findings"
	check findings_text_json "$TMP/bin-findings" "$TMP/text-findings"
}

test_events_readme() {
	bin_events >"$TMP/bin-events" ||
		{ fail events_readme "--list-events -f json failed"; return; }
	readme_events >"$TMP/readme-events"
	check events_readme "$TMP/bin-events" "$TMP/readme-events"
	"$BIN" --list-events | awk 'NR > 1 { print $1 }' >"$TMP/text-events"
	check events_text_json "$TMP/bin-events" "$TMP/text-events"
}

# Each finding code is made to happen and checked by some e2e test: it
# appears, outside a comment, in a tests/e2e script other than this one.
test_findings_exercised() {
	local code re missing=() n=0
	while read -r code; do
		n=$((n + 1))
		re="(^|[^a-z_.])${code//./\\.}([^a-z_.]|\$)"
		grep -vh '^[[:space:]]*#' --exclude=test_tables.sh "$ROOT"/tests/e2e/test_*.sh |
			grep -qE "$re" || missing+=("$code")
	done < <(bin_findings | cut -f1)
	if [ "$n" -eq 0 ]; then
		fail findings_exercised "no finding codes listed"
	elif [ ${#missing[@]} -eq 0 ]; then
		pass findings_exercised
	else
		fail findings_exercised "no e2e test makes these happen: ${missing[*]}"
	fi
}

# No event.action is spelled out anywhere but in user/events.def.
test_actions_one_place() {
	local stray
	stray=$(grep -nE '"(tls|certsentry)-[a-z-]+"' "$ROOT"/user/*.c "$ROOT"/user/*.h)
	[ -z "$stray" ] && pass actions_one_place ||
		fail actions_one_place "literal actions: $stray"
}

# --ignore takes every code, names a bad one, and silences exactly that code.
test_ignore() {
	local args=() code msg rc trace out codes c got
	while read -r code; do args+=(--ignore "$code"); done < <(bin_findings | cut -f1)
	msg=$("$BIN" "${args[@]}" --ignore no.such_code --list-findings 2>&1 >/dev/null); rc=$?
	[ $rc -ne 0 ] && grep -q "no.such_code" <<<"$msg" && pass ignore_bad_code \
		|| fail ignore_bad_code "rc=$rc '$msg'"
	if [ ! -d "$CORPUS/traces" ]; then
		skip ignore_corpus "no peer corpus at $CORPUS"
		return
	fi
	# The first traces with findings of two codes or more.
	for trace in "$CORPUS"/traces/*; do
		out=$TMP/ignore.json
		"$BIN" --every -r "$trace" >"$out" 2>/dev/null
		codes=$(jq -r '.certsentry.findings[]?.code' "$out" | sort -u)
		[ "$(wc -l <<<"$codes")" -ge 2 ] && break
		codes=
	done
	[ -n "$codes" ] || { fail ignore_corpus "no corpus trace has two finding codes"; return; }
	for c in $codes; do
		"$BIN" --every -r "$trace" --ignore "$c" >"$TMP/ignored.json" 2>/dev/null
		diff <(jq -r '.certsentry.findings[]?.code' "$out" | grep -vx "$c") \
			<(jq -r '.certsentry.findings[]?.code' "$TMP/ignored.json") >/dev/null \
			&& pass "ignore_$c" ||
			fail "ignore_$c" "${trace##*/}: other findings changed, or $c stayed"
	done
	"$BIN" --every -r "$trace" "${args[@]}" >"$TMP/ignored.json" 2>/dev/null
	got=$(jq -r 'select(.certsentry.verdict) | .certsentry.verdict' "$TMP/ignored.json" | sort -u)
	[ "$got" = ok ] && pass ignore_every_code ||
		fail ignore_every_code "verdicts: $(tr '\n' ' ' <<<"$got")"
}

if [ ! -x "$BIN" ]; then
	skip tables "$BIN not built"
	summary
	exit 0
fi
test_findings_readme
test_events_readme
test_findings_exercised
test_actions_one_place
test_ignore
summary

#!/usr/bin/env bash
# test_hostile.sh - hostile certificates and handshakes (tools/mkhostile): every
# case replayed offline in bounded time and memory, with valid JSON lines,
# valid UTF-8, no raw control characters in text, and a counted reason where
# the input is rejected; a few of them live, written into a TUN device.
#
# Each case is one connection (see `build/tools/mkhostile --list`); its
# CASE.expect says what a correct observer makes of it:
#   report            a tls-certificate event whose leaf is the generated one
#   cert_parse_error  a tls-certificate event with parse_error in a chain entry
#   parse_error       no chain; parse_errors >= 1 in the run's counters
#   any               only the generic checks
set -u
. "$(dirname "$0")/lib.sh"

MKHOSTILE=$ROOT/build/tools/mkhostile
TUNREPLAY=$ROOT/build/tools/tunreplay
SAN_BIN=$ROOT/build/san/certsentry
H=$TMP/hostile
TIME_LIMIT=20		# seconds per replay
RSS_LIMIT_KB=65536	# 64 MB
T0=$SECONDS

for b in "$BIN" "$MKHOSTILE"; do
	[ -x "$b" ] || { skip hostile "$b not built (make all)"; summary; exit 0; }
done
for t in jq iconv /usr/bin/time timeout; do
	command -v "$t" >/dev/null || { skip hostile "$t missing"; summary; exit 0; }
done
"$MKHOSTILE" --all "$H" 2>"$TMP/mkhostile.err" || { fail mkhostile "$(cat "$TMP/mkhostile.err")"; summary; exit 1; }
mapfile -t CASES < <("$MKHOSTILE" --list | awk '{print $1}')

# ex CASE KEY: a value from CASE.expect.
ex() { sed -n "s/^$2=//p" "$H/$1.expect"; }

# valid_json_lines FILE: every line one JSON object; prints the first bad line number.
valid_json_lines() {
	local n
	n=$(jq -R -n -r '[inputs] | to_entries[] | select((try (.value | fromjson | type) catch "bad") != "object") | .key + 1' "$1" 2>&1 | head -1)
	[ -z "$n" ] || { echo "line $n is not a JSON object"; return 1; }
}

# valid_utf8 FILE
valid_utf8() { iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1 || { echo "not valid UTF-8"; return 1; }; }

# clean_text FILE: no C0 control (tab aside), DEL, C1, bidi, zero-width or
# line/paragraph separator characters, and every line starts with a timestamp.
clean_text() {
	local bad
	if LC_ALL=C grep -qaP '[\x00-\x08\x0a-\x1f\x7f]' <(tr -d '\n' < "$1"); then
		echo "raw control characters: $(LC_ALL=C grep -naP '[\x00-\x08\x0b-\x1f\x7f]' "$1" | head -1 | cut -c1-200 | cat -v)"
		return 1
	fi
	bad=$(LC_ALL=C grep -caP '\xc2[\x80-\x9f]|\xe2\x80[\x8b-\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]|\xef\xbb\xbf' "$1")
	[ "$bad" = 0 ] || { echo "$bad lines with raw C1/bidi/zero-width characters"; return 1; }
	bad=$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$1")
	[ "$bad" = 0 ] || { echo "$bad lines not starting with a timestamp (a forged line break?)"; return 1; }
}

# run_bounded OUT ERR ARGS...: certsentry under timeout and time -v; sets
# RC, SECS and RSS_KB.
run_bounded() {
	local out=$1 err=$2; shift 2
	timeout -k 2 "$TIME_LIMIT" /usr/bin/time -v -o "$err.time" "$BIN" "$@" >"$out" 2>"$err"
	RC=$?
	SECS=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$err.time" | awk -F: '{print ($1 * 60 + $2)}')
	RSS_KB=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$err.time")
	: "${SECS:=?}" "${RSS_KB:=0}"
}

# check_case CASE: all offline checks of one case; sets WHY (empty: passed)
# and DETAIL (the measurements).
check_case() {
	local c=$1 f=$H/$1.pcap j=$TMP/$1.json t=$TMP/$1.txt why=() expect got ev leaf total
	expect=$(ex "$c" expect)
	run_bounded "$j" "$TMP/$c.err" --every -r "$f"
	case $RC in
	0) ;;
	124|137) why+=("did not finish in ${TIME_LIMIT}s") ;;
	*) why+=("exit status $RC: $(tail -2 "$TMP/$c.err" | tr '\n' ' ')") ;;
	esac
	[ "$RSS_KB" -lt "$RSS_LIMIT_KB" ] || why+=("max RSS ${RSS_KB} KB >= $RSS_LIMIT_KB KB")
	got=$(valid_json_lines "$j") || why+=("json: $got")
	got=$(valid_utf8 "$j") || why+=("json: $got")
	local json_secs=$SECS json_rss=$RSS_KB
	run_bounded "$t" "$TMP/$c.terr" --every -f text -r "$f"
	[ "$RC" = 0 ] || why+=("text run: exit status $RC")
	[ "$RSS_KB" -lt "$RSS_LIMIT_KB" ] || why+=("text run: max RSS ${RSS_KB} KB")
	got=$(valid_utf8 "$t") || why+=("text: $got")
	got=$(clean_text "$t") || why+=("text: $got")
	[ "$(wc -l < "$t")" = "$(wc -l < "$j")" ] || why+=("text has $(wc -l < "$t") lines, json $(wc -l < "$j")")
	# The run's counters: its last line, certsentry-read-done.
	local perr
	perr=$(events "$j" certsentry-read-done | jq -r .message | sed -n 's/.*parse_errors=\([0-9]*\).*/\1/p')
	[ -n "$perr" ] || why+=("no certsentry-read-done counters in the JSON run")
	ev=$(events "$j" tls-certificate | head -1)
	leaf=$(ex "$c" leaf_sha256)
	total=$(ex "$c" chain_total)
	case $expect in
	report)
		got=$(jq -r '[.certsentry.chain[0].sha256, (.certsentry.chain_total|tostring), (.certsentry.chain[0].parse_error // "parsed")] | join(" ")' <<<"$ev" 2>/dev/null)
		[ "$got" = "$leaf $total parsed" ] || why+=("want tls-certificate '$leaf $total parsed', got '$got'") ;;
	cert_parse_error)
		got=$(jq -r '[.certsentry.chain[0].sha256, (.certsentry.chain_total|tostring), ([.certsentry.chain[] | select(.parse_error)] | length | tostring)] | join(" ")' <<<"$ev" 2>/dev/null)
		[[ "$got" == "$leaf $total "[1-9]* ]] || why+=("want a chain with parse_error entries, got '$got'") ;;
	parse_error)
		[ -z "$ev" ] || why+=("a chain was reported from input that should not parse")
		[ "${perr:-0}" -ge 1 ] || why+=("parse_errors=${perr:-none}, want >= 1") ;;
	esac
	case $c in
	sans10k)
		got=$(jq -r '[.certsentry.chain[0].alternative_names_total, (.certsentry.chain[0].alternative_names | length)] | map(tostring) | join(" ")' <<<"$ev")
		[[ "$got" == "10000 "* ]] && [ "${got#* }" -le 10000 ] || why+=("SANs: total/kept '$got', want 10000 and at most 10000 kept") ;;
	big64k)
		got=$(jq -r '.certsentry.chain[0].der_length' <<<"$ev")
		[ "$got" = "$(ex "$c" leaf_der_length)" ] && [ "$got" -ge 65536 ] || why+=("der_length $got") ;;
	chain100|repeated)
		got=$(jq -r '[.certsentry.chain_length, (.certsentry.chain|length)] | map(tostring) | join(" ")' <<<"$ev")
		[ "${got% *}" = "${got#* }" ] && [ "${got% *}" -ge 1 ] && [ "${got% *}" -le "$total" ] || why+=("chain_length/entries '$got'") ;;
	serial_negative|serial_negative_40)
		got=$(jq -r '.certsentry.chain[0].serial_number' <<<"$ev")
		[[ "$got" == -* ]] || why+=("serial '$got', want a leading '-'") ;;
	serial_40)
		got=$(jq -r '.certsentry.chain[0].serial_number | length' <<<"$ev")
		[ "$got" = 80 ] || why+=("serial of $got hex digits, want 80") ;;
	sni_controls)
		got=$(jq -r '.tls.client.server_name | test("^evil\n2026")' <<<"$ev")
		[ "$got" = true ] || why+=("server_name not carried as JSON text: $(jq -c .tls.client.server_name <<<"$ev")") ;;
	cn_controls)
		got=$(jq -r '.tls.server.x509.subject.common_name[0] | test("^evil\n2026.*\u001b\\[31m")' <<<"$ev")
		[ "$got" = true ] || why+=("common name not carried as JSON text: $(jq -c .tls.server.x509.subject.common_name <<<"$ev")") ;;
	esac
	DETAIL="json ${json_secs}s ${json_rss}KB, text ${SECS}s ${RSS_KB}KB; $(count_events "$j" tls-certificate) chain(s), parse_errors=${perr:-?}"
	WHY=""
	[ ${#why[@]} = 0 ] || WHY=$(printf '%s; ' "${why[@]}")
}

for c in "${CASES[@]}"; do
	check_case "$c"
	[ -z "$WHY" ] && pass "hostile_$c ($DETAIL)" || fail "hostile_$c" "$WHY($DETAIL)"
done

# A verdict must not be "ok" when the leaf could not even be parsed: a
# server sending garbage is not a clean handshake.
got=$(events "$TMP/bad_der.json" tls-certificate | jq -r '[.event.kind, .certsentry.verdict] | join(" ")')
[ "$got" != "event ok" ] && [ -n "$got" ] && pass "unparsable_leaf_not_ok (verdict '$got')" \
	|| fail unparsable_leaf_not_ok "chain whose leaf does not parse (bad_der, also subject_bad_utf8, der_nested) has event.kind/verdict '$got'"

# Every case in one file, one after another (the certificate cache and
# the flow table shared): the same reports, bounded again.
if command -v mergecap >/dev/null; then
	mergecap -a -w "$TMP/all.pcap" "$H"/*.pcap 2>/dev/null
else
	# pcap files of one link type: header of the first, records of all
	{ head -c 24 "$H/${CASES[0]}.pcap"; for c in "${CASES[@]}"; do tail -c +25 "$H/$c.pcap"; done; } > "$TMP/all.pcap"
fi
run_bounded "$TMP/all.json" "$TMP/all.err" --every -r "$TMP/all.pcap"
want=0
for c in "${CASES[@]}"; do want=$((want + $(count_events "$TMP/$c.json" tls-certificate))); done
n=$(count_events "$TMP/all.json" tls-certificate)
if [ "$RC" = 0 ] && [ "$RSS_KB" -lt "$RSS_LIMIT_KB" ] && [ "$n" = "$want" ] && valid_json_lines "$TMP/all.json" >/dev/null; then
	pass "hostile_all_in_one_file ($n chains, ${SECS}s, ${RSS_KB} KB)"
else
	fail hostile_all_in_one_file "rc=$RC rss=${RSS_KB}KB chains=$n want $want"
fi

# The same files through the sanitizer build, when there is one.
if [ -x "$SAN_BIN" ]; then
	bad=()
	for c in "${CASES[@]}"; do
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1 \
			timeout -k 2 60 "$SAN_BIN" --every -r "$H/$c.pcap" >/dev/null 2>"$TMP/$c.san" \
			|| bad+=("$c: $(grep -m1 -E 'ERROR|runtime error' "$TMP/$c.san" || tail -1 "$TMP/$c.san")")
		grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$TMP/$c.san" && bad+=("$c: $(grep -m1 -E 'ERROR|runtime error' "$TMP/$c.san")")
	done
	[ ${#bad[@]} = 0 ] && pass "hostile_sanitizers (${#CASES[@]} cases, ASan+UBSan+LSan)" || fail hostile_sanitizers "$(printf '%s; ' "${bad[@]}")"
else
	skip hostile_sanitizers "no sanitizer build at $SAN_BIN (make BUILD=build/san SAN=1 all)"
fi

# ------------------------------------------------------------ live through TUN
# The cases as raw IP written into a TUN device in a namespace of ours with
# certsentry attached (the L3 program): live events equal the offline ones,
# rejected directions are counted in the stopped event, the daemon survives.
LIVE_CASES=(sans10k big64k chain100 bad_der subject_controls sni_controls san_controls hs_16m record_len0 garbage22 records_1byte certlist_lies repeated tuple_reuse_after_hole)
test_live_tun() {
	local ns out c why=() want_chains=0 want_perr=0 n perr rss
	why=$(live_unavailable)
	[ -n "$why" ] && { skip hostile_live_tun "$why"; return; }
	[ -x "$TUNREPLAY" ] || { skip hostile_live_tun "$TUNREPLAY not built"; return; }
	why=()
	ns_new ns hostile || { fail hostile_live_tun "netns"; return; }
	ip -n "$ns" tuntap add dev cshtun0 mode tun || { fail hostile_live_tun "ip tuntap add"; ns_del "$ns"; return; }
	ip -n "$ns" link set cshtun0 up
	out=$TMP/live.json
	start_sentry "$ns" "$out" -i cshtun0 --every --stats-interval 1 || { fail hostile_live_tun "certsentry did not start: $(cat "$out")"; ns_del "$ns"; return; }
	for c in "${LIVE_CASES[@]}"; do
		ip netns exec "$ns" "$TUNREPLAY" -i cshtun0 "$H/$c.pcap" 2>>"$TMP/live.tun.err" || why+=("tunreplay $c: $(tail -1 "$TMP/live.tun.err")")
		want_chains=$((want_chains + $(count_events "$TMP/$c.json" tls-certificate)))
		n=$(events "$TMP/$c.json" certsentry-read-done | jq -r .message | sed -n 's/.*parse_errors=\([0-9]*\).*/\1/p')
		want_perr=$((want_perr + ${n:-0}))
	done
	wait_for 30 sh -c "[ \$(grep -c '\"tls-certificate\"' '$out') -ge $want_chains ]"
	# and every rejected direction counted (the stats events say how many so far)
	# shellcheck disable=SC2317
	perr_counted() {
		[ "$(events "$out" certsentry-stats | tail -1 | jq -r .message |
		     sed -n 's/.*parse_errors=\([0-9]*\).*/\1/p')" -ge "$want_perr" ] 2>/dev/null
	}
	wait_for 30 perr_counted
	kill -0 "$SENTRY_PID" 2>/dev/null || why+=("certsentry died: $(tail -3 "$out")")
	rss=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$SENTRY_PID/status" 2>/dev/null)
	[ -n "$rss" ] && [ "$rss" -lt "$RSS_LIMIT_KB" ] || why+=("VmHWM ${rss:-?} KB")
	stop_pid "$SENTRY_PID"
	ns_del "$ns"
	n=$(count_events "$out" tls-certificate)
	[ "$n" = "$want_chains" ] || why+=("$n chains live, $want_chains offline")
	# same leaves and chain totals, live and offline
	local live off
	live=$(events "$out" tls-certificate | jq -r '[.destination.port, .source.port, .certsentry.chain_total, .certsentry.chain[0].sha256] | map(tostring) | join(" ")' | sort)
	off=$(for c in "${LIVE_CASES[@]}"; do events "$TMP/$c.json" tls-certificate; done | jq -r '[.destination.port, .source.port, .certsentry.chain_total, .certsentry.chain[0].sha256] | map(tostring) | join(" ")' | sort)
	[ "$live" = "$off" ] || why+=("live chains differ from offline: $(diff <(echo "$off") <(echo "$live") | grep '^[<>]' | head -4 | tr '\n' ' ')")
	perr=$(events "$out" certsentry-stopped | jq -r '.message' | sed -n 's/.*parse_errors=\([0-9]*\).*/\1/p')
	[ "${perr:-0}" -ge "$want_perr" ] || why+=("stopped event parse_errors=${perr:-none}, offline counted $want_perr")
	local m
	m=$(valid_json_lines "$out") || why+=("$m")
	m=$(valid_utf8 "$out") || why+=("$m")
	if [ ${#why[@]} = 0 ]; then
		pass "hostile_live_tun (${#LIVE_CASES[@]} cases, $n chains, parse_errors=$perr, VmHWM ${rss} KB)"
	else
		fail hostile_live_tun "$(printf '%s; ' "${why[@]}")"
	fi
}
test_live_tun

leftover=$(ip netns list | grep -c -- "-$$" || true)
[ "$leftover" = 0 ] && pass no_namespaces_left || fail no_namespaces_left "$(ip netns list)"
echo "hostile tests took $((SECONDS - T0)) s"
summary

#!/usr/bin/env bash
# test_verdict.sh - every finding code, live: real openssl servers in a namespace
# serve the bad certificates, certsentry names each with its exact code.
set -u
. "$(dirname "$0")/lib.sh"

PKI=$TMP/pki
HOST=www.example.test
M=$ROOT/tools/mkpki.sh
NOW=$(date -u +%Y%m%d%H%M%SZ)
PAST=$(date -u -d '-1 year' +%Y%m%d%H%M%SZ)
SOON=$(date -u -d '+5 days' +%Y%m%d%H%M%SZ)
LATER=$(date -u -d '+2 years' +%Y%m%d%H%M%SZ)
FUTURE=$(date -u -d '+1 year' +%Y%m%d%H%M%SZ)
SAN=DNS:$HOST

why=$(live_unavailable)
if [ -n "$why" ]; then
	skip "live verdict tests" "$why"
	summary
	exit 0
fi

make_pki() {
	"$M" "$PKI" &&
	"$M" "$PKI" xleaf good $HOST "$PAST" "$LATER" sha256 ec $SAN &&
	"$M" "$PKI" xleaf revoked $HOST "$PAST" "$LATER" sha256 ec $SAN &&
	"$M" "$PKI" xleaf denied $HOST "$PAST" "$LATER" sha256 ec $SAN &&
	"$M" "$PKI" xleaf ocsprev $HOST "$PAST" "$LATER" sha256 ec $SAN &&
	"$M" "$PKI" xleaf pinned pinned.example.test "$PAST" "$LATER" sha256 ec DNS:pinned.example.test &&
	"$M" "$PKI" xleaf expired $HOST 20200101000000Z 20210101000000Z sha256 ec $SAN &&
	"$M" "$PKI" xleaf notyet $HOST "$FUTURE" "$(date -u -d '+3 years' +%Y%m%d%H%M%SZ)" sha256 ec $SAN &&
	"$M" "$PKI" xleaf soon $HOST "$PAST" "$SOON" sha256 ec $SAN &&
	"$M" "$PKI" xleaf sha1 $HOST "$PAST" "$LATER" sha1 ec $SAN &&
	"$M" "$PKI" xleaf rsa1024 $HOST "$PAST" "$LATER" sha256 rsa1024 $SAN &&
	"$M" "$PKI" selfsigned self $HOST &&
	"$M" "$PKI" foreign alien $HOST &&
	"$M" "$PKI" crl revoked &&
	"$M" "$PKI" ocsp ocsprev revoked &&
	"$M" "$PKI" ocsp ocsprev revoked ocsprev	# signed by the leaf itself: forged
}
make_pki >/dev/null 2>&1 || { fail mkpki "could not make the test PKI"; summary; exit 1; }

printf '# certsentry test deny list\nsha256:%s  # the denied leaf\n' "$(fp "$PKI/denied.pem")" > "$TMP/deny.txt"
printf 'pinned.example.test sha256:%s\n' "$(fp "$PKI/good.pem")" > "$TMP/pins.txt"
LISTS=(--ca-file "$PKI/root.pem" --crl "$PKI/inter.crl.pem" --deny "$TMP/deny.txt" --pins "$TMP/pins.txt")
# Old or weak certificates need OpenSSL's lowest security level to be served at all.
WEAK=(-cipher DEFAULT:@SECLEVEL=0)

# port cert chain sni expected-code [s_server args]
CASES=(
	"4431 good inter $HOST ok"
	"4432 revoked inter $HOST revoked.crl"
	"4433 denied inter $HOST revoked.deny"
	"4434 ocsprev inter $HOST revoked.ocsp -status_file $PKI/ocsprev.ocsp-revoked.der"
	"4435 pinned inter pinned.example.test pin.mismatch"
	"4436 expired inter $HOST cert.expired"
	"4437 notyet inter $HOST cert.not_yet_valid"
	"4438 good inter other.example.net hostname.mismatch"
	"4439 good - $HOST chain.incomplete"
	"4440 self - $HOST cert.self_signed"
	"4441 sha1 inter $HOST weak.signature"
	"4442 rsa1024 inter $HOST weak.key"
	"4443 soon inter $HOST cert.expiring_soon"
	"4444 alien foreign-root $HOST chain.untrusted"
	"4445 ocsprev inter $HOST ocsp.bad_signature -status_file $PKI/ocsprev.ocsp-revoked-by-ocsprev.der"
)

test_every_code() {
	local ns out c port name chain sni want got extra text tpid line
	ns_new ns verdict || { fail verdict "netns"; return; }
	out=$TMP/verdict.json
	for c in "${CASES[@]}"; do
		read -r port name chain sni want extra <<<"$c"
		read -r -a extra <<<"$extra"
		extra+=("${WEAK[@]}")
		[ "$chain" = - ] && chain="" || chain=$PKI/$chain.pem
		start_server "$ns" "$port" "$PKI/$name.pem" "$PKI/$name.key" "$chain" "${extra[@]}" \
			|| { fail "verdict_$want" "s_server for $name did not start"; }
	done
	# a second instance writes text: the pin mismatch's line names the pins
	text=$TMP/verdict.txt
	start_sentry "$ns" "$text" -i lo --every -f text "${LISTS[@]}" ||
		fail verdict_pin_text "the text instance did not start: $(cat "$text")"
	tpid=$SENTRY_PID
	start_sentry "$ns" "$out" -i lo --every "${LISTS[@]}" || { fail verdict "certsentry did not start: $(cat "$out")"; ns_del "$ns"; return; }
	for c in "${CASES[@]}"; do
		read -r port name chain sni want _ <<<"$c"
		handshake "$ns" "127.0.0.1:$port" -tls1_2 -servername "$sni" -status "${WEAK[@]}"
	done
	wait_for 10 sh -c "[ \$(grep -c '\"tls-certificate\"' '$out') -ge ${#CASES[@]} ]"
	for c in "${CASES[@]}"; do
		read -r port name chain sni want _ <<<"$c"
		got=$(events "$out" tls-certificate | jq -r --argjson p "$port" \
			'select(.destination.port == $p) | [.certsentry.verdict, .event.kind, (.rule.name // "-"), ([.certsentry.findings[]?.code] | join(","))] | join(" ")' | head -1)
		case "$want" in
		ok) [ "$got" = "ok event - " ] && pass "verdict_ok" || fail verdict_ok "got '$got'" ;;
		*) # the expected code is the worst, or at least among the findings
			if [[ "$got" == "$want alert $want "* ]] || [[ ",$(cut -d' ' -f4 <<<"$got")," == *",$want,"* && "$got" == *" alert "* ]]; then
				pass "verdict_$want"
			else
				fail "verdict_$want" "port $port ($name): got '$got'"
			fi ;;
		esac
	done
	# The served leaf and, beside it, what the rule expected (sha256: and 16 digits).
	wait_for 10 grep -q 'sni=pinned.example.test ' "$text"
	line=$(grep 'sni=pinned.example.test ' "$text" | head -1)
	want=" pin_rule=\"pinned.example.test ($TMP/pins.txt:1)\""
	want+=" expected=sha256:$(fp "$PKI/good.pem" | cut -c1-16)"
	[[ "$line" == *" sha256=$(fp "$PKI/pinned.pem" | cut -c1-16) "*"$want ALERT[critical] pin.mismatch: "* ]] &&
		pass verdict_pin_text || fail verdict_pin_text "want '$want' in: $line"
	stop_pid "$tpid"
	# Severity and message for on-call: the revoked one is critical and says why.
	got=$(events "$out" tls-certificate | jq -r 'select(.destination.port == 4432) | [(.event.severity|tostring), .certsentry.severity, (.message | test("revoked"; "i") | tostring)] | join(" ")')
	[ "$got" = "2 critical true" ] && pass verdict_severity_message || fail verdict_severity_message "got '$got'"
	# A client that rejects the certificate: client.rejected.
	handshake "$ns" 127.0.0.1:4431 -tls1_2 -servername "$HOST" -verify_return_error -CAfile "$PKI/alien.pem"
	wait_for 5 grep -q '"tls-alert"' "$out"
	got=$(events "$out" tls-alert | jq -r '[.rule.name, .event.kind, .certsentry.alert.after_certificate_sha256] | join(" ")' | head -1)
	[ "$got" = "client.rejected alert $(fp "$PKI/good.pem")" ] && pass verdict_client.rejected || fail verdict_client.rejected "got '$got'"
	stop_pid "$SENTRY_PID"
	ns_del "$ns"
}

# The incident: the server swaps its good certificate for a revoked one; the
# first handshake after the swap alerts.
test_incident_swap() {
	local ns out got
	ns_new ns swap || { fail incident_swap "netns"; return; }
	out=$TMP/swap.json
	start_server "$ns" 443 "$PKI/good.pem" "$PKI/good.key" "$PKI/inter.pem"
	start_sentry "$ns" "$out" -i lo "${LISTS[@]}" || { fail incident_swap "start"; ns_del "$ns"; return; }
	handshake "$ns" 127.0.0.1:443 -tls1_2 -servername "$HOST"
	stop_pid "$SERVER_PID"
	start_server "$ns" 443 "$PKI/revoked.pem" "$PKI/revoked.key" "$PKI/inter.pem"
	handshake "$ns" 127.0.0.1:443 -tls1_2 -servername "$HOST"
	wait_for 5 grep -q '"revoked.crl"' "$out"
	got=$(events "$out" tls-certificate | jq -r '[.certsentry.verdict, .tls.server.hash.sha256] | join(" ")' | tr '\n' '|')
	[ "$got" = "ok $(fp "$PKI/good.pem")|revoked.crl $(fp "$PKI/revoked.pem")|" ] \
		&& pass incident_swap || fail incident_swap "got '$got'"
	stop_pid "$SENTRY_PID"
	ns_del "$ns"
}

# Lists change during an incident: a rename-into-place reload, a broken file
# that leaves the previous lists in force, and SIGHUP.
test_reload() {
	local ns out got deny=$TMP/reload-deny.txt
	ns_new ns reload || { fail reload "netns"; return; }
	out=$TMP/reload.json
	echo "# empty" > "$deny"
	start_server "$ns" 443 "$PKI/good.pem" "$PKI/good.key" "$PKI/inter.pem"
	start_sentry "$ns" "$out" -i lo --every --ca-file "$PKI/root.pem" --deny "$deny" \
		|| { fail reload "start: $(cat "$out")"; ns_del "$ns"; return; }
	handshake "$ns" 127.0.0.1:443 -tls1_2 -servername "$HOST"
	wait_for 5 grep -q '"tls-certificate"' "$out"
	# write to a temporary file and rename it into place, as editors and config tools do
	printf 'sha256:%s\n' "$(fp "$PKI/good.pem" | sed 's/../&:/g; s/:$//')" > "$deny.tmp"
	mv "$deny.tmp" "$deny"
	wait_for 5 grep -q 'certsentry-lists-reloaded' "$out" || fail reload_rename "no reload event"
	grep 'certsentry-lists-reloaded' "$out" | grep -q 'deny_sha256=1' && pass reload_event_sizes \
		|| fail reload_event_sizes "$(grep lists-reloaded "$out")"
	handshake "$ns" 127.0.0.1:443 -tls1_2 -servername "$HOST"
	wait_for 5 grep -q '"revoked.deny"' "$out"
	got=$(events "$out" tls-certificate | jq -r .certsentry.verdict | tr '\n' ' ')
	[ "$got" = "ok revoked.deny " ] && pass reload_rename || fail reload_rename "verdicts: $got"
	# a broken file: error event with file and line, previous lists stay
	printf 'sha256:%s\nsha256:nothex\n' "$(fp "$PKI/good.pem")" > "$deny"
	wait_for 5 grep -q 'certsentry-lists-error' "$out"
	got=$(events "$out" certsentry-lists-error | jq -r .message | head -1)
	grep -q "reload-deny.txt:2" <<<"$got" && pass reload_bad_file_error || fail reload_bad_file_error "got '$got'"
	handshake "$ns" 127.0.0.1:443 -tls1_2 -servername "$HOST"
	wait_for 5 sh -c "[ \$(grep -c '\"revoked.deny\"' '$out') -ge 2 ]"
	[ "$(events "$out" tls-certificate | jq -r .certsentry.verdict | tail -1)" = revoked.deny ] \
		&& pass reload_bad_file_keeps_lists || fail reload_bad_file_keeps_lists "$(events "$out" tls-certificate | jq -r .certsentry.verdict | tr '\n' ' ')"
	# SIGHUP reloads too (the file is fixed meanwhile, without inotify seeing a close)
	echo "# empty again" > "$deny"
	wait_for 5 sh -c "[ \$(grep -c 'certsentry-lists-reloaded' '$out') -ge 2 ]"
	local before
	before=$(grep -c 'certsentry-lists-reloaded' "$out")
	kill -HUP "$SENTRY_PID"
	wait_for 5 sh -c "[ \$(grep -c 'certsentry-lists-reloaded' '$out') -gt $before ]" \
		&& pass reload_sighup || fail reload_sighup "no reload after SIGHUP"
	stop_pid "$SENTRY_PID"
	ns_del "$ns"
}

# Repeats are counted, not written: one line at once, then a summary.
test_dedup() {
	local ns out got i
	ns_new ns dedup || { fail dedup "netns"; return; }
	out=$TMP/dedup.json
	start_server "$ns" 443 "$PKI/revoked.pem" "$PKI/revoked.key" "$PKI/inter.pem"
	start_sentry "$ns" "$out" -i lo --summary-interval 1 "${LISTS[@]}" \
		|| { fail dedup "start"; ns_del "$ns"; return; }
	for i in 1 2 3 4 5; do handshake "$ns" 127.0.0.1:443 -tls1_2 -servername "$HOST"; done
	wait_for 5 grep -q '"tls-summary"' "$out"
	local early
	early=$(count_events "$out" tls-summary)
	# How many repeats fall in the first interval depends on the machine's
	# speed; at exit the rest is summarised: 4 in all, whatever the split.
	stop_pid "$SENTRY_PID"
	got=$(count_events "$out" tls-certificate)
	local sum
	sum=$(events "$out" tls-summary | jq -s -r '[(map(.certsentry.summary.count) | add),
		(map(.certsentry.summary.distinct_clients) | unique | join(",")),
		(map(.rule.name) | unique | join(",")), (map(.event.kind) | unique | join(","))]
		| map(tostring) | join(" ")')
	[ "$got" = 1 ] && [ "$early" -ge 1 ] && [ "$sum" = "4 1 revoked.crl alert" ] && pass dedup_summary \
		|| fail dedup_summary "events=$got summaries before the stop=$early summary='$sum'"
	ns_del "$ns"
}

test_bad_list_at_start() {
	local msg rc
	printf 'sha256:0011\n' > "$TMP/bad-deny.txt"
	msg=$("$BIN" -r /dev/null --deny "$TMP/bad-deny.txt" 2>&1 >/dev/null); rc=$?
	[ $rc -ne 0 ] && grep -q 'bad-deny.txt:1' <<<"$msg" && pass bad_list_at_start \
		|| fail bad_list_at_start "rc=$rc '$msg'"
}

test_every_code
test_incident_swap
test_reload
test_dedup
test_bad_list_at_start
summary

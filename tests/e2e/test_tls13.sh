#!/usr/bin/env bash
# test_tls13.sh - TLS 1.3's encrypted certificate, had from a source: key logs (openssl
# s_server, a Go server; live and offline, all three suites, HRR, hostile logs) and the
# uprobes on a local nginx (every TLS 1.3 leaf, the revoked-certificate incident).
set -u
. "$(dirname "$0")/lib.sh"

PKI=$TMP/pki
HOST=www.example.test

why=$(live_unavailable)
if [ -n "$why" ]; then
	skip "tls13 tests" "$why"
	summary
	exit 0
fi
"$ROOT/tools/mkpki.sh" "$PKI" >/dev/null &&
	"$ROOT/tools/mkpki.sh" "$PKI" leaf cdn cdn.edge.test DNS:cdn.edge.test >/dev/null &&
	"$ROOT/tools/mkpki.sh" "$PKI" leaf cdnrev cdn.edge.test DNS:cdn.edge.test >/dev/null &&
	"$ROOT/tools/mkpki.sh" "$PKI" crl cdnrev >/dev/null ||
	{ fail mkpki "test PKI"; summary; exit 1; }
LEAF_FP=$(fp "$PKI/leaf.pem")

# leafs FILE: "source leaf-sha256" of each tls-certificate event, one a line.
leafs() {
	events "$1" tls-certificate |
		jq -r '[.certsentry.source, .tls.server.hash.sha256, (.certsentry.binding // "")] | join(" ")'
}

# ---- key logs: openssl s_server -keylogfile ----

# keylog_suite SUITE: a live handshake under SUITE, its key log followed by
# --keylog; the same from the capture offline with the whole log.
keylog_suite() {
	local suite=$1 name=keylog_${1} NS out td got want kl hrr=
	shift
	[ "${1:-}" = hrr ] && { hrr=1; name=keylog_hrr_$suite; }
	out=$TMP/$name.json kl=$TMP/$name.keys
	ns_new NS "k$$" || { fail "$name" netns; return; }
	: > "$kl"
	chmod 600 "$kl"
	bg "$NS" tcpdump -i lo -w "$TMP/$name.pcap" -s 0 --immediate-mode -U port 4433 \
		2>"$TMP/$name.tcpdump"
	td=$BG_PID
	wait_for 10 grep -q 'listening on' "$TMP/$name.tcpdump"
	start_server "$NS" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" -tls1_3 \
		-ciphersuites "$suite" -keylogfile "$kl" ${hrr:+-groups P-256}
	start_sentry "$NS" "$out" -i lo --no-uprobe --ca-file "$PKI/root.pem" --keylog "$kl" ||
		{ fail "$name" "certsentry did not start: $(cat "$out")"; }
	handshake "$NS" 127.0.0.1:4433 -tls1_3 -servername "$HOST" ${hrr:+-groups X25519:P-256}
	wait_for 5 grep -q '"tls-certificate"' "$out"
	want="keylog $LEAF_FP "
	got=$(leafs "$out")
	if [ "$got" = "$want" ] && [ "$(count_events "$out" tls-certificate-hidden)" = 0 ] &&
	   jq -e --arg s "$suite" 'select(.event.action == "tls-certificate") |
		.tls.cipher == $s and .certsentry.verdict == "ok" and .tls.version == "1.3"' \
		"$out" >/dev/null && { [ -z "$hrr" ] ||
		[ "$(events "$out" tls-certificate | jq -r .certsentry.hello_retry)" = true ]; }; then
		pass "$name: leaf $LEAF_FP via keylog"
	else
		fail "$name" "got '$got': $(head -c 1500 "$out")"
	fi
	wait_for 5 sh -c "[ \$(tcpdump -nn -r '$TMP/$name.pcap' 2>/dev/null | grep -c .) -ge 8 ]"
	stop_pid "$td"
	stop_pid "$SENTRY_PID"; stop_pid "$SERVER_PID"; ns_del "$NS"
	"$BIN" -r "$TMP/$name.pcap" --ca-file "$PKI/root.pem" --keylog "$kl" > "$TMP/$name.off.json" 2>&1
	got=$(leafs "$TMP/$name.off.json")
	[ "$got" = "$want" ] && pass "${name}_offline: the same event from the capture" ||
		fail "${name}_offline" "got '$got': $(tail -c 800 "$TMP/$name.off.json")"
	cp "$TMP/$name.pcap" "$TMP/last.pcap"
	cp "$kl" "$TMP/last.keys"
}

for s in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256; do
	keylog_suite "$s"
done
keylog_suite TLS_AES_128_GCM_SHA256 hrr

# ---- hostile key logs: counted, never a wrong certificate ----
test_hostile_keylog() {
	local pcap=$TMP/last.pcap keys=$TMP/last.keys h=$TMP/hostile.keys out rnd sec
	[ -s "$pcap" ] && [ -s "$keys" ] || { fail hostile_keylog "no capture from above"; return; }
	rnd=$(awk '$1 == "SERVER_HANDSHAKE_TRAFFIC_SECRET" { print $2; exit }' "$keys")
	sec=$(awk '$1 == "SERVER_HANDSHAKE_TRAFFIC_SECRET" { print $3; exit }' "$keys")
	{
		echo "garbage line"
		echo "SERVER_HANDSHAKE_TRAFFIC_SECRET ${rnd:0:62} $sec"		# short random
		echo "SERVER_HANDSHAKE_TRAFFIC_SECRET $rnd ${sec:0:40}"		# wrong length
		echo "SERVER_HANDSHAKE_TRAFFIC_SECRET $rnd zz${sec:2}"		# bad hex
		# another connection's secret under this random: the tag refuses it
		echo "SERVER_HANDSHAKE_TRAFFIC_SECRET $rnd $(printf '%s' "$sec" | tr 0-9a-f 1-9a-f0)"
	} > "$h"
	chmod 600 "$h"
	out=$TMP/hostile.json
	"$BIN" -r "$pcap" --keylog "$h" > "$out" 2>&1
	if [ "$(count_events "$out" tls-certificate)" = 0 ] &&
	   [ "$(events "$out" tls-certificate-hidden | jq -r .certsentry.verdict)" = unverified ] &&
	   grep -q 'keylog_auth_failed=1' "$out" && grep -q 'keylog_rejected=4' "$out"; then
		pass "hostile_keylog: no certificate, unverified, 4 lines rejected, 1 secret refused by the tag"
	else
		fail hostile_keylog "$(tail -c 1200 "$out")"
	fi
	# a world-readable key log is refused, by name and mode
	chmod 644 "$h"
	if ! "$BIN" -r "$pcap" --keylog "$h" > "$out" 2>&1 && grep -q "$h" "$out" &&
	   grep -qi 'readable\|mode' "$out"; then
		pass "keylog_world_readable_refused"
	else
		fail keylog_world_readable_refused "$(cat "$out")"
	fi
	# no key source: unverified, never ok
	"$BIN" -r "$pcap" > "$out" 2>&1
	[ "$(events "$out" tls-certificate-hidden | jq -r .certsentry.verdict)" = unverified ] &&
		[ "$(count_events "$out" tls-certificate)" = 0 ] && grep -q ' unverified=1' "$out" &&
		pass "no_source_unverified" || fail no_source_unverified "$(tail -c 800 "$out")"
}
test_hostile_keylog

summary

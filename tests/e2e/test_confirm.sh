#!/usr/bin/env bash
# test_confirm.sh - --confirm live: a TLS 1.3 server in a namespace, a client
# handshake certsentry cannot read, and certsentry's own handshake fetching
# the chain (source confirm); the ttl, the own-address rule and a listener
# that never answers.
set -u
. "$(dirname "$0")/lib.sh"

PKI=$TMP/pki
HOST=www.example.test
M=$ROOT/tools/mkpki.sh
PAST=$(date -u -d '-1 year' +%Y%m%d%H%M%SZ)
LATER=$(date -u -d '+2 years' +%Y%m%d%H%M%SZ)

why=$(live_unavailable)
if [ -n "$why" ]; then
	skip "live confirm tests" "$why"
	summary
	exit 0
fi

make_pki() {
	"$M" "$PKI" &&
	"$M" "$PKI" xleaf good $HOST "$PAST" "$LATER" sha256 ec DNS:$HOST &&
	"$M" "$PKI" xleaf revoked $HOST "$PAST" "$LATER" sha256 ec DNS:$HOST &&
	"$M" "$PKI" crl revoked
}
make_pki >/dev/null 2>&1 || { fail mkpki "could not make the test PKI"; summary; exit 1; }
LISTS=(--ca-file "$PKI/root.pem" --crl "$PKI/inter.crl.pem")

# confirms OUT PORT: the confirm events about that server port.
confirms() {
	events "$1" tls-certificate | jq -c --argjson p "$2" \
		'select(.certsentry.source == "confirm" and .destination.port == $p)'
}

# stopped_counter OUT KEY: KEY=N from the certsentry-stopped line.
stopped_counter() {
	events "$1" certsentry-stopped | jq -r .message | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# One certsentry, three servers on this host: the served leaf with its
# SHA-256, the revoked one alerting, and repeated handshakes confirmed once.
test_local() {
	local ns out ev got n
	ns_new ns confirm || { fail confirm "netns"; return; }
	out=$TMP/local.json
	start_server "$ns" 4431 "$PKI/good.pem" "$PKI/good.key" "$PKI/inter.pem" -tls1_3 -alpn h2 ||
		{ fail confirm "s_server 4431"; ns_del "$ns"; return; }
	start_server "$ns" 4432 "$PKI/revoked.pem" "$PKI/revoked.key" "$PKI/inter.pem" -tls1_3 ||
		{ fail confirm "s_server 4432"; ns_del "$ns"; return; }
	start_server "$ns" 4433 "$PKI/good.pem" "$PKI/good.key" "$PKI/inter.pem" -tls1_3 ||
		{ fail confirm "s_server 4433"; ns_del "$ns"; return; }
	start_sentry "$ns" "$out" -i lo --every --no-uprobe --confirm "${LISTS[@]}" ||
		{ fail confirm "certsentry did not start: $(cat "$out")"; ns_del "$ns"; return; }

	handshake "$ns" 127.0.0.1:4431 -tls1_3 -servername "$HOST" -alpn h2,http/1.1 ||
		fail confirm_leaf "client handshake failed: $(tail -3 "$TMP/s_client.out")"
	wait_for 10 sh -c "grep '\"confirm\"' '$out' | grep -q '\"port\":4431'"
	ev=$(confirms "$out" 4431 | head -1)
	got=$(jq -r '[.tls.server.hash.sha256, .certsentry.verdict, .tls.client.server_name,
		.tls.version, .tls.next_protocol // "-", (.certsentry.note | test("not observed") | tostring),
		.source.ip, .destination.ip] | join(" ")' <<<"$ev" 2>/dev/null)
	[ "$got" = "$(fp "$PKI/good.pem") ok $HOST 1.3 h2 true 127.0.0.1 127.0.0.1" ] &&
		pass confirm_leaf || fail confirm_leaf "got '$got' from: $(cat "$out")"
	# The client's own handshake stays reported as hidden; ours is not.
	n=$(count_events "$out" tls-certificate-hidden)
	[ "$n" = 1 ] && pass confirm_own_handshake_dropped ||
		fail confirm_own_handshake_dropped "$n hidden events, want 1 (the client's)"

	handshake "$ns" 127.0.0.1:4432 -tls1_3 -servername "$HOST" ||
		fail confirm_revoked "client handshake failed"
	wait_for 10 sh -c "grep '\"confirm\"' '$out' | grep -q '\"port\":4432'"
	got=$(confirms "$out" 4432 | jq -r '[.certsentry.verdict, .event.kind, .tls.server.hash.sha256] | join(" ")')
	[ "$got" = "revoked.crl alert $(fp "$PKI/revoked.pem")" ] && pass confirm_revoked ||
		fail confirm_revoked "got '$got'"

	# ttl: four more handshakes to 4431, then one to 4433 as a barrier (the
	# queue is first in, first out: its confirm comes after any of 4431's).
	for n in 1 2 3 4; do
		handshake "$ns" 127.0.0.1:4431 -tls1_3 -servername "$HOST" -alpn h2,http/1.1
	done
	handshake "$ns" 127.0.0.1:4433 -tls1_3 -servername "$HOST"
	wait_for 10 sh -c "grep '\"confirm\"' '$out' | grep -q '\"port\":4433'"
	n=$(confirms "$out" 4431 | wc -l)
	[ "$n" = 1 ] && pass confirm_ttl_once || fail confirm_ttl_once "$n confirms of 4431, want 1"
	stop_pid "$SENTRY_PID"
	got=$(for k in attempts ok skipped_ttl connect_failed timeouts tls_failed closed no_chain; do
		stopped_counter "$out" confirm_$k; done | tr '\n' ' ')
	[ "$got" = "3 3 4 0 0 0 0 0 " ] && pass confirm_counters ||
		fail confirm_counters "attempts ok skipped_ttl and failures: '$got'"
	[ "$(stopped_counter "$out" confirm_own_reports)" -ge 3 ] 2>/dev/null &&
		pass confirm_own_reports_counted ||
		fail confirm_own_reports_counted "$(stopped_counter "$out" confirm_own_reports)"
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

# A listener that serves TLS 1.3 once, then accepts and never answers: the
# confirm times out with its reason counted, and capture goes on meanwhile.
test_hang() {
	local ns out hang_pid got n1 n2
	ns_new ns hang || { fail confirm_hang "netns"; return; }
	out=$TMP/hang.json
	cat "$PKI/good.pem" "$PKI/inter.pem" >"$TMP/hang-chain.pem"
	cat >"$TMP/hang.py" <<'EOF'
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 4439))
s.listen(16)
c, _ = s.accept()
try:
    t = ctx.wrap_socket(c, server_side=True)
    t.recv(1)
    t.close()
except Exception:
    c.close()
held = []
while True:
    c, _ = s.accept()  # and never a byte back
    held.append(c)
EOF
	bg "$ns" python3 "$TMP/hang.py" "$TMP/hang-chain.pem" "$PKI/good.key"
	hang_pid=$BG_PID
	wait_for 10 ip netns exec "$ns" sh -c "ss -ltnH | grep -q ':4439 '" ||
		{ fail confirm_hang "the hanging listener did not start"; stop_pid "$hang_pid"; ns_del "$ns"; return; }
	start_server "$ns" 4431 "$PKI/good.pem" "$PKI/good.key" "$PKI/inter.pem" -tls1_2
	start_sentry "$ns" "$out" -i lo --every --no-uprobe --confirm --confirm-timeout 4000 "${LISTS[@]}" ||
		{ fail confirm_hang "certsentry did not start: $(cat "$out")"; stop_pid "$hang_pid"; ns_del "$ns"; return; }
	handshake "$ns" 127.0.0.1:4439 -tls1_3 -servername "$HOST" ||
		fail confirm_hang "client handshake failed: $(tail -3 "$TMP/s_client.out")"
	wait_for 10 grep -q '"tls-certificate-hidden"' "$out"
	# While certsentry's handshake hangs, a TLS 1.2 handshake is reported.
	handshake "$ns" 127.0.0.1:4431 -tls1_2 -servername "$HOST"
	wait_for 15 grep -q '"certsentry-confirm-failed"' "$out"
	got=$(events "$out" certsentry-confirm-failed | jq -r .message)
	[[ "$got" == *"server=127.0.0.1:4439 sni=$HOST reason=timeout "* ]] && pass confirm_hang_timeout ||
		fail confirm_hang_timeout "failure event: '$got'"
	n1=$(grep -n '"tls-certificate"' "$out" | head -1 | cut -d: -f1)
	n2=$(grep -n '"certsentry-confirm-failed"' "$out" | head -1 | cut -d: -f1)
	[ -n "$n1" ] && [ -n "$n2" ] && [ "$n1" -lt "$n2" ] && pass confirm_hang_capture_goes_on ||
		fail confirm_hang_capture_goes_on "TLS 1.2 event at line '${n1}', failure at '${n2}'"
	stop_pid "$SENTRY_PID"
	got="$(stopped_counter "$out" confirm_attempts) $(stopped_counter "$out" confirm_timeouts) $(stopped_counter "$out" confirm_ok)"
	[ "$got" = "1 1 0" ] && pass confirm_hang_counted || fail confirm_hang_counted "attempts timeouts ok: '$got'"
	stop_pid "$hang_pid"
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

# A server in another namespace (not this host's address): not contacted
# without --confirm-remote, contacted with it.
test_remote() {
	local c s out got dump_pid
	ns_new c rc || { fail confirm_remote "netns"; return; }
	ns_new s rs || { fail confirm_remote "netns"; ns_del "$c"; return; }
	ip link add cfv0 netns "$c" type veth peer name cfv1 netns "$s" ||
		{ fail confirm_remote "veth"; ns_del "$c"; ns_del "$s"; return; }
	ip -n "$c" addr add 10.217.0.1/24 dev cfv0
	ip -n "$s" addr add 10.217.0.2/24 dev cfv1
	ip -n "$c" link set cfv0 up
	ip -n "$s" link set cfv1 up
	start_server "$s" 443 "$PKI/good.pem" "$PKI/good.key" "$PKI/inter.pem" -tls1_3 ||
		{ fail confirm_remote "s_server"; ns_del "$c"; ns_del "$s"; return; }
	# The server's namespace counts the connections it gets.
	bg "$s" sh -c "exec tcpdump -l --immediate-mode -n -i cfv1 \
		'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0 and dst port 443' \
		>'$TMP/syns.txt' 2>'$TMP/tcpdump.err'"
	dump_pid=$BG_PID
	wait_for 10 grep -q 'listening on' "$TMP/tcpdump.err" ||
		{ fail confirm_remote "tcpdump did not start"; stop_pid "$dump_pid"; ns_del "$c"; ns_del "$s"; return; }
	out=$TMP/remote.json
	start_sentry "$c" "$out" -i cfv0 --every --no-uprobe --confirm "${LISTS[@]}" ||
		{ fail confirm_remote "certsentry did not start: $(cat "$out")"; ns_del "$c"; ns_del "$s"; return; }
	handshake "$c" 10.217.0.2:443 -tls1_3 -servername "$HOST" ||
		fail confirm_remote "client handshake failed: $(tail -3 "$TMP/s_client.out")"
	wait_for 10 grep -q '"tls-certificate-hidden"' "$out"
	stop_pid "$SENTRY_PID"
	got="$(stopped_counter "$out" confirm_attempts) $(stopped_counter "$out" confirm_skipped_remote) $(confirms "$out" 443 | wc -l) $(wc -l <"$TMP/syns.txt")"
	[ "$got" = "0 1 0 1" ] && pass confirm_remote_not_contacted ||
		fail confirm_remote_not_contacted "attempts skipped_remote confirms SYNs: '$got'"

	out=$TMP/remote2.json
	start_sentry "$c" "$out" -i cfv0 --every --no-uprobe --confirm --confirm-remote "${LISTS[@]}" ||
		{ fail confirm_remote "certsentry did not start: $(cat "$out")"; ns_del "$c"; ns_del "$s"; return; }
	handshake "$c" 10.217.0.2:443 -tls1_3 -servername "$HOST"
	wait_for 10 sh -c "grep -q '\"confirm\"' '$out'"
	got=$(confirms "$out" 443 | jq -r '[.destination.ip, .tls.server.hash.sha256] | join(" ")')
	got="$got $(wc -l <"$TMP/syns.txt")"
	[ "$got" = "10.217.0.2 $(fp "$PKI/good.pem") 3" ] && pass confirm_remote_allowed ||
		fail confirm_remote_allowed "got '$got' (ip, leaf, SYNs the server got)"
	stop_pid "$SENTRY_PID"
	stop_pid "$dump_pid"
	stop_pid "$SERVER_PID"
	ns_del "$c"
	ns_del "$s"
}

test_options() {
	local msg rc
	msg=$("$BIN" -r /dev/null --confirm 2>&1); rc=$?
	[ $rc -ne 0 ] && grep -q "live only" <<<"$msg" && pass confirm_offline_refused ||
		fail confirm_offline_refused "rc=$rc '$msg'"
	msg=$("$BIN" --confirm-ttl 5 --list-events 2>&1); rc=$?
	[ $rc -ne 0 ] && grep -q "need --confirm" <<<"$msg" && pass confirm_options_need_confirm ||
		fail confirm_options_need_confirm "rc=$rc '$msg'"
	msg=$("$BIN" --confirm --confirm-rate 0 --list-events 2>&1); rc=$?
	[ $rc -ne 0 ] && grep -q -- "--confirm-rate: '0'" <<<"$msg" && pass confirm_bad_rate ||
		fail confirm_bad_rate "rc=$rc '$msg'"
}

test_options
test_local
test_hang
test_remote
summary

#!/usr/bin/env bash
# test_handshakes.sh - live handshake coverage beyond a plain chain: OCSP staples,
# resumption, client certificates, client alerts after the chain, DTLS, TLS 1.3's
# HelloRetryRequest and its encrypted flight.
set -u
. "$(dirname "$0")/lib.sh"

PKI=$TMP/pki
HOST=www.example.test

require_live "live handshake tests"
"$ROOT/tools/mkpki.sh" "$PKI" && "$ROOT/tools/mkpki.sh" "$PKI" ocsp leaf good &&
	"$ROOT/tools/mkpki.sh" "$PKI" ocsp leaf revoked || { fail mkpki "test PKI"; summary; exit 1; }
LEAF_FP=$(fp "$PKI/leaf.pem")

# with_sentry NAME [ARGS...]: a namespace NS with certsentry on lo writing OUT.
with_sentry() {
	ns_new NS "$1" || return 1
	OUT=$TMP/$1.json
	start_sentry "$NS" "$OUT" -i lo "${@:2}"
}

# jq_is NAME FILTER WANT: the first matching event's projection equals WANT.
jq_is() {
	local name=$1 action=$2 filter=$3 want=$4 got
	wait_for 5 grep -q "\"$action\"" "$OUT"
	got=$(events "$OUT" "$action" | head -1 | jq -r "$filter" 2>/dev/null)
	[ "$got" = "$want" ] && pass "$name" || fail "$name" "got '$got' want '$want' in: $(tail -c 1500 "$OUT")"
}

test_ocsp_staple() {
	local status
	for status in good revoked; do
		with_sentry "ocsp-$status" || { fail "ocsp_$status" "setup"; continue; }
		start_server "$NS" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" \
			-status_file "$PKI/leaf.ocsp-$status.der"
		handshake "$NS" 127.0.0.1:4433 -tls1_2 -servername "$HOST" -status
		local want="$status true valid $LEAF_FP"
		[ $status = revoked ] && want="revoked true valid $LEAF_FP keyCompromise"
		jq_is "ocsp_$status" tls-certificate \
			"[.certsentry.ocsp.status, (.certsentry.ocsp.matched_leaf|tostring), .certsentry.ocsp.signature, .tls.server.hash.sha256] + (if .certsentry.ocsp.status == \"revoked\" then [.certsentry.ocsp.revocation_reason] else [] end) | join(\" \")" \
			"$want"
		stop_pid "$SENTRY_PID"; stop_pid "$SERVER_PID"; ns_del "$NS"
	done
}

test_resumption() {
	with_sentry resume || { fail resumed "setup"; return; }
	start_server "$NS" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem"
	handshake "$NS" 127.0.0.1:4433 -tls1_2 -servername "$HOST" -sess_out "$TMP/sess"
	handshake "$NS" 127.0.0.1:4433 -tls1_2 -servername "$HOST" -sess_in "$TMP/sess"
	grep -q 'Reused' "$TMP/s_client.out" || { fail resumed "s_client did not resume"; }
	jq_is resumed tls-session-resumed '[(.tls.resumed|tostring), .tls.version, .tls.client.server_name] | join(" ")' "true 1.2 $HOST"
	[ "$(count_events "$OUT" tls-certificate)" = 1 ] && pass resumed_no_second_chain \
		|| fail resumed_no_second_chain "$(count_events "$OUT" tls-certificate) chains"
	stop_pid "$SENTRY_PID"; stop_pid "$SERVER_PID"; ns_del "$NS"
}

test_client_certificate() {
	with_sentry clientauth || { fail client_certificate "setup"; return; }
	start_server "$NS" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" \
		-Verify 2 -CAfile "$PKI/root.pem"
	handshake "$NS" 127.0.0.1:4433 -tls1_2 -servername "$HOST" \
		-cert "$PKI/client.pem" -key "$PKI/client.key" -cert_chain "$PKI/inter.pem"
	jq_is client_certificate tls-client-certificate \
		'[.tls.client.hash.sha256, .tls.client.x509.subject.common_name[0], (.certsentry.chain|length|tostring)] | join(" ")' \
		"$(fp "$PKI/client.pem") certsentry test client 2"
	stop_pid "$SENTRY_PID"; stop_pid "$SERVER_PID"; ns_del "$NS"
}

# A client that does not trust the chain sends a fatal alert right after it:
# the direct signal that real clients reject the certificate.
test_client_alert() {
	with_sentry alert || { fail client_alert "setup"; return; }
	start_server "$NS" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem"
	handshake "$NS" 127.0.0.1:4433 -tls1_2 -servername "$HOST" -verify_return_error \
		-CAfile "$PKI/client.pem"
	jq_is client_alert tls-alert \
		'[.certsentry.alert.from, .certsentry.alert.level, .certsentry.alert.description, .certsentry.alert.after_certificate_sha256] | join(" ")' \
		"client fatal unknown_ca $LEAF_FP"
	stop_pid "$SENTRY_PID"; stop_pid "$SERVER_PID"; ns_del "$NS"
}

test_dtls() {
	local v
	for v in 1 1_2; do
		with_sentry "dtls$v" || { fail "dtls$v" "setup"; continue; }
		# DTLS 1.0 signs with SHA-1, below OpenSSL 3's default security level.
		bg "$NS" openssl s_server -quiet -dtls$v -accept 4444 -cert "$PKI/leaf.pem" \
			-key "$PKI/leaf.key" -cert_chain "$PKI/inter.pem" -cipher DEFAULT:@SECLEVEL=0
		SERVER_PID=$BG_PID
		wait_for 5 ip netns exec "$NS" sh -c "ss -lunH | grep -q ':4444 '"
		# stdin stays open (EOF ends s_client) until the chain is reported
		(wait_for 15 grep -q '"tls-certificate"' "$OUT"; echo Q) |
			timeout 20 ip netns exec "$NS" openssl s_client -dtls$v \
			-connect 127.0.0.1:4444 -servername "$HOST" -cipher DEFAULT:@SECLEVEL=0 \
			>"$TMP/dtls.out" 2>&1
		local ver=1.2; [ $v = 1 ] && ver=1.0
		jq_is "dtls$v" tls-certificate \
			'[.network.transport, .tls.version_protocol, .tls.version, .tls.client.server_name, .tls.server.hash.sha256, (.certsentry.chain|length|tostring)] | join(" ")' \
			"udp dtls $ver $HOST $LEAF_FP 2"
		stop_pid "$SENTRY_PID"; stop_pid "$SERVER_PID"; ns_del "$NS"
	done
}

# msg_records FILE: the TLS 1.3 encrypted records s_client -msg saw: the
# server's before the client's first (its flight), and the client's first.
msg_records() {
	awk '/RecordHeader/ { d = $1; getline; print d, $1, $4 $5 }' "$1" |
	while read -r d t l; do
		[ "$t" = 17 ] || continue
		if [ "$d" = '>>>' ]; then echo "client=$((16#$l))"; break; fi
		echo "server=$((16#$l))"
	done | tr '\n' ' '
}

# hook_records FILE: what --copy-encrypted's hook got, the same way; each
# direction's records numbered 0, 1, ... in order.
hook_records() {
	jq -r 'select(.event.action == "certsentry-encrypted-record") | .message' "$1" |
	awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	       if (f["idx"] != n[f["from"]]++ || f["type"] != 23) print "bad:" $0
	       printf "%s=%s ", f["from"], f["length"] }'
}

# TLS 1.3 with a HelloRetryRequest: the server takes only P-256, the client's
# first key share is X25519; both send the middlebox CCS. The event must come,
# live and from a tcpdump capture of the same handshake, saying hello_retry,
# with and without --copy-encrypted (the encrypted flight copied, as with a key
# source; tests only): then the records that reach the hook are the ones
# s_client -msg saw, the server's flight and the client's Finished.
test_hello_retry() {
	local copy name want got td
	for copy in "" --copy-encrypted; do
		name=hello_retry${copy:+_copy}
		with_sentry "hrr${copy:+c}" --no-uprobe $copy || { fail "$name" "setup"; continue; }
		# immediate mode: without it packets wait in the ring for a block
		# timeout and a quick stop loses them
		bg "$NS" tcpdump -i lo -w "$TMP/$name.pcap" -s 0 --immediate-mode -U port 4433 \
			2>"$TMP/$name.tcpdump"
		td=$BG_PID
		wait_for 10 grep -q 'listening on' "$TMP/$name.tcpdump"
		start_server "$NS" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" -tls1_3 \
			-groups P-256
		handshake "$NS" 127.0.0.1:4433 -tls1_3 -groups X25519:P-256 -servername "$HOST" -msg
		if [ "$(grep -c '^>>> .*ClientHello' "$TMP/s_client.out")" != 2 ]; then
			fail "$name" "no HelloRetryRequest: $(grep -E '^(<<<|>>>)' "$TMP/s_client.out" | head)"
		else
			jq_is "$name" tls-certificate-hidden \
				'[(.certsentry.hello_retry|tostring), .tls.client.server_name, .tls.version, .certsentry.verdict] | join(" ")' \
				"true $HOST 1.3 unverified"
		fi
		want=$(msg_records "$TMP/s_client.out")
		if [ -n "$copy" ]; then
			wait_for 5 grep -q 'from=client' "$OUT"
			got=$(hook_records "$OUT")
			[ "$got" = "$want" ] && pass "${name}_records: $got" \
				|| fail "${name}_records" "hook '$got', s_client -msg '$want'"
		else
			[ "$(count_events "$OUT" certsentry-encrypted-record)" = 0 ] \
				&& pass "${name}_no_records" || fail "${name}_no_records" "$(tail -3 "$OUT")"
		fi
		# the capture holds the whole handshake before tcpdump stops
		wait_for 5 sh -c "[ \$(tcpdump -nn -r '$TMP/$name.pcap' 2>/dev/null | grep -c .) -ge 8 ]"
		stop_pid "$td"
		stop_pid "$SENTRY_PID"; stop_pid "$SERVER_PID"; ns_del "$NS"
		# the capture of the same handshake, offline
		"$BIN" -r "$TMP/$name.pcap" $copy > "$TMP/$name.off.json" 2>&1
		got=$(events "$TMP/$name.off.json" tls-certificate-hidden |
		      jq -r '[(.certsentry.hello_retry|tostring), .tls.client.server_name] | join(" ")')
		[ "$got" = "true $HOST" ] && pass "${name}_offline" \
			|| fail "${name}_offline" "got '$got': $(tail -c 600 "$TMP/$name.off.json")"
		if [ -n "$copy" ]; then
			got=$(hook_records "$TMP/$name.off.json")
			[ "$got" = "$want" ] && pass "${name}_offline_records" \
				|| fail "${name}_offline_records" "hook '$got', s_client -msg '$want'"
		else
			"$BIN" -r "$TMP/$name.pcap" -f text | grep -q "sni=$HOST TLS1.3 .* hello-retry " \
				&& pass "${name}_text" || fail "${name}_text" "$("$BIN" -r "$TMP/$name.pcap" -f text)"
		fi
	done
}

test_ocsp_staple
test_resumption
test_client_certificate
test_client_alert
test_dtls
test_hello_retry
summary

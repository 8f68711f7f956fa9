#!/usr/bin/env bash
# test_tls13.sh - TLS 1.3's encrypted certificate, had from a source: key logs (openssl
# s_server, a Go server; live and offline, all three suites, HRR, hostile logs) and the
# uprobes on a local nginx (every TLS 1.3 leaf, the revoked-certificate incident).
set -u
. "$(dirname "$0")/lib.sh"

PKI=$TMP/pki
HOST=www.example.test

require_live "tls13 tests"
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
	wait_for 30 grep -q '"tls-certificate"' "$out"
	want="keylog $LEAF_FP "
	got=$(leafs "$out")
	if [ "$got" = "$want" ] && [ "$(count_events "$out" tls-certificate-hidden)" = 0 ] &&
	   events "$out" tls-certificate | one_line --arg s "$suite" \
		'.tls.cipher == $s and .certsentry.verdict == "ok" and .tls.version == "1.3"' \
		>/dev/null && { [ -z "$hrr" ] ||
		[ "$(events "$out" tls-certificate | jq -r .certsentry.hello_retry)" = true ]; }; then
		pass "$name: leaf $LEAF_FP via keylog"
	else
		fail "$name" "got '$got': $(head -c 1500 "$out")"
	fi
	wait_for 30 sh -c "[ \$(tcpdump -nn -r '$TMP/$name.pcap' 2>/dev/null | grep -c .) -ge 8 ]"
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

# ---- a key log over a FIFO, live ----

# certsentry opens the FIFO first (no writer yet); s_server opens it for its
# -keylogfile after; a TLS 1.3 handshake's chain comes via keylog. Then that
# writer goes and another comes (a restarted server): its handshake too.
test_keylog_fifo() {
	local NS out=$TMP/fifo.json kl=$TMP/fifo.keys got want="keylog $LEAF_FP " i
	ns_new NS "f$$" || { fail keylog_fifo netns; return; }
	mkfifo -m 600 "$kl"
	start_sentry "$NS" "$out" -i lo --every --no-uprobe --ca-file "$PKI/root.pem" --keylog "$kl" ||
		{ fail keylog_fifo "certsentry did not start: $(cat "$out")"; ns_del "$NS"; return; }
	for i in 1 2; do
		start_server "$NS" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" -tls1_3 \
			-keylogfile "$kl" || { fail "keylog_fifo_$i" "s_server did not start"; break; }
		handshake "$NS" 127.0.0.1:4433 -tls1_3 -servername "$HOST" ||
			fail "keylog_fifo_$i" "handshake failed"
		wait_for 10 sh -c "[ \$(grep -c '\"tls-certificate\"' '$out') -ge $i ]"
		got=$(leafs "$out" | sed -n "${i}p")
		if [ "$got" = "$want" ] && [ "$(count_events "$out" tls-certificate-hidden)" = 0 ]; then
			pass "keylog_fifo_$i: s_server ($i) -keylogfile into a FIFO certsentry opened first: leaf via keylog"
		else
			fail "keylog_fifo_$i" "got '$got': $(tail -c 1200 "$out")"
		fi
		stop_pid "$SERVER_PID"
	done
	stop_pid "$SENTRY_PID"
	ns_del "$NS"
}
test_keylog_fifo

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

# ---- the incident: Debian nginx, two names, uprobes ----

# Server and client namespaces over a veth pair; nginx serves www and cdn,
# TLS 1.2 and 1.3; certsentry on the server's side with uprobes (default).
# Every TLS 1.3 handshake's leaf must come via uprobe with the right SHA-256;
# then cdn's certificate is swapped for a revoked one: the first TLS 1.3
# handshake after the swap says revoked.crl. An `openssl x509 -outform PEM`
# loop beside nginx (PEM calls i2d_X509, from libcrypto) adds no event.
test_nginx_incident() {
	local S C d=$TMP/nginx out=$TMP/nginx.json npid loop n13=0 n12=0 bad=0 name want got
	local cport v line stopped SADDR=10.78.0.2 CADDR=10.78.0.1 revoked_at
	command -v nginx >/dev/null || { skip nginx_incident "nginx is not installed (apt-get install nginx-light)"; return; }
	command -v curl >/dev/null || { skip nginx_incident "no curl"; return; }
	ns_new S tsrv && ns_new C tcli &&
		ip link add cst0 netns "$C" type veth peer name cst1 netns "$S" ||
		{ fail nginx_incident "namespaces and veth"; return; }
	ip -n "$S" addr add $SADDR/24 dev cst1
	ip -n "$C" addr add $CADDR/24 dev cst0
	ip -n "$S" link set cst1 up
	ip -n "$C" link set cst0 up
	mkdir -p "$d"
	cp "$PKI/cdn.chain.pem" "$d/cdn.pem"
	cp "$PKI/cdn.key" "$d/cdn.key"
	nginx_conf "$d" "443 ssl|$HOST|$PKI/leaf.chain.pem|$PKI/leaf.key|www" \
		"443 ssl|cdn.edge.test|$d/cdn.pem|$d/cdn.key|cdn"
	if ! nginx_start "$S" "$d"; then
		fail nginx_incident "nginx did not start: $(tail -3 "$d/error.log" 2>/dev/null)"
		stop_pid "$NGINX_PID"; ns_del "$C"; ns_del "$S"; return
	fi
	npid=$NGINX_PID
	bg "$S" sh -c "while :; do openssl x509 -in '$PKI/leaf.pem' -outform PEM >/dev/null; done"
	loop=$BG_PID
	start_sentry "$S" "$out" -i cst1 --every --ca-file "$PKI/root.pem" \
		--crl "$PKI/inter.crl.pem" ||
		{ fail nginx_incident "certsentry did not start: $(cat "$out")"; }
	grep -q 'uprobes attached' "$out" || fail nginx_uprobe "$(grep certsentry-uprobe "$out")"
	: > "$TMP/nginx.hs"
	for round in 1 2 3 4 5; do
		for name in $HOST cdn.edge.test; do
			for v in 1.3 1.2; do
				cport=$(ip netns exec "$C" timeout 10 curl -s -o /dev/null \
					-w '%{local_port}\n' --tlsv$v --tls-max $v --cacert "$PKI/root.pem" \
					--resolve "$name:443:$SADDR" "https://$name/") || continue
				echo "$v $name $cport" >> "$TMP/nginx.hs"
			done
		done
	done
	# the incident: the revoked certificate redeployed on cdn
	cp "$PKI/cdnrev.chain.pem" "$d/cdn.pem"
	cp "$PKI/cdnrev.key" "$d/cdn.key"
	# the request waits for the reload to be over: an old worker still has the old certificate
	nginx_reload "$npid" || fail nginx_incident_reload "nginx did not reload: $(tail -3 "$d/error.log")"
	revoked_at=$(ip netns exec "$C" timeout 10 curl -s -o /dev/null -w '%{local_port}\n' \
		--tlsv1.3 --cacert "$PKI/root.pem" --resolve "cdn.edge.test:443:$SADDR" \
		"https://cdn.edge.test/")
	# every handshake's event out (a TLS 1.3 one waits for its chain) before the stop
	# shellcheck disable=SC2317
	all_out() { [ "$(count_events "$out" tls-certificate)" -ge $(($(wc -l < "$TMP/nginx.hs") + 1)) ]; }
	wait_for 30 all_out
	stop_pid "$SENTRY_PID"
	stop_pid "$loop"
	stop_pid "$npid"
	while read -r v name cport; do
		if [ "$v" = 1.3 ]; then n13=$((n13 + 1)); else n12=$((n12 + 1)); fi
		if [ "$name" = "$HOST" ]; then want=$(fp "$PKI/leaf.pem"); else want=$(fp "$PKI/cdn.pem"); fi
		[ "$v" = 1.3 ] && want="uprobe exact $want 1.3" || want="wire  $want 1.2"
		got=$(jq -r --argjson p "$cport" 'select(.event.action == "tls-certificate" and .source.port == $p) |
			[.certsentry.source, (.certsentry.binding // ""), .tls.server.hash.sha256, .tls.version] | join(" ")' "$out")
		[ "$got" = "$want" ] || { bad=$((bad + 1)); echo "  port $cport ($v $name): got '$got', want '$want'"; }
	done < "$TMP/nginx.hs"
	[ "$n13" -ge 10 ] && [ "$bad" = 0 ] && [ "$(count_events "$out" tls-certificate-hidden)" = 0 ] &&
		pass "nginx_every_tls13_leaf: $n13 TLS 1.3 handshakes, each leaf via uprobe (exact), $n12 TLS 1.2 via the wire" ||
		fail nginx_every_tls13_leaf "$bad wrong of $n13 + $n12; hidden $(count_events "$out" tls-certificate-hidden)"
	got=$(jq -r --argjson p "${revoked_at:-0}" 'select(.event.action == "tls-certificate" and .source.port == $p) |
		[.certsentry.source, .certsentry.verdict, .tls.server.hash.sha256] | join(" ")' "$out")
	[ "$got" = "uprobe revoked.crl $(fp "$PKI/cdnrev.pem")" ] &&
		pass "nginx_incident_revoked: the first TLS 1.3 handshake after the swap says revoked.crl" ||
		fail nginx_incident_revoked "port ${revoked_at:-none}: got '$got'"
	# the PEM loop ran all along: no chain beyond the handshakes made (the
	# TLS 1.2 connections' served chains are counted as uprobe_clear or, when
	# they come after the connection ended, uprobe_unmatched: not reported)
	got=$(events "$out" tls-certificate | jq -r .certsentry.source | sort | uniq -c | tr -s ' ' | tr '\n' ',')
	stopped=$(events "$out" certsentry-stopped | jq -r .message)
	[ "$(count_events "$out" tls-certificate)" = $((n13 + n12 + 1)) ] &&
		[ "$(events "$out" tls-certificate | jq -r .certsentry.source | grep -c uprobe)" = $((n13 + 1)) ] &&
		pass "nginx_pem_loop_no_event: chains $got for $n13 + 1 TLS 1.3 and $n12 TLS 1.2 handshakes" ||
		fail nginx_pem_loop_no_event "events $got; ${stopped##*unverified=}"
	ns_del "$C"; ns_del "$S"
}
test_nginx_incident

# ---- a Go crypto/tls server: its KeyLogWriter, then its secrets by uprobe ----
test_go() {
	local d=$TMP/go NS out kl name src cport got want
	command -v go >/dev/null || { skip go_keylog "no go (apt-get install golang-go)"; return; }
	mkdir -p "$d"
	cat > "$d/main.go" <<-'EOF'
	// A TLS 1.3 HTTPS server writing its key log to the file named by its 4th argument.
	package main

	import (
		"crypto/tls"
		"net/http"
		"os"
	)

	func main() {
		kl, err := os.OpenFile(os.Args[4], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0600)
		if err != nil {
			panic(err)
		}
		cert, err := tls.LoadX509KeyPair(os.Args[2], os.Args[3])
		if err != nil {
			panic(err)
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
			KeyLogWriter: kl}
		srv := &http.Server{Addr: os.Args[1], TLSConfig: cfg,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("go\n"))
			})}
		panic(srv.ListenAndServeTLS("", ""))
	}
	EOF
	printf 'module tlssrv\n\ngo 1.19\n' > "$d/go.mod"
	(cd "$d" && GOCACHE=$d/cache GOPATH=$d/gopath GOFLAGS=-mod=mod go build -o srv .) \
		> "$d/build.log" 2>&1 || { fail go_build "$(tail -3 "$d/build.log")"; return; }
	want="keylog $LEAF_FP "
	for src in keylog uprobe; do
		name=go_$src
		ns_new NS "g$src" || { fail "$name" netns; continue; }
		kl=$d/$src.keys out=$TMP/$name.json
		: > "$kl"; chmod 600 "$kl"
		bg "$NS" "$d/srv" 127.0.0.1:8443 "$PKI/leaf.chain.pem" "$PKI/leaf.key" "$kl"
		local gpid=$BG_PID
		wait_for 10 ip netns exec "$NS" sh -c "ss -ltnH | grep -q ':8443 '"
		if [ $src = keylog ]; then
			start_sentry "$NS" "$out" -i lo --no-uprobe --ca-file "$PKI/root.pem" --keylog "$kl"
		else	# no key log given: the uprobe at writeKeyLog gives the secrets
			start_sentry "$NS" "$out" -i lo --ca-file "$PKI/root.pem"
		fi
		cport=$(ip netns exec "$NS" timeout 10 curl -s -o /dev/null -w '%{local_port}\n' \
			--cacert "$PKI/root.pem" --resolve "$HOST:8443:127.0.0.1" "https://$HOST:8443/")
		wait_for 30 grep -q '"tls-certificate"' "$out"
		got=$(leafs "$out")
		[ -n "$cport" ] && [ "$got" = "$want" ] &&
			[ "$(events "$out" tls-certificate | jq -r .certsentry.verdict)" = ok ] &&
			pass "$name: the Go server's leaf via its secrets ($src)" ||
			fail "$name" "port '$cport' got '$got': $(tail -c 1000 "$out")"
		stop_pid "$SENTRY_PID"; stop_pid "$gpid"; ns_del "$NS"
	done
}
test_go

summary

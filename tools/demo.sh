#!/usr/bin/env bash
# demo.sh - a live, self-contained demonstration: TLS servers and clients in a
# namespace of our own, certsentry watching them, everything removed after.
set -u
. "$(dirname "$0")/../tests/e2e/lib.sh"

why=$(live_unavailable)
[ -n "$why" ] && { echo "demo: cannot run live: $why" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "making a test PKI (root -> intermediate -> leaf) in $TMP/pki"
"$ROOT/tools/mkpki.sh" "$TMP/pki"
PKI=$TMP/pki
# The incident's certificate: valid, but revoked by the intermediate's CRL.
"$ROOT/tools/mkpki.sh" "$PKI" xleaf revoked www.example.test \
	"$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)" "$(date -u -d '+1 year' +%Y%m%d%H%M%SZ)" \
	sha256 ec DNS:www.example.test >/dev/null 2>&1
"$ROOT/tools/mkpki.sh" "$PKI" crl revoked >/dev/null 2>&1

ns_new c demo-client; ns_new s demo-server
ip link add csdemo0 netns "$c" type veth peer name csdemo1 netns "$s"
ip -n "$c" addr add 10.214.0.1/24 dev csdemo0
ip -n "$s" addr add 10.214.0.2/24 dev csdemo1
ip -n "$c" -6 addr add fd00:cafe::1/64 dev csdemo0 nodad
ip -n "$s" -6 addr add fd00:cafe::2/64 dev csdemo1 nodad
ip -n "$c" link set csdemo0 up
ip -n "$s" link set csdemo1 up
say "namespaces $c (clients) and $s (servers), joined by a veth pair"

start_server "$s" 443 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" -www
start_server "$s" 8443 "$PKI/big.pem" "$PKI/big.key" "$PKI/inter.pem" -www
start_server "$s" 9443 "$PKI/revoked.pem" "$PKI/revoked.key" "$PKI/inter.pem" -www

CHECKS=(--ca-file "$PKI/root.pem" --crl "$PKI/inter.crl.pem" --every)
say "starting: certsentry -i csdemo0 -f text --ca-file root.pem --crl inter.crl.pem --every (in $c)"
out=$TMP/demo.txt
json=$TMP/demo.json
bg "$c" "$BIN" -i csdemo0 -f text "${CHECKS[@]}" -o "$out"; text_pid=$BG_PID
bg "$c" "$BIN" -i csdemo0 "${CHECKS[@]}" -o "$json"; json_pid=$BG_PID
wait_for 10 grep -q certsentry-started "$out"
wait_for 10 grep -q certsentry-started "$json"
tail -f "$out" &
PIDS+=($!)

say "clients: TLS 1.2 with SNI, TLS 1.2 over IPv6, a 20 KB certificate, TLS 1.3"
handshake "$c" 10.214.0.2:443 -tls1_2 -servername www.example.test
handshake "$c" "[fd00:cafe::2]:443" -tls1_2 -servername example.test
handshake "$c" 10.214.0.2:8443 -tls1_2 -servername www.example.test
handshake "$c" 10.214.0.2:443 -tls1_3 -servername www.example.test
say "the incident: a server starts handing out a revoked certificate"
handshake "$c" 10.214.0.2:9443 -tls1_2 -servername www.example.test
sleep 1
stop_pid "$text_pid"; stop_pid "$json_pid"
sleep 0.2

say "the same handshakes as JSON lines (the revoked one, pretty-printed)"
events "$json" tls-certificate | jq 'select(.event.kind == "alert")' | head -80
say "done; removing namespaces and servers"

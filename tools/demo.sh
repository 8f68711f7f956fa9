#!/usr/bin/env bash
# demo.sh - the seed incident replayed live and self-contained: an edge with
# nginx, TLS 1.2 and 1.3 clients, a redeploy that puts back a retired, revoked
# certificate; certsentry watching; everything removed after.
set -u
. "$(dirname "$0")/../tests/e2e/lib.sh"

why=$(live_unavailable)
[ -n "$why" ] && { echo "demo: cannot run live: $why" >&2; exit 1; }
command -v nginx >/dev/null || { echo "demo: nginx is not installed (make deps installs nginx-light)" >&2; exit 1; }

SNI=cdn.example.test
GOOD_SECONDS=${DEMO_GOOD_SECONDS:-4}
BAD_SECONDS=${DEMO_BAD_SECONDS:-4}
bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
say() { echo; bold "== $*"; }
now_ms() { date +%s%3N; }

say "a CA, and two certificates for $SNI: the one in service, and one retired a year ago and revoked"
PKI=$TMP/pki
"$ROOT/tools/mkpki.sh" "$PKI"
day() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
"$ROOT/tools/mkpki.sh" "$PKI" xleaf current $SNI "$(day '-2 days')" "$(day '+90 days')" \
	sha256 ec DNS:$SNI >/dev/null 2>&1
"$ROOT/tools/mkpki.sh" "$PKI" xleaf retired $SNI "$(day '-400 days')" "$(day '+60 days')" \
	sha256 ec DNS:$SNI >/dev/null 2>&1
"$ROOT/tools/mkpki.sh" "$PKI" crl retired >/dev/null 2>&1
# curl checks every certificate of the chain against a CRL: the root's too.
(cd "$PKI" && : > root.index && printf '[ca]\ndefault_ca=d\n[d]\ndatabase=root.index\ndefault_md=sha256\ndefault_crl_days=7\n' > root.cnf &&
	openssl ca -gencrl -config root.cnf -keyfile root.key -cert root.pem -out root.crl.pem 2>/dev/null &&
	cat inter.crl.pem root.crl.pem > crls.pem) || { echo "demo: could not make the root's CRL" >&2; exit 1; }
for c in current retired; do
	printf '   %-8s serial %s, sha256 %s\n' "$c" \
		"$(openssl x509 -in "$PKI/$c.pem" -noout -serial | cut -d= -f2)" "$(fp "$PKI/$c.pem" | cut -c1-16)"
done

ns_new E demo-edge; ns_new C demo-clients
ip link add csdemo0 netns "$C" type veth peer name csdemo1 netns "$E"
ip -n "$C" addr add 10.214.0.1/24 dev csdemo0
ip -n "$E" addr add 10.214.0.2/24 dev csdemo1
ip -n "$C" link set csdemo0 up
ip -n "$E" link set csdemo1 up
say "namespaces $E (the edge: nginx and certsentry) and $C (clients), joined by a veth pair"

D=$TMP/nginx
mkdir -p "$D"
cp "$PKI/current.chain.pem" "$D/served.pem"; cp "$PKI/current.key" "$D/served.key"
nginx_conf "$D" "443 ssl|$SNI|$D/served.pem|$D/served.key|hello from the edge"
bg "$E" nginx -p "$D" -c "$D/nginx.conf"; NGINX_PID=$BG_PID
wait_for 10 ip netns exec "$E" sh -c "ss -ltnH | grep -q ':443 '" ||
	{ echo "demo: nginx did not start: $(tail -3 "$D/error.log")" >&2; exit 1; }

STATE=$TMP/state
CHECKS=(-i csdemo1 --ca-file "$PKI/root.pem" --crl "$PKI/inter.crl.pem" --every)
say "certsentry on the edge: certsentry ${CHECKS[*]//$TMP\//} --inventory --state-dir state"
JSON=$TMP/demo.json TEXT=$TMP/demo.txt
bg "$E" "$BIN" "${CHECKS[@]}" --inventory --state-dir "$STATE" -o "$JSON"; JSON_PID=$BG_PID
bg "$E" "$BIN" "${CHECKS[@]}" --inventory --state-dir "$STATE.text" -f text -o "$TEXT"; TEXT_PID=$BG_PID
wait_for 15 grep -q certsentry-started "$JSON" && wait_for 15 grep -q certsentry-started "$TEXT" ||
	{ echo "demo: certsentry did not start: $(tail -3 "$JSON" "$TEXT")" >&2; exit 1; }
tail -n +1 -f "$TEXT" | grep --line-buffered -v 'certsentry-\(stats\|started\)' &
PIDS+=($!)

# The clients check what they get as browsers do: the CA, and its CRL.
clients() {
	local i=0
	while :; do
		if [ $((i % 2)) = 0 ]; then
			ip netns exec "$C" curl -s -o /dev/null --max-time 3 --tlsv1.3 --cacert "$PKI/root.pem" \
				--crlfile "$PKI/crls.pem" --resolve $SNI:443:10.214.0.2 https://$SNI/
		else
			echo Q | ip netns exec "$C" timeout 3 openssl s_client -tls1_2 -connect 10.214.0.2:443 \
				-servername $SNI -CAfile "$PKI/root.pem" -CRL "$PKI/inter.crl.pem" -crl_check \
				-verify_return_error >/dev/null 2>&1
		fi
		i=$((i + 1))
		sleep 0.25
	done
}
say "clients: curl (TLS 1.3) and openssl s_client (TLS 1.2), four handshakes a second"
clients & CLIENTS_PID=$!
PIDS+=("$CLIENTS_PID")
sleep "$GOOD_SECONDS"

say "the routine redeploy: the retired, revoked certificate goes back on the edge"
cp "$PKI/retired.chain.pem" "$D/served.pem"; cp "$PKI/retired.key" "$D/served.key"
swap=$(now_ms)
ip netns exec "$E" nginx -p "$D" -c "$D/nginx.conf" -s reload 2>/dev/null
wait_for 10 grep -q '"kind":"alert"' "$JSON"
sleep "$BAD_SECONDS"
stop_pid "$CLIENTS_PID"
sleep 0.5
stop_pid "$JSON_PID"; stop_pid "$TEXT_PID"; stop_pid "$NGINX_PID"
sleep 0.2

say "what it found"
first=$(jq -r 'select(.event.kind == "alert") | .["@timestamp"]' "$JSON" | head -1)
if [ -n "$first" ]; then
	ms=$(( $(date -d "$first" +%s%3N) - swap ))
	bold "first alert ${ms} ms after the swap (nginx reload included)"
else
	bold "no alert: something is wrong with this demo, see $JSON"
fi
jq -r 'select(.event.kind == "alert") | [.tls.version // "-", (.certsentry.findings // [] | map(.code) | join(","))] | join(" ")' \
	"$JSON" | sort | uniq -c | sort -rn | sed 's/^/   /'
echo
echo "   by verdict: $(jq -r 'select(.certsentry.verdict) | .certsentry.verdict' "$JSON" | sort | uniq -c | tr -s ' \n' ' ')"
say "done; removing namespaces, servers and files"

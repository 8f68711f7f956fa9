#!/usr/bin/env bash
# test_revocation.sh - the daemon with fetched CRLs, OCSP, AIA and the inventory, live: a test
# CA's web server, OCSP responder and TLS servers in one namespace, certsentry in another.
set -u
. "$(dirname "$0")/lib.sh"

CA_IP=10.78.0.1
CL_IP=10.78.0.2
LEAF_DOMAIN=rev.test
. "$(dirname "$0")/lib_pki.sh"
PAST2=$(date -u -d '-2 day' +%Y%m%d%H%M%SZ)
MPORT=9471

why=$(live_unavailable)
[ -z "$why" ] && ! command -v python3 >/dev/null && why="python3 missing"
[ -z "$why" ] && ! command -v sqlite3 >/dev/null && why="sqlite3 CLI missing"
if [ -n "$why" ]; then
	skip "live revocation tests" "$why"
	summary
	exit 0
fi

# ---- the test CA (lib_pki.sh) ------------------------------------------------

make_pki() {
	mkdir -p "$WWW" &&
	"$M" "$PKI" >/dev/null 2>&1 &&
	"$M" "$PKI" foreign alien alien.rev.test >/dev/null 2>&1 &&
	leaf rv "$(cdp $H/inter.crl)" &&
	leaf orv "authorityInfoAccess=OCSP;URI:$OCSP_URL" &&
	leaf unreach "$(cdp http://$CA_IP:9/inter.crl)" &&
	leaf notfound "$(cdp $H/missing.crl)" &&
	leaf trunc "$(cdp $H/trunc/inter.crl)" &&
	leaf cut "$(cdp $H/cut.crl)" &&
	leaf evil "$(cdp $H/evil.crl)" &&
	leaf big "$(cdp $H/big-len)" &&
	leaf appA "" "$PAST2" app.rev.test &&
	leaf appB "" "$PAST" app.rev.test &&
	leaf aia "authorityInfoAccess=caIssuers;URI:$H/inter.der" &&
	leaf noaia "" &&
	ca_files &&
	(
		cd "$PKI" &&
		openssl ca -config ca.cnf -revoke orv.pem -crl_reason keyCompromise 2>/dev/null &&
		: > evil.index
	) &&
	gencrl inter.crl &&
	head -c 200 "$WWW/inter.crl" > "$WWW/cut.crl" &&
	gencrl evil.crl "" evil.index fake.pem fake.key
}

# ---- the two namespaces -------------------------------------------------------

setup_net() { ca_net r; }
start_ca() { ca_httpd && ocsp_responder 8888 inter.pem inter.key "$TMP/ocsp.log"; }

# ---- helpers ------------------------------------------------------------------

OUT=
# sentry OUT ARGS...: certsentry in the client namespace, watching the veth
sentry() {
	OUT=$1; shift
	start_sentry "$CL" "$OUT" -i rcv0 --every --stats-interval 3600 "$@"
}
sentry_stop() { stop_pid "$SENTRY_PID"; }

# serve NAME PORT CHAIN: one handshake with leaf NAME (SNI NAME.rev.test, or
# $SNI), the server sending CHAIN too ("" for none)
serve() {
	local name=$1 port=$2 chain=$3 sni=${SNI:-$1.rev.test}
	start_server "$CA" "$port" "$PKI/$name.pem" "$PKI/$name.key" "$chain" || return 1
	handshake "$CL" "$CA_IP:$port" -servername "$sni" -tls1_2
	stop_pid "$SERVER_PID"
}

# certs SNI: the tls-certificate events for that SNI, one JSON a line
certs() {
	jq -c --arg s "$1" 'select(.event.action == "tls-certificate" and
		.tls.client.server_name == $s)' "$OUT" 2>/dev/null
}
# nth SNI N: the Nth (1-based) of them
nth() { certs "$1" | sed -n "${2}p"; }
# wait_event ACTION JQ-FILTER: until a line of that action matches
has_event() { jq -c --arg a "$1" "select(.event.action == \$a) | select($2)" "$OUT" 2>/dev/null | grep -q .; }
# has_cert SNI JQ-FILTER: a tls-certificate event for SNI matching
has_cert() { certs "$1" | jq -c "select($2)" 2>/dev/null | grep -q .; }
wait_event() { wait_for "${3:-15}" has_event "$1" "$2"; }
# ncerts SNI: how many events so far
ncerts() { certs "$1" | wc -l; }
# wait_certs SNI N: until there are N
certs_at_least() { [ "$(ncerts "$1")" -ge "$2" ]; }
wait_certs() { wait_for 30 certs_at_least "$1" "$2"; }

# serve_apart NAME PORT N: app.rev.test served with leaf NAME, its event
# (the Nth) out, then --inventory-window 1 left behind: the next leaf on
# this endpoint is a change, not two servers taking turns (cert.inconsistent).
serve_apart() {
	SNI=app.rev.test serve "$1" "$2" "$PKI/inter.pem"
	wait_certs app.rev.test "$3"
	sleep 1.5	# deliberate: time past the window
}

scrape() {
	ip netns exec "$CL" curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics"
}
metric() {	# NAME-WITH-LABELS: its value, or nothing
	scrape | awk -v m="$1" 'index($0, m " ") == 1 { print $2 }'
}

# ---- the tests -----------------------------------------------------------------

S1=$TMP/state1

# revoked.crl from a fetched CRL, the CA revoking and republishing meanwhile
test_crl_fetched() {
	local j why=() n num
	serve rv 4501 "$PKI/inter.pem"
	wait_certs rv.rev.test 1 || { fail crl_fetched "no event for rv: $(tail -3 "$OUT")"; return; }
	j=$(nth rv.rev.test 1)
	one_line '.certsentry.revocation.crl.source == "fetched" and
		.certsentry.revocation.crl.status == "none" and
		(.certsentry.revocation.crl.why | test("pending|queued|flight"))' <<<"$j" >/dev/null ||
		why+=("first sighting not pending: $(jq -c .certsentry.revocation <<<"$j")")
	wait_event certsentry-fetch-updated '.message | test("crl url='"$H"'/inter.crl")' ||
		why+=("no certsentry-fetch-updated for inter.crl")
	serve rv 4501 "$PKI/inter.pem"
	wait_certs rv.rev.test 2
	j=$(nth rv.rev.test 2)
	one_line '.certsentry.verdict == "ok" and .certsentry.revocation.crl.status == "good" and
		.certsentry.revocation.crl.url == "'"$H"'/inter.crl" and
		(.certsentry.revocation.crl.crl_number | length > 0) and
		(.certsentry.revocation.crl.this_update | length > 0)' <<<"$j" >/dev/null ||
		why+=("second sighting not good from the CRL: $(jq -c .certsentry <<<"$j" | head -c 600)")
	# the CA revokes rv and republishes; the next refresh (at most 2 s) takes it
	num=$(printf '%d' "0x$(cat "$PKI/crlnumber")")	# the number the new CRL gets
	(cd "$PKI" && openssl ca -config ca.cnf -revoke rv.pem -crl_reason keyCompromise 2>/dev/null) &&
		gencrl inter.crl || why+=("could not revoke")
	wait_event certsentry-fetch-updated '.message | test("inter.crl number='"$num"' ")' 20 ||
		why+=("the republished CRL (number $num) was not fetched: $(jq -r 'select(.event.action == "certsentry-fetch-updated") | .message' "$OUT" | tail -2)")
	# the held chain judged again: a follow-up with the new verdict
	wait_for 10 has_cert rv.rev.test '.certsentry.recheck.previous_verdict == "ok" and
		.certsentry.verdict == "revoked.crl"' || why+=("no follow-up event revoked.crl with certsentry.recheck")
	n=$(ncerts rv.rev.test)
	serve rv 4501 "$PKI/inter.pem"
	wait_certs rv.rev.test $((n + 1))
	j=$(nth rv.rev.test $((n + 1)))
	one_line '.certsentry.verdict == "revoked.crl" and .rule.name == "revoked.crl" and
		.certsentry.revocation.crl.status == "revoked" and .certsentry.revocation.crl.crl_number == "'"$num"'" and
		(.certsentry.findings[0].message | test("fetched from '"$H"'/inter.crl"))' <<<"$j" >/dev/null ||
		why+=("next handshake after the refresh not revoked.crl: $(jq -c .certsentry <<<"$j" | head -c 600)")
	[ ${#why[@]} -eq 0 ] && pass crl_fetched_revoked || fail crl_fetched_revoked "${why[*]}"
}

test_ocsp_fetched() {
	local j why=()
	serve orv 4502 "$PKI/inter.pem"
	wait_certs orv.rev.test 1 || { fail ocsp_fetched "no event for orv"; return; }
	j=$(nth orv.rev.test 1)
	one_line '.certsentry.revocation.ocsp.source == "fetched" and .certsentry.revocation.ocsp.status == "none"' \
		<<<"$j" >/dev/null || why+=("first sighting: $(jq -c .certsentry.revocation <<<"$j")")
	wait_event certsentry-fetch-updated '.message | test("ocsp url='"$OCSP_URL"' status=revoked")' ||
		why+=("no verified OCSP answer: $(grep -h ocsp "$OUT" | tail -2)")
	wait_for 10 has_cert orv.rev.test '.certsentry.recheck != null and .certsentry.verdict == "revoked.ocsp"' ||
		why+=("no follow-up revoked.ocsp: $(certs orv.rev.test | jq -c '[.certsentry.verdict, .certsentry.recheck]' | tr '\n' ' ')")
	serve orv 4502 "$PKI/inter.pem"
	wait_certs orv.rev.test 2
	j=$(certs orv.rev.test | jq -c 'select(.certsentry.recheck == null)' | tail -1)
	one_line '.certsentry.verdict == "revoked.ocsp" and .certsentry.revocation.ocsp.status == "revoked" and
		.certsentry.revocation.ocsp.url == "'"$OCSP_URL"'"' <<<"$j" >/dev/null ||
		why+=("second handshake: $(jq -c .certsentry <<<"$j" | head -c 500)")
	[ ${#why[@]} -eq 0 ] && pass ocsp_fetched_revoked || fail ocsp_fetched_revoked "${why[*]}"
}

# CASE: leaf, what the failure event says, the metric that counts it
# (in the pattern, ~ stands for a space)
FAILS=(
	"unreach 4503 failed:~fetch~connect certsentry_fetch_requests_total{result=\"connect\"}"
	"notfound 4504 failed:~fetch~http_status~.*404 certsentry_fetch_requests_total{result=\"http_status\"}"
	"trunc 4505 failed:~fetch~truncated certsentry_fetch_requests_total{result=\"truncated\"}"
	"cut 4506 failed:~parse certsentry_crl_fetch_failures_total{reason=\"parse\"}"
	"evil 4507 failed:~signature certsentry_crl_fetch_failures_total{reason=\"signature\"}"
	"big 4508 failed:~fetch~too_large certsentry_fetch_requests_total{result=\"too_large\"}"
)

test_fetch_failures() {
	local c name port re metric j v why
	for c in "${FAILS[@]}"; do
		read -r name port re metric <<<"$c"
		why=()
		serve "$name" "$port" "$PKI/inter.pem"
		re=${re//\~/ }
		wait_event certsentry-fetch-failed '.message | test("^crl url=") and test("'"$re"'")' 20 ||
			why+=("no certsentry-fetch-failed matching '$re': $(jq -r 'select(.event.action == "certsentry-fetch-failed") | .message' "$OUT" | tail -2)")
		v=$(metric "$metric")
		[ -n "$v" ] && [ "$v" -ge 1 ] 2>/dev/null || why+=("$metric is '${v}'")
		# capture goes on; the verdict says no CRL was available and why
		serve "$name" "$port" "$PKI/inter.pem"
		wait_certs "$name.rev.test" 2 || why+=("capture stopped")
		j=$(nth "$name.rev.test" 2)
		one_line '.certsentry.revocation.crl.status == "none" and (.certsentry.revocation.crl.why | length > 0)' \
			<<<"$j" >/dev/null || why+=("revocation not 'none' with a reason: $(jq -c .certsentry.revocation <<<"$j")")
		[ ${#why[@]} -eq 0 ] && pass "crl_fetch_$name" || fail "crl_fetch_$name" "${why[*]}"
	done
}

# A -> B -> A on one endpoint: cert.changed, then cert.rollback naming both;
# a second instance beside it writes text: the line names the previous leaf
test_rollback() {
	local j why=() a b main=$SENTRY_PID txt=$TMP/rollback.txt tpid line day serial want
	a=$(fp "$PKI/appA.pem"); b=$(fp "$PKI/appB.pem")
	start_sentry "$CL" "$txt" -i rcv0 --every -f text --ca-file "$PKI/root.pem" \
		--state-dir "$TMP/state_text" --inventory --inventory-window 1 ||
		fail rollback_text "the text instance did not start: $(cat "$txt")"
	tpid=$SENTRY_PID SENTRY_PID=$main
	serve_apart appA 4510 1
	serve_apart appB 4510 2
	j=$(nth app.rev.test 2)
	one_line '[.certsentry.findings[].code] | index("cert.changed") and (index("cert.rollback") | not)' \
		<<<"$j" >/dev/null && one_line --arg a "$a" --arg b "$b" '.certsentry.change.previous.sha256 == $a and
		.certsentry.change.new.sha256 == $b and .certsentry.change.renewal == true and
		(.certsentry.change.new.serial | length > 0) and (.certsentry.change.new.not_after | length > 0) and
		(.certsentry.change.previous.issuer | length > 0)' <<<"$j" >/dev/null &&
		pass renewal_only_changed || fail renewal_only_changed "$(jq -c .certsentry <<<"$j" | head -c 800)"
	SNI=app.rev.test serve appA 4510 "$PKI/inter.pem"
	wait_certs app.rev.test 3
	j=$(nth app.rev.test 3)
	one_line --arg a "$a" --arg b "$b" '.certsentry.verdict == "cert.rollback" and .event.severity == 3 and
		.certsentry.change.previous.sha256 == $b and .certsentry.change.new.sha256 == $a and
		.certsentry.change.served_before == true and
		(.certsentry.findings[0].message | test($a[0:16]) and test($b[0:16]))' <<<"$j" >/dev/null &&
		pass rollback || fail rollback "$(jq -c .certsentry <<<"$j" | head -c 800)"
	# served A, was B: B's fingerprint, serial, expiry day and issuer beside A's
	serial=$(openssl x509 -in "$PKI/appB.pem" -noout -serial | cut -d= -f2)
	day=$(date -u -d "$(openssl x509 -in "$PKI/appB.pem" -noout -enddate | cut -d= -f2)" +%F)
	want=" prev_sha256=${b:0:16} prev_serial=$serial prev_expires=$day"
	want+=" prev_issuer=\"CN=certsentry Test Intermediate,O=certsentry test\" "
	wait_for 10 grep -q 'sni=app.rev.test .*cert.rollback' "$txt"
	line=$(grep 'sni=app.rev.test .*cert.rollback' "$txt" | head -1)
	if [[ "$line" == *" sha256=${a:0:16} "*"$want"*"ALERT[high] cert.rollback: "* ]] &&
		grep -q "sni=app.rev.test .* sha256=${b:0:16} .* prev_sha256=${a:0:16} .*cert.changed" "$txt"
	then
		pass rollback_text
	else
		fail rollback_text "want '$want' in: $(grep 'sni=app.rev.test' "$txt")"
	fi
	stop_pid "$tpid"
}

# The same across a restart: the inventory remembers
test_rollback_restart() {
	local j a b out=$TMP/restart.json
	a=$(fp "$PKI/appA.pem"); b=$(fp "$PKI/appB.pem")
	serve_apart appA 4511 4
	serve_apart appB 4511 5
	sentry_stop
	sentry "$out" --ca-file "$PKI/root.pem" --state-dir "$S1" --inventory --inventory-window 1 ||
		{ fail rollback_restart "restart: $(cat "$out")"; return 1; }
	SNI=app.rev.test serve appA 4511 "$PKI/inter.pem"
	wait_certs app.rev.test 1
	j=$(nth app.rev.test 1)
	one_line --arg a "$a" --arg b "$b" '.certsentry.verdict == "cert.rollback" and
		.certsentry.change.previous.sha256 == $b and .certsentry.change.new.sha256 == $a' <<<"$j" >/dev/null &&
		pass rollback_restart || fail rollback_restart "$(jq -c .certsentry <<<"$j" | head -c 800)"
}

# certsentry inventory, and the database as the sqlite3 CLI sees it
test_inventory_cli() {
	local a b txt js
	a=$(fp "$PKI/appA.pem"); b=$(fp "$PKI/appB.pem")
	txt=$("$BIN" inventory --state-dir "$S1" 2>&1)
	grep -q "app.rev.test" <<<"$txt" && grep -q "${a:0:16}" <<<"$txt" && grep -q "${b:0:16}" <<<"$txt" &&
		pass inventory_text || fail inventory_text "$(head -c 800 <<<"$txt")"
	js=$("$BIN" inventory --state-dir "$S1" --sni 'app.*' --format json 2>&1)
	jq -e -s 'length >= 1' <<<"$js" >/dev/null && ! grep -q "rv.rev.test" <<<"$js" &&
		grep -q "${a:0:16}" <<<"$js" && pass inventory_json_sni || fail inventory_json_sni "$(head -c 800 <<<"$js")"
	sqlite3 "file:$S1/inventory.sqlite?mode=ro" 'PRAGMA integrity_check' 2>&1 | grep -qx ok &&
		[ "$(sqlite3 "file:$S1/inventory.sqlite?mode=ro" "SELECT count(*) FROM sqlite_master WHERE type='table'")" -ge 1 ] &&
		pass inventory_sqlite3_cli || fail inventory_sqlite3_cli "$(sqlite3 "$S1/inventory.sqlite" .tables 2>&1)"
	[ "$(stat -c %a "$S1")" = 750 ] && pass state_dir_mode || fail state_dir_mode "$(stat -c %a "$S1")"
}

# Two servers behind one address taking turns: cert.inconsistent with the shares
test_inconsistent() {
	local out=$TMP/incons.json j
	sentry "$out" --ca-file "$PKI/root.pem" --state-dir "$TMP/state2" --inventory ||
		{ fail inconsistent "start: $(cat "$out")"; return; }
	SNI=app.rev.test serve appA 4520 "$PKI/inter.pem"
	SNI=app.rev.test serve appB 4520 "$PKI/inter.pem"
	SNI=app.rev.test serve appA 4520 "$PKI/inter.pem"
	wait_certs app.rev.test 3
	j=$(certs app.rev.test | jq -c 'select([.certsentry.findings[]?.code] | index("cert.inconsistent"))' | head -1)
	one_line '(.certsentry.change.shares | length) == 2 and ([.certsentry.change.shares[].permille] | add > 990) and
		(.certsentry.findings[] | select(.code == "cert.inconsistent") | .message | test("%"))' \
		<<<"$j" >/dev/null && pass inconsistent ||
		fail inconsistent "$(certs app.rev.test | jq -c .certsentry.findings | head -c 800)"
	sentry_stop
}

# A corrupt database: reported, moved aside, recreated; the capture goes on
test_corrupt_db() {
	local out=$TMP/corrupt.json st=$TMP/state3 j
	mkdir -p "$st" && head -c 8192 /dev/urandom > "$st/inventory.sqlite"
	sentry "$out" --ca-file "$PKI/root.pem" --state-dir "$st" --inventory ||
		{ fail corrupt_db "start: $(cat "$out")"; return; }
	serve noaia 4530 "$PKI/inter.pem"
	wait_certs noaia.rev.test 1
	has_event certsentry-inventory-error '.message | test("^corrupt")' && [ "$(ncerts noaia.rev.test)" -ge 1 ] &&
		pass corrupt_db_reported || fail corrupt_db_reported "$(ncerts noaia.rev.test) events; $(tail -3 "$out")"
	sentry_stop
	sqlite3 "$st/inventory.sqlite" 'PRAGMA integrity_check' 2>&1 | grep -qx ok &&
		"$BIN" inventory --state-dir "$st" | grep -q "noaia.rev.test" &&
		pass corrupt_db_recreated || fail corrupt_db_recreated "$(ls -la "$st"; "$BIN" inventory --state-dir "$st" 2>&1 | head -5)"
}

# An unknown root vs a missing intermediate, and AIA
test_chain() {
	local out=$TMP/chain.json j
	# the store trusts another root: the sent chain (leaf + intermediate) ends at an unknown root
	sentry "$out" --ca-file "$PKI/foreign-root.pem" || { fail chain_untrusted "start"; return; }
	serve noaia 4540 "$PKI/inter.pem"
	wait_certs noaia.rev.test 1
	j=$(nth noaia.rev.test 1)
	one_line '.certsentry.verdict == "chain.untrusted" and
		(.certsentry.findings[0].message | test("unknown root") and test("Root"))' <<<"$j" >/dev/null &&
		pass chain_untrusted_unknown_root || fail chain_untrusted_unknown_root "$(jq -c .certsentry.findings <<<"$j")"
	sentry_stop
	sentry "$out.2" --ca-file "$PKI/root.pem" --fetch-aia --state-dir "$TMP/state4" ||
		{ fail chain_incomplete "start"; return; }
	# no AIA: the leaf alone is chain.incomplete, as before
	serve noaia 4541 ""
	wait_certs noaia.rev.test 1
	j=$(nth noaia.rev.test 1)
	one_line '.certsentry.verdict == "chain.incomplete" and
		(.certsentry.findings[0].message | test("send the missing intermediate"))' <<<"$j" >/dev/null &&
		pass chain_incomplete || fail chain_incomplete "$(jq -c .certsentry.findings <<<"$j")"
	# AIA: fetched, it completes the chain: incomplete, with the browsers' remark
	serve aia 4542 ""
	wait_event certsentry-fetch-updated '.message | test("aia url='"$H"'/inter.der")' ||
		{ fail chain_incomplete_aia "no AIA fetch: $(grep -h aia "$OUT" | tail -2)"; sentry_stop; return; }
	serve aia 4542 ""
	wait_certs aia.rev.test 2
	j=$(nth aia.rev.test 2)
	one_line '.certsentry.verdict == "chain.incomplete" and
		(.certsentry.findings[0].message | test("browsers that fetch AIA accept") and test("curl, Go and Java refuse") and test("Intermediate"))' \
		<<<"$j" >/dev/null && pass chain_incomplete_aia || fail chain_incomplete_aia "$(jq -c .certsentry.findings <<<"$j")"
	sentry_stop
}

test_metrics_certs() {
	local body
	body=$(scrape)
	grep -q 'certsentry_certificate_not_after_seconds{sni="rv.rev.test",sha256="'"$(fp "$PKI/rv.pem" | head -c 16)"'"' <<<"$body" &&
		grep -q 'certsentry_certificate_last_seen_seconds{sni="app.rev.test"' <<<"$body" &&
		grep -q '^certsentry_certificate_series_left_out 0' <<<"$body" &&
		pass metrics_certificates_revoked_too || fail metrics_certificates_revoked_too "$(grep certificate_ <<<"$body" | head -5)"
	grep -q '^certsentry_findings_total{code="cert.rollback"} [1-9]' <<<"$body" &&
		pass metrics_rollback_counted || fail metrics_rollback_counted "$(grep 'findings_total' <<<"$body" | head -30 | tr '\n' ' ')"
}

make_pki || { fail mkpki "could not make the test PKI"; summary; exit 1; }
setup_net || { fail netns "could not make the namespaces"; summary; exit 1; }
start_ca || { fail ca "the CA's servers did not start: $(cat "$TMP/httpd.log" "$TMP/ocsp.log")"; summary; exit 1; }

# No --crl at all: what is revoked is found from the certificates themselves.
if sentry "$TMP/main.json" --ca-file "$PKI/root.pem" --state-dir "$S1" --inventory --inventory-window 1 \
	--fetch-crl --fetch-ocsp --fetch-refresh-min 1 --fetch-refresh-max 2 --fetch-backoff-min 1 \
	--fetch-backoff-max 2 --fetch-timeout-ms 5000 --fetch-max-crl-bytes 1048576 --fetch-allow "$CA_IP" \
	--metrics 127.0.0.1:$MPORT; then
	test_crl_fetched
	test_ocsp_fetched
	test_fetch_failures
	test_rollback
	test_metrics_certs
	test_rollback_restart
	sentry_stop
	test_inventory_cli
else
	fail start "certsentry did not start: $(cat "$TMP/main.json")"
fi
test_inconsistent
test_corrupt_db
test_chain
summary

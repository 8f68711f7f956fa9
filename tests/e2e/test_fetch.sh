#!/usr/bin/env bash
# test_fetch.sh - the CRL, OCSP and AIA fetchers, live: a test CA's web server and OCSP
# responder in one namespace, tools/fetchdrive (the fetchers in a main loop) in another.
set -u
. "$(dirname "$0")/lib.sh"

DRIVE=${FETCHDRIVE:-$ROOT/build/tools/fetchdrive}
CA_IP=10.77.0.1
CL_IP=10.77.0.2
LEAF_DOMAIN=fetch.test
. "$(dirname "$0")/lib_pki.sh"

why=$(live_unavailable)
[ -z "$why" ] && [ ! -x "$DRIVE" ] && why="$DRIVE not built"
[ -z "$why" ] && ! command -v python3 >/dev/null && why="python3 missing"
if [ -n "$why" ]; then
	skip "live fetch tests" "$why"
	summary
	exit 0
fi

# ---- the test CA (lib_pki.sh) ------------------------------------------------

crlnum() { printf '%d' "0x$(cat "$PKI/crlnumber")"; }	# the number the next CRL gets

make_pki() {
	mkdir -p "$WWW" &&
	"$M" "$PKI" >/dev/null 2>&1 &&
	leaf good "$(cdp $H/inter.crl)" &&
	leaf unreach "$(cdp http://$CA_IP:9/inter.crl)" &&
	leaf noroute "$(cdp http://10.77.9.9:8080/inter.crl)" &&
	leaf notfound "$(cdp $H/missing.crl)" &&
	leaf trunc "$(cdp $H/trunc/inter.crl)" &&
	leaf cut "$(cdp $H/cut.crl)" &&
	leaf evil "$(cdp $H/evil.crl)" &&
	leaf biglen "$(cdp $H/big-len)" &&
	leaf bigchunk "$(cdp $H/big-chunked)" &&
	leaf dns "$(cdp http://nosuch.fetch.test:8080/inter.crl)" &&
	leaf loop "$(cdp http://127.0.0.1:8080/inter.crl)" &&
	leaf part1 "$(cdp $H/part1.crl)" &&
	leaf part2 "$(cdp $H/part2.crl)" &&
	leaf delta "$(cdp $H/base.crl)" &&
	leaf bigok "$(cdp $H/bigvalid.crl)" &&
	leaf bigrev "$(cdp $H/bigvalid.crl)" &&
	leaf ocspgood "authorityInfoAccess=OCSP;URI:$OCSP_URL" &&
	leaf ocsprev "authorityInfoAccess=OCSP;URI:$OCSP_URL" &&
	leaf ocspdown "authorityInfoAccess=OCSP;URI:http://$CA_IP:8889" &&
	leaf ocspdeleg "authorityInfoAccess=OCSP;URI:http://$CA_IP:8890" &&
	leaf ocspunknown "authorityInfoAccess=OCSP;URI:$OCSP_URL" &&
	leaf ocspforged "authorityInfoAccess=OCSP;URI:http://$CA_IP:8891" &&
	leaf aia "authorityInfoAccess=caIssuers;URI:$H/inter.der" &&
	leaf aiap7 "authorityInfoAccess=caIssuers;URI:$H/inter.p7c" &&
	leaf aiawrong "authorityInfoAccess=caIssuers;URI:$H/root.der" &&
	leaf aiamissing "authorityInfoAccess=caIssuers;URI:$H/nothing.der" &&
	ca_files &&
	(
		cd "$PKI" &&
		openssl ca -config ca.cnf -revoke ocsprev.pem -crl_reason keyCompromise 2>/dev/null &&
		# a certificate the responder has never heard of
		sed -i "/\t$(openssl x509 -in ocspunknown.pem -noout -serial | cut -d= -f2)\t/d" ca.index &&
		# a delegated responder: the intermediate signs it for OCSP signing
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out resp.key 2>/dev/null &&
		openssl req -new -key resp.key -subj "/O=certsentry test/CN=OCSP Responder" -out resp.csr &&
		printf 'extendedKeyUsage=OCSPSigning\nbasicConstraints=CA:false\n' > resp.ext &&
		openssl x509 -req -in resp.csr -CA inter.pem -CAkey inter.key -CAcreateserial -days 30 \
			-extfile resp.ext -out resp.pem 2>/dev/null &&
		openssl x509 -in root.pem -outform DER -out "$WWW/root.der" &&
		openssl crl2pkcs7 -nocrl -certfile inter.pem -outform DER -out "$WWW/inter.p7c" &&
		: > evil.index && : > delta.index
	) &&
	INTER_N=$(crlnum) &&
	gencrl inter.crl &&
	head -c 200 "$WWW/inter.crl" > "$WWW/cut.crl" &&
	gencrl evil.crl "" evil.index fake.pem fake.key &&
	gencrl part1.crl "issuingDistributionPoint=critical,@idp1
[idp1]
fullname=URI:$H/part1.crl
onlyuser=TRUE" &&
	# part2.crl is part1's partition served at part2's URL: validly signed, wrong scope
	cp "$WWW/part1.crl" "$WWW/part2.crl"
}

# ---- the two namespaces -------------------------------------------------------

NETNS_ETC=()
cleanup_fetch() { local d; for d in "${NETNS_ETC[@]}"; do rm -rf "$d"; done; cleanup; }
trap cleanup_fetch EXIT

setup_net() {
	ca_net f || return 1
	# ip netns exec binds these over /etc/hosts and /etc/resolv.conf: names of
	# the test's own, and a resolver address where nothing answers (DNS fails)
	mkdir -p "/etc/netns/$CL" && NETNS_ETC+=("/etc/netns/$CL")
	printf '127.0.0.1 localhost\n%s crl.fetch.test\n' $CA_IP > "/etc/netns/$CL/hosts"
	printf 'nameserver %s\noptions timeout:1 attempts:1\n' $CA_IP > "/etc/netns/$CL/resolv.conf"
}

start_ca() {
	ca_httpd &&
		ocsp_responder 8888 inter.pem inter.key "$TMP/ocsp.log" &&
		ocsp_responder 8890 resp.pem resp.key "$TMP/ocsp2.log" &&
		# a responder signing with a key that is not the intermediate's, under its name
		ocsp_responder 8891 fake.pem fake.key "$TMP/ocsp3.log"
}

# ---- the driver ---------------------------------------------------------------

# drv_start NAME ARGS...: fetchdrive in the client namespace; commands go to
# a FIFO held open here, lines to $TMP/NAME.out ($OUT).
drv_start() {
	local name=$1; shift
	OUT=$TMP/$name.out
	mkfifo "$TMP/$name.in"
	exec {DRV_FD}<>"$TMP/$name.in"
	# not through bg: a background job's stdin would be /dev/null
	ip netns exec "$CL" "$DRIVE" "$@" <"$TMP/$name.in" >"$OUT" 2>"$OUT.err" &
	DRV_PID=$!
	PIDS+=("$DRV_PID")
	wait_for 10 grep -q '"event":"ready"' "$OUT"
}
drv() { echo "$*" >&"$DRV_FD"; }
# exited PID: gone, or a zombie waiting for us
exited() { ! kill -0 "$1" 2>/dev/null || grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
# drv_stop: quit, and the driver must end by itself, cleanly (a sanitizer
# build reports leaks at exit, and exits non-zero)
drv_stop() {
	local rc keep=() p
	drv quit
	wait_for 10 exited "$DRV_PID" || { fail driver_exit "fetchdrive did not quit"; kill -9 "$DRV_PID"; }
	wait "$DRV_PID"; rc=$?
	for p in "${PIDS[@]}"; do [ "$p" != "$DRV_PID" ] && keep+=("$p"); done
	PIDS=("${keep[@]}")
	exec {DRV_FD}>&-
	if [ "$rc" -ne 0 ] || grep -q 'Sanitizer\|runtime error' "$OUT.err"; then
		fail driver_exit "fetchdrive exit $rc: $(grep -m5 'Sanitizer\|runtime error\|#[0-9] ' "$OUT.err")"
	fi
}

# line FILTER: the first line of $OUT that the jq FILTER selects
line() { jq -c "select($1)" "$OUT" 2>/dev/null | head -1; }
# wait_line SECONDS FILTER: the same, waiting for it (the driver keeps ticking)
wait_line() {
	local t=$(( $1 * 10 )) l
	while [ "$t" -gt 0 ]; do
		l=$(line "$2")
		[ -n "$l" ] && { echo "$l"; return 0; }
		sleep 0.1
		t=$((t - 1))
	done
	return 1
}
# ask TAG COMMAND...: sends "COMMAND TAG ARGS" and prints the answer line
ask() {
	local tag=$1 cmd=$2; shift 2
	drv "$cmd" "$tag" "$@"
	wait_line 10 ".tag == \"$tag\" and .cmd"
}
stats() { ask "$1" stats; }
P() { echo "$PKI/$1.pem"; }
field() { jq -r "$1" <<<"$2"; }

# ---- cases --------------------------------------------------------------------

# crl_fails NAME LEAF FILTER WHAT: the fetch of LEAF's CRL fails as FILTER says,
# the answer then is "none" (not good) with a reason.
crl_fails() {
	local name=$1 leaf=$2 filter=$3 what=$4 a ev
	a=$(ask "$name-1" crl "$(P "$leaf")" "$(P inter)")
	[ "$(field .status "$a")" = none ] || { fail "$name" "first answer not none: $a"; return; }
	ev=$(wait_line 30 ".event == \"crl\" and .kind == \"failed\" and (.url | contains(\"$3\"))") ||
		{ fail "$name" "no failed event for $3: $(grep -F "$3" "$OUT" | tail -3)"; return; }
	a=$(ask "$name-2" crl "$(P "$leaf")" "$(P inter)")
	if [ "$(field .status "$a")" = none ] && one_line "$4" <<<"$ev" >/dev/null; then
		pass "$name: $(field '.fail + "/" + (.fetch // "-") + ": " + .why' "$ev"); answer: $(field '.none + ": " + .why' "$a")"
	else
		fail "$name" "event $ev, answer $a"
	fi
}

test_crl() {
	local a ev n2 s

	drv_start crl --state "$TMP/state" --refresh-min 1 --refresh-max 2 --backoff-min 30 \
		--backoff-max 60 --connect-timeout-ms 2000 ||
		{ fail crl "fetchdrive did not start: $(cat "$TMP/crl.out.err")"; return; }

	# a good CRL: first sighting pending, then good, with what was consulted
	a=$(ask g1 crl "$(P good)" "$(P inter)")
	if [ "$(field '.status + "/" + .none' "$a")" = none/pending ]; then
		pass "crl first sighting answered at once: none/pending ($(field .why "$a"))"
	else
		fail crl_first "$a"
	fi
	ev=$(wait_line 20 ".event == \"crl\" and .kind == \"updated\" and (.url | endswith(\"/inter.crl\"))") ||
		{ fail crl_good "no update event: $(tail -3 "$OUT")"; drv_stop; return; }
	a=$(ask g2 crl "$(P good)" "$(P inter)")
	if [ "$(field .status "$a")" = good ] && [ "$(field .crl_number "$a")" = "$INTER_N" ] &&
	   [ "$(field .url "$a")" = "$H/inter.crl" ]; then
		pass "crl good: not revoked; consulted CRL $(field .crl_number "$a") thisUpdate $(field .this_update "$a") from $(field .url "$a")"
	else
		fail crl_good "$a (event $ev)"
	fi

	# the CA revokes it and republishes; the next refresh finds it
	sleep 1	# deliberate: Last-Modified has one-second steps
	cp "$WWW/inter.crl" "$TMP/inter.crl.old"
	(cd "$PKI" && openssl ca -config ca.cnf -revoke good.pem -crl_reason keyCompromise 2>/dev/null)
	n2=$(crlnum)
	gencrl inter.crl
	ev=$(wait_line 30 ".event == \"crl\" and .kind == \"updated\" and .crl_number == \"$n2\"") ||
		{ fail crl_revoked "no update to CRL $n2: $(tail -3 "$OUT")"; drv_stop; return; }
	a=$(ask g3 crl "$(P good)" "$(P inter)")
	if [ "$(field '.status + "/" + .reason + "/" + .crl_number' "$a")" = "revoked/keyCompromise/$n2" ]; then
		pass "crl revoked after the CA republished: found at refresh, CRL $n2, since $(field .revocation_time "$a")"
	else
		fail crl_revoked "$a"
	fi

	# a mirror serving the older CRL again (or an attacker replaying it,
	# validly signed) does not un-revoke anything
	sleep 1	# deliberate: a Last-Modified of its own (one-second steps)
	cp "$TMP/inter.crl.old" "$WWW/inter.crl" && touch "$WWW/inter.crl"
	ev=$(wait_line 30 '.event == "crl" and .kind == "failed" and .fail == "older"')
	a=$(ask g4 crl "$(P good)" "$(P inter)")
	if [ -n "$ev" ] && [ "$(field '.status + "/" + .crl_number' "$a")" = "revoked/$n2" ]; then
		pass "crl replay of an older CRL rejected ($(field .why "$ev")); still revoked by CRL $n2"
	else
		fail crl_older "event '$ev', answer $a"
	fi

	crl_fails crl_unreachable unreach ":9/" '.fetch == "connect"'
	crl_fails crl_noroute noroute "10.77.9.9" '.fetch == "connect"'
	crl_fails crl_404 notfound "missing.crl" '.fetch == "http_status" and (.why | contains("404"))'
	crl_fails crl_truncated_http trunc "trunc/" '.fetch == "truncated"'
	crl_fails crl_truncated_der cut "cut.crl" '.fail == "parse"'
	crl_fails crl_wrong_key evil "evil.crl" '.fail == "signature"'
	crl_fails crl_200mb_length biglen "big-len" '.fetch == "too_large" and (.why | contains("Content-Length"))'
	crl_fails crl_200mb_counted bigchunk "big-chunked" '.fetch == "too_large" and (.why | contains("counted"))'
	crl_fails crl_dns dns "nosuch" '.fetch == "dns"'
	crl_fails crl_loopback_refused loop "127.0.0.1" '.fetch == "address"'

	# a partition names itself: good for its own certificates, and when it is
	# served at another partition's URL it covers nothing there
	a=$(ask p1 crl "$(P part1)" "$(P inter)")
	wait_line 20 ".event == \"crl\" and .kind == \"updated\" and (.url | endswith(\"/part1.crl\"))" >/dev/null
	a=$(ask p1b crl "$(P part1)" "$(P inter)")
	if [ "$(field '.status + "/" + (.partitioned | tostring)' "$a")" = good/true ]; then
		pass "crl partitioned: its own partition consulted (issuing distribution point names it)"
	else
		fail crl_partition "$a"
	fi
	a=$(ask p2 crl "$(P part2)" "$(P inter)")
	wait_line 20 ".event == \"crl\" and .kind == \"updated\" and (.url | endswith(\"/part2.crl\"))" >/dev/null
	a=$(ask p2b crl "$(P part2)" "$(P inter)")
	if [ "$(field '.status + "/" + .none' "$a")" = none/not_covered ]; then
		pass "crl partition of other certificates: not used ($(field .why "$a"))"
	else
		fail crl_partition_other "$a"
	fi

	# counters: every failure above, by reason; and the 200 MB ones cost no
	# more than the bound: nothing for the one refused by its Content-Length,
	# 64 MiB for the one counted (the other CRLs are a few hundred bytes)
	s=$(stats s1)
	if one_line '.crl.fetch_failed.connect >= 2 and .crl.fetch_failed.http_status >= 1 and
		  .crl.fetch_failed.truncated >= 1 and .crl.fetch_failed.too_large >= 2 and
		  .crl.fetch_failed.dns >= 1 and .crl.fetch_failed.address >= 1 and
		  .crl.failed.parse >= 1 and .crl.failed.signature >= 1 and .crl.revoked >= 1 and
		  .fetch.bytes < 67108864 + 1048576' <<<"$s" >/dev/null; then
		pass "crl counters by reason: $(jq -c '.crl.failed' <<<"$s") $(jq -c '.crl.fetch_failed' <<<"$s"); $(field .fetch.bytes "$s") body bytes in all; slowest tick $(field .max_tick_us "$s") us wall, $(field .max_tick_cpu_us "$s") us CPU"
	else
		fail crl_counters "$s"
	fi
	drv_stop

	# a restart starts with what was kept, before any fetch
	drv_start crl2 --state "$TMP/state" --refresh-min 300 --refresh-max 600 ||
		{ fail crl_restart "fetchdrive did not start"; return; }
	a=$(ask r1 crl "$(P good)" "$(P inter)")
	s=$(stats r2)
	if [ "$(field '.status + "/" + .crl_number' "$a")" = "revoked/$n2" ] &&
	   one_line '.crl.loaded >= 2 and .fetch.started == 0' <<<"$s" >/dev/null; then
		pass "crl kept across a restart: revoked at once from the state directory (CRL $n2, $(field .crl.loaded "$s") CRLs loaded, no fetch)"
	else
		fail crl_restart "$a $s"
	fi
	drv_stop
}

# A complete CRL naming a delta (Freshest CRL) and the delta revoking a
# certificate the complete CRL does not list yet.
test_delta() {
	local base a
	base=$(crlnum)
	gencrl base.crl "freshestCRL=URI:$H/delta.crl" &&
	(cd "$PKI" && grep "$(openssl x509 -in delta.pem -noout -serial | cut -d= -f2)" ca.index |
		sed 's/^V\t\([^\t]*\)\t\t/R\t\1\t'"$(date -u -d '-1 hour' +%y%m%d%H%M%SZ)"',keyCompromise\t/' > delta.index) &&
	gencrl delta.crl "deltaCRL=critical,ASN1:INTEGER:$base" delta.index ||
		{ fail crl_delta "cannot make the CRLs"; return; }
	drv_start delta --refresh-min 1 --refresh-max 2 || { fail crl_delta "fetchdrive did not start"; return; }
	ask d1 crl "$(P delta)" "$(P inter)" >/dev/null
	wait_line 20 '.event == "crl" and .kind == "updated" and .delta' >/dev/null
	a=$(ask d2 crl "$(P delta)" "$(P inter)")
	if [ "$(field '.status + "/" + (.by_delta | tostring)' "$a")" = revoked/true ]; then
		pass "crl delta: revoked by delta CRL $(field .delta_number "$a") on complete CRL $(field .crl_number "$a")"
	else
		fail crl_delta "$a $(grep delta "$OUT" | tail -2)"
	fi
	drv_stop
}

# A large CRL as big CAs publish (400,000 entries, about 14 MB): parsed and
# verified by the worker thread while the loop ticks on; lookups stay cheap.
test_bigcrl() {
	local a b s ev size
	size=$("$ROOT/build/tools/mkbigcrl" "$PKI/inter.pem" "$PKI/inter.key" 400000 $(crlnum) \
		"$WWW/bigvalid.crl" "$(openssl x509 -in "$(P bigrev)" -noout -serial | cut -d= -f2)") ||
		{ fail crl_large "mkbigcrl failed"; return; }
	drv_start big --refresh-min 600 || { fail crl_large "fetchdrive did not start"; return; }
	ask L1 crl "$(P bigok)" "$(P inter)" >/dev/null
	ev=$(wait_line 60 '.event == "crl" and (.url | endswith("bigvalid.crl"))')
	a=$(ask L2 crl "$(P bigok)" "$(P inter)")
	b=$(ask L3 crl "$(P bigrev)" "$(P inter)")
	s=$(stats L4)
	if [ "$(field .entries "$ev")" = 400001 ] && [ "$(field .status "$a")" = good ] &&
	   [ "$(field .status "$b")" = revoked ]; then
		pass "crl large ($size bytes, 400001 entries): verified off the loop; lookups $(field .check_us "$a") us and $(field .check_us "$b") us; slowest tick $(field .max_tick_us "$s") us wall, $(field .max_tick_cpu_us "$s") us CPU"
	else
		fail crl_large "event '$ev' answers $a $b"
	fi
	drv_stop
}

# Bounds on what is held: two CRLs at most, the least recently used goes.
test_bounds() {
	local s n
	drv_start bounds --state "$TMP/state-b" --max-crls 2 --refresh-min 60 ||
		{ fail crl_bounds "fetchdrive did not start"; return; }
	for l in good part1 delta; do
		ask "b-$l" crl "$(P $l)" "$(P inter)" >/dev/null
		wait_line 20 ".event == \"crl\" and .kind == \"updated\" and (.url | contains(\"$(case $l in good) echo inter;; part1) echo part1;; delta) echo base;; esac)\"))" >/dev/null
	done
	s=$(stats b-s)
	n=$(ls "$TMP/state-b/crl" | grep -c '\.der$')
	if one_line '.crl.followed <= 2 and .crl.evicted >= 1' <<<"$s" >/dev/null && [ "$n" -le 2 ]; then
		pass "crl bounds: $(field .crl.followed "$s") followed of 2 allowed, $(field .crl.evicted "$s") evicted, $n kept on disk"
	else
		fail crl_bounds "$s; $n files"
	fi
	drv_stop
}

test_ocsp() {
	local a s nonce
	for nonce in "" --nonce; do
		rm -f "$TMP"/ocsp*.in
		drv_start "ocsp$nonce" $nonce --refresh-min 1 --refresh-max 60 --connect-timeout-ms 2000 ||
			{ fail ocsp "fetchdrive did not start"; return; }
		a=$(ask o1 ocsp "$(P ocspgood)" "$(P inter)")
		[ "$(field .none "$a")" = pending ] || fail "ocsp_first$nonce" "$a"
		wait_line 20 '.event == "ocsp" and .kind == "updated"' >/dev/null
		a=$(ask o2 ocsp "$(P ocspgood)" "$(P inter)")
		if [ "$(field .status "$a")" = good ] && [ "$(field .next_update "$a")" != null ]; then
			pass "ocsp${nonce:+ with nonce} good: thisUpdate $(field .this_update "$a") nextUpdate $(field .next_update "$a") from $(field .url "$a")"
		else
			fail "ocsp_good$nonce" "$a"
		fi
		[ -n "$nonce" ] && { drv_stop; continue; }
		ask o3 ocsp "$(P ocsprev)" "$(P inter)" >/dev/null
		wait_line 20 '.event == "ocsp" and .kind == "updated" and .status == "revoked"' >/dev/null
		a=$(ask o4 ocsp "$(P ocsprev)" "$(P inter)")
		if [ "$(field '.status + "/" + .reason' "$a")" = revoked/keyCompromise ]; then
			pass "ocsp revoked: since $(field .revocation_time "$a"), responder $(field .responder "$a")"
		else
			fail ocsp_revoked "$a"
		fi
		ask o8 ocsp "$(P ocspdeleg)" "$(P inter)" >/dev/null
		wait_line 20 '.event == "ocsp" and (.url | endswith(":8890"))' >/dev/null
		a=$(ask o9 ocsp "$(P ocspdeleg)" "$(P inter)")
		if [ "$(field '.status + "/" + .responder' "$a")" = "good/CN=OCSP Responder,O=certsentry test" ]; then
			pass "ocsp from a delegated responder (its certificate in the response, signed by the issuer): good"
		else
			fail ocsp_delegated "$a"
		fi
		ask o10 ocsp "$(P ocspunknown)" "$(P inter)" >/dev/null
		wait_line 20 '.event == "ocsp" and .status == "unknown"' >/dev/null
		a=$(ask o11 ocsp "$(P ocspunknown)" "$(P inter)")
		[ "$(field .status "$a")" = unknown ] &&
			pass "ocsp unknown: the responder does not know the certificate" || fail ocsp_unknown "$a"
		ask o12 ocsp "$(P ocspforged)" "$(P inter)" >/dev/null
		wait_line 20 '.event == "ocsp" and (.url | endswith(":8891"))' >/dev/null
		a=$(ask o13 ocsp "$(P ocspforged)" "$(P inter)")
		if [ "$(field '.status + "/" + .none' "$a")" = none/rejected ]; then
			pass "ocsp response signed by another key under the issuer's name: rejected ($(field .why "$a"))"
		else
			fail ocsp_forged "$a"
		fi
		ask o5 ocsp "$(P ocspdown)" "$(P inter)" >/dev/null
		# this responder's failure: the forged one above failed too
		wait_line 20 '.event == "ocsp" and .kind == "failed" and (.url | endswith(":8889"))' >/dev/null
		a=$(ask o6 ocsp "$(P ocspdown)" "$(P inter)")
		s=$(stats o7)
		if [ "$(field '.status + "/" + .none' "$a")" = none/fetch_failed ] &&
		   one_line '.ocsp.fetch_failed.connect >= 1 and .ocsp.failed.signature >= 1' <<<"$s" >/dev/null; then
			pass "ocsp responder down: none ($(field .why "$a")); counted: $(jq -c '.ocsp.failed' <<<"$s") $(jq -c '.ocsp.fetch_failed' <<<"$s")"
		else
			fail ocsp_down "$a $s"
		fi
		drv_stop
	done
}

test_aia() {
	local a
	drv_start aia || { fail aia "fetchdrive did not start: $(cat "$OUT.err")"; return; }
	a=$(ask a1 aia "$(P aia)" "$(P root)")
	if [ "$(field '.state' "$a")" = pending ] && [ "$(field .chain "$a")" != complete ]; then
		pass "aia first sighting: pending, the chain without it is incomplete ($(field .chain "$a"))"
	else
		fail aia_first "$a"
	fi
	wait_line 20 '.event == "aia" and (.url | endswith("inter.der"))' >/dev/null
	a=$(ask a2 aia "$(P aia)" "$(P root)")
	if [ "$(field '.state + "/" + .chain' "$a")" = found/complete ]; then
		pass "aia completes the chain (DER): $(field .issuer "$a")"
	else
		fail aia_der "$a"
	fi
	ask a3 aia "$(P aiap7)" "$(P root)" >/dev/null
	wait_line 20 '.event == "aia" and (.url | endswith("inter.p7c"))' >/dev/null
	a=$(ask a4 aia "$(P aiap7)" "$(P root)")
	[ "$(field '.state + "/" + .chain' "$a")" = found/complete ] &&
		pass "aia completes the chain (PKCS#7 certs-only)" || fail aia_p7c "$a"
	ask a5 aia "$(P aiawrong)" "$(P root)" >/dev/null
	wait_line 20 '.event == "aia" and (.url | endswith("root.der"))' >/dev/null
	a=$(ask a6 aia "$(P aiawrong)" "$(P root)")
	if [ "$(field '.state + "/" + .fail' "$a")" = failed/not_issuer ] && [ "$(field .chain "$a")" != complete ]; then
		pass "aia pointing at a certificate that did not issue it: not used ($(field .why "$a"))"
	else
		fail aia_wrong "$a"
	fi
	ask a7 aia "$(P aiamissing)" "$(P root)" >/dev/null
	wait_line 20 '.event == "aia" and .kind == "failed"' >/dev/null
	a=$(ask a8 aia "$(P aiamissing)" "$(P root)")
	[ "$(field '.state + "/" + .fetch' "$a")" = failed/http_status ] &&
		pass "aia 404: failed ($(field .why "$a"))" || fail aia_404 "$a"
	drv_stop
}

# The fetcher itself: allow-list, redirects, backoff, concurrency, and the
# loop ticking on while a transfer hangs.
test_fetch() {
	local a e s i
	drv_start get --allow '*.fetch.test' --timeout-ms 3000 --max-concurrent 1 --backoff-min 60 ||
		{ fail fetch "fetchdrive did not start: $(cat "$OUT.err")"; return; }
	a=$(ask f1 get "$H/inter.crl")
	[ "$(field .submitted "$a")" = disallowed ] &&
		pass "fetch allow-list: $CA_IP refused by *.fetch.test" || fail fetch_allow "$a"
	ask f2 get "http://crl.fetch.test:8080/inter.crl" >/dev/null
	e=$(wait_line 10 '.event == "get" and .tag == "f2"')
	[ "$(field .result "$e")" = ok ] &&
		pass "fetch allow-list: crl.fetch.test allowed, $(field .len "$e") bytes" || fail fetch_allowed "$e"
	ask f3 get "http://crl.fetch.test:8080/redirect/1/inter.crl" >/dev/null
	e=$(wait_line 10 '.event == "get" and .tag == "f3"')
	[ "$(field '.result + "/" + (.redirects | tostring)' "$e")" = ok/2 ] &&
		pass "fetch redirects followed (2)" || fail fetch_redirect "$e"
	ask f4 get "http://crl.fetch.test:8080/redirect/5/inter.crl" >/dev/null
	e=$(wait_line 10 '.event == "get" and .tag == "f4"')
	[ "$(field .result "$e")" = redirect ] &&
		pass "fetch redirects bounded: $(field .error "$e")" || fail fetch_redirect_max "$e"
	ask f5 get "http://crl.fetch.test:8080/redirect-ftp" >/dev/null
	e=$(wait_line 10 '.event == "get" and .tag == "f5"')
	[ "$(field .result "$e")" = redirect ] &&
		pass "fetch redirect to ftp refused: $(field .error "$e")" || fail fetch_redirect_ftp "$e"
	ask f6 get "http://crl.fetch.test:8080/redirect-host/$CA_IP/inter.crl" >/dev/null
	e=$(wait_line 10 '.event == "get" and .tag == "f6"')
	[ "$(field .result "$e")" = disallowed ] &&
		pass "fetch redirect to a host off the allow-list refused" || fail fetch_redirect_host "$e"
	ask f7 get "http://crl.fetch.test:8080/none.crl" >/dev/null
	wait_line 10 '.event == "get" and .tag == "f7"' >/dev/null
	a=$(ask f8 get "http://crl.fetch.test:8080/none.crl")
	[ "$(field .submitted "$a")" = backoff ] &&
		pass "fetch backoff: a URL that just failed is not asked again at once" || fail fetch_backoff "$a"

	# a server that never answers: the loop answers commands and keeps
	# ticking while the transfer is out, and the transfer ends at its bound
	ask f9 get "http://crl.fetch.test:8080/slow" >/dev/null
	a=$(ask f10 stats)
	e=$(wait_line 10 '.event == "get" and .tag == "f9"')
	if [ "$(field .result "$e")" = timeout ] && [ "$(field .ticks_waited "$e")" -gt 10 ] &&
	   [ "$(field .tick "$a")" -lt "$(field .tick "$e")" ]; then
		pass "fetch never blocks: $(field .ticks_waited "$e") ticks while the server hung, a command answered meanwhile, then $(field .error "$e")"
	else
		fail fetch_nonblocking "$e / $a"
	fi

	# one at a time: six requests, never more than one out
	for i in 1 2 3 4 5 6; do drv get "c$i" "http://crl.fetch.test:8080/inter.crl?$i"; done
	wait_line 20 '.event == "get" and .tag == "c6"' >/dev/null
	s=$(stats f11)
	if one_line '.fetch.max_active == 1 and .fetch.results.ok >= 8' <<<"$s" >/dev/null; then
		pass "fetch concurrency bound: at most $(field .fetch.max_active "$s") transfer at once; slowest tick $(field .max_tick_us "$s") us wall, $(field .max_tick_cpu_us "$s") us CPU"
	else
		fail fetch_concurrency "$s"
	fi
	drv_stop

	# one start a minute: the second request waits its turn, queued
	drv_start rate --allow '*.fetch.test' --rate 1 --max-concurrent 1 ||
		{ fail fetch_rate "fetchdrive did not start: $(cat "$OUT.err")"; return; }
	drv get r1 "http://crl.fetch.test:8080/inter.crl?r1"
	drv get r2 "http://crl.fetch.test:8080/inter.crl?r2"
	wait_line 10 '.event == "get" and .tag == "r1"' >/dev/null
	s=$(stats r3)
	if one_line '.fetch.started == 1 and .fetch.queued == 1' <<<"$s" >/dev/null &&
	   [ -z "$(line '.event == "get" and .tag == "r2"')" ]; then
		pass "fetch rate bound: at 1 a minute the second request stays queued"
	else
		fail fetch_rate "$s"
	fi
	drv_stop
}

setup_net || { fail fetch_setup "namespaces"; summary; exit 1; }
make_pki || { fail fetch_setup "test PKI"; summary; exit 1; }
start_ca || { fail fetch_setup "CA servers: $(cat "$TMP/httpd.log" "$TMP/ocsp.log" 2>/dev/null | tail -5)"; summary; exit 1; }
test_crl
test_delta
test_bigcrl
test_bounds
test_ocsp
test_aia
test_fetch
summary

#!/usr/bin/env bash
# test_outcomes.sh - six real client stacks refuse an untrusted certificate and accept a
# trusted one, over TLS 1.3 and TLS 1.2: every refusal reported (client.rejected from a
# clear alert, client.aborted from TLS 1.3's encrypted abort shape), no accepted
# handshake reported as aborted, JA4 on every event; the client.aborting rate alert live.
set -u
. "$(dirname "$0")/lib.sh"

PKI=$TMP/pki
HOST=www.example.test
SEEN=${OUTCOMES_TABLE:-$TMP/seen.txt}	# what each stack did, one line per run

why=$(live_unavailable)
if [ -n "$why" ]; then
	skip "client outcome tests" "$why"
	summary
	exit 0
fi
"$ROOT/tools/mkpki.sh" "$PKI" && "$ROOT/tools/mkpki.sh" "$PKI" foreign foreign "$HOST" ||
	{ fail mkpki "test PKI"; summary; exit 1; }
LEAF_FP=$(fp "$PKI/leaf.pem")
FOREIGN_FP=$(fp "$PKI/foreign.pem")
: >"$SEEN"

# Ports: version x trust. The trusted leaf chains to root.pem, which every
# client is given; the foreign one chains to a root no client knows.
declare -A PORT=([13t]=4431 [13u]=4432 [12t]=4433 [12u]=4434)

# ---- the clients: each CLIENT_NAME VERSION(1.3|1.2) PORT; exit status ignored ----

cl_openssl() {
	echo Q | timeout 10 ip netns exec "$NS" openssl s_client -connect "127.0.0.1:$3" \
		-servername "$HOST" -verify_return_error -verify_hostname "$HOST" \
		-CAfile "$PKI/root.pem" "-tls1_${2#1.}" >"$TMP/client.out" 2>&1
}

cl_curl() {
	timeout 10 ip netns exec "$NS" curl -sS -o /dev/null --cacert "$PKI/root.pem" \
		--resolve "$HOST:$3:127.0.0.1" "--tlsv$2" --tls-max "$2" \
		"https://$HOST:$3/" >"$TMP/client.out" 2>&1
}

cl_gnutls() {
	local vers=+VERS-TLS1.3
	[ "$2" = 1.2 ] && vers=+VERS-TLS1.2
	timeout 10 ip netns exec "$NS" gnutls-cli --port "$3" --x509cafile "$PKI/root.pem" \
		--sni-hostname "$HOST" --verify-hostname "$HOST" \
		--priority "NORMAL:-VERS-ALL:$vers" 127.0.0.1 </dev/null >"$TMP/client.out" 2>&1
}

cl_nss() {
	local v=tls1.3
	[ "$2" = 1.2 ] && v=tls1.2
	timeout 10 ip netns exec "$NS" tstclnt -h 127.0.0.1 -p "$3" -a "$HOST" -d "sql:$NSSDB" \
		-V "$v:$v" -Q </dev/null >"$TMP/client.out" 2>&1
}

cl_chromium() {
	local spki=
	[ "${4:-}" = trusted ] && spki="--ignore-certificate-errors-spki-list=$LEAF_SPKI"
	rm -rf "$TMP/chromium"
	timeout 30 ip netns exec "$NS" env HOME="$TMP" chromium --headless --no-sandbox \
		--disable-gpu --no-first-run --user-data-dir="$TMP/chromium" \
		--host-resolver-rules="MAP $HOST 127.0.0.1" $spki \
		--ssl-version-min="tls$2" --ssl-version-max="tls$2" \
		--dump-dom "https://$HOST:$3/" >"$TMP/client.out" 2>&1
}

cl_go() {
	timeout 10 ip netns exec "$NS" "$GOCLIENT" "127.0.0.1:$3" "$PKI/root.pem" "$2" "$HOST" \
		>"$TMP/client.out" 2>&1
}

# Why a stack cannot run here, or nothing.
missing() {
	case $1 in
	openssl) command -v openssl >/dev/null || echo "openssl not installed" ;;
	curl) command -v curl >/dev/null || echo "curl not installed (apt-get install curl)" ;;
	gnutls) command -v gnutls-cli >/dev/null || echo "gnutls-cli not installed (gnutls-bin)" ;;
	nss) command -v tstclnt >/dev/null && command -v certutil >/dev/null ||
		echo "tstclnt/certutil not installed (libnss3-tools)" ;;
	chromium) command -v chromium >/dev/null || echo "chromium not installed" ;;
	go) [ -n "${GOCLIENT:-}" ] || echo "${GOWHY:-go not installed (golang-go)}" ;;
	esac
}

setup_nss() {
	NSSDB=$TMP/nssdb
	mkdir -p "$NSSDB" && certutil -N -d "sql:$NSSDB" --empty-password &&
		certutil -A -d "sql:$NSSDB" -n testroot -t "C,," -i "$PKI/root.pem"
}

setup_go() {
	command -v go >/dev/null || { GOWHY="go not installed (golang-go)"; return; }
	mkdir -p "$TMP/goclient"
	cat >"$TMP/goclient/main.go" <<'EOF'
// A crypto/tls client: ADDR CAFILE VERSION(1.3|1.2) SERVERNAME; exits 1 if the handshake fails.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

func main() {
	ca, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	v := uint16(tls.VersionTLS13)
	if os.Args[3] == "1.2" {
		v = tls.VersionTLS12
	}
	c, err := tls.Dial("tcp", os.Args[1], &tls.Config{ServerName: os.Args[4], RootCAs: pool,
		MinVersion: v, MaxVersion: v})
	if err != nil {
		fmt.Println("handshake:", err)
		os.Exit(1)
	}
	c.Close()
	fmt.Println("ok")
}
EOF
	(cd "$TMP/goclient" && GOCACHE=$TMP/gocache GOPATH=$TMP/gopath GO111MODULE=off GOFLAGS= \
		go build -o goclient main.go) >"$TMP/go-build.out" 2>&1 &&
		GOCLIENT=$TMP/goclient/goclient ||
		GOWHY="go build failed: $(tail -c 300 "$TMP/go-build.out")"
}

# has EVENTS FILTER: some event of EVENTS (JSON lines) passes the select FILTER
# (jq -e judges only the last input's output: not usable over several).
has() { echo "$1" | jq -c "select($2)" 2>/dev/null | grep -q .; }

# after_line N: the JSON events written after line N of OUT.
after_line() { tail -n "+$(($1 + 1))" "$OUT"; }

# settle N: waits until OUT has stopped growing (what the run caused is in).
settle() {
	local a b=-1
	for _ in $(seq 1 30); do
		sleep 0.3
		a=$(wc -l <"$OUT")
		[ "$a" = "$b" ] && return
		b=$a
	done
}

# run_stack STACK VERSION TRUST: one run; checks what certsentry said about it.
run_stack() {
	local stack=$1 v=$2 trust=$3 key port before got name ev
	key=${v/./}${trust:0:1}
	port=${PORT[$key]}
	name="${stack}_tls${v/./}_$trust"
	before=$(wc -l <"$OUT")
	"cl_$stack" "$stack" "$v" "$port" "$trust"
	# a refusal's close can wait in the ring until the next wakeup; a TLS
	# 1.2 acceptance has nothing after its chain
	local want='-e client-outcome -e "tls-alert"'
	[ "$v$trust" = 1.2trusted ] && want='-e "tls-certificate"'
	wait_for 8 sh -c "tail -n +$((before + 1)) '$OUT' | grep -q $want"
	settle
	ev=$(after_line "$before" | jq -c 'select(.event.dataset == "certsentry.tls") |
		select(.destination.port == '"$port"')')
	# what was seen, for the table: each event's action, outcome, rule, alert
	got=$(echo "$ev" | jq -r '[.event.action, (.certsentry.client_outcome // "-"),
		(.rule.name // "ok"), (.certsentry.alert.description //
		.certsentry.client_outcome_detail.alert // "-")] +
		(if .certsentry.client_outcome == "unknown" then
		 ["(" + .certsentry.client_outcome_detail.reason + ")"] else [] end) |
		join("/")' 2>/dev/null |
		sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')
	printf '%s\tTLS%s\t%s\t%s\n' "$stack" "$v" "$trust" "${got:-nothing}" >>"$SEEN"
	echo "  $name: ${got:-nothing}"
	if [ "$trust" = trusted ]; then
		if has "$ev" '.rule.name == "client.aborted" or .rule.name == "client.rejected" or
				.certsentry.client_outcome == "aborted"'; then
			fail "$name" "a trusted handshake was reported refused: $got"
		elif [ "$v" = 1.3 ] && ! has "$ev" '.certsentry.client_outcome == "accepted"'; then
			fail "$name" "no accepted outcome: $got"
		else
			pass "$name"
		fi
	else
		if has "$ev" '.rule.name == "client.rejected" or .rule.name == "client.aborted"'; then
			pass "$name"
		elif [ "$name" = nss_tls12_untrusted ] && ! has "$ev" '.event.action == "tls-alert"'; then
			# seen: ClientKeyExchange, CCS, Finished, the server's
			# Finished, then one encrypted alert record and FIN:
			# what a close_notify right after a handshake looks like
			skip "$name" "tstclnt (NSS) checks the certificate after the TLS 1.2 handshake and refuses with an encrypted alert, invisible without the session keys"
		else
			fail "$name" "the refusal was not reported: $got"
		fi
	fi
	# JA4 and the hello's facts ride on the events of the handshake.
	if ! has "$ev" '(.event.action == "tls-certificate" or
			.event.action == "tls-certificate-hidden") and
			(.certsentry.client.ja4 // "" | test("^t1[23][di][0-9]{4}")) and
			(.tls.client.ja3 // "" | test("^[0-9a-f]{32}$")) and
			(.certsentry.client.versions // [] | length > 0)'; then
		fail "${name}_ja4" "no JA3/JA4 on the handshake event: $(echo "$ev" | head -c 600)"
	fi
}

test_six_stacks() {
	local stack v trust ok
	ns_new NS outcomes || { fail outcomes "namespace"; return; }
	OUT=$TMP/outcomes.json
	# --no-uprobe: s_server's chains would come by uprobe, on a clock of
	# their own; what the clients do is judged from the wire alone
	start_sentry "$NS" "$OUT" -i lo --no-uprobe --every --ca-file "$PKI/root.pem" || { fail outcomes "certsentry did not start"; return; }
	local pids=()
	for k in 13t 13u 12t 12u; do
		local leaf=leaf chain=$PKI/inter.pem vflag=-tls1_3
		[ "${k:2}" = u ] && { leaf=foreign; chain=; }
		[ "${k:0:2}" = 12 ] && vflag=-tls1_2
		start_server "$NS" "${PORT[$k]}" "$PKI/$leaf.pem" "$PKI/$leaf.key" "$chain" $vflag -www
		pids+=("$SERVER_PID")
	done
	LEAF_SPKI=$(openssl x509 -in "$PKI/leaf.pem" -noout -pubkey | openssl pkey -pubin -outform der |
		openssl dgst -sha256 -binary | base64)
	command -v certutil >/dev/null && setup_nss
	setup_go
	for stack in ${STACKS:-openssl curl gnutls nss chromium go}; do
		ok=$(missing "$stack")
		if [ -n "$ok" ]; then
			skip "$stack" "$ok"
			printf '%s\t-\t-\tSKIPPED: %s\n' "$stack" "$ok" >>"$SEEN"
			continue
		fi
		for v in 1.3 1.2; do
			for trust in trusted untrusted; do
				run_stack "$stack" "$v" "$trust"
			done
		done
	done
	stop_pid "$SENTRY_PID"
	for p in "${pids[@]}"; do stop_pid "$p"; done
	ns_del "$NS"
}

# The rate alert, live: 20 refusals and 5 acceptances by Go clients (the
# encrypted abort shape) raise client.aborting naming the foreign leaf's
# server; then enough acceptances clear it. Defaults scaled down by options.
test_rate_alert() {
	[ -n "${GOCLIENT:-}" ] || { skip rate_alert "${GOWHY:-go client not built}"; return; }
	ns_new NS rate || { fail rate_alert "namespace"; return; }
	OUT=$TMP/rate.json
	start_sentry "$NS" "$OUT" -i lo --no-uprobe --abort-min 10 --abort-share 50 --abort-window 120 ||
		{ fail rate_alert "certsentry did not start"; return; }
	# one server, one SNI: the client decides trust (CA file), so accepts
	# and refusals are of the same (server, SNI)
	start_server "$NS" 4435 "$PKI/foreign.pem" "$PKI/foreign.key" "" -tls1_3
	cp "$PKI/foreign-root.pem" "$TMP/trust-foreign.pem"
	for i in $(seq 1 12); do
		timeout 10 ip netns exec "$NS" "$GOCLIENT" 127.0.0.1:4435 "$PKI/root.pem" 1.3 "$HOST" \
			>/dev/null 2>&1
	done
	for i in $(seq 1 4); do
		timeout 10 ip netns exec "$NS" "$GOCLIENT" 127.0.0.1:4435 "$TMP/trust-foreign.pem" 1.3 \
			"$HOST" >/dev/null 2>&1
	done
	if wait_for 10 grep -q '"tls-client-aborting"' "$OUT"; then
		local a
		a=$(events "$OUT" tls-client-aborting | head -1)
		echo "$a" | one_line '.rule.name == "client.aborting" and .event.severity == 3 and
			.certsentry.outcomes.handshakes >= 10 and
			.certsentry.outcomes.aborted * 2 >= .certsentry.outcomes.handshakes and
			(.certsentry.outcomes.families | length) >= 1 and
			(.certsentry.outcomes.families[0].ja4 | test("^t13"))' >/dev/null &&
			pass rate_alert || fail rate_alert "$a"
	else
		fail rate_alert "no tls-client-aborting: $(tail -c 1500 "$OUT")"
	fi
	# now mostly accepted: the share falls below 50%
	for i in $(seq 1 14); do
		timeout 10 ip netns exec "$NS" "$GOCLIENT" 127.0.0.1:4435 "$TMP/trust-foreign.pem" 1.3 \
			"$HOST" >/dev/null 2>&1
	done
	wait_for 10 grep -q '"tls-client-aborting-cleared"' "$OUT" && pass rate_alert_cleared ||
		fail rate_alert_cleared "no tls-client-aborting-cleared: $(tail -c 1500 "$OUT")"
	# without --every only the aborts have tls-client-outcome lines; the
	# acceptances are counted all the same (they cleared the alert above)
	local quiet ab
	quiet=$(events "$OUT" tls-client-outcome | jq -s 'map(select(.certsentry.client_outcome != "aborted")) | length')
	ab=$(events "$OUT" tls-client-outcome | jq -s 'map(select(.certsentry.client_outcome == "aborted")) | length')
	[ "$quiet" = 0 ] && [ "$ab" -ge 1 ] && pass "quiet_outcomes ($ab aborted lines, no accepted one)" ||
		fail quiet_outcomes "$quiet accepted/unknown and $ab aborted tls-client-outcome lines"
	stop_pid "$SENTRY_PID"; stop_pid "$SERVER_PID"; ns_del "$NS"
}

test_six_stacks
[ -z "${STACKS:-}" ] && test_rate_alert
echo "--- what each stack did (stack, version, trust, events: action/outcome/rule/alert xN) ---"
cat "$SEEN"
summary

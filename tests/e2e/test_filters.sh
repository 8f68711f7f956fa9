#!/usr/bin/env bash
# test_filters.sh - --sni, --port, --host, --alerts-only choose the lines written (captures, then live and through `certsentry tail`); --port also in the kernel; status lines stay.
set -u
. "$(dirname "$0")/lib.sh"

# ---- captures (-r) ----
offline() {

# n ARGS...: the tls-* lines written for the two captures with ARGS.
n() {
	{ "$BIN" -r "$P/google-cert-repeat.pcap" -f json "$@"; "$BIN" -r "$P/tls1.2.pcap" -f json "$@"; } 2>/dev/null |
		jq -r 'select(.event.action | startswith("tls-")) | .event.action' | wc -l
}

# check NAME WANT ARGS...
check() {
	local name=$1 want=$2 got; shift 2
	got=$(n "$@")
	[ "$got" = "$want" ] && pass "$name" || fail "$name" "got $got lines, want $want ($*)"
}

all=$(n)
[ "$all" -ge 3 ] && pass filters_baseline || fail filters_baseline "only $all lines"
check filter_sni 2 --sni 'WWW.google.*'
check filter_sni_none 0 --sni '*.example.test'
check filter_port_none 0 --port 8443
check filter_port "$all" --port 8443 --port 443
check filter_host_v4_cidr 1 --host 68.233.76.0/24
check filter_host_none 0 --host 2001:db8::/32
check filter_alerts_only 1 --alerts-only
# the status lines are not filtered
got=$("$BIN" -r "$P/tls1.2.pcap" -f json --sni nothing 2>/dev/null | jq -r .event.action | grep -c certsentry-read-done)
[ "$got" = 1 ] && pass filter_keeps_status || fail filter_keeps_status "read-done lines: $got"
out=$("$BIN" -r "$P/tls1.2.pcap" --host 10.0.0.0/40 2>&1); rc=$?
[ $rc != 0 ] && [[ "$out" == *"--host: '10.0.0.0/40'"*"prefix"* ]] &&
	pass filter_bad_host || fail filter_bad_host "rc=$rc $out"
# -r selects by --port's kernel rule: the other port's directions are not even tracked
dirs() { "$BIN" -r "$P/tls1.2.pcap" -f json "$@" 2>/dev/null |
	jq -r 'select(.event.action == "certsentry-read-done") | .message' |
	grep -o 'directions=[0-9]*'; }
d_all=$(dirs) d_none=$(dirs --port 8443)
[ "$d_none" = directions=0 ] && [ "$d_all" != directions=0 ] &&
	pass filter_port_not_selected || fail filter_port_not_selected "all: $d_all, --port 8443: $d_none"
}

P=$ROOT/../shared/corpus/zeek-tls/traces
if [ -r "$P/google-cert-repeat.pcap" ]; then offline; else skip filters "corpus not found at $P"; fi

# ---- live, each filter on its own daemon and through `certsentry tail` ----
why=$(live_unavailable)
if [ -n "$why" ]; then
	skip "live filter tests" "$why"
	summary
	exit
fi

PKI=$TMP/pki
"$ROOT/tools/mkpki.sh" "$PKI" || { fail mkpki "could not make the test PKI"; summary; exit 1; }
# pins no certificate has: these two SNIs are alerts
zero=$(printf '0%.0s' $(seq 1 64))
printf 'bad.example.test sha256:%s\nwww.pinned.example.test sha256:%s\n' "$zero" "$zero" \
	>"$TMP/pins.txt"
SOCK=$TMP/events.sock

ns_new ns filters || { fail setup "netns"; summary; exit 1; }
start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" ||
	{ fail setup "s_server on 4433 did not start"; summary; exit 1; }
S1=$SERVER_PID
start_server "$ns" 8443 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" ||
	{ fail setup "s_server on 8443 did not start"; summary; exit 1; }
S2=$SERVER_PID

# daemon NAME ARGS...: one instance on lo with these filters; $TMP/NAME.json.
declare -A DPID
daemon() {
	local name=$1; shift
	start_sentry "$ns" "$TMP/$name.json" -i lo --no-uprobe --every --ca-file "$PKI/root.pem" \
		--pins "$TMP/pins.txt" "$@" || fail "setup_$name" "did not start: $(cat "$TMP/$name.json")"
	DPID[$name]=$SENTRY_PID
}
daemon all --event-socket="$SOCK"
daemon port --port 4433 --metrics 127.0.0.1:9465
daemon sni --sni 'WWW.*'
daemon host --host 127.0.0.2
daemon alerts --alerts-only

# tail NAME ARGS...: `certsentry tail` of the unfiltered one; $TMP/tail_NAME.json.
declare -A TPID
tail_of() {
	local name=$1; shift
	bg "$ns" "$BIN" tail --socket "$SOCK" -f json "$@" >"$TMP/tail_$name.json" 2>"$TMP/tail_$name.err"
	TPID[$name]=$BG_PID
	wait_for 10 grep -q "connected to $SOCK" "$TMP/tail_$name.err" ||
		fail "setup_tail_$name" "$(cat "$TMP/tail_$name.err")"
}
tail_of port --port 4433
tail_of sni --sni 'WWW.*'
tail_of host --host 127.0.0.2
tail_of alerts --alerts-only

kernel() {
	ip netns exec "$ns" curl -s http://127.0.0.1:9465/metrics |
		awk -v m="certsentry_kernel_$1" '$1 == m { print $2 }'
}
# seen FILE: "SNI SERVER:PORT" of each tls-certificate line, sorted.
seen() { events "$1" tls-certificate |
	jq -r '"\(.tls.client.server_name) \(.destination.ip):\(.destination.port)"' | sort | tr '\n' ' '; }
has_sni() { events "$1" tls-certificate | jq -e --arg s "$2" 'select(.tls.client.server_name == $s)' >/dev/null; }

# The other port first: the unfiltered instance reports it; the --port one
# saw its packets and copied nothing.
handshake "$ns" 127.0.0.1:8443 -tls1_2 -servername www.example.test || fail handshake "8443"
if wait_for 10 has_sni "$TMP/all.json" www.example.test; then
	flows=$(kernel flows_started_total) bytes=$(kernel bytes_copied_total)
	payload=$(kernel tcp_payload_packets_total)
	if [ "$flows" = 0 ] && [ "$bytes" = 0 ] && [ "${payload:-0}" -gt 0 ]; then
		pass port_kernel_not_copied
	else
		fail port_kernel_not_copied "flows=$flows bytes=$bytes tcp_payload=$payload"
	fi
else
	fail port_kernel_not_copied "the unfiltered instance saw nothing: $(cat "$TMP/all.json")"
fi
handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername example.test || fail handshake "4433"
handshake "$ns" 127.0.0.2:4433 -tls1_2 -servername www.example.test || fail handshake "127.0.0.2"
handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername bad.example.test || fail handshake "bad"
# The last passes every filter: once a reader has it, it has read all before it.
handshake "$ns" 127.0.0.2:4433 -tls1_2 -servername www.pinned.example.test || fail handshake "last"

H1="www.example.test 127.0.0.1:8443" H2="example.test 127.0.0.1:4433"
H3="www.example.test 127.0.0.2:4433" H4="bad.example.test 127.0.0.1:4433"
H5="www.pinned.example.test 127.0.0.2:4433"
want() { printf '%s\n' "$@" | sort | tr '\n' ' '; }
# check NAME FILE WANT...
check_live() {
	local name=$1 file=$2 got exp; shift 2
	exp=$(want "$@")
	if ! wait_for 10 has_sni "$file" www.pinned.example.test; then
		fail "$name" "the last handshake never came: $(cat "$file")"
		return
	fi
	got=$(seen "$file")
	[ "$got" = "$exp" ] && pass "$name" || fail "$name" "got '$got', want '$exp'"
}
check_live live_unfiltered "$TMP/all.json" "$H1" "$H2" "$H3" "$H4" "$H5"
check_live live_port "$TMP/port.json" "$H2" "$H3" "$H4" "$H5"
check_live live_sni "$TMP/sni.json" "$H1" "$H3" "$H5"
check_live live_host "$TMP/host.json" "$H3" "$H5"
check_live live_alerts_only "$TMP/alerts.json" "$H4" "$H5"
check_live tail_port "$TMP/tail_port.json" "$H2" "$H3" "$H4" "$H5"
check_live tail_sni "$TMP/tail_sni.json" "$H1" "$H3" "$H5"
check_live tail_host "$TMP/tail_host.json" "$H3" "$H5"
check_live tail_alerts_only "$TMP/tail_alerts.json" "$H4" "$H5"
# The --port instance copied the 4433 connections only: both directions of
# each of the four.
flows=$(kernel flows_started_total)
[ "$flows" = 8 ] && pass port_kernel_copied_wanted || fail port_kernel_copied_wanted "flows=$flows"
# status lines still written by the filtered daemons
grep -q '"certsentry-started"' "$TMP/alerts.json" && pass live_keeps_status ||
	fail live_keeps_status "no certsentry-started in the --alerts-only output"

for n in "${!TPID[@]}"; do stop_pid "${TPID[$n]}"; done
for n in "${!DPID[@]}"; do stop_pid "${DPID[$n]}"; done
stop_pid "$S1"
stop_pid "$S2"
ns_del "$ns"
summary

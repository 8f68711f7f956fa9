#!/usr/bin/env bash
# test_filters.sh - --sni, --port, --host, --alerts-only choose the lines written; status lines stay.
set -u
. "$(dirname "$0")/lib.sh"

P=$ROOT/../shared/corpus/zeek-tls/traces
[ -r "$P/google-cert-repeat.pcap" ] || { skip filters "corpus not found at $P"; summary; exit 0; }

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
summary

#!/usr/bin/env bash
# test_live.sh - the real BPF program on a real kernel, real openssl TLS, in namespaces we make.
set -u
. "$(dirname "$0")/lib.sh"

PKI=$TMP/pki
HOST=www.example.test

require_live "every live test"
"$ROOT/tools/mkpki.sh" "$PKI" || { fail "mkpki" "could not make the test PKI"; summary; exit 1; }
LEAF_FP=$(fp "$PKI/leaf.pem")
INTER_FP=$(fp "$PKI/inter.pem")

# check_chain NAME JSONLINE SNI DPORT VERSION LEAF_FP
check_chain() {
	local name=$1 ev=$2 sni=$3 port=$4 ver=$5 leaf=$6 got
	got=$(jq -r '[.tls.server.hash.sha256, .certsentry.chain[0].sha256, .certsentry.chain[1].sha256,
		(.tls.client.server_name // ""), (.destination.port|tostring), .tls.version,
		(.certsentry.chain|length|tostring)] | join(" ")' <<<"$ev")
	local want="$leaf $leaf $INTER_FP $sni $port $ver 2"
	[ "$got" = "$want" ] || { fail "$name" "got '$got' want '$want'"; return 1; }
}

test_ipv4_tls12() {
	local ns out ev
	ns_new ns v4 || { fail ipv4_tls12 "netns"; return; }
	out=$TMP/v4.json
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" || { fail ipv4_tls12 "s_server did not start"; ns_del "$ns"; return; }
	start_sentry "$ns" "$out" -i lo || { fail ipv4_tls12 "certsentry did not start: $(cat "$out")"; ns_del "$ns"; return; }
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "$HOST" || { fail ipv4_tls12 "handshake failed"; }
	wait_for 30 grep -q '"tls-certificate"' "$out"
	ev=$(events "$out" tls-certificate | head -1)
	if [ -z "$ev" ]; then
		fail ipv4_tls12 "no tls-certificate event: $(cat "$out")"
	elif check_chain ipv4_tls12 "$ev" "$HOST" 4433 1.2 "$LEAF_FP"; then
		local more
		more=$(jq -r '[.source.ip, .destination.ip, .network.type, .tls.version_protocol,
			(.tls.cipher // "none"), .observer.ingress.interface.name] | join(" ")' <<<"$ev")
		case "$more" in
		"127.0.0.1 127.0.0.1 ipv4 tls TLS_"*" lo") pass ipv4_tls12 ;;
		*) fail ipv4_tls12 "endpoint/cipher fields: $more" ;;
		esac
	fi
	stop_pid "$SENTRY_PID"
	ns_del "$ns"
}

test_ipv6() {
	local ns out ev
	ns_new ns v6 || { fail ipv6 "netns"; return; }
	out=$TMP/v6.json
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" -6 || { fail ipv6 "s_server"; ns_del "$ns"; return; }
	start_sentry "$ns" "$out" -i lo || { fail ipv6 "certsentry did not start"; ns_del "$ns"; return; }
	handshake "$ns" "[::1]:4433" -tls1_2 -servername "$HOST" || fail ipv6 "handshake failed"
	wait_for 30 grep -q '"tls-certificate"' "$out"
	ev=$(events "$out" tls-certificate | head -1)
	if [ -z "$ev" ]; then
		fail ipv6 "no event: $(cat "$out")"
	elif check_chain ipv6 "$ev" "$HOST" 4433 1.2 "$LEAF_FP"; then
		[ "$(jq -r '.network.type + " " + .destination.ip' <<<"$ev")" = "ipv6 ::1" ] \
			&& pass ipv6 || fail ipv6 "network fields: $ev"
	fi
	stop_pid "$SENTRY_PID"
	ns_del "$ns"
}

test_tls13_hidden() {
	local ns out ev
	ns_new ns v13 || { fail tls13_hidden "netns"; return; }
	out=$TMP/v13.json
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" || { fail tls13_hidden "s_server"; ns_del "$ns"; return; }
	start_sentry "$ns" "$out" -i lo --no-uprobe || { fail tls13_hidden "certsentry did not start"; ns_del "$ns"; return; }
	handshake "$ns" 127.0.0.1:4433 -tls1_3 -servername "$HOST" || fail tls13_hidden "handshake failed"
	wait_for 30 grep -q '"tls-certificate-hidden"' "$out"
	ev=$(events "$out" tls-certificate-hidden | head -1)
	local got
	got=$(jq -r '[.tls.version, .tls.client.server_name, (.destination.port|tostring), (.source.port > 0|tostring), .certsentry.verdict, .event.kind] | join(" ")' <<<"$ev" 2>/dev/null)
	if [ "$got" = "1.3 $HOST 4433 true unverified event" ] && [ "$(count_events "$out" tls-certificate)" = 0 ]; then
		pass tls13_hidden
	else
		fail tls13_hidden "got '$got': $(cat "$out")"
	fi
	stop_pid "$SENTRY_PID"
	ns_del "$ns"
}

# Two namespaces joined by a veth pair; certsentry watches the client's end.
# The server's 20 KB leaf makes a Certificate message over 16 KiB, which the
# sender hands to the veth as GSO super-packets.
test_veth_big_chain() {
	local c s out ev
	ns_new c vc || { fail veth_big_chain "netns"; return; }
	ns_new s vs || { fail veth_big_chain "netns"; ns_del "$c"; return; }
	ip link add csv0 netns "$c" type veth peer name csv1 netns "$s" || { fail veth_big_chain "veth"; ns_del "$c"; ns_del "$s"; return; }
	ip -n "$c" addr add 10.213.0.1/24 dev csv0
	ip -n "$s" addr add 10.213.0.2/24 dev csv1
	ip -n "$c" link set csv0 up
	ip -n "$s" link set csv1 up
	out=$TMP/veth.json
	start_server "$s" 443 "$PKI/big.pem" "$PKI/big.key" "$PKI/inter.pem" || { fail veth_big_chain "s_server"; ns_del "$c"; ns_del "$s"; return; }
	start_sentry "$c" "$out" -i csv0 || { fail veth_big_chain "certsentry did not start: $(cat "$out")"; ns_del "$c"; ns_del "$s"; return; }
	handshake "$c" 10.213.0.2:443 -tls1_2 -servername "$HOST" || fail veth_big_chain "handshake failed: $(tail -3 "$TMP/s_client.out")"
	wait_for 30 grep -q '"tls-certificate"' "$out"
	ev=$(events "$out" tls-certificate | head -1)
	if [ -z "$ev" ]; then
		fail veth_big_chain "no event: $(cat "$out")"
	elif check_chain veth_big_chain "$ev" "$HOST" 443 1.2 "$(fp "$PKI/big.pem")"; then
		local sans
		sans=$(jq -r '.tls.server.x509.alternative_names | length' <<<"$ev")
		[ "$sans" = 701 ] && pass veth_big_chain || fail veth_big_chain "SANs: $sans, want 701"
	fi
	stop_pid "$SENTRY_PID"
	ns_del "$c"
	ns_del "$s"
}

test_fifty_in_a_row() {
	local ns out n i
	ns_new ns fifty || { fail fifty_in_a_row "netns"; return; }
	out=$TMP/fifty.json
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" || { fail fifty_in_a_row "s_server"; ns_del "$ns"; return; }
	start_sentry "$ns" "$out" -i lo || { fail fifty_in_a_row "certsentry did not start"; ns_del "$ns"; return; }
	for i in $(seq 1 50); do
		handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "h$i.$HOST" || { fail fifty_in_a_row "handshake $i failed"; break; }
	done
	wait_for 30 sh -c "[ \$(grep -c '\"tls-certificate\"' '$out') -ge 50 ]"
	n=$(count_events "$out" tls-certificate)
	local snis
	snis=$(events "$out" tls-certificate | jq -r '.tls.client.server_name' | sort -u | wc -l)
	[ "$n" = 50 ] && [ "$snis" = 50 ] && pass fifty_in_a_row || fail fifty_in_a_row "$n events, $snis distinct SNIs, want 50"
	stop_pid "$SENTRY_PID"; stop_pid "$SERVER_PID"
	ns_del "$ns"
}

# tcx links on ifindex 1 (lo) held by process PID, from its fdinfo.
tcx_links() {
	local f n=0
	for f in /proc/"$1"/fdinfo/*; do
		grep -qx 'link_type:.tcx' "$f" 2>/dev/null && grep -qx 'ifindex:.1' "$f" && n=$((n + 1))
	done
	echo "$n"
}

# Our clsact filters on lo in namespace NS, both hooks.
clsact_filters() {
	local ns=$1 d n=0
	for d in ingress egress; do
		n=$((n + $(ip netns exec "$ns" tc filter show dev lo "$d" 2>/dev/null | grep -c 'cs_tc')))
	done
	echo "$n"
}

has_clsact_qdisc() { ip netns exec "$1" tc qdisc show dev lo | grep -q clsact; }

# Attachments of the processes PIDS... in NS: their tcx links (per process:
# other suites may run beside this one) plus every cs_tc clsact filter on lo
# (a namespace of this test has no others). A tcx link dies with its process.
attached() {
	local ns=$1 p n; shift
	n=$(clsact_filters "$ns")
	for p in "$@"; do n=$((n + $(tcx_links "$p"))); done
	echo "$n"
}

# kill -9 leaves no duplicate: a restart ends with exactly one attachment.
test_kill9_restart() {
	local mode ns out n
	for mode in tcx clsact; do
		ns_new ns k9 || { fail "kill9_restart_$mode" "netns"; continue; }
		out=$TMP/k9-$mode.json
		local args=(-i lo)
		[ $mode = clsact ] && args+=(--clsact)
		start_sentry "$ns" "$out" "${args[@]}" || { fail "kill9_restart_$mode" "first start: $(cat "$out")"; ns_del "$ns"; continue; }
		kill -9 "$SENTRY_PID"; stop_pid "$SENTRY_PID"
		: > "$out"
		start_sentry "$ns" "$out" "${args[@]}" || { fail "kill9_restart_$mode" "restart: $(cat "$out")"; ns_del "$ns"; continue; }
		n=$(attached "$ns" "$SENTRY_PID")
		# Still working after the restart?
		start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem"
		handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "$HOST"
		wait_for 30 grep -q '"tls-certificate"' "$out"
		stop_pid "$SENTRY_PID"
		local left
		left=$(attached "$ns")
		if [ "$n" = 1 ] && [ "$left" = 0 ] && [ "$(count_events "$out" tls-certificate)" = 1 ]; then
			pass "kill9_restart_$mode"
		else
			fail "kill9_restart_$mode" "attached after restart: $n (want 1), after stop: $left (want 0), events: $(count_events "$out" tls-certificate)"
		fi
		stop_pid "$SERVER_PID"
		ns_del "$ns"
	done
}

# ---- instances side by side ----

# start_mode NS OUT MODE: certsentry -i lo, --clsact if MODE is clsact.
start_mode() {
	local ns=$1 out=$2 mode=$3 args=(-i lo)
	[ "$mode" = clsact ] && args+=(--clsact)
	start_sentry "$ns" "$out" "${args[@]}" 2>>"$out.err"
}

certs() { count_events "$1" tls-certificate; }

# Instance A then B (modes MA, MB) on lo: both see a handshake; A stops, B
# sees the next one; after B stops nothing of ours is left, the clsact
# qdisc either.
side_by_side() {
	local ma=$1 mb=$2 name="side_by_side_$1_$2" ns a b pa pb n1 n2 left
	ns_new ns inst || { fail "$name" "netns"; return; }
	a=$TMP/$name-a.json b=$TMP/$name-b.json
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" ||
		{ fail "$name" "s_server"; ns_del "$ns"; return; }
	start_mode "$ns" "$a" "$ma" || { fail "$name" "A did not start: $(cat "$a" "$a.err")"; ns_del "$ns"; return; }
	pa=$SENTRY_PID
	start_mode "$ns" "$b" "$mb" || { fail "$name" "B did not start: $(cat "$b" "$b.err")"; ns_del "$ns"; return; }
	pb=$SENTRY_PID
	n1=$(attached "$ns" "$pa" "$pb")
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "$HOST" || fail "$name" "handshake 1 failed"
	wait_for 30 sh -c "grep -q '\"tls-certificate\"' '$a' && grep -q '\"tls-certificate\"' '$b'"
	stop_pid "$pa"
	n2=$(attached "$ns" "$pb")
	# Another name: the same chain for the same name is reported once.
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "two.$HOST" || fail "$name" "handshake 2 failed"
	wait_for 30 sh -c "[ \$(grep -c '\"tls-certificate\"' '$b') -ge 2 ]"
	stop_pid "$pb"
	left=$(clsact_filters "$ns")
	if [ "$n1" != 2 ] || [ "$n2" != 1 ] || [ "$left" != 0 ]; then
		fail "$name" "attachments with both: $n1 (want 2), after A stopped: $n2 (want 1), after both: $left (want 0)"
	elif [ "$(certs "$a")" != 1 ] || [ "$(certs "$b")" != 2 ]; then
		fail "$name" "A saw $(certs "$a") handshakes (want 1), B $(certs "$b") (want 2)"
	elif has_clsact_qdisc "$ns"; then
		fail "$name" "the clsact qdisc certsentry made outlived both: $(ip netns exec "$ns" tc qdisc show dev lo)"
	elif grep -q 'stale' "$a.err" "$b.err"; then
		fail "$name" "a live instance's filter was taken for stale: $(cat "$a.err" "$b.err")"
	else
		pass "$name"
	fi
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

# clsact A and B; A is killed with -9 (its filter stays); C starts beside B:
# it removes A's filter and only A's; B and C both see the next handshake;
# when they stop nothing is left, the qdisc A made either.
kill9_beside_live() {
	local name=kill9_beside_live_clsact ns a b c pb pc n_dead n_after left
	ns_new ns k9 || { fail "$name" "netns"; return; }
	a=$TMP/$name-a.json b=$TMP/$name-b.json c=$TMP/$name-c.json
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" ||
		{ fail "$name" "s_server"; ns_del "$ns"; return; }
	start_mode "$ns" "$a" clsact || { fail "$name" "A did not start"; ns_del "$ns"; return; }
	kill -9 "$SENTRY_PID"
	stop_pid "$SENTRY_PID"
	start_mode "$ns" "$b" clsact || { fail "$name" "B did not start"; ns_del "$ns"; return; }
	pb=$SENTRY_PID
	# B swept the dead A's filter; A again beside B, killed again.
	start_mode "$ns" "$a.2" clsact || { fail "$name" "A did not restart"; ns_del "$ns"; return; }
	kill -9 "$SENTRY_PID"
	stop_pid "$SENTRY_PID"
	n_dead=$(clsact_filters "$ns")
	start_mode "$ns" "$c" clsact || { fail "$name" "C did not start: $(cat "$c.err")"; ns_del "$ns"; return; }
	pc=$SENTRY_PID
	n_after=$(clsact_filters "$ns")
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "$HOST" || fail "$name" "handshake failed"
	wait_for 30 sh -c "grep -q '\"tls-certificate\"' '$b' && grep -q '\"tls-certificate\"' '$c'"
	stop_pid "$pb"
	stop_pid "$pc"
	left=$(clsact_filters "$ns")
	if [ "$n_dead" != 2 ] || [ "$n_after" != 2 ] || [ "$left" != 0 ]; then
		fail "$name" "filters of live B and dead A: $n_dead (want 2), of B and C: $n_after (want 2), left: $left (want 0)"
	elif [ "$(grep -c 'removed a stale filter' "$b.err")" != 1 ] ||
	     [ "$(grep -c 'removed a stale filter' "$c.err")" != 1 ]; then
		fail "$name" "B and C should each have removed one dead filter: $(cat "$b.err" "$c.err")"
	elif [ "$(certs "$b")" != 1 ] || [ "$(certs "$c")" != 1 ]; then
		fail "$name" "B saw $(certs "$b"), C $(certs "$c") (want 1 each)"
	elif has_clsact_qdisc "$ns"; then
		fail "$name" "the clsact qdisc outlived every instance"
	else
		pass "$name"
	fi
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

# Slots are per network namespace: A in X is killed with -9; O in Y starts
# (host-wide slots gave it A's slot, and A's dead filter then outlived C's
# sweep); C in X removes A's filter, and nothing is left in X after C.
kill9_other_netns() {
	local name=kill9_other_netns_clsact x y a o c po n_after left
	ns_new x k9x || { fail "$name" "netns"; return; }
	ns_new y k9y || { fail "$name" "netns"; ns_del "$x"; return; }
	a=$TMP/$name-a.json o=$TMP/$name-o.json c=$TMP/$name-c.json
	start_mode "$x" "$a" clsact || { fail "$name" "A did not start"; ns_del "$x"; ns_del "$y"; return; }
	kill -9 "$SENTRY_PID"
	stop_pid "$SENTRY_PID"
	start_mode "$y" "$o" clsact || { fail "$name" "O did not start"; ns_del "$x"; ns_del "$y"; return; }
	po=$SENTRY_PID
	start_mode "$x" "$c" clsact || { fail "$name" "C did not start: $(cat "$c.err")"; stop_pid "$po"; ns_del "$x"; ns_del "$y"; return; }
	n_after=$(clsact_filters "$x")
	stop_pid "$SENTRY_PID"
	stop_pid "$po"
	left=$(clsact_filters "$x")
	if [ "$n_after" != 1 ] || [ "$left" != 0 ]; then
		fail "$name" "filters in X with C running: $n_after (want 1: A's swept), after C: $left (want 0)"
	elif [ "$(grep -c 'removed a stale filter' "$c.err")" != 1 ]; then
		fail "$name" "C should have removed A's dead filter: $(cat "$c.err")"
	else
		pass "$name"
	fi
	ns_del "$x"
	ns_del "$y"
}

# A clsact qdisc that was there before certsentry stays after it.
foreign_qdisc_kept() {
	local name=foreign_qdisc_kept ns out n
	ns_new ns fq || { fail "$name" "netns"; return; }
	out=$TMP/$name.json
	ip netns exec "$ns" tc qdisc add dev lo clsact
	start_mode "$ns" "$out" clsact || { fail "$name" "did not start: $(cat "$out.err")"; ns_del "$ns"; return; }
	n=$(clsact_filters "$ns")
	stop_pid "$SENTRY_PID"
	if [ "$n" = 1 ] && [ "$(clsact_filters "$ns")" = 0 ] && has_clsact_qdisc "$ns"; then
		pass "$name"
	else
		fail "$name" "filters while running: $n (want 1), qdisc: $(ip netns exec "$ns" tc qdisc show dev lo)"
	fi
	ns_del "$ns"
}

# Prometheus metrics, scraped from inside the namespace.
test_metrics() {
	local ns out body lint
	ns_new ns metrics || { fail metrics "netns"; return; }
	out=$TMP/metrics.json
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem"
	start_sentry "$ns" "$out" -i lo --ca-file "$PKI/root.pem" --metrics 127.0.0.1:9465 || { fail metrics "start: $(cat "$out")"; ns_del "$ns"; return; }
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "$HOST"
	wait_for 30 grep -q '"tls-certificate"' "$out"
	body=$(ip netns exec "$ns" timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9465;
		printf "GET /metrics HTTP/1.0\r\n\r\n" >&3; cat <&3')
	if grep -q '^HTTP/1.[01] 200' <<<"$body" &&
	   grep -q '^certsentry_handshakes_total{verdict="ok"} 1' <<<"$body" &&
	   grep -q '^certsentry_kernel_ringbuf_drops_total 0' <<<"$body" &&
	   grep -q '^certsentry_report_latency_seconds_count 1' <<<"$body" &&
	   [ "$(grep '^certsentry_kernel_packets_total' <<<"$body" | cut -d' ' -f2)" -gt 0 ]; then
		pass metrics
	else
		fail metrics "$(head -c 1500 <<<"$body")"
	fi
	# the exposition as Prometheus parses it (promtool: Debian package prometheus)
	if command -v promtool >/dev/null; then
		lint=$(tr -d '\r' <<<"$body" | sed '1,/^$/d' | promtool check metrics 2>&1) \
			&& pass metrics_promtool || fail metrics_promtool "$lint"
	else
		skip metrics_promtool "promtool is not installed (Debian package prometheus)"
	fi
	stop_pid "$SENTRY_PID"
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

test_errors() {
	local msg
	msg=$("$BIN" -i cs-no-such-if0 2>&1 >/dev/null); [ $? -ne 0 ] && grep -q 'cs-no-such-if0' <<<"$msg" \
		&& pass error_unknown_interface || fail error_unknown_interface "'$msg'"
	if command -v setpriv >/dev/null; then
		msg=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$BIN" -i lo 2>&1 >/dev/null)
		[ $? -ne 0 ] && grep -qi 'root\|capabilit\|permission' <<<"$msg" \
			&& pass error_not_root || fail error_not_root "'$msg'"
	else
		skip error_not_root "setpriv missing"
	fi
	msg=$("$BIN" --max-bytes 12x 2>&1 >/dev/null); [ $? -ne 0 ] && grep -q 'max-bytes' <<<"$msg" \
		&& pass error_bad_option || fail error_bad_option "'$msg'"
	msg=$("$BIN" --ring-size 5000 2>&1 >/dev/null); [ $? -ne 0 ] && grep -q 'ring-size' <<<"$msg" \
		&& pass error_bad_ring_size || fail error_bad_ring_size "'$msg'"
}

test_ipv4_tls12
test_ipv6
test_tls13_hidden
test_veth_big_chain
test_fifty_in_a_row
test_kill9_restart
side_by_side tcx tcx
side_by_side clsact clsact
side_by_side tcx clsact
side_by_side clsact tcx
kill9_beside_live
kill9_other_netns
foreign_qdisc_kept
test_metrics
test_errors

leftover=$(ip netns list | grep -c -- "-$$" || true)
[ "$leftover" = 0 ] && pass no_namespaces_left || fail no_namespaces_left "$(ip netns list)"
summary

#!/usr/bin/env bash
# test_captures.sh - captures the tests make themselves: tiny MSS, reordered, duplicated and overlapping
# segments, IPv6, VLAN/QinQ, 20 interleaved connections; replayed offline and live (lo, TUN).
#
# How this shows that live and offline give the same events for the same
# packets (the userspace side applies the kernel's selection, user/select.h):
#
#  - live_equals_offline_lo: certsentry -i lo (the BPF program) runs in a
#    namespace WHILE tcpdump records the same lo traffic there (each lo packet
#    passes the capture tap and the ingress hook once). The recording is then
#    replayed with certsentry -r. The two event lists, normalised to what a
#    packet determines (action, client ip:port, server ip:port, SNI, TLS
#    version, the chain's SHA-256s; not timestamps or interface), must be the
#    same multiset.
#  - live_tun_equals_offline: a reordered + duplicated version of that
#    recording (tools/pcapmangle), as raw IP, is written packet by packet into
#    a TUN device (tools/tunreplay) with certsentry attached to it: the kernel
#    sees exactly the packets of the file, on tun ingress (the L3 program).
#    Its events must equal those of certsentry -r on the same file, and those
#    of the unmangled recording: reassembly of reordered and duplicated
#    segments works the same live and offline. The same with 7-byte
#    segments, overlaps and sequence numbers wrapping 2^32; and with 2% of
#    the segments lost, where some chains cannot be completed: live and
#    offline must still agree on which ones are reported.
#
# The recording: lo MTU 1280 (IPv6 needs that much), TSO/GSO/GRO off and
# advmss 300 on the 127.0.0.1 and ::1 routes, so the 20 KB certificate of
# tools/mkpki.sh (big.pem, 701 SANs) crosses lo in ~75 TCP segments; IPv4 TLS
# 1.2 with SNI, IPv6 TLS 1.2, TLS 1.3, and 20 parallel connections to 4
# servers. Offline variants made from it with pcapmangle (reorder, duplicate,
# overlap, re-split to 7-byte segments, sequence numbers wrapping 2^32 inside
# the Certificate, VLAN, QinQ, raw IP) and gzip/stdin must each give the same
# normalised events as the recording; each variant is first checked to be what
# it says (pcapmangle --tls-stats counts reordered/duplicate/overlapping
# segments; tcpdump sees the tags). A negative control (5% of the segments
# dropped) must lose chains, so the comparisons are not vacuous.
#
# CS_KEEP_CAPTURES=DIR keeps the captures and event files.
set -u
. "$(dirname "$0")/lib.sh"

MANGLE=$ROOT/build/tools/pcapmangle
TUNREPLAY=$ROOT/build/tools/tunreplay
PKI=$TMP/pki
HOST=www.example.test
T0=$SECONDS

why=$(live_unavailable)
for t in tcpdump ethtool jq openssl gzip; do
	[ -z "$why" ] && ! command -v $t >/dev/null && why="$t not installed"
done
for b in "$MANGLE" "$TUNREPLAY"; do
	[ -z "$why" ] && [ ! -x "$b" ] && why="$b not built (make all)"
done
if [ -n "$why" ]; then
	skip "capture tests" "$why"
	echo "SKIPPED: every capture test (recording, offline variants, live lo/TUN): $why"
	summary
	exit 0
fi
"$ROOT/tools/mkpki.sh" "$PKI" || { fail mkpki "could not make the test PKI"; summary; exit 1; }
BIG_FP=$(fp "$PKI/big.pem")
INTER_FP=$(fp "$PKI/inter.pem")

# stop PID...: end processes this script started, wait for them, and take
# them off the cleanup list (a reaped PID may be reused by someone else).
stop() {
	local p
	for p in "$@"; do kill -CONT "$p" 2>/dev/null; stop_pid "$p"; done
	forget "$@"
}
forget() {
	local p keep=() q
	for q in "${PIDS[@]}"; do
		for p in "$@"; do [ "$q" = "$p" ] && continue 2; done
		keep+=("$q")
	done
	PIDS=("${keep[@]}")
}

# norm FILE: the tls-certificate(-hidden) events of a run, one line each,
# reduced to what the packets determine; sorted, so equal runs compare equal.
norm() {
	jq -r 'select(.event.action == "tls-certificate" or .event.action == "tls-certificate-hidden")
		| [.event.action, .source.ip, (.source.port|tostring), .destination.ip,
		   (.destination.port|tostring), (.tls.client.server_name // "-"),
		   (.tls.version // "-"), ([.certsentry.chain[]?.sha256] | join(","))]
		| join(" ")' "$1" 2>/dev/null | sort
}

# same NAME EXPECTED_NORM_FILE GOT_JSON: pass if the normalised events match.
same() {
	local name=$1 want=$2 got=$3 d
	norm "$got" > "$got.norm"
	if [ ! -s "$got.norm" ]; then
		fail "$name" "no events at all: $(grep -v '"tls-certificate' "$got" | tail -2)"
	elif d=$(diff "$want" "$got.norm"); then
		pass "$name"
	else
		fail "$name" "events differ from the plain capture's ($(wc -l < "$want") vs $(wc -l < "$got.norm") events): $(head -c 1500 <<<"$d" | tr '\n' '|')"
	fi
}

# offline NAME PCAP [INPUT-REDIRECT-FILE]: certsentry -r; the JSON in $TMP/NAME.json
offline() {
	local name=$1 pcap=$2 out=$TMP/$1.json rc
	if [ "$pcap" = - ]; then
		timeout 60 "$BIN" --every -r - -o "$out" < "$3" 2>"$out.err"; rc=$?
	else
		timeout 60 "$BIN" --every -r "$pcap" -o "$out" 2>"$out.err"; rc=$?
	fi
	[ $rc -eq 0 ] || { echo "certsentry -r $pcap: exit $rc: $(head -3 "$out.err")" >&2; return 1; }
}

# ------------------------------------------------------------- the recording

CAP=$TMP/plain.pcap
LIVE=$TMP/live-lo.json
N_PAR=20
WANT_CERT=$((2 + N_PAR))		# v4, v6, 20 parallel; TLS 1.3 is hidden

record() {
	local ns td i pids=() port
	ns_new ns cap || { fail recording "netns"; return 1; }
	ip -n "$ns" link set lo mtu 1280
	ip netns exec "$ns" ethtool -K lo tso off gso off gro off >/dev/null 2>&1 \
		|| { fail recording "ethtool -K lo tso off gso off gro off failed"; return 1; }
	# A small MSS for both families: advmss on the local routes (lo's MTU
	# cannot go below 1280 without IPv6 leaving lo).
	ip -n "$ns" route change local 127.0.0.1 dev lo table local proto kernel scope host \
		src 127.0.0.1 advmss 300 || { fail recording "advmss on 127.0.0.1"; return 1; }
	ip -n "$ns" -6 route del local ::1 dev lo table local 2>/dev/null
	ip -n "$ns" -6 route add local ::1 dev lo table local proto kernel metric 0 advmss 300 \
		|| { fail recording "advmss on ::1"; return 1; }

	bg "$ns" tcpdump -i lo -w "$CAP" -s 0 -B 65536 --immediate-mode -U 2>"$TMP/tcpdump.err"
	td=$BG_PID
	wait_for 10 grep -q 'listening on' "$TMP/tcpdump.err" || { fail recording "tcpdump: $(cat "$TMP/tcpdump.err")"; return 1; }
	start_sentry "$ns" "$LIVE" -i lo --every --no-uprobe || { fail recording "certsentry -i lo did not start: $(cat "$LIVE")"; return 1; }

	local par=() servers=()
	start_server "$ns" 4433 "$PKI/big.pem" "$PKI/big.key" "$PKI/inter.pem" || { fail recording "s_server v4"; return 1; }
	servers+=("$SERVER_PID")
	start_server "$ns" 4434 "$PKI/big.pem" "$PKI/big.key" "$PKI/inter.pem" -6 || { fail recording "s_server v6"; return 1; }
	servers+=("$SERVER_PID")
	for port in 4440 4441 4442 4443; do
		start_server "$ns" $port "$PKI/big.pem" "$PKI/big.key" "$PKI/inter.pem" || { fail recording "s_server $port"; return 1; }
		par+=("$SERVER_PID")
	done
	servers+=("${par[@]}")

	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "$HOST" || { fail recording "IPv4 TLS 1.2 handshake: $(tail -2 "$TMP/s_client.out")"; return 1; }
	handshake "$ns" "[::1]:4434" -tls1_2 -servername "v6.$HOST" || { fail recording "IPv6 handshake: $(tail -2 "$TMP/s_client.out")"; return 1; }
	handshake "$ns" 127.0.0.1:4433 -tls1_3 -servername "tls13.$HOST" || { fail recording "TLS 1.3 handshake: $(tail -2 "$TMP/s_client.out")"; return 1; }
	# 20 at once, 5 per server. The servers are stopped while the clients
	# connect and send their ClientHellos (the kernel completes the TCP
	# handshakes), then continued: all 20 connections are in progress at
	# once and the 4 servers' flights interleave on lo.
	kill -STOP "${par[@]}"
	for i in $(seq 1 $N_PAR); do
		echo Q | timeout 20 ip netns exec "$ns" openssl s_client -connect 127.0.0.1:$((4440 + i % 4)) \
			-tls1_2 -servername "p$i.$HOST" >"$TMP/par$i.out" 2>&1 &
		pids+=($!)
	done
	wait_for 10 sh -c "[ \$(ip netns exec '$ns' ss -tnH state established '( dport = :4440 or dport = :4441 or dport = :4442 or dport = :4443 )' | wc -l) -ge $N_PAR ]" \
		|| echo "recording: not all $N_PAR clients connected before the servers went on" >&2
	# and every ClientHello is in: data waits on each stopped server's connection
	wait_for 10 sh -c "[ \$(ip netns exec '$ns' ss -tnH state established '( sport = :4440 or sport = :4441 or sport = :4442 or sport = :4443 )' | awk '\$1 > 0' | wc -l) -ge $N_PAR ]" \
		|| echo "recording: not all $N_PAR ClientHellos arrived before the servers went on" >&2
	kill -CONT "${par[@]}"
	local bad=0
	for i in "${!pids[@]}"; do wait "${pids[$i]}" || bad=$((bad + 1)); done
	[ $bad -eq 0 ] || { fail recording "$bad of $N_PAR parallel handshakes failed: $(tail -2 "$TMP/par1.out")"; return 1; }

	wait_for 30 sh -c "[ \$(grep -c '\"tls-certificate' '$LIVE') -ge $((WANT_CERT + 1)) ]"
	# every connection whole in the capture: both FINs of each written
	wait_for 30 sh -c "[ \$(tcpdump -nn -r '$CAP' '(tcp[tcpflags] & tcp-fin != 0) or (ip6 and ip6[53] & 1 != 0)' 2>/dev/null | wc -l) -ge $((2 * (3 + N_PAR))) ]" \
		|| echo "recording: not every connection's FINs are in the capture" >&2
	stop "$SENTRY_PID" "${servers[@]}"
	kill -INT "$td"; wait "$td" 2>/dev/null
	forget "$td"
	local dropped
	dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$TMP/tcpdump.err")
	[ "${dropped:-x}" = 0 ] || { fail recording "tcpdump dropped packets: $(tr '\n' ' ' < "$TMP/tcpdump.err")"; return 1; }
	ns_del "$ns"
	pass "recording ($(grep 'packets captured' "$TMP/tcpdump.err"))"
}

if ! record; then
	echo "SKIPPED: the rest: no recording" >&2
	skip "capture tests after the recording" "no recording"
	summary
	exit 1
fi

# ------------------------------------------------------------- the plain capture, offline

# tiny_mss: every server's Certificate message (TLS 1.2) spans >= 40 segments.
stats=$("$MANGLE" --tls-stats "$CAP")
min_segs=$(awk '/certificate_bytes=[1-9]/ { sub("certificate_segments=", "", $6); print $6 }' <<<"$stats" | sort -n | head -1)
n_dirs=$(grep -c 'certificate_bytes=[1-9]' <<<"$stats")
if [ "$n_dirs" = "$WANT_CERT" ] && [ "${min_segs:-0}" -ge 40 ]; then
	pass "tiny_mss: $n_dirs Certificate messages, each in >= $min_segs TCP segments"
else
	fail tiny_mss "want $WANT_CERT Certificates in >= 40 segments each; got $n_dirs, fewest segments ${min_segs:-none}: $(head -4 <<<"$stats" | tr '\n' '|')"
fi

# interleaved: (nearly) all 20 parallel connections are in progress at once
# (client direction spans: ClientHello .. last client payload), and the
# server flights of different servers overlap in the file.
# overlap REGEX: most spans (packets=A-B) of matching --tls-stats lines open at once.
overlap() {
	awk -v re="$1" '$0 ~ re { split($NF, r, "[=-]"); print r[2], 1; print r[3] + 0.5, -1 }' <<<"$stats" |
		sort -n | awk '{ c += $2; if (c > m) m = c } END { print m + 0 }'
}
conns=$(overlap ' > 127[.]0[.]0[.]1:444[0-3] ')
flights=$(overlap '^127[.]0[.]0[.]1:444[0-3] > .*certificate_bytes=[1-9]')
if [ "$conns" -ge 15 ] && [ "$flights" -ge 2 ]; then
	pass "interleaved: up to $conns of the $N_PAR parallel connections in progress at once, up to $flights server flights"
else
	fail interleaved "at most $conns connections (want >= 15) and $flights server flights (want >= 2) overlap in the capture"
fi

PLAIN_NORM=$TMP/plain.norm
if offline plain "$CAP"; then
	norm "$TMP/plain.json" > "$PLAIN_NORM"
	n_cert=$(grep -c '^tls-certificate ' "$PLAIN_NORM")
	n_good=$(grep -c "^tls-certificate .* 1.2 $BIG_FP,$INTER_FP\$" "$PLAIN_NORM")
	snis=$(awk '$1 == "tls-certificate" { print $6 }' "$PLAIN_NORM" | sort -u | wc -l)
	v6=$(grep -c "^tls-certificate ::1 [0-9]* ::1 4434 v6.$HOST 1.2 $BIG_FP,$INTER_FP\$" "$PLAIN_NORM")
	hidden=$(grep -c "^tls-certificate-hidden 127.0.0.1 [0-9]* 127.0.0.1 4433 tls13.$HOST 1.3 \$" "$PLAIN_NORM")
	if [ "$n_cert" = "$WANT_CERT" ] && [ "$n_good" = "$WANT_CERT" ] && [ "$snis" = "$WANT_CERT" ] &&
	   [ "$v6" = 1 ] && [ "$hidden" = 1 ] && [ "$(wc -l < "$PLAIN_NORM")" = $((WANT_CERT + 1)) ]; then
		pass "offline_plain: $n_cert chains (leaf $BIG_FP + intermediate, $snis SNIs, IPv6 among them) and 1 TLS 1.3 hidden"
	else
		fail offline_plain "want $WANT_CERT tls-certificate events with leaf $BIG_FP (distinct SNIs, one IPv6) + 1 hidden TLS 1.3; got $n_cert (right chain: $n_good, SNIs $snis, IPv6 $v6, hidden $hidden): $(head -c 1200 "$PLAIN_NORM" | tr '\n' '|')"
	fi
else
	fail offline_plain "$(cat "$TMP/plain.json.err")"
	: > "$PLAIN_NORM"
fi

# The "say in a test how you show that" test: see the top of this file.
same live_equals_offline_lo "$PLAIN_NORM" "$LIVE"

# ------------------------------------------------------------- offline variants

# mangled_as_asked NAME FILE EXPECT: the file really is what the variant says.
# EXPECT words: reordered, duplicate, overlapping (counted by pcapmangle
# --tls-stats, > 0 each), split (>= 10x the payload packets), vlan, qinq, raw,
# wrap (--wrap-at 3000).
mangled_as_asked() {
	local name=$1 f=$2 w sum n v
	sum=$("$MANGLE" --tls-stats "$f" | tail -1)
	case "$sum" in *" missing_bytes=0") ;; *) echo "holes in the mangled file: $sum"; return 1 ;; esac
	for w in $3; do
		case $w in
		reordered|duplicate|overlapping)
			n=$(sed -n "s/.* $w=\([0-9]*\).*/\1/p" <<<"$sum")
			[ "${n:-0}" -gt 0 ] || { echo "no $w segments: $sum"; return 1; } ;;
		split)
			n=$(sed -n 's/.* tcp_payload=\([0-9]*\).*/\1/p' <<<"$sum")
			[ "${n:-0}" -ge $((10 * PLAIN_PAYLOAD)) ] || { echo "not re-split: $sum"; return 1; } ;;
		vlan|qinq)
			v='ethertype 802.1Q \(0x8100\), length [0-9]+: vlan 100, p 0, ethertype IPv'
			[ $w = qinq ] && v='ethertype 802.1Q-QinQ \(0x88a8\), length [0-9]+: vlan 200, p 0, ethertype 802.1Q \(0x8100\), vlan 100, p 0, ethertype IPv'
			n=$(tcpdump -r "$f" -nn -e 2>/dev/null | grep -cE "$v")
			[ "$n" = "$PLAIN_PACKETS" ] || { echo "$n of $PLAIN_PACKETS frames tagged '$v'"; return 1; } ;;
		raw)
			tcpdump -r "$f" -c 1 2>&1 | grep -q 'link-type RAW' || { echo "not LINKTYPE_RAW"; return 1; } ;;
		wrap)	# the first SYN's seq is 2^32 - 3000: byte 3000 of each direction has seq 0
			tcpdump -S -nn -r "$f" -c 1 2>/dev/null | grep -q "seq $((4294967296 - 3000))," \
				|| { echo "sequence numbers not shifted: $(tcpdump -S -nn -r "$f" -c 1 2>/dev/null)"; return 1; } ;;
		esac
	done
}

plain_sum=$("$MANGLE" --tls-stats "$CAP" | tail -1)
PLAIN_PACKETS=$(sed -n 's/.* packets=\([0-9]*\).*/\1/p' <<<"$plain_sum")
PLAIN_PAYLOAD=$(sed -n 's/.* tcp_payload=\([0-9]*\).*/\1/p' <<<"$plain_sum")

variant() {	# NAME "EXPECT..." PCAPMANGLE-ARGS...
	local name=$1 expect=$2; shift 2
	local f=$TMP/$name.pcap why
	"$MANGLE" "$@" "$CAP" "$f" 2>"$TMP/$name.err" || { fail "offline_$name" "pcapmangle $*: $(cat "$TMP/$name.err")"; return; }
	why=$(mangled_as_asked "$name" "$f" "$expect") || { fail "offline_$name" "pcapmangle $*: $why"; return; }
	offline "$name" "$f" 2>"$TMP/$name.err" || { fail "offline_$name" "$(cat "$TMP/$name.err")"; return; }
	same "offline_$name ($*; $(sed 's/^summary: //; s/ unplaced=0 missing_bytes=0//' <<<"$("$MANGLE" --tls-stats "$f" | tail -1)"))" "$PLAIN_NORM" "$TMP/$name.json"
}

variant reorder "reordered" --reorder 1
variant reorder_wide "reordered" --reorder 2 --window 64
variant duplicate "duplicate" --duplicate 30 --seed 3
variant overlap "overlapping" --overlap --seed 4
variant reorder_dup_overlap "reordered duplicate overlapping" --reorder 5 --duplicate 20 --overlap --window 16
variant vlan "vlan" --vlan 100
variant qinq "qinq" --vlan 100 --qinq 200
variant split7 "split" --split 7
variant split7_reorder "split reordered" --split 7 --reorder 6 --window 32
variant raw "raw" --to-raw
variant raw_mangled "raw reordered duplicate" --reorder 8 --duplicate 25 --to-raw
variant seq_wrap "wrap reordered duplicate" --wrap-at 3000 --reorder 13 --duplicate 10

# Negative control: the comparison is not vacuous. Losing 5% of the segments
# leaves holes no reassembly can fill: chains must go missing (and nothing
# may crash).
"$MANGLE" --drop 5 --seed 9 "$CAP" "$TMP/drop.pcap" 2>/dev/null
if offline drop "$TMP/drop.pcap" 2>"$TMP/drop.err"; then
	n=$(norm "$TMP/drop.json" | grep -c '^tls-certificate ')
	[ "$n" -lt "$WANT_CERT" ] && pass "negative_control: 5% of segments dropped: $n of $WANT_CERT chains reported" \
		|| fail negative_control "with 5% of the segments dropped, still $n chains: the comparisons prove nothing"
else
	fail negative_control "$(cat "$TMP/drop.err")"
fi

gzip -c "$CAP" > "$TMP/plain.pcap.gz"
offline gz "$TMP/plain.pcap.gz" 2>"$TMP/gz.err" && same "offline_gzip" "$PLAIN_NORM" "$TMP/gz.json" \
	|| fail offline_gzip "$(cat "$TMP/gz.err")"
offline stdin - "$CAP" 2>"$TMP/stdin.err" && same "offline_stdin (-r -)" "$PLAIN_NORM" "$TMP/stdin.json" \
	|| fail offline_stdin "$(cat "$TMP/stdin.err")"
offline stdin_gz - "$TMP/plain.pcap.gz" 2>"$TMP/stdin_gz.err" && same "offline_stdin_gzip (-r - < .gz)" "$PLAIN_NORM" "$TMP/stdin_gz.json" \
	|| fail offline_stdin_gzip "$(cat "$TMP/stdin_gz.err")"

# ------------------------------------------------------------- live through a TUN device

# tun_live NAME plain|lossy PCAPMANGLE-ARGS...: the mangled capture as raw IP,
# written into a tun device certsentry watches; live events vs -r of the same
# file. plain: those must also be the plain capture's events; lossy: the file
# loses segments on purpose, so fewer chains, but still the same live and
# offline (the kernel and user/select.c give up on the same directions).
tun_live() {
	local name=$1 mode=$2; shift 2
	local ns raw=$TMP/$name.pcap out=$TMP/$name-live.json n_off
	"$MANGLE" "$@" --to-raw "$CAP" "$raw" 2>"$TMP/$name.err" || { fail "$name" "pcapmangle: $(cat "$TMP/$name.err")"; return; }
	offline "$name-offline" "$raw" 2>"$TMP/$name.err" || { fail "$name" "offline: $(cat "$TMP/$name.err")"; return; }
	norm "$TMP/$name-offline.json" > "$TMP/$name-offline.norm"
	n_off=$(wc -l < "$TMP/$name-offline.norm")
	if [ "$mode" = plain ] && ! diff -q "$PLAIN_NORM" "$TMP/$name-offline.norm" >/dev/null; then
		fail "$name" "offline events of the mangled file already differ from the plain capture's"
		return
	fi
	if [ "$mode" = lossy ] && { [ "$n_off" -ge "$(wc -l < "$PLAIN_NORM")" ] || [ "$n_off" = 0 ]; }; then
		fail "$name" "want some but not all chains from the lossy file offline, got $n_off"
		return
	fi
	ns_new ns tun || { fail "$name" "netns"; return; }
	# Nothing routes anywhere: the namespace has lo and this tun only; the
	# packets' 127.0.0.1 / ::1 addresses arriving on a tun are martians that
	# the stack drops after tc ingress has seen them.
	ip -n "$ns" tuntap add dev cstun0 mode tun || { fail "$name" "ip tuntap add"; ns_del "$ns"; return; }
	ip -n "$ns" link set cstun0 up
	start_sentry "$ns" "$out" -i cstun0 --every || { fail "$name" "certsentry -i cstun0 did not start: $(cat "$out")"; ns_del "$ns"; return; }
	ip netns exec "$ns" "$TUNREPLAY" -v -i cstun0 "$raw" 2>"$TMP/$name.tun.err" \
		|| { fail "$name" "tunreplay: $(cat "$TMP/$name.tun.err")"; stop "$SENTRY_PID"; ns_del "$ns"; return; }
	wait_for 30 sh -c "[ \$(grep -c '\"tls-certificate' '$out') -ge $n_off ]"
	sleep 0.5	# deliberate: room for an extra (wrong) event to show; a pass does not need it
	stop "$SENTRY_PID"
	ns_del "$ns"
	same "$name ($* via tun, $(sed 's/tunreplay: //' "$TMP/$name.tun.err"); $n_off events)" "$TMP/$name-offline.norm" "$out"
}

tun_live live_tun_equals_offline plain --reorder 11 --duplicate 25
tun_live live_tun_split_overlap_wrap plain --wrap-at 3000 --split 7 --overlap --reorder 12 --window 32
tun_live live_tun_lossy_equals_offline lossy --drop 2 --seed 4 --reorder 14 --duplicate 10

leftover=$(ip netns list | grep -c -- "-$$" || true)
[ "$leftover" = 0 ] && pass no_namespaces_left || fail no_namespaces_left "$(ip netns list)"
# CS_KEEP_CAPTURES=DIR keeps the captures and event files for a look afterwards.
if [ -n "${CS_KEEP_CAPTURES:-}" ]; then
	mkdir -p "$CS_KEEP_CAPTURES" && cp "$TMP"/*.pcap "$TMP"/*.gz "$TMP"/*.json "$TMP"/*.norm "$CS_KEEP_CAPTURES"/ 2>/dev/null
	echo "captures and events kept in $CS_KEEP_CAPTURES"
fi
echo "capture tests took $((SECONDS - T0)) s"
summary

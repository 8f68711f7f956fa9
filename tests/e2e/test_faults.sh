#!/usr/bin/env bash
# test_faults.sh - overload and faults, live in namespaces we make: a ring-buffer
# flood, flow-table exhaustion through a TUN device, kill -9 mid-capture, a
# full output filesystem, a closed stdout pipe, the output file rotated away,
# list files that vanish, are cut or become directories. certsentry must say what it lost, keep running
# and recover. Everything made here (namespaces, processes, the tmpfs mount)
# is removed at exit, whatever happened.
set -u
. "$(dirname "$0")/lib.sh"

PKI=$TMP/pki
HOST=www.example.test
MKHOSTILE=$ROOT/build/tools/mkhostile
TUNREPLAY=$ROOT/build/tools/tunreplay
MANGLE=$ROOT/build/tools/pcapmangle
RSS_LIMIT_KB=65536	# 64 MB
FLOOD_EACH=${FLOOD_EACH:-20}	# handshakes per client loop (8 loops)
FLOOD_STOPPED=24		# of them while the consumer is stopped: 1.5 rings
MOUNTS=()
T0=$SECONDS

# lib.sh's cleanup, after our mounts are gone (lazily: certsentry may still
# hold a file open there when a test died half-way).
faults_cleanup() {
	local m p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done
	cleanup
}
trap faults_cleanup EXIT

why=$(live_unavailable)
if [ -n "$why" ]; then
	skip "fault tests" "$why"
	summary
	exit 0
fi
"$ROOT/tools/mkpki.sh" "$PKI" >/dev/null 2>&1 || { fail mkpki "could not make the test PKI"; summary; exit 1; }
LEAF_FP=$(fp "$PKI/leaf.pem")

hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# ev FILE ACTION: the lines with that event.action, skipping lines that are
# not JSON (lib.sh's events stops at the first broken line).
ev() { jq -c -R --arg a "$2" 'fromjson? | select(.event.action == $a)' "$1" 2>/dev/null; }
nev() { ev "$1" "$2" | wc -l; }
# counter FILE ACTION NAME: NAME=value from the last ACTION event's message
counter() { ev "$1" "$2" | tail -1 | jq -r '.message' | sed -n "s/.*[ ]$3=\([0-9]*\).*/\1/p; s/^$3=\([0-9]*\).*/\1/p" | head -1; }
# sni_seen FILE SNI: a tls-certificate event for that server name
sni_seen() { ev "$1" tls-certificate | any_line --arg s "$2" '.tls.client.server_name == $s' >/dev/null; }
# metric NS PORT NAME: the sum of NAME's samples from certsentry --metrics
# in NS ("" if it does not answer)
metric() {
	ip netns exec "$1" curl -s --max-time 3 "http://127.0.0.1:$2/metrics" 2>/dev/null \
		| awk -v n="$3" '$1 == n || index($1, n "{") == 1 { s += $2; f = 1 } END { if (f) print s }'
}
# fins_in PCAP N: at least N TCP FINs (IPv4, or IPv6 without extension
# headers) in a capture tcpdump is still writing
fins_in() {
	[ "$(tcpdump -nn -r "$1" '(tcp[tcpflags] & tcp-fin != 0) or (ip6 and ip6[53] & 1 != 0)' \
		2>/dev/null | wc -l)" -ge "$2" ]
}
# metric_at_least NS PORT NAME N: NAME's sum is N or more
metric_at_least() { local v; v=$(metric "$1" "$2" "$3"); [ "${v:-0}" -ge "$4" ] 2>/dev/null; }
# Does this build serve metrics?
HAVE_METRICS=$("$BIN" --help 2>/dev/null | grep -q -- '--metrics' && command -v curl >/dev/null && echo 1)
# broken_line FILE: the first line that is not a JSON object, cut short
broken_line() { jq -R -r 'try (fromjson | if type == "object" then empty else . end) catch .' "$1" 2>&1 | head -1 | cut -c1-160; }
# stop_sentry: SIGTERM, reaped, within 5 s; sets STOP_RC (124: had to be killed)
stop_sentry() {
	local p=$1 t=50 keep=() q
	kill "$p" 2>/dev/null
	while [ $t -gt 0 ] && alive "$p"; do sleep 0.1; t=$((t - 1)); done
	if alive "$p"; then kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; STOP_RC=124
	else wait "$p" 2>/dev/null; STOP_RC=$?; fi
	for q in "${PIDS[@]}"; do [ "$q" != "$p" ] && keep+=("$q"); done
	PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------- flood
# A 32 KiB ring, 8 parallel client loops of FLOOD_EACH handshakes, and the
# consumer stopped (SIGSTOP) until FLOOD_STOPPED of them are done (~2 KiB of
# ring each), however slow a loaded machine makes them, so the ring
# overflows for certain:
# drops counted and reported at once, no crash, every handshake after the
# flood reported again, memory bounded.
test_flood() {
	local ns out i p loops=() t n drops ev hwm0 hwm1 why=()
	ns_new ns flood || { fail flood "netns"; return; }
	out=$TMP/flood.json
	# Loopback reuses TIME_WAIT ports at once (tcp_tw_reuse=2): a new
	# connection could then share a 4-tuple with one whose bytes were
	# dropped. That case has its own test (test_hostile.sh,
	# tuple_reuse_after_hole); here every connection gets a fresh 4-tuple.
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=0
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" || { fail flood "s_server"; ns_del "$ns"; return; }
	local mx=()
	[ -n "$HAVE_METRICS" ] && mx=(--metrics 127.0.0.1:9464)
	start_sentry "$ns" "$out" -i lo --every --ring-size 32768 --stats-interval 1 "${mx[@]}" \
		|| { fail flood "certsentry did not start: $(cat "$out")"; ns_del "$ns"; return; }
	hwm0=$(hwm "$SENTRY_PID")
	kill -STOP "$SENTRY_PID"
	t=$SECONDS
	for p in 1 2 3 4 5 6 7 8; do
		( for i in $(seq 1 $FLOOD_EACH); do
			echo Q | timeout 10 ip netns exec "$ns" openssl s_client -connect 127.0.0.1:4433 \
				-tls1_2 -servername "f$p-$i.flood.test" >/dev/null 2>&1
			echo >>"$TMP/flood.done"
		  done ) &
		loops+=($!)
		PIDS+=($!)
	done
	wait_for 60 sh -c "[ \$(cat '$TMP/flood.done' 2>/dev/null | wc -l) -ge $FLOOD_STOPPED ]"
	kill -CONT "$SENTRY_PID"
	wait "${loops[@]}"
	for p in "${loops[@]}"; do stop_pid "$p"; done
	t=$((SECONDS - t))
	wait_for 30 grep -q certsentry-ringbuf-drops "$out"
	# caught up: handshakes after the flood are reported
	for i in 1 2 3; do
		handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "after$i.flood.test" || why+=("handshake $i after the flood failed")
		wait_for 30 sni_seen "$out" "after$i.flood.test" || why+=("handshake $i after the flood was not reported")
	done
	alive "$SENTRY_PID" || why+=("certsentry died")
	local mdrops=-
	if [ -n "$HAVE_METRICS" ]; then
		mdrops=$(metric "$ns" 9464 certsentry_kernel_ringbuf_drops_total)
		[ "${mdrops:-0}" -gt 0 ] 2>/dev/null || why+=("metrics: certsentry_kernel_ringbuf_drops_total='${mdrops}'")
	fi
	hwm1=$(hwm "$SENTRY_PID")
	stop_sentry "$SENTRY_PID"
	[ "$STOP_RC" = 0 ] || why+=("exit status $STOP_RC on SIGTERM")
	drops=$(counter "$out" certsentry-stopped ringbuf_drops)
	n=$(nev "$out" tls-certificate)
	ev=$(nev "$out" certsentry-ringbuf-drops)
	[ "${drops:-0}" -gt 0 ] || why+=("ringbuf_drops=${drops:-none} in the stopped event")
	[ "$ev" -ge 1 ] || why+=("no certsentry-ringbuf-drops event")
	[ "$(counter "$out" certsentry-ringbuf-drops ringbuf_drops)" -gt 0 ] 2>/dev/null || why+=("ringbuf-drops event without a count")
	[ "${hwm1:-0}" -gt 0 ] && [ "$hwm1" -lt "$RSS_LIMIT_KB" ] || why+=("VmHWM ${hwm1:-?} KB (limit $RSS_LIMIT_KB)")
	[ -z "$(broken_line "$out")" ] || why+=("output line not JSON: $(broken_line "$out")")
	echo "    flood: $((8 * FLOOD_EACH + 3)) handshakes in ${t}s, $n reported, ringbuf_drops=$drops in $ev drop event(s) (metrics: $mdrops), VmHWM ${hwm0} -> ${hwm1} KB"
	if [ ${#why[@]} = 0 ]; then
		pass "flood_tiny_ring (drops=$drops, $n/$((8 * FLOOD_EACH + 3)) reported, VmHWM ${hwm1} KB)"
	else
		fail flood_tiny_ring "$(printf '%s; ' "${why[@]}")"
	fi
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

# A ring smaller than one ring record (16 KiB of payload + header) can never
# carry a full-size chunk of a Certificate message: --ring-size must refuse
# such a size, or the chunk must fit. One idle handshake with the 20 KB leaf.
test_ring_smaller_than_chunk() {
	local ns out rc got
	ns_new ns ring || { fail ring_smaller_than_chunk "netns"; return; }
	out=$TMP/ring.json
	start_server "$ns" 4433 "$PKI/big.pem" "$PKI/big.key" "$PKI/inter.pem" || { fail ring_smaller_than_chunk "s_server"; ns_del "$ns"; return; }
	# a ring that cannot hold one record is refused at start, naming the option
	local msg
	msg=$("$BIN" -r /dev/null --ring-size 4096 2>&1 >/dev/null); rc=$?
	[ $rc -ne 0 ] && grep -q 'ring-size' <<<"$msg" && pass ring_too_small_refused \
		|| fail ring_too_small_refused "rc=$rc '$msg'"
	# the smallest ring accepted carries the 20 KB certificate
	if ! start_sentry "$ns" "$out" -i lo --every --ring-size 32768; then
		fail ring_smaller_than_chunk "did not start: $(cat "$out")"
		ns_del "$ns"
		return
	fi
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "$HOST"
	wait_for 4 grep -q '"tls-certificate"' "$out"
	stop_sentry "$SENTRY_PID"
	got="chains=$(nev "$out" tls-certificate) ringbuf_drops=$(counter "$out" certsentry-stopped ringbuf_drops)"
	if [ "$(nev "$out" tls-certificate)" = 1 ]; then
		pass "ring_smaller_than_chunk ($got)"
	else
		fail ring_smaller_than_chunk "--ring-size 32768: one idle handshake with a 20 KB certificate is not reported ($got)"
	fi
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

# ------------------------------------------------------- flow-table exhaustion
# Record real handshakes on lo (tcpdump in a namespace), keep each as raw IP.
record_handshakes() {
	local ns cap=$TMP/rec.pcap ports p
	ns_new ns rec || return 1
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" || { ns_del "$ns"; return 1; }
	bg "$ns" tcpdump -i lo -w "$cap" -s 0 -B 65536 --immediate-mode -U 'tcp port 4433' 2>"$TMP/tcpdump.err"
	local tpid=$BG_PID
	wait_for 10 grep -q 'listening on' "$TMP/tcpdump.err" || { ns_del "$ns"; return 1; }
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername real1.flows.test
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername real2.flows.test
	# both connections whole in the file: their four FINs written
	wait_for 30 fins_in "$cap" 4
	stop_pid "$tpid"
	stop_pid "$SERVER_PID"
	ns_del "$ns"
	"$MANGLE" --to-raw "$cap" "$TMP/rec.raw.pcap" 2>/dev/null || return 1
	# one file per connection, by client port, in order
	mapfile -t ports < <(tcpdump -nn -r "$cap" 'tcp[tcpflags] & tcp-syn != 0 and dst port 4433' 2>/dev/null \
		| sed -n 's/.* 127\.0\.0\.1\.\([0-9]*\) > 127\.0\.0\.1\.4433:.*/\1/p')
	[ ${#ports[@]} = 2 ] || return 1
	for p in 1 2; do
		tcpdump -r "$TMP/rec.raw.pcap" -w "$TMP/real$p.raw.pcap" "tcp port ${ports[$((p - 1))]}" 2>/dev/null || return 1
	done
}

test_flow_exhaustion() {
	local ns out why=() flows conns hwm n t
	for b in "$MKHOSTILE" "$TUNREPLAY" "$MANGLE"; do
		[ -x "$b" ] || { skip flow_table_exhaustion "$b not built"; return; }
	done
	record_handshakes || { fail flow_table_exhaustion "could not record real handshakes: $(cat "$TMP/tcpdump.err")"; return; }
	"$MKHOSTILE" --raw flows 5000 "$TMP/flows.pcap" || { fail flow_table_exhaustion "mkhostile flows"; return; }
	ns_new ns flows || { fail flow_table_exhaustion "netns"; return; }
	ip -n "$ns" tuntap add dev csftun0 mode tun || { fail flow_table_exhaustion "ip tuntap add"; ns_del "$ns"; return; }
	ip -n "$ns" link set csftun0 up
	out=$TMP/flows.json
	start_sentry "$ns" "$out" -i csftun0 --every --max-flows 1024 --stats-interval 1 \
		|| { fail flow_table_exhaustion "certsentry did not start: $(cat "$out")"; ns_del "$ns"; return; }
	t=$SECONDS
	# 5000 half-open flows, a real handshake, 5000 again, another real one
	ip netns exec "$ns" "$TUNREPLAY" -v -i csftun0 "$TMP/flows.pcap" 2>>"$TMP/tun.err" || why+=("tunreplay flows: $(tail -1 "$TMP/tun.err")")
	ip netns exec "$ns" "$TUNREPLAY" -i csftun0 "$TMP/real1.raw.pcap" 2>>"$TMP/tun.err" || why+=("tunreplay real1")
	wait_for 30 sni_seen "$out" real1.flows.test || why+=("the real handshake after 5000 half-open flows was not reported")
	ip netns exec "$ns" "$TUNREPLAY" -i csftun0 "$TMP/flows.pcap" 2>>"$TMP/tun.err" || why+=("tunreplay flows again")
	ip netns exec "$ns" "$TUNREPLAY" -i csftun0 "$TMP/real2.raw.pcap" 2>>"$TMP/tun.err" || why+=("tunreplay real2")
	wait_for 30 sni_seen "$out" real2.flows.test || why+=("the second real handshake (after 10000 flows) was not reported")
	# one stats interval with the table full: the next stats event
	n=$(nev "$out" certsentry-stats)
	# shellcheck disable=SC2317
	stats_past() { [ "$(nev "$out" certsentry-stats)" -gt "$n" ]; }
	wait_for 30 stats_past
	alive "$SENTRY_PID" || why+=("certsentry died")
	hwm=$(hwm "$SENTRY_PID")
	stop_sentry "$SENTRY_PID"
	[ "$STOP_RC" = 0 ] || why+=("exit status $STOP_RC on SIGTERM")
	flows=$(counter "$out" certsentry-stopped flows)
	conns=$(counter "$out" certsentry-stopped connections)
	# the second batch starts again all but what the 1024-entry LRU still held
	[ "${flows:-0}" -ge $((10000 - 1024)) ] || why+=("kernel flows=${flows:-none}, want >= $((10000 - 1024)) (evicted LRU entries start again)")
	[ "${conns:-0}" -ge 5002 ] || why+=("userspace connections=${conns:-none}, want >= 5002")
	[ "${hwm:-0}" -gt 0 ] && [ "$hwm" -lt "$RSS_LIMIT_KB" ] || why+=("VmHWM ${hwm:-?} KB")
	n=$(nev "$out" tls-certificate)
	[ "$n" = 2 ] || why+=("$n chains reported, want the 2 real ones")
	echo "    flow table: $(grep -o '[0-9]* packets written' "$TMP/tun.err" | head -1) per batch, kernel flows=$flows, connections=$conns, evicted=$(counter "$out" certsentry-stopped evicted), VmHWM ${hwm} KB, $((SECONDS - t))s"
	if [ ${#why[@]} = 0 ]; then
		pass "flow_table_exhaustion (--max-flows 1024, 10000 half-open flows: flows=$flows, connections=$conns, VmHWM ${hwm} KB)"
	else
		fail flow_table_exhaustion "$(printf '%s; ' "${why[@]}")"
	fi
	ns_del "$ns"
}

# Past the userspace connection table (--max-conns 65536, FLOW_MEM_DEFAULT of
# state): the oldest half-open ones are evicted and counted, in the stopped
# event and in metrics; memory stays under ring + state bound + baseline; a
# real handshake is still reported.
test_userspace_table_full() {
	local ns out why=() ev hwm conns memmb limit mev=- mmem=- ring=$((32 << 20))
	[ -f "$TMP/real1.raw.pcap" ] || { skip userspace_table_full "no recorded handshake"; return; }
	memmb=$(sed -n 's/^#define FLOW_MEM_DEFAULT[[:space:]]*(\([0-9]*\)u << 20).*/\1/p' "$ROOT/user/flow.h")
	limit=$(( (${memmb:-128} + ring / 1048576 + 64) * 1024 ))
	"$MKHOSTILE" --raw flows 70000 "$TMP/flows70k.pcap" || { fail userspace_table_full "mkhostile flows"; return; }
	ns_new ns flows70k || { fail userspace_table_full "netns"; return; }
	ip -n "$ns" tuntap add dev csftun1 mode tun || { fail userspace_table_full "ip tuntap add"; ns_del "$ns"; return; }
	ip -n "$ns" link set csftun1 up
	out=$TMP/flows70k.json
	local mx=()
	[ -n "$HAVE_METRICS" ] && mx=(--metrics 127.0.0.1:9465)
	start_sentry "$ns" "$out" -i csftun1 --every --ring-size $ring --max-conns 65536 "${mx[@]}" \
		|| { fail userspace_table_full "certsentry did not start: $(cat "$out")"; ns_del "$ns"; return; }
	ip netns exec "$ns" "$TUNREPLAY" -i csftun1 "$TMP/flows70k.pcap" 2>>"$TMP/tun.err" || why+=("tunreplay flows70k")
	ip netns exec "$ns" "$TUNREPLAY" -i csftun1 "$TMP/real1.raw.pcap" 2>>"$TMP/tun.err" || why+=("tunreplay real1")
	wait_for 10 sni_seen "$out" real1.flows.test || why+=("the real handshake after 70000 half-open flows was not reported")
	alive "$SENTRY_PID" || why+=("certsentry died")
	if [ -n "$HAVE_METRICS" ]; then
		mev=$(metric "$ns" 9465 certsentry_connections_evicted_total)
		mmem=$(metric "$ns" 9465 certsentry_connections_evicted_memory_total)
		[ $(( ${mev:-0} + ${mmem:-0} )) -gt 0 ] || why+=("metrics: evicted_total='$mev' evicted_memory_total='$mmem'")
	fi
	hwm=$(hwm "$SENTRY_PID")
	stop_sentry "$SENTRY_PID"
	ev=$(counter "$out" certsentry-stopped evicted)
	local evm
	evm=$(counter "$out" certsentry-stopped evicted_mem)
	conns=$(counter "$out" certsentry-stopped connections)
	[ $(( ${ev:-0} + ${evm:-0} )) -gt 0 ] || why+=("the stopped event says evicted=${ev:-none}${evm:+ evicted_mem=$evm} after $conns connections (metrics: table $mev, memory $mmem): evictions for the memory bound are not in the event")
	[ "$(counter "$out" certsentry-stopped ringbuf_drops)" = 0 ] || why+=("ring drops with a 32 MiB ring: the counts above are not the table's doing")
	[ "${hwm:-0}" -gt 0 ] && [ "$hwm" -lt "$limit" ] || why+=("VmHWM ${hwm:-?} KB, limit $limit KB (${memmb} MiB state + 32 MiB ring + 64 MiB)")
	echo "    userspace table: connections=$conns evicted=$ev${evm:+ evicted_mem=$evm} (metrics: table $mev, memory $mmem), VmHWM ${hwm} KB (limit $limit)"
	if [ ${#why[@]} = 0 ]; then
		pass "userspace_table_full (70000 half-open flows: evicted=$ev${evm:+/$evm}, VmHWM ${hwm} KB)"
	else
		fail userspace_table_full "$(printf '%s; ' "${why[@]}")"
	fi
	ns_del "$ns"
}

# -------------------------------------------------------- kill -9 mid-capture
# ours_attached NS DEV PID: our attachments on DEV in NS: clsact filters plus
# tcx links running cs_tc*. bpftool 7.1 lists tcx links machine-wide without
# their namespace, so a link that a process other than PID holds open (another
# certsentry on this machine, a benchmark) is not counted; a link nobody holds
# (a killed run's, not yet gone) is.
ours_attached() {
	local ns=$1 dev=$2 mine=$3 filters links=0 lid pid holders
	filters=$(ip netns exec "$ns" bpftool net show dev "$dev" 2>/dev/null | grep -c 'cs_tc')
	while read -r lid pid; do
		bpftool -j prog show id "$pid" 2>/dev/null | one_line '.name | startswith("cs_tc")' >/dev/null || continue
		holders=$(grep -lsE "^link_id:[[:space:]]*$lid\$" /proc/[0-9]*/fdinfo/* 2>/dev/null | cut -d/ -f3 | sort -u | tr '\n' ' ')
		[ -n "$holders" ] && [ "$holders" != "$mine " ] && continue
		# Unheld: a killed run's, or one whose process (another suite's)
		# was exiting a moment ago and which is gone now.
		[ -z "$holders" ] && ! bpftool link show id "$lid" >/dev/null 2>&1 && continue
		links=$((links + 1))
	done < <(bpftool -j link show 2>/dev/null | jq -r '.[] | select(.type == 11 or .type == "tcx") | "\(.id) \(.prog_id)"')
	echo $((filters + links))
}

test_kill9_mid_traffic() {
	local mode ns out out2 loop n left why
	for mode in tcx clsact; do
		why=()
		ns_new ns k9 || { fail "kill9_mid_traffic_$mode" "netns"; continue; }
		out=$TMP/k9-$mode.json out2=$TMP/k9b-$mode.json
		local args=(-i lo --every)
		[ $mode = clsact ] && args+=(--clsact)
		start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem"
		start_sentry "$ns" "$out" "${args[@]}" || { fail "kill9_mid_traffic_$mode" "start: $(cat "$out")"; ns_del "$ns"; continue; }
		( for i in $(seq 1 400); do
			echo Q | timeout 5 ip netns exec "$ns" openssl s_client -connect 127.0.0.1:4433 \
				-tls1_2 -servername "k$i.kill.test" >/dev/null 2>&1
		  done ) &
		loop=$!
		PIDS+=($loop)
		wait_for 30 grep -q '"tls-certificate"' "$out" || why+=("nothing reported before the kill")
		kill -9 "$SENTRY_PID"; wait "$SENTRY_PID" 2>/dev/null
		stop_pid "$SENTRY_PID"
		start_sentry "$ns" "$out2" "${args[@]}" || why+=("restart under traffic: $(cat "$out2")")
		n=$(ours_attached "$ns" lo "$SENTRY_PID")
		[ "$n" = 1 ] || why+=("$n attachments after the restart, want 1")
		# still working: new handshakes are reported by the new instance
		local before
		before=$(nev "$out2" tls-certificate)
		wait_for 30 sh -c "[ \$(grep -c '\"tls-certificate\"' '$out2') -gt $((before + 2)) ]" || why+=("the restarted instance reports nothing new")
		stop_pid "$loop"
		stop_sentry "$SENTRY_PID"
		left=$(ours_attached "$ns" lo none)
		[ "$left" = 0 ] || why+=("$left attachments left after SIGTERM")
		[ "$STOP_RC" = 0 ] || why+=("exit status $STOP_RC")
		if [ ${#why[@]} = 0 ]; then
			pass "kill9_mid_traffic_$mode (1 attachment after restart, 0 after stop, $(nev "$out2" tls-certificate) chains after restart)"
		else
			fail "kill9_mid_traffic_$mode" "$(printf '%s; ' "${why[@]}")"
		fi
		stop_pid "$SERVER_PID"
		ns_del "$ns"
	done
}

# ------------------------------------------------------------- output faults
# -o on a 64 KiB tmpfs: fill it, keep handshaking (lines lost and counted,
# the daemon runs on); free space: new lines appear, every line whole.
test_output_full_fs() {
	local ns mnt=$TMP/full out why=() i size0 size1 oerr bad
	mkdir -p "$mnt"
	mount -t tmpfs -o size=64k,mode=0755 cs-faults "$mnt" || { fail output_full_fs "mount tmpfs"; return; }
	MOUNTS+=("$mnt")
	ns_new ns full || { fail output_full_fs "netns"; return; }
	out=$mnt/out.json
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem"
	local mx=()
	[ -n "$HAVE_METRICS" ] && mx=(--metrics 127.0.0.1:9467)
	start_sentry "$ns" "$out" -i lo --every "${mx[@]}" || { fail output_full_fs "start: $(cat "$out")"; ns_del "$ns"; return; }
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername before.full.test
	wait_for 30 sni_seen "$out" before.full.test || why+=("nothing reported before the disk filled")
	dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null
	sync -f "$mnt" 2>/dev/null
	size0=$(stat -c %s "$out")
	for i in 1 2 3 4 5 6; do handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "lost$i.full.test"; done
	# their lines tried (and lost) before space is freed; without metrics, a second's hope
	if [ -n "$HAVE_METRICS" ]; then
		wait_for 30 metric_at_least "$ns" 9467 certsentry_output_write_errors_total 1
	else
		sleep 1
	fi
	alive "$SENTRY_PID" || why+=("certsentry died on a full disk")
	size1=$(stat -c %s "$out")
	rm -f "$mnt/filler"
	for i in 1 2 3; do handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "after$i.full.test"; done
	wait_for 30 sni_seen "$out" after3.full.test || why+=("no new lines after space was freed")
	stop_sentry "$SENTRY_PID"
	[ "$STOP_RC" = 0 ] || why+=("exit status $STOP_RC")
	oerr=$(counter "$out" certsentry-stopped output_errors)
	[ "${oerr:-0}" -gt 0 ] || why+=("output_errors=${oerr:-none} in the stopped event, want > 0")
	echo "    full fs: output $size0 -> $size1 bytes while full, output_errors=$oerr, $(nev "$out" tls-certificate) chains in the file"
	if [ ${#why[@]} = 0 ]; then
		pass "output_full_fs (output_errors=$oerr, recovered)"
	else
		fail output_full_fs "$(printf '%s; ' "${why[@]}")"
	fi
	bad=$(broken_line "$out")
	[ -z "$bad" ] && pass output_full_fs_lines_whole \
		|| fail output_full_fs_lines_whole "a broken line in the output after the disk was full (the part of a line that fit was left in place and the next line glued to it): '$bad...'"
	stop_pid "$SERVER_PID"
	ns_del "$ns"
	umount -l "$mnt" && MOUNTS=()
}

# stdout a pipe whose reader exits after one line: SIGPIPE ignored, capture
# goes on, the lost lines are counted (metrics), no busy loop on EPIPE,
# SIGTERM ends it cleanly.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }
test_output_closed_pipe() {
	local ns fifo=$TMP/pipe why=() hpid werr=- t0 t1 mx=()
	ns_new ns pipe || { fail output_closed_pipe "netns"; return; }
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem"
	mkfifo "$fifo"
	head -1 < "$fifo" > "$TMP/head.out" &
	hpid=$!
	[ -n "$HAVE_METRICS" ] && mx=(--metrics 127.0.0.1:9466)
	bg "$ns" "$BIN" -i lo --every --no-uprobe "${mx[@]}" > "$fifo"
	SENTRY_PID=$BG_PID
	wait "$hpid"	# the reader has its line and is gone
	grep -q certsentry-started "$TMP/head.out" || why+=("first line: $(cat "$TMP/head.out")")
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername pipe1.test || why+=("handshake")
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername pipe2.test
	# both handshakes checked (their lines lost) before the idle span
	if [ -n "$HAVE_METRICS" ]; then
		wait_for 30 metric_at_least "$ns" 9466 certsentry_handshakes_total 2
	else
		sleep 0.5
	fi
	t0=$(cpu_ticks "$SENTRY_PID")
	sleep 2	# deliberate: the idle span the CPU time is measured over
	t1=$(cpu_ticks "$SENTRY_PID")
	alive "$SENTRY_PID" || why+=("certsentry died when its reader went away")
	[ -n "$t0" ] && [ -n "$t1" ] && [ $((t1 - t0)) -lt 50 ] || why+=("busy: ${t0:-?} -> ${t1:-?} CPU ticks in 2 s idle")
	if [ -n "$HAVE_METRICS" ]; then
		werr=$(metric "$ns" 9466 certsentry_output_write_errors_total)
		[ "${werr:-0}" -gt 0 ] 2>/dev/null || why+=("metrics: output_write_errors_total='$werr' after lines went to a closed pipe")
	fi
	stop_sentry "$SENTRY_PID"
	[ "$STOP_RC" = 0 ] || why+=("exit status $STOP_RC on SIGTERM (124: did not stop within 5 s)")
	if [ ${#why[@]} = 0 ]; then
		pass "output_closed_pipe (alive after the reader left, write errors counted: $werr, $((t1 - t0)) CPU ticks idle in 2 s, exit 0 on SIGTERM)"
	else
		fail output_closed_pipe "$(printf '%s; ' "${why[@]}")"
	fi
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

# Log rotation without copytruncate: the -o file is renamed away, then
# SIGHUP; certsentry writes on into a new file of the same name, and the
# renamed one keeps everything before the signal, every line whole.
test_output_rotate() {
	local ns out=$TMP/rotate.json why=() bad f
	ns_new ns rotate || { fail output_rotate "netns"; return; }
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem"
	start_sentry "$ns" "$out" -i lo --every || { fail output_rotate "start: $(cat "$out")"; ns_del "$ns"; return; }
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername before.rotate.test
	wait_for 30 sni_seen "$out" before.rotate.test || why+=("nothing reported before the rotation")
	mv "$out" "$out.1"
	kill -HUP "$SENTRY_PID"
	wait_for 30 grep -q certsentry-lists-reloaded "$out" || why+=("no new $out after SIGHUP")
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername after.rotate.test
	wait_for 30 sni_seen "$out" after.rotate.test || why+=("after.rotate.test is not in the new file")
	stop_sentry "$SENTRY_PID"
	[ "$STOP_RC" = 0 ] || why+=("exit status $STOP_RC")
	sni_seen "$out.1" after.rotate.test && why+=("after.rotate.test went to the renamed file")
	sni_seen "$out" before.rotate.test && why+=("before.rotate.test is in the new file too")
	[ "$(nev "$out.1" certsentry-started)" = 1 ] || why+=("the renamed file lost its start line")
	[ "$(nev "$out" certsentry-stopped)" = 1 ] || why+=("no stop line in the new file")
	for f in "$out.1" "$out"; do
		bad=$(broken_line "$f")
		[ -z "$bad" ] || why+=("a broken line in $f: '$bad'")
	done
	if [ ${#why[@]} = 0 ]; then
		pass "output_rotate ($(wc -l < "$out.1") lines before SIGHUP in the renamed file, $(wc -l < "$out") after in the new one)"
	else
		fail output_rotate "$(printf '%s; ' "${why[@]}")"
	fi
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

# ----------------------------------------------------------- list file faults
# The deny list deleted, cut to half a line, replaced by a directory: each a
# certsentry-lists-error naming the file, the previous lists in force (the
# denied leaf is still revoked.deny), and a good file reloads again.
test_list_faults() {
	local ns out deny=$TMP/lists/deny.txt why=() line n k
	mkdir -p "$TMP/lists"
	line="sha256:$LEAF_FP"
	printf '# denied\n%s\n' "$line" > "$deny"
	ns_new ns lists || { fail list_faults "netns"; return; }
	out=$TMP/lists.json
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem"
	start_sentry "$ns" "$out" -i lo --every --ca-file "$PKI/root.pem" --deny "$deny" \
		|| { fail list_faults "start: $(cat "$out")"; ns_del "$ns"; return; }
	k=0
	# still_denied NAME: a new handshake is still revoked.deny
	still_denied() {
		k=$((k + 1))
		handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "$HOST"
		wait_for 30 sh -c "[ \$(jq -r 'select(.event.action == \"tls-certificate\") | .certsentry.verdict' '$out' | grep -c revoked.deny) -ge $k ]"
	}
	# lists_errors: how many certsentry-lists-error events name the deny file
	lists_errors() { ev "$out" certsentry-lists-error | jq -r .message | grep -cF "$deny"; }
	# fault NAME CMD...: run CMD (it breaks the file), expect one more error
	# event naming the file and the deny entry still in force
	fault() {
		local name=$1 e0; shift
		e0=$(lists_errors)
		"$@"
		if ! wait_for 30 sh -c "[ \$(jq -r 'select(.event.action == \"certsentry-lists-error\") | .message' '$out' | grep -cF '$deny') -gt $e0 ]"; then
			fail "list_fault_$name" "no certsentry-lists-error naming $deny ($(ev "$out" certsentry-lists-error | jq -r .message | tail -1))"
		elif ! still_denied; then
			fail "list_fault_$name" "the previous deny list is no longer in force: $(ev "$out" tls-certificate | tail -1 | jq -c '[.certsentry.verdict]')"
		else
			pass "list_fault_$name ($(ev "$out" certsentry-lists-error | jq -r .message | tail -1 | cut -c1-120))"
		fi
	}
	restore() {
		local r0
		r0=$(nev "$out" certsentry-lists-reloaded)
		rm -rf "$deny"
		printf '# denied\n%s\n' "$line" > "$deny.tmp" && mv "$deny.tmp" "$deny"
		wait_for 30 sh -c "[ \$(grep -c certsentry-lists-reloaded '$out') -gt $r0 ]"
	}
	still_denied || why+=("the denied leaf was not revoked.deny at start")
	[ ${#why[@]} = 0 ] || { fail list_faults "$(printf '%s; ' "${why[@]}")"; stop_sentry "$SENTRY_PID"; ns_del "$ns"; return; }
	fault deleted rm -f "$deny"
	restore || fail list_fault_restore "no reload after the file came back"
	# cut in the middle of the hash, as a reader may see a file being written
	fault truncated truncate -s $(( $(stat -c %s "$deny") - ${#LEAF_FP} / 2 - 1 )) "$deny"
	restore || fail list_fault_restore "no reload after the file came back"
	fault directory sh -c "rm -f '$deny' && mkdir '$deny.d' && mv -T '$deny.d' '$deny'"
	fault directory_sighup kill -HUP "$SENTRY_PID"
	restore && still_denied && pass "list_fault_recovers (a good file reloads and the deny entry is used)" \
		|| fail list_fault_recovers "after restoring the file: $(tail -2 "$out" | jq -c '[.event.action, .message, .certsentry.verdict]')"
	alive "$SENTRY_PID" || fail list_faults "certsentry died"
	stop_sentry "$SENTRY_PID"
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

# A syslog daemon that goes away: lines are lost and counted, capture goes
# on, and lines arrive again once the daemon is back. The "daemon" is a
# datagram socket of the test's own, read by a few lines of Python.
syslogd() {	# SOCKET OUTFILE: sets LOGD_PID
	python3 -c 'import socket,sys,os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "ab", buffering=0)
while True:
    out.write(s.recv(1 << 20) + b"\n")' "$1" "$2" &
	LOGD_PID=$!
	PIDS+=("$LOGD_PID")
	wait_for 30 test -S "$1"
}

test_syslog() {
	local ns sock=$TMP/log.sock log=$TMP/syslog.txt out=$TMP/syslog.json errs
	ns_new ns syslog || { fail output_syslog_down "netns"; return; }
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" || { fail output_syslog_down "s_server"; ns_del "$ns"; return; }
	syslogd "$sock" "$log" || { fail output_syslog_down "test syslog socket"; ns_del "$ns"; return; }
	bg "$ns" "$BIN" -i lo --every --syslog="$sock" --metrics 127.0.0.1:9463
	SENTRY_PID=$BG_PID
	wait_for 10 grep -q certsentry-started "$log" || { fail output_syslog_down "no start line in syslog"; ns_del "$ns"; return; }
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername one.example.test
	wait_for 30 grep -q 'one.example.test' "$log" && grep -q '^<[0-9]*>[A-Z][a-z][a-z] .* certsentry\[[0-9]*\]: {' "$log" \
		&& pass output_syslog_lines || fail output_syslog_lines "$(head -c 600 "$log")"
	stop_pid "$LOGD_PID"; rm -f "$sock"		# the daemon goes down
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername two.example.test
	# the line to the missing socket tried and counted
	wait_for 30 metric_at_least "$ns" 9463 certsentry_output_write_errors_total 1
	errs=$(metric "$ns" 9463 certsentry_output_write_errors_total)
	syslogd "$sock" "$log"			# and comes back
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername three.example.test
	wait_for 30 grep -q 'three.example.test' "$log"
	if alive "$SENTRY_PID" && [ "${errs:-0}" -ge 1 ] && grep -q 'three.example.test' "$log" &&
	   ! grep -q 'two.example.test' "$log"; then
		pass "output_syslog_down (write errors counted: $errs, capture went on, lines resumed)"
	else
		fail output_syslog_down "alive=$(alive "$SENTRY_PID" && echo yes) errors=$errs log: $(tail -c 400 "$log")"
	fi
	stop_pid "$SENTRY_PID"
	stop_pid "$LOGD_PID"
	ns_del "$ns"
}

timed() { local t=$SECONDS; "$@"; echo "    ($1: $((SECONDS - t)) s)"; }
timed test_flood
timed test_ring_smaller_than_chunk
timed test_flow_exhaustion
timed test_userspace_table_full
timed test_kill9_mid_traffic
timed test_output_full_fs
timed test_output_closed_pipe
timed test_output_rotate
test_syslog
timed test_list_faults

leftover=$(ip netns list | grep -c -- "-$$" || true)
[ "$leftover" = 0 ] && pass no_namespaces_left || fail no_namespaces_left "$(ip netns list)"
grep -q " $TMP/" /proc/mounts && fail no_mounts_left "$(grep " $TMP/" /proc/mounts)" || pass no_mounts_left
echo "fault tests took $((SECONDS - T0)) s"
summary

#!/usr/bin/env bash
# test_syslog.sh - certsentry's lines through a real rsyslog on a namespace's loopback: the local
# socket, UDP and TCP in RFC 3164 and 5424, 40 KB lines, rsyslog restarting; the shipped snippets.
set -u
. "$(dirname "$0")/lib.sh"

PKI=$TMP/pki
RS=$TMP/rsyslog
METRICS=9466
declare -A PORT=([udp3164]=10514 [udp5424]=10515 [tcp3164]=10601 [tcp5424]=10602 [restart]=10603)

alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# ---- the shipped snippets: rsyslogd -N1 with the output modules installed ----

test_snippets() {
	local f name mod out moddir
	moddir=$(dirname "$(find /usr/lib -path '*rsyslog/imuxsock.so' 2>/dev/null | head -1)")
	mkdir -p "$TMP/rsn"
	for f in "$ROOT"/dist/rsyslog/*.conf; do
		name=$(basename "$f" .conf)
		for mod in $(grep -o 'module(load="[a-z]*")' "$f" | sed 's/.*"\(.*\)".*/\1/'); do
			[ -f "$moddir/$mod.so" ] || break
		done
		if [ ! -f "$moddir/$mod.so" ]; then
			skip "rsyslog_snippet_$name" "rsyslog module $mod is not installed (Debian packages rsyslog-kafka, rsyslog-elasticsearch; make test installs them)"
			continue
		fi
		printf 'global(workDirectory="%s")\ninclude(file="%s")\n' "$TMP/rsn" "$f" > "$TMP/rsn/main.conf"
		if out=$(rsyslogd -N1 -f "$TMP/rsn/main.conf" 2>&1) && ! grep -qi 'error\|not known' <<<"$out"; then
			pass "rsyslog_snippet_$name (rsyslogd -N1 with its modules loaded)"
		else
			fail "rsyslog_snippet_$name" "$out"
		fi
	done
}

# ---- a real rsyslog in the namespace ----

# One ruleset per way in: the message to NAME.log, the header fields to NAME.meta.
rsyslog_conf() {
	local name
	mkdir -p "$RS"
	cat > "$RS/rsyslog.conf" <<EOF
global(workDirectory="$RS" maxMessageSize="256k")
module(load="imuxsock" SysSock.Use="off")
module(load="imudp")
module(load="imtcp" MaxFrameSize="300000")
template(name="msg" type="string" string="%msg%\n")
template(name="meta" type="string" string="%syslogseverity% %app-name% %procid% %msgid% %structured-data%\n")
input(type="imuxsock" Socket="$RS/l3164.sock" Ruleset="unix3164" RateLimit.Interval="0")
input(type="imuxsock" Socket="$RS/l5424.sock" Ruleset="unix5424" RateLimit.Interval="0"
      UseSpecialParser="off" ParseHostname="on")
EOF
	for name in unix3164 unix5424 "${!PORT[@]}"; do
		printf 'ruleset(name="%s") {\n\taction(type="omfile" file="%s/%s.log" template="msg")\n\taction(type="omfile" file="%s/%s.meta" template="meta")\n}\n' \
			"$name" "$RS" "$name" "$RS" "$name" >> "$RS/rsyslog.conf"
		case $name in
		udp*) echo "input(type=\"imudp\" port=\"${PORT[$name]}\" ruleset=\"$name\")" ;;
		tcp*|restart) echo "input(type=\"imtcp\" port=\"${PORT[$name]}\" ruleset=\"$name\")" ;;
		esac >> "$RS/rsyslog.conf"
	done
}

rsyslog_start() {	# NS: sets RSYSLOG_PID
	rm -f "$RS/rsyslogd.pid"
	bg "$1" rsyslogd -n -f "$RS/rsyslog.conf" -i "$RS/rsyslogd.pid" 2>>"$RS/rsyslogd.err"
	RSYSLOG_PID=$BG_PID
	wait_for 10 ip netns exec "$1" sh -c "ss -ltnH | grep -q ':${PORT[restart]} '" &&
		wait_for 5 test -S "$RS/l5424.sock"
}

metric() {	# NS SERIES
	ip netns exec "$1" curl -s "http://127.0.0.1:$METRICS/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

hs() {	# NS PORT SNI
	handshake "$1" "127.0.0.1:$2" -tls1_2 -servername "$3"
}

lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }

# Predicates for wait_for, which runs its command again each time (a
# "$(...)" in its arguments would be read once only).
lines_ge() { [ "$(lines "$1")" -ge "$2" ]; }			# FILE N
events_ge() { [ "$(count_events "$1" "$2")" -ge "$3" ]; }	# FILE ACTION N
sum_ge() { [ $(( $(lines "$1") + $2 )) -ge "$3" ]; }		# FILE ADD N
# NS OUT: every line written to OUT delivered by both of two sinks
all_delivered() { [ "$(metric "$1" certsentry_output_lines_total)" = "$(( 2 * $(lines "$2") ))" ]; }

# check WANT GOT META FORMAT PID MODE: what rsyslog wrote (GOT, META) against
# what certsentry wrote to -o (WANT). MODE exact: every line arrived once,
# byte for byte; udp: the same, except lines cut at the datagram bound
# (their count printed); lost: a subset, each line once, the sequence ids
# counting the missing ones. Prints what is wrong, or the counts.
check() {
	python3 - "$@" <<'PY'
import json, re, sys
want_f, got_f, meta_f, fmt, pid, mode = sys.argv[1:7]
want = open(want_f, encoding="utf-8").read().splitlines()
got = open(got_f, encoding="utf-8").read().splitlines()
meta = open(meta_f, encoding="utf-8").read().splitlines()
if fmt == "3164":		# rsyslog's MSG keeps the space after "TAG:"
    got = [g[1:] if g.startswith(" ") else g for g in got]
errs, cut, seqs = [], 0, []
if len(meta) != len(got):
    errs.append(f"{len(got)} messages but {len(meta)} header lines")
left = {}
for w in want:
    left[w] = left.get(w, 0) + 1
for i, (g, m) in enumerate(zip(got, meta)):
    sev, app, procid, msgid, sd = m.split(" ", 4)
    if left.get(g, 0) > 0:
        left[g] -= 1
        ev = json.loads(g)
        want_msgid = ev["event"]["action"] if fmt == "5424" else "-"
        if msgid != want_msgid or int(sev) != ev["event"].get("severity", 6):
            errs.append(f"line {i}: header '{m}' for {ev['event']}")
    elif mode == "udp" and any(w.startswith(g) and len(w) > len(g) for w in want):
        cut += 1
    else:
        errs.append(f"line {i} is not one certsentry wrote (or came twice): {g[:200]}")
    if app != "certsentry" or procid != pid:
        errs.append(f"line {i}: app-name/procid '{app} {procid}', not certsentry {pid}")
    if fmt == "5424":
        s = re.fullmatch(r'\[meta sequenceId="(\d+)"\]', sd)
        if not s:
            errs.append(f"line {i}: structured data '{sd}'")
        else:
            seqs.append(int(s.group(1)))
missing = sum(left.values()) - cut
if mode != "lost" and missing:
    errs.append(f"{missing} of {len(want)} lines did not arrive")
if seqs and seqs != sorted(set(seqs)):
    errs.append(f"sequence ids out of order or repeated: {seqs}")
if mode == "lost" and (not seqs or max(seqs) != len(want) or max(seqs) - len(seqs) != missing):
    errs.append(f"sequence ids {seqs} do not account for {missing} missing lines of {len(want)}")
if errs:
    print("; ".join(errs[:5]))
    sys.exit(1)
print(f"{len(got)} {cut} {missing}")
PY
}

# What the pipeline receives is ECS as Elasticsearch takes it: the SNI also
# in destination.domain, no event.count, no empty object anywhere.
ecs_clean() {	# FILE of JSON lines
	jq -e -s 'length > 0 and all(.[];
		(.tls.client.server_name == null or .destination.domain == .tls.client.server_name) and
		(.event.count == null) and
		([.. | objects | select(length == 0)] | length == 0))' "$1" >/dev/null
}

# Every line, the local socket and UDP (run A) and TCP (run B), in one
# framing; lines over 40 KB (the big certificate) on the socket and TCP
# whole, over UDP cut at 8 KiB and counted.
test_matrix() {
	local ns=$1 fmt=$2 out res="" cut n
	out=$TMP/a$fmt.json
	start_sentry "$ns" "$out" -i lo --every --stats-interval 3600 --metrics "127.0.0.1:$METRICS" \
		--syslog="$RS/l$fmt.sock" --syslog-server "udp://127.0.0.1:${PORT[udp$fmt]}" \
		--syslog-format "$fmt" || { fail "syslog_$fmt" "start: $(tail -3 "$out")"; return; }
	hs "$ns" 4433 one.example.test; hs "$ns" 4433 two.example.test; hs "$ns" 4434 big.example.test
	wait_for 10 events_ge "$out" tls-certificate 3
	cut=$(metric "$ns" certsentry_output_lines_cut_total)
	stop_pid "$SENTRY_PID"
	n=$(lines "$out")
	[ "$(jq -r 'select(.tls.client.server_name == "big.example.test") | tostring | length' "$out")" -gt 40000 ] \
		|| fail "syslog_$fmt" "the big certificate's line is not over 40 KB"
	wait_for 10 lines_ge "$RS/unix$fmt.log" "$n"
	wait_for 10 lines_ge "$RS/udp$fmt.log" "$n"
	if res=$(check "$out" "$RS/unix$fmt.log" "$RS/unix$fmt.meta" "$fmt" "$SENTRY_PID" exact) &&
	   jq -e -s 'length > 0' "$RS/unix$fmt.log" >/dev/null; then
		pass "syslog_unix_$fmt ($n lines intact and JSON (jq) through imuxsock, headers right)"
	else
		fail "syslog_unix_$fmt" "$res; $(tail -c 300 "$RS/rsyslogd.err" 2>/dev/null)"
	fi
	if res=$(check "$out" "$RS/udp$fmt.log" "$RS/udp$fmt.meta" "$fmt" "$SENTRY_PID" udp) &&
	   [ "$(cut -d' ' -f2 <<<"$res")" = "${cut:-x}" ] && [ "$cut" -ge 1 ] &&
	   [ "$(jq -Rc 'fromjson? // "bad"' "$RS/udp$fmt.log" | grep -c '^"bad"$')" = "$cut" ]; then
		pass "syslog_udp_$fmt ($n lines through imudp: $((n - cut)) intact and JSON, $cut cut at 8 KiB and counted)"
	else
		fail "syslog_udp_$fmt" "$res; output_lines_cut_total=$cut"
	fi

	out=$TMP/b$fmt.json
	start_sentry "$ns" "$out" -i lo --every --stats-interval 3600 --metrics "127.0.0.1:$METRICS" \
		--syslog-server "tcp://127.0.0.1:${PORT[tcp$fmt]}" --syslog-format "$fmt" \
		|| { fail "syslog_tcp_$fmt" "start: $(tail -3 "$out")"; return; }
	hs "$ns" 4434 big.example.test; hs "$ns" 4433 one.example.test; hs "$ns" 4434 big2.example.test
	wait_for 10 events_ge "$out" tls-certificate 3
	stop_pid "$SENTRY_PID"
	n=$(lines "$out")
	wait_for 10 lines_ge "$RS/tcp$fmt.log" "$n"
	if res=$(check "$out" "$RS/tcp$fmt.log" "$RS/tcp$fmt.meta" "$fmt" "$SENTRY_PID" exact) &&
	   jq -e -s 'length > 0' "$RS/tcp$fmt.log" >/dev/null; then
		pass "syslog_tcp_$fmt ($n lines intact and JSON through imtcp, octet-counted, 40 KB ones too)"
	else
		fail "syslog_tcp_$fmt" "$res; $(tail -c 300 "$RS/rsyslogd.err" 2>/dev/null)"
	fi
	if ecs_clean "$RS/tcp$fmt.log"; then
		pass "syslog_ecs_$fmt (as received: destination.domain is the SNI, no event.count, no empty object)"
	else
		fail "syslog_ecs_$fmt" "$(jq -c '{d: .destination, sni: .tls.client.server_name, e: .event}' "$RS/tcp$fmt.log" | head -3)"
	fi
}

# rsyslog stops and starts again in the middle: certsentry goes on
# capturing, holds what its 64 KiB queue can, counts the rest lost,
# reconnects and delivers the held lines; the sequence ids show the gap.
# Then, rsyslog gone with a line queued, certsentry still exits.
test_restart() {
	local ns=$1 out=$TMP/restart.json res="" lost want got i
	start_sentry "$ns" "$out" -i lo --every --stats-interval 3600 --metrics "127.0.0.1:$METRICS" \
		--syslog-server "tcp://127.0.0.1:${PORT[restart]}" --syslog-format 5424 --syslog-queue 65536 \
		|| { fail syslog_tcp_restart "start: $(tail -3 "$out")"; return; }
	for i in 1 2 3; do hs "$ns" 4433 "before-$i.example.test"; done
	# delivered: as many lines acknowledged by rsyslog as written to -o
	wait_for 10 all_delivered "$ns" "$out" \
		|| { fail syslog_tcp_restart "phase 1 not delivered: $(metric "$ns" certsentry_output_lines_total)"; }
	stop_pid "$RSYSLOG_PID"
	for i in 1 2 3; do hs "$ns" 4434 "during-$i.example.test"; done
	wait_for 10 events_ge "$out" tls-certificate 6
	lost=$(metric "$ns" certsentry_output_lines_lost_total)
	rsyslog_start "$ns" || { fail syslog_tcp_restart "rsyslog did not start again"; return; }
	for i in 1 2; do hs "$ns" 4433 "after-$i.example.test"; done
	wait_for 10 events_ge "$out" tls-certificate 8
	want=$(lines "$out")
	wait_for 20 sum_ge "$RS/restart.log" "${lost:-0}" "$want"
	got=$(lines "$RS/restart.log")
	if alive "$SENTRY_PID" && [ "${lost:-0}" -ge 1 ] && [ $((got + lost)) -eq "$want" ] &&
	   res=$(check "$out" "$RS/restart.log" "$RS/restart.meta" 5424 "$SENTRY_PID" lost) &&
	   grep -q after-2.example.test "$RS/restart.log" && jq -e -s 'length > 0' "$RS/restart.log" >/dev/null; then
		pass "syslog_tcp_restart ($want lines: $got delivered once each and intact, $lost lost to the full queue and counted, the gap in the sequence ids, reconnected)"
	else
		fail syslog_tcp_restart "alive=$(alive "$SENTRY_PID" && echo yes) lost=$lost got=$got want=$want: $res"
	fi
	stop_pid "$RSYSLOG_PID"
	hs "$ns" 4433 "last.example.test"
	wait_for 10 grep -q last.example.test "$out"
	kill -TERM "$SENTRY_PID"
	if wait_for 15 eval '! alive "$SENTRY_PID"'; then
		pass "syslog_tcp_exit_while_down (exited on SIGTERM with lines queued for an absent server)"
	else
		fail syslog_tcp_exit_while_down "still running 15 s after SIGTERM"
	fi
	stop_pid "$SENTRY_PID"
}

test_snippets
why=$(live_unavailable)
if [ -n "$why" ]; then
	skip "syslog through rsyslog" "$why"
elif ! command -v rsyslogd >/dev/null; then
	skip "syslog through rsyslog" "rsyslogd is not installed (Debian package rsyslog)"
elif ! "$ROOT/tools/mkpki.sh" "$PKI" >/dev/null 2>&1; then
	fail mkpki "could not make the test PKI"
else
	rsyslog_conf
	ns_new NS syslog || { fail syslog "netns"; summary; exit 1; }
	start_server "$NS" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" &&
		start_server "$NS" 4434 "$PKI/big.pem" "$PKI/big.key" "$PKI/inter.pem" ||
		fail syslog "s_server did not start"
	if rsyslog_start "$NS"; then
		test_matrix "$NS" 3164
		test_matrix "$NS" 5424
		test_restart "$NS"
	else
		fail syslog "rsyslogd did not start: $(cat "$RS/rsyslogd.err" 2>/dev/null)"
	fi
	stop_pid "$RSYSLOG_PID"
fi
summary

#!/usr/bin/env bash
# test_tail.sh - the event socket and `certsentry tail` as an unprivileged member of its group, live.
set -u
. "$(dirname "$0")/lib.sh"

PKI=$TMP/pki
HOST=www.example.test
GRP=cstail$$		# a throwaway group and user, removed at exit
USR=cstail$$

why=$(live_unavailable)
if [ -z "$why" ] && ! command -v setpriv >/dev/null; then why="setpriv (util-linux) missing"; fi
if [ -n "$why" ]; then
	skip "tail tests" "$why"
	summary
	exit 0
fi

tail_cleanup() {
	cleanup
	userdel "$USR" 2>/dev/null
	userdel "${USR}s" 2>/dev/null
	groupdel "$GRP" 2>/dev/null
}
trap tail_cleanup EXIT

groupadd "$GRP" && useradd -M -N -g nogroup -G "$GRP" -s /usr/sbin/nologin -d / "$USR" ||
	{ fail setup "could not make user $USR in group $GRP"; summary; exit 1; }
"$ROOT/tools/mkpki.sh" "$PKI" || { fail mkpki "could not make the test PKI"; summary; exit 1; }
LEAF_FP=$(fp "$PKI/leaf.pem")

# The socket's directory: root's, entered by the group (as systemd's RuntimeDirectory).
chmod 711 "$TMP"
RUN=$TMP/run
mkdir -m 750 "$RUN" && chgrp "$GRP" "$RUN"
SOCK=$RUN/events.sock
# a pin no certificate has: bad.example.test is an alert
echo "bad.example.test sha256:$(printf '0%.0s' $(seq 1 64))" >"$TMP/pins.txt"

# as_user NS CMD...: in NS as $USR (its groups: nogroup, and $GRP only as a member).
as_user() {
	local ns=$1; shift
	bg "$ns" setpriv --reuid="$USR" --regid=nogroup --init-groups "$@"
}

# tail_start NAME ARGS...: `certsentry tail` as the user; $TMP/NAME.out and .err.
tail_start() {
	local name=$1; shift
	as_user "$ns" "$BIN" tail --socket "$SOCK" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	TAIL_PID=$BG_PID
	wait_for 10 grep -q "connected to $SOCK" "$TMP/$name.err"
}

metric() {
	ip netns exec "$ns" curl -s "http://127.0.0.1:9464/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
metric_is() { [ "$(metric "$1")" = "$2" ]; }
lines_at_least() { [ "$(grep -c "$1" "$2")" -ge "$3" ]; }

ns_new ns tail || { fail setup "netns"; summary; exit 1; }
out=$TMP/sentry.json
start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" ||
	{ fail setup "s_server did not start"; summary; exit 1; }
start_sentry "$ns" "$out" -i lo --every --ca-file "$PKI/root.pem" --pins "$TMP/pins.txt" \
	--event-socket="$SOCK" --event-socket-group "$GRP" --event-socket-queue 524288 \
	--metrics 127.0.0.1:9464 ||
	{ fail setup "certsentry did not start: $(cat "$out")"; summary; exit 1; }
SERVICE_PID=$SENTRY_PID

# 0660, the group given, a socket.
perm=$(stat -c '%F %a %G' "$SOCK")
[ "$perm" = "socket 660 $GRP" ] && pass socket_permissions || fail socket_permissions "$perm"

# Not a member: refused by the kernel, and tail says why.
bg "$ns" setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN" tail --socket "$SOCK" \
	>/dev/null 2>"$TMP/nobody.err"
wait "$BG_PID"; rc=$?
stop_pid "$BG_PID"
if [ $rc = 1 ] && grep -q "Permission denied (membership of the socket's group is needed)" \
	"$TMP/nobody.err"; then pass not_a_member; else fail not_a_member "rc=$rc $(cat "$TMP/nobody.err")"; fi

# A member: the hello on stderr, the handshake's line as the service wrote it.
if tail_start all -f json; then
	ALL_PID=$TAIL_PID
	pass tail_connects
else
	ALL_PID=$TAIL_PID
	fail tail_connects "$(cat "$TMP/all.err")"
fi
tail_start alerts -f json --alerts-only || fail tail_alerts_connects "$(cat "$TMP/alerts.err")"
ALERTS_PID=$TAIL_PID
tail_start text -f text --color=never --sni 'bad.*' || fail tail_text_connects "$(cat "$TMP/text.err")"
TEXT_PID=$TAIL_PID

handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername "$HOST" || fail handshake "s_client failed"
wait_for 5 grep -q '"tls-certificate"' "$TMP/all.out"
line=$(events "$out" tls-certificate | head -1)
if [ -z "$line" ]; then
	fail tail_handshake "the service wrote no tls-certificate: $(cat "$out")"
elif grep -qFx "$line" <(jq -c . "$TMP/all.out"); then
	pass tail_handshake
else
	fail tail_handshake "tail got: $(cat "$TMP/all.out")"
fi
[ "$(jq -r '.certsentry.verdict' <<<"$line")" = ok ] || fail tail_handshake "verdict not ok: $line"

# An alert (a pin that does not match): --alerts-only sees it and nothing else.
handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername bad.example.test || fail handshake "s_client failed"
wait_for 5 grep -q 'bad.example.test' "$TMP/alerts.out"
kinds=$(jq -r '.event.kind' "$TMP/alerts.out" | sort -u | tr '\n' ' ')
n_alert=$(jq -r 'select(.tls.client.server_name == "bad.example.test") | .event.kind' \
	"$TMP/alerts.out" | grep -c alert)
if [ "$kinds" = "alert " ] && [ "$n_alert" -ge 1 ]; then pass tail_alerts_only
else fail tail_alerts_only "kinds '$kinds': $(cat "$TMP/alerts.out")"; fi

# Text made from the JSON: one line, the SNI filter applied, the verdict last.
wait_for 5 grep -q 'bad.example.test' "$TMP/text.out"
if [ "$(wc -l <"$TMP/text.out")" -ge 1 ] && ! grep -q "sni=$HOST" "$TMP/text.out" &&
	grep -q " tls-certificate 127.0.0.1:[0-9]* -> 127.0.0.1:4433 if=lo/.* sni=bad.example.test TLS1.2 .*sha256=${LEAF_FP:0:16} .*ALERT\[" \
	"$TMP/text.out" && ! grep -q $'\033' "$TMP/text.out" &&
	grep -qF " chain=2 pin_rule=\"bad.example.test ($TMP/pins.txt:1)\" expected=sha256:0000000000000000 ALERT[" \
	"$TMP/text.out"; then
	pass tail_text
else
	fail tail_text "$(cat "$TMP/text.out")"
fi

# A second live instance beside the service: both see the handshake; it
# cannot take the service's socket.
out2=$TMP/second.json
start_sentry "$ns" "$out2" -i lo || fail second_instance "did not start: $(cat "$out2")"
SECOND_PID=$SENTRY_PID
handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername second.example.test || fail handshake "s_client"
if wait_for 5 grep -q 'second.example.test' "$out2" && wait_for 5 grep -q 'second.example.test' "$TMP/all.out"
then pass second_instance; else fail second_instance "second: $(cat "$out2")"; fi
stop_pid "$SECOND_PID"
ip netns exec "$ns" "$BIN" -i lo --event-socket="$SOCK" -o "$TMP/third.json" 2>"$TMP/third.err"
rc=$?
if [ $rc = 2 ] && grep -q "another process is serving events there" "$TMP/third.err" &&
	[ -S "$SOCK" ]; then pass socket_not_taken; else fail socket_not_taken "rc=$rc $(cat "$TMP/third.err")"; fi

# Killing a tail disturbs nothing.
stop_pid "$ALL_PID"
handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername after-kill.example.test || fail handshake "s_client"
if wait_for 5 grep -q 'after-kill.example.test' "$out" && kill -0 "$SERVICE_PID" &&
	wait_for 5 metric_is certsentry_event_subscribers 2; then
	pass tail_killed
else
	fail tail_killed "service alive? $(kill -0 "$SERVICE_PID" && echo yes); subscribers $(metric certsentry_event_subscribers)"
fi

# One that never reads: dropped once its socket and queue are full, counted,
# and the service goes on reporting; a tail that reads stays.
bg "$ns" python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
time.sleep(120)' "$SOCK"
SLOW_PID=$BG_PID
wait_for 5 metric_is certsentry_event_subscribers 3
for _ in $(seq 1 20); do
	[ "$(metric certsentry_event_subscribers_dropped_total)" = 1 ] && break
	ip netns exec "$ns" timeout 10 openssl s_time -connect 127.0.0.1:4433 -new -time 1 \
		>/dev/null 2>&1
done
lost=$(metric certsentry_event_subscriber_lines_lost_total)
if [ "$(metric certsentry_event_subscribers_dropped_total)" = 1 ] && [ "${lost:-0}" -gt 0 ] &&
	[ "$(metric certsentry_event_subscribers)" = 2 ] && kill -0 "$SERVICE_PID"; then
	pass slow_dropped
else
	fail slow_dropped "dropped=$(metric certsentry_event_subscribers_dropped_total) lost=$lost subscribers=$(metric certsentry_event_subscribers)"
fi
stop_pid "$SLOW_PID"
handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername after-drop.example.test || fail handshake "s_client"
if wait_for 5 grep -q 'after-drop.example.test' "$out" &&
	wait_for 5 grep -q 'after-drop.example.test' "$TMP/alerts.out"; then
	pass after_drop
else
	fail after_drop "the service or the reading tail stopped"
fi

# The service restarts, this time dropping to a user of its own after
# attaching (the runtime directory is that user's, as systemd makes it):
# tail says so and reconnects by itself; the socket works without root.
stop_pid "$SERVICE_PID"
[ ! -e "$SOCK" ] && pass socket_removed || fail socket_removed "$SOCK left behind"
wait_for 10 grep -q "the service went away; reconnecting" "$TMP/alerts.err" ||
	fail tail_reconnect "no note: $(cat "$TMP/alerts.err")"
useradd -M -N -g nogroup -s /usr/sbin/nologin -d / "${USR}s" && chown "${USR}s" "$RUN" ||
	fail tail_reconnect "could not make the service's user"
start_sentry "$ns" "$TMP/restart.json" -i lo --pins "$TMP/pins.txt" --event-socket="$SOCK" \
	--event-socket-group "$GRP" --user "${USR}s" || fail tail_reconnect "service did not restart"
capeff() { awk '/^CapEff:/ { print $2 }' "/proc/$SENTRY_PID/status"; }
cap_zero() { [ "$(capeff)" = 0000000000000000 ]; }
wait_for 5 cap_zero && pass service_dropped || fail service_dropped "CapEff $(capeff)"
SERVICE_PID=$SENTRY_PID
if wait_for 10 grep -q "reconnected to $SOCK" "$TMP/alerts.err"; then
	handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername bad.example.test || fail handshake "s_client"
	if wait_for 5 lines_at_least bad.example.test "$TMP/alerts.out" 2; then
		pass tail_reconnect
	else
		fail tail_reconnect "nothing after reconnecting: $(cat "$TMP/alerts.out")"
	fi
else
	fail tail_reconnect "$(cat "$TMP/alerts.err")"
fi

stop_pid "$ALERTS_PID"
stop_pid "$TEXT_PID"
stop_pid "$SERVICE_PID"
# Dropped, seccomp refuses unlink: the socket stays (systemd removes the
# runtime directory), answers nobody, and the next start replaces it.
if start_sentry "$ns" "$TMP/next.json" -i lo --event-socket="$SOCK" --no-drop &&
	[ "$(stat -c %a "$SOCK")" = 660 ]; then
	pass stale_socket_replaced
else
	fail stale_socket_replaced "$(cat "$TMP/next.json")"
fi
stop_pid "$SENTRY_PID"
stop_pid "$SERVER_PID"
ns_del "$ns"
summary

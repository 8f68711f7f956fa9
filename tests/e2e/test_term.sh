#!/usr/bin/env bash
# test_term.sh - the terminal view on a real pty (script(1)): text, colour, the status line, the exit table.
set -u
. "$(dirname "$0")/lib.sh"

why=$(live_unavailable)
[ -z "$why" ] && ! command -v script >/dev/null && why="script (util-linux) not installed"
if [ -n "$why" ]; then
	skip "terminal view" "$why"
	summary
	exit 0
fi
PKI=$TMP/pki
"$ROOT/tools/mkpki.sh" "$PKI" >/dev/null 2>&1 || { fail mkpki "could not make the test PKI"; summary; exit 1; }

# on_pty NAME OUT ENV...: certsentry -i lo on a pty in a namespace with a
# server, two handshakes, two status-line seconds, then SIGTERM.
on_pty() {
	local name=$1 out=$2 ns spid cpid pidf=$TMP/$1.pid; shift 2
	ns_new ns "$name" || return 1
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" || { ns_del "$ns"; return 1; }
	# the shell under script(1) says certsentry's own PID before exec'ing it: the
	# SIGTERM must reach certsentry, not script or its shell, for the exit table
	rm -f "$pidf"
	bg "$ns" env "$@" script -qfec "echo \$\$ >$pidf; exec $BIN -i lo --every" "$out" >/dev/null
	spid=$BG_PID
	wait_for 10 grep -q certsentry-started "$out"
	handshake "$ns" 127.0.0.1:4433 -servername www.example.test -tls1_2
	handshake "$ns" 127.0.0.1:4433 -servername www.example.test -tls1_2
	wait_for 10 grep -q 'tls-certificate' "$out"
	wait_for 10 grep -q '2 certificates' "$out"
	cpid=$(cat "$pidf" 2>/dev/null)
	[ -n "$cpid" ] && kill "$cpid"
	wait_for 30 grep -q 'CLIENTS' "$out"
	stop_pid "$spid"
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

test_tty() {
	local out=$TMP/tty.out leaf
	on_pty tty "$out" TERM=xterm || { fail term_view "setup"; return; }
	leaf=$(fp "$PKI/leaf.pem" | cut -c1-16)
	if grep -aq '^{' "$out"; then
		fail term_text_default "JSON on a terminal: $(grep -a '^{' "$out" | head -1)"
	elif ! grep -aq 'tls-certificate .*sni=www.example.test' "$out"; then
		fail term_text_default "no text tls-certificate line: $(head -c 600 "$out")"
	else
		pass term_text_default
	fi
	grep -aq $'\033\\[32mverdict=ok\033\\[0m\\|\033\\[[0-9;]*mALERT\\[' "$out" && pass term_color_auto ||
		fail term_color_auto "no coloured verdict"
	grep -aq 'handshakes/s  [0-9]* certificates  [0-9]* alerts  [0-9]* unverified TLS 1.3  [0-9]* drops  [0-9]* flows' "$out" &&
		pass term_status_line || fail term_status_line "no status line"
	# every status line is cleared before the next line: none shares a screen line with an event
	if tr '\r' '\n' <"$out" | grep -aq 'flows.*\(tls-certificate\|certsentry-\)'; then
		fail term_status_cleared "a status line runs into an event line"
	else
		pass term_status_cleared
	fi
	grep -aq "^www.example.test  *$leaf  *2  *1  *" "$out" && pass term_summary_table ||
		fail term_summary_table "$(grep -a -A3 CLIENTS "$out")"
}

test_no_color() {
	local out=$TMP/nocolor.out
	on_pty nocol "$out" TERM=xterm NO_COLOR=1 || { fail term_no_color "setup"; return; }
	if grep -aq 'tls-certificate' "$out" && ! grep -aq $'\033\\[[0-9;]*m' "$out"; then
		pass term_no_color
	else
		fail term_no_color "colour escapes with NO_COLOR=1"
	fi
}

test_tty
test_no_color
leftover=$(ip netns list | grep -c -- "-$$" || true)
[ "$leftover" = 0 ] && pass no_namespaces_left || fail no_namespaces_left "$(ip netns list)"
summary

# lib.sh - shared by the end-to-end tests: namespaces, servers, checks, cleanup.
# Every namespace, process and file a test makes is registered here and
# removed by the EXIT trap, whether the test passed, failed or was killed.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${CERTSENTRY:-$ROOT/build/certsentry}
TMP=$(mktemp -d /tmp/certsentry-e2e.XXXXXX)
NS_LIST=()
PIDS=()
PASSED=0 FAILED=0 SKIPPED=0

cleanup() {
	local p ns
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	for ns in "${NS_LIST[@]}"; do ns_try_del "$ns"; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { PASSED=$((PASSED + 1)); echo "PASS: $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $1: $2"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "SKIPPED: $1: $2"; }
summary() { echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"; [ "$FAILED" -eq 0 ]; }

# Why live tests cannot run here, or nothing.
live_unavailable() {
	[ "$(id -u)" = 0 ] || { echo "not root"; return; }
	[ -r /sys/kernel/btf/vmlinux ] || { echo "kernel has no BTF (/sys/kernel/btf/vmlinux)"; return; }
	ip netns add cs-probe-$$ 2>/dev/null || { echo "cannot create network namespaces"; return; }
	ip netns del cs-probe-$$
	[ -x "$BIN" ] || echo "$BIN not built"
}

# require_live WHAT: where live tests cannot run, WHAT is skipped and the test ends here.
require_live() {
	local why
	why=$(live_unavailable)
	[ -z "$why" ] && return 0
	skip "$1" "$why"
	summary
	exit 0
}

# ns_new VAR NAME: makes namespace cs-NAME-PID with lo up, stores its name in
# VAR, and registers it for removal at exit (so no command substitution: the
# registration must happen in this shell).
ns_new() {
	local _name="cs-$2-$$"
	ip netns add "$_name" || return 1
	NS_LIST+=("$_name")
	ip -n "$_name" link set lo up
	printf -v "$1" '%s' "$_name"
}

# ns_try_del NS: `ip netns del` fails with EBUSY while another mount
# namespace (an `ip netns exec` still exiting) holds the bind mount; retry.
ns_try_del() {
	local _
	for _ in $(seq 1 30); do
		[ -e "/run/netns/$1" ] || return 0
		ip netns del "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "WARNING: namespace $1 could not be removed" >&2
	return 1
}

# ns_del NS: a namespace that will not go stays registered, so the exit
# trap tries again and the cleanup check reports it.
ns_del() {
	ns_try_del "$1" || return 0
	local keep=() n
	for n in "${NS_LIST[@]}"; do [ "$n" != "$1" ] && keep+=("$n"); done
	NS_LIST=("${keep[@]}")
}

# bg NS CMD...: run in the namespace, in the background; sets BG_PID.
bg() {
	local ns=$1; shift
	ip netns exec "$ns" "$@" &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	local t=$(( $1 * 10 )); shift
	while [ $t -gt 0 ]; do "$@" 2>/dev/null && return 0; sleep 0.1; t=$((t - 1)); done
	return 1
}

# start_sentry NS OUTFILE ARGS...: certsentry in NS, ready when it says so.
start_sentry() {
	local ns=$1 out=$2; shift 2
	bg "$ns" "$BIN" -o "$out" "$@"
	SENTRY_PID=$BG_PID
	wait_for 10 grep -q certsentry-started "$out"
}

# stop_pid PID: ends a process we started, reaps it and forgets it, so the
# exit cleanup never signals a PID the system has since reused.
stop_pid() {
	local keep=() p
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
	PIDS=("${keep[@]}")
	return 0
}

# start_server NS PORT CERT KEY CHAIN [s_server args...]
start_server() {
	local ns=$1 port=$2 cert=$3 key=$4 chain=$5; shift 5
	bg "$ns" openssl s_server -quiet -naccept 1000000 -accept "$port" -cert "$cert" -key "$key" \
		${chain:+-cert_chain "$chain"} "$@"
	SERVER_PID=$BG_PID
	wait_for 10 ip netns exec "$ns" sh -c "ss -ltnH | grep -q ':$port '"
}

# nginx_start NS DIR: nginx -p DIR (see nginx_conf) in NS, until its workers
# run (2 or more children); NGINX_PID: the master's PID.
nginx_start() {
	bg "$1" nginx -p "$2" -c "$2/nginx.conf"
	NGINX_PID=$BG_PID
	wait_for 10 sh -c "[ \$(pgrep -c -P $NGINX_PID) -ge 2 ]"
}

# nginx_reload MASTER: SIGHUP, then until the reload is over: new workers,
# as many as before, and none of the old ones left (an old worker accepts
# until its SIGQUIT arrives: a connection made before then can reach it).
# NGINX_WORKERS: the new workers' PIDs.
nginx_reload() {
	local m=$1 old n
	old=$(pgrep -P "$m" | tr '\n' ' ')
	n=$(wc -w <<<"$old")
	kill -HUP "$m" || return 1
	wait_for 30 nginx_reloaded "$m" "$n" $old || return 1
	NGINX_WORKERS=$(pgrep -P "$m" | tr '\n' ' ')
}
# nginx_reloaded MASTER N OLD...: N children, none of them in OLD.
nginx_reloaded() {
	local m=$1 n=$2 now p; shift 2
	now=$(pgrep -P "$m")
	[ "$(grep -c . <<<"$now")" -ge "$n" ] || return 1
	for p in "$@"; do grep -qx "$p" <<<"$now" && return 1; done
	return 0
}

# nginx_conf DIR [-w WORKERS] [-c CONNECTIONS] [-k KEEPALIVE] [-p PROTOCOLS] SERVER...
# Writes DIR/nginx.conf (and DIR/tmp) for a private nginx (`nginx -p DIR -c
# DIR/nginx.conf`: its own pid, lock and temp files, never the system's service)
# serving full handshakes only (no session cache, no tickets: every connection
# shows its chain). SERVER is "LISTEN|NAME|CERT|KEY|BODY": what follows `listen`
# (e.g. "[::]:443 ssl ipv6only=off"), the server_name (may be empty), the chain
# and key files, and the body every request gets. Defaults: 2 workers, 256
# connections each, nginx's keepalive, TLSv1.2 and TLSv1.3.
nginx_conf() {
	local d=$1 workers=2 conns=256 keepalive='' protos='TLSv1.2 TLSv1.3' s listen name cert key body
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		-w) workers=$2; shift 2 ;;
		-c) conns=$2; shift 2 ;;
		-k) keepalive=$2; shift 2 ;;
		-p) protos=$2; shift 2 ;;
		-*) echo "nginx_conf: unknown option $1" >&2; return 1 ;;
		*) break ;;
		esac
	done
	[ $# -gt 0 ] || { echo "nginx_conf: no server given" >&2; return 1; }
	mkdir -p "$d/tmp" || return 1
	{
		printf 'worker_processes %s;\ndaemon off;\nmaster_process on;\n' "$workers"
		printf 'pid %s/nginx.pid;\nlock_file %s/nginx.lock;\nerror_log %s/error.log warn;\n' "$d" "$d" "$d"
		printf 'events { worker_connections %s; }\nhttp {\n\taccess_log off;\n' "$conns"
		for s in body proxy fastcgi uwsgi scgi; do printf '\t%s_temp_path %s/tmp/%s;\n' "${s/body/client_body}" "$d" "$s"; done
		[ -n "$keepalive" ] && printf '\tkeepalive_timeout %s;\n' "$keepalive"
		printf '\tssl_protocols %s;\n\tssl_session_cache off;\n\tssl_session_tickets off;\n' "$protos"
		for s in "$@"; do
			IFS='|' read -r listen name cert key body <<<"$s"
			printf '\tserver {\n\t\tlisten %s;\n' "$listen"
			[ -n "$name" ] && printf '\t\tserver_name %s;\n' "$name"
			printf '\t\tssl_certificate %s;\n\t\tssl_certificate_key %s;\n' "$cert" "$key"
			printf '\t\tlocation / { return 200 "%s\\n"; }\n\t}\n' "$body"
		done
		printf '}\n'
	} > "$d/nginx.conf"
}

# handshake NS HOST:PORT [s_client args...]: one full handshake, then close.
handshake() {
	local ns=$1 addr=$2; shift 2
	echo Q | timeout 10 ip netns exec "$ns" openssl s_client -connect "$addr" "$@" \
		>"$TMP/s_client.out" 2>&1
}

fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g'; }

# events FILE ACTION: the JSON lines with that event.action.
events() { jq -c --arg a "$2" 'select(.event.action == $a)' "$1" 2>/dev/null; }
count_events() { events "$1" "$2" | wc -l; }

# jq 1.6's -e takes its exit status from the last input alone, and is 0 when
# there is no input at all: judge JSON on stdin with these instead (jq -s: all
# inputs at once), never `jq -e FILTER FILE` nor `... | jq -e FILTER`.
# one_line [JQ-ARGS...] FILTER: stdin is one JSON value, and it passes FILTER.
one_line() { jq -e -s "${@:1:$#-1}" "length == 1 and any(.[0]; ${!#})"; }
# any_line [JQ-ARGS...] FILTER: some JSON value on stdin passes FILTER.
any_line() { jq -e -s "${@:1:$#-1}" "any(.[]; ${!#})"; }

#!/usr/bin/env bash
# test_uprobe.sh - the uprobe source live (tools/uprobedump): chains served by s_server, nginx
# and threads of our own, bound to their connections; a Go server's secrets.
set -u
. "$(dirname "$0")/lib.sh"

DUMP=$ROOT/build/tools/uprobedump
TLSMEM=$ROOT/build/tools/tlsmem
PKI=$TMP/pki
SADDR=10.77.0.2 CADDR=10.77.0.1 SADDR6=fd77::2 CADDR6=fd77::1
HOST=www.example.test

why=$(live_unavailable)
[ -z "$why" ] && { [ -x "$DUMP" ] && [ -x "$TLSMEM" ] || why="$DUMP or $TLSMEM not built"; }
[ -z "$why" ] && { command -v curl >/dev/null || why="no curl (make deps installs it)"; }
if [ -n "$why" ]; then
	skip "uprobe tests" "$why"
	summary
	exit 0
fi

der_fp() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
hex_fp() { python3 -c 'import hashlib, sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1])).hexdigest())' "$1"; }

# field LINE KEY: the value of KEY=VALUE in a uprobedump line.
field() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<"$1"; }

# start_dump OUT ARGS...: uprobedump (it reads every namespace's /proc itself).
start_dump() {
	local out=$1; shift
	"$DUMP" -c "$@" > "$out" 2>&1 &
	DUMP_PID=$!
	PIDS+=("$DUMP_PID")
	wait_for 10 grep -q uprobedump-started "$out"
}
# stop_dump: SIGTERM; the counters follow in its output.
stop_dump() { stop_pid "$DUMP_PID"; }
counter() { sed -n "s/^counter $2=//p" "$1"; }
# chains OUT TGID...: the chain lines of these processes.
chains() {
	local out=$1 t; shift
	for t in "$@"; do grep "^chain .* tgid=$t " "$out"; done
}

# curl_hs NS ADDR PORT NAME [curl args...]: one HTTPS request; prints the
# client's "ip port" (what the server's chain must be bound to).
curl_hs() {
	local ns=$1 addr=$2 port=$3 name=$4; shift 4
	case $addr in *:*) addr="[$addr]" ;; esac
	ip netns exec "$ns" timeout 10 curl -s -o /dev/null -w '%{local_ip} %{local_port}\n' \
		--cacert "$PKI/root.pem" --resolve "$name:$port:$addr" "$@" "https://$name:$port/"
}

# want_field NAME LINE KEY VALUE: fails NAME unless KEY is VALUE in LINE.
want_field() {
	[ "$(field "$2" "$3")" = "$4" ] && return 0
	fail "$1" "$3 $(field "$2" "$3"), want $4"
	return 1
}

# expect_chain NAME OUT TGIDS CLIENT_IP CLIENT_PORT SERVER SERVER_PORT FAMILY FP...:
# exactly one chain of these processes bound to that client port, as wanted.
expect_chain() {
	local name=$1 out=$2 tgids=$3 cip=$4 cport=$5 sip=$6 sport=$7 fam=$8; shift 8
	local want_der line n srv cli
	want_der=$(IFS=,; echo "$*")
	case $sip in *:*) srv="[$sip]:$sport" cli="[$cip]:$cport" ;; *) srv="$sip:$sport" cli="$cip:$cport" ;; esac
	# shellcheck disable=SC2086
	line=$(chains "$out" $tgids | grep -F " client=$cli ")
	n=$(grep -c . <<<"$line")
	if [ -z "$line" ] || [ "$n" != 1 ]; then
		fail "$name" "$n chains bound to client $cli (want 1): $(grep '^chain' "$out" | cut -c1-160)"
		return 1
	fi
	want_field "$name" "$line" server "$srv" && want_field "$name" "$line" family "$fam" &&
		want_field "$name" "$line" binding exact && want_field "$name" "$line" der "$want_der" &&
		pass "$name"
}

# wait_chains OUT COUNT TGID...: until that many chains of these processes arrived.
wait_chains() {
	local out=$1 n=$2; shift 2
	# shellcheck disable=SC2317
	have() { [ "$(chains "$out" "$@" | grep -c .)" -ge "$n" ]; }
	wait_for 30 have "$@"
}

"$ROOT/tools/mkpki.sh" "$PKI" >/dev/null 2>&1 &&
	"$ROOT/tools/mkpki.sh" "$PKI" leaf b b.example.test DNS:b.example.test >/dev/null 2>&1 ||
	{ fail mkpki "could not make the test PKI"; summary; exit 1; }
LEAF=$(der_fp "$PKI/leaf.pem") INTER=$(der_fp "$PKI/inter.pem") B=$(der_fp "$PKI/b.pem")

# Server and client namespaces joined by a veth pair, IPv4 and IPv6.
ns_new S usrv && ns_new C ucli &&
	ip link add csu0 netns "$C" type veth peer name csu1 netns "$S" ||
	{ fail setup "namespaces and veth"; summary; exit 1; }
ip -n "$S" addr add $SADDR/24 dev csu1
ip -n "$C" addr add $CADDR/24 dev csu0
ip -n "$S" addr add $SADDR6/64 dev csu1 nodad
ip -n "$C" addr add $CADDR6/64 dev csu0 nodad
ip -n "$S" link set csu1 up
ip -n "$C" link set csu0 up

# openssl s_server, TLS 1.3 and 1.2 (and a HelloRetryRequest), while
# `openssl x509` converts certificates beside it: DER output does not call
# i2d_X509 at all, PEM output does (from libcrypto): those calls are filtered.
test_s_server() {
	local out=$TMP/ss.out spid lp n_pem=0 c13 c12 chrr pem_pids=() p filtered
	start_server "$S" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" -www ||
		{ fail s_server "s_server did not start"; return; }
	spid=$SERVER_PID
	start_dump "$out" -n -p "$spid" ||
		{ fail s_server "uprobedump did not start: $(cat "$out")"; stop_pid "$spid"; return; }
	for _ in 1 2 3 4 5; do
		openssl x509 -in "$PKI/leaf.pem" -outform DER -out "$TMP/x.der" &
		wait $!
		openssl x509 -in "$PKI/leaf.pem" -outform PEM -out "$TMP/x.pem" &
		p=$!
		wait "$p" && n_pem=$((n_pem + 1)) pem_pids+=("$p")
	done
	c13=$(curl_hs "$C" $SADDR 4433 $HOST --tlsv1.3)
	c12=$(curl_hs "$C" $SADDR 4433 $HOST --tlsv1.2 --tls-max 1.2)
	wait_chains "$out" 2 "$spid"
	stop_dump
	stop_pid "$spid"
	[ -n "$c13" ] && [ -n "$c12" ] || { fail s_server "curl failed ('$c13' '$c12')"; return; }
	expect_chain s_server_tls13 "$out" "$spid" $c13 $SADDR 4433 4 "$LEAF" "$INTER"
	expect_chain s_server_tls12 "$out" "$spid" $c12 $SADDR 4433 4 "$LEAF" "$INTER"
	lp=$(chains "$out" "${pem_pids[@]}" | grep -c .)
	filtered=$(counter "$out" kernel_i2d_filtered_total)
	if [ "$lp" = 0 ] && [ "$filtered" -ge "$n_pem" ] && [ "$(chains "$out" "$spid" | grep -c .)" = 2 ]
	then
		pass "x509_beside_filtered ($n_pem PEM conversions filtered, no chain from them)"
	else
		fail x509_beside_filtered "chains from x509: $lp, filtered $filtered (>= $n_pem?), s_server chains: $(chains "$out" "$spid" | grep -c .)"
	fi

	# HelloRetryRequest: the server only takes P-256, the client offers X25519 first.
	out=$TMP/hrr.out
	start_server "$S" 4434 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" -www -groups P-256 ||
		{ fail hrr "s_server did not start"; return; }
	spid=$SERVER_PID
	start_dump "$out" -n -p "$spid" || { fail hrr "uprobedump did not start"; stop_pid "$spid"; return; }
	chrr=$(curl_hs "$C" $SADDR 4434 $HOST --tlsv1.3 --curves X25519:P-256)
	wait_chains "$out" 1 "$spid"
	stop_dump
	stop_pid "$spid"
	[ -n "$chrr" ] || { fail hrr "curl failed"; return; }
	expect_chain hello_retry_request "$out" "$spid" $chrr $SADDR 4434 4 "$LEAF" "$INTER"
}

# A chain longer than TLS_CHAIN_MAX (16): leaf + 18 intermediates.
test_long_chain() {
	local d=$TMP/long out=$TMP/long.out i prev=root spid c want=() line got
	mkdir -p "$d"
	cp "$PKI/root.pem" "$PKI/root.key" "$d/"
	for i in $(seq 1 18); do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/i$i.key" \
			-subj "/CN=intermediate $i" -out "$d/i$i.csr" 2>/dev/null &&
		openssl x509 -req -in "$d/i$i.csr" -CA "$d/$prev.pem" -CAkey "$d/$prev.key" \
			-CAcreateserial -days 30 -extfile <(printf 'basicConstraints=critical,CA:true\n') \
			-out "$d/i$i.pem" 2>/dev/null || { fail long_chain "making intermediate $i"; return; }
		prev=i$i
	done
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/leaf.key" \
		-subj "/CN=$HOST" -out "$d/leaf.csr" 2>/dev/null &&
	openssl x509 -req -in "$d/leaf.csr" -CA "$d/i18.pem" -CAkey "$d/i18.key" -CAcreateserial \
		-days 30 -out "$d/leaf.pem" 2>/dev/null || { fail long_chain "making the leaf"; return; }
	: > "$d/chain.pem"
	for i in $(seq 18 -1 1); do cat "$d/i$i.pem" >> "$d/chain.pem"; done
	want+=("$(der_fp "$d/leaf.pem")")
	for i in $(seq 18 -1 4); do want+=("$(der_fp "$d/i$i.pem")"); done
	start_server "$S" 4435 "$d/leaf.pem" "$d/leaf.key" "$d/chain.pem" -www ||
		{ fail long_chain "s_server did not start"; return; }
	spid=$SERVER_PID
	start_dump "$out" -n -p "$spid" || { fail long_chain "uprobedump did not start"; stop_pid "$spid"; return; }
	c=$(curl_hs "$C" $SADDR 4435 $HOST --tlsv1.3 -k)
	wait_chains "$out" 1 "$spid"
	stop_dump
	stop_pid "$spid"
	[ -n "$c" ] || { fail long_chain "curl failed"; return; }
	expect_chain long_chain "$out" "$spid" $c $SADDR 4435 4 "${want[@]}" || return
	line=$(chains "$out" "$spid")
	got="$(field "$line" n)/$(field "$line" total) $(counter "$out" chains_truncated)"
	got+=" $(counter "$out" kernel_certificates_past_chain_max_total)"
	[ "$got" = "16/19 1 3" ] && pass "long_chain_counted (16 of 19 kept, truncation counted)" ||
		fail long_chain_counted "kept/total, truncated, past the bound: $got (want 16/19 1 3)"
}

# big_leaf NAME SANS: a leaf under the test intermediate with that many DNS names.
big_leaf() {
	local name=$1 n=$2
	"$ROOT/tools/mkpki.sh" "$PKI" leaf "$name" "$name.example.test" \
		$(seq -f "DNS:host-%05g.$name.example.test" 1 "$n") >/dev/null 2>&1
}

# Certificates of 12 and 20 KB in one chain (the Certificate message outgrows
# OpenSSL's first 16 KiB buffer between them), and one over the 64 KiB copy
# bound (the chain is dropped, counted).
test_big_certs() {
	local out=$TMP/fat.out spid c size got
	big_leaf fat 330 && big_leaf huge 2300 || { fail big_certs "making big leaves"; return; }
	cat "$PKI/big.pem" "$PKI/inter.pem" > "$TMP/fat.chain"
	start_server "$S" 4436 "$PKI/fat.pem" "$PKI/fat.key" "$TMP/fat.chain" -www ||
		{ fail big_certs "s_server did not start"; return; }
	spid=$SERVER_PID
	start_dump "$out" -n -p "$spid" || { fail big_certs "uprobedump did not start"; stop_pid "$spid"; return; }
	c=$(curl_hs "$C" $SADDR 4436 fat.example.test --tlsv1.3 -k)
	wait_chains "$out" 1 "$spid"
	stop_dump
	stop_pid "$spid"
	[ -n "$c" ] || { fail big_certs "curl failed"; return; }
	expect_chain big_certs "$out" "$spid" $c $SADDR 4436 4 "$(der_fp "$PKI/fat.pem")" \
		"$(der_fp "$PKI/big.pem")" "$INTER"

	out=$TMP/huge.out
	size=$(openssl x509 -in "$PKI/huge.pem" -outform DER | wc -c)
	[ "$size" -gt 65536 ] || { fail oversize "the huge leaf is not over 64 KiB ($size)"; return; }
	start_server "$S" 4437 "$PKI/huge.pem" "$PKI/huge.key" "$PKI/inter.pem" -www ||
		{ fail oversize "s_server did not start"; return; }
	spid=$SERVER_PID
	start_dump "$out" -n -p "$spid" || { fail oversize "uprobedump did not start"; stop_pid "$spid"; return; }
	echo Q | ip netns exec "$C" timeout 10 openssl s_client -connect $SADDR:4437 -tls1_3 >/dev/null 2>&1
	wait_for 30 sh -c "[ \$(ip netns exec $S ss -tnH state established '( sport = :4437 )' | wc -l) = 0 ]"
	stop_dump
	stop_pid "$spid"
	got="$(chains "$out" "$spid" | grep -c .) $(counter "$out" kernel_certificates_oversize_total)"
	got+=" $(counter "$out" chains_oversize)"
	[ "$got" = "0 1 1" ] && pass "oversize_counted (a $size-byte leaf: no chain, counted)" ||
		fail oversize_counted "chains, oversize in the kernel, chains dropped: $got (want 0 1 1)"
}

# run_tlsmem OUT DUMPOUT MODE THREADS: tools/tlsmem observed from its start.
run_tlsmem() {
	local out=$1 dout=$2 mode=$3 n=$4 flag=$TMP/go.$3
	rm -f "$flag"
	bg "$S" "$TLSMEM" -c "$PKI/leaf.chain.pem" -k "$PKI/leaf.key" -x "$PKI/b.chain.pem" \
		-y "$PKI/b.key" -w "$flag" -n "$n" -m "$mode" > "$out" 2>&1
	MEM_PID=$BG_PID
	wait_for 30 grep -q '^ready' "$out" || return 1
	start_dump "$dout" -n -p "$MEM_PID" -r 200 || return 1
	touch "$flag"
}

# Threads of one process build their chains at once (records interleave),
# then send in the reverse order: each chain is bound to its own thread's socket.
test_threads() {
	local out=$TMP/mem.out dout=$TMP/memdump.out line tid lport ok=0
	run_tlsmem "$out" "$dout" send 4 || { fail threads "tlsmem or uprobedump did not start"; return; }
	wait_for 10 grep -q '^done' "$out"
	wait_chains "$dout" 4 "$MEM_PID"
	stop_dump
	while read -r line; do
		tid=$(field "$line" tid) lport=$(field "$line" lport)
		# The sending socket is the chain's "server" side here.
		[ "$(chains "$dout" "$MEM_PID" | grep " tid=$tid " |
		     grep -c " server=127.0.0.1:$lport .*der=$LEAF,$INTER$")" = 1 ] && ok=$((ok + 1))
	done < <(grep '^sent' "$out")
	stop_pid "$MEM_PID"
	[ "$ok" = 4 ] && [ "$(chains "$dout" "$MEM_PID" | grep -c .)" = 4 ] &&
		pass "interleaved_threads (4 chains, each bound to its thread's socket)" ||
		fail interleaved_threads "$ok of 4 bound right: $(grep -h '^sent\|^chain' "$out" "$dout")"
}

# A thread builds a chain (certificate b) and never sends it, then builds and
# sends another (the test leaf): the first is dropped, counted.
test_orphan() {
	local out=$TMP/orph.out dout=$TMP/orphdump.out
	run_tlsmem "$out" "$dout" orphan 3 || { fail orphan "tlsmem or uprobedump did not start"; return; }
	wait_for 10 grep -q '^done' "$out"
	wait_chains "$dout" 3 "$MEM_PID"
	stop_dump
	stop_pid "$MEM_PID"
	if [ "$(chains "$dout" "$MEM_PID" | grep -c "der=$LEAF,$INTER$")" = 3 ] &&
	   [ "$(chains "$dout" "$MEM_PID" | grep -c .)" = 3 ] &&
	   [ "$(counter "$dout" chains_orphaned)" = 3 ] &&
	   [ "$(counter "$dout" kernel_threads_pending)" = 0 ] &&
	   [ "$(counter "$dout" kernel_chains_restarted_total)" = 3 ]; then
		pass "unsent_chain_orphaned (3 threads: the sent chain bound, the unsent one counted)"
	else
		fail unsent_chain_orphaned "$(grep -h '^chain\|orphaned\|restarted\|pending' "$dout")"
	fi
}

# The process ends with chains built and not sent: they expire, their kernel
# state is removed.
test_exit_mid_chain() {
	local out=$TMP/exit.out dout=$TMP/exitdump.out
	run_tlsmem "$out" "$dout" exit 3 || { fail exit_mid_chain "tlsmem or uprobedump did not start"; return; }
	wait_for 10 grep -q '^exiting' "$out"
	wait "$MEM_PID" 2>/dev/null	# it ends by itself
	stop_pid "$MEM_PID"
	stop_dump
	if [ "$(counter "$dout" kernel_chains_total)" = 3 ] && [ "$(counter "$dout" chains_expired)" = 3 ] &&
	   [ "$(counter "$dout" chains_delivered)" = 0 ] &&
	   [ "$(counter "$dout" ended_state_removed_total)" -ge 3 ] &&
	   [ "$(counter "$dout" kernel_threads_pending)" = 0 ]; then
		pass "exit_mid_chain (3 chains expired, kernel state removed)"
	else
		fail exit_mid_chain "$(grep -h 'chains\|ended_state' "$dout")"
	fi
}

# nginx (Debian), two names with their own certificates, TLS 1.2 and 1.3,
# IPv4 (on an IPv6 socket: v4-mapped) and IPv6, found by discovery; then a
# reload: the new workers are covered before any rescan.
test_nginx() {
	local d=$TMP/nginx out=$TMP/nginx.out out2=$TMP/nginx2.out npid workers new v name fp addr
	local fam c cr n=0 dump2 t
	command -v nginx >/dev/null || { skip nginx "nginx is not installed (apt-get install nginx-light)"; return; }
	nginx_conf "$d" "[::]:443 ssl ipv6only=off|$HOST|$PKI/leaf.chain.pem|$PKI/leaf.key|a" \
		"[::]:443 ssl|b.example.test|$PKI/b.chain.pem|$PKI/b.key|b"
	if ! nginx_start "$S" "$d"; then
		fail nginx "nginx did not start: $(tail -3 "$d/error.log" 2>/dev/null)"
		stop_pid "$NGINX_PID"
		return
	fi
	npid=$NGINX_PID
	workers=$(pgrep -P "$npid" | tr '\n' ' ')
	# A second instance beside the first, told only the master's pid: the
	# workers count as its children.
	start_dump "$out2" -n -p "$npid" -r 600000 ||
		{ fail nginx "uprobedump -p did not start: $(cat "$out2")"; stop_pid "$npid"; return; }
	dump2=$DUMP_PID
	start_dump "$out" -r 600000 || { fail nginx "uprobedump did not start: $(cat "$out")"
		stop_pid "$dump2"; stop_pid "$npid"; return; }
	: > "$TMP/nginx.clients"
	for v in 1.3 1.2; do
		for name in $HOST b.example.test; do
			for addr in $SADDR $SADDR6; do
				c=$(curl_hs "$C" "$addr" 443 "$name" --tlsv1.2 --tls-max "$v")
				echo "$v $name $addr $c" >> "$TMP/nginx.clients"
				n=$((n + 1))
			done
		done
	done
	# shellcheck disable=SC2086
	wait_chains "$out" "$n" $workers
	# Reload: new workers, forked after the scan; the request waits until
	# the old workers are gone, so only a new one can take it.
	new=
	nginx_reload "$npid" && new=$NGINX_WORKERS
	cr=$(curl_hs "$C" $SADDR 443 $HOST --tlsv1.3)
	# shellcheck disable=SC2086
	wait_chains "$out" 1 $new
	# shellcheck disable=SC2086
	wait_chains "$out2" 1 $new
	stop_dump
	stop_pid "$dump2"
	stop_pid "$npid"
	while read -r v name addr c; do
		[ -n "$c" ] || { fail "nginx_tls${v}_${name%%.*}_$addr" "curl failed"; continue; }
		fp=$LEAF fam=4
		[ "$name" = b.example.test ] && fp=$B
		case $addr in *:*) fam=6 ;; esac
		t="tls${v}_${name%%.*}_$addr"
		# shellcheck disable=SC2086
		expect_chain "nginx_$t" "$out" "$workers" $c "$addr" 443 "$fam" "$fp" "$INTER"
		# shellcheck disable=SC2086
		expect_chain "nginx_master_pid_$t" "$out2" "$workers" $c "$addr" 443 "$fam" "$fp" "$INTER"
	done < "$TMP/nginx.clients"
	# shellcheck disable=SC2086
	[ -n "$cr" ] && expect_chain nginx_master_pid_reload "$out2" "$new" $cr $SADDR 443 4 "$LEAF" "$INTER"
	# shellcheck disable=SC2086
	if [ -n "$new" ] && [ -n "$cr" ] &&
	   expect_chain nginx_reload_new_worker "$out" "$new" $cr $SADDR 443 4 "$LEAF" "$INTER"; then
		[ "$(counter "$out" kernel_i2d_vma_lookups_total)" -ge 1 ] &&
			pass "nginx_reload_found_in_kernel (the new worker's caller found from its VMA)" ||
			fail nginx_reload_found_in_kernel "no VMA lookup counted"
	else
		fail nginx_reload "new workers '$new', curl '$cr'"
	fi
}

# A Go crypto/tls server without a KeyLogWriter: writeKeyLog's arguments,
# checked against what curl's own key log says for the same connections.
test_go() {
	local d=$TMP/go out=$TMP/go.out gpid kl=$TMP/curl.keys label r s line ok=0 want=0
	command -v go >/dev/null || { skip go "no go toolchain (apt-get install golang-go)"; return; }
	mkdir -p "$d"
	cat > "$d/main.go" <<-'EOF'
	// A crypto/tls server with no KeyLogWriter, for the writeKeyLog uprobe.
	package main

	import (
		"crypto/tls"
		"fmt"
		"net/http"
		"os"
	)

	func main() {
		cert, err := tls.LoadX509KeyPair(os.Args[2], os.Args[3])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ok := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }
		srv := &http.Server{Addr: os.Args[1], Handler: http.HandlerFunc(ok),
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
		fmt.Fprintln(os.Stderr, srv.ListenAndServeTLS("", ""))
		os.Exit(1)
	}
	EOF
	printf 'module tlssrv\n\ngo 1.19\n' > "$d/go.mod"
	(cd "$d" && GOCACHE=$TMP/gocache GOPATH=$TMP/gopath HOME=$TMP GOFLAGS=-mod=mod \
		go build -o tlssrv . > "$d/build.log" 2>&1) ||
		{ fail go "go build: $(tail -3 "$d/build.log")"; return; }
	bg "$S" "$d/tlssrv" "$SADDR:8443" "$PKI/leaf.chain.pem" "$PKI/leaf.key"
	gpid=$BG_PID
	wait_for 10 ip netns exec "$S" sh -c "ss -ltnH | grep -q ':8443 '" ||
		{ fail go "Go server did not start"; stop_pid "$gpid"; return; }
	start_dump "$out" -r 600000 || { fail go "uprobedump did not start"; stop_pid "$gpid"; return; }
	(umask 077; : > "$kl")
	SSLKEYLOGFILE=$kl curl_hs "$C" $SADDR 8443 $HOST --tlsv1.3 > /dev/null
	SSLKEYLOGFILE=$kl curl_hs "$C" $SADDR 8443 $HOST --tlsv1.2 --tls-max 1.2 > /dev/null
	# Go logs these five (not EXPORTER_SECRET).
	want=$(grep -cE '^(CLIENT_RANDOM|(CLIENT|SERVER)_(HANDSHAKE_TRAFFIC_SECRET|TRAFFIC_SECRET_0)) ' "$kl")
	wait_for 30 sh -c "[ \$(grep -c '^secret ' '$out') -ge $want ]"
	stop_dump
	stop_pid "$gpid"
	while read -r label r s; do
		line=$(grep "^secret label=$label random=$r " "$out")
		[ "$(grep -c . <<<"$line")" = 1 ] && [ "$(field "$line" sha256)" = "$(hex_fp "$s")" ] &&
			[ "$(field "$line" len)" = $((${#s} / 2)) ] && ok=$((ok + 1))
	done < <(grep -E '^(CLIENT_RANDOM|(CLIENT|SERVER)_(HANDSHAKE_TRAFFIC_SECRET|TRAFFIC_SECRET_0)) ' "$kl")
	if [ "$want" = 5 ] && [ "$ok" = 5 ]; then
		pass "go_writekeylog (TLS 1.3 and 1.2 secrets equal to curl's key log, by client_random)"
	else
		fail go_writekeylog "$ok of $want key log lines matched: $(grep '^secret' "$out" | cut -c1-100)"
	fi
}

# Bad options name what is wrong.
test_bad_options() {
	local e
	e=$("$DUMP" -n -P /nonexistent/libx.so 2>&1)
	case $e in
	*"--uprobe-path /nonexistent/libx.so: No such file"*) pass bad_path ;;
	*) fail bad_path "$e" ;;
	esac
	e=$("$DUMP" -n -P /etc/hostname 2>&1)
	case $e in *"/etc/hostname: not an ELF file"*) pass path_not_elf ;; *) fail path_not_elf "$e" ;; esac
	e=$("$DUMP" -n -P "$(type -P true)" 2>&1)
	case $e in
	*"neither OpenSSL's i2d_X509 nor Go's"*) pass path_without_symbols ;;
	*) fail path_without_symbols "$e" ;;
	esac
	e=$("$DUMP" -n -p 2147483000 2>&1)
	case $e in *"--uprobe-pid 2147483000: no such process"*) pass bad_pid ;; *) fail bad_pid "$e" ;; esac
}

test_s_server
test_long_chain
test_big_certs
test_threads
test_orphan
test_exit_mid_chain
test_nginx
test_go
test_bad_options
summary

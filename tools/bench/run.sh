#!/usr/bin/env bash
# run.sh - `make bench`: every benchmark, then BENCHMARKS.md (readable) and
# bench/results.json (array of {name, value, unit, baseline_name,
# baseline_value, ratio, min, max}).
#
# Sections (BENCH_SECTIONS picks some, in this order by default):
#   fastpath    BPF_PROG_TEST_RUN ns/packet by class vs an empty TC program
#   offline     certsentry -r on a generated edge-like capture vs tcpdump (floor),
#               tshark, nDPI, ssldump: wall, handshakes/s, MB/s, RSS, certs found
#   iperf3      TCP throughput over a veth pair with and without certsentry -i
#   live_nginx  nginx (Debian nginx-light, private config) in a namespace, tlsload at
#               the highest rate the VM sustains, with nothing / certsentry --every /
#               certsentry (default) / tcpdump attached: handshakes/s, missed, ring
#               drops, CPU as a share of nginx's workers
#   latency     certsentry's capture-to-line histogram (--metrics) under that load
#               and under a moderate one, and under full load with certsentry at a
#               real-time priority (LAT_RT): the share of the latency that is waiting
#               for a CPU, with certsentry's run-queue wait (schedstat) per run
#   tls13_sources  issue 15: on that nginx, the share of TLS 1.3 chains checked with
#               the uprobe alone and a key log alone, and certsentry CPU per handshake
#               of each next to TLS 1.2 on the wire
#   inventory   issue 13: nginx and certsentry CPU without and with --inventory and
#               the fetchers (fetches hanging), and the first alert with a known CRL
#   memory      MEM_FLOWS connections mid-handshake injected through a TUN device
#               (flowgen + tunreplay): RSS, connection state, BPF map memory, bounds
#   verdict     build/tools/bench/verdictbench: cert_get + checks_run warm and with
#               distinct certificates vs bare OpenSSL; flow_segment pipeline
#
# A section is a function section_NAME that writes $W/NAME.md (a Markdown
# part) and $W/NAME.json (a results array) and returns 0, 1 (failed: the
# reason is in its .md) or 3 (not implemented). To add one: write the function
# and add its name to SECTIONS.
#
# Environment: BENCH_SECTIONS, BENCH_PCAP (reuse this capture instead of
# generating one), N12 N13 BULK_EVERY BULK_KB THREADS (capture size, see
# mkpcap.sh), RUNS (5), IPERF_SECONDS (5), CERTSENTRY, BENCH_OUT_MD, BENCH_OUT_JSON,
# LIVE_SECONDS (12) LIVE_RUNS (3) LIVE_THREADS (8) LIVE_TLS13_PCT (20) LAT_THREADS (1) LAT_RT (1: the chrt run; 0: none)
# LAT_N (20000: a full-load run's handshakes when live_nginx did not size them)
# LAT_CGROUP (1: two more full-load runs, certsentry in a cpu cgroup of its own as systemd's unit
# puts it, at CPUWeight 100 and at LAT_WEIGHT (1000); 0: none)
# LIVE_PERF (a directory: perf record -g of certsentry during its live runs;
# LIVE_PERF_MODE=all records the whole machine, =trace counts syscalls,
# =dwarf unwinds userspace stacks too),
# T13_RUNS (2) T13_VARIANTS (wire12 hidden13 uprobe13 keylog13), INV_RUNS (2), INV_TRIALS (5), MEM_FLOWS (100000) MEM_MAX_FLOWS (262144).
# Before/after in one run: BASE_FASTPATH and BASE_CERTSENTRY name the fastpath and
# certsentry binaries of a baseline build (e.g. main's); fastpath then runs both and
# iperf3 measures both programs' run time per packet (BPF stats on) in turn.
# Needs root. Every namespace and process it makes is removed at exit.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=../../tests/e2e/lib.sh
. "$ROOT/tests/e2e/lib.sh"	# TMP, ns_new, bg, wait_for, start_sentry, stop_pid, cleanup
trap 'set +e; cleanup; cg_cleanup' EXIT
W=$TMP
SECTIONS=${BENCH_SECTIONS:-fastpath offline iperf3 live_nginx latency tls13_sources inventory memory verdict}
RUNS=${RUNS:-5}
OUT_MD=${BENCH_OUT_MD:-$ROOT/BENCHMARKS.md}
OUT_JSON=${BENCH_OUT_JSON:-$ROOT/bench/results.json}
FASTPATH=${FASTPATH:-$ROOT/build/tools/bench/fastpath}
T0=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

log() { echo "bench: $*" >&2; }

# ---- bench-only Debian packages ----
bench_deps() {
	local p missing=()
	for p in tshark libndpi-bin ssldump hyperfine iperf3 time jq ethtool tcpdump; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	printf '%s\n' "wireshark-common wireshark-common/install-setuid boolean false" \
		"iperf3 iperf3/start_daemon boolean false" | debconf-set-selections
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "${missing[@]}" >"$W/apt.log" 2>&1 ||
		{ apt-get update -q >>"$W/apt.log" 2>&1 && apt-get install -y -q "${missing[@]}" >>"$W/apt.log" 2>&1; } ||
		log "warning: apt-get install ${missing[*]} failed (tail of log: $(tail -2 "$W/apt.log" | tr '\n' ' '))"
}

ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }

machine_md() {
	local cpu ram
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	ram=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
	cat <<-EOF
	# certsentry benchmarks

	Generated by \`make bench\` (tools/bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'); do not edit by hand.
	Every figure is also in \`bench/results.json\`. Ratios are value ÷ baseline.

	| machine | |
	|---|---|
	| CPU | $(nproc) × ${cpu:-unknown} |
	| RAM | $ram |
	| load average at start | $LOAD_START (other work on the machine inflates and spreads the times) |
	| kernel | $(uname -r) ($(uname -m)) |
	| OS | $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown}") |
	| clang | $(clang --version 2>/dev/null | head -1) |
	| libbpf | $(ver libbpf1) |
	| OpenSSL | $(openssl version 2>/dev/null) |
	| libpcap / tcpdump | $(ver libpcap0.8) / $(ver tcpdump) |
	| tshark | $(tshark --version 2>/dev/null | head -1 | sed 's/^TShark (Wireshark) //') |
	| nDPI (libndpi-bin) | $(ver libndpi-bin) |
	| ssldump | $(ver ssldump) |
	| hyperfine | $(hyperfine --version 2>/dev/null | awk '{print $2}') |
	| iperf3 | $(ver iperf3) |
	| certsentry | $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) |

	EOF
}

# stats VALUES... -> "median min max" (numbers, one per argument)
stats() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		print m, v[1], v[NR] }'
}

# ---- fastpath: BPF_PROG_TEST_RUN ----
section_fastpath() {
	local md=$W/fastpath.md js=$W/fastpath.json
	echo "## Fast path: ns per packet (BPF_PROG_TEST_RUN)" > "$md"
	echo >> "$md"
	if [ ! -x "$FASTPATH" ]; then echo "FAILED: $FASTPATH not built" >> "$md"; return 1; fi
	if ! "$FASTPATH" --json "$W/fp.raw.json" > "$W/fp.out" 2>&1; then
		{ echo "FAILED: fastpath exited with an error:"; echo '```'; tail -5 "$W/fp.out"; echo '```'; } >> "$md"
		return 1
	fi
	jq '[.[] | {name: ("fastpath: " + .name), value, unit, baseline_name: "empty TC program",
		baseline_value: .baseline, ratio, min, max}]' "$W/fp.raw.json" > "$js"
	{
		echo "\`build/tools/bench/fastpath\`: the cs_tc program and an empty TC program (the floor) run on the same"
		echo "crafted frame in the same process; median of the rounds, ns per packet. $(grep -m1 '^(ns per packet' "$W/fp.out" | tr -d '()')."
		echo
		echo "| packet class | cs_tc median (min–max) | empty | delta | ratio |"
		echo "|---|---|---|---|---|"
		jq -r '.[] | "| \(.name) | \(.value) (\(.min)–\(.max)) | \(.baseline) | +\(.value - .baseline | . * 10 | round / 10) | \(.ratio * 100 | round / 100) |"' "$W/fp.raw.json"
		echo
		echo "_shared: the packet's hint bucket holds one tracked direction of another connection (its tag answers,"
		echo "no lookup); _lookup: two of them, so the hash-table lookup (a miss) is forced, the worst case of an"
		echo "untracked packet. With 50,000 tracked directions in 262,144 buckets a random untracked packet finds two"
		echo "or more in its bucket with probability $(awk 'BEGIN { l = 50000 / 262144; printf "%.1f%%", (1 - exp(-l) * (1 + l)) * 100 }')."
		echo
		grep 'verified insns' "$W/fp.out" | sed 's/^/    /'
		echo
	} >> "$md"
	[ -n "${BASE_FASTPATH:-}" ] && fastpath_base "$md"
	return 0
}

# The baseline build's fastpath right after ours: both tables side by side.
fastpath_base() {	# MD
	if ! "$BASE_FASTPATH" --json "$W/fp.base.json" > "$W/fp.base.out" 2>&1; then
		echo "FAILED: the baseline fastpath ($BASE_FASTPATH): $(tail -2 "$W/fp.base.out")" >> "$1"
		return 1
	fi
	{
		echo "Against the baseline build \`$BASE_FASTPATH\`, run right after (ns per packet, median of the rounds;"
		echo "each against its own empty program):"
		echo
		echo "| packet class | baseline cs_tc (empty) | this cs_tc (empty) | delta over empty: baseline → this |"
		echo "|---|---|---|---|"
		jq -r -n --slurpfile b "$W/fp.base.json" --slurpfile t "$W/fp.raw.json" '
			$t[0][] as $x | ($b[0][] | select(.name == $x.name)) as $y |
			"| \($x.name) | \($y.value) (\($y.baseline)) | \($x.value) (\($x.baseline)) | +\($y.value - $y.baseline | . * 10 | round / 10) → +\($x.value - $x.baseline | . * 10 | round / 10) |"'
		echo
		grep 'verified insns' "$W/fp.base.out" | sed 's/^/    baseline /'
		echo
	} >> "$1"
}

# ---- offline: generated capture, certsentry -r vs the others ----
section_offline() {
	local md=$W/offline.md js=$W/offline.json pcap gen
	echo "## Offline replay (\`certsentry -r\`) vs tcpdump, tshark, nDPI, ssldump" > "$md"
	echo >> "$md"
	if [ -n "${BENCH_PCAP:-}" ]; then
		pcap=$BENCH_PCAP
		gen="(given capture \`$pcap\`, not generated)"
	else
		pcap=$W/bench.pcap
		log "offline: generating the capture (mkpcap.sh)"
		if ! "$ROOT/tools/bench/mkpcap.sh" "$pcap" > "$W/mkpcap.out" 2>&1; then
			{ echo "FAILED: mkpcap.sh:"; echo '```'; tail -8 "$W/mkpcap.out"; echo '```'; } >> "$md"
			return 1
		fi
		gen=$(grep '^mkpcap:' "$W/mkpcap.out" | tail -1)
	fi
	{
		echo "Capture: \`tools/bench/mkpcap.sh\` (namespace lo, MTU 1500, TSO/GSO/GRO off; 4 \`openssl s_server -WWW\`"
		echo "on 443/8443/4433/993 with 2 RSA-2048 and 2 ECDSA P-256 leaves + intermediate; \`tlsload\`:"
		echo "N12=${N12:-6000} TLS 1.2 + N13=${N13:-600} TLS 1.3 full handshakes, 80% SNI, every ${BULK_EVERY:-10}th downloads ${BULK_KB:-256} KiB,"
		echo "${THREADS:-4} threads). Generation:"
		echo
		echo "    $gen"
		grep '^tlsload:' "$W/mkpcap.out" 2>/dev/null | sed 's/^/    /'
		echo
	} >> "$md"
	log "offline: timing tcpdump, certsentry, tshark, ndpiReader, ssldump (a few minutes)"
	if ! HANDSHAKES=${N12:-6000} RUNS=$RUNS CERTSENTRY=$BIN "$ROOT/tools/bench/offline.sh" "$pcap" \
		--json "$js" --md "$W/offline.part.md" > "$W/offline.out" 2>&1; then
		{ echo "FAILED: offline.sh:"; echo '```'; tail -8 "$W/offline.out"; echo '```'; } >> "$md"
		return 1
	fi
	sed 1,2d "$W/offline.part.md" >> "$md"	# its own heading is replaced by ours
	[ -z "${BENCH_PCAP:-}" ] && rm -f "$pcap"
	return 0
}

# ---- iperf3 over a veth pair, with and without certsentry -i ----
# One variant: runs iperf3 RUNS times without and with certsentry (alternating,
# so drift of the VM hits both alike); appends JSON objects to $W/iperf3.json.l
# and a table row to $W/iperf3.rows.
# "run_time_ns run_cnt" of the empty program's attachments (BPF stats on).
empty_runtime() {
	bpftool -j prog show 2>/dev/null | jq -r '[.[] | select(.name == "cs_bench_empty")] |
		"\(map(.run_time_ns // 0) | add // 0) \(map(.run_cnt // 0) | add // 0)"'
}

# busy_ns: CPU time spent by all CPUs outside idle and iowait (/proc/stat), ns.
busy_ns() { awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" {printf "%.0f\n", ($2 + $3 + $4 + $7 + $8 + $9) * 1e9 / hz; exit}' /proc/stat; }

iperf_variant() {	# C S label NS-of-certsentry IFACE-of-certsentry
	local C=$1 S=$2 label=$3 sns=$4 sif=$5 r bps out without=() with=() empty=() wm wmin wmax om omin omax em emin emax tag
	local bs b0 b1 c0 c1 bpf_ns=0 bpf_cnt=0 busy=0 e_ns=0 e_cnt=0
	tag=$(printf %s "$label" | tr -c 'A-Za-z0-9' _)
	for r in $(seq 1 "$RUNS"); do
		bps=$(one_iperf "$C") || { echo "FAILED ($label): iperf3: $(tail -3 "$W/iperf.json")" >> "$W/iperf3.err"; return 1; }
		without+=("$bps")
		if [ -s "$W/empty.bpf.o" ] && empty_attach "$sns" "$sif"; then
			bps=$(one_iperf "$C") && empty+=("$bps")
			empty_detach "$sns" "$sif"
		fi
		out=$W/sentry-iperf-$tag-$r.json
		if ! start_sentry "$sns" "$out" -i "$sif" 2>>"$W/sentry.err"; then
			echo "FAILED ($label): certsentry -i $sif did not start: $(head -c 300 "$out") $(tail -3 "$W/sentry.err")" >> "$W/iperf3.err"
			stop_pid "$SENTRY_PID"; return 1
		fi
		bps=$(one_iperf "$C") || { echo "FAILED ($label): iperf3: $(tail -3 "$W/iperf.json")" >> "$W/iperf3.err"; stop_pid "$SENTRY_PID"; return 1; }
		with+=("$bps")
		stop_pid "$SENTRY_PID"
	done
	# What the program costs without the throughput noise: one more run of
	# each with BPF stats on (not among the runs above: the stats' two clock
	# reads per packet cost throughput too), the empty program's run time
	# per packet being what the stats add; the difference, times the packets,
	# over the machine's busy CPU time, is the share the program takes.
	if [ -s "$W/empty.bpf.o" ]; then
		"$BPFSTATS" > "$W/iperf-bpfstats" 2>&1 &
		bs=$!
		PIDS+=("$bs")
		if wait_for 5 grep -q 'bpfstats: on' "$W/iperf-bpfstats" && empty_attach "$sns" "$sif"; then
			b0=$(empty_runtime) && one_iperf "$C" > /dev/null && b1=$(empty_runtime) &&
				e_ns=$((${b1% *} - ${b0% *})) e_cnt=$((${b1#* } - ${b0#* }))
			empty_detach "$sns" "$sif"
			if start_sentry "$sns" "$W/sentry-iperf-stats.json" -i "$sif" 2>>"$W/sentry.err"; then
				b0=$(bpf_runtime "$SENTRY_PID" cs_tc) c0=$(busy_ns)
				one_iperf "$C" > /dev/null &&
					b1=$(bpf_runtime "$SENTRY_PID" cs_tc) c1=$(busy_ns) &&
					bpf_ns=$((${b1% *} - ${b0% *})) bpf_cnt=$((${b1#* } - ${b0#* })) busy=$((c1 - c0))
				stop_pid "$SENTRY_PID"
			fi
			[ -n "${BASE_CERTSENTRY:-}" ] && [ "$e_cnt" -gt 0 ] &&
				iperf_base "$C" "$sns" "$sif" "$label" "$((e_ns / e_cnt))"
		fi
		stop_pid "$bs"
	fi
	read -r wm wmin wmax <<< "$(stats "${with[@]}")"
	read -r om omin omax <<< "$(stats "${without[@]}")"
	em=null emin=null emax=null
	[ ${#empty[@]} -gt 0 ] && read -r em emin emax <<< "$(stats "${empty[@]}")"
	jq -n -c --arg l "$label" --argjson wm "$wm" --argjson wmin "$wmin" --argjson wmax "$wmax" \
		--argjson om "$om" --argjson omin "$omin" --argjson omax "$omax" \
		--argjson em "$em" --argjson emin "$emin" --argjson emax "$emax" '
		def g(x): (x / 1e7 | round) / 100;
		{name: "iperf3 veth TCP throughput (\($l)): without certsentry", value: g($om), unit: "Gbit/s",
		 baseline_name: null, baseline_value: null, ratio: null, min: g($omin), max: g($omax)},
		(if $em != null then
		 {name: "iperf3 veth TCP throughput (\($l)): empty TC program (clsact)", value: g($em), unit: "Gbit/s",
		  baseline_name: "without certsentry", baseline_value: g($om),
		  ratio: (($em / $om) * 1000 | round / 1000), min: g($emin), max: g($emax)} else empty end),
		{name: "iperf3 veth TCP throughput (\($l)): with certsentry -i", value: g($wm), unit: "Gbit/s",
		 baseline_name: "without certsentry", baseline_value: g($om),
		 ratio: (($wm / $om) * 1000 | round / 1000), min: g($wmin), max: g($wmax)},
		(if $busy > 0 and $bpfcnt > 0 and $ecnt > 0 then
		 {name: "iperf3 (\($l)): cs_tc run time per packet (BPF stats on)", value: (($bpfns / $bpfcnt) * 10 | round / 10),
		  unit: "ns", baseline_name: "empty TC program, BPF stats on", baseline_value: (($ens / $ecnt) * 10 | round / 10),
		  ratio: ((($bpfns / $bpfcnt) / ($ens / $ecnt)) * 100 | round / 100), min: null, max: null},
		 {name: "iperf3 (\($l)): cs_tc share of the busy CPU time, beyond the empty program", unit: "%",
		  value: ((($bpfns / $bpfcnt - $ens / $ecnt) * $bpfcnt / $busy) * 10000 | round / 100),
		  baseline_name: null, baseline_value: null, ratio: null, min: null, max: null}
		 else empty end)' --argjson bpfns "$bpf_ns" --argjson bpfcnt "$bpf_cnt" --argjson busy "$busy" \
		--argjson ens "$e_ns" --argjson ecnt "$e_cnt" >> "$W/iperf3.json.l"
	awk -v l="$label" -v om="$om" -v omin="$omin" -v omax="$omax" -v wm="$wm" -v wmin="$wmin" -v wmax="$wmax" \
		-v em="$em" -v emin="$emin" -v emax="$emax" -v bn="$bpf_ns" -v bc="$bpf_cnt" -v busy="$busy" \
		-v en="$e_ns" -v ec="$e_cnt" 'BEGIN {
		e = em == "null" ? "—" : sprintf("%.2f (%.2f–%.2f), %+.1f%%", em / 1e9, emin / 1e9, emax / 1e9, (em / om - 1) * 100)
		c = busy > 0 && bc > 0 && ec > 0 ? sprintf("%.1f − %.1f = %.1f ns, %.2f%%", bn / bc, en / ec, bn / bc - en / ec,
			(bn / bc - en / ec) * bc / busy * 100) : "—"
		printf "| %s | %.2f (%.2f–%.2f) | %s | %.2f (%.2f–%.2f) | %.3f | %+.1f%% | %s |\n", l, om / 1e9, omin / 1e9, omax / 1e9,
			e, wm / 1e9, wmin / 1e9, wmax / 1e9, wm / om, (wm / om - 1) * 100, c }' >> "$W/iperf3.rows"
	{
		echo "- $label, runs in Gbit/s without: $(printf '%s\n' "${without[@]}" | awk '{printf "%.2f ", $1 / 1e9}')"
		[ ${#empty[@]} -gt 0 ] && echo "  empty TC program: $(printf '%s\n' "${empty[@]}" | awk '{printf "%.2f ", $1 / 1e9}')"
		echo "  with: $(printf '%s\n' "${with[@]}" | awk '{printf "%.2f ", $1 / 1e9}')"
		echo "  certsentry's counters after its first run: \`$(grep -o 'packets=[0-9]*[^"]*' "$W/sentry-iperf-$tag-1.json" | head -1)\`"
		[ -s "$W/iperf3.base" ] && cat "$W/iperf3.base"
	} >> "$W/iperf3.runs"
	rm -f "$W/iperf3.base"
}

# The baseline build's program, BPF stats on, as certsentry's above: one run.
iperf_base() {	# C NS IFACE LABEL EMPTY-NS-PER-PACKET
	local b0 b1 c0 c1 ns cnt busy
	if ! BIN=$BASE_CERTSENTRY start_sentry "$2" "$W/sentry-iperf-base.json" -i "$3" 2>>"$W/sentry.err"; then
		echo "  baseline certsentry did not start" > "$W/iperf3.base"; stop_pid "$SENTRY_PID"; return 1
	fi
	b0=$(bpf_runtime "$SENTRY_PID" cs_tc) c0=$(busy_ns)
	one_iperf "$1" > /dev/null && b1=$(bpf_runtime "$SENTRY_PID" cs_tc) c1=$(busy_ns)
	stop_pid "$SENTRY_PID"
	[ -n "${b1:-}" ] || return 1
	ns=$((${b1% *} - ${b0% *})) cnt=$((${b1#* } - ${b0#* })) busy=$((c1 - c0))
	[ "$cnt" -gt 0 ] && [ "$busy" -gt 0 ] || return 1
	awk -v l="$4" -v n="$ns" -v c="$cnt" -v b="$busy" -v e="$5" 'BEGIN {
		printf "  baseline build (%s), BPF stats on: %.1f − %d = %.1f ns per packet, %.2f%% of busy CPU\n", ENVIRON["BASE_CERTSENTRY"],
			n / c, e, n / c - e, (n / c - e) * c / b * 100 }' > "$W/iperf3.base"
}

# The floor of "a TC program is attached": a program that returns TC_ACT_UNSPEC,
# on ingress and egress through clsact (compiled here: the Makefile builds only
# certsentry's object).
empty_build() {
	printf '%s\n' 'struct __sk_buff;' \
		'__attribute__((section("tc"), used)) int cs_bench_empty(struct __sk_buff *s) { (void)s; return -1; }' \
		'char _license[] __attribute__((section("license"), used)) = "GPL";' > "$W/empty.bpf.c"
	clang -O2 -g -target bpf -c "$W/empty.bpf.c" -o "$W/empty.bpf.o" 2>>"$W/iperf3.err" || rm -f "$W/empty.bpf.o"
}
empty_attach() {	# NS IFACE
	ip netns exec "$1" tc qdisc add dev "$2" clsact &&
	ip netns exec "$1" tc filter add dev "$2" ingress bpf da obj "$W/empty.bpf.o" sec tc &&
	ip netns exec "$1" tc filter add dev "$2" egress bpf da obj "$W/empty.bpf.o" sec tc
}
empty_detach() { ip netns exec "$1" tc qdisc del dev "$2" clsact 2>/dev/null; }

# The client and the server each on their own CPU (-A client,server): left to
# the scheduler, the two sharing one CPU now and then moved runs by 10-30 %.
one_iperf() {	# C -> bits/s the receiver saw
	ip netns exec "$1" iperf3 -c 10.231.0.2 -A "${IPERF_AFFINITY:-0,1}" -t "${IPERF_SECONDS:-5}" -J > "$W/iperf.json" 2>&1 &&
		jq -e -r '.end.sum_received.bits_per_second' "$W/iperf.json"
}

section_iperf3() {
	local md=$W/iperf3.md js=$W/iperf3.json C S SRV rc=0
	echo "## Throughput over a veth pair: iperf3 with and without certsentry attached" > "$md"
	echo >> "$md"
	command -v iperf3 >/dev/null || { echo "FAILED: iperf3 not installed" >> "$md"; return 1; }
	ns_new C ipc && ns_new S ips || { echo "FAILED: cannot create namespaces" >> "$md"; return 1; }
	if ! { ip link add csb0 netns "$C" type veth peer name csb1 netns "$S" &&
	       ip -n "$C" addr add 10.231.0.1/24 dev csb0 && ip -n "$C" link set csb0 up &&
	       ip -n "$S" addr add 10.231.0.2/24 dev csb1 && ip -n "$S" link set csb1 up; }; then
		echo "FAILED: veth setup" >> "$md"; ns_del "$C"; ns_del "$S"; return 1
	fi
	bg "$S" iperf3 -s -B 10.231.0.2 >/dev/null 2>&1
	SRV=$BG_PID
	if ! wait_for 10 ip netns exec "$S" sh -c "ss -ltnH | grep -q ':5201 '"; then
		echo "FAILED: iperf3 -s did not start" >> "$md"; stop_pid "$SRV"; ns_del "$C"; ns_del "$S"; return 1
	fi
	: > "$W/iperf3.json.l"; : > "$W/iperf3.rows"; : > "$W/iperf3.runs"; : > "$W/iperf3.err"
	empty_build
	BPFSTATS=$(helper bpfstats)
	iperf_variant "$C" "$S" "GSO on, certsentry on the sender's veth" "$C" csb0 || rc=1
	# TCP always builds GSO super-packets (the tc egress hook sees them whatever
	# the device offers); with TSO/GSO off on the sender's veth they are cut to
	# 1500-byte frames before the veth, so the receiver's ingress hook sees
	# every frame, as on an edge NIC without GRO.
	if [ $rc = 0 ] && ip netns exec "$C" ethtool -K csb0 tso off gso off >/dev/null 2>&1 &&
	   ip netns exec "$S" ethtool -K csb1 gro off >/dev/null 2>&1; then
		iperf_variant "$C" "$S" "1500-byte frames, certsentry on the receiver's veth" "$S" csb1 || rc=1
	fi
	stop_pid "$SRV"
	ns_del "$C"; ns_del "$S"
	jq -s . "$W/iperf3.json.l" > "$js"
	{
		echo "Two namespaces joined by a veth pair; \`iperf3 -c\` for ${IPERF_SECONDS:-5} s, one TCP stream; runs alternate"
		echo "without and with \`certsentry -i IFACE\` (ingress + egress) attached; $RUNS runs each; the receiver's throughput."
		echo "Plain TCP, not TLS: what every packet that is not a TLS handshake pays. With GSO on, the sender's hook sees"
		echo "super-packets of up to 64 KB; with TSO/GSO off on the sender (GRO off on the receiver) the receiver's ingress"
		echo "hook sees every 1500-byte frame. Both namespaces share the VM's 2 vCPUs (iperf3 -A 0,1 pins client and"
		echo "server apart), so runs still vary by several %, more than the program costs. The last column is what the"
		echo "program costs without that noise, from one more run of each with BPF stats on: cs_tc's run time per packet"
		echo "minus the empty program's (what the stats' clock reads add), and that difference times the packets as a"
		echo "share of the machine's busy CPU time (/proc/stat). On a CPU-bound path the throughput it takes is about that share."
		echo
		echo "| variant | without: Gbit/s median (min–max) | empty TC program (clsact) | with certsentry | ratio | change | cs_tc − empty per packet (stats on), share of busy CPU |"
		echo "|---|---|---|---|---|---|---|"
		cat "$W/iperf3.rows"
		echo
		cat "$W/iperf3.runs"
		echo
		cat "$W/iperf3.err"
	} >> "$md"
	[ -s "$W/iperf3.rows" ] || rc=1
	return $rc
}

# ---- planned sections ----
planned() {	# name title what
	printf '## %s\n\nNot measured yet: %s\n\n' "$2" "$3" > "$W/$1.md"
	echo '[]' > "$W/$1.json"
	return 3
}
# ---- shared by live_nginx, latency and memory ----

# CPU time of processes in ns: sum_exec_runtime of all their threads (/proc/PID/task/*/schedstat,
# user + system, ns resolution; utime/stime ticks are too coarse for tcpdump's few ms).
cpu_ns() {
	local p
	for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{t += $1} END {printf "%.0f\n", t}'
}

# Run-queue wait of processes in ns: time their threads were runnable and not running
# (/proc/PID/task/*/schedstat, second field): on a saturated machine, what a latency is made of.
wait_ns() {
	local p
	for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{t += $2} END {printf "%.0f\n", t}'
}

# forget_pid PID: a process of ours that has ended and been reaped: never signal it again.
forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# BPF object ids a process holds (KEY: map_id or prog_id), from its fds' fdinfo:
# this bpftool has no pid column, and other certsentry instances may be loaded.
pid_bpf_ids() { grep -h "^$2:" /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un; }

# "run_time_ns run_cnt" summed over the programs PID holds (counted while bpfstats runs),
# or over those named NAME only (cs_tc: the TC program, not the uprobe source's programs,
# whose tp_btf/sock_send_length runs on every send on the machine).
bpf_runtime() {	# PID [NAME]
	local id t=0 c=0 j
	for id in $(pid_bpf_ids "$1" prog_id); do
		j=$(bpftool -j prog show id "$id" 2>/dev/null) || continue
		[ -n "${2:-}" ] && [ "$(jq -r .name <<< "$j")" != "$2" ] && continue
		t=$((t + $(jq '.run_time_ns // 0' <<< "$j"))) c=$((c + $(jq '.run_cnt // 0' <<< "$j")))
	done
	echo "$t $c"
}

# scrape NS PORT: certsentry's /metrics, from inside its namespace (bash /dev/tcp).
scrape() {
	ip netns exec "$1" timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$2"' &&
		printf "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 && cat <&3' 2>/dev/null | tr -d '\r'
}

# metric FILE NAME: one value of a scraped metrics text.
metric() { awk -v n="$2" '$1 == n {print $2; exit}' "$1"; }

# kv FILE KEY: a key=N counter of certsentry's last certsentry-stopped line.
kv() {
	grep '"certsentry-stopped"' "$1" 2>/dev/null | tail -1 | jq -r .message 2>/dev/null |
		tr ' ' '\n' | awk -F'=' -v k="$2" '$1 == k {print $2}'
}

# Copies of helper binaries, like certsentry's: a rebuild during the run must not change them.
helper() {	# NAME -> path of the copy (or of the build output if it could not be copied)
	local b=$ROOT/build/tools/bench/$1
	[ "$1" = tunreplay ] && b=$ROOT/build/tools/tunreplay
	[ -x "$W/bin/$1" ] || { [ -x "$b" ] && cp "$b" "$W/bin/$1"; }
	if [ -x "$W/bin/$1" ]; then echo "$W/bin/$1"; else echo "$b"; fi
}

# ---- live_nginx: nginx in a namespace, tlsload, certsentry -i lo ----
#
# One namespace (cs-live-PID); lo at MTU 1500 with TSO/GSO/GRO off, as in
# mkpcap.sh, so the program sees edge-sized frames; on lo every packet passes
# the ingress hook once, which is the only hook certsentry attaches there.
# nginx (Debian, private prefix/config in $W/live, never the system service)
# serves TLS 1.2 and 1.3 with leaf + intermediate: ECDSA P-256 on 443, RSA-2048
# on 8443; tlsload (build/tools/bench/tlsload) makes full handshakes (no
# session cache, no tickets) from LIVE_THREADS threads, each connection its own
# client port (-P) on its own 127.0.0.K per run, so no 4-tuple repeats in a run
# or across runs.
LIVE_SECONDS=${LIVE_SECONDS:-12}	# per load run, sized from a calibration run
LIVE_RUNS=${LIVE_RUNS:-3}		# runs per variant (none, certsentry, tcpdump), alternating
LIVE_THREADS=${LIVE_THREADS:-8}
# base: BASE_CERTSENTRY with --every, as certsentry (before/after in one run)
LIVE_VARIANTS=${LIVE_VARIANTS:-none certsentry sentry_dedup tcpdump${BASE_CERTSENTRY:+ base}}
LIVE_TLS13_PCT=${LIVE_TLS13_PCT:-20}
LIVE_MAX_N=45000			# client ports 20000..65535
LIVE_NS='' NGINX_PID='' LIVE_N='' LIVE_ADDR=10 LIVE_PORT=9464

live_deps() {
	command -v nginx >/dev/null && return 0
	log "installing nginx-light (its service is not started: a policy-rc.d says 101 during the install)"
	local made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >> "$W/apt.log" 2>&1 ||
		{ apt-get update -q >> "$W/apt.log" 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >> "$W/apt.log" 2>&1; }
	[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
	command -v nginx >/dev/null
}

live_setup() {	# -> 0, or 1 with the reason in $W/live.err
	local p=$W/live pki=$W/live/pki now
	[ -n "$LIVE_NS" ] && return 0
	: > "$W/live.err"
	live_deps || { echo "nginx is not installed and apt-get could not install nginx-light" >> "$W/live.err"; return 1; }
	[ -x "$TLSLOAD" ] || { echo "$TLSLOAD not built (make all)" >> "$W/live.err"; return 1; }
	"$ROOT/tools/mkpki.sh" "$pki" >/dev/null 2>&1 || { echo "mkpki.sh failed" >> "$W/live.err"; return 1; }
	now=$(date -u +%s)
	"$ROOT/tools/mkpki.sh" "$pki" xleaf rsa www.example.test \
		"$(date -u -d "@$((now - 86400))" +%Y%m%d%H%M%SZ)" "$(date -u -d "@$((now + 31536000))" +%Y%m%d%H%M%SZ)" \
		sha256 rsa2048 DNS:www.example.test >/dev/null 2>&1 ||
		{ echo "mkpki.sh xleaf (RSA leaf) failed" >> "$W/live.err"; return 1; }
	nginx_conf "$p" -c 8192 -k 0 "443 ssl reuseport backlog=4096||$pki/leaf.chain.pem|$pki/leaf.key|ok" \
		"8443 ssl reuseport backlog=4096||$pki/rsa.chain.pem|$pki/rsa.key|ok" ||
		{ echo "could not write $p/nginx.conf" >> "$W/live.err"; return 1; }
	ns_new LIVE_NS live || { echo "cannot create a network namespace" >> "$W/live.err"; return 1; }
	ip -n "$LIVE_NS" link set lo mtu 1500
	ip netns exec "$LIVE_NS" ethtool -K lo tso off gso off gro off >/dev/null 2>&1 ||
		echo "warning: ethtool -K lo tso/gso/gro off failed" >> "$W/live.err"
	bg "$LIVE_NS" nginx -p "$p" -c "$p/nginx.conf" 2>> "$W/live.err"
	NGINX_PID=$BG_PID
	if ! wait_for 10 ip netns exec "$LIVE_NS" sh -c "ss -ltnH | grep -q ':443 ' && ss -ltnH | grep -q ':8443 '"; then
		echo "nginx did not start: $(tail -3 "$p/error.log" 2>/dev/null)" >> "$W/live.err"
		live_teardown
		return 1
	fi
	wait_for 5 sh -c "[ \$(pgrep -c -P $NGINX_PID) -ge 2 ]"
	return 0
}

live_teardown() {
	[ -n "$NGINX_PID" ] && stop_pid "$NGINX_PID"
	[ -n "$LIVE_NS" ] && ns_del "$LIVE_NS"
	LIVE_NS='' NGINX_PID=''
}

# live_load N THREADS OUT [tlsload args...]: one tlsload run of N handshakes (LIVE_TLS13_PCT %
# TLS 1.3), half to each port, on the next 127.0.0.K; its summary line in OUT.
live_load() {
	local n=$1 n13=$(($1 * LIVE_TLS13_PCT / 100))
	LIVE_ADDR=$((LIVE_ADDR + 1))
	ip netns exec "$LIVE_NS" "$TLSLOAD" -a "127.0.0.$LIVE_ADDR" -p 443,8443 -2 $((n - n13)) -3 "$n13" -b 0 \
		-t "$2" -S / -n example.test -P 20000 "${@:4}" > "$3" 2>&1
	grep -q '^tlsload:' "$3"
}
tl() { sed -n "s/.*[ :]$2=\([0-9.]*\).*/\1/p" "$1" | head -1; }	# tl FILE KEY: a tlsload figure

# live_one VARIANT RUN THREADS N: one load run with nothing, certsentry or tcpdump
# attached; appends one JSON object to $W/live.l.
live_one() {
	local v=$1 r=$2 th=$3 n=$4 mon='' bs='' out=$W/live-$1-$2 workers m0=0 m1=0 n0 n1 b0="0 0" b1="0 0" cert=null hid=null
	local t0="0 0" t1="0 0" bin=$BIN
	local drops=null p50=null p99=null latn=null cap=null tdrop=null kpk=null kev=null w0=0 w1=0
	workers=$(pgrep -P "$NGINX_PID" | tr '\n' ' ')
	local every=(--every)
	[ "$v" = sentry_dedup ] && every=()
	[ "$v" = base ] && bin=$BASE_CERTSENTRY
	case $v in
	certsentry|sentry_dedup|base)
		"$BPFSTATS" > "$out.bpfstats" 2>&1 &
		bs=$!
		PIDS+=("$bs")
		wait_for 5 grep -q 'bpfstats: on' "$out.bpfstats" || { stop_pid "$bs"; bs=; }
		if ! BIN=$bin start_sentry "$LIVE_NS" "$out.json" -i lo "${every[@]}" --metrics "127.0.0.1:$LIVE_PORT" 2>> "$W/live.err"; then
			echo "certsentry -i lo did not start: $(head -c 300 "$out.json")" >> "$W/live.err"
			stop_pid "$SENTRY_PID"; [ -n "$bs" ] && stop_pid "$bs"
			return 1
		fi
		mon=$SENTRY_PID
		b0=$(bpf_runtime "$mon") t0=$(bpf_runtime "$mon" cs_tc) ;;
	tcpdump)
		bg "$LIVE_NS" tcpdump -i lo -n -w /dev/null 'tcp port 443 or tcp port 8443' 2> "$out.tcpdump"
		mon=$BG_PID
		wait_for 10 grep -q "listening on" "$out.tcpdump" || { echo "tcpdump did not start" >> "$W/live.err"; stop_pid "$mon"; return 1; } ;;
	esac
	[ -n "$mon" ] && m0=$(cpu_ns "$mon") w0=$(wait_ns "$mon")
	n0=$(cpu_ns "$NGINX_PID" $workers)
	local perf=''
	if [ -n "${LIVE_PERF:-}" ] && [ "$v" != none ] && [ "$v" != tcpdump ]; then	# LIVE_PERF=DIR: profile certsentry (perf record -g)
		mkdir -p "$LIVE_PERF"
		# LIVE_PERF_MODE: record (certsentry), all (the whole machine: softirq,
		# the BPF program), trace (syscall counts and times, perf trace -s),
		# dwarf (certsentry with userspace call stacks)
		case ${LIVE_PERF_MODE:-record} in
		all) perf record -q -F 1999 -g -a -o "$LIVE_PERF/perf-$r.data" > /dev/null 2>&1 & ;;
		trace) perf trace -s -p "$mon" -o "$LIVE_PERF/perf-$r.data" > /dev/null 2>&1 & ;;
		dwarf) perf record -q -F 999 --call-graph dwarf,16384 -p "$mon" -o "$LIVE_PERF/perf-$r.data" > /dev/null 2>&1 & ;;
		*) perf record -q -F 1999 -g -p "$mon" -o "$LIVE_PERF/perf-$r.data" > /dev/null 2>&1 & ;;
		esac
		perf=$!
		PIDS+=("$perf")
	fi
	live_load "$n" "$th" "$out.load" || { echo "tlsload ($v run $r): $(tail -2 "$out.load")" >> "$W/live.err"; }
	sleep 1	# what the monitor still does after the last handshake counts too
	[ -n "$perf" ] && { kill -INT "$perf"; wait "$perf" 2>/dev/null; forget_pid "$perf"; perf=$LIVE_PERF/perf-$v-$r; mv "$LIVE_PERF/perf-$r.data" "$perf.data"; }
	[ -n "$mon" ] && m1=$(cpu_ns "$mon") w1=$(wait_ns "$mon")
	n1=$(cpu_ns "$NGINX_PID" $workers)
	case $v in
	certsentry|sentry_dedup|base)
		b1=$(bpf_runtime "$mon") t1=$(bpf_runtime "$mon" cs_tc)
		scrape "$LIVE_NS" "$LIVE_PORT" > "$out.metrics"
		stop_pid "$mon"
		[ -n "$bs" ] && stop_pid "$bs"
		[ -n "$perf" ] && { grep -h '"certsentry-stopped"' "$out.json" > "$perf.stopped"; cp "$out.metrics" "$perf.metrics"; }
		cert=$(grep -c '"action":"tls-certificate"' "$out.json")
		hid=$(grep -c '"action":"tls-certificate-hidden"' "$out.json")
		if [ "$v" = sentry_dedup ]; then	# repeats are folded into tls-summary events: count them in
			cert=$((cert + $(jq -r 'select(.event.action == "tls-summary" and .certsentry.summary.of == "tls-certificate") | .certsentry.summary.count' "$out.json" | awk '{s += $1} END {print s + 0}')))
			hid=$((hid + $(jq -r 'select(.event.action == "tls-summary" and .certsentry.summary.of == "tls-certificate-hidden") | .certsentry.summary.count' "$out.json" | awk '{s += $1} END {print s + 0}')))
		fi
		drops=$(kv "$out.json" ringbuf_drops) p50=$(kv "$out.json" 'latency_p50_us<') p99=$(kv "$out.json" 'latency_p99_us<')
		latn=$(kv "$out.json" latency_n) kpk=$(kv "$out.json" packets) kev=$(kv "$out.json" events) ;;
	tcpdump)
		stop_pid "$mon"
		cap=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$out.tcpdump")
		tdrop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$out.tcpdump") ;;
	esac
	jq -n -c --arg v "$v" --argjson r "$r" --argjson th "$th" \
		--argjson t12 "$(tl "$out.load" tls12)" --argjson t13 "$(tl "$out.load" tls13)" \
		--argjson failed "$(tl "$out.load" failed)" --argjson secs "$(tl "$out.load" seconds)" \
		--argjson mon $((m1 - m0)) --argjson ngx $((n1 - n0)) --argjson monw $((w1 - w0)) \
		--argjson bpfns $(( ${b1% *} - ${b0% *} )) --argjson bpfcnt $(( ${b1#* } - ${b0#* } )) \
		--argjson tcns $(( ${t1% *} - ${t0% *} )) --argjson tccnt $(( ${t1#* } - ${t0#* } )) \
		--argjson cert "${cert:-null}" --argjson hid "${hid:-null}" --argjson drops "${drops:-null}" \
		--argjson p50 "${p50:-null}" --argjson p99 "${p99:-null}" --argjson latn "${latn:-null}" \
		--argjson cap "${cap:-null}" --argjson tdrop "${tdrop:-null}" --argjson kpk "${kpk:-null}" --argjson kev "${kev:-null}" '
		{variant: $v, run: $r, threads: $th, tls12: $t12, tls13: $t13, failed: $failed, seconds: $secs,
		 hs: ($t12 + $t13), hs_per_s: (($t12 + $t13) / $secs),
		 mon_cpu_s: ($mon / 1e9), nginx_cpu_s: ($ngx / 1e9), mon_wait_s: ($monw / 1e9),
		 bpf_ns: $bpfns, bpf_runs: $bpfcnt, tc_ns: $tcns, tc_runs: $tccnt, cert_events: $cert, hidden_events: $hid,
		 missed: (if $cert == null then null else ($t12 - $cert) + ($t13 - $hid) end),
		 ringbuf_drops: $drops, p50_us: $p50, p99_us: $p99, latency_n: $latn,
		 tcpdump_captured: $cap, tcpdump_dropped: $tdrop, packets: $kpk, ring_records: $kev}' >> "$W/live.l"
}

section_live_nginx() {
	local md=$W/live_nginx.md js=$W/live_nginx.json r rate v
	echo "## Live load: nginx with certsentry attached" > "$md"
	echo >> "$md"
	TLSLOAD=$(helper tlsload) BPFSTATS=$(helper bpfstats)
	if ! live_setup; then { echo "FAILED: $(cat "$W/live.err")"; echo; } >> "$md"; return 1; fi
	: > "$W/live.l"
	# Calibration: the rate with nothing attached sizes every run to ~LIVE_SECONDS.
	log "live_nginx: calibrating the handshake rate"
	live_load 3000 "$LIVE_THREADS" "$W/live-calib.load"
	rate=$(tl "$W/live-calib.load" handshakes_per_s)
	LIVE_N=$(awk -v r="${rate:-0}" -v s="$LIVE_SECONDS" -v m="$LIVE_MAX_N" 'BEGIN {
		n = int(r * s / 100) * 100; if (n < 2000) n = 2000; if (n > m) n = m; print n }')
	log "live_nginx: ${rate:-?} handshakes/s; $LIVE_RUNS x 4 runs of $LIVE_N handshakes"
	for r in $(seq 1 "$LIVE_RUNS"); do
		for v in $LIVE_VARIANTS; do
			live_one "$v" "$r" "$LIVE_THREADS" "$LIVE_N" || { { echo "FAILED: $(cat "$W/live.err")"; echo; } >> "$md"; return 1; }
		done
	done
	live_report "$md" "$js" "$rate"
	case " $SECTIONS " in *" latency "*) ;; *) live_teardown ;; esac
	[ -s "$js" ] && [ "$(jq length "$js")" -gt 0 ]
}

live_report() {	# MD JSON CALIBRATION-RATE
	local md=$1 js=$2 v label
	# One summary object per variant, from the runs in $W/live.l.
	jq -s -c '
		def med: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def st(f): map(f) | {m: med, lo: min, hi: max};
		group_by(.variant)[] | {variant: .[0].variant, runs: length,
			rate: st(.hs_per_s), cpu: st(100 * .mon_cpu_s / .nginx_cpu_s),
			cpubpf: st(100 * (.mon_cpu_s + .bpf_ns / 1e9) / .nginx_cpu_s),
			us_per_hs: st(1e6 * .mon_cpu_s / .hs),
			missed: (if .[0].cert_events == null then null else map(.missed) | add end),
			drops: (if .[0].cert_events == null then null else map(.ringbuf_drops // 0) | add end),
			hs: (map(.hs) | add),
			bpf_ns_per_pkt: (if (map(.tc_runs // 0) | add) > 0 then ((map(.tc_ns) | add) / (map(.tc_runs) | add) * 10 | round / 10) else null end)}' \
		"$W/live.l" > "$W/live.sum"
	jq -s '
		def r(x): if x == null then null else x * 10 | round / 10 end;
		def r3(x): if x == null then null else x * 1000 | round / 1000 end;
		def lbl: {none: "nothing attached", certsentry: "certsentry -i lo --every",
			sentry_dedup: "certsentry -i lo (default: repeats as summaries)", tcpdump: "tcpdump -w /dev/null",
			base: "baseline build -i lo --every"}[.];
		(map(select(.variant == "none"))[0].rate.m) as $base |
		(map(select(.variant == "tcpdump"))[0].cpu.m) as $td |
		[.[] | . as $s |
		 {name: "live nginx handshakes/s: \(.variant | lbl)", value: r(.rate.m), unit: "handshakes/s",
		  baseline_name: (if .variant == "none" then null else "nothing attached" end),
		  baseline_value: (if .variant == "none" then null else r($base) end),
		  ratio: (if .variant == "none" or $base == null then null else r3(.rate.m / $base) end),
		  min: r(.rate.lo), max: r(.rate.hi)},
		 (select(.variant == "certsentry" or .variant == "sentry_dedup" or .variant == "base") |
		  {name: "live nginx: handshakes missed, \(.variant | lbl) (all runs)", value: .missed, unit: "handshakes",
		   baseline_name: "handshakes completed by the clients", baseline_value: .hs,
		   ratio: (if .hs > 0 then .missed / .hs else null end), min: null, max: null},
		  {name: "live nginx: ring-buffer drops, \(.variant | lbl) (all runs)", value: .drops, unit: "records",
		   baseline_name: null, baseline_value: null, ratio: null, min: null, max: null},
		  {name: "live nginx: CPU as % of nginx workers, \(.variant | lbl) (process)", value: r3(.cpu.m), unit: "%",
		   baseline_name: "tcpdump (process)", baseline_value: r3($td),
		   ratio: (if $td != null and $td > 0 then r3(.cpu.m / $td) else null end), min: r3(.cpu.lo), max: r3(.cpu.hi)},
		  {name: "live nginx: CPU as % of nginx workers, \(.variant | lbl) (process + BPF program)", value: r3(.cpubpf.m), unit: "%",
		   baseline_name: "target", baseline_value: 5, ratio: r3(.cpubpf.m / 5), min: r3(.cpubpf.lo), max: r3(.cpubpf.hi)},
		  {name: "live nginx: CPU per handshake, \(.variant | lbl) (process)", value: r(.us_per_hs.m), unit: "µs",
		   baseline_name: null, baseline_value: null, ratio: null, min: r(.us_per_hs.lo), max: r(.us_per_hs.hi)},
		  {name: "live nginx: cs_tc run time per packet, \(.variant | lbl) (BPF stats on)", value: .bpf_ns_per_pkt, unit: "ns",
		   baseline_name: null, baseline_value: null, ratio: null, min: null, max: null}),
		 (select(.variant == "tcpdump") |
		  {name: "live nginx: CPU as % of nginx workers, tcpdump (process)", value: r3(.cpu.m), unit: "%",
		   baseline_name: null, baseline_value: null, ratio: null, min: r3(.cpu.lo), max: r3(.cpu.hi)})]' \
		"$W/live.sum" > "$js"
	{
		echo "One namespace, nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') (\`worker_processes 2\`, \`access_log off\`, no session cache or tickets,"
		echo "\`keepalive_timeout 0\`) serving TLS 1.2 and 1.3: ECDSA P-256 leaf + intermediate on 443, RSA-2048 leaf +"
		echo "intermediate on 8443 (tools/mkpki.sh). \`tlsload\`: $LIVE_THREADS threads, full handshakes only (no resumption), ${LIVE_TLS13_PCT}% TLS 1.3,"
		echo "half to each port, \`GET /\` (3-byte body), each connection its own 4-tuple. lo at MTU 1500 with TSO/GSO/GRO off"
		echo "(edge-sized frames; on lo certsentry attaches ingress only, which sees every packet once). Calibration: $3"
		echo "handshakes/s with nothing attached, so each run is $LIVE_N handshakes (~${LIVE_SECONDS} s); $LIVE_RUNS runs per variant,"
		echo "alternating: nothing / \`certsentry -i lo --every -o FILE --metrics\` / \`certsentry -i lo -o FILE --metrics\` (default:"
		echo "first sighting written, repeats counted into tls-summary lines) / \`tcpdump -i lo -w /dev/null 'tcp port 443 or tcp port 8443'\`."
		echo "Clients, nginx and the monitor share the VM's 2 vCPUs (and other work on the machine): the rate is what it"
		echo "sustains, CPU-bound, and varies from run to run."
		echo
		echo "CPU: run time of every thread (/proc/PID/task/*/schedstat, user + system, ns) of the monitor and of the nginx"
		echo "workers, before and after each run (+1 s for the tail). Packet processing in softirq (the BPF program,"
		echo "tcpdump's packet-socket copy) is charged to whichever task was running, not to the monitor; for certsentry"
		echo "the BPF program's own run time is measured (BPF_ENABLE_STATS, held by \`build/tools/bench/bpfstats\` during its"
		echo "runs only) and added in the second CPU column. Missed = handshakes the clients completed − tls-certificate"
		echo "(TLS 1.2) and tls-certificate-hidden (TLS 1.3) events (+ the counts of their tls-summary lines)."
		echo
		echo "| variant | handshakes/s median (min–max) | vs nothing | CPU % of nginx workers: process | process + BPF program | CPU µs per handshake | missed | ring drops |"
		echo "|---|---|---|---|---|---|---|---|"
		for v in $LIVE_VARIANTS; do
			jq -r --arg v "$v" --argjson base "$(jq -s 'map(select(.variant == "none"))[0].rate.m // 0' "$W/live.sum")" '
				def f: if . == null then "—" else (. * 100 | round / 100 | tostring) end;
				def f0: if . == null then "—" else (round | tostring) end;
				def tri(x; g): if x.m == null then "—" else "\(x.m | g) (\(x.lo | g)–\(x.hi | g))" end;
				select(.variant == $v) |
				"| \({none: "nothing attached", certsentry: "certsentry `--every`", sentry_dedup: "certsentry (default: summaries)", tcpdump: "tcpdump", base: "baseline build `--every`"}[$v]) | \(tri(.rate; f0)) | \(if $base > 0 then (.rate.m / $base | f) else "—" end) | \(if $v == "none" then "—" else tri(.cpu; f) end) | \(if $v == "none" or $v == "tcpdump" then "—" else tri(.cpubpf; f) end) | \(if $v == "none" then "—" else tri(.us_per_hs; f) end) | \(if .missed == null then "—" else "\(.missed) of \(.hs)" end) | \(.drops // "—") |"' "$W/live.sum"
		done
		echo
		echo "cs_tc run time per packet while loaded (cs_tc alone, not the uprobe source's programs; BPF stats on, which"
		echo "adds two clock reads per run): $(jq -r 'select(.variant == "certsentry") | .bpf_ns_per_pkt' "$W/live.sum") ns"
		echo "(\`--every\` runs), $(jq -r 'select(.variant == "sentry_dedup") | .bpf_ns_per_pkt' "$W/live.sum") ns (default-mode runs)."
		[ -n "${BASE_CERTSENTRY:-}" ] &&
			echo "The baseline build \`$BASE_CERTSENTRY\` (\`--every\`): $(jq -r 'select(.variant == "base") | .bpf_ns_per_pkt' "$W/live.sum") ns."
		echo
		echo "Every run:"
		echo
		echo "| variant | run | TLS 1.2 + 1.3 done | failed | s | handshakes/s | monitor CPU s | nginx CPU s | BPF s | cert + hidden events | missed | drops | p50/p99 µs ≤ | packets seen / ring records | tcpdump captured/dropped |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		jq -r '"| \(.variant) | \(.run) | \(.tls12) + \(.tls13) | \(.failed) | \(.seconds) | \(.hs_per_s | round) | \(.mon_cpu_s * 1000 | round / 1000) | \(.nginx_cpu_s * 1000 | round / 1000) | \(.bpf_ns / 1e9 * 1000 | round / 1000) | \(if .cert_events then "\(.cert_events) + \(.hidden_events)" else "—" end) | \(.missed // "—") | \(.ringbuf_drops // "—") | \(if .p50_us then "\(.p50_us)/\(.p99_us)" else "—" end) | \(if .packets then "\(.packets) / \(.ring_records)" else "—" end) | \(if .tcpdump_captured then "\(.tcpdump_captured)/\(.tcpdump_dropped)" else "—" end) |"' "$W/live.l"
		echo
		[ -s "$W/live.err" ] && { echo "Notes: $(tr '\n' ' ' < "$W/live.err")"; echo; }
	} >> "$md"
}

# ---- latency: certsentry's own histogram, kernel packet timestamp -> line flushed ----
LAT_THREADS=${LAT_THREADS:-1}	# the moderate load: one client thread
LAT_RT=${LAT_RT:-1}		# 1: one more full-load run, certsentry at SCHED_FIFO 20 (run 90)
LAT_CGROUP=${LAT_CGROUP:-1}	# 1: two more, certsentry in its own cgroup (runs 91, 92)
LAT_WEIGHT=${LAT_WEIGHT:-1000}	# run 92's CPUWeight (systemd's default is 100)
CGROUPS=()

# cg_new NAME WEIGHT: a cpu cgroup of its own in CG_DIR, as systemd makes one per service, with
# systemd's CPUWeight=WEIGHT: cgroup v2's cpu.weight where v2 has the cpu controller, else the v1
# cpu hierarchy's cpu.shares (systemd's mapping: WEIGHT * 1024 / 100). Removed by cg_cleanup.
cg_new() {
	local root=/sys/fs/cgroup
	CG_DIR=
	if grep -qw cpu "$root/cgroup.subtree_control" 2>/dev/null; then
		mkdir "$root/$1" && CGROUPS+=("$root/$1") && echo "$2" > "$root/$1/cpu.weight" || return 1
		CG_DIR=$root/$1 CG_KIND="cgroup v2, cpu.weight $2"
	elif [ -w "$root/cpu" ]; then
		mkdir "$root/cpu/$1" && CGROUPS+=("$root/cpu/$1") &&
			echo $(($2 * 1024 / 100)) > "$root/cpu/$1/cpu.shares" || return 1
		CG_DIR=$root/cpu/$1 CG_KIND="cgroup v1 cpu, cpu.shares $(($2 * 1024 / 100))"
	else
		return 1
	fi
}

# cg_cleanup: removes the cgroups cg_new made (empty once their processes are stopped).
cg_cleanup() {
	local d
	for d in "${CGROUPS[@]}"; do rmdir "$d" 2>/dev/null; done
	CGROUPS=()
}

# lat_cg_run RUN WEIGHT: one full-load run with certsentry in a new cgroup of its own.
lat_cg_run() {
	local rc
	rm -f "$W/live-certsentry-$1".*
	cg_new "certsentry-bench-$$-$1.service" "$2" || { echo "cannot make a cpu cgroup (run $1)" >> "$W/live.err"; return 1; }
	echo "$CG_KIND" > "$W/cg-$1.kind"
	# ip netns exec remounts /sys: the group is reached through this shell's root
	printf '#!/bin/sh\necho $$ > /proc/%s/root%s/cgroup.procs && exec %s "$@"\n' "$$" "$CG_DIR" "$BIN" > "$W/bin/certsentry-cg$1"
	chmod +x "$W/bin/certsentry-cg$1"
	BIN=$W/bin/certsentry-cg$1 live_one certsentry "$1" "$LIVE_THREADS" "$LIVE_N"
	rc=$?
	cg_cleanup
	return $rc
}

# hist_merge FILES... -> "le count" lines (per bucket, not cumulative), summed over the files
hist_merge() {
	awk -F'[{}" ]+' '/^certsentry_report_latency_seconds_bucket/ && $3 != "+Inf" {
		c = $NF; if (FILENAME != f) { f = FILENAME; prev = 0 } d = c - prev; prev = c; h[$3] += d; o[$3] = $3 }
		END { for (k in h) print k, h[k] }' "$@" | sort -g
}
# hist_q FILE Q -> upper bound (µs) of the bucket holding quantile Q
hist_q() { awk -v q="$2" '{ le[NR] = $1; c[NR] = $2; n += $2 } END {
	want = q * n; s = 0; for (i = 1; i <= NR; i++) { s += c[i]; if (s >= want && s > 0) { printf "%g\n", le[i] * 1e6; exit } } }' "$1"; }

# lat_wait RUNS-FILTER -> "wait_s cpu_s" of certsentry summed over its runs in $W/live.l (jq filter on .run)
lat_wait() {
	jq -s -r "map(select(.variant == \"certsentry\" and ($1) and .mon_wait_s != null)) |
		\"\\(map(.mon_wait_s) | add // 0) \\(map(.mon_cpu_s) | add // 0)\"" "$W/live.l"
}

# lat_setting LABEL RUNS-FILTER METRICS...: one line of JSON, the full-load runs of certsentry under
# one scheduling setting: latency quantiles (µs, bucket upper bounds), events, the clients'
# handshakes/s (median of the runs: what it costs nginx) and certsentry's run-queue wait and CPU.
lat_setting() {
	local label=$1 f=$2 h=$W/lat.setting; shift 2
	hist_merge "$@" > "$h"
	[ -s "$h" ] || return 0
	jq -n -c --arg l "$label" --argjson p50 "$(hist_q "$h" 0.5)" --argjson p90 "$(hist_q "$h" 0.9)" \
		--argjson p99 "$(hist_q "$h" 0.99)" --argjson p999 "$(hist_q "$h" 0.999)" --argjson max "$(hist_q "$h" 1)" \
		--argjson n "$(awk '{s += $2} END {print s + 0}' "$h")" --slurpfile runs "$W/live.l" \
		--argjson wk "$(for m in "$@"; do metric "$m" certsentry_kernel_ring_wakeups_total; done | awk '{s += $1} END {print s + 0}')" '
		($runs | map(select(.variant == "certsentry" and ('"$f"')))) as $r |
		{label: $l, p50: $p50, p90: $p90, p99: $p99, p999: $p999, max: $max, n: $n, runs: ($r | length),
		 hs: ($r | map(.hs_per_s) | sort | if length > 0 then .[length / 2 | floor] | round else null end),
		 wait: ($r | map(.mon_wait_s) | add), cpu: ($r | map(.mon_cpu_s) | add),
		 wakeups: (($r | map(.hs) | add) as $hs | if $hs > 0 then ($wk / $hs * 100 | round / 100) else null end)}'
}

# lat_settings MD JSON FULL-METRICS...: the table of full-load latency by scheduling setting
# (default, own cgroup, own cgroup + weight, SCHED_FIFO), its rows appended to JSON.
lat_settings() {
	local md=$1 js=$2 set=$W/lat.settings; shift 2
	{
		lat_setting "default (the load's cgroup, nice 0)" '.run != 0 and .run < 90' "$@"
		[ -s "$W/live-certsentry-91.metrics" ] &&
			lat_setting "own cgroup, CPUWeight 100 ($(cat "$W/cg-91.kind"))" '.run == 91' "$W/live-certsentry-91.metrics"
		[ -s "$W/live-certsentry-92.metrics" ] &&
			lat_setting "own cgroup, CPUWeight $LAT_WEIGHT ($(cat "$W/cg-92.kind"))" '.run == 92' "$W/live-certsentry-92.metrics"
		[ -s "$W/live-certsentry-90.metrics" ] &&
			lat_setting "SCHED_FIFO 20 (chrt -f 20), the load's cgroup" '.run == 90' "$W/live-certsentry-90.metrics"
		lat_setting "moderate load ($LAT_THREADS client thread), default" '.run == 0' "$W/live-certsentry-0.metrics"
	} > "$set"
	[ "$(wc -l < "$set")" -gt 1 ] || return 0
	jq -s --slurpfile old "$js" '
		def e(nm; v; u; bv): {name: nm, value: v, unit: u, baseline_name: (if bv == null then null else "default" end),
			baseline_value: bv, ratio: (if bv != null and bv != 0 and v != null then (v / bv * 1000 | round / 1000) else null end),
			min: null, max: null};
		.[0] as $d | $old[0] + [.[] | select(.label | startswith("moderate") | not) | . as $s | ($s.label | sub(" \\(cgroup.*\\)$"; "")) as $l |
			e("latency full load by setting, \($l): p50"; .p50; "µs (bucket upper bound)"; (if . == $d then null else $d.p50 end)),
			e("latency full load by setting, \($l): p90"; .p90; "µs (bucket upper bound)"; (if . == $d then null else $d.p90 end)),
			e("latency full load by setting, \($l): p99"; .p99; "µs (bucket upper bound)"; (if . == $d then null else $d.p99 end)),
			e("latency full load by setting, \($l): nginx handshakes/s"; .hs; "handshakes/s"; (if . == $d then null else $d.hs end)),
			e("latency full load by setting, \($l): certsentry run-queue wait per CPU second";
			  (if .cpu > 0 then (.wait / .cpu * 1000 | round / 1000) else null end); "s/s"; null)]' "$set" > "$js.new" &&
		mv "$js.new" "$js"
	{
		echo "Full load by scheduling setting (certsentry's runs only; handshakes/s: the clients' rate during those runs,"
		echo "median, i.e. what the setting costs nginx; wait: certsentry's run-queue wait per second it ran; wakeups:"
		echo "\`certsentry_kernel_ring_wakeups_total\` per handshake). The last row is the moderate-load run, for scale:"
		echo
		echo "| certsentry | runs | events | p50 ≤ | p90 ≤ | p99 ≤ | p99.9 ≤ | max ≤ | handshakes/s | wait s/s | wakeups per handshake |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|"
		jq -r '"| \(.label) | \(.runs) | \(.n) | \(.p50) µs | \(.p90) µs | \(.p99) µs | \(.p999) µs | \(.max) µs | \(.hs // "—") | \(if .cpu > 0 then (.wait / .cpu * 100 | round / 100) else "—" end) | \(.wakeups // "—") |"' "$set"
		echo
	} >> "$md"
}

section_latency() {
	local md=$W/latency.md js=$W/latency.json q50 q99 q999 qmax n m50 m99 m999 mmax mn mrate
	local r50=null r99=null r999=null rmax=null rn=0 fw rw
	echo "## Latency: handshake to event" > "$md"
	echo >> "$md"
	TLSLOAD=$(helper tlsload) BPFSTATS=$(helper bpfstats)
	if ! live_setup; then { echo "FAILED: $(cat "$W/live.err")"; echo; } >> "$md"; return 1; fi
	[ -n "$LIVE_N" ] || LIVE_N=${LAT_N:-20000}
	[ -s "$W/live.l" ] || : > "$W/live.l"
	# Full load: the certsentry runs of live_nginx, or one of our own.
	if ! ls "$W"/live-certsentry-*.metrics >/dev/null 2>&1; then
		log "latency: one full-load run ($LIVE_N handshakes, $LIVE_THREADS threads)"
		live_one certsentry 1 "$LIVE_THREADS" "$LIVE_N" || { { echo "FAILED: $(cat "$W/live.err")"; echo; } >> "$md"; return 1; }
	fi
	log "latency: a moderate-load run ($LAT_THREADS client thread)"
	rm -f "$W/live-certsentry-0".*
	live_one certsentry 0 "$LAT_THREADS" $((LIVE_N / 4)) || { { echo "FAILED: $(cat "$W/live.err")"; echo; } >> "$md"; live_teardown; return 1; }
	# The same full load, certsentry ahead of nginx and the clients for a CPU: what is
	# left is ours (wakeups, batching, work), not waiting for a CPU.
	if [ "$LAT_RT" = 1 ] && command -v chrt > /dev/null; then
		log "latency: a full-load run with certsentry at SCHED_FIFO 20 (chrt -f 20)"
		rm -f "$W/live-certsentry-90".*
		printf '#!/bin/sh\nexec chrt -f 20 %s "$@"\n' "$BIN" > "$W/bin/certsentry-rt"
		chmod +x "$W/bin/certsentry-rt"
		BIN=$W/bin/certsentry-rt live_one certsentry 90 "$LIVE_THREADS" "$LIVE_N" ||
			{ { echo "FAILED: $(cat "$W/live.err")"; echo; } >> "$md"; live_teardown; return 1; }
	fi
	# The same full load with certsentry in a cgroup of its own, as dist/certsentry.service
	# runs it (the load stays where it is): at systemd's default weight, then at LAT_WEIGHT.
	if [ "$LAT_CGROUP" = 1 ]; then
		log "latency: full-load runs with certsentry in its own cpu cgroup (CPUWeight 100, $LAT_WEIGHT)"
		{ lat_cg_run 91 100 && lat_cg_run 92 "$LAT_WEIGHT"; } ||
			{ { echo "FAILED: $(cat "$W/live.err")"; echo; } >> "$md"; live_teardown; return 1; }
	fi
	live_teardown
	local full=() m
	for m in "$W"/live-certsentry-*.metrics; do
		case $m in */live-certsentry-0.metrics|*/live-certsentry-9[0-9].metrics) ;; *) full+=("$m") ;; esac
	done
	hist_merge "${full[@]}" > "$W/lat.full"
	hist_merge "$W/live-certsentry-0.metrics" > "$W/lat.mod"
	if [ -s "$W/live-certsentry-90.metrics" ]; then
		hist_merge "$W/live-certsentry-90.metrics" > "$W/lat.rt"
		rn=$(awk '{s += $2} END {print s + 0}' "$W/lat.rt")
		[ "$rn" -gt 0 ] && r50=$(hist_q "$W/lat.rt" 0.5) r99=$(hist_q "$W/lat.rt" 0.99) r999=$(hist_q "$W/lat.rt" 0.999) rmax=$(hist_q "$W/lat.rt" 1)
	else
		: > "$W/lat.rt"
	fi
	# certsentry's run-queue wait per second it ran: full-load runs, and the chrt one
	fw=$(lat_wait '.run != 0 and .run < 90') rw=$(lat_wait '.run == 90')
	n=$(awk '{s += $2} END {print s + 0}' "$W/lat.full")
	mn=$(awk '{s += $2} END {print s + 0}' "$W/lat.mod")
	if [ "$n" = 0 ] || [ "$mn" = 0 ]; then { echo "FAILED: no latency samples (metrics not scraped?)"; echo; } >> "$md"; return 1; fi
	q50=$(hist_q "$W/lat.full" 0.5) q99=$(hist_q "$W/lat.full" 0.99) q999=$(hist_q "$W/lat.full" 0.999) qmax=$(hist_q "$W/lat.full" 1)
	m50=$(hist_q "$W/lat.mod" 0.5) m99=$(hist_q "$W/lat.mod" 0.99) m999=$(hist_q "$W/lat.mod" 0.999) mmax=$(hist_q "$W/lat.mod" 1)
	mrate=$(jq -r 'select(.variant == "certsentry" and .run == 0) | .hs_per_s | round' "$W/live.l" | tail -1)
	jq -n --argjson q50 "$q50" --argjson q99 "$q99" --argjson q999 "$q999" --argjson qmax "$qmax" \
		--argjson m50 "${m50:-null}" --argjson m99 "${m99:-null}" --argjson m999 "${m999:-null}" --argjson mmax "${mmax:-null}" \
		--argjson r50 "$r50" --argjson r99 "$r99" --argjson r999 "$r999" --argjson rmax "$rmax" --argjson rn "$rn" \
		--argjson fw "${fw% *}" --argjson fc "${fw#* }" --argjson rw "${rw% *}" --argjson rc "${rw#* }" \
		--argjson n "$n" --argjson mn "$mn" '
		def e(nm; v; b; bv): {name: nm, value: v, unit: "µs (bucket upper bound)", baseline_name: b, baseline_value: bv,
			ratio: (if bv != null and v != null then (v / bv * 1000 | round / 1000) else null end), min: null, max: null};
		[e("latency full load: p50"; $q50; "target"; 1000), e("latency full load: p99"; $q99; "target"; 5000),
		 e("latency full load: p99.9"; $q999; null; null), e("latency full load: max"; $qmax; null; null),
		 e("latency moderate load: p50"; $m50; "target"; 1000), e("latency moderate load: p99"; $m99; "target"; 5000),
		 e("latency moderate load: p99.9"; $m999; null; null), e("latency moderate load: max"; $mmax; null; null),
		 {name: "latency samples: full load", value: $n, unit: "events", baseline_name: null, baseline_value: null, ratio: null, min: null, max: null},
		 {name: "latency samples: moderate load", value: $mn, unit: "events", baseline_name: null, baseline_value: null, ratio: null, min: null, max: null},
		 (if $rn > 0 then
		  e("latency full load, certsentry at SCHED_FIFO 20: p50"; $r50; "default priority"; $q50),
		  e("latency full load, certsentry at SCHED_FIFO 20: p99"; $r99; "default priority"; $q99),
		  e("latency full load, certsentry at SCHED_FIFO 20: p99.9"; $r999; "default priority"; $q999),
		  e("latency full load, certsentry at SCHED_FIFO 20: max"; $rmax; "default priority"; $qmax) else empty end),
		 {name: "certsentry run-queue wait per CPU second, full load", value: (if $fc > 0 then ($fw / $fc * 1000 | round / 1000) else null end),
		  unit: "s/s", baseline_name: null, baseline_value: null, ratio: null, min: null, max: null},
		 (if $rn > 0 then {name: "certsentry run-queue wait per CPU second, full load, SCHED_FIFO 20",
		  value: (if $rc > 0 then ($rw / $rc * 1000 | round / 1000) else null end),
		  unit: "s/s", baseline_name: null, baseline_value: null, ratio: null, min: null, max: null} else empty end)]' > "$js"
	{
		echo "certsentry's own measurement: from the kernel's CLOCK_MONOTONIC timestamp of the packet that completed the"
		echo "handshake message (the Certificate for TLS 1.2, the ServerHello for TLS 1.3's hidden chain) to the JSON line"
		echo "flushed (\`-o FILE\`), in log2 buckets of microseconds: every figure is a bucket's upper bound, so the true"
		echo "value lies between half of it and it. Histogram \`certsentry_report_latency_seconds\` scraped from \`--metrics\`"
		echo "at the end of each run (bash /dev/tcp inside the namespace) and summed over runs."
		echo "Full load: the certsentry runs of the live section ($LIVE_THREADS client threads, machine saturated), $n events."
		echo "Moderate load: one run with $LAT_THREADS client thread (${mrate:-?} handshakes/s), $mn events."
		echo
		echo "| load | p50 ≤ | p99 ≤ | p99.9 ≤ | max ≤ | target |"
		echo "|---|---|---|---|---|---|"
		printf '| full (%s threads) | %s µs | %s µs | %s µs | %s µs | p50 < 1000 µs, p99 < 5000 µs |\n' "$LIVE_THREADS" "$q50" "$q99" "$q999" "$qmax"
		printf '| moderate (%s thread) | %s µs | %s µs | %s µs | %s µs | |\n' "$LAT_THREADS" "$m50" "$m99" "$m999" "$mmax"
		[ "$rn" -gt 0 ] && printf '| full, certsentry at SCHED_FIFO 20 (`chrt -f 20`) | %s µs | %s µs | %s µs | %s µs | |\n' "$r50" "$r99" "$r999" "$rmax"
		echo
		echo "certsentry's run-queue wait (schedstat: runnable, not running) per second it ran, under full load:"
		awk -v w="${fw% *}" -v c="${fw#* }" 'BEGIN { printf "%.2f s (%.1f s waiting, %.1f s running)", (c > 0 ? w / c : 0), w, c }'
		[ "$rn" -gt 0 ] && awk -v w="${rw% *}" -v c="${rw#* }" 'BEGIN { printf "; at SCHED_FIFO 20, %.2f s (%.1f s waiting, %.1f s running)", (c > 0 ? w / c : 0), w, c }'
		echo ". The gap between the two rows is waiting for a CPU that nginx and the clients hold; what the"
		echo "SCHED_FIFO row still shows is certsentry's own: records that wait in the ring for a wakeup, batching, work."
		echo
		echo "Histogram (events per bucket; bucket = upper bound):"
		echo
		echo "| ≤ µs | full load | moderate load | full load, SCHED_FIFO 20 |"
		echo "|---|---|---|---|"
		awk 'FILENAME == ARGV[1] { f[$1] = $2; k[$1] = 1; next } FILENAME == ARGV[2] { m[$1] = $2; k[$1] = 1; next }
			{ r[$1] = $2; k[$1] = 1 }
			END { for (x in k) if (f[x] + m[x] + r[x] > 0) printf "%s %d %d %d\n", x, f[x], m[x], r[x] }' \
			"$W/lat.full" "$W/lat.mod" "$W/lat.rt" |
			sort -g | awk '{ printf "| %g | %d | %d | %d |\n", $1 * 1e6, $2, $3, $4 }'
		echo
	} >> "$md"
	lat_settings "$md" "$js" "${full[@]}"
}

# ---- shared by tls13_sources and inventory: one load run with a given certsentry ----

# src_run TAG VARIANT RUN N PCT13 LOADARGS [certsentry args...]: N handshakes
# (PCT13 % TLS 1.3; LOADARGS: more tlsload options, word-split) with
# `certsentry -i lo ARGS` attached (BPF stats on); one JSON object appended to
# $W/TAG.l: handshakes, CPU of certsentry, its BPF programs and the nginx
# processes in $SRC_NGINX, tls-certificate events by source and version.
src_run() {
	local tag=$1 v=$2 r=$3 n=$4 pct=$5 largs=$6 out=$W/$1-$2-$3 bs m0 m1 n0 n1 b0 b1 pids
	shift 6
	pids=$(for p in $SRC_NGINX; do echo "$p"; pgrep -P "$p"; done | tr '\n' ' ')
	"$BPFSTATS" > "$out.bpfstats" 2>&1 &
	bs=$!
	PIDS+=("$bs")
	wait_for 5 grep -q 'bpfstats: on' "$out.bpfstats" || { stop_pid "$bs"; bs=; }
	if ! start_sentry "$LIVE_NS" "$out.json" -i lo "$@" 2>> "$W/live.err"; then
		echo "certsentry -i lo $* did not start: $(head -c 300 "$out.json")" >> "$W/live.err"
		stop_pid "$SENTRY_PID"; [ -n "$bs" ] && stop_pid "$bs"
		return 1
	fi
	b0=$(bpf_runtime "$SENTRY_PID") m0=$(cpu_ns "$SENTRY_PID")
	# shellcheck disable=SC2086 # LOADARGS are words
	n0=$(cpu_ns $pids)
	# shellcheck disable=SC2086
	LIVE_TLS13_PCT=$pct live_load "$n" "$LIVE_THREADS" "$out.load" $largs ||
		echo "tlsload ($tag $v run $r): $(tail -2 "$out.load")" >> "$W/live.err"
	sleep 1	# what certsentry still does after the last handshake counts too
	b1=$(bpf_runtime "$SENTRY_PID") m1=$(cpu_ns "$SENTRY_PID")
	# shellcheck disable=SC2086
	n1=$(cpu_ns $pids)
	stop_pid "$SENTRY_PID"
	[ -n "$bs" ] && stop_pid "$bs"
	jq -n -c --arg v "$v" --argjson r "$r" --argjson t12 "$(tl "$out.load" tls12)" \
		--argjson t13 "$(tl "$out.load" tls13)" --argjson secs "$(tl "$out.load" seconds)" \
		--argjson mon $((m1 - m0)) --argjson ngx $((n1 - n0)) --argjson bpfns $(( ${b1% *} - ${b0% *} )) \
		--argjson drops "$(kv "$out.json" ringbuf_drops | grep . || echo null)" \
		--arg own "$(grep '"certsentry-stopped"' "$out.json" | tail -1 | jq -r .message | tr ' ' '\n' |
			grep -E '^(keylog|uprobe|unverified)' | paste -sd ' ')" '
		reduce (inputs | select(.event.action == "tls-certificate" or .event.action == "tls-certificate-hidden")) as $e
			({}; .["\($e.event.action | sub("tls-certificate"; "cert"))/\($e.tls.version)/\($e.certsentry.source // "none")"] += 1) |
		{variant: $v, run: $r, tls12: $t12, tls13: $t13, hs: ($t12 + $t13), seconds: $secs,
		 hs_per_s: (($t12 + $t13) / $secs), mon_cpu_s: ($mon / 1e9), nginx_cpu_s: ($ngx / 1e9),
		 bpf_s: ($bpfns / 1e9), ringbuf_drops: $drops, own: $own, events: .}' "$out.json" >> "$W/$tag.l"
}

# src_size TAG: LIVE_N from live_nginx's calibration, or a calibration of our own.
src_size() {
	local rate
	[ -n "$LIVE_N" ] && return 0
	log "$1: calibrating the handshake rate"
	live_load 3000 "$LIVE_THREADS" "$W/$1-calib.load"
	rate=$(tl "$W/$1-calib.load" handshakes_per_s)
	LIVE_N=$(awk -v r="${rate:-0}" -v s="$LIVE_SECONDS" -v m="$LIVE_MAX_N" 'BEGIN {
		n = int(r * s / 100) * 100; if (n < 2000) n = 2000; if (n > m) n = m; print n }')
}

# src_sum TAG: per variant, medians (min, max) of the runs in $W/TAG.l, into $W/TAG.sum
src_sum() {
	jq -s -c '
		def med: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def st(f): map(f) | {m: med, lo: min, hi: max};
		group_by(.variant)[] | {variant: .[0].variant, runs: length, hs: (map(.hs) | add),
			t12: (map(.tls12) | add), t13: (map(.tls13) | add),
			rate: st(.hs_per_s), us_per_hs: st(1e6 * (.mon_cpu_s + .bpf_s) / .hs),
			proc_us_per_hs: st(1e6 * .mon_cpu_s / .hs), bpf_us_per_hs: st(1e6 * .bpf_s / .hs),
			ngx_us_per_hs: st(1e6 * .nginx_cpu_s / .hs), cpu: st(100 * (.mon_cpu_s + .bpf_s) / .nginx_cpu_s),
			drops: (map(.ringbuf_drops // 0) | add),
			events: (map(.events | to_entries[]) | group_by(.key) | map({key: .[0].key, value: (map(.value) | add)}) | from_entries)}' \
		"$W/$1.l" > "$W/$1.sum"
}

# ---- tls13_sources: the share of TLS 1.3 chains checked per source, and each source's CPU ----
#
# Issue 15: with the live_nginx set-up, TLS 1.3 only, certsentry --every with
# no source (the chain hidden), the uprobes alone (on nginx), and a key log
# alone (written by the clients: tlsload -k, followed as it grows); and TLS 1.2
# only on the wire, the path they are measured against. T13_RUNS runs each.
T13_RUNS=${T13_RUNS:-2}
T13_VARIANTS=${T13_VARIANTS:-wire12 hidden13 uprobe13 keylog13}	# some, while working on one

section_tls13_sources() {
	local md=$W/tls13_sources.md js=$W/tls13_sources.json r v kl=$W/t13.keylog
	echo "## TLS 1.3: chains checked per source, and their CPU" > "$md"
	echo >> "$md"
	TLSLOAD=$(helper tlsload) BPFSTATS=$(helper bpfstats)
	if ! live_setup; then { echo "FAILED: $(cat "$W/live.err")"; echo; } >> "$md"; return 1; fi
	src_size tls13_sources
	SRC_NGINX=$NGINX_PID
	: > "$W/t13.l"
	log "tls13_sources: $T13_RUNS x ($T13_VARIANTS) runs of $LIVE_N handshakes"
	for r in $(seq 1 "$T13_RUNS"); do
		for v in $T13_VARIANTS; do
			case $v in
			wire12) src_run t13 "$v" "$r" "$LIVE_N" 0 "" --no-uprobe --every ;;
			hidden13) src_run t13 "$v" "$r" "$LIVE_N" 100 "" --no-uprobe --every ;;
			uprobe13) src_run t13 "$v" "$r" "$LIVE_N" 100 "" --uprobe --every ;;
			keylog13) rm -f "$kl"; : > "$kl"; chmod 600 "$kl"
				src_run t13 "$v" "$r" "$LIVE_N" 100 "-k $kl" --no-uprobe --every --keylog "$kl" ;;
			esac || { { echo "FAILED: $(cat "$W/live.err")"; echo; } >> "$md"; live_teardown; return 1; }
		done
	done
	case " $SECTIONS " in *" inventory "*) ;; *) live_teardown ;; esac
	src_sum t13
	# checked: tls-certificate events of the variant's version and source; n: its handshakes
	jq -c 'def src: {wire12: "cert/1.2/wire", uprobe13: "cert/1.3/uprobe", keylog13: "cert/1.3/keylog"}[.variant];
		. + {n: (if .variant == "wire12" then .t12 else .t13 end),
		     checked: (if .variant == "hidden13" then (.events | to_entries | map(select(.key | startswith("cert/1.3/")) | .value) | add // 0)
			       else (.events[src] // 0) end),
		     label: {wire12: "TLS 1.2 on the wire", hidden13: "TLS 1.3, no source (hidden)",
			     uprobe13: "TLS 1.3, uprobe alone", keylog13: "TLS 1.3, key log alone"}[.variant]}' \
		"$W/t13.sum" > "$W/t13.sum2"
	jq -s '
		def r(x): if x == null then null else x * 10 | round / 10 end;
		def r3(x): if x == null then null else x * 1000 | round / 1000 end;
		(map(select(.variant == "wire12"))[0].us_per_hs.m) as $w |
		[.[] |
		 {name: "tls13 sources: chains checked, \(.label)", value: .checked, unit: "handshakes",
		  baseline_name: "handshakes completed", baseline_value: .n,
		  ratio: (if .n > 0 then r3(.checked / .n) else null end), min: null, max: null},
		 {name: "tls13 sources: certsentry CPU per handshake (process + BPF), \(.label)", value: r(.us_per_hs.m), unit: "µs",
		  baseline_name: (if .variant == "wire12" then null else "TLS 1.2 on the wire" end),
		  baseline_value: (if .variant == "wire12" then null else r($w) end),
		  ratio: (if .variant == "wire12" or $w == null or $w == 0 then null else r3(.us_per_hs.m / $w) end),
		  min: r(.us_per_hs.lo), max: r(.us_per_hs.hi)},
		 {name: "tls13 sources: handshakes/s, \(.label)", value: r(.rate.m), unit: "handshakes/s",
		  baseline_name: null, baseline_value: null, ratio: null, min: r(.rate.lo), max: r(.rate.hi)}]' \
		"$W/t13.sum2" > "$js"
	{
		echo "Issue 15's figures, on the live_nginx set-up (same nginx, tlsload with $LIVE_THREADS threads, $LIVE_N handshakes a run,"
		echo "$T13_RUNS runs per variant, alternating): TLS 1.3 only, \`certsentry -i lo --every\` with no source"
		echo "(\`--no-uprobe\`: the chain stays hidden), the uprobes alone (\`--uprobe\`, on nginx's libssl), and a key log"
		echo "alone (\`--no-uprobe --keylog FILE\`: the clients' secrets, \`tlsload -k FILE\`, followed as it grows, so the"
		echo "server's encrypted flight is copied and decrypted); and TLS 1.2 only (\`--no-uprobe\`), the chain in the clear"
		echo "on the wire, the path the sources are compared with. Checked = \`tls-certificate\` events of that version"
		echo "and source ÷ the handshakes the clients completed (goal with the uprobe alone: ≥ 99%). CPU = certsentry's"
		echo "threads (schedstat) + its BPF programs' run time (BPF stats on; the uprobe programs run in nginx's"
		echo "workers and are counted here as BPF, and in nginx's column too), ÷ handshakes; median (min–max) of the runs."
		echo
		echo "| variant | checked / completed | share | certsentry µs per handshake (process + BPF) | process | BPF | × TLS 1.2 wire | nginx µs per handshake | handshakes/s | ring drops |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
		jq -r -s '
			def f: if . == null then "—" else (. * 10 | round / 10 | tostring) end;
			def tri(x): if x.m == null then "—" else "\(x.m | f) (\(x.lo | f)–\(x.hi | f))" end;
			(map(select(.variant == "wire12"))[0].us_per_hs.m) as $w |
			(["wire12", "hidden13", "uprobe13", "keylog13"][]) as $v | .[] | select(.variant == $v) |
			"| \(.label) | \(.checked) / \(.n) | \(if .n > 0 then "\(.checked / .n * 1000 | round / 10)%" else "—" end) | \(tri(.us_per_hs)) | \(.proc_us_per_hs.m | f) | \(.bpf_us_per_hs.m | f) | \(if $v == "wire12" or $w == null or $w == 0 then "—" else (.us_per_hs.m / $w * 100 | round / 100 | tostring) end) | \(.ngx_us_per_hs.m | f) | \(.rate.m | round) | \(.drops) |"' "$W/t13.sum2"
		echo
		echo "Events by kind/version/source, all runs: $(jq -r '"\(.variant): \(.events | to_entries | map("\(.key)=\(.value)") | join(" "))"' "$W/t13.sum" | paste -sd ';' | sed 's/;/; /g')."
		echo
		echo "certsentry's own TLS 1.3 counters (\`certsentry-stopped\`), each run: $(jq -r '"\(.variant) \(.run): \(.own)"' "$W/t13.l" | paste -sd ';' | sed 's/;/; /g')."
		echo
		[ -s "$W/live.err" ] && { echo "Notes: $(tr '\n' ' ' < "$W/live.err")"; echo; }
	} >> "$md"
	[ "$(jq length "$js")" -gt 0 ] && [ "$(jq -s 'map(.variant) | unique | length' "$W/t13.sum2")" -eq "$(wc -w <<< "$T13_VARIANTS")" ]
}

# ---- inventory: nginx CPU with --inventory and the fetchers on; first alert with a known CRL ----
#
# Issue 13. A second private nginx in the live namespace serves, on 9443, a
# revoked leaf (its CRL given with --crl: the known CRL) whose CRL
# distribution point and OCSP URL name 10.99.0.1:8089, where a listener
# accepts and never answers: every fetch hangs until its timeout. Load on
# 443, 8443 (live_nginx's) and 9443; certsentry (default output) with --crl,
# without and with --inventory --fetch-crl --fetch-ocsp --fetch-aia, INV_RUNS
# runs each. Then INV_TRIALS first alerts each way: a fresh certsentry
# (--every), one TLS 1.2 handshake to 9443, and its line's latency from
# certsentry's own histogram (packet timestamp to line written).
INV_RUNS=${INV_RUNS:-2}
INV_TRIALS=${INV_TRIALS:-5}
INV_NGINX_PID=''

inv_setup() {	# -> 0, or 1 with the reason in $W/live.err
	local p=$W/live-inv pki=$W/live/pki now url=http://10.99.0.1:8089
	[ -n "$INV_NGINX_PID" ] && return 0
	now=$(date -u +%s)
	MKPKI_EXT=$(printf 'crlDistributionPoints=URI:%s/inter.crl\nauthorityInfoAccess=OCSP;URI:%s/ocsp,caIssuers;URI:%s/inter.der' \
		"$url" "$url" "$url") "$ROOT/tools/mkpki.sh" "$pki" xleaf revoked shop.example.test \
		"$(date -u -d "@$((now - 86400))" +%Y%m%d%H%M%SZ)" "$(date -u -d "@$((now + 31536000))" +%Y%m%d%H%M%SZ)" \
		sha256 ec DNS:shop.example.test >/dev/null 2>&1 &&
		"$ROOT/tools/mkpki.sh" "$pki" crl revoked >/dev/null 2>&1 ||
		{ echo "mkpki.sh: the revoked leaf or its CRL failed" >> "$W/live.err"; return 1; }
	nginx_conf "$p" -c 8192 -k 0 "9443 ssl reuseport backlog=4096||$pki/revoked.chain.pem|$pki/revoked.key|ok" ||
		{ echo "could not write $p/nginx.conf" >> "$W/live.err"; return 1; }
	ip -n "$LIVE_NS" addr add 10.99.0.1/32 dev lo 2>/dev/null
	bg "$LIVE_NS" python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.1", 8089)); s.listen(1024); time.sleep(86400)'
	INV_HANG_PID=$BG_PID
	bg "$LIVE_NS" nginx -p "$p" -c "$p/nginx.conf" 2>> "$W/live.err"
	INV_NGINX_PID=$BG_PID
	wait_for 10 ip netns exec "$LIVE_NS" sh -c "ss -ltnH | grep -q ':9443 ' && ss -ltnH | grep -q '10.99.0.1:8089 '" ||
		{ echo "the second nginx (9443) or the silent listener did not start: $(tail -3 "$p/error.log" 2>/dev/null)" >> "$W/live.err"; inv_teardown; return 1; }
	wait_for 5 sh -c "[ \$(pgrep -c -P $INV_NGINX_PID) -ge 2 ]"
}

inv_teardown() {
	[ -n "$INV_NGINX_PID" ] && stop_pid "$INV_NGINX_PID"
	[ -n "${INV_HANG_PID:-}" ] && stop_pid "$INV_HANG_PID"
	INV_NGINX_PID='' INV_HANG_PID=''
}

# inv_first_alert VARIANT TRIAL [certsentry args...]: the first alert's latency, µs (bucket
# upper bound of certsentry_report_latency_seconds: the handshake's only line), or nothing
inv_first_alert() {
	local out=$W/inv-alert-$1-$2.json port=9466 us
	shift 2
	start_sentry "$LIVE_NS" "$out" -i lo --every --metrics "127.0.0.1:$port" "$@" 2>> "$W/live.err" ||
		{ echo "certsentry $* did not start: $(head -c 300 "$out")" >> "$W/live.err"; stop_pid "$SENTRY_PID"; return 1; }
	ip netns exec "$LIVE_NS" "$TLSLOAD" -a 127.0.0.1 -p 9443 -2 1 -3 0 -b 0 -t 1 -S / -n example.test \
		> "$out.load" 2>&1
	if ! wait_for 10 grep -q '"revoked.crl"' "$out"; then
		echo "no revoked.crl line ($*): $(tail -c 300 "$out")" >> "$W/live.err"
		stop_pid "$SENTRY_PID"
		return 1
	fi
	scrape "$LIVE_NS" "$port" > "$out.metrics"
	stop_pid "$SENTRY_PID"
	hist_merge "$out.metrics" > "$out.hist"
	us=$(hist_q "$out.hist" 1)
	[ -n "$us" ] || { echo "no latency sample ($*)" >> "$W/live.err"; return 1; }
	echo "$us"
}

section_inventory() {
	local md=$W/inventory.md js=$W/inventory.json r v t us crl st
	echo "## Inventory and fetchers: nginx CPU, and the first alert with a known CRL" > "$md"
	echo >> "$md"
	TLSLOAD=$(helper tlsload) BPFSTATS=$(helper bpfstats)
	if ! live_setup || ! inv_setup; then { echo "FAILED: $(cat "$W/live.err")"; echo; } >> "$md"; live_teardown; return 1; fi
	src_size inventory
	crl=$W/live/pki/inter.crl.pem
	SRC_NGINX="$NGINX_PID $INV_NGINX_PID"
	: > "$W/inv.l"; : > "$W/inv.alerts"
	log "inventory: $INV_RUNS x 2 runs of $LIVE_N handshakes, then $INV_TRIALS x 2 first alerts"
	for r in $(seq 1 "$INV_RUNS"); do
		for v in plain inv; do
			st=$W/inv-state-$v-$r
			case $v in
			plain) src_run inv "$v" "$r" "$LIVE_N" "$LIVE_TLS13_PCT" "-p 443,8443,9443" --crl "$crl" ;;
			inv) src_run inv "$v" "$r" "$LIVE_N" "$LIVE_TLS13_PCT" "-p 443,8443,9443" --crl "$crl" \
				--state-dir "$st" --inventory --fetch-crl --fetch-ocsp --fetch-aia ;;
			esac || { { echo "FAILED: $(cat "$W/live.err")"; echo; } >> "$md"; inv_teardown; live_teardown; return 1; }
		done
	done
	for t in $(seq 1 "$INV_TRIALS"); do
		for v in plain inv; do
			st=$W/inv-alert-state-$v-$t
			case $v in
			plain) us=$(inv_first_alert "$v" "$t" --crl "$crl") ;;
			inv) us=$(inv_first_alert "$v" "$t" --crl "$crl" --state-dir "$st" --inventory \
				--fetch-crl --fetch-ocsp --fetch-aia) ;;
			esac
			[ -n "$us" ] && echo "$v $t $us" >> "$W/inv.alerts"
		done
	done
	inv_teardown
	live_teardown
	src_sum inv
	[ -s "$W/inv.alerts" ] || { { echo "FAILED: no first alert measured: $(cat "$W/live.err")"; echo; } >> "$md"; return 1; }
	awk '{ print "{\"variant\":\"" $1 "\",\"us\":" $3 "}" }' "$W/inv.alerts" | jq -s -c '
		def med: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		group_by(.variant) | map({key: .[0].variant, value: {m: (map(.us) | med), lo: (map(.us) | min), hi: (map(.us) | max), n: length}}) | from_entries' \
		> "$W/inv.alerts.json"
	jq -s --slurpfile a "$W/inv.alerts.json" '
		def r(x): if x == null then null else x * 10 | round / 10 end;
		def r3(x): if x == null then null else x * 1000 | round / 1000 end;
		(map({key: .variant, value: .}) | from_entries) as $s | $a[0] as $a |
		def row(nm; unit; f; lo; hi): {name: nm, value: r($s.inv | f), unit: unit,
			baseline_name: "without --inventory and fetchers", baseline_value: r($s.plain | f),
			ratio: (if ($s.plain | f) > 0 then r3(($s.inv | f) / ($s.plain | f)) else null end),
			min: r($s.inv | lo), max: r($s.inv | hi)};
		[row("inventory: nginx CPU per handshake, with --inventory and fetchers"; "µs"; .ngx_us_per_hs.m; .ngx_us_per_hs.lo; .ngx_us_per_hs.hi),
		 row("inventory: certsentry CPU as % of nginx (process + BPF), with --inventory and fetchers"; "%"; .cpu.m; .cpu.lo; .cpu.hi),
		 row("inventory: certsentry CPU per handshake (process + BPF), with --inventory and fetchers"; "µs"; .us_per_hs.m; .us_per_hs.lo; .us_per_hs.hi),
		 row("inventory: handshakes/s, with --inventory and fetchers"; "handshakes/s"; .rate.m; .rate.lo; .rate.hi),
		 {name: "inventory: first alert, known CRL, with --inventory and fetchers (the fetch hanging)", value: $a.inv.m, unit: "µs (bucket upper bound)",
		  baseline_name: "without --inventory and fetchers", baseline_value: $a.plain.m,
		  ratio: (if ($a.plain.m // 0) > 0 and $a.inv.m != null then r3($a.inv.m / $a.plain.m) else null end),
		  min: $a.inv.lo, max: $a.inv.hi}]' "$W/inv.sum" > "$js"
	{
		echo "Issue 13's figures. The live_nginx nginx (443, 8443) and a second private nginx in the same namespace"
		echo "serving on 9443 a revoked leaf whose CRL is given with \`--crl\` (the known CRL) and whose CRL distribution"
		echo "point, OCSP and caIssuers URLs name 10.99.0.1:8089, where a listener accepts and never answers (every fetch"
		echo "hangs until \`--fetch-timeout-ms\`, 60 s). tlsload as in live_nginx ($LIVE_THREADS threads, ${LIVE_TLS13_PCT}% TLS 1.3, $LIVE_N handshakes a run)"
		echo "round-robin over the three ports; \`certsentry -i lo --crl inter.crl.pem\` (default output), without and with"
		echo "\`--inventory --state-dir DIR --fetch-crl --fetch-ocsp --fetch-aia\` (a fresh state directory each run), $INV_RUNS runs each,"
		echo "alternating. nginx CPU: both nginx instances' processes; certsentry: its threads + BPF programs (BPF stats on)."
		echo
		echo "| certsentry | nginx µs per handshake | certsentry CPU % of nginx (process + BPF) | certsentry µs per handshake | handshakes/s | ring drops |"
		echo "|---|---|---|---|---|---|"
		jq -r -s '
			def f: if . == null then "—" else (. * 100 | round / 100 | tostring) end;
			def tri(x): if x.m == null then "—" else "\(x.m | f) (\(x.lo | f)–\(x.hi | f))" end;
			(["plain", "inv"][]) as $v | .[] | select(.variant == $v) |
			"| \({plain: "--crl", inv: "--crl --inventory --fetch-crl --fetch-ocsp --fetch-aia"}[$v]) | \(tri(.ngx_us_per_hs)) | \(tri(.cpu)) | \(tri(.us_per_hs)) | \(tri(.rate)) | \(.drops) |"' "$W/inv.sum"
		echo
		echo "First alert with the known CRL: a fresh \`certsentry -i lo --every --metrics\` (and a fresh state directory), one"
		echo "TLS 1.2 handshake to 9443, whose line is the \`revoked.crl\` alert; its latency from certsentry's own"
		echo "histogram (\`certsentry_report_latency_seconds\`, as in the latency section: the packet's kernel timestamp to"
		echo "the line written, log2 buckets, so a figure is the bucket's upper bound); $INV_TRIALS trials each way,"
		echo "alternating. With the fetchers on, that first sighting also starts the CRL, OCSP and AIA fetches, which hang."
		echo
		echo "| certsentry | first alert µs ≤, median (min–max) | trials |"
		echo "|---|---|---|"
		jq -r 'to_entries[] | "| \({plain: "--crl", inv: "--crl --inventory --fetch-crl --fetch-ocsp --fetch-aia"}[.key]) | \(.value.m) (\(.value.lo)–\(.value.hi)) | \(.value.n) |"' "$W/inv.alerts.json" | sort -r
		echo
		[ -s "$W/live.err" ] && { echo "Notes: $(tr '\n' ' ' < "$W/live.err")"; echo; }
	} >> "$md"
	[ "$(jq 'map(select(.value != null)) | length' "$js")" -eq 5 ]
}

# ---- memory: MEM_FLOWS TLS connections mid-handshake, injected through a TUN device ----
MEM_FLOWS=${MEM_FLOWS:-100000}
MEM_MAX_FLOWS=${MEM_MAX_FLOWS:-262144}

status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }	# status_kb PID VmRSS

section_memory() {
	local md=$W/memory.md js=$W/memory.json M='' out=$W/mem-sentry.json pcap=$W/mem.pcap pid flowgen tunreplay
	local rss0 hwm0 rss hwm anon ringkb i last='' cur t0 t1 id j maps=$W/mem.maps.l port=9465
	echo "## Memory at $(printf "%'d" "$MEM_FLOWS" 2>/dev/null || echo "$MEM_FLOWS") flows" > "$md"
	echo >> "$md"
	flowgen=$(helper flowgen) tunreplay=$(helper tunreplay)
	for i in "$flowgen" "$tunreplay"; do [ -x "$i" ] || { echo "FAILED: $i not built (make all)" >> "$md"; return 1; }; done
	"$flowgen" -n "$MEM_FLOWS" "$pcap" > "$W/flowgen.out" 2>&1 || { echo "FAILED: flowgen: $(cat "$W/flowgen.out")" >> "$md"; return 1; }
	ns_new M mem || { echo "FAILED: cannot create a network namespace" >> "$md"; return 1; }
	if ! ip -n "$M" tuntap add dev csmem0 mode tun || ! ip -n "$M" link set csmem0 up; then
		echo "FAILED: cannot make the TUN device" >> "$md"; ns_del "$M"; return 1
	fi
	if ! start_sentry "$M" "$out" -i csmem0 --max-flows "$MEM_MAX_FLOWS" --every --stats-interval 3600 \
		--metrics "127.0.0.1:$port" 2>> "$W/mem.err"; then
		echo "FAILED: certsentry did not start: $(head -c 300 "$out") $(tail -3 "$W/mem.err")" >> "$md"
		stop_pid "$SENTRY_PID"; ns_del "$M"; return 1
	fi
	pid=$SENTRY_PID
	sleep 0.5
	rss0=$(status_kb "$pid" VmRSS) hwm0=$(status_kb "$pid" VmHWM)
	t0=$(date +%s.%N)
	ip netns exec "$M" "$tunreplay" -v -i csmem0 "$pcap" > "$W/tunreplay.out" 2>&1
	t1=$(date +%s.%N)
	# Done when certsentry has taken every ring record: its connection count stops moving.
	for i in $(seq 1 60); do
		scrape "$M" "$port" > "$W/mem.metrics"
		cur=$(metric "$W/mem.metrics" certsentry_connections_total)
		[ -n "$cur" ] && [ "$cur" = "$last" ] && break
		last=$cur
		sleep 0.5
	done
	rss=$(status_kb "$pid" VmRSS) hwm=$(status_kb "$pid" VmHWM) anon=$(status_kb "$pid" RssAnon)
	# The ring buffer is mapped into the process (its data pages twice, for wrap-around): kernel
	# memory, already in the BPF figure, that VmRSS counts as file pages.
	ringkb=$(awk '/^[0-9a-f]+-[0-9a-f]+ / {m = ($6 == "anon_inode:bpf-map")} m && /^Rss:/ {s += $2} END {print s + 0}' "/proc/$pid/smaps")
	: > "$maps"
	for id in $(pid_bpf_ids "$pid" map_id); do
		j=$(bpftool -j map show id "$id" 2>/dev/null) || continue
		jq -c '{id, name, type, max_entries, bytes_key, bytes_value, bytes_memlock}' <<< "$j" >> "$maps"
	done
	stop_pid "$pid"
	ns_del "$M"
	rm -f "$pcap"
	local m_active m_total m_ev m_evm m_mem m_kflows m_drops m_recs m_bytes bpf_total
	m_active=$(metric "$W/mem.metrics" certsentry_connections_active)
	m_total=$(metric "$W/mem.metrics" certsentry_connections_total)
	m_ev=$(metric "$W/mem.metrics" certsentry_connections_evicted_total)
	m_evm=$(metric "$W/mem.metrics" certsentry_connections_evicted_memory_total)
	m_mem=$(metric "$W/mem.metrics" certsentry_flow_memory_bytes)
	m_kflows=$(metric "$W/mem.metrics" certsentry_kernel_flows_started_total)
	m_drops=$(metric "$W/mem.metrics" certsentry_kernel_ringbuf_drops_total)
	m_recs=$(metric "$W/mem.metrics" certsentry_kernel_ring_records_total)
	m_bytes=$(metric "$W/mem.metrics" certsentry_kernel_bytes_copied_total)
	bpf_total=$(jq -s 'map(.bytes_memlock) | add // 0' "$maps")
	if [ -z "$rss" ] || [ -z "$m_active" ]; then
		{ echo "FAILED: no figures (certsentry gone? metrics not served?)"; tail -3 "$W/tunreplay.out"; } >> "$md"
		return 1
	fi
	jq -n --argjson rss "$rss" --argjson hwm "$hwm" --argjson rss0 "$rss0" --argjson anon "${anon:-0}" --argjson ring "${ringkb:-0}" \
		--argjson active "$m_active" --argjson mem "${m_mem:-0}" --argjson bpf "$bpf_total" --argjson flows "$MEM_FLOWS" \
		--slurpfile maps "$maps" '
		def mb(x): x / 1048576 * 100 | round / 100;
		def e(n; v; u; b; bv): {name: n, value: v, unit: u, baseline_name: b, baseline_value: bv,
			ratio: (if bv != null and bv != 0 and v != null then (v / bv * 1000 | round / 1000) else null end), min: null, max: null};
		[e("memory: certsentry userspace RSS (VmRSS - ring-buffer mapping) with \($flows) connections injected"; mb(($rss - $ring) * 1024); "MB"; "target"; 64),
		 e("memory: certsentry VmRSS (incl. the ring-buffer mapping)"; mb($rss * 1024); "MB"; null; null),
		 e("memory: certsentry RssAnon (heap)"; mb($anon * 1024); "MB"; "target"; 64),
		 e("memory: certsentry VmHWM (peak RSS, incl. the ring-buffer mapping)"; mb($hwm * 1024); "MB"; null; null),
		 e("memory: certsentry VmRSS before injection"; mb($rss0 * 1024); "MB"; null; null),
		 e("memory: connections held by userspace"; $active; "connections"; "injected"; $flows),
		 e("memory: userspace connection state (flow_memory_bytes)"; mb($mem); "MB"; null; null),
		 e("memory: userspace bytes per held connection (flow_memory_bytes / held)"; (if $active > 0 then ($mem / $active | round) else null end); "bytes"; null; null),
		 e("memory: RSS growth per held connection"; (if $active > 0 then (($rss - $rss0) * 1024 / $active | round) else null end); "bytes"; null; null),
		 e("memory: BPF maps of certsentry (bytes_memlock, all)"; mb($bpf); "MB"; null; null)]
		+ [$maps[] | e("memory: BPF map \(.name) (\(.type), \(.max_entries) entries)"; mb(.bytes_memlock); "MB"; null; null)]' > "$js"
	{
		echo "\`build/tools/bench/flowgen -n $MEM_FLOWS\` writes a raw-IP pcap with, per connection, a ClientHello segment (with SNI)"
		echo "and the server's ServerHello + the first 1000 bytes of an 1800-byte Certificate message, each connection its"
		echo "own 5-tuple; \`tools/tunreplay\` writes it into a TUN device in a namespace (tc ingress sees every packet) with"
		echo "\`certsentry -i csmem0 --max-flows $MEM_MAX_FLOWS --every --metrics\` attached. Both directions of every connection"
		echo "start being tracked in the kernel; userspace holds, per connection, the parsed ClientHello facts, a ref"
		echo "to the Certificate message's first certificate (cached, one of 256) and the 87 bytes of the second. Figures read once certsentry has consumed the ring (connection count steady),"
		echo "within the 60 s idle timeout: /proc/PID/status, \`--metrics\`, and \`bpftool map show\` for the map ids in"
		echo "certsentry's own fds (/proc/PID/fdinfo)."
		echo
		echo "    $(cat "$W/flowgen.out")"
		echo "    $(tail -1 "$W/tunreplay.out") in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
		echo
		echo "| figure | value |"
		echo "|---|---|"
		awk -v a="$rss0" -v b="$rss" -v h="$hwm" -v n="$anon" -v r="$ringkb" 'BEGIN {
			printf "| certsentry userspace RSS: VmRSS − ring-buffer mapping | **%.1f MB** (target < 64 MB); RssAnon (heap) %.1f MB |\n", (b - r) / 1024, n / 1024
			printf "| certsentry VmRSS before → after injection | %.1f MB → %.1f MB, of which the ring-buffer mapping %.1f MB (kernel memory, in the BPF figure) |\n", a / 1024, b / 1024, r / 1024
			printf "| certsentry VmHWM (peak, incl. the mapping) | %.1f MB |\n", h / 1024 }'
		echo "| connections started (userspace) | $m_total of $MEM_FLOWS |"
		echo "| connections held at the end | $m_active |"
		echo "| evicted: table bound / memory bound | ${m_ev:-?} / ${m_evm:-?} |"
		awk -v m="${m_mem:-0}" -v a="$m_active" 'BEGIN { printf "| connection state held (flow_memory_bytes) | %.1f MB, %d bytes per connection |\n", m / 1048576, a ? m / a : 0 }'
		echo "| kernel: flow directions started / ring records / bytes copied / ring drops | ${m_kflows:-?} / ${m_recs:-?} / ${m_bytes:-?} / ${m_drops:-?} |"
		awk -v b="$bpf_total" 'BEGIN { printf "| BPF maps, all of certsentry'"'"'s (bytes_memlock) | %.1f MB |\n", b / 1048576 }'
		echo
		echo "| BPF map | type | max_entries | key + value bytes | bytes_memlock |"
		echo "|---|---|---|---|---|"
		jq -r '"| \(.name) | \(.type) | \(.max_entries) | \(.bytes_key) + \(.bytes_value) | \(.bytes_memlock / 1048576 * 100 | round / 100) MB |"' "$maps"
		echo
		echo "Bounds (what limits each part, whatever the traffic):"
		echo
		echo "- kernel \`flows\` (LRU hash): \`--max-flows\` entries (default 65536; $MEM_MAX_FLOWS here), one per tracked direction;"
		echo "  LRU: the oldest direction is dropped when full. \`done_flows\` (LRU) 4096, \`hints\` a fixed array, \`events\` the"
		echo "  ring buffer: \`--ring-size\` (default 16 MiB; when full, records are dropped and counted, never blocked)."
		echo "- userspace connections: at most --max-conns at once (default 65536, FLOW_CONNS_DEFAULT), the least"
		echo "  recently used evicted beyond; all connection state together at most --max-memory (default 32 MiB, FLOW_MEM_DEFAULT), beyond which"
		echo "  the least recently used are evicted; out-of-order bytes held per direction at most 256 KiB; a handshake"
		echo "  message at most 1 MiB (TLS_MSG_MAX_DEFAULT)."
		echo "- certificate cache: at most 4096 distinct certificates (CERT_CACHE_DEFAULT, parsed X509 + facts each);"
		echo "  chain verdicts cached: 4096 (CHAIN_CACHE_MAX, user/checks.c); dedup: 16384 (server, SNI, leaf, verdict) keys"
		echo "  (DEDUP_ENTRIES_MAX) with up to 256 distinct clients each (DEDUP_CLIENTS_MAX, user/dedup.h)."
		echo
	} >> "$md"
}

# ---- verdict: cert_get + checks_run, warm and all-distinct, vs bare OpenSSL; the flow pipeline ----
section_verdict() {
	local md=$W/verdict.md js=$W/verdict.json vb
	echo "## Verdict cost" > "$md"
	echo >> "$md"
	vb=$(helper verdictbench)
	[ -x "$vb" ] || { echo "FAILED: $vb not built (make all)" >> "$md"; return 1; }
	if ! "$vb" --rounds "$RUNS" --json "$js" > "$W/verdict.out" 2>&1; then
		{ echo "FAILED: verdictbench:"; echo '```'; tail -5 "$W/verdict.out"; echo '```'; } >> "$md"
		echo '[]' > "$js"
		return 1
	fi
	{
		echo "\`build/tools/bench/verdictbench\` (one process, one thread): PKIs made in memory with the OpenSSL API (root →"
		echo "intermediate → leaves; ECDSA P-256 and RSA-2048), the root in a temporary CA file loaded with \`lists_load\`"
		echo "(as \`--ca-file\`). **warm**: the same 2-certificate chain every time: \`cert_get\` ×2 (SHA-256 of each DER, cache"
		echo "hit) + \`checks_run\` (chain verdict cached; validity, hostname, key, signature, lists) + \`cert_put\` ×2."
		echo "**distinct**: a fresh leaf every time (3000 EC / 600 RSA leaves signed beforehand, new caches each round):"
		echo "parse + facts + \`X509_verify_cert\` of leaf + intermediate. **baseline**: \`d2i_X509\` + \`X509_verify_cert\` alone"
		echo "on the same leaves and store. **pipeline**: \`flow_segment\` on the bytes of a real TLS 1.2 handshake (OpenSSL"
		echo "client and server over memory BIOs, cut into 1448-byte segments), each handshake its own 5-tuple: reassembly,"
		echo "TLS parsing, certificate cache, \`checks_run\`; then the same plus \`output_report\` (one JSON line) to /dev/null."
		echo "Median of $RUNS rounds (min–max)."
		echo
		echo "| figure | median (min–max) | unit | µs each | baseline | ratio |"
		echo "|---|---|---|---|---|---|"
		jq -r '.[] | "| \(.name | sub("^verdict: "; "")) | \(.value | round) (\(.min | round)–\(.max | round)) | \(.unit) | \(1e6 / .value * 100 | round / 100) | \(.baseline_name // "") | \(.ratio // "") |"' "$js"
		echo
		grep '^(' "$W/verdict.out" | tr -d '()' | sed 's/^/    /'
		grep 'warning' "$W/verdict.out" | sed 's/^/    /'
		echo
	} >> "$md"
}

# ---- main ----
[ "$(id -u)" = 0 ] || { log "needs root (BPF, namespaces)"; exit 1; }
bench_deps
# Work on a copy of the binaries: a rebuild during the run must not change them.
mkdir -p "$W/bin"
for b in "$BIN" "$FASTPATH"; do [ -x "$b" ] && cp "$b" "$W/bin/"; done
[ -x "$W/bin/$(basename "$BIN")" ] && BIN=$W/bin/$(basename "$BIN")
[ -x "$W/bin/$(basename "$FASTPATH")" ] && FASTPATH=$W/bin/$(basename "$FASTPATH")
for h in tlsload bpfstats flowgen tunreplay verdictbench; do helper "$h" > /dev/null; done
failed=()
for s in $SECTIONS; do
	if ! declare -F "section_$s" >/dev/null; then log "unknown section $s"; failed+=("$s"); continue; fi
	log "section $s"
	ts=$(date +%s)
	"section_$s"
	rc=$?
	case $rc in
	0) log "section $s: done in $(( $(date +%s) - ts )) s" ;;
	3) log "section $s: not implemented yet" ;;
	*) log "section $s: FAILED (see BENCHMARKS.md)"; failed+=("$s") ;;
	esac
	[ -s "$W/$s.json" ] || echo '[]' > "$W/$s.json"
done

mkdir -p "$(dirname "$OUT_JSON")"
jsons=()
for s in $SECTIONS; do [ -s "$W/$s.json" ] && jsons+=("$W/$s.json"); done
jq -s 'add // []' "${jsons[@]}" > "$OUT_JSON.tmp" && mv "$OUT_JSON.tmp" "$OUT_JSON"
{
	machine_md
	for s in $SECTIONS; do [ -s "$W/$s.md" ] && cat "$W/$s.md"; done
	echo "## All figures"
	echo
	echo "As in \`bench/results.json\`: median (min–max) of the runs; ratio = value ÷ baseline."
	echo
	echo "| figure | value | unit | min | max | baseline | baseline value | ratio |"
	echo "|---|---|---|---|---|---|---|---|"
	jq -r '.[] | "| \(.name) | \(.value) | \(.unit) | \(.min // "") | \(.max // "") | \(.baseline_name // "") | \(.baseline_value // "") | \(.ratio // "") |"' "$OUT_JSON"
	echo
	echo "Total bench time: $(( $(date +%s) - T0 )) s."
} > "$OUT_MD.tmp" && mv "$OUT_MD.tmp" "$OUT_MD"

# Clean up now and check that nothing of ours is left.
cleanup
PIDS=() NS_LIST=()
left=$(ip netns list 2>/dev/null | grep -c -- "-$$\b" || true)
[ "$left" = 0 ] || log "warning: $left namespace(s) of this run still exist"
log "wrote $OUT_MD and $OUT_JSON in $(( $(date +%s) - T0 )) s${failed[*]:+; FAILED: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]

#!/usr/bin/env bash
# offline.sh PCAP [--json FILE] [--md FILE] - offline throughput of certsentry -r
# against the libpcap floor and the tools people use today, on one capture
# (normally the one tools/bench/mkpcap.sh makes).
#
# For each tool: wall time (hyperfine, WARMUP warm-up + RUNS runs, median with
# min/max; without hyperfine a loop with /usr/bin/time), then one more run under
# /usr/bin/time -v for the peak RSS, whose output is kept to count the
# certificates the tool found:
#   tcpdump-floor  tcpdump -n -r PCAP -w /dev/null          (reads only)
#   certsentry     build/certsentry -r PCAP                 (default: repeats folded into tls-summary
#                                                           events; handshakes reported)
#   certsentry-every  ... -r PCAP --every                   chain entries of tls-certificate events
#   tshark         tshark -n -r PCAP -Y 'tls.handshake.type==11' -T fields
#                         -e tcp.stream -e tls.handshake.certificate   DER fields
#   ndpiReader     ndpiReader -i PCAP -v 2                  flows with [Subject: (leaf only)
#   ssldump        ssldump -n -N -r PCAP                    Subject blocks in Certificate msgs
#
# Environment: RUNS=5 WARMUP=1 HANDSHAKES=6000 (cert-bearing handshakes in the
# capture, for handshakes/s; certificates expected = 2 x HANDSHAKES)
# CERTSENTRY=build/certsentry TOOLS="tcpdump-floor certsentry certsentry-every tshark ndpiReader ssldump"
# (certsentry-every only where the binary has --every).
# --json FILE: results array [{name, value, unit, baseline_name, baseline_value,
# ratio, min, max}]; --md FILE: a Markdown section. A tool that is not installed
# is skipped (and said so).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pcap= json_out= md_out=
while [ $# -gt 0 ]; do
	case $1 in
	--json) json_out=$2; shift 2 ;;
	--md) md_out=$2; shift 2 ;;
	-h|--help) sed -n '2,27p' "$0"; exit 0 ;;
	*) pcap=$1; shift ;;
	esac
done
[ -n "$pcap" ] && [ -r "$pcap" ] || { echo "usage: offline.sh PCAP [--json FILE] [--md FILE]" >&2; exit 2; }
RUNS=${RUNS:-5} WARMUP=${WARMUP:-1} HANDSHAKES=${HANDSHAKES:-6000}
CERTSENTRY=${CERTSENTRY:-$ROOT/build/certsentry}
TOOLS=${TOOLS:-tcpdump-floor certsentry certsentry-every tshark ndpiReader ssldump}
EXPECT=$((2 * HANDSHAKES))
W=$(mktemp -d /tmp/certsentry-offline.XXXXXX)
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

P=$(printf %q "$pcap")
bytes=$(stat -L -c %s "$pcap")
declare -A CMD LABEL
CMD[tcpdump-floor]="tcpdump -n -r $P -w /dev/null"
CMD[certsentry]="$(printf %q "$CERTSENTRY") -r $P"
CMD[certsentry-every]="$(printf %q "$CERTSENTRY") -r $P --every"
CMD[tshark]="tshark -n -r $P -Y 'tls.handshake.type==11' -T fields -e tcp.stream -e tls.handshake.certificate"
CMD[ndpiReader]="ndpiReader -i $P -v 2"
CMD[ssldump]="ssldump -n -N -r $P"
LABEL[tcpdump-floor]="libpcap floor: \`tcpdump -n -r PCAP -w /dev/null\`"
LABEL[certsentry]="\`certsentry -r PCAP > /dev/null\` (default: repeats as summaries)"
LABEL[certsentry-every]="\`certsentry -r PCAP --every > /dev/null\` (every handshake, like the others)"
LABEL[tshark]="\`tshark -n -r PCAP -Y 'tls.handshake.type==11' -T fields -e tcp.stream -e tls.handshake.certificate\`"
LABEL[ndpiReader]="\`ndpiReader -i PCAP -v 2\`"
LABEL[ssldump]="\`ssldump -n -N -r PCAP\`"

tools=()
for t in $TOOLS; do
	exe=${CMD[$t]%% *}
	case $t in certsentry*) exe=$CERTSENTRY ;; esac
	# Not `--help | grep -q`: grep leaves at the first match, certsentry's write
	# then fails (SIGPIPE) and pipefail took that as "no --every".
	if [ "$t" = certsentry-every ] && [[ $("$CERTSENTRY" --help 2>&1) != *--every* ]]; then
		continue	# a build without --every writes every handshake anyway
	fi
	if command -v "$exe" >/dev/null 2>&1 || [ -x "$exe" ]; then tools+=("$t")
	else echo "offline: $t: $exe not found, skipped" >&2; fi
done
[ ${#tools[@]} -gt 0 ] || { echo "offline: no tool to run" >&2; exit 1; }

# Warm the page cache: every tool reads the same warm file.
cat "$pcap" > /dev/null

# ---- wall time: $W/wall.tsv  name median min max mean ----
echo "offline: $pcap ($bytes B), $WARMUP warm-up + $RUNS runs per tool: ${tools[*]}" >&2
if command -v hyperfine >/dev/null; then
	args=()
	for t in "${tools[@]}"; do args+=(-n "$t" "${CMD[$t]}"); done
	hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" --ignore-failure \
		--export-json "$W/hf.json" --export-markdown "$W/hf.md" "${args[@]}" >&2 || true
	jq -r '.results[] | [.command, .median, .min, .max, .mean] | @tsv' "$W/hf.json" > "$W/wall.tsv"
	timer="hyperfine $(hyperfine --version | awk '{print $2}'), $WARMUP warm-up + $RUNS runs"
else
	for t in "${tools[@]}"; do
		for ((r = 0; r < WARMUP; r++)); do sh -c "${CMD[$t]}" >/dev/null 2>&1; done
		for ((r = 0; r < RUNS; r++)); do
			/usr/bin/time -f %e -o "$W/t" sh -c "${CMD[$t]}" >/dev/null 2>&1
			cat "$W/t"
		done | sort -n | awk -v n="$t" '{v[NR]=$1; s+=$1} END {
			m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
			printf "%s\t%s\t%s\t%s\t%s\n", n, m, v[1], v[NR], s/NR }'
	done > "$W/wall.tsv"
	timer="/usr/bin/time loop, $WARMUP warm-up + $RUNS runs"
fi

# ---- one more run each: peak RSS and the output, to count certificates ----
count() {	# tool outfile -> "certs<TAB>note"
	local t=$1 f=$2
	case $t in
	tcpdump-floor) printf -- '-\treads only\n' ;;
	certsentry|certsentry-every)
		jq -r 'select(.event.action == "tls-certificate") | .certsentry.chain[].sha256' "$f" 2>/dev/null |
			sort | uniq -c > "$W/$t.sha"
		local ev hid n d sc sh
		ev=$(jq -r 'select(.event.action == "tls-certificate") | 1' "$f" 2>/dev/null | wc -l)
		hid=$(jq -r 'select(.event.action == "tls-certificate-hidden") | 1' "$f" 2>/dev/null | wc -l)
		# Repeats folded into summaries (default mode): how many handshakes they stand for.
		sc=$(jq -r 'select(.event.action == "tls-summary" and .certsentry.summary.of == "tls-certificate") | .certsentry.summary.count' "$f" 2>/dev/null | awk '{s += $1} END {print s + 0}')
		sh=$(jq -r 'select(.event.action == "tls-summary" and .certsentry.summary.of == "tls-certificate-hidden") | .certsentry.summary.count' "$f" 2>/dev/null | awk '{s += $1} END {print s + 0}')
		n=$(awk '{s += $1} END {print s + 0}' "$W/$t.sha")
		d=$(wc -l < "$W/$t.sha")
		if [ "$t" = certsentry-every ] || [ ! -s "$W/cs.sha" ]; then cp "$W/$t.sha" "$W/cs.sha"; fi
		if [ "$sc" -gt 0 ] || [ "$sh" -gt 0 ]; then
			printf -- '-\t%s chain events (%s certs, %s distinct) + summaries of %s more: %s cert-bearing handshakes reported; TLS 1.3: %s events + %s in summaries\n' \
				"$ev" "$n" "$d" "$sc" "$((ev + sc))" "$hid" "$sh"
		else
			printf '%s\t%s chain events / %s certs, %s distinct; %s TLS 1.3 (hidden) events\n' "$n" "$ev" "$n" "$d" "$hid"
		fi ;;
	tshark)
		awk -F'\t' 'NF >= 2 && $2 != "" {m++; k = split($2, a, ","); n += k; for (i = 1; i <= k; i++) print a[i] > "/dev/stderr"}
			END {print m + 0, n + 0}' "$f" 2>"$W/ts.der" > "$W/ts.n"
		local m n
		read -r m n < "$W/ts.n"
		sort "$W/ts.der" | uniq -c | while read -r c h; do
			printf '%s %s\n' "$c" "$(printf %s "$h" | perl -ne 'print pack("H*", $_)' | sha256sum | awk '{print toupper($1)}')"
		done | awk '{print $2, $1}' | sort > "$W/ts.sha"
		printf '%s\t%s msgs / %s DER, %s distinct\n' "$n" "$m" "$n" "$(wc -l < "$W/ts.sha")" ;;
	ndpiReader)
		local fl n d
		fl=$(grep -cE '^[[:space:]]+[0-9]+[[:space:]]+TCP ' "$f")
		n=$(grep -c '\[Subject: ' "$f")
		d=$(grep -o 'Certificate SHA-1: [0-9A-F:]*' "$f" | sort -u | wc -l)
		printf '%s\t%s flows, %s with [Subject:] (leaf only), %s distinct leaves\n' "$n" "$fl" "$n" "$d" ;;
	ssldump)
		local m n
		m=$(grep -cE '^[[:space:]]+Certificate[[:space:]]*$' "$f")
		n=$(grep -cE '^[[:space:]]+Subject[[:space:]]*$' "$f")
		printf '%s\t%s msgs / %s Subject blocks\n' "$n" "$m" "$n" ;;
	esac
}
: > "$W/rss.tsv"
for t in "${tools[@]}"; do
	/usr/bin/time -v -o "$W/$t.time" sh -c "${CMD[$t]}" > "$W/$t.out" 2>"$W/$t.err"
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$W/$t.time")
	printf '%s\t%s\t%s\n' "$t" "${rss:-0}" "$(count "$t" "$W/$t.out")" >> "$W/rss.tsv"
done
# Do certsentry's certificates match tshark's (same DER SHA-256 values and counts)?
agree=""
if [ -s "$W/cs.sha" ] && [ -s "$W/ts.sha" ]; then
	awk '{print $2, $1}' "$W/cs.sha" | sort > "$W/cs.sha2"
	if cmp -s "$W/cs.sha2" "$W/ts.sha"; then agree="certsentry's certificates (SHA-256 and count of each) are exactly tshark's."
	else
		agree="certsentry and tshark differ: $(join -a1 -a2 -e 0 -o 0,1.2,2.2 "$W/cs.sha2" "$W/ts.sha" |
			awk '$2 != $3 {printf "%s%s… certsentry %d, tshark %d", n++ ? "; " : "", substr($1, 1, 16), $2, $3}')"
		agree="$agree (SHA-256 of the DER: times seen). Distinct certificates: certsentry $(wc -l < "$W/cs.sha2"), tshark $(wc -l < "$W/ts.sha"), in common $(join "$W/cs.sha2" "$W/ts.sha" | wc -l)."
	fi
fi

# ---- join, derive, print ----
join -t $'\t' <(sort "$W/wall.tsv") <(sort "$W/rss.tsv") > "$W/joined.tsv"
for t in "${tools[@]}"; do awk -F'\t' -v t="$t" '$1 == t' "$W/joined.tsv"; done > "$W/all.tsv"	# in TOOLS order
# name median min max mean rss_kb certs note
res=$(jq -R -s --argjson hs "$HANDSHAKES" --argjson bytes "$bytes" --argjson expect "$EXPECT" '
	[split("\n")[] | select(length > 0) | split("\t") |
	 {t: .[0], med: (.[1] | tonumber), min: (.[2] | tonumber), max: (.[3] | tonumber),
	  rss: ((.[5] | tonumber) / 1024), certs: (if .[6] == "-" then null else (.[6] | tonumber) end), note: .[7]}]
	| (map(select(.t == "tcpdump-floor"))[0]) as $f | (map(select(.t == "tshark"))[0]) as $ts
	| def r(a; b): if a == null or b == null or b == 0 then null else a / b end;
	  def rnd(x): if x == null then null else (x * 1000 | round) / 1000 end;
	  def e(n; v; u; bn; bv; mi; ma): {name: n, value: rnd(v), unit: u, baseline_name: bn,
	       baseline_value: rnd(bv), ratio: rnd(r(v; bv)), min: rnd(mi), max: rnd(ma)};
	  [ .[] | . as $x |
	    e("offline wall: \($x.t)"; $x.med; "s"; (if $f and $x.t != "tcpdump-floor" then "tcpdump-floor" else null end);
	      (if $f and $x.t != "tcpdump-floor" then $f.med else null end); $x.min; $x.max),
	    (if $ts and $x.t != "tshark" and $x.t != "tcpdump-floor" then
	      e("offline wall vs tshark: \($x.t)"; $x.med; "s"; "tshark"; $ts.med; $x.min; $x.max) else empty end),
	    (if $x.t != "tcpdump-floor" then
	      e("offline handshakes/s: \($x.t)"; $hs / $x.med; "handshakes/s"; (if $ts and $x.t != "tshark" then "tshark" else null end);
	        (if $ts and $x.t != "tshark" then $hs / $ts.med else null end); $hs / $x.max; $hs / $x.min) else empty end),
	    e("offline MB/s: \($x.t)"; $bytes / 1e6 / $x.med; "MB/s"; (if $f and $x.t != "tcpdump-floor" then "tcpdump-floor" else null end);
	      (if $f and $x.t != "tcpdump-floor" then $bytes / 1e6 / $f.med else null end); $bytes / 1e6 / $x.max; $bytes / 1e6 / $x.min),
	    e("offline peak RSS: \($x.t)"; $x.rss; "MB"; (if $f and $x.t != "tcpdump-floor" then "tcpdump-floor" else null end);
	      (if $f and $x.t != "tcpdump-floor" then $f.rss else null end); null; null),
	    (if $x.certs != null then e("offline certificates found: \($x.t)"; $x.certs; "certs"; "expected (2 per cert-bearing handshake)"; $expect; null; null) else empty end)
	  ]' "$W/all.tsv")
[ -n "$json_out" ] && printf '%s\n' "$res" > "$json_out"

# Markdown section
{
	echo "### Offline replay (\`-r\`): $(basename "$pcap"), $(awk -v b="$bytes" 'BEGIN{printf "%.1f MB", b/1e6}')"
	echo
	echo "$timer per tool, all in one invocation, capture in the page cache."
	echo "Handshakes/s = $HANDSHAKES cert-bearing handshakes ÷ median wall; MB/s = file bytes ÷ median wall;"
	echo "peak RSS from one more run under \`/usr/bin/time -v\`, whose output gave the certificate counts"
	echo "(expected: $EXPECT = $HANDSHAKES chains of 2)."
	echo
	echo "| tool (command) | wall s median (min–max) | × tcpdump floor | vs tshark | handshakes/s | MB/s | peak RSS MB | certs found | what it found |"
	echo "|---|---|---|---|---|---|---|---|---|"
	ts_med=$(awk -F'\t' '$1 == "tshark" {print $2}' "$W/all.tsv")
	fl_med=$(awk -F'\t' '$1 == "tcpdump-floor" {print $2}' "$W/all.tsv")
	for t in "${tools[@]}"; do
		awk -F'\t' -v t="$t" -v lab="${LABEL[$t]}" -v ts="$ts_med" -v fl="$fl_med" -v hs="$HANDSHAKES" -v b="$bytes" '
		$1 == t {
			xf = (fl != "" && t != "tcpdump-floor") ? sprintf("%.1f×", $2 / fl) : "1.0×"
			if (t == "tcpdump-floor") xf = "(floor)"
			vt = "—"
			if (ts != "" && t != "tshark") vt = ($2 < ts) ? sprintf("%.1f× faster", ts / $2) : sprintf("%.1f× slower", $2 / ts)
			if (t == "tshark") vt = "(baseline)"
			hsps = (t == "tcpdump-floor") ? "(reads only)" : sprintf("%.0f", hs / $2)
			printf "| %s | %.3f (%.3f–%.3f) | %s | %s | %s | %.0f | %.1f | %s | %s |\n",
				lab, $2, $3, $4, xf, vt, hsps, b / 1e6 / $2, $6 / 1024, $7, $8
		}' "$W/all.tsv"
	done
	echo
	[ -n "$agree" ] && { echo "$agree"; echo; }
	if [ -s "$W/certsentry.err" ]; then
		echo "certsentry stderr (last line): \`$(tail -1 "$W/certsentry.err")\`"
		echo
	fi
} > "$W/section.md"
cat "$W/section.md"
[ -n "$md_out" ] && cp "$W/section.md" "$md_out"
exit 0

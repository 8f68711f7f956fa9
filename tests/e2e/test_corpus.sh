#!/usr/bin/env bash
# test_corpus.sh - replays the peer corpus (../shared/corpus/zeek-tls) offline and
# compares every reported chain with the oracle's expected/<trace>.tsv.
set -u
. "$(dirname "$0")/lib.sh"

CORPUS=${CORPUS:-$ROOT/../shared/corpus/zeek-tls}
# Traces whose difference from the oracle is known, with the reason. A trace
# listed here that starts matching fails too, so this list stays true.
KNOWN=$ROOT/tests/e2e/corpus-known.txt

if [ ! -d "$CORPUS/traces" ]; then
	skip corpus "no peer corpus at $CORPUS (a clone without ../shared beside it)"
	echo "SKIPPED: corpus test: $CORPUS is absent"
	summary
	exit 0
fi

known_reason() { awk -F'\t' -v t="$1" '!/^#/ && $1 == t { print $2 }' "$KNOWN" 2>/dev/null; }

# One line per reported server chain, in the oracle's column order (no stream).
ours() {
	jq -r 'select(.event.action == "tls-certificate")
		| [.destination.ip, (.destination.port | tostring), (.tls.client.server_name // ""),
		   ((.tls.version_protocol // "" | ascii_upcase) + "v" + (.tls.version // "")
		    | sub("^SSLv3\\.0$"; "SSLv3")),
		   (.certsentry.chain_total | tostring)]
		  + [.certsentry.chain[] | (.sha256 | ascii_downcase), .serial_number,
		     .subject, .issuer]
		| join("\t")' "$1" | sort
}

expected() { grep -v '^#' "$1" | cut -f2- | sort; }

printf '%-48s %8s %8s  %s\n' trace expected found result
for trace in "$CORPUS"/traces/*; do
	name=${trace##*/}
	exp_file=$CORPUS/expected/$name.tsv
	out=$TMP/$name.json
	"$BIN" --every -r "$trace" >"$out" 2>"$TMP/$name.err"; rc=$?
	if [ $rc -gt 1 ] || grep -q 'Sanitizer\|runtime error' "$TMP/$name.err"; then
		fail "$name" "crashed (exit $rc): $(head -5 "$TMP/$name.err")"
		continue
	fi
	if ! jq -e -s 'length > 0' "$out" >/dev/null 2>&1 && [ -s "$out" ]; then
		fail "$name" "output is not JSON lines"
		continue
	fi
	diff <(expected "$exp_file") <(ours "$out") >"$TMP/$name.diff"; same=$?
	n_exp=$(expected "$exp_file" | wc -l)
	n_got=$(ours "$out" | wc -l)
	reason=$(known_reason "$name")
	if [ $same -eq 0 ] && [ -z "$reason" ]; then
		printf '%-48s %8d %8d  %s\n' "$name" "$n_exp" "$n_got" same
		pass "$name"
	elif [ $same -eq 0 ]; then
		printf '%-48s %8d %8d  %s\n' "$name" "$n_exp" "$n_got" "same, but listed as known: update $KNOWN"
		fail "$name" "matches now; remove it from corpus-known.txt"
	elif [ -n "$reason" ]; then
		printf '%-48s %8d %8d  %s\n' "$name" "$n_exp" "$n_got" "KNOWN: $reason"
		skip "$name" "known difference: $reason"
	else
		printf '%-48s %8d %8d  %s\n' "$name" "$n_exp" "$n_got" DIFFERENT
		fail "$name" "$(head -c 600 "$TMP/$name.diff")"
	fi
done
summary

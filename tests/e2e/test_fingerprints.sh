#!/usr/bin/env bash
# test_fingerprints.sh - JA3 and JA4 of every ClientHello of the peer corpus (tools/hellofp)
# against tshark: JA3 equal to tshark's own, JA4 equal to the spec computed over tshark's
# dissection (tests/e2e/tshark_hellos.py), and the same on a second run.
set -u
. "$(dirname "$0")/lib.sh"

CORPUS=${CORPUS:-$ROOT/../shared/corpus/zeek-tls}
HELLOFP=${HELLOFP:-$ROOT/build/tools/hellofp}

if [ ! -d "$CORPUS/traces" ]; then
	skip fingerprints "no peer corpus at $CORPUS (a clone without ../shared beside it)"
	summary
	exit 0
fi
if ! command -v tshark >/dev/null; then
	skip fingerprints "tshark is not installed (Debian: tshark)"
	summary
	exit 0
fi
if ! tshark -G fields 2>/dev/null | grep -q 'tls\.handshake\.ja3_full'; then
	skip fingerprints "this tshark has no tls.handshake.ja3_full field"
	summary
	exit 0
fi
if [ ! -x "$HELLOFP" ]; then
	fail fingerprints "$HELLOFP is not built (make)"
	summary
	exit 1
fi

traces=("$CORPUS"/traces/*)
if ! "$HELLOFP" "${traces[@]}" >"$TMP/ours" 2>"$TMP/ours.err"; then
	fail hellofp "exit $?: $(head -3 "$TMP/ours.err")"
fi
"$HELLOFP" "${traces[@]}" >"$TMP/ours2" 2>/dev/null
if cmp -s "$TMP/ours" "$TMP/ours2" && [ -s "$TMP/ours" ]; then
	pass "fingerprints stable across runs ($(wc -l <"$TMP/ours") hellos, byte for byte)"
else
	fail "stable across runs" "a second run printed something else (or nothing)"
fi

# tshark starts slowly: two at a time, a few traces each.
printf '%s\0' "${traces[@]}" |
	xargs -0 -n 8 -P "$(nproc 2>/dev/null || echo 2)" python3 "$ROOT/tests/e2e/tshark_hellos.py" \
	>"$TMP/theirs" 2>"$TMP/theirs.err" ||
	fail "tshark oracle" "$(head -3 "$TMP/theirs.err")"

# Per trace, hellos are matched by client_random (a retransmitted hello or
# the second hello after a HelloRetryRequest shares it): every fingerprint
# tshark gives must be one of ours for that random, and every one of ours
# must be one of tshark's. Prints "PASS|name", "FAIL|name|why", "NOTE|text".
python3 - "$TMP/ours" "$TMP/theirs" >"$TMP/verdicts" <<'EOF'
import collections, os, sys

ours, theirs = collections.defaultdict(list), collections.defaultdict(list)
for line in open(sys.argv[1]):
    f, _ts, kind, rnd, s3, h3, j4, j4r = line.rstrip('\n').split('\t')
    ours[os.path.basename(f), rnd].append((kind, s3, h3, j4, j4r))
for line in open(sys.argv[2]):
    f, kind, rnd, s3, h3, j4, j4r = line.rstrip('\n').split('\t')
    theirs[f, rnd].append((kind, s3, h3, j4, j4r))

traces = sorted({k[0] for k in ours} | {k[0] for k in theirs})
n3 = e3 = n4 = e4 = 0
for t in traces:
    bad, cmp3, cmp4 = [], 0, 0
    for key in sorted(k for k in theirs if k[0] == t):
        ts, us = theirs[key], ours.get(key, [])
        for col, what in ((1, 'JA3 string'), (2, 'JA3'), (3, 'JA4'), (4, 'ja4_r')):
            want = {h[col] for h in ts if h[col] != '-'}
            got = {h[col] for h in us}
            if not want:
                continue
            if col == 1:
                cmp3 += sum(1 for h in ts if h[col] != '-')
            if col == 3:
                cmp4 += sum(1 for h in ts if h[col] != '-')
            if not us:
                bad.append('%s: no hello of ours with random %s' % (what, key[1][:16]))
            elif want != got:
                bad.append('%s for random %s: tshark %s, ours %s'
                           % (what, key[1][:16], sorted(want), sorted(got)))
    for key in sorted(k for k in ours if k[0] == t):
        if not any(h[1] != '-' for h in theirs.get(key, [])):
            kinds = ','.join(sorted({h[0] for h in ours[key]}))
            print('NOTE|%s: a %s hello (random %s...) tshark gives no JA3 for, not compared'
                  % (t, kinds, key[1][:16]))
    n3 += cmp3
    n4 += cmp4
    if bad:
        print('FAIL|%s|%s' % (t, '; '.join(bad)[:800]))
    elif cmp3 or cmp4:
        e3 += cmp3
        e4 += cmp4
        print('PASS|%s: %d hellos, JA3 equal to tshark, %d JA4 equal' % (t, cmp3, cmp4))
print('NOTE|JA3: %d ClientHellos compared with tshark, %d equal' % (n3, e3))
print('NOTE|JA4: %d ClientHellos compared with the spec over tshark, %d equal' % (n4, e4))
EOF
[ $? -eq 0 ] || fail comparison "the comparison script failed"

while IFS='|' read -r verdict name why; do
	case $verdict in
	PASS) pass "$name" ;;
	FAIL) fail "$name" "$why" ;;
	NOTE) echo "note: $name" ;;
	esac
done <"$TMP/verdicts"
summary

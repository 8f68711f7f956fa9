#!/usr/bin/env bash
# test_offline.sh - offline replay behaviour: the capture's clock, bad files, lost bytes.
set -u
. "$(dirname "$0")/lib.sh"

CORPUS=${CORPUS:-$ROOT/../shared/corpus/zeek-tls}/traces
MANGLE=$ROOT/build/tools/pcapmangle

# A projection of the chain events (status lines aside).
q() { jq -r "select(.event.action == \"tls-certificate\") | $1" 2>/dev/null; }

if [ -d "$CORPUS" ]; then
	# A 2013 capture is judged as of 2013; --check-time moves the judgement.
	got=$("$BIN" -r "$CORPUS/tls1.2.pcap" | q '[.certsentry.check_time, .certsentry.chain[0].validity] | join(" ")')
	[ "$got" = "2013-01-04T19:47:28.000Z valid" ] && pass check_time_packet || fail check_time_packet "$got"
	got=$("$BIN" -r "$CORPUS/tls1.2.pcap" --check-time now | q '.certsentry.chain[0].validity')
	[ "$got" = expired ] && pass check_time_now || fail check_time_now "$got"
	got=$("$BIN" -r "$CORPUS/tls1.2.pcap" --check-time 2020-01-01 | q '[.certsentry.check_time, .certsentry.chain[0].validity] | join(" ")')
	[ "$got" = "2020-01-01T00:00:00.000Z expired" ] && pass check_time_fixed || fail check_time_fixed "$got"
	got=$("$BIN" --every -r "$CORPUS/tls-expired-cert.pcap" | q '.certsentry.chain[0].validity' | sort | uniq -c | tr -s ' ')
	[ "$got" = " 1 expired
 1 valid" ] && pass expired_at_capture_time || fail expired_at_capture_time "$got"

	# A truncated file: a clear error naming the packet and offset, and every
	# chain read before the cut is still reported.
	size=$(stat -c %s "$CORPUS/google-cert-repeat.pcap")
	head -c $((size - 100)) "$CORPUS/google-cert-repeat.pcap" > "$TMP/cut.pcap"
	"$BIN" --every -r "$TMP/cut.pcap" > "$TMP/cut.json" 2> "$TMP/cut.err"; rc=$?
	n=$(count_events "$TMP/cut.json" tls-certificate)
	if [ $rc = 1 ] && grep -q 'packet [0-9]* at byte offset [0-9]*' "$TMP/cut.err" && [ "$n" = 8 ]; then
		pass truncated_file
	else
		fail truncated_file "rc=$rc events=$n err=$(cat "$TMP/cut.err")"
	fi
	gzip -c "$TMP/cut.pcap" | head -c 20000 > "$TMP/cut.pcap.gz"
	"$BIN" --every -r "$TMP/cut.pcap.gz" > "$TMP/cutgz.json" 2> "$TMP/cutgz.err"; rc=$?
	[ $rc = 1 ] && [ -s "$TMP/cutgz.err" ] && [ "$(count_events "$TMP/cutgz.json" tls-certificate)" -ge 1 ] \
		&& pass truncated_gzip || fail truncated_gzip "rc=$rc $(cat "$TMP/cutgz.err")"
else
	skip offline_corpus_checks "no peer corpus at $CORPUS"
fi

head -c 5000 /dev/urandom > "$TMP/junk.pcap"
msg=$("$BIN" -r "$TMP/junk.pcap" 2>&1 >/dev/null); rc=$?
[ $rc = 1 ] && grep -q 'junk.pcap' <<<"$msg" && pass unknown_file_format || fail unknown_file_format "rc=$rc '$msg'"
msg=$("$BIN" -r "$TMP/nonexistent.pcap" 2>&1 >/dev/null); rc=$?
[ $rc = 1 ] && grep -q 'nonexistent.pcap' <<<"$msg" && pass missing_file || fail missing_file "rc=$rc '$msg'"
msg=$("$BIN" -r x --check-time yesterday 2>&1 >/dev/null); rc=$?
[ $rc != 0 ] && grep -q 'check-time' <<<"$msg" && pass bad_check_time || fail bad_check_time "'$msg'"

# A hole that never fills: the event says which connection lost what.
if [ -d "$CORPUS" ] && [ -x "$MANGLE" ]; then
	"$MANGLE" --split 100 "$CORPUS/tls1.2.pcap" "$TMP/split.pcap"
	"$MANGLE" --drop 10 --seed 1 "$TMP/split.pcap" "$TMP/hole.pcap"
	"$BIN" -r "$TMP/split.pcap" > "$TMP/split.json"
	"$BIN" -r "$TMP/hole.pcap" > "$TMP/hole.json"
	got=$(events "$TMP/hole.json" tls-handshake-incomplete | jq -r '[.source.ip, .destination.ip, (.destination.port|tostring), .certsentry.incomplete.direction, (.certsentry.incomplete.lost_bytes > 0|tostring), (.certsentry.incomplete.chain_reported|tostring)] | join(" ")')
	if [ "$(count_events "$TMP/split.json" tls-certificate)" = 1 ] &&
	   [ "$(count_events "$TMP/hole.json" tls-certificate)" = 0 ] &&
	   [ "$got" = "10.0.0.80 68.233.76.12 443 server true false" ]; then
		pass hole_reported
	else
		fail hole_reported "got '$got': $(cat "$TMP/hole.json")"
	fi
else
	skip hole_reported "no corpus or pcapmangle"
fi
summary

#!/usr/bin/env bash
# test_config.sh - --config and --check-config on real files, and SIGHUP re-reading the config live.
set -u
. "$(dirname "$0")/lib.sh"

PKI=$TMP/pki
"$ROOT/tools/mkpki.sh" "$PKI" >/dev/null 2>&1 || { fail mkpki "could not make the test PKI"; summary; exit 1; }
LEAF_FP=$(fp "$PKI/leaf.pem")

# --check-config: 0 and a summary for a good file, FILE:LINE: key: why for bad ones.
test_check_config() {
	local conf=$TMP/good.conf out rc
	printf 'www.example.test sha256:%s\n' "$LEAF_FP" >"$TMP/pins"
	printf 'sha256:%s\n' "$(printf '%064d' 0)" >"$TMP/deny"
	cat >"$conf" <<-EOT
	# the fleet's settings
	format = text
	every
	ca-file = $PKI/root.pem
	pins = $TMP/pins
	deny = $TMP/deny
	crl = $PKI/crl.pem
	EOT
	[ -e "$PKI/crl.pem" ] || sed -i '/^crl =/d' "$conf"
	out=$("$BIN" --check-config --config "$conf" 2>&1); rc=$?
	if [ $rc = 0 ] && grep -q "^$conf: ok, .* pin_rules=1" <<<"$out"; then
		pass check_config_good
	else
		fail check_config_good "rc=$rc: $out"
	fi

	printf 'www.example.test sha256:nothex\n' >"$TMP/badpins"
	sed "s|^pins = .*|pins = $TMP/badpins|" "$conf" >"$TMP/badlist.conf"
	out=$("$BIN" --check-config --config "$TMP/badlist.conf" 2>&1); rc=$?
	if [ $rc != 0 ] && grep -q "^$TMP/badlist.conf:5: pins: $TMP/badpins:1: " <<<"$out"; then
		pass check_config_bad_list
	else
		fail check_config_bad_list "rc=$rc: $out"
	fi

	printf 'format = text\nmax-flow = 128\n' >"$TMP/badkey.conf"
	out=$("$BIN" --check-config --config "$TMP/badkey.conf" 2>&1); rc=$?
	if [ $rc != 0 ] && [ "$out" = "$TMP/badkey.conf:2: max-flow: unknown key (the keys are the long options, see certsentry --help)" ]; then
		pass check_config_unknown_key
	else
		fail check_config_unknown_key "rc=$rc: $out"
	fi

	printf 'summary-interval = 0\n' >"$TMP/badval.conf"
	out=$("$BIN" -r /dev/null --config "$TMP/badval.conf" 2>&1); rc=$?
	if [ $rc != 0 ] && [ "$out" = "certsentry: $TMP/badval.conf:1: summary-interval: '0' is not 1-86400 seconds" ]; then
		pass config_bad_value_stops_the_run
	else
		fail config_bad_value_stops_the_run "rc=$rc: $out"
	fi
}

# The command line over the file: -f json wins over the file's format = text.
test_override() {
	local conf=$TMP/over.conf pcap=$ROOT/../shared/corpus/zeek-tls/traces/tls1.2.pcap out
	printf 'format = text\n' >"$conf"
	out=$("$BIN" --config "$conf" -r "$pcap" 2>/dev/null | head -1)
	if [[ "$out" == *tls-certificate* && "$out" != "{"* ]]; then
		out=$("$BIN" --config "$conf" -f json -r "$pcap" 2>/dev/null | head -1)
		if one_line .tls >/dev/null 2>&1 <<<"$out"; then pass config_command_line_overrides; else fail config_command_line_overrides "-f json gave: $out"; fi
	else
		fail config_command_line_overrides "format = text gave: $out"
	fi
}

# SIGHUP: the new pins apply (a pin.mismatch on the next handshake), and the
# changed setting that needs a restart is named.
test_sighup() {
	local why ns out=$TMP/hup.json conf=$TMP/hup.conf ev
	why=$(live_unavailable)
	if [ -n "$why" ]; then skip config_sighup "$why"; return; fi
	: >"$TMP/nopins"
	printf 'ca-file = %s\npins = %s\nmax-flows = 128\n' "$PKI/root.pem" "$TMP/nopins" >"$conf"
	ns_new ns hup || { fail config_sighup "netns"; return; }
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" ||
		{ fail config_sighup "server did not start"; ns_del "$ns"; return; }
	start_sentry "$ns" "$out" --config "$conf" -i lo --every ||
		{ fail config_sighup "certsentry did not start: $(cat "$out")"; stop_pid "$SERVER_PID"; ns_del "$ns"; return; }
	printf 'www.example.test sha256:%064d\n' 0 >"$TMP/newpins"
	printf 'ca-file = %s\npins = %s\nmax-flows = 256\n' "$PKI/root.pem" "$TMP/newpins" >"$conf"
	kill -HUP "$SENTRY_PID"
	wait_for 10 grep -q 'certsentry-lists-reloaded.*pin_rules=1' "$out"
	handshake "$ns" 127.0.0.1:4433 -servername www.example.test -tls1_2
	wait_for 10 grep -q pin.mismatch "$out"
	stop_pid "$SENTRY_PID"
	stop_pid "$SERVER_PID"
	ns_del "$ns"
	ev=$(events "$out" certsentry-config-reloaded | jq -r '.message')
	if [ "$ev" != "file=$conf restart_needed=max-flows" ]; then
		fail config_sighup "config-reloaded: '$ev'"
	elif ! events "$out" tls-certificate | grep -q pin.mismatch; then
		fail config_sighup "no pin.mismatch after the reload: $(events "$out" tls-certificate | head -2)"
	else
		pass config_sighup
	fi
}

test_check_config
test_override
test_sighup
summary

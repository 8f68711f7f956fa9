#!/usr/bin/env bash
# test_install.sh - make install/uninstall into a DESTDIR; the unit, man page, config, logrotate and completion checked.
set -u
. "$(dirname "$0")/lib.sh"

DEST=$TMP/root
PFX=/usr/local
UNIT=$DEST$PFX/lib/systemd/system/certsentry.service
MAN=$DEST$PFX/share/man/man8/certsentry.8
COMP=$DEST$PFX/share/bash-completion/completions/certsentry
CONF=$DEST/etc/certsentry/certsentry.conf
ROT=$DEST/etc/logrotate.d/certsentry

# The long options --help lists (what the man page, config and completion follow).
HELP_OPTS=$("$BIN" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)

test_install_files() {
	local want got
	if ! make -C "$ROOT" --no-print-directory install DESTDIR="$DEST" PREFIX="$PFX" >"$TMP/install.log" 2>&1; then
		fail install "make install: $(tail -5 "$TMP/install.log")"
		return 1
	fi
	want=$(printf '%s\n' /etc/certsentry/certsentry.conf /etc/logrotate.d/certsentry \
		$PFX/lib/systemd/system/certsentry.service $PFX/lib/sysusers.d/certsentry.conf \
		$PFX/sbin/certsentry $PFX/share/bash-completion/completions/certsentry \
		$PFX/share/man/man8/certsentry.8 | sort)
	got=$(cd "$DEST" && find . -type f -o -type l | sed 's|^\.||' | sort)
	[ "$got" = "$want" ] && pass "make install DESTDIR: the $(wc -l <<<"$want") files expected, nothing else" \
		|| fail install_files "got: $(tr '\n' ' ' <<<"$got")"
	[ "$(stat -c %a "$DEST$PFX/sbin/certsentry")" = 755 ] && cmp -s "$ROOT/build/certsentry" "$DEST$PFX/sbin/certsentry" \
		&& pass "binary installed 0755" || fail install_bin "mode $(stat -c %a "$DEST$PFX/sbin/certsentry")"
	grep -q "^ExecStart=$PFX/sbin/certsentry " "$UNIT" && pass "unit's ExecStart names $PFX/sbin" \
		|| fail unit_exec "$(grep ExecStart "$UNIT")"
}

test_unit() {
	local out rc
	if ! command -v systemd-analyze >/dev/null; then
		skip systemd_analyze_verify "systemd-analyze is not installed"
		return
	fi
	# verify checks that ExecStart exists: the copy names the binary in DESTDIR;
	# and that Documentation= pages exist: MANPATH points at DESTDIR's.
	sed "s|^ExecStart=$PFX/sbin/certsentry|ExecStart=$DEST$PFX/sbin/certsentry|" "$UNIT" \
		> "$TMP/certsentry.service"
	out=$(MANPATH=$DEST$PFX/share/man systemd-analyze verify "$TMP/certsentry.service" 2>&1)
	rc=$?
	# A complaint about the unit names it ("certsentry.service:", or its path
	# and line); other lines are the machine's (no manager, no bus), which
	# only the first run may have: it then cannot judge the unit at all.
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		pass "systemd-analyze verify: no complaint (PID 1 is $(ps -o comm= -p 1))"
	elif ! grep -q 'certsentry\(-bad\)\?\.service' <<<"$out"; then
		skip systemd_analyze_verify "systemd-analyze cannot run here: $out"
		return
	else
		fail systemd_analyze_verify "rc $rc: $out"
	fi
	# ... and it would say so: a copy with a value systemd cannot parse. systemd
	# only warns ("ignoring") and exits 0 for it: hence no output, not the
	# exit status, is what passes above.
	sed 's/^ProtectSystem=strict$/ProtectSystem=bogus/' "$TMP/certsentry.service" \
		> "$TMP/certsentry-bad.service"
	out=$(MANPATH=$DEST$PFX/share/man systemd-analyze verify "$TMP/certsentry-bad.service" 2>&1)
	rc=$?
	grep -q "certsentry-bad.service:[0-9]*: .*protect system value.*bogus" <<<"$out" &&
		pass "systemd-analyze verify: a broken copy is complained of, with its line" ||
		fail systemd_analyze_verify_bad "rc $rc: $out"
	# what the brief asks of the unit, line by line
	local k bad=()
	for k in Restart=on-failure ProtectSystem=strict StateDirectory=certsentry \
		RuntimeDirectory=certsentry LogsDirectory=certsentry User=certsentry NoNewPrivileges=yes; do
		grep -qx "$k" "$UNIT" || bad+=("$k")
	done
	grep -q '^CapabilityBoundingSet=CAP_' "$UNIT" || bad+=(CapabilityBoundingSet)
	[ ${#bad[@]} -eq 0 ] && pass "unit: $(grep -c = "$UNIT") settings, the required ones present" \
		|| fail unit_keys "missing: ${bad[*]}"
}

# The unit's capabilities are enough: certsentry started as the user with
# exactly those (as systemd's AmbientCapabilities= does it, here by setpriv)
# loads, attaches, drops them all and reports a handshake.
test_unit_caps_enough() {
	local why caps ns out=$TMP/svc.json have missing=() c sp
	why=$(live_unavailable)
	[ -n "$why" ] && { skip unit_caps "$why"; return; }
	command -v setpriv >/dev/null || { skip unit_caps "setpriv (util-linux) missing"; return; }
	caps=$(sed -n 's/^AmbientCapabilities=//p' "$ROOT/dist/certsentry.service.in")
	# setpriv can only hand on what this process may have: its bounding set
	have=$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)
	sp=
	for c in $caps; do
		local n
		n=$(awk -v c="$c" '$1 == "#define" && $2 == c { print $3 }' /usr/include/linux/capability.h)
		if [ -n "$n" ] && (( (0x$have >> n) & 1 )); then
			sp+=",+${c#CAP_}"
		else
			missing+=("$c")
		fi
	done
	sp=${sp,,}
	ns_new ns svc || { fail unit_caps "netns"; return; }
	start_server "$ns" 4433 "$PKI/leaf.pem" "$PKI/leaf.key" "$PKI/inter.pem" ||
		{ fail unit_caps "s_server"; ns_del "$ns"; return; }
	mkdir -p "$TMP/svc"; chown nobody "$TMP/svc"; chmod 755 "$TMP"
	ip netns exec "$ns" setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		--inh-caps="-all$sp" --ambient-caps="-all$sp" --bounding-set="-all$sp" \
		"$BIN" -o "$TMP/svc/out.json" -i lo --user nobody 2>"$TMP/svc.err" &
	SENTRY_PID=$!
	PIDS+=("$SENTRY_PID")
	if ! wait_for 10 grep -q certsentry-started "$TMP/svc/out.json"; then
		fail unit_caps "did not start with $caps: $(cat "$TMP/svc.err")"
	else
		handshake "$ns" 127.0.0.1:4433 -tls1_2 -servername www.example.test
		wait_for 5 grep -q '"tls-certificate"' "$TMP/svc/out.json"
		if grep -q '"tls-certificate"' "$TMP/svc/out.json" &&
		   grep -q 'running as nobody' "$TMP/svc/out.json" &&
		   [ "$(awk '/^CapEff:/ { print $2 }' "/proc/$SENTRY_PID/status")" = 0000000000000000 ] &&
		   [ "$(awk '/^Seccomp:/ { print $2 }' "/proc/$SENTRY_PID/status")" = 2 ]; then
			local note=""
			[ ${#missing[@]} -gt 0 ] && note=" (${missing[*]}: not in this machine's bounding set, not given)"
			pass "as the unit starts it (user nobody, ambient${sp//,/ }): loads, attaches, drops all, reports$note"
		else
			fail unit_caps "$(tail -3 "$TMP/svc/out.json") $(cat "$TMP/svc.err")"
		fi
	fi
	stop_pid "$SENTRY_PID"
	stop_pid "$SERVER_PID"
	ns_del "$ns"
}

# On a machine whose PID 1 is systemd: the installed unit, under another
# name, as nobody, in a namespace of ours (NetworkNamespacePath=), started,
# killed with -9 (Restart=on-failure brings it back) and stopped.
test_under_systemd() {
	local pid1 ns name u out main1 main2
	pid1=$(cat /proc/1/comm 2>/dev/null)
	if [ "$pid1" != systemd ]; then
		skip run_under_systemd "PID 1 here is '$pid1', not systemd: the unit cannot be started"
		return
	fi
	ns_new ns unit || { fail run_under_systemd "netns"; return; }
	name=certsentry-e2e-$$
	u=/run/systemd/system/$name.service
	out=$TMP/unit/out.json
	mkdir -p "$TMP/unit"; chown nobody "$TMP/unit"; chmod 755 "$TMP"
	sed -e "s|^ExecStart=.*|ExecStart=$BIN -o $out -i lo --user nobody|" -e 's/^User=.*/User=nobody/' \
		-e "s/^Group=.*/Group=$(id -gn nobody)/" -e "s|^\[Service\]|[Service]\nNetworkNamespacePath=/run/netns/$ns|" \
		-e 's/^ProtectSystem=strict/ProtectSystem=full/' "$UNIT" > "$u"	# strict would hide $TMP
	systemctl daemon-reload && systemctl start "$name" && wait_for 10 grep -q certsentry-started "$out"
	main1=$(systemctl show -p MainPID --value "$name")
	if grep -q 'running as nobody' "$out" && [ "$(awk '/^Seccomp:/ { print $2 }' "/proc/$main1/status")" = 2 ]; then
		kill -9 "$main1"
		wait_for 15 sh -c "[ \$(grep -c certsentry-started $out) -ge 2 ]"
		main2=$(systemctl show -p MainPID --value "$name")
		[ "$main2" != "$main1" ] && [ "$main2" != 0 ] \
			&& pass "under systemd: started as nobody, dropped, restarted after kill -9" \
			|| fail run_under_systemd "not restarted: $(systemctl status "$name" 2>&1 | tail -3)"
	else
		fail run_under_systemd "$(systemctl status "$name" 2>&1 | tail -5) $(cat "$out" 2>&1)"
	fi
	systemctl stop "$name"
	rm -f "$u"
	systemctl daemon-reload
	ns_del "$ns"
}

test_man() {
	local warn opts missing=() o
	command -v man >/dev/null || { skip man_page "man (man-db) is not installed"; return; }
	warn=$(MANWIDTH=100 man --warnings -l "$MAN" 2>&1 >/dev/null)
	[ -z "$warn" ] && pass "man --warnings -l renders certsentry(8) without a warning" \
		|| fail man_warnings "$warn"
	MANWIDTH=100 man -l "$MAN" 2>/dev/null | col -b > "$TMP/man.txt"
	for o in $HELP_OPTS; do grep -qF -- "$o" "$TMP/man.txt" || missing+=("$o"); done
	for o in $("$BIN" --list-findings -f json | jq -r '.[].code') \
		 $("$BIN" --list-events -f json | jq -r '.[].action'); do
		grep -qF -- "$o" "$TMP/man.txt" || missing+=("$o")
	done
	for o in NAME SYNOPSIS OPTIONS OUTPUT FINDINGS EVENTS "LIST FORMATS" SIGNALS "EXIT STATUS" \
		FILES SECURITY; do
		grep -qx "$o" "$TMP/man.txt" || missing+=("section $o")
	done
	[ ${#missing[@]} -eq 0 ] && pass "man page: every option of --help, finding, event.action and section" \
		|| fail man_content "missing: ${missing[*]}"
}

test_conf() {
	local k bad=() n=0
	while read -r k; do
		n=$((n + 1))
		grep -qx -- "--$k" <<<"$HELP_OPTS" || bad+=("$k")
	done < <(sed -n 's/^#\{0,1\} *\([a-z][a-z0-9-]*\) *=.*/\1/p' "$CONF")
	[ $n -gt 5 ] && [ ${#bad[@]} -eq 0 ] && pass "certsentry.conf: its $n keys are all long options of --help" \
		|| fail conf_keys "$n keys, not options: ${bad[*]}"
}

test_logrotate() {
	if ! command -v logrotate >/dev/null; then
		skip logrotate "logrotate is not installed"
		return
	fi
	local out conf=$ROT note=""
	# `su certsentry` needs the user; where it does not exist, the check runs
	# on a copy that names nobody instead
	if ! id certsentry >/dev/null 2>&1; then
		sed "s/^\(\s*su\) certsentry certsentry/\1 nobody $(id -gn nobody)/" "$ROT" > "$TMP/lr.conf"
		conf=$TMP/lr.conf note=" (su nobody: no certsentry user here)"
	fi
	out=$(logrotate -d -s "$TMP/lr.state" "$conf" 2>&1)
	if [ $? -eq 0 ] && ! grep -qi 'error' <<<"$out"; then
		pass "logrotate -d parses the snippet$note"
	else
		fail logrotate "$out"
	fi
	grep -qE '^\s*copytruncate' "$ROT" && fail logrotate_truncate "copytruncate present"
	grep -A2 postrotate "$ROT" | grep -q -- '--signal=HUP' && pass "logrotate: postrotate sends SIGHUP, no copytruncate" \
		|| fail logrotate_hup "no SIGHUP in postrotate"
}

# complete WORDS...: what _certsentry offers for the last word.
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _certsentry; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$COMP" "$@"
}

test_completion() {
	local got missing=() o
	bash -n "$COMP" && pass "bash -n on the completion" || fail completion_syntax "bash -n"
	got=$(complete_words "$BIN" --)
	for o in $HELP_OPTS; do grep -q -- "^$o=\{0,1\}$" <<<"$got" || missing+=("$o"); done
	[ ${#missing[@]} -eq 0 ] && pass "completion of --: every long option of --help ($(wc -l <<<"$got"))" \
		|| fail completion_opts "missing ${missing[*]}"
	[ "$(complete_words "$BIN" --cls)" = --clsact ] && pass "completion: --cls -> --clsact" \
		|| fail completion_prefix "$(complete_words "$BIN" --cls)"
	[ "$(complete_words "$BIN" -f "" | tr '\n' ' ')" = "json text " ] && pass "completion: -f -> json text" \
		|| fail completion_format "$(complete_words "$BIN" -f "")"
	[ "$(complete_words "$BIN" --ignore revoked.c)" = revoked.crl ] &&
	[ "$(complete_words "$BIN" --ignore = revoked.c)" = revoked.crl ] &&
		pass "completion: --ignore and --ignore= complete finding codes" \
		|| fail completion_ignore "$(complete_words "$BIN" --ignore revoked.c)"
	complete_words "$BIN" -i "" | grep -qx lo && pass "completion: -i lists interfaces" \
		|| fail completion_iface "$(complete_words "$BIN" -i "")"
}

test_uninstall() {
	local left
	if ! make -C "$ROOT" --no-print-directory uninstall DESTDIR="$DEST" PREFIX="$PFX" >"$TMP/un.log" 2>&1; then
		fail uninstall "$(tail -3 "$TMP/un.log")"
		return
	fi
	left=$(find "$DEST" -type f -o -type l)
	[ -z "$left" ] && pass "make uninstall removes every file it installed" || fail uninstall "left: $left"
	# a changed config is the admin's: kept
	make -C "$ROOT" --no-print-directory install DESTDIR="$DEST" PREFIX="$PFX" >/dev/null 2>&1
	echo "warn-days = 30" >> "$CONF"
	make -C "$ROOT" --no-print-directory uninstall DESTDIR="$DEST" PREFIX="$PFX" >/dev/null 2>&1
	left=$(cd "$DEST" && find . -type f | sed 's|^\.||')
	[ "$left" = /etc/certsentry/certsentry.conf ] && pass "uninstall keeps a config that was changed" \
		|| fail uninstall_conf "left: $left"
}

PKI=$TMP/pki
"$ROOT/tools/mkpki.sh" "$PKI" || { fail mkpki "could not make the test PKI"; summary; exit 1; }
if test_install_files; then
	test_unit
	test_man
	test_conf
	test_logrotate
	test_completion
	test_uninstall
fi
test_unit_caps_enough
test_under_systemd
summary

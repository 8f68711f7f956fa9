#!/usr/bin/env bash
# run.sh - builds and runs the libFuzzer harnesses (tests/fuzz/fuzz_*.c).
#
#   tests/fuzz/run.sh [smoke|long] [NAME...]
#
# smoke (default; what `make test` runs): each harness for FUZZ_SECONDS
# (default 5). long (`make fuzz`): FUZZ_SECONDS default 60. Harnesses run
# FUZZ_JOBS at a time (default: the number of CPUs). Seeds are made afresh
# in build/fuzz/seeds/<name> from ../shared/corpus/zeek-tls/traces (read in
# place; skipped loudly if absent), a tools/mkpki.sh PKI in build/fuzz/pki
# and handcrafted inputs. long keeps what libFuzzer learns in
# build/fuzz/corpus/<name>; smoke starts from the seeds alone every time
# (bounded and repeatable). Crashes go to build/fuzz/crashes/<name>/.
# Inputs in tests/fuzz/regress/<name>/ (past findings) are replayed first.
# Prints PASS:/FAIL:/SKIPPED: lines and "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."

mode=${1:-smoke}
case $mode in smoke|long) shift ;; *) mode=smoke ;; esac
if [ "$mode" = long ]; then secs=${FUZZ_SECONDS:-60}; else secs=${FUZZ_SECONDS:-5}; fi
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
FB=build/fuzz
TRACES=${CS_FUZZ_TRACES:-../shared/corpus/zeek-tls/traces}
pass=0 fail=0 skip=0

finish() {
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
	exit
}

if ! command -v clang >/dev/null ||
   ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
	echo "SKIPPED: fuzz: clang with libFuzzer (libclang-rt-dev) not installed"
	skip=$((skip + 1))
	finish
fi
if ! make -s --no-print-directory fuzz-build >$FB.build.log 2>&1; then
	sed 's/^/    /' $FB.build.log | tail -30
	echo "FAIL: fuzz: building the harnesses (make fuzz-build)"
	fail=$((fail + 1))
	finish
fi

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for h in tests/fuzz/fuzz_*.c; do h=${h##*/fuzz_}; names+=("${h%.c}"); done
fi

# ---- seeds ----
if [ ! -f $FB/pki/leaf.ocsp-revoked.der ] || [ ! -f $FB/pki/inter.crl.pem ]; then
	rm -rf $FB/pki
	{ tools/mkpki.sh $FB/pki && tools/mkpki.sh $FB/pki ocsp leaf good &&
	  tools/mkpki.sh $FB/pki ocsp leaf revoked && tools/mkpki.sh $FB/pki leaf rev www.example.test &&
	  tools/mkpki.sh $FB/pki crl rev; } >/dev/null 2>&1 || echo "fuzz: tools/mkpki.sh failed; seeds without a PKI" >&2
fi
traces=()
if [ -d "$TRACES" ]; then
	for t in "$TRACES"/*; do [ -f "$t" ] && traces+=("$t"); done
fi
if [ ${#traces[@]} -eq 0 ]; then
	echo "SKIPPED: fuzz seeds from $TRACES: corpus traces absent (harnesses start from handcrafted and PKI seeds only)"
	skip=$((skip + 1))
fi
rm -rf $FB/seeds
python3 tests/fuzz/mkseeds.py $FB/seeds $FB/pki "${traces[@]}" >$FB/seeds.log 2>&1 ||
	{ sed 's/^/    /' $FB/seeds.log; echo "FAIL: fuzz: making seeds"; fail=$((fail + 1)); }
export CS_FUZZ_PKI=$FB/pki
# Leaks on; a slow input (a hang) is a finding too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-}:print_stacktrace=1:halt_on_error=1

# run_one NAME: replays regressions, fuzzes, writes $FB/logs/NAME.{log,result}
run_one() {
	local n=$1 bin=$FB/fuzz_$1 log=$FB/logs/$1.log res=$FB/logs/$1.result
	local corpus=$FB/corpus/$1 crashes=$FB/crashes/$1 rc execs cov art
	if [ "$mode" = smoke ]; then corpus=$FB/smoke/$1; rm -rf "$corpus"; fi
	mkdir -p "$corpus" "$crashes" "$FB/seeds/$n"
	: >"$log"
	if [ -d tests/fuzz/regress/$n ] && ls tests/fuzz/regress/$n/* >/dev/null 2>&1; then
		if ! "$bin" -runs=1 tests/fuzz/regress/$n/* >>"$log" 2>&1; then
			echo "FAIL: fuzz_$n (a past finding in tests/fuzz/regress/$n crashes again; see $log)" >"$res"
			return
		fi
	fi
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=2560 \
		-max_len=1048576 -artifact_prefix="$crashes/" "$corpus" "$FB/seeds/$n" >>"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
	art=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
	if [ $rc -eq 0 ] && [ -z "$art" ]; then
		echo "PASS: fuzz_$n (${execs:-0} execs, ${cov:-cov: ?}, ${secs}s)" >"$res"
	else
		echo "FAIL: fuzz_$n (rc $rc, ${execs:-?} execs${art:+, crash file $art}; reproduce: $bin ${art:-<input>}; log $log)" >"$res"
	fi
}

mkdir -p $FB/logs
running=0
for n in "${names[@]}"; do
	if [ ! -x $FB/fuzz_$n ]; then
		echo "FAIL: fuzz_$n (no such harness)"
		fail=$((fail + 1))
		continue
	fi
	rm -f $FB/logs/$n.result
	run_one "$n" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
for n in "${names[@]}"; do
	[ -f $FB/logs/$n.result ] || continue
	r=$(cat $FB/logs/$n.result)
	echo "$r"
	case $r in
	PASS:*) pass=$((pass + 1)) ;;
	*) fail=$((fail + 1)); grep -aE 'ERROR|FUZZ_CHECK|runtime error|SUMMARY|bad JSON' $FB/logs/$n.log | head -5 | sed 's/^/    /' ;;
	esac
done
finish

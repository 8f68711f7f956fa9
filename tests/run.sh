#!/usr/bin/env bash
# run.sh - runs every suite (unit, unit under ASan+UBSan, BPF, live e2e) and prints one closing line.
set -u
cd "$(dirname "$0")/.."

total_p=0 total_f=0 total_s=0
failed_suites=()
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# add SUITE PASSED FAILED SKIPPED
add() {
	total_p=$((total_p + $2)); total_f=$((total_f + $3)); total_s=$((total_s + $4))
	[ "$3" -gt 0 ] && failed_suites+=("$1")
	printf '== %-40s %3d passed, %d failed, %d skipped\n' "$1" "$2" "$3" "$4"
}

# A cmocka binary: count its per-test lines; a crash counts as a failure.
run_cmocka() {
	local bin=$1 name=$2 log rc p f s
	log=$(mktemp)
	"$bin" >"$log" 2>&1; rc=$?
	p=$(grep -c '^\[       OK \]' "$log")
	s=$(grep -c '^\[  SKIPPED \]' "$log")
	f=$(grep -cE '^\[  (FAILED|ERROR) +\] [^0-9]' "$log")
	f=$(( f / 2 > 0 ? f / 2 : f ))	# cmocka lists each failure twice
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ "$f" -gt 0 ] || grep -q 'SKIPPED\|ERROR: \(Address\|Leak\|Undefined\)Sanitizer\|runtime error' "$log"; then
		sed 's/^/    /' "$log" | grep -v '^\s*\[ RUN\|^\s*\[       OK' | tail -40
	fi
	if grep -q 'ERROR: \(Address\|Leak\)Sanitizer\|runtime error' "$log" && [ "$f" -eq 0 ]; then f=1; fi
	add "$name" "$p" "$f" "$s"
	rm -f "$log"
}

# A shell suite printing PASS:/FAIL:/SKIPPED: lines.
run_shell() {
	local script=$1 name=$2 log
	log=$(mktemp)
	"$script" 2>&1 | tee "$log" | grep -E '^(FAIL|SKIPPED)' | sed 's/^/    /'
	add "$name" "$(grep -c '^PASS:' "$log")" "$(grep -c '^FAIL:' "$log")" "$(grep -c '^SKIPPED:' "$log")"
	if ! grep -qE '^[0-9]+ passed, [0-9]+ failed' "$log"; then add "$name (did not finish)" 0 1 0; fi
	rm -f "$log"
}

# The BPF tests (tests/bpf) need root and run once, unsanitized.
bpf_tests=" $(cd tests/bpf && echo test_*.c | sed 's/\.c//g') "
is_bpf() { case $bpf_tests in *" ${1##*/} "*) return 0 ;; esac; return 1; }

# The tree's one C style (.clang-format; `make format` applies it).
if fmt_out=$(make -s --no-print-directory format-check 2>&1); then
	add "format: clang-format" 1 0 0
else
	echo "$fmt_out" | sed 's/^/    /'
	add "format: clang-format" 0 1 0
fi

for t in build/tests/test_*; do
	is_bpf "$t" && continue
	run_cmocka "$t" "unit: ${t##*/}"
done
for t in build/san/tests/test_*; do
	is_bpf "$t" && continue
	run_cmocka "$t" "asan+ubsan: ${t##*/}"
done
for t in $bpf_tests; do
	[ -x "build/tests/$t" ] && run_cmocka "build/tests/$t" "bpf: $t"
done
for t in tests/e2e/test_*.sh; do
	run_shell "$t" "e2e: ${t##*/}"
done
# Offline replay of hostile real traces under the sanitizers, leaks included.
[ -x build/san/certsentry ] && CERTSENTRY=build/san/certsentry \
	run_shell tests/e2e/test_corpus.sh "asan+ubsan e2e: test_corpus.sh"
# The fetchers' network paths (curl callbacks, the CRL worker thread) live, leaks included.
[ -x build/san/tools/fetchdrive ] && FETCHDRIVE=$PWD/build/san/tools/fetchdrive \
	run_shell tests/e2e/test_fetch.sh "asan+ubsan e2e: test_fetch.sh"
# libFuzzer smoke: every harness a few seconds (tests/fuzz/run.sh; `make fuzz` for longer).
run_shell tests/fuzz/run.sh "fuzz: smoke (libFuzzer, ASan+UBSan)"


# Nothing of ours may outlive the suites: namespaces, servers, tc attachments.
# A test's namespaces end in its PID (lib.sh: ns_new); those of tests still
# running (another suite beside this one) are not ours to count.
left=0
for ns in $(ip netns list 2>/dev/null | awk '/^cs-/ { print $1 }'); do
	kill -0 "${ns##*-}" 2>/dev/null || left=$((left + 1))
done
[ "$left" -eq 0 ] && add "cleanup: no namespaces left" 1 0 0 || add "cleanup: $left namespaces left" 0 1 0

echo
[ ${#failed_suites[@]} -gt 0 ] && printf 'failed suites: %s\n' "${failed_suites[*]}"
echo "total: $total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]

#!/usr/bin/env bash
# mkpcap.sh OUT.pcap - the benchmark capture: an edge-like mix of TLS handshakes
# and bulk downloads, recorded with tcpdump on the loopback of a throwaway
# network namespace (see ../shared/bench/ANCHORS.md for the reference one).
#
#   * namespace cs-bench-PID, lo at MTU 1500 with TSO/GSO/GRO off, so every
#     frame is at most 1514 bytes, as on a real edge NIC;
#   * 4 `openssl s_server -WWW` on ports 443, 8443, 4433, 993, serving an
#     RSA-2048, ECDSA P-256, RSA-2048, ECDSA P-256 leaf, each with the
#     intermediate (test root -> intermediate -> leaf, tools/mkpki.sh);
#   * build/tools/bench/tlsload: N12 TLS 1.2 and N13 TLS 1.3 full handshakes
#     (no resumption, each its own client port), 80% with SNI, every BULK_EVERY-th
#     downloading BULK_KB KiB and the rest ~100 B, THREADS in parallel.
#
# Environment (defaults give ~210 MB, 6,000 cert-bearing handshakes):
#   N12=6000 N13=600 BULK_EVERY=10 BULK_KB=256 THREADS=4
# Needs root, openssl, tcpdump, ethtool, iproute2. The namespace and every
# process are removed on exit, whatever happens.
# Last line of output: "mkpcap: OUT packets=N dropped=N bytes=N seconds=S ..."
set -uo pipefail

out=${1:?usage: mkpcap.sh OUT.pcap}
N12=${N12:-6000} N13=${N13:-600} BULK_EVERY=${BULK_EVERY:-10} BULK_KB=${BULK_KB:-256} THREADS=${THREADS:-4}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOAD=${TLSLOAD:-$ROOT/build/tools/bench/tlsload}
PORTS=(443 8443 4433 993)
KINDS=(rsa ec rsa ec)

case $out in /*) ;; *) out=$PWD/$out ;; esac
die() { echo "mkpcap: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespace, tcpdump)"
[ -x "$LOAD" ] || die "$LOAD not built (make all)"
for t in openssl tcpdump ethtool ip; do command -v $t >/dev/null || die "$t not installed"; done

# shellcheck source=../../tests/e2e/lib.sh
. "$ROOT/tests/e2e/lib.sh"
trap 'set +e; cleanup' EXIT	# cleanup must run to the end even if a kill fails
t_start=$(date +%s.%N)

# ---- PKI: root -> intermediate; 2 RSA-2048 and 2 ECDSA P-256 leaves ----
pki=$TMP/pki
"$ROOT/tools/mkpki.sh" "$pki" >/dev/null || die "mkpki.sh failed"
rsa_leaf() {	# name cn san...
	local name=$1 cn=$2; shift 2
	(
		cd "$pki" || exit 1
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$name.key" 2>/dev/null &&
		openssl req -new -key "$name.key" -subj "/O=certsentry test/CN=$cn" -out "$name.csr" 2>/dev/null &&
		{
			echo "basicConstraints=CA:false"
			echo "keyUsage=critical,digitalSignature,keyEncipherment"
			echo "extendedKeyUsage=serverAuth"
			(IFS=,; echo "subjectAltName=$*")
		} > "$name.ext" &&
		openssl x509 -req -in "$name.csr" -CA inter.pem -CAkey inter.key -CAcreateserial \
			-days 825 -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
	)
}
names=(www cdn api mail)
for i in 0 1 2 3; do
	n=${names[$i]}
	if [ "${KINDS[$i]}" = rsa ]; then
		rsa_leaf "b$i" "$n.bench.test" "DNS:$n.bench.test" "DNS:*.bench.test" || die "RSA leaf failed"
	else
		"$ROOT/tools/mkpki.sh" "$pki" leaf "b$i" "$n.bench.test" "DNS:$n.bench.test" "DNS:*.bench.test" \
			|| die "EC leaf failed"
	fi
done

# ---- files served by s_server -WWW (paths relative to its cwd) ----
www=$TMP/www
mkdir -p "$www"
head -c 100 /dev/zero | tr '\0' 'x' > "$www/small.txt"
head -c $((BULK_KB * 1024)) /dev/urandom > "$www/bulk.bin"

# ---- namespace: lo like an edge NIC ----
ns_new NS bench || die "cannot create a network namespace"
ip -n "$NS" link set lo mtu 1500
ip netns exec "$NS" ethtool -K lo tso off gso off gro off >/dev/null 2>&1 ||
	echo "mkpcap: warning: ethtool -K lo tso/gso/gro off failed" >&2

cd "$www" || die "cd $www"
for i in 0 1 2 3; do
	start_server "$NS" "${PORTS[$i]}" "$pki/b$i.pem" "$pki/b$i.key" "$pki/inter.pem" -WWW \
		>/dev/null 2>&1 || die "s_server on port ${PORTS[$i]} did not start"
done
cd "$ROOT" || die "cd $ROOT"

rm -f "$out"
bg "$NS" tcpdump -i lo -n -Z root -B 131072 -s 0 -w "$out" tcp 2>"$TMP/tcpdump.err"
DUMP_PID=$BG_PID
wait_for 10 grep -q "listening on" "$TMP/tcpdump.err" || die "tcpdump did not start: $(cat "$TMP/tcpdump.err")"

# ---- load ----
ports_csv=$(IFS=,; echo "${PORTS[*]}")
# Every connection its own client port (20000 + i), as on a real edge: the
# kernel would otherwise reuse TIME_WAIT ports on loopback, and a reused
# 4-tuple confuses stream-based tools.
base=()
[ $((N12 + N13)) -le 40000 ] && base=(-P 20000)
ip netns exec "$NS" "$LOAD" -a 127.0.0.1 -p "$ports_csv" -2 "$N12" -3 "$N13" -b "$BULK_EVERY" \
	-t "$THREADS" -B /bulk.bin -S /small.txt "${base[@]}" > "$TMP/load.out" 2>&1
load_rc=$?
cat "$TMP/load.out"
sleep 0.3	# let tcpdump read the last frames (FIN/ACK) from its buffer
stop_pid "$DUMP_PID"
[ "$load_rc" = 0 ] || echo "mkpcap: warning: tlsload reported failures" >&2

captured=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$TMP/tcpdump.err")
dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$TMP/tcpdump.err")
[ -s "$out" ] || die "no capture written"
[ "${dropped:-0}" = 0 ] || echo "mkpcap: warning: tcpdump dropped $dropped packets" >&2
t_end=$(date +%s.%N)
printf 'mkpcap: %s packets=%s dropped=%s bytes=%s seconds=%.1f n12=%s n13=%s bulk_every=%s bulk_kb=%s threads=%s load_rc=%s\n' \
	"$out" "${captured:-?}" "${dropped:-?}" "$(stat -c %s "$out")" "$(awk -v a="$t_start" -v b="$t_end" 'BEGIN{print b-a}')" \
	"$N12" "$N13" "$BULK_EVERY" "$BULK_KB" "$THREADS" "$load_rc"
exit "$load_rc"

# lib_pki.sh - a test CA on the network for the fetch and revocation tests: its leaves, CRLs,
# web server and OCSP responders, in a namespace joined by a veth to the client's.
# Sourced after lib.sh, with CA_IP, CL_IP (the two ends of the veth) and LEAF_DOMAIN (leaf
# NAME is NAME.LEAF_DOMAIN) set.

PKI=$TMP/pki # the CA's files
WWW=$TMP/www # its web root
M=$ROOT/tools/mkpki.sh
H=http://$CA_IP:8080
OCSP_URL=http://$CA_IP:8888
PAST=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
LATER=$(date -u -d '+1 year' +%Y%m%d%H%M%SZ)

# leaf NAME EXT-LINES [START [CN]]: a leaf of the intermediate (in its openssl ca index)
leaf() {
	local cn=${4:-$1.$LEAF_DOMAIN}
	MKPKI_EXT=$2 "$M" "$PKI" xleaf "$1" "$cn" "${3:-$PAST}" "$LATER" sha256 ec "DNS:$cn" \
		>/dev/null 2>&1
}
cdp() { printf 'crlDistributionPoints=URI:%s' "$1"; }

# gencrl OUT [EXT-LINES [INDEX [CERT KEY]]]: a CRL of the CA's index (or INDEX),
# signed by the intermediate (or CERT/KEY), DER into the web root; renamed
# into place, so the web server never serves half of it.
gencrl() {
	local out=$1 ext=${2:-} index=${3:-ca.index} cert=${4:-inter.pem} key=${5:-inter.key}
	(
		cd "$PKI" &&
		{
			sed -e "s|^database = .*|database = $index|" -e "s|^certificate = .*|certificate = $cert|" \
			    -e "s|^private_key = .*|private_key = $key|" crl.cnf
			printf '[crlx]\nauthorityKeyIdentifier=keyid\n%s\n' "$ext"
		} > gen.cnf &&
		openssl ca -gencrl -config gen.cnf -crldays 1 -out gen.pem 2>/dev/null &&
		openssl crl -in gen.pem -outform DER -out "$WWW/$out.tmp" && mv "$WWW/$out.tmp" "$WWW/$out"
	)
}

# ca_files: in $PKI, crl.cnf (numbered CRLs, from 1000) and fake.key/fake.pem
# (a key that is not the intermediate's, under the intermediate's name);
# the intermediate in DER in the web root.
ca_files() {
	(
		cd "$PKI" &&
		sed 's/^\[d\]$/[d]\ncrlnumber = crlnumber\ncrl_extensions = crlx/' ca.cnf > crl.cnf &&
		echo 1000 > crlnumber &&
		openssl x509 -in inter.pem -outform DER -out "$WWW/inter.der" &&
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out fake.key 2>/dev/null &&
		openssl req -new -x509 -key fake.key -days 30 -out fake.pem \
			-subj "$(openssl x509 -in inter.pem -noout -subject -nameopt compat | sed 's/^subject=//')"
	)
}

# ca_net P: namespaces CA (${P}ca) and CL (${P}cl), veth ${P}cv1 (CA_IP) - ${P}cv0 (CL_IP)
ca_net() {
	ns_new CA "$1ca" && ns_new CL "$1cl" || return 1
	ip link add "$1cv0" netns "$CL" type veth peer name "$1cv1" netns "$CA" || return 1
	ip -n "$CA" addr add "$CA_IP/24" dev "$1cv1" && ip -n "$CA" link set "$1cv1" up &&
		ip -n "$CL" addr add "$CL_IP/24" dev "$1cv0" && ip -n "$CL" link set "$1cv0" up
}

# ca_httpd: the web root served on CA_IP:8080 (tests/e2e/fetch_httpd.py)
ca_httpd() {
	bg "$CA" python3 "$ROOT/tests/e2e/fetch_httpd.py" 0.0.0.0 8080 "$WWW" 2>"$TMP/httpd.log"
	wait_for 10 ip netns exec "$CA" sh -c "ss -ltnH | grep -q ':8080 '"
}

# ocsp_responder PORT SIGNER KEY LOG: openssl ocsp for the CA's index,
# signing with SIGNER/KEY (files in $PKI), ready when it listens
ocsp_responder() {
	local port=$1 pid
	(cd "$PKI" && bg "$CA" openssl ocsp -index ca.index -port "$port" -rsigner "$2" \
		-rkey "$3" -CA inter.pem -ndays 1 2>"$4" >&2)
	wait_for 10 ip netns exec "$CA" sh -c "ss -ltnH | grep -q ':$port '" || return 1
	# bg ran in a subshell: the responder is found by its port, to be stopped
	pid=$(ip netns exec "$CA" ss -ltnpH | sed -n "s/.*:$port .*pid=\([0-9]*\).*/\1/p" | head -1)
	[ -n "$pid" ] && PIDS+=("$pid")
	return 0
}

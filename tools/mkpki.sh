#!/usr/bin/env bash
# mkpki.sh - a throwaway test PKI (root -> intermediate -> leaves) made with the openssl CLI.
#
#   tools/mkpki.sh DIR                 root, intermediate, leaf "www.example.test", big leaf
#   tools/mkpki.sh DIR leaf NAME CN [SAN...] [-- openssl x509 options]
#                                      another leaf signed by the intermediate
#   tools/mkpki.sh DIR xleaf NAME CN START END MD KEY [SAN...]
#                                      a leaf with chosen validity (YYYYMMDDHHMMSSZ),
#                                      digest (sha256, sha1) and key (ec, rsa1024, rsa2048)
#                                      (with $MKPKI_EXT set, its lines are added to the
#                                      leaf's extensions, e.g. crlDistributionPoints=URI:...)
#   tools/mkpki.sh DIR selfsigned NAME CN
#   tools/mkpki.sh DIR foreign NAME CN a leaf under another, untrusted root
#   tools/mkpki.sh DIR crl NAME...     inter.crl.pem: the intermediate's CRL
#                                      revoking these leaves (keyCompromise)
#   tools/mkpki.sh DIR ocsp NAME good|revoked [SIGNER]
#                                      NAME.ocsp-STATUS.der: an OCSP response for
#                                      leaf NAME signed by the intermediate; with
#                                      SIGNER (a certificate here the issuer never
#                                      made a responder), NAME.ocsp-STATUS-by-SIGNER.der
set -euo pipefail

dir=$1; shift
mkdir -p "$dir"
cd "$dir"

key() {	# EC keys: fast to make and small on the wire
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
}

ca() {	# name subject issuer-name (empty: self-signed)
	local name=$1 subj=$2 issuer=$3
	key "$name"
	printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' > "$name.ext"
	if [ -z "$issuer" ]; then
		openssl req -new -x509 -key "$name.key" -subj "$subj" -days 3650 -sha256 \
			-extensions v3 -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n'; cat "$name.ext") \
			-out "$name.pem" 2>/dev/null
	else
		openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
		openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
			-CAcreateserial -days 3650 -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
	fi
}

leaf() {	# name cn [san...] [-- extra x509 args]
	local name=$1 cn=$2; shift 2
	local sans=() extra=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do sans+=("$1"); shift; done
	[ $# -gt 0 ] && { shift; extra=("$@"); }
	key "$name"
	openssl req -new -key "$name.key" -subj "/O=certsentry test/CN=$cn" -out "$name.csr" 2>/dev/null
	{
		echo "basicConstraints=CA:false"
		echo "keyUsage=critical,digitalSignature"
		echo "extendedKeyUsage=serverAuth"
		[ ${#sans[@]} -gt 0 ] && (IFS=,; echo "subjectAltName=${sans[*]}")
	} > "$name.ext"
	openssl x509 -req -in "$name.csr" -CA inter.pem -CAkey inter.key -CAcreateserial \
		-days 825 -sha256 -extfile "$name.ext" "${extra[@]}" -out "$name.pem" 2>/dev/null
	cat "$name.pem" inter.pem > "$name.chain.pem"
}

ocsp() {	# name good|revoked [signer]
	local name=$1 status=$2 signer=${3:-inter} out serial
	serial=$(openssl x509 -in "$name.pem" -noout -serial | sed 's/serial=//')
	if [ "$status" = revoked ]; then
		printf 'R\t%s\t%s,keyCompromise\t%s\tunknown\t/CN=%s\n' \
			"$(date -u -d '+1 year' +%y%m%d%H%M%SZ)" "$(date -u -d '-1 hour' +%y%m%d%H%M%SZ)" \
			"$serial" "$name" > "$name.index"
	else
		printf 'V\t%s\t\t%s\tunknown\t/CN=%s\n' \
			"$(date -u -d '+1 year' +%y%m%d%H%M%SZ)" "$serial" "$name" > "$name.index"
	fi
	out=$name.ocsp-$status${3:+-by-$signer}.der
	openssl ocsp -index "$name.index" -rsigner "$signer.pem" -rkey "$signer.key" -CA inter.pem \
		-issuer inter.pem -cert "$name.pem" -ndays 7 -respout "$out" >/dev/null 2>&1
}

ca_conf() {	# an `openssl ca` setup for the intermediate
	mkdir -p newcerts
	[ -f ca.index ] || : > ca.index
	[ -f ca.serial ] || openssl rand -hex 8 > ca.serial
	cat > ca.cnf <<CNF
[ca]
default_ca = d
[d]
database = ca.index
new_certs_dir = newcerts
serial = ca.serial
certificate = inter.pem
private_key = inter.key
default_md = sha256
default_crl_days = 7
policy = p
unique_subject = no
[p]
commonName = supplied
organizationName = optional
CNF
}

xleaf() {	# name cn start end md key [san...]
	local name=$1 cn=$2 start=$3 end=$4 md=$5 kt=$6; shift 6
	case $kt in
	ec) key "$name" ;;
	rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${kt#rsa}" -out "$name.key" 2>/dev/null ;;
	esac
	openssl req -new -key "$name.key" -subj "/O=certsentry test/CN=$cn" -out "$name.csr" 2>/dev/null
	{
		echo "basicConstraints=CA:false"
		echo "extendedKeyUsage=serverAuth"
		[ $# -gt 0 ] && (IFS=,; echo "subjectAltName=$*")
		if [ -n "${MKPKI_EXT:-}" ]; then printf '%s\n' "$MKPKI_EXT"; fi
	} > "$name.ext"
	ca_conf
	openssl ca -batch -notext -config ca.cnf -in "$name.csr" -out "$name.pem" \
		-startdate "$start" -enddate "$end" -md "$md" -extfile "$name.ext" 2>/dev/null
	cat "$name.pem" inter.pem > "$name.chain.pem"
}

if [ "${1:-}" = xleaf ]; then
	shift
	xleaf "$@"
	exit 0
fi
if [ "${1:-}" = selfsigned ]; then
	key "$2"
	openssl req -new -x509 -key "$2.key" -subj "/O=certsentry test/CN=$3" -days 365 \
		-addext "subjectAltName=DNS:$3" -out "$2.pem" 2>/dev/null
	exit 0
fi
if [ "${1:-}" = foreign ]; then
	ca foreign-root "/O=elsewhere/CN=Untrusted Root" ""
	key "$2"
	openssl req -new -key "$2.key" -subj "/O=elsewhere/CN=$3" -out "$2.csr" 2>/dev/null
	printf 'subjectAltName=DNS:%s\n' "$3" > "$2.ext"
	openssl x509 -req -in "$2.csr" -CA foreign-root.pem -CAkey foreign-root.key \
		-CAcreateserial -days 365 -sha256 -extfile "$2.ext" -out "$2.pem" 2>/dev/null
	exit 0
fi
if [ "${1:-}" = crl ]; then
	shift
	ca_conf
	for name in "$@"; do
		openssl ca -config ca.cnf -revoke "$name.pem" -crl_reason keyCompromise 2>/dev/null
	done
	openssl ca -gencrl -config ca.cnf -out inter.crl.pem 2>/dev/null
	exit 0
fi
if [ "${1:-}" = ocsp ]; then
	shift
	ocsp "$@"
	exit 0
fi
if [ "${1:-}" = leaf ]; then
	shift
	leaf "$@"
	exit 0
fi

ca root "/O=certsentry test/CN=certsentry Test Root" ""
ca inter "/O=certsentry test/CN=certsentry Test Intermediate" root
leaf leaf www.example.test DNS:www.example.test DNS:example.test IP:127.0.0.1 IP:::1
# A leaf whose Certificate message exceeds 16 KiB: it spans several TLS
# records and, on a veth, GSO super-packets.
bulk=(DNS:www.example.test)
for i in $(seq 1 700); do bulk+=("DNS:host-$(printf %04d "$i").bulk.example.test"); done
leaf big www.example.test "${bulk[@]}"
# A client certificate (signed by the same intermediate) for client auth.
leaf client "certsentry test client"
sed -i 's/extendedKeyUsage=serverAuth/extendedKeyUsage=clientAuth/' client.ext
openssl x509 -req -in client.csr -CA inter.pem -CAkey inter.key -CAcreateserial \
	-days 825 -sha256 -extfile client.ext -out client.pem 2>/dev/null
cat client.pem inter.pem > client.chain.pem

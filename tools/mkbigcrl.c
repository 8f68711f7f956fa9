/* mkbigcrl.c - a large, validly signed CRL for tests: N revoked serials, as a big CA publishes. */
/*
 *   mkbigcrl CA.pem CA.key N NUMBER OUT.der [SERIAL_HEX...]
 *
 * N random 16-byte serials (plus the SERIAL_HEX given: certificates the
 * test means to be revoked), revoked an hour ago, CRL number NUMBER, valid
 * for a day, signed with CA.key under CA.pem's name (SHA-256). `openssl ca`
 * needs minutes for a CRL this size; this takes about a second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int die(const char *what)
{
	fprintf(stderr, "mkbigcrl: %s\n", what);
	return 1;
}

static int add(X509_CRL *crl, ASN1_INTEGER *serial, const ASN1_TIME *when)
{
	X509_REVOKED *r = X509_REVOKED_new();

	if (!r || !X509_REVOKED_set_serialNumber(r, serial) ||
	    !X509_REVOKED_set_revocationDate(r, (ASN1_TIME *)when) ||
	    !X509_CRL_add0_revoked(crl, r)) {
		X509_REVOKED_free(r);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	FILE *fp;
	X509 *ca;
	EVP_PKEY *key;
	X509_CRL *crl;
	ASN1_TIME *t;
	ASN1_INTEGER *num;
	unsigned char *der = NULL;
	char *end;
	long n, number;
	int len;

	if (argc < 6)
		return die("usage: mkbigcrl CA.pem CA.key N NUMBER OUT.der [SERIAL_HEX...]");
	n = strtol(argv[3], &end, 10);
	if (*end || n < 0 || n > 10000000)
		return die("N: not a number from 0 to 10000000");
	number = strtol(argv[4], &end, 10);
	if (*end || number < 0)
		return die("NUMBER: not a number");
	if (!(fp = fopen(argv[1], "r")) || !(ca = PEM_read_X509(fp, NULL, NULL, NULL)))
		return die("CA.pem: no certificate");
	fclose(fp);
	if (!(fp = fopen(argv[2], "r")) || !(key = PEM_read_PrivateKey(fp, NULL, NULL, NULL)))
		return die("CA.key: no private key");
	fclose(fp);
	crl = X509_CRL_new();
	t = ASN1_TIME_new();
	num = ASN1_INTEGER_new();
	if (!crl || !t || !num || !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) || !X509_gmtime_adj(t, -60) ||
	    !X509_CRL_set1_lastUpdate(crl, t) || !X509_gmtime_adj(t, 86400) ||
	    !X509_CRL_set1_nextUpdate(crl, t) || !ASN1_INTEGER_set(num, number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) || !X509_gmtime_adj(t, -3600))
		return die("out of memory");
	for (long i = 0; i < n; i++) {
		unsigned char b[16];
		BIGNUM *bn;
		ASN1_INTEGER *s;

		if (RAND_bytes(b, sizeof(b)) != 1)
			return die("no random bytes");
		b[0] &= 0x7f;
		bn = BN_bin2bn(b, sizeof(b), NULL);
		s = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
		if (!s || add(crl, s, t) < 0)
			return die("out of memory");
		ASN1_INTEGER_free(s);
		BN_free(bn);
	}
	for (int i = 6; i < argc; i++) {
		BIGNUM *bn = NULL;
		ASN1_INTEGER *s;

		if (!BN_hex2bn(&bn, argv[i]) || !(s = BN_to_ASN1_INTEGER(bn, NULL)))
			return die("SERIAL_HEX: not hex");
		if (add(crl, s, t) < 0)
			return die("out of memory");
		ASN1_INTEGER_free(s);
		BN_free(bn);
	}
	if (!X509_CRL_sign(crl, key, EVP_sha256()) || (len = i2d_X509_CRL(crl, &der)) <= 0)
		return die("cannot sign");
	if (!(fp = fopen(argv[5], "wb")) || fwrite(der, 1, (size_t)len, fp) != (size_t)len ||
	    fclose(fp))
		return die("OUT.der: cannot write");
	printf("%d\n", len);
	OPENSSL_free(der);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	EVP_PKEY_free(key);
	X509_free(ca);
	return 0;
}

/* fuzz_pki.h - a fixed root -> intermediate -> leaf for the harnesses that
 * need real certificates: loaded from $CS_FUZZ_PKI (tools/mkpki.sh output,
 * so seeds made from it match) when set, else made once with OpenSSL. */
#ifndef CS_FUZZ_PKI_H
#define CS_FUZZ_PKI_H

#include <stdio.h>
#include <stdlib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define X509H_CHECK(c)           \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)
#include "../unit/x509_helpers.h"

struct fuzz_pki {
	X509 *root, *inter, *leaf;
	uint8_t *inter_der, *leaf_der;
	int inter_len, leaf_len;
	char root_pem[64]; /* a temp file holding the root, for lists_load */
};

/* The unit tests' minter (x509_helpers.h), aborting where they assert. */
static inline X509 *fuzz_pki_make(const char *cn, EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer,
				  long serial, bool ca)
{
	const struct x509_spec s = {
		.key = key,
		.signer = signer,
		.issuer = issuer,
		.cn = cn,
		.o = "certsentry fuzz",
		.serial = serial,
		.nb = "20200101000000Z",
		.na = "20400101000000Z",
		.ca = ca,
		.san = ca ? NULL : "DNS:www.example.test,DNS:example.test,IP:127.0.0.1",
	};

	return x509_mint(&s);
}

static inline X509 *fuzz_pki_load(const char *dir, const char *name)
{
	char path[512];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	if (!(f = fopen(path, "r")))
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static inline void fuzz_pki_init(struct fuzz_pki *p)
{
	const char *dir = getenv("CS_FUZZ_PKI");
	int fd;
	FILE *f;

	memset(p, 0, sizeof(*p));
	if (dir && *dir) {
		p->root = fuzz_pki_load(dir, "root");
		p->inter = fuzz_pki_load(dir, "inter");
		p->leaf = fuzz_pki_load(dir, "leaf");
	}
	if (!p->root || !p->inter || !p->leaf) {
		EVP_PKEY *kr = EVP_EC_gen("P-256"), *ki = EVP_EC_gen("P-256"),
			 *kl = EVP_EC_gen("P-256");

		X509_free(p->root);
		X509_free(p->inter);
		X509_free(p->leaf);
		p->root = fuzz_pki_make("fuzz root", kr, kr, NULL, 1, true);
		p->inter = fuzz_pki_make("fuzz intermediate", ki, kr, p->root, 2, true);
		p->leaf = fuzz_pki_make("www.example.test", kl, ki, p->inter, 3, false);
		EVP_PKEY_free(kr);
		EVP_PKEY_free(ki);
		EVP_PKEY_free(kl);
	}
	p->inter_len = i2d_X509(p->inter, &p->inter_der);
	p->leaf_len = i2d_X509(p->leaf, &p->leaf_der);
	if (p->inter_len <= 0 || p->leaf_len <= 0)
		abort();
	snprintf(p->root_pem, sizeof(p->root_pem), "/tmp/cs-fuzz-root-XXXXXX");
	if ((fd = mkstemp(p->root_pem)) < 0 || !(f = fdopen(fd, "w")))
		abort();
	PEM_write_X509(f, p->root);
	fclose(f);
}

#endif

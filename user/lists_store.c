/* lists_store.c - the trust store: the system bundle, --ca-file, each certificate of --ca-path. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include "lists_int.h"

static int count_store_certs(X509_STORE *s)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(s);
	int n = 0;

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
		n += X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_X509;
	return n;
}

/* c_rehash names ("1a2b3c4d.0"): what OpenSSL's -CApath consults. */
static bool hashed_name(const char *n)
{
	int i;

	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)n[i]))
			return false;
	if (n[8] != '.' || !n[9])
		return false;
	for (i = 9; n[i]; i++)
		if (!isdigit((unsigned char)n[i]))
			return false;
	return true;
}

static int load_ca_file(struct lists *l, const char *path, char *err, size_t errlen)
{
	struct stat st;

	/* X509_STORE_load_file would say "system lib" for a directory */
	if (stat(path, &st) < 0) {
		fmt_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		fmt_err(err, errlen, "%s: %s", path,
			S_ISDIR(st.st_mode) ? "is a directory, expected a file (use --ca-path)" :
					      "not a regular file");
		return -1;
	}
	if (X509_STORE_load_file(l->store, path) != 1) {
		fmt_err(err, errlen, "%s: cannot load CA certificates: %s", path, lists_ossl_why());
		return -1;
	}
	return 0;
}

/* c_rehash names where the directory has any, else *.pem, *.crt, *.cer. */
static bool ca_file_name(const char *name, bool hashed)
{
	const char *dot = strrchr(name, '.');

	if (hashed)
		return hashed_name(name);
	return dot && (!strcmp(dot, ".pem") || !strcmp(dot, ".crt") || !strcmp(dot, ".cer"));
}

/* Every certificate of the directory, loaded now: the generation must not
 * change when the directory does (a reload makes a new one). */
static int load_ca_dir(struct lists *l, const char *dir, char *err, size_t errlen)
{
	uint32_t n, used;
	char **v = fileread_dir(dir, DIR_FILES_MAX, &n, err, errlen);
	bool any_hashed = false;
	int rc;

	if (!v)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		any_hashed |= hashed_name(v[i]);
	rc = lists_load_dir_files(l, dir, v, n, ca_file_name, any_hashed, load_ca_file, &used, err,
				  errlen);
	fileread_dir_free(v, n);
	if (!rc && !used)
		lists_warn(l, "%s: no CA certificate files (hashed names, *.pem, *.crt, *.cer)",
			   dir);
	return rc;
}

int lists_load_store(struct lists *l, const struct lists_opts *o, char *err, size_t errlen)
{
	if (!(l->store = X509_STORE_new())) {
		fmt_err(err, errlen, "trust store: out of memory");
		return -1;
	}
	if (!o->ca_file && !o->ca_path) {
		if (X509_STORE_set_default_paths(l->store) != 1) {
			fmt_err(err, errlen, "system trust store: %s", lists_ossl_why());
			return -1;
		}
		ERR_clear_error();
	}
	if (o->ca_file && load_ca_file(l, o->ca_file, err, errlen) < 0)
		return -1;
	if (o->ca_path && load_ca_dir(l, o->ca_path, err, errlen) < 0)
		return -1;
	l->sz.ca_certs = (uint32_t)count_store_certs(l->store);
	if (!l->sz.ca_certs)
		lists_warn(l, "trust store: no CA certificates loaded%s",
			   o->ca_file || o->ca_path ? "" : " from the system bundle");
	return 0;
}

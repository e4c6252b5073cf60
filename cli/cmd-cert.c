/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * cmd-cert.c: gencert, setcert and the PEM checks behind them
 * (AEMP-TLS-EXT.md 10.2). gencert makes with the OpenSSL API what the
 * reference gets from `openssl req -new -nodes -x509 -days 3650 -newkey
 * rsa:2048 -batch -subj /CN=AnyEvent::MP`: a self-signed X.509 v3
 * certificate, RSA 2048, sha256, CA:TRUE, stored as the certificate PEM
 * followed by the unencrypted PKCS#8 key PEM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "stream.h"

#define CERT_DAYS	3650

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* The certificate PEM then the key PEM (malloc()ed), or NULL. */
static char *
make_cert(void)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	X509_NAME *name;
	BIO *b = BIO_new(BIO_s_mem());
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char *pem = NULL, *data;
	long len;
	int ok;

	ok = key != NULL && x != NULL && b != NULL &&
	    X509_set_version(x, 2) == 1 &&
	    RAND_bytes(serial, sizeof serial) == 1;
	if (ok) {
		serial[0] &= 0x7f;	/* a positive serial number */
		ok = (bn = BN_bin2bn(serial, sizeof serial, NULL)) != NULL &&
		    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	}
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) !=
	    NULL && X509_set_pubkey(x, key) == 1;
	if (ok) {
		name = X509_get_subject_name(x);
		ok = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		    (const unsigned char *)"AnyEvent::MP", -1, -1, 0) == 1 &&
		    X509_set_issuer_name(x, name) == 1;
	}
	ok = ok && add_ext(x, NID_subject_key_identifier, "hash") &&
	    add_ext(x, NID_authority_key_identifier, "keyid:always") &&
	    add_ext(x, NID_basic_constraints, "critical,CA:TRUE") &&
	    X509_sign(x, key, EVP_sha256()) > 0 &&
	    PEM_write_bio_X509(b, x) == 1 &&
	    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1;
	if (ok && (len = BIO_get_mem_data(b, &data)) > 0 &&
	    (pem = malloc((size_t)len + 1)) != NULL) {
		memcpy(pem, data, (size_t)len);
		pem[len] = '\0';
	}
	if (b != NULL) {
		/* the key was in there */
		BUF_MEM *bm = NULL;
		BIO_get_mem_ptr(b, &bm);
		if (bm != NULL && bm->data != NULL)
			OPENSSL_cleanse(bm->data, bm->length);
	}
	BN_free(bn);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return pem;
}

static int
store_cert(struct cli *cli, const struct aemp_cmd *self, const char *name,
    char *pem)
{
	char *err = NULL;
	json_t *v = json_string(pem);
	int rc;

	if (v == NULL)
		return cli_error(name, "the PEM text is not valid UTF-8");
	rc = ae_store_set(cli->c_store, cli->c_profile, self->key, v, &err);
	json_decref(v);
	return rc != 0 ? cli_errstr(name, self->key, err) : 0;
}

static int
cmd_gencert_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	char *pem;
	int rc;

	(void)argc;
	if ((pem = make_cert()) == NULL)
		return cli_error(argv[0], "unable to generate a certificate");
	rc = store_cert(cli, self, argv[0], pem);
	explicit_bzero(pem, strlen(pem));
	free(pem);
	return rc;
}

/*
 * Stored verbatim, like the reference, but only when a node could use it:
 * a certificate and a key that belongs to it (the reference checks
 * nothing, and its nodes then fail on every connection).
 */
static int
cmd_setcert_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	const char *file = argv[1];
	struct ssl_ctx_st *ctx;
	char *pem, *err = NULL;
	size_t len = 0, cap = 0;
	FILE *f;
	int rc;

	(void)argc;
	if ((f = fopen(file, "rb")) == NULL)
		return cli_error(argv[0], "%s: %s", file, strerror(errno));
	for (pem = NULL;;) {
		size_t got;
		if (len + 4096 + 1 > cap) {
			char *p;
			cap = cap ? 2 * cap : 8192;
			if (cap > 16 * 1024 * 1024 ||
			    (p = realloc(pem, cap)) == NULL) {
				fclose(f);
				free(pem);
				return cli_error(argv[0], "%s: file too large",
				    file);
			}
			pem = p;
		}
		got = fread(pem + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		free(pem);
		return cli_error(argv[0], "%s: %s", file, strerror(e));
	}
	fclose(f);
	pem[len] = '\0';
	if (strlen(pem) != len)
		rc = cli_error(argv[0], "%s: not PEM text (NUL bytes)", file);
	else if ((ctx = ae_tls_ctx_new(pem, len, &err)) == NULL) {
		/* "cert: no private key ..." becomes "FILE: no private key" */
		rc = cli_error(argv[0], "%s: %s", file, strncmp(err, "cert: ",
		    6) == 0 ? err + 6 : err);
		free(err);
	} else {
		ae_tls_ctx_free(ctx);
		rc = store_cert(cli, self, argv[0], pem);
	}
	explicit_bzero(pem, len);
	free(pem);
	return rc;
}

const struct aemp_cmd cmd_gencert_entry = {
	"gencert", NULL, 0, 0, "",
	"generate a self-signed certificate and key for TLS (copy it to "
	"every node)",
	CMD_WRITE, "cert", cmd_gencert_exec
};
const struct aemp_cmd cmd_setcert_entry = {
	"setcert", "cert", 1, 1, "FILE",
	"set the key and certificates (PEM) for TLS from FILE",
	CMD_WRITE, "cert", cmd_setcert_exec
};

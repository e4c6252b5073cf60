/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * testcert.h: a throwaway certificate for the programs that need one
 * node certificate and nothing more (check_dataconn, the fuzz targets,
 * bench/dataconn): self-signed, EC P-256 (quick to make and to use),
 * valid for a day, subject CN=cn; the certificate's PEM block then the
 * key's, as the `cert` key takes them (AEMP-TLS-EXT.md 10.1). The shape
 * `aemp gencert` makes (10.2) is gencert's own (cli/cmd-cert.c); the
 * shapes check_tls needs (CA chains, key usages) come from openssl(1).
 *
 * Header-only, so that the benchmarks and the fuzz targets, which link
 * nothing of tests/util, share it with the Check programs.
 */
#ifndef TESTCERT_H
#define TESTCERT_H

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* The PEM text (malloc()ed); aborts when OpenSSL cannot make it. */
static inline char *
test_cert_pem(const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	X509_NAME *name;
	char *data, *pem;
	long len;

	if (key == NULL || x == NULL || b == NULL)
		abort();
	name = X509_get_subject_name(x);
	if (ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_sign(x, key, EVP_sha256()) <= 0 ||
	    PEM_write_bio_X509(b, x) != 1 ||
	    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (len = BIO_get_mem_data(b, &data)) <= 0 ||
	    (pem = strndup(data, (size_t)len)) == NULL)
		abort();
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return pem;
}

#endif

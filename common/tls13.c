/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * tls13.c: TLS 1.3 record protection (RFC 8446 5.2-5.4, 7.1-7.3) for
 * the data phase of stream_tls.c. The AEAD is OpenSSL's, driven with the
 * fewest EVP calls a record can take: the IV through EVP_CipherInit_ex(),
 * the header and the body through EVP_Cipher(), the tag through one
 * parameter. That is what OpenSSL's own record layer does too, without
 * the rest of its machinery around each record (about 5,000 instructions
 * of 7,000 per small record on OpenSSL 3.0, callgrind).
 */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "bytes.h"
#include "tls13.h"

const EVP_CIPHER *
ae_tls13_aead(uint16_t suite)
{
	switch (suite) {
	case 0x1301:			/* TLS_AES_128_GCM_SHA256 */
		return EVP_aes_128_gcm();
	case 0x1302:			/* TLS_AES_256_GCM_SHA384 */
		return EVP_aes_256_gcm();
	case 0x1303:			/* TLS_CHACHA20_POLY1305_SHA256 */
		return EVP_chacha20_poly1305();
	default:			/* the CCM suites: OpenSSL's records */
		return NULL;
	}
}

int
ae_tls13_expand_label(const EVP_MD *md, const unsigned char *secret,
    size_t secret_len, const char *label, unsigned char *out, size_t len)
{
	unsigned char info[2 + 1 + 255 + 1 + 1], t[EVP_MAX_MD_SIZE];
	size_t llen = strlen("tls13 ") + strlen(label), i = 0;
	unsigned int tlen = 0;

	if (len > (size_t)EVP_MD_get_size(md) || llen > 255 ||
	    secret_len > INT_MAX)
		return -1;
	/* HkdfLabel: length, "tls13 " label, an empty context */
	info[i++] = (unsigned char)(len >> 8);
	info[i++] = (unsigned char)len;
	info[i++] = (unsigned char)llen;
	memcpy(info + i, "tls13 ", 6);
	memcpy(info + i + 6, label, llen - 6);
	i += llen;
	info[i++] = 0;
	/* HKDF-Expand of one block: T(1) = HMAC(secret, info | 0x01) */
	info[i++] = 1;
	if (HMAC(md, secret, (int)secret_len, info, i, t, &tlen) == NULL)
		return -1;
	memcpy(out, t, len);
	OPENSSL_cleanse(t, sizeof t);
	return 0;
}

/* The key and IV of the direction's current secret (7.3). */
static int
dir_key(struct tls13_dir *d)
{
	const EVP_CIPHER *c = EVP_CIPHER_CTX_get0_cipher(d->aead);
	unsigned char key[EVP_MAX_KEY_LENGTH];
	int klen = EVP_CIPHER_get_key_length(c), ok;

	if (klen <= 0 || (size_t)klen > sizeof key ||
	    ae_tls13_expand_label(d->md, d->secret, d->secret_len, "key", key,
	    (size_t)klen) < 0 ||
	    ae_tls13_expand_label(d->md, d->secret, d->secret_len, "iv", d->iv,
	    TLS13_IV) < 0)
		return -1;
	ok = EVP_CipherInit_ex(d->aead, NULL, NULL, key, NULL, d->enc) == 1;
	d->has_small = ok && klen == crypto_aead_aes256gcm_KEYBYTES &&
	    EVP_CIPHER_get_mode(c) == EVP_CIPH_GCM_MODE &&
	    crypto_aead_aes256gcm_is_available() &&
	    crypto_aead_aes256gcm_beforenm(&d->small, key) == 0;
	OPENSSL_cleanse(key, sizeof key);
	d->seq = 0;
	return ok ? 0 : -1;
}

int
ae_tls13_dir_init(struct tls13_dir *d, const EVP_CIPHER *c,
    const EVP_MD *md, const unsigned char *secret, size_t len, int enc)
{
	memset(d, 0, sizeof *d);
	/* sodium_init() is idempotent and thread-safe; it picks AES-NI code */
	if (len > sizeof d->secret || sodium_init() < 0 ||
	    (d->aead = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	d->md = md;
	d->enc = enc;
	d->final_in_cipher = EVP_CIPHER_get_mode(c) == EVP_CIPH_GCM_MODE;
	memcpy(d->secret, secret, len);
	d->secret_len = len;
	if (EVP_CipherInit_ex(d->aead, c, NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_get_iv_length(d->aead) != TLS13_IV)
		return -1;
	return dir_key(d);
}

int
ae_tls13_dir_next(struct tls13_dir *d)
{
	unsigned char next[EVP_MAX_MD_SIZE];

	if (ae_tls13_expand_label(d->md, d->secret, d->secret_len,
	    "traffic upd", next, d->secret_len) < 0)
		return -1;
	memcpy(d->secret, next, d->secret_len);
	OPENSSL_cleanse(next, sizeof next);
	return dir_key(d);
}

void
ae_tls13_dir_clear(struct tls13_dir *d)
{
	EVP_CIPHER_CTX_free(d->aead);
	OPENSSL_cleanse(d, sizeof *d);
}

/* The next record's nonce: the IV xor its sequence number (5.3). */
static int
dir_nonce(struct tls13_dir *d, unsigned char *nonce)
{
	int i;

	/* never reached in practice; a wrapped number would reuse nonces */
	if (d->seq == UINT64_MAX)
		return -1;
	memcpy(nonce, d->iv, TLS13_IV);
	for (i = 0; i < 8; i++)
		nonce[TLS13_IV - 1 - i] ^= (unsigned char)(d->seq >> (8 * i));
	d->seq++;
	return 0;
}

static int
dir_evp_nonce(struct tls13_dir *d)
{
	unsigned char nonce[TLS13_IV];

	if (dir_nonce(d, nonce) < 0)
		return -1;
	return EVP_CipherInit_ex(d->aead, NULL, NULL, NULL, nonce, d->enc) ==
	    1 ? 0 : -1;
}

static int
dir_final(struct tls13_dir *d, unsigned char *scratch)
{
	int n;

	if (d->final_in_cipher)
		return EVP_Cipher(d->aead, NULL, NULL, 0) < 0 ? -1 : 0;
	return EVP_CipherFinal_ex(d->aead, scratch, &n) == 1 ? 0 : -1;
}

static int
dir_tag(struct tls13_dir *d, unsigned char *tag)
{
	OSSL_PARAM p[2];

	p[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	    tag, TLS13_TAG);
	p[1] = OSSL_PARAM_construct_end();
	if (d->enc)
		return EVP_CIPHER_CTX_get_params(d->aead, p) == 1 ? 0 : -1;
	return EVP_CIPHER_CTX_set_params(d->aead, p) == 1 ? 0 : -1;
}

int
ae_tls13_seal(struct tls13_dir *d, struct bytes *out, int type,
    const void *content, size_t len)
{
	size_t body = len + 1 + TLS13_TAG;
	unsigned char *p, scratch[32];

	if (len > TLS13_MAX_PLAIN)
		return -1;
	p = (unsigned char *)ae_bytes_reserve(out, TLS13_HEADER + body);
	p[0] = TLS13_APPDATA;		/* every protected record says so */
	p[1] = 3;
	p[2] = 3;
	p[3] = (unsigned char)(body >> 8);
	p[4] = (unsigned char)body;
	if (d->has_small && len < TLS13_SMALL) {
		unsigned char nonce[TLS13_IV];

		/* in place: libsodium reads each block before it writes it */
		memcpy(p + TLS13_HEADER, content, len);
		p[TLS13_HEADER + len] = (unsigned char)type;
		if (dir_nonce(d, nonce) < 0 ||
		    crypto_aead_aes256gcm_encrypt_detached_afternm(p +
		    TLS13_HEADER, p + TLS13_HEADER + len + 1, NULL, p +
		    TLS13_HEADER, len + 1, p, TLS13_HEADER, NULL, nonce,
		    &d->small) != 0)
			return -1;
	} else if (dir_evp_nonce(d) < 0 ||
	    EVP_Cipher(d->aead, NULL, p, TLS13_HEADER) < 0 ||
	    /* the content from where it is, then its type */
	    EVP_Cipher(d->aead, p + TLS13_HEADER, content,
	    (unsigned int)len) < 0 ||
	    (scratch[0] = (unsigned char)type,
	    EVP_Cipher(d->aead, p + TLS13_HEADER + len, scratch, 1)) < 0 ||
	    dir_final(d, scratch) < 0 ||
	    dir_tag(d, p + TLS13_HEADER + len + 1) < 0)
		return -1;
	ae_bytes_commit(out, TLS13_HEADER + body);
	return 0;
}

ssize_t
ae_tls13_record_len(const unsigned char *p, size_t n)
{
	size_t body;

	if (n < TLS13_HEADER)
		return 0;
	/*
	 * After the handshake every record is application_data on the
	 * outside (5.2); the legacy version is ignored, as 5.1 says.
	 */
	body = (size_t)p[3] << 8 | p[4];
	if (p[0] != TLS13_APPDATA || body > TLS13_MAX_BODY ||
	    body < 1 + TLS13_TAG)
		return -1;
	if (n < TLS13_HEADER + body)
		return 0;
	return (ssize_t)(TLS13_HEADER + body);
}

int
ae_tls13_post_handshake(const unsigned char *p, size_t n, int client,
    const char **why)
{
	size_t off = 0, mlen;
	int asks = 0;

	*why = NULL;
	if (n == 0) {
		*why = "TLS: an empty handshake record";
		return -1;
	}
	while (off < n) {
		if (n - off < 4 || (mlen = (size_t)p[off + 1] << 16 |
		    (size_t)p[off + 2] << 8 | p[off + 3]) > n - off - 4) {
			*why = "TLS: a handshake message split over records";
			return -1;
		}
		if (p[off] == 24) {		/* KeyUpdate */
			/* the last message under the old key (5.1) */
			if (mlen != 1 || p[off + 4] > 1 || off + 5 != n) {
				*why = "TLS: bad KeyUpdate";
				return -1;
			}
			asks = 1 + p[off + 4];
		} else if (p[off] != 4 || !client) {	/* NewSessionTicket */
			*why = "TLS: unexpected handshake message after the "
			    "handshake";
			return -1;
		}
		off += 4 + mlen;
	}
	return asks;
}

/* What a record that did not authenticate decrypted to is not left. */
static ssize_t
forged(unsigned char *out, size_t n)
{
	OPENSSL_cleanse(out, n);
	return -1;
}

/* TLSInnerPlaintext: the type is the last byte that is not padding. */
static ssize_t
inner_type(const unsigned char *p, size_t n, int *type)
{
	while (n > 0 && p[n - 1] == 0)
		n--;
	if (n == 0)
		return -1;
	*type = p[n - 1];
	return (ssize_t)(n - 1);
}

ssize_t
ae_tls13_open(struct tls13_dir *d, const unsigned char *rec, size_t len,
    unsigned char *out, int *type)
{
	size_t plain = len - TLS13_HEADER - TLS13_TAG;
	unsigned char tag[TLS13_TAG], scratch[32];

	if (d->has_small && plain <= TLS13_SMALL) {
		unsigned char nonce[TLS13_IV];

		if (dir_nonce(d, nonce) < 0 ||
		    crypto_aead_aes256gcm_decrypt_detached_afternm(out, NULL,
		    rec + TLS13_HEADER, plain, rec + len - TLS13_TAG, rec,
		    TLS13_HEADER, nonce, &d->small) != 0)
			return forged(out, plain);
		return inner_type(out, plain, type);
	}
	memcpy(tag, rec + len - TLS13_TAG, TLS13_TAG);
	if (dir_evp_nonce(d) < 0 || dir_tag(d, tag) < 0 ||
	    EVP_Cipher(d->aead, NULL, rec, TLS13_HEADER) < 0 ||
	    EVP_Cipher(d->aead, out, rec + TLS13_HEADER,
	    (unsigned int)plain) < 0 ||
	    dir_final(d, scratch) < 0)
		return forged(out, plain);
	return inner_type(out, plain, type);
}

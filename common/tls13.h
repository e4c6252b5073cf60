/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * tls13.h: the TLS 1.3 record protection of RFC 8446 section 5 for one
 * direction of a connection, once OpenSSL has done the handshake: the
 * AEAD key and IV derived from the direction's traffic secret (7.1,
 * 7.3), the record sequence number, the next key after a KeyUpdate (7.2).
 * stream_tls.c uses it instead of SSL_read()/SSL_write() in the data
 * phase, where OpenSSL 3.0's record layer costs several times what the
 * AEAD does (see stream_tls.c).
 */
#ifndef AEMP_TLS13_H
#define AEMP_TLS13_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <sodium.h>

struct bytes;

#define TLS13_HEADER	5		/* type, legacy version, length */
#define TLS13_TAG	16
#define TLS13_IV	12
#define TLS13_MAX_PLAIN	16384		/* content of one record, 2^14 */
/*
 * A record's body: TLSInnerPlaintext (content, type, padding) of at most
 * 2^14 + 1 bytes (5.4) and the tag of each of the three AEADs.
 */
#define TLS13_MAX_BODY	(TLS13_MAX_PLAIN + 1 + TLS13_TAG)

/* Content types (5.1). */
#define TLS13_ALERT	21
#define TLS13_HANDSHAKE	22
#define TLS13_APPDATA	23

/*
 * Records with less content than this are protected with libsodium's
 * AES-256-GCM where the suite is TLS_AES_256_GCM_SHA384 and the CPU has
 * AES-NI: it takes about 1,350 instructions for a small record where
 * OpenSSL 3.0's EVP interface takes 3,000 (its parameter lookups by
 * name); OpenSSL's is the faster beyond about 600 bytes. Both compute
 * the same AEAD, with the same key and nonces.
 */
#define TLS13_SMALL	512

/* Records under one key of ours before we update it (7.2, 5.5). */
#define TLS13_REKEY	((uint64_t)1 << 23)

struct tls13_dir {
	crypto_aead_aes256gcm_state small; /* when has_small */
	int		 has_small;
	EVP_CIPHER_CTX	*aead;
	const EVP_MD	*md;		/* the suite's hash, for KeyUpdate */
	int		 enc;		/* 1 sending, 0 receiving */
	int		 final_in_cipher; /* GCM: EVP_Cipher() finishes */
	unsigned char	 secret[EVP_MAX_MD_SIZE];
	size_t		 secret_len;
	unsigned char	 iv[TLS13_IV];
	uint64_t	 seq;
};

/*
 * The AEAD of a TLS 1.3 cipher suite (IANA id, as SSL_CIPHER_get_protocol_id
 * gives it) this file protects records for, else NULL.
 */
const EVP_CIPHER *ae_tls13_aead(uint16_t suite);

/* Keys a direction from its traffic secret: 0, or -1 (OpenSSL failed). */
int	 ae_tls13_dir_init(struct tls13_dir *, const EVP_CIPHER *,
	    const EVP_MD *, const unsigned char *secret, size_t len, int enc);
/* The next traffic secret and its keys (KeyUpdate, 7.2). */
int	 ae_tls13_dir_next(struct tls13_dir *);
void	 ae_tls13_dir_clear(struct tls13_dir *);

/* HKDF-Expand-Label(secret, label, "", len) of 7.1; len <= the hash's. */
int	 ae_tls13_expand_label(const EVP_MD *, const unsigned char *secret,
	    size_t secret_len, const char *label, unsigned char *out,
	    size_t len);

/* Appends one record of type holding len (<= TLS13_MAX_PLAIN) bytes. */
int	 ae_tls13_seal(struct tls13_dir *, struct bytes *out, int type,
	    const void *content, size_t len);

/*
 * The length of the whole record that starts p (n bytes there): 0 when
 * its header or body is not all there yet, -1 when the header is not one
 * of a protected TLS 1.3 record (its body beyond TLS13_MAX_BODY, or
 * under a tag and a type).
 */
ssize_t	 ae_tls13_record_len(const unsigned char *p, size_t n);

/*
 * Decrypts the whole record rec (len bytes, as ae_tls13_record_len()
 * measured it) into out, which has room for len - TLS13_HEADER -
 * TLS13_TAG bytes: the length of its content, its type in *type; -1
 * when it does not authenticate or holds no type (5.4).
 */
ssize_t	 ae_tls13_open(struct tls13_dir *, const unsigned char *rec,
	    size_t len, unsigned char *out, int *type);

/*
 * What the content of a handshake record after the handshake asks
 * (4.6): 0 nothing (a NewSessionTicket, which only a client may get: no
 * resumption here), 1 a KeyUpdate, 2 a KeyUpdate that asks for ours; -1
 * with *why for what must end the connection (an empty record, a
 * message over several records: OpenSSL and the reference send none).
 */
int	 ae_tls13_post_handshake(const unsigned char *p, size_t n,
	    int client, const char **why);

#endif

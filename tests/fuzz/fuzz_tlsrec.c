/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fuzz_tlsrec.c: libFuzzer target for the TLS 1.3 records of tls13.c.
 * The input is taken twice: as ciphertext (it must never open: it has
 * no valid tag), and as a list of records (type, length, content, and a
 * byte to corrupt) that are sealed and then parsed back, so that the
 * parser sees every content and type, padding included, under a valid
 * tag. What opens must be what was sealed; a record with any byte
 * changed must not open; handshake contents go through the post-handshake parser.
 * Records are opened by both AEAD implementations in turn (libsodium
 * for small records, OpenSSL's EVP), which must agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "tls13.h"

static void
keyed(struct tls13_dir *d, int enc, int small)
{
	static const unsigned char secret[48] = { 7, 1, 2, 3 };

	if (ae_tls13_dir_init(d, EVP_aes_256_gcm(), EVP_sha384(), secret,
	    sizeof secret, enc) != 0)
		abort();
	d->has_small &= small;
}

static void
as_ciphertext(struct tls13_dir *rx, const uint8_t *data, size_t size)
{
	unsigned char *out = malloc(size + 1);
	ssize_t len;
	int type;

	while (out != NULL && (len = ae_tls13_record_len(data, size)) > 0) {
		if (ae_tls13_open(rx, data, (size_t)len, out, &type) >= 0)
			abort();	/* no tag of ours */
		data += len;
		size -= (size_t)len;
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls13_dir tx, rx;
	struct bytes b = { 0 };
	unsigned char out[TLS13_MAX_BODY];
	size_t off = 0, n;
	int round = 0;

	keyed(&rx, 0, 1);
	as_ciphertext(&rx, data, size);
	ae_tls13_dir_clear(&rx);
	keyed(&tx, 1, 1);
	while (off + 4 <= size) {
		int type = data[off], flip = data[off + 3], got_type;
		const char *why;
		ssize_t len, got;

		n = ((size_t)data[off + 1] << 8 | data[off + 2]) % 700;
		off += 4;
		if (n > size - off)
			n = size - off;
		b.len = b.start = 0;
		if (ae_tls13_seal(&tx, &b, type, data + off, n) != 0)
			abort();
		keyed(&rx, 0, round++ & 1);
		rx.seq = tx.seq - 1;
		len = ae_tls13_record_len((unsigned char *)bytes_ptr(&b), b.len);
		if (len != (ssize_t)b.len)
			abort();
		if (flip & 0x80)	/* a byte changed: it must not open */
			((unsigned char *)bytes_ptr(&b))[(size_t)flip % b.len] ^=
			    1 + (flip & 0x3f);
		got = ae_tls13_open(&rx, (unsigned char *)bytes_ptr(&b),
		    b.len, out, &got_type);
		if (flip & 0x80) {
			if (got >= 0)	/* the header is authenticated too */
				abort();
		} else if (type == 0) {
			/* a zero type reads as padding: no type, or an earlier
			   non-zero byte of the content taken for it */
			if (got >= 0 && (size_t)got >= n)
				abort();
		} else if (got != (ssize_t)n || got_type != type ||
		    memcmp(out, data + off, n) != 0)
			abort();
		if (got >= 0 && got_type == TLS13_HANDSHAKE)
			(void)ae_tls13_post_handshake(out, (size_t)got,
			    round & 1, &why);
		ae_tls13_dir_clear(&rx);
		off += n;
	}
	ae_tls13_dir_clear(&tx);
	ae_bytes_free(&b);
	return 0;
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * md6.h: MD6 (Rivest et al. 2008) with w=64, no key, mode L=64, r=40+d/4,
 * and HMAC-MD6-256 as AnyEvent::MP uses them for authentication.
 */
#ifndef AEMP_MD6_H
#define AEMP_MD6_H

#include <stddef.h>

/* digest_bits d in 1..512 (multiple of 8 for this API); out gets d/8 bytes. */
int	 ae_md6(unsigned digest_bits, const void *data, size_t len,
	    unsigned char *out);
/* RFC 2104 HMAC over MD6-256, block 64 bytes; out gets 32 bytes. */
void	 ae_hmac_md6_256(const void *key, size_t keylen, const void *msg,
	    size_t msglen, unsigned char *out);
/*
 * The hmac_md6_64_256 auth token of AEMP.md 3.4 for one side:
 * lowercase hex of HMAC_MD6(key = greetings, data = MD6-256(secret)),
 * where greetings = first1 LF first2 LF second1 LF second2 LF.
 * out must hold 65 bytes.
 */
void	 ae_auth_token(const char *secret, const char *first1,
	    const char *first2, const char *second1, const char *second2,
	    char *out);
/*
 * The tls_md6_64_256 token of AEMP-TLS-EXT.md 10.6: lowercase hex of
 * MD6-256(first1 LF first2 LF second1 LF second2 LF), the sender's own
 * lines first; no secret. out must hold 65 bytes.
 */
void	 ae_tls_token(const char *first1, const char *first2,
	    const char *second1, const char *second2, char *out);

#endif

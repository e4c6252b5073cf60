/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * md6.c: MD6 (w=64, mode L=64, no key), HMAC-MD6-256 and the
 * hmac_md6_64_256 authentication token of AEMP.md section 3.4.
 */
#include <stdint.h>
#include <string.h>

#include "md6.h"

#define MD6_N		89	/* words of compression input */
#define MD6_C		16	/* words of compression output */
#define MD6_B		64	/* data words per compression */
#define MD6_Q		15	/* words of the constant Q */
#define MD6_K		8	/* key words (always zero here: keylen 0) */
#define MD6_BLOCK	(MD6_B * 8)	/* 512 data bytes per compression */
#define MD6_CVLEN	(MD6_C * 8)	/* 128 bytes per chaining value */
#define MD6_FANOUT	(MD6_B / MD6_C)	/* 4 children per inner node */
#define MD6_L		64	/* mode parameter: fully hierarchical */
#define MD6_MAXBITS	512
#define MD6_MAXROUNDS	(40 + MD6_MAXBITS / 4)

/*
 * A size_t message has at most 2^55 leaves, so its 4-ary tree has at most
 * 29 levels; 32 leaves room for the 64 bytes HMAC prepends. The sequential
 * mode that L=64 would switch to above level 64 is therefore unreachable.
 */
#define MD6_MAXLEVEL	32

#define MD6_S0		0x0123456789abcdefULL
#define MD6_SMASK	0x7311c2812425cfa0ULL

#define HMAC_BLOCK	64
#define HMAC_OUT	32

/* Q: the first 960 bits of the fractional part of sqrt(6). */
static const uint64_t md6_q[MD6_Q] = {
	0x7311c2812425cfa0ULL, 0x6432286434aac8e7ULL, 0xb60450e9ef68b7c1ULL,
	0xe8fb23908d9f06f1ULL, 0xdd2e76cba691e5bfULL, 0x0cd0d63b2c30bc41ULL,
	0x1f8ccf6823058f8aULL, 0x54e5ed5b88e3775dULL, 0x4ad12aae0a6d6031ULL,
	0x3e7f16bb88222e0dULL, 0x8af8671d3fb50c2cULL, 0x995ad1178bd25c31ULL,
	0xc878c1dd04c4b633ULL, 0x3b72066c7a1552acULL, 0x0d6f3522631effcbULL
};

/*
 * Streaming state for one hash. Level 1 keeps raw bytes because a full
 * leaf may only be compressed once we know more data follows (the last
 * leaf may be the root); levels 2.. keep up to three pending child
 * chaining values, since a fourth makes the node complete.
 */
struct md6_state {
	unsigned	 d;		/* digest bits */
	unsigned	 r;		/* rounds */
	unsigned	 top;		/* highest level holding data */
	size_t		 fill;		/* bytes in leaf */
	unsigned char	 leaf[MD6_BLOCK];
	uint64_t	 index[MD6_MAXLEVEL + 1];	/* next node per level */
	unsigned	 ncv[MD6_MAXLEVEL + 1];		/* CVs held per level */
	uint64_t	 cv[MD6_MAXLEVEL + 1][MD6_B];	/* [0], [1] unused */
};

static inline uint64_t
md6_load64(const unsigned char *p)
{
	return ((uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 |
	    (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
	    (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
	    (uint64_t)p[6] << 8 | (uint64_t)p[7]);
}

static inline void
md6_store64(unsigned char *p, uint64_t v)
{
	int	i;

	for (i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

/*
 * One step of the feedback shift register: taps t0..t5 = 17, 18, 21, 31,
 * 67, 89 and the step's shift pair (rs, ls).
 */
#define MD6_STEP(k, rs, ls) do {					\
	uint64_t x_ = S ^ a[(k) - 89] ^ a[(k) - 17];			\
	x_ ^= (a[(k) - 18] & a[(k) - 21]) ^ (a[(k) - 31] & a[(k) - 67]);\
	x_ ^= x_ >> (rs);						\
	a[k] = x_ ^ (x_ << (ls));					\
} while (0)

/*
 * The compression function f: build the 89-word input Q || K || U || V ||
 * B, run r rounds of 16 steps, and return the last 16 words. The whole
 * A array is kept (rather than a ring) so every tap is a plain constant
 * offset and the unrolled round needs no index arithmetic.
 */
static void
md6_compress(uint64_t out[MD6_C], const uint64_t data[MD6_B], unsigned r,
    unsigned ell, uint64_t index, unsigned p, int z, unsigned d)
{
	uint64_t	 A[MD6_N + MD6_MAXROUNDS * MD6_C];
	uint64_t	*a, S = MD6_S0;
	unsigned	 j;

	memcpy(A, md6_q, sizeof md6_q);
	memset(A + MD6_Q, 0, MD6_K * sizeof A[0]);
	A[MD6_Q + MD6_K] = (uint64_t)ell << 56 | index;
	A[MD6_Q + MD6_K + 1] = (uint64_t)r << 48 | (uint64_t)MD6_L << 40 |
	    (uint64_t)(z != 0) << 36 | (uint64_t)p << 20 |
	    (uint64_t)0 << 12 /* keylen */ | d;
	memcpy(A + MD6_Q + MD6_K + 2, data, MD6_B * sizeof A[0]);

	a = A + MD6_N;
	for (j = 0; j < r; j++, a += MD6_C) {
		MD6_STEP(0, 10, 11);
		MD6_STEP(1, 5, 24);
		MD6_STEP(2, 13, 9);
		MD6_STEP(3, 10, 16);
		MD6_STEP(4, 11, 15);
		MD6_STEP(5, 12, 9);
		MD6_STEP(6, 2, 27);
		MD6_STEP(7, 7, 15);
		MD6_STEP(8, 14, 6);
		MD6_STEP(9, 15, 2);
		MD6_STEP(10, 7, 29);
		MD6_STEP(11, 13, 8);
		MD6_STEP(12, 11, 15);
		MD6_STEP(13, 7, 5);
		MD6_STEP(14, 6, 31);
		MD6_STEP(15, 12, 9);
		/* Next round constant: rotate left by one, xor masked bits. */
		S = (S << 1 | S >> 63) ^ (S & MD6_SMASK);
	}
	memcpy(out, a - MD6_C, MD6_C * sizeof out[0]);
}

static void
md6_init(struct md6_state *st, unsigned d)
{
	st->d = d;
	st->r = 40 + d / 4;
	st->top = 1;
	st->fill = 0;
	memset(st->index, 0, sizeof st->index);
	memset(st->ncv, 0, sizeof st->ncv);
}

/* Compress the held leaf (zero-padded) into cv. */
static void
md6_leaf(struct md6_state *st, uint64_t cv[MD6_C], int z)
{
	uint64_t	 B[MD6_B];
	size_t		 i;

	memset(st->leaf + st->fill, 0, MD6_BLOCK - st->fill);
	for (i = 0; i < MD6_B; i++)
		B[i] = md6_load64(st->leaf + 8 * i);
	md6_compress(cv, B, st->r, 1, st->index[1]++,
	    (unsigned)(MD6_BLOCK - st->fill) * 8, z, st->d);
	st->fill = 0;
}

/*
 * Hand a non-final node's CV to its parent at level ell. A parent that
 * becomes full is compressed at once: more data follows below, so it
 * cannot be the root, and its own parent gets the result in turn.
 */
static void
md6_push(struct md6_state *st, unsigned ell, const uint64_t cv[MD6_C])
{
	uint64_t	 next[MD6_C];

	for (;;) {
		memcpy(st->cv[ell] + MD6_C * st->ncv[ell], cv,
		    MD6_C * sizeof cv[0]);
		if (ell > st->top)
			st->top = ell;
		if (++st->ncv[ell] < MD6_FANOUT)
			return;
		md6_compress(next, st->cv[ell], st->r, ell,
		    st->index[ell]++, 0, 0, st->d);
		st->ncv[ell] = 0;
		cv = next;
		ell++;
	}
}

static void
md6_update(struct md6_state *st, const void *data, size_t len)
{
	const unsigned char	*p = data;
	uint64_t		 cv[MD6_C];
	size_t			 n;

	while (len > 0) {
		/* Only now is it known that the held full leaf is not last. */
		if (st->fill == MD6_BLOCK) {
			md6_leaf(st, cv, 0);
			md6_push(st, 2, cv);
		}
		n = MD6_BLOCK - st->fill;
		if (n > len)
			n = len;
		memcpy(st->leaf + st->fill, p, n);
		st->fill += n;
		p += n;
		len -= n;
	}
}

/*
 * Finish: the last leaf and every partly filled node above it are
 * compressed bottom-up; the node at the top level is the root (z = 1).
 * Each level below the top gets one more CV here, so the top always
 * ends up with at least two children and is never a mere pass-through.
 */
static void
md6_final(struct md6_state *st, unsigned char *out)
{
	uint64_t	 cv[MD6_C], next[MD6_C];
	unsigned char	 buf[MD6_CVLEN];
	unsigned	 ell, n, i;

	if (st->top == 1)
		md6_leaf(st, cv, 1);
	else {
		md6_leaf(st, cv, 0);
		for (ell = 2;; ell++) {
			n = st->ncv[ell];
			memcpy(st->cv[ell] + MD6_C * n, cv,
			    MD6_C * sizeof cv[0]);
			n++;
			memset(st->cv[ell] + MD6_C * n, 0,
			    (MD6_FANOUT - n) * MD6_CVLEN);
			md6_compress(next, st->cv[ell], st->r, ell,
			    st->index[ell], (MD6_FANOUT - n) * MD6_CVLEN * 8,
			    ell == st->top, st->d);
			memcpy(cv, next, sizeof cv);
			if (ell == st->top)
				break;
		}
	}
	for (i = 0; i < MD6_C; i++)
		md6_store64(buf + 8 * i, cv[i]);
	memcpy(out, buf + MD6_CVLEN - st->d / 8, st->d / 8);
}

int
ae_md6(unsigned digest_bits, const void *data, size_t len,
    unsigned char *out)
{
	struct md6_state	 st;

	if (digest_bits == 0 || digest_bits > MD6_MAXBITS ||
	    digest_bits % 8 != 0)
		return (-1);
	md6_init(&st, digest_bits);
	md6_update(&st, data, len);
	md6_final(&st, out);
	return (0);
}

/* HMAC with a key already reduced to one zero-padded 64-byte block. */
static void
hmac_block(const unsigned char key[HMAC_BLOCK], const void *msg,
    size_t msglen, unsigned char *out)
{
	struct md6_state	 st;
	unsigned char		 pad[HMAC_BLOCK], inner[HMAC_OUT];
	size_t			 i;

	for (i = 0; i < HMAC_BLOCK; i++)
		pad[i] = key[i] ^ 0x36;
	md6_init(&st, 256);
	md6_update(&st, pad, sizeof pad);
	md6_update(&st, msg, msglen);
	md6_final(&st, inner);

	for (i = 0; i < HMAC_BLOCK; i++)
		pad[i] = key[i] ^ 0x5c;
	md6_init(&st, 256);
	md6_update(&st, pad, sizeof pad);
	md6_update(&st, inner, sizeof inner);
	md6_final(&st, out);
}

void
ae_hmac_md6_256(const void *key, size_t keylen, const void *msg,
    size_t msglen, unsigned char *out)
{
	unsigned char	 k[HMAC_BLOCK];

	memset(k, 0, sizeof k);
	if (keylen > HMAC_BLOCK)
		ae_md6(256, key, keylen, k);
	else if (keylen > 0)
		memcpy(k, key, keylen);
	hmac_block(k, msg, msglen, out);
}

void
ae_auth_token(const char *secret, const char *first1, const char *first2,
    const char *second1, const char *second2, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	const char		*part[4] = { first1, first2, second1, second2 };
	struct md6_state	 st;
	unsigned char		 k[HMAC_BLOCK], msg[HMAC_OUT], mac[HMAC_OUT];
	size_t			 len[4], total = 0, off;
	int			 i;

	for (i = 0; i < 4; i++) {
		len[i] = strlen(part[i]);
		total += len[i] + 1;
	}

	/*
	 * The greetings are the HMAC key. They are almost always longer
	 * than a block, so hash them piecewise instead of joining them
	 * into a buffer of unbounded size.
	 */
	memset(k, 0, sizeof k);
	if (total > HMAC_BLOCK) {
		md6_init(&st, 256);
		for (i = 0; i < 4; i++) {
			md6_update(&st, part[i], len[i]);
			md6_update(&st, "\n", 1);
		}
		md6_final(&st, k);
	} else {
		for (off = 0, i = 0; i < 4; i++) {
			memcpy(k + off, part[i], len[i]);
			k[off + len[i]] = '\n';
			off += len[i] + 1;
		}
	}

	ae_md6(256, secret, strlen(secret), msg);
	hmac_block(k, msg, sizeof msg, mac);

	for (i = 0; i < HMAC_OUT; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 0xf];
	}
	out[2 * HMAC_OUT] = '\0';
}

void
ae_tls_token(const char *first1, const char *first2, const char *second1,
    const char *second2, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	const char		*part[4] = { first1, first2, second1, second2 };
	struct md6_state	 st;
	unsigned char		 d[32];
	int			 i;

	md6_init(&st, 256);
	for (i = 0; i < 4; i++) {
		md6_update(&st, part[i], strlen(part[i]));
		md6_update(&st, "\n", 1);
	}
	md6_final(&st, d);
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 0xf];
	}
	out[64] = '\0';
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_md6.c: MD6, HMAC-MD6-256 and auth-token tests against the shared
 * vectors (protocol/vectors/md6.txt and handshake.txt) and a naive tree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/testutil.h"
#include "md6.h"

static void
tohex(const unsigned char *p, size_t n, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static void
check_md6(unsigned bits, const void *data, size_t len, const char *want)
{
	unsigned char	 out[64];
	char		 hex[129];

	ck_assert_int_eq(ae_md6(bits, data, len, out), 0);
	tohex(out, bits / 8, hex);
	ck_assert_str_eq(hex, want);
}

START_TEST(test_md6_short)
{
	const char	*fox = "The quick brown fox jumps over the lazy dog";

	check_md6(256, "", 0,
	    "bca38b24a804aa37d821d31af00f5598230122c5bbfc4c4ad5ed40e4258f04ca");
	check_md6(256, "abc", 3,
	    "230637d4e6845cf0d092b558e87625f03881dd53a7439da34cf3b94ed0d8b2c5");
	check_md6(256, fox, strlen(fox),
	    "977592608c45c9923340338450fdcccc21a68888e1e6350e133c5186cd9736ee");
	check_md6(512, "abc", 3,
	    "00918245271e377a7ffb202b90f3bda5477d8feab12d8a3a8994ebc55fe6e74c"
	    "a8341520032eeea3fdef892f2882378f636212af4b2683ccf80bf025b7d9b457");
}
END_TEST

START_TEST(test_md6_tree)
{
	unsigned char	 buf[5000];
	size_t		 i;

	/* Two leaves: the root is at level 2. */
	memset(buf, 'a', 1000);
	check_md6(256, buf, 1000,
	    "ff7c492a5b92f45bbf62acc81738e8aae8d1cc87a2be9173da0630b107815d76");

	/* Ten leaves: three level-2 nodes, the root is at level 3. */
	for (i = 0; i < sizeof buf; i++)
		buf[i] = i & 0xff;
	check_md6(256, buf, sizeof buf,
	    "0ff5cd69861a38be2c3a8bd0c89ac0ec4370d37636dfdfdf6ef083b7bbd189b9");
}
END_TEST

/*
 * A second, deliberately naive MD6 (whole levels in memory, built bottom
 * up) to check the streaming tree at lengths the vectors do not reach:
 * exact leaf and node boundaries. Its compression function is the same
 * spec, and the vectors above pin down that both agree with MD6.
 */
static const uint64_t ref_q[15] = {
	0x7311c2812425cfa0ULL, 0x6432286434aac8e7ULL, 0xb60450e9ef68b7c1ULL,
	0xe8fb23908d9f06f1ULL, 0xdd2e76cba691e5bfULL, 0x0cd0d63b2c30bc41ULL,
	0x1f8ccf6823058f8aULL, 0x54e5ed5b88e3775dULL, 0x4ad12aae0a6d6031ULL,
	0x3e7f16bb88222e0dULL, 0x8af8671d3fb50c2cULL, 0x995ad1178bd25c31ULL,
	0xc878c1dd04c4b633ULL, 0x3b72066c7a1552acULL, 0x0d6f3522631effcbULL
};
static const int ref_rs[16] = {
	10, 5, 13, 10, 11, 12, 2, 7, 14, 15, 7, 13, 11, 7, 6, 12
};
static const int ref_ls[16] = {
	11, 24, 9, 16, 15, 9, 27, 15, 6, 2, 29, 8, 15, 5, 31, 9
};

static void
ref_compress(uint64_t *out, const uint64_t *blk, unsigned d, uint64_t ell,
    uint64_t idx, uint64_t p, uint64_t z)
{
	uint64_t	 r = 40 + d / 4, S = 0x0123456789abcdefULL, x, *A;
	size_t		 i, t = r * 16;

	A = calloc(89 + t, sizeof *A);
	ck_assert_ptr_nonnull(A);
	memcpy(A, ref_q, sizeof ref_q);
	A[23] = ell << 56 | idx;
	A[24] = r << 48 | 64ULL << 40 | z << 36 | p << 20 | d;
	memcpy(A + 25, blk, 64 * sizeof *A);
	for (i = 89; i < 89 + t; i++) {
		if (i > 89 && (i - 89) % 16 == 0)
			S = (S << 1 | S >> 63) ^ (S & 0x7311c2812425cfa0ULL);
		x = S ^ A[i - 89] ^ A[i - 17] ^ (A[i - 18] & A[i - 21]) ^
		    (A[i - 31] & A[i - 67]);
		x ^= x >> ref_rs[(i - 89) % 16];
		A[i] = x ^ (x << ref_ls[(i - 89) % 16]);
	}
	memcpy(out, A + t + 89 - 16, 16 * sizeof *A);
	free(A);
}

static void
ref_md6(unsigned d, const unsigned char *msg, size_t len, unsigned char *out)
{
	size_t		 n = len ? (len + 511) / 512 : 1, m, i, j, k, nb;
	uint64_t	*cv, *up, blk[64], ell = 1;

	cv = calloc(n * 16, sizeof *cv);
	ck_assert_ptr_nonnull(cv);
	for (i = 0; i < n; i++) {
		nb = len - i * 512 < 512 ? len - i * 512 : 512;
		memset(blk, 0, sizeof blk);
		for (j = 0; j < nb; j++)
			blk[j / 8] |= (uint64_t)msg[i * 512 + j] <<
			    (56 - 8 * (j % 8));
		ref_compress(cv + 16 * i, blk, d, 1, i, (512 - nb) * 8, n == 1);
	}
	while (n > 1) {
		ell++;
		m = (n + 3) / 4;
		up = calloc(m * 16, sizeof *up);
		ck_assert_ptr_nonnull(up);
		for (i = 0; i < m; i++) {
			k = n - 4 * i < 4 ? n - 4 * i : 4;
			memset(blk, 0, sizeof blk);
			memcpy(blk, cv + 64 * i, k * 16 * sizeof *cv);
			ref_compress(up + 16 * i, blk, d, ell, i,
			    (4 - k) * 1024, m == 1);
		}
		free(cv);
		cv = up;
		n = m;
	}
	/* The digest is the last d bits of the big-endian root output. */
	for (i = 0; i < d / 8; i++) {
		j = 128 - d / 8 + i;
		out[i] = cv[j / 8] >> (56 - 8 * (j % 8));
	}
	free(cv);
}

START_TEST(test_md6_boundaries)
{
	static const size_t	 lens[] = {
		1, 511, 512, 513, 1024, 1536, 2047, 2048, 2049, 2560, 4096,
		8191, 8192, 8193, 10240, 10241, 32768, 32769, 40000
	};
	static const unsigned	 bits[] = { 256, 8, 224, 512 };
	unsigned char		*buf, got[64], want[64];
	size_t			 i, j;

	buf = malloc(40000);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < 40000; i++)
		buf[i] = (i * 131 + 7) & 0xff;
	for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		for (j = 0; j < sizeof bits / sizeof bits[0]; j++) {
			if (j > 0 && lens[i] > 4096)
				continue;	/* one size is enough there */
			ck_assert_int_eq(ae_md6(bits[j], buf, lens[i], got),
			    0);
			ref_md6(bits[j], buf, lens[i], want);
			if (memcmp(got, want, bits[j] / 8) != 0)
				ck_abort_msg("md6-%u of %zu bytes differs",
				    bits[j], lens[i]);
		}
	}
	free(buf);
}
END_TEST

START_TEST(test_md6_sizes)
{
	unsigned char	 out[80], first[64];
	unsigned	 d;

	/* Every legal size writes exactly d/8 bytes and nothing more. */
	for (d = 8; d <= 512; d += 8) {
		memset(out, 0xa5, sizeof out);
		ck_assert_int_eq(ae_md6(d, "abc", 3, out), 0);
		ck_assert_int_eq(out[d / 8], 0xa5);
		ck_assert_int_eq(out[sizeof out - 1], 0xa5);
	}
	/* d is part of every control word, so sizes are unrelated hashes. */
	ck_assert_int_eq(ae_md6(224, "abc", 3, out), 0);
	ck_assert_int_eq(ae_md6(256, "abc", 3, first), 0);
	ck_assert_int_ne(memcmp(out, first, 28), 0);
	ck_assert_int_ne(memcmp(out, first + 4, 28), 0);
	ck_assert_int_eq(ae_md6(384, "abc", 3, out), 0);
	ck_assert_int_eq(ae_md6(384, "abc", 3, first), 0);
	ck_assert_int_eq(memcmp(out, first, 48), 0);

	ck_assert_int_eq(ae_md6(0, "abc", 3, out), -1);
	ck_assert_int_eq(ae_md6(12, "abc", 3, out), -1);
	ck_assert_int_eq(ae_md6(520, "abc", 3, out), -1);
}
END_TEST

START_TEST(test_hmac)
{
	unsigned char	 key[200], hkey[32], a[32], b[32], c[32];
	size_t		 i;

	for (i = 0; i < sizeof key; i++)
		key[i] = i;

	/* Keys longer than the block go through MD6-256 first (RFC 2104). */
	ae_hmac_md6_256(key, sizeof key, "msg", 3, a);
	ae_hmac_md6_256(key, sizeof key, "msg", 3, b);
	ck_assert_int_eq(memcmp(a, b, 32), 0);
	ck_assert_int_eq(ae_md6(256, key, sizeof key, hkey), 0);
	ae_hmac_md6_256(hkey, sizeof hkey, "msg", 3, c);
	ck_assert_int_eq(memcmp(a, c, 32), 0);

	/* One more key byte, or another message, is another MAC. */
	ae_hmac_md6_256(key, sizeof key - 1, "msg", 3, b);
	ck_assert_int_ne(memcmp(a, b, 32), 0);
	ae_hmac_md6_256(key, sizeof key, "msh", 3, b);
	ck_assert_int_ne(memcmp(a, b, 32), 0);

	/* 64 bytes is used as is, 65 is hashed: the two must differ. */
	ae_hmac_md6_256(key, 64, "msg", 3, a);
	ae_hmac_md6_256(key, 65, "msg", 3, b);
	ck_assert_int_ne(memcmp(a, b, 32), 0);

	/* Zero padding means a short key equals its padded form. */
	memset(hkey, 0, sizeof hkey);
	memcpy(hkey, "k", 1);
	ae_hmac_md6_256("k", 1, "msg", 3, a);
	ae_hmac_md6_256(hkey, sizeof hkey, "msg", 3, b);
	ck_assert_int_eq(memcmp(a, b, 32), 0);
	ae_hmac_md6_256("", 0, "", 0, a);
	ae_hmac_md6_256(hkey, 0, "", 0, b);
	ck_assert_int_eq(memcmp(a, b, 32), 0);
}
END_TEST

struct side {
	const char	*g1, *g2;
};

static void
check_handshake(const char *secret, const struct side *x,
    const struct side *y, const char *auth_x, const char *auth_y)
{
	char	 tok[65];

	memset(tok, 'z', sizeof tok);
	ae_auth_token(secret, x->g1, x->g2, y->g1, y->g2, tok);
	ck_assert_str_eq(tok, auth_x);
	ae_auth_token(secret, y->g1, y->g2, x->g1, x->g2, tok);
	ck_assert_str_eq(tok, auth_y);
}

START_TEST(test_handshake_a)
{
	static const struct side x = {
		"aemp;0;anon/57Cs1CggVJjzYaQp13XXg4;tls_md6_64_256,"
		"hmac_md6_64_256,tls_anon,cleartext;json,storable;"
		"provider=AE-0.8;timeout=12;peeraddr=10.0.0.17:4040",
		"yLgdG1ov/02shVkVQer3wzeuywZK+oraTdEQBmIqWHaegxSGDG4g+Hqog"
		"LQbvdypFOsoDWJ1Sh4ImV4DMhvUBwTK"
	};
	static const struct side y = {
		"aemp;0;ruth;tls_md6_64_256,hmac_md6_64_256,tls_anon,"
		"cleartext;json,storable;provider=AE-0.8;timeout=12;"
		"peeraddr=10.0.0.1:37108",
		"+xMQXP8ElfNmuvEhsmcp+s2wCJOuQAsPxSg3d2Ewhs6gBnJz+ypVdWJ/wAV"
		"rXqlIJfLeVS/CBy4gEGkyWHSuVb1L"
	};

	check_handshake("8ugxrtw6H5tKnfPWfaSr4HGhE8MoJXmzTT1BWq7sLutNcD0Ib"
	    "XprQlZjIbl7MBKoeklG3IEfY9GlJthC0pENzk", &x, &y,
	    "84cd590976f794914c2ca26dac3a207a57a6798b9171289c114de07cf0c20401",
	    "5ad913855742ae5a03a5aeb7eafa4c78629de136bed6acd73eea36c9e98df44a");
}
END_TEST

START_TEST(test_handshake_b)
{
	static const struct side x = {
		"aemp;1;pyconf;hmac_md6_64_256,cleartext;json;"
		"provider=py-conformance;peeraddr=127.0.0.1:4060",
		"IAfIP9C4doFPp4oenzJn3kRwnDqeoWtWEk0HfPucjzhYbRtEmWb0WdMdVc/l"
		"tQgewWF3duHh1JimzG7fVRnhFFL7"
	};
	static const struct side y = {
		"aemp;1;refseed;tls_md6_64_256,hmac_md6_64_256,tls_anon,"
		"cleartext;json,storable;provider=AE-1.30;"
		"peeraddr=127.0.0.1:35002",
		"LiqbNcPf2aQtsKx3oN6sQOR+s2bD8RsDEx2HZe3yLcPR81wPT6FoXDNpq+K/"
		"TV5n/DoU4DFo8PF3KMJ9pP1snCLA"
	};

	check_handshake("benchsecret", &x, &y,
	    "424061b8415b791f3e8f1c34a4cb0d33a43b5861a370bb3dc18b554b52ec1782",
	    "9ac47fad4ca0a120d1ba490973bcbe608eee10a9fc792d9803cbde046668b057");
}
END_TEST

/* The token is HMAC(key = joined greetings, msg = MD6-256(secret)). */
static void
check_token_def(const char *s, const char *a, const char *b, const char *c,
    const char *d)
{
	unsigned char	 msg[32], mac[32];
	char		*g, want[65], tok[65];

	ck_assert_int_ne(asprintf(&g, "%s\n%s\n%s\n%s\n", a, b, c, d), -1);
	ck_assert_int_eq(ae_md6(256, s, strlen(s), msg), 0);
	ae_hmac_md6_256(g, strlen(g), msg, sizeof msg, mac);
	tohex(mac, sizeof mac, want);
	ae_auth_token(s, a, b, c, d, tok);
	ck_assert_str_eq(tok, want);
	free(g);
}

START_TEST(test_token_paths)
{
	/* Greetings of at most 64 bytes are a key used directly. */
	check_token_def("s", "", "", "", "");
	check_token_def("secret", "a", "b", "c", "d");
	check_token_def("secret", "0123456789abcdef", "0123456789abcdef",
	    "0123456789abcdef", "0123456789a");		/* 64 */
	check_token_def("secret", "0123456789abcdef", "0123456789abcdef",
	    "0123456789abcdef", "0123456789ab");	/* 65 */
	check_token_def("", "x", "y", "z", "w");
}
END_TEST

static Suite *
md6_suite(void)
{
	Suite	*s = suite_create("md6");
	TCase	*tc = tcase_create("md6");

	tcase_add_test(tc, test_md6_short);
	tcase_add_test(tc, test_md6_tree);
	tcase_add_test(tc, test_md6_boundaries);
	tcase_add_test(tc, test_md6_sizes);
	tcase_add_test(tc, test_hmac);
	tcase_add_test(tc, test_handshake_a);
	tcase_add_test(tc, test_handshake_b);
	tcase_add_test(tc, test_token_paths);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(md6_suite)

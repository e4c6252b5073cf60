/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_wire.c: unit tests for the byte-level transport pieces in wire.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "testutil.h"
#include "bytes.h"
#include "codec.h"
#include "wire.h"

/* Line 1 of each greeting in protocol/vectors/handshake.txt, verbatim. */
static const struct {
	const char	*line;
	int		 version;
	const char	*nodeid;
	const char	*auths;		/* joined with ',' for comparison */
	const char	*framings;
	const char	*provider;
	const char	*peeraddr;
} vectors[] = {
	{ "aemp;0;anon/57Cs1CggVJjzYaQp13XXg4;tls_md6_64_256,hmac_md6_64_256,"
	  "tls_anon,cleartext;json,storable;provider=AE-0.8;timeout=12;"
	  "peeraddr=10.0.0.17:4040",
	  0, "anon/57Cs1CggVJjzYaQp13XXg4",
	  "tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext", "json,storable",
	  "AE-0.8", "10.0.0.17:4040" },
	{ "aemp;0;ruth;tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext;"
	  "json,storable;provider=AE-0.8;timeout=12;peeraddr=10.0.0.1:37108",
	  0, "ruth",
	  "tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext", "json,storable",
	  "AE-0.8", "10.0.0.1:37108" },
	{ "aemp;1;pyconf;hmac_md6_64_256,cleartext;json;"
	  "provider=py-conformance;peeraddr=127.0.0.1:4060",
	  1, "pyconf", "hmac_md6_64_256,cleartext", "json",
	  "py-conformance", "127.0.0.1:4060" },
	{ "aemp;1;refseed;tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext;"
	  "json,storable;provider=AE-1.30;peeraddr=127.0.0.1:35002",
	  1, "refseed",
	  "tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext", "json,storable",
	  "AE-1.30", "127.0.0.1:35002" },
};

/* Join a NULL-terminated list with ',' into buf, for one-line asserts. */
static const char *
join(char **l, char *buf, size_t size)
{
	size_t	i;

	buf[0] = '\0';
	for (i = 0; l[i] != NULL; i++) {
		if (i > 0)
			strncat(buf, ",", size - strlen(buf) - 1);
		strncat(buf, l[i], size - strlen(buf) - 1);
	}
	return buf;
}

static int
parse(const char *line, struct aemp_greeting *g)
{
	const char	*why = NULL;
	int		 r;

	r = ae_greeting_parse(line, strlen(line), g, &why);
	if (r == 0)
		ck_assert_ptr_null(why);
	else
		ck_assert_ptr_nonnull(why);
	return r;
}

START_TEST(greeting_vectors)
{
	struct aemp_greeting	 g;
	char			 buf[256];
	const char		*why;
	size_t			 i = _i;

	ck_assert_int_eq(ae_greeting_parse(vectors[i].line,
	    strlen(vectors[i].line), &g, &why), 0);
	ck_assert_int_eq(g.version, vectors[i].version);
	ck_assert_str_eq(g.nodeid, vectors[i].nodeid);
	ck_assert_str_eq(join(g.auths, buf, sizeof buf), vectors[i].auths);
	ck_assert_str_eq(join(g.framings, buf, sizeof buf),
	    vectors[i].framings);
	ck_assert_str_eq(g.provider, vectors[i].provider);
	ck_assert_str_eq(g.peeraddr, vectors[i].peeraddr);
	ck_assert_ptr_null(g.tls);
	ae_greeting_clear(&g);
	/* Clearing is idempotent, so error paths may call it freely. */
	ae_greeting_clear(&g);
}
END_TEST

START_TEST(greeting_escapes)
{
	const char		*kv[] = { "provider", "a;b%c=d;%3b", "peeraddr",
				    "[::1]:4040", "tls", "1.0", NULL };
	const char		*auths[] = { "hmac_md6_64_256", "cleartext", NULL };
	const char		*framings[] = { "json", NULL };
	struct aemp_greeting	 g;
	char			*line;

	line = ae_greeting_format("n/1", auths, framings, kv);
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, "aemp;1;n/1;hmac_md6_64_256,cleartext;json;"
	    "provider=a%3bb%25c=d%3b%253b;peeraddr=[::1]:4040;tls=1.0");
	ck_assert_int_eq(parse(line, &g), 0);
	ck_assert_int_eq(g.version, 1);
	ck_assert_str_eq(g.nodeid, "n/1");
	ck_assert_str_eq(g.auths[0], "hmac_md6_64_256");
	ck_assert_str_eq(g.auths[1], "cleartext");
	ck_assert_ptr_null(g.auths[2]);
	ck_assert_str_eq(g.framings[0], "json");
	ck_assert_ptr_null(g.framings[1]);
	ck_assert_str_eq(g.provider, "a;b%c=d;%3b");
	ck_assert_str_eq(g.peeraddr, "[::1]:4040");
	ck_assert_str_eq(g.tls, "1.0");
	ae_greeting_clear(&g);
	free(line);

	/* Upper-case hex too; other escapes and a cut-off one stay as is. */
	ck_assert_int_eq(parse("aemp;1;n;a;json;provider=%3B%25%41%3", &g), 0);
	ck_assert_str_eq(g.provider, ";%%41%3");
	ae_greeting_clear(&g);

	/* No lists, no pairs. */
	line = ae_greeting_format("n", NULL, NULL, NULL);
	ck_assert_str_eq(line, "aemp;1;n;;");
	ck_assert_int_eq(parse(line, &g), 0);
	ck_assert_ptr_null(g.auths[0]);
	ck_assert_ptr_null(g.framings[0]);
	ck_assert_ptr_null(g.provider);
	ae_greeting_clear(&g);
	free(line);
}
END_TEST

START_TEST(greeting_format_refuses)
{
	const char	*ok[] = { "json", NULL };
	const char	*comma[] = { "a,b", NULL };
	const char	*empty[] = { "", NULL };
	const char	*kv_lf[] = { "provider", "x\ny", NULL };
	const char	*kv_key[] = { "a=b", "x", NULL };
	const char	*kv_odd[] = { "provider", NULL };

	ck_assert_ptr_null(ae_greeting_format(NULL, ok, ok, NULL));
	ck_assert_ptr_null(ae_greeting_format("", ok, ok, NULL));
	ck_assert_ptr_null(ae_greeting_format("a;b", ok, ok, NULL));
	ck_assert_ptr_null(ae_greeting_format("a\r", ok, ok, NULL));
	ck_assert_ptr_null(ae_greeting_format("n", comma, ok, NULL));
	ck_assert_ptr_null(ae_greeting_format("n", ok, empty, NULL));
	ck_assert_ptr_null(ae_greeting_format("n", ok, ok, kv_lf));
	ck_assert_ptr_null(ae_greeting_format("n", ok, ok, kv_key));
	ck_assert_ptr_null(ae_greeting_format("n", ok, ok, kv_odd));
}
END_TEST

START_TEST(greeting_fields)
{
	struct aemp_greeting	 g;
	char			 buf[64];

	ck_assert_int_eq(parse("aemp;2;n;a;json", &g), 0);
	ck_assert_int_eq(g.version, 2);
	ae_greeting_clear(&g);
	ck_assert_int_eq(parse("aemp;99999999999999;n;a;json", &g), 0);
	ck_assert_int_eq(g.version, INT_MAX);
	ae_greeting_clear(&g);
	ck_assert_int_eq(parse("aemp;-1;n;a;json", &g), 0);
	ck_assert_int_eq(g.version, -1);
	ae_greeting_clear(&g);

	/* Trailing CR, '=' in values, unknown keys, bare words, repeats. */
	ck_assert_int_eq(parse("aemp;1;n;a;json;x=1;peeraddr=a=b;bare;=v;"
	    "tls=0.9;provider=;tls=1.0\r", &g), 0);
	ck_assert_str_eq(g.peeraddr, "a=b");
	ck_assert_str_eq(g.tls, "1.0");
	ck_assert_str_eq(g.provider, "");
	ae_greeting_clear(&g);

	/* Keys are matched exactly. */
	ck_assert_int_eq(parse("aemp;1;n;a;json;Provider=x;tlsx=1;tl=1", &g),
	    0);
	ck_assert_ptr_null(g.provider);
	ck_assert_ptr_null(g.tls);
	ae_greeting_clear(&g);

	/* Empty list items are dropped, a trailing ';' is harmless. */
	ck_assert_int_eq(parse("aemp;1;n;,a,,b,;json,;", &g), 0);
	ck_assert_str_eq(join(g.auths, buf, sizeof buf), "a,b");
	ck_assert_str_eq(join(g.framings, buf, sizeof buf), "json");
	ae_greeting_clear(&g);
	ck_assert_int_eq(parse("aemp;1;n;;", &g), 0);
	ck_assert_ptr_null(g.auths[0]);
	ck_assert_ptr_null(g.framings[0]);
	ae_greeting_clear(&g);
}
END_TEST

START_TEST(greeting_garbage)
{
	static const char *bad[] = {
		"", "\r", "hello", "GET / HTTP/1.0", "aemp", "aemp;1",
		"aemp;1;n", "aemp;1;n;a", "AEMP;1;n;a;json", "aemp ;1;n;a;json",
		"xaemp;1;n;a;json", "aemp;x;n;a;json", "aemp;;n;a;json",
		"aemp;1x;n;a;json", "aemp; 1;n;a;json", "aemp;-;n;a;json",
		"aemp;1;;a;json", ";;;;",
	};
	struct aemp_greeting	 g;
	const char		*why;
	size_t			 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		ck_assert_msg(ae_greeting_parse(bad[i], strlen(bad[i]), &g,
		    &why) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_str_eq(why, "unparsable greeting");
		ck_assert_ptr_null(g.nodeid);
		ck_assert_ptr_null(g.auths);
	}
	/* A NUL byte anywhere, even inside a value. */
	ck_assert_int_eq(ae_greeting_parse("aemp;1;n\0x;a;json", 17, &g,
	    &why), -1);
	ck_assert_int_eq(ae_greeting_parse("aemp;1;n;a;json;provider=\0",
	    26, &g, &why), -1);
	ck_assert_str_eq(why, "unparsable greeting");
	/* A NULL why is allowed. */
	ck_assert_int_eq(ae_greeting_parse("x", 1, &g, NULL), -1);
}
END_TEST

START_TEST(greeting_long)
{
	struct aemp_greeting	 g;
	char			*line, *p;
	size_t			 n = 8192;

	/* Line length limits belong to the transport, not to the parser. */
	line = malloc(n + 64);
	p = line + sprintf(line, "aemp;1;n;a;json;provider=");
	memset(p, 'x', n);
	strcpy(p + n, ";peeraddr=1.2.3.4:5");
	ck_assert_int_eq(parse(line, &g), 0);
	ck_assert_uint_eq(strlen(g.provider), n);
	ck_assert_str_eq(g.peeraddr, "1.2.3.4:5");
	ae_greeting_clear(&g);
	free(line);
}
END_TEST

START_TEST(authline)
{
	static const char *bad[] = {
		"", "\r", "hmac_md6_64_256", "a;b", "a;b;c;d", ";tok;json",
		"m;tok;", "m;tok;\r", ";;", "a;b;c;",
	};
	const char		*good = "hmac_md6_64_256;"
	    "424061b8415b791f3e8f1c34a4cb0d33a43b5861a370bb3dc18b554b52ec1782;"
	    "json";
	struct aemp_authline	 a;
	const char		*why;
	size_t			 i;

	ck_assert_int_eq(ae_authline_parse(good, strlen(good), &a, &why), 0);
	ck_assert_ptr_null(why);
	ck_assert_str_eq(a.method, "hmac_md6_64_256");
	ck_assert_str_eq(a.token, "424061b8415b791f3e8f1c34a4cb0d33"
	    "a43b5861a370bb3dc18b554b52ec1782");
	ck_assert_str_eq(a.framing, "json");
	ae_authline_clear(&a);
	ae_authline_clear(&a);

	ck_assert_int_eq(ae_authline_parse("tls_anon;;json\r", 15, &a, &why),
	    0);
	ck_assert_str_eq(a.method, "tls_anon");
	ck_assert_str_eq(a.token, "");
	ck_assert_str_eq(a.framing, "json");
	ae_authline_clear(&a);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		ck_assert_msg(ae_authline_parse(bad[i], strlen(bad[i]), &a,
		    &why) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_str_eq(why, "unparsable auth line");
		ck_assert_ptr_null(a.method);
	}
	ck_assert_int_eq(ae_authline_parse("m;t\0x;json", 10, &a, &why), -1);
	ck_assert_str_eq(why, "unparsable auth line");
}
END_TEST

START_TEST(hostport)
{
	static const struct {
		const char	*in, *host, *port;	/* host "-": refused */
	} t[] = {
		{ "127.0.0.1:4040", "127.0.0.1", "4040" },
		{ "[::1]:4040", "::1", "4040" },
		{ "[::1]", "::1", NULL },
		{ "[fe80::1%eth0]:1", "fe80::1%eth0", "1" },
		{ "[localhost]:80", "localhost", "80" },
		{ "::1", "::1", NULL },
		{ "::", "::", NULL },
		{ "fe80::1%eth0", "fe80::1%eth0", NULL },
		{ "2001:db8::1:4040", "2001:db8::1:4040", NULL },
		{ "::ffff:1.2.3.4", "::ffff:1.2.3.4", NULL },
		{ "example.org:65535", "example.org", "65535" },
		{ "*:4040", "*", "4040" },
		{ "*:*", "*", "*" },
		{ "host:*", "host", "*" },
		{ "*", "*", NULL },
		{ "4040", NULL, "4040" },
		{ "1", NULL, "1" },
		{ "04040", NULL, "4040" },
		{ "host", "host", NULL },
		{ "1.2.3.4", "1.2.3.4", NULL },
		{ "", "-", NULL },
		{ ":", "-", NULL },
		{ ":4040", "-", NULL },
		{ "host:", "-", NULL },
		{ "host:0", "host", "0" },
		{ "127.0.0.1:0", "127.0.0.1", "0" },
		{ "[::1]:00", "::1", "0" },
		{ "host:65536", "-", NULL },
		{ "host:99999999999999999999", "-", NULL },
		{ "host:-1", "-", NULL },
		{ "host:http", "-", NULL },
		{ "host:40 40", "-", NULL },
		{ "0", NULL, "0" },
		{ "65536", "-", NULL },
		{ "a:b:c", "-", NULL },
		{ "::1:x", "-", NULL },
		{ "[::1]:", "-", NULL },
		{ "[::1]x", "-", NULL },
		{ "[::1]:4040x", "-", NULL },
		{ "[::1", "-", NULL },
		{ "::1]", "-", NULL },
		{ "[]:4040", "-", NULL },
		{ "[[::1]]:4040", "-", NULL },
		{ "[a:b]:4040", "-", NULL },
		{ "[::1]:4040]", "-", NULL },
		{ "ho[st:1", "-", NULL },
		{ " host:1", "-", NULL },
		{ "host:1\n", "-", NULL },
		{ "fe80::1%", "-", NULL },
	};
	char	*host, *port;
	size_t	 i;
	int	 r;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		host = port = (char *)"junk";
		r = ae_hostport_parse(t[i].in, &host, &port);
		if (t[i].host != NULL && strcmp(t[i].host, "-") == 0) {
			ck_assert_msg(r == -1, "accepted \"%s\"", t[i].in);
			ck_assert_ptr_null(host);
			ck_assert_ptr_null(port);
			continue;
		}
		ck_assert_msg(r == 0, "refused \"%s\"", t[i].in);
		if (t[i].host == NULL)
			ck_assert_ptr_null(host);
		else
			ck_assert_str_eq(host, t[i].host);
		if (t[i].port == NULL)
			ck_assert_ptr_null(port);
		else
			ck_assert_str_eq(port, t[i].port);
		free(host);
		free(port);
	}
	ck_assert_int_eq(ae_hostport_parse(NULL, &host, &port), -1);
	/* ":0" and ":*" bind any port; seeds and addresses need one */
	ck_assert(!aemp_port_connectable("0"));
	ck_assert(!aemp_port_connectable("*"));
	ck_assert(aemp_port_connectable("4040"));
}
END_TEST

START_TEST(hostport_format)
{
	char	*s;

	s = ae_hostport_format("127.0.0.1", 4040);
	ck_assert_str_eq(s, "127.0.0.1:4040");
	free(s);
	s = ae_hostport_format("::1", 4040);
	ck_assert_str_eq(s, "[::1]:4040");
	free(s);
	s = ae_hostport_format("fe80::1%eth0", 1);
	ck_assert_str_eq(s, "[fe80::1%eth0]:1");
	free(s);
	s = ae_hostport_format("node.example", 65535);
	ck_assert_str_eq(s, "node.example:65535");
	free(s);
	ck_assert_ptr_null(ae_hostport_format(NULL, 1));
}
END_TEST

START_TEST(hex_base64)
{
	static const char *b64[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	const unsigned char	 bin[] = { 0x00, 0xff, 0x1a, 0xa1, 0xfb, 0xbf };
	char			 hex[2 * sizeof bin + 1], *s;
	size_t			 i;

	ae_hex(bin, sizeof bin, hex);
	ck_assert_str_eq(hex, "00ff1aa1fbbf");
	ae_hex(bin, 0, hex);
	ck_assert_str_eq(hex, "");
	for (i = 0; i < sizeof b64 / sizeof b64[0]; i++) {
		s = ae_base64((const unsigned char *)b64[i][0],
		    strlen(b64[i][0]));
		ck_assert_str_eq(s, b64[i][1]);
		free(s);
	}
	s = ae_base64(bin, sizeof bin);
	ck_assert_str_eq(s, "AP8aofu/");
	free(s);
}
END_TEST

/*
 * The splitter as a transport uses it: bytes arrive chunk bytes at a time
 * (0: all at once), the unconsumed tail is fed until it stops making
 * progress, and each packet is cut off. offs/lens get where each packet
 * sits in data; returns the packet count, or -1 - count on a stream error.
 */
struct split {
	size_t	offs[64], lens[64];
	int	n;
	int	pending;	/* the scanner stopped inside a packet */
};

static int
split(const char *data, size_t n, size_t chunk, size_t max, struct split *r)
{
	struct aemp_scan	 s;
	size_t			 arrived = 0, pos = 0, base = 0;
	ssize_t			 k;

	memset(r, 0, sizeof *r);
	ae_scan_init(&s, max);
	if (chunk == 0)
		chunk = n ? n : 1;
	while (arrived < n) {
		arrived = n - arrived > chunk ? arrived + chunk : n;
		while (pos < arrived) {
			k = ae_scan_feed(&s, data + pos, arrived - pos);
			if (k < 0) {
				/* Sticky until reset. */
				ck_assert_int_eq(ae_scan_feed(&s, "[]", 2),
				    -1);
				ae_scan_free(&s);
				return -1 - r->n;
			}
			pos += k;
			if (!s.done) {
				ck_assert_uint_eq(pos, arrived);
				break;
			}
			ck_assert_uint_eq(base + s.skip + s.len, pos);
			ck_assert_int_lt(r->n, 64);
			/* A finished scan takes nothing until reset. */
			ck_assert_int_eq(ae_scan_feed(&s, "[]", 2), 0);
			r->offs[r->n] = base + s.skip;
			r->lens[r->n++] = s.len;
			base = pos;
			ae_scan_reset(&s);
		}
	}
	r->pending = s.depth != 0;
	ae_scan_free(&s);
	return r->n;
}

/* Every packet found must be what jansson calls one array. */
static void
check_json(const char *data, const struct split *r)
{
	json_error_t	 e;
	json_t		*j;
	int		 i;

	for (i = 0; i < r->n; i++) {
		j = json_loadb(data + r->offs[i], r->lens[i], 0, &e);
		ck_assert_msg(j != NULL, "packet %d: %s", i, e.text);
		ck_assert(json_is_array(j));
		json_decref(j);
	}
}

START_TEST(scan_one)
{
	const char	*p = "[\"a\",\"b\",[1,2.5e3,true,null,{\"k\":[]}]]";
	struct split	 r;

	ck_assert_int_eq(split(p, strlen(p), 0, 0, &r), 1);
	ck_assert_uint_eq(r.offs[0], 0);
	ck_assert_uint_eq(r.lens[0], strlen(p));
	ck_assert_int_eq(r.pending, 0);
	check_json(p, &r);

	/* The keepalive. */
	ck_assert_int_eq(split("[]", 2, 0, 0, &r), 1);
	ck_assert_uint_eq(r.lens[0], 2);
}
END_TEST

START_TEST(scan_many)
{
	const char	*p = "[\"port\",\"addr\",[\"127.0.0.1:4061\"]][][\"\"]"
			    "[{\"a\":1}][[[]]]";
	struct split	 r;

	ck_assert_int_eq(split(p, strlen(p), 0, 0, &r), 5);
	ck_assert_uint_eq(r.offs[1], 34);
	ck_assert_uint_eq(r.lens[1], 2);
	ck_assert_uint_eq(r.lens[2], 4);
	ck_assert_uint_eq(r.lens[3], 9);
	ck_assert_uint_eq(r.offs[4] + r.lens[4], strlen(p));
	check_json(p, &r);

	/* A packet cut short stays pending, nothing is lost. */
	ck_assert_int_eq(split(p, strlen(p) - 1, 0, 0, &r), 4);
	ck_assert_int_eq(r.pending, 1);
}
END_TEST

START_TEST(scan_every_boundary)
{
	const char	*p = " [\"a]\\\"[{\",{\"k\\\\\":[\"}\",-1.5e+3]},\"\\u005d\"]"
			    "\n[\"\\\\\"]";
	size_t		 n = strlen(p), chunk;
	struct split	 ref, r;
	int		 i;

	ck_assert_int_eq(split(p, n, 0, 0, &ref), 2);
	check_json(p, &ref);
	ck_assert_uint_eq(ref.offs[0], 1);
	ck_assert_uint_eq(ref.offs[1] + ref.lens[1], n);
	for (chunk = 1; chunk <= n; chunk++) {
		ck_assert_int_eq(split(p, n, chunk, 0, &r), 2);
		for (i = 0; i < 2; i++) {
			ck_assert_uint_eq(r.offs[i], ref.offs[i]);
			ck_assert_uint_eq(r.lens[i], ref.lens[i]);
		}
	}
}
END_TEST

START_TEST(scan_split_once)
{
	const char		*p = "[\"x\\\\\\\"]\",{\"[\":\"{\"}]";
	size_t			 n = strlen(p), k;
	struct aemp_scan	 s;
	ssize_t			 a, b;

	/* Each split point: the first feed must take all, the second finish. */
	for (k = 1; k < n; k++) {
		ae_scan_init(&s, 0);
		a = ae_scan_feed(&s, p, k);
		ck_assert_int_eq(a, (ssize_t)k);
		ck_assert_int_eq(s.done, 0);
		b = ae_scan_feed(&s, p + k, n - k);
		ck_assert_int_eq(b, (ssize_t)(n - k));
		ck_assert_int_eq(s.done, 1);
		ck_assert_uint_eq(s.len, n);
		ae_scan_free(&s);
	}
}
END_TEST

START_TEST(scan_whitespace)
{
	const char		*p = " \r\n\t[1] \n [2]\n\n";
	struct aemp_scan	 s;
	struct split		 r;

	ck_assert_int_eq(split(p, strlen(p), 0, 0, &r), 2);
	ck_assert_uint_eq(r.offs[0], 4);
	ck_assert_uint_eq(r.offs[1], 10);
	ck_assert_int_eq(r.pending, 0);

	ae_scan_init(&s, 0);
	ck_assert_int_eq(ae_scan_feed(&s, p, 4), 4);
	ck_assert_uint_eq(s.skip, 4);
	ck_assert_int_eq(ae_scan_feed(&s, p + 4, 3), 3);
	ck_assert_int_eq(s.done, 1);
	ck_assert_uint_eq(s.skip, 4);
	ck_assert_uint_eq(s.len, 3);
	ae_scan_reset(&s);
	ck_assert_int_eq(ae_scan_feed(&s, "", 0), 0);
	ck_assert_int_eq(ae_scan_feed(&s, "[ 1 , [ ] ]", 11), 11);
	ck_assert_uint_eq(s.skip, 0);
	ck_assert_uint_eq(s.len, 11);
	ae_scan_free(&s);

	/* Whitespace is not: vertical tab, form feed, NUL. */
	ck_assert_int_eq(split("\v[]", 3, 0, 0, &r), -1);
	ck_assert_int_eq(split("\f[]", 3, 0, 0, &r), -1);
	ck_assert_int_eq(split("\0[]", 3, 0, 0, &r), -1);
}
END_TEST

START_TEST(scan_strings)
{
	static const char *p[] = {
		"[\"]\"]",
		"[\"[[[\"]",
		"[\"\\\"]\"]",
		"[\"\\\\\"]",
		"[\"\\\\\\\"]\\\\\"]",
		"[{\"}\":\"{\"}]",
		"[\"\\u0022]\"]",
		"[\"\xc3\xa9\xe2\x82\xac\"]",
	};
	struct split	 r;
	size_t		 i, c;

	for (i = 0; i < sizeof p / sizeof p[0]; i++) {
		for (c = 0; c < 4; c++) {
			ck_assert_int_eq(split(p[i], strlen(p[i]), c, 0, &r),
			    1);
			ck_assert_uint_eq(r.lens[0], strlen(p[i]));
			check_json(p[i], &r);
		}
	}
}
END_TEST

START_TEST(scan_nested)
{
	const char	*p = "[{\"a\":{\"b\":[1,{\"c\":\"}\"}],\"d\":{}}},[[{}]]]";
	char		*deep;
	struct split	 r;
	size_t		 i, d;

	ck_assert_int_eq(split(p, strlen(p), 0, 0, &r), 1);
	ck_assert_uint_eq(r.lens[0], strlen(p));
	check_json(p, &r);

	/* As deep as jansson goes, and one more. */
	deep = malloc(2 * 2049 + 1);
	for (d = 2048; d <= 2049; d++) {
		for (i = 0; i < d; i++) {
			deep[i] = '[';
			deep[d + i] = ']';
		}
		ck_assert_int_eq(split(deep, 2 * d, 0, 0, &r),
		    d == 2048 ? 1 : -1);
		ck_assert_int_eq(split(deep, 2 * d, 7, 0, &r),
		    d == 2048 ? 1 : -1);
		check_json(deep, &r);
	}
	free(deep);
}
END_TEST

START_TEST(scan_errors)
{
	static const char *bad[] = {
		"[}", "[{]", "[{\"a\":1]}", "[[]}", "[\"x\"}",
		"{\"a\":1}", "\"x\"", "1", "x[1]", "]", "}", "null",
	};
	/* NUL outside strings: jansson would load these as [2] and [true]. */
	static const char *nul[] = { "[2\0]", "[true\0]", "[\0]", "[\"a\"\0]" };
	static const size_t nul_len[] = { 4, 7, 3, 6 };
	struct split	 r;
	size_t		 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(split(bad[i], strlen(bad[i]), 0, 0, &r) == -1,
		    "accepted %s", bad[i]);
		ck_assert_int_eq(split(bad[i], strlen(bad[i]), 1, 0, &r), -1);
	}
	for (i = 0; i < sizeof nul / sizeof nul[0]; i++)
		ck_assert_int_eq(split(nul[i], nul_len[i], 0, 0, &r), -1);
	/* Inside a string, NUL is jansson's to refuse. */
	ck_assert_int_eq(split("[\"\0\"]", 5, 0, 0, &r), 1);

	/* Good packets before the bad byte are still delivered. */
	ck_assert_int_eq(split("[1] [2]x", 8, 0, 0, &r), -3);
	ck_assert_uint_eq(r.offs[1], 4);
	ck_assert_int_eq(split("[1]]", 4, 1, 0, &r), -2);
}
END_TEST

START_TEST(scan_cap)
{
	struct aemp_scan	 s;
	struct split		 r;

	/* A packet of exactly max bytes is fine, one more is not. */
	ck_assert_int_eq(split("[1,2]", 5, 0, 5, &r), 1);
	ck_assert_int_eq(split("[1,2][3,4]", 10, 0, 5, &r), 2);
	ck_assert_int_eq(split("[1,23]", 6, 0, 5, &r), -1);
	ck_assert_int_eq(split("[1,23]", 6, 1, 5, &r), -1);
	ck_assert_int_eq(split("[\"abcdef\"]", 10, 3, 5, &r), -1);
	ck_assert_int_eq(split("[\"\\\\\"]", 6, 0, 5, &r), -1);
	/* Whitespace is bounded by the cap too. */
	ck_assert_int_eq(split("     [1]", 8, 0, 5, &r), 1);
	ck_assert_int_eq(split("      [1]", 9, 0, 5, &r), -1);
	ck_assert_int_eq(split("      [1]", 9, 2, 5, &r), -1);

	/* Hitting the cap is only an error once a byte too many arrives. */
	ae_scan_init(&s, 5);
	ck_assert_int_eq(ae_scan_feed(&s, "[1,\"\\", 5), 5);
	ck_assert_int_eq(s.done, 0);
	ck_assert_int_eq(ae_scan_feed(&s, "\"", 1), -1);
	ae_scan_reset(&s);
	ck_assert_int_eq(ae_scan_feed(&s, "[1,2", 4), 4);
	ck_assert_int_eq(ae_scan_feed(&s, "]", 1), 1);
	ck_assert_int_eq(s.done, 1);
	ae_scan_free(&s);
}
END_TEST

/* Fill n bytes of string content with a mix of escapes and brackets. */
static void
fill_string(char *p, size_t n)
{
	static const char	 piece[] = "ab\\\"[]{}\\\\\\u005dxyz0123";
	size_t			 i, k = sizeof piece - 1;

	for (i = 0; i + k <= n; i += k)
		memcpy(p + i, piece, k);
	memset(p + i, 'z', n - i);
}

START_TEST(scan_big)
{
	static const char	 item[] = "{\"k\":[1,\"]\\\"\",[[]]]},";
	size_t			 n = 1 << 20, pos, c;
	char			*p;
	struct split		 r;
	struct aemp_scan	 s;
	ssize_t			 k;

	/* One 1 MiB string in 4 KiB reads. */
	p = malloc(n + 3);
	p[0] = '[';
	p[1] = '"';
	fill_string(p + 2, n - 4);
	p[n - 2] = '"';
	p[n - 1] = ']';
	ck_assert_int_eq(split(p, n, 4096, 0, &r), 1);
	ck_assert_uint_eq(r.lens[0], n);
	check_json(p, &r);
	ck_assert_int_eq(split(p, n, 4096, n - 1, &r), -1);

	/* Many small values and deep-ish nesting, odd-sized reads. */
	pos = 0;
	p[pos++] = '[';
	while (pos + sizeof item + 2 < n) {
		memcpy(p + pos, item, sizeof item - 1);
		pos += sizeof item - 1;
	}
	p[pos++] = '0';
	p[pos++] = ']';
	ck_assert_int_eq(split(p, pos, 4093, 0, &r), 1);
	ck_assert_uint_eq(r.lens[0], pos);
	check_json(p, &r);

	/*
	 * A string that is all escapes, then its quote at the very end, in
	 * one feed: quadratic rescanning would make this crawl.
	 */
	p[0] = '[';
	p[1] = '"';
	for (pos = 2; pos + 4 <= n; pos += 2)
		memcpy(p + pos, "\\n", 2);
	p[pos++] = '"';
	p[pos++] = ']';
	for (c = 0; c < 2; c++) {
		ae_scan_init(&s, 0);
		k = ae_scan_feed(&s, p, c ? pos : 1);
		if (c == 0)
			k += ae_scan_feed(&s, p + 1, pos - 1);
		ck_assert_int_eq(k, (ssize_t)pos);
		ck_assert_int_eq(s.done, 1);
		ae_scan_free(&s);
	}
	free(p);
}
END_TEST

/* --- the send path's own formatting (codec.c) ------------------------------ */

/*
 * ae_fast_int() counts its digits from the bits before it writes them in
 * place: each side of every power of ten, and the ends of the range,
 * come out as printf writes them, with the length returned.
 */
/*
 * ae_plain_span() stops at the first byte that is not plain, whatever
 * its value, wherever it is (in a word, in the tail, in the overlapping
 * last bytes) and whatever follows it.
 */
START_TEST(plain_span_every_byte_everywhere)
{
	/* what may follow the first byte that is not plain */
	static const unsigned char after[] = { 'a', 0x00, 0x1f, '"', '\\',
	    0x7f, 0x80, 0xff };
	char buf[80];
	size_t len, pos, a, want;
	unsigned c;

	for (len = 1; len <= 72; len++)
		for (pos = 0; pos < len; pos++)
			for (c = 0; c < 256; c++)
				for (a = 0; a < sizeof after; a++) {
					/* every byte; the followers after some */
					if (a > 0 && memchr(after, (int)c,
					    sizeof after) == NULL)
						break;
					memset(buf, 'a', sizeof buf);
					buf[pos] = (char)c;
					if (pos + 1 < len)
						buf[pos + 1] = (char)after[a];
					for (want = 0; want < len &&
					    plain_byte((unsigned char)buf[want]);
					    want++)
						;
					ck_assert_uint_eq(ae_plain_span(buf, len),
					    want);
				}
}
END_TEST

/*
 * Integers in a packet, read by ae_fast_packet() (into a new message and
 * into a spare one): every width, at the packet's end or not, as near its
 * start as a value can be, with a sign; what is no JSON integer or has more than 18 digits is left to the
 * general path (0), the rest reads as jansson reads it.
 */
static void
check_fast_int(const char *num, int tail, json_t **spare)
{
	char pkt[96], name[FAST_NAME];
	const char *tag;
	size_t taglen, len, got, digits;
	json_t *msg = NULL, *want;
	int ok;

	/* tail 2: the shortest start a value has, no tag */
	len = tail == 2 ? (size_t)snprintf(pkt, sizeof pkt, "[\"\",%s]", num) :
	    (size_t)snprintf(pkt, sizeof pkt, "[\"p\",\"t\",%s%s]", num,
	    tail ? ",1" : "");
	digits = strspn(num + (num[0] == '-'), "0123456789");
	ok = digits > 0 && digits <= 18 && num[(num[0] == '-') + digits] ==
	    '\0' && (digits == 1 || num[num[0] == '-'] != '0');
	got = ae_fast_packet(pkt, len, 0, name, &tag, &taglen, &msg, spare);
	if (!ok) {
		ck_assert_msg(got == 0, "%s taken", pkt);
		return;
	}
	ck_assert_msg(got == len, "%s: %zu", pkt, got);
	want = json_loadb(pkt, len, 0, NULL);
	ck_assert_ptr_nonnull(want);
	json_array_remove(want, 0);
	if (tail != 2)
		json_array_remove(want, 0);
	ck_assert_msg(json_equal(msg, want), "%s", pkt);
	json_decref(want);
	if (spare != NULL)
		ae_fast_packet_done(spare, msg);
	else
		json_decref(msg);
}

START_TEST(fast_packet_integers)
{
	static const char *odd[] = { "0", "-0", "-", "00", "01", "-01", "1.5",
	    "1e3", "12a", "+1", "--1", "0x1", "" };
	char num[32];
	json_t *spare = NULL;
	int width, sign, tail, d, i;

	for (width = 1; width <= 20; width++)
		for (d = 0; d < 10; d++)
			for (sign = 0; sign <= 1; sign++)
				for (tail = 0; tail <= 2; tail++) {
					char *p = num;
					if (sign)
						*p++ = '-';
					for (i = 0; i < width; i++)
						*p++ = (char)('1' + (d + i * 7) % 9);
					if (d == 9)
						p[-1] = '0';	/* ends in 0 */
					*p = '\0';
					check_fast_int(num, tail, NULL);
					check_fast_int(num, tail, &spare);
				}
	for (i = 0; i < (int)(sizeof odd / sizeof *odd); i++)
		for (tail = 0; tail <= 2; tail++) {
			check_fast_int(odd[i], tail, NULL);
			check_fast_int(odd[i], tail, &spare);
		}
	json_decref(spare);
}
END_TEST

START_TEST(fast_int_every_width)
{
	json_int_t p = 1, v;
	char mine[FAST_INT + 1], want[32];
	size_t n;
	int e, d, s;

	for (e = 0; e <= 18; e++, p = e <= 18 ? p * 10 : p)
		for (d = -1; d <= 1; d++)
			for (s = -1; s <= 1; s += 2) {
				v = s * (p + d);
				n = ae_fast_int(v, mine);
				mine[n] = '\0';
				snprintf(want, sizeof want, "%lld", (long long)v);
				ck_assert_str_eq(mine, want);
				ck_assert_uint_eq(n, strlen(want));
			}
	for (v = -12; v <= 12; v++) {
		n = ae_fast_int(v, mine);
		mine[n] = '\0';
		snprintf(want, sizeof want, "%lld", (long long)v);
		ck_assert_str_eq(mine, want);
	}
	n = ae_fast_int(INT64_MAX, mine);
	mine[n] = '\0';
	ck_assert_str_eq(mine, "9223372036854775807");
	n = ae_fast_int(INT64_MIN, mine);
	mine[n] = '\0';
	ck_assert_str_eq(mine, "-9223372036854775808");
}
END_TEST

/*
 * ae_fast_dump() writes an array's strings and integers itself: what
 * jansson writes, in every room from none to enough (too little is -1,
 * never a cut packet), escapes and nesting handed to jansson.
 */
START_TEST(fast_dump_elements)
{
	const char *docs[] = {
		"[\"test\",1,\"payload\"]",
		"[\"a\\\"b\",-7,[1,\"x\",[]],null,true,false,\"\"]",
		"[9223372036854775807,-9223372036854775808,\"caf\\u00e9\"]",
		"[[[[\"deep\",10]]],{\"k\":1},1.5]",
	};
	char mine[256];
	size_t k, room, wn;
	ssize_t got;

	for (k = 0; k < sizeof docs / sizeof *docs; k++) {
		json_t *v = json_loads(docs[k], 0, NULL);
		char *want;
		ck_assert_ptr_nonnull(v);
		want = json_dumps(v, JSON_COMPACT);
		wn = strlen(want);
		for (room = 0; room <= wn + FAST_INT; room++) {
			got = ae_fast_dump(v, mine, room, 0);
			if (room < wn) {
				ck_assert_int_eq(got, -1);
				continue;
			}
			ck_assert_int_eq(got, (ssize_t)wn);
			ck_assert_int_eq(memcmp(mine, want, wn), 0);
		}
		free(want);
		json_decref(v);
	}
}
END_TEST

/* --- the data phase's byte queue (bytes.c) --------------------------------- */

/* Bytes come out in the order they went in, across moves and regrowth */
START_TEST(bytes_fifo)
{
	struct bytes a = { 0 }, b = { 0 };
	char buf[1000];
	size_t i, got = 0;

	for (i = 0; i < sizeof buf; i++)
		buf[i] = (char)(i * 7);
	for (i = 0; i < 100; i++) {
		ae_bytes_add(&a, buf + (i * 10) % 990, 10);
		ae_bytes_consume(&a, 3);	/* start moves: compaction keeps order */
		got += 7;	/* 10 in, 3 out */
		ck_assert_int_eq(a.len, (i + 1) * 7);
	}
	ck_assert_int_eq(got, a.len);
	ae_bytes_add(&b, "xy", 2);
	ae_bytes_move(&b, &a);	/* appended: b was not empty */
	ck_assert_int_eq(a.len, 0);
	ck_assert_int_eq(b.len, 702);
	ck_assert_int_eq(memcmp(bytes_ptr(&b), "xy", 2), 0);
	/* 300 bytes consumed off the front of the 1000 added */
	ck_assert_int_eq(bytes_ptr(&b)[2], buf[300]);
	ck_assert_int_eq(bytes_ptr(&b)[701], buf[9]);
	ae_bytes_move(&a, &b);	/* into an empty one: the blocks swap */
	ck_assert_int_eq(a.len, 702);
	ck_assert_int_eq(b.len, 0);
	ae_bytes_free(&a);
	ae_bytes_free(&b);
}
END_TEST

/* A big block is not kept for a few bytes or for none */
START_TEST(bytes_give_back_big_blocks)
{
	struct bytes q = { 0 };
	char *p = ae_bytes_reserve(&q, 1 << 20);
	size_t i;

	for (i = 0; i < 1 << 20; i++)
		p[i] = (char)i;
	ae_bytes_commit(&q, 1 << 20);
	ck_assert_uint_ge(q.cap, 1 << 20);
	ae_bytes_consume(&q, (1 << 20) - 100);
	ck_assert_uint_le(q.cap, 128 * 1024);
	ck_assert_int_eq(q.len, 100);
	ck_assert_int_eq(bytes_ptr(&q)[0], (char)((1 << 20) - 100));
	ck_assert_int_eq(bytes_ptr(&q)[99], (char)((1 << 20) - 1));
	ae_bytes_consume(&q, 100);
	ck_assert_uint_eq(q.cap, 0);
	ck_assert_ptr_null(q.data);
	/* a small block stays for the next packets */
	ae_bytes_add(&q, "[]", 2);
	ae_bytes_consume(&q, 2);
	ck_assert_ptr_nonnull(q.data);
	ae_bytes_free(&q);
}
END_TEST

static Suite *
wire_suite(void)
{
	Suite	*s = suite_create("wire");
	TCase	*tc;

	tc = tcase_create("greeting");
	tcase_add_loop_test(tc, greeting_vectors, 0,
	    sizeof vectors / sizeof vectors[0]);
	tcase_add_test(tc, greeting_escapes);
	tcase_add_test(tc, greeting_format_refuses);
	tcase_add_test(tc, greeting_fields);
	tcase_add_test(tc, greeting_garbage);
	tcase_add_test(tc, greeting_long);
	tcase_add_test(tc, authline);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostport");
	tcase_add_test(tc, hostport);
	tcase_add_test(tc, hostport_format);
	tcase_add_test(tc, hex_base64);
	suite_add_tcase(s, tc);

	tc = tcase_create("scan");
	tcase_add_test(tc, scan_one);
	tcase_add_test(tc, scan_many);
	tcase_add_test(tc, scan_every_boundary);
	tcase_add_test(tc, scan_split_once);
	tcase_add_test(tc, scan_whitespace);
	tcase_add_test(tc, scan_strings);
	tcase_add_test(tc, scan_nested);
	tcase_add_test(tc, scan_errors);
	tcase_add_test(tc, scan_cap);
	tcase_add_test(tc, scan_big);
	suite_add_tcase(s, tc);

	tc = tcase_create("codec");
	tcase_add_test(tc, plain_span_every_byte_everywhere);
	tcase_add_test(tc, fast_int_every_width);
	tcase_add_test(tc, fast_packet_integers);
	tcase_add_test(tc, fast_dump_elements);
	suite_add_tcase(s, tc);

	tc = tcase_create("bytes");
	tcase_add_test(tc, bytes_fifo);
	tcase_add_test(tc, bytes_give_back_big_blocks);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(wire_suite)

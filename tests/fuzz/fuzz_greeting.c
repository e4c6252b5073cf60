/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fuzz_greeting.c: libFuzzer target for greeting line 1 and auth line
 * parsing, checking that whatever parses also survives a format round trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "names.h"
#include "store.h"
#include "wire.h"

static int
same_list(char **a, char **b)
{
	size_t	i;

	for (i = 0; a[i] != NULL && b[i] != NULL; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return a[i] == NULL && b[i] == NULL;
}

static int
same_opt(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
has_crlf(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

static void
check_list(char **l)
{
	size_t	i;

	for (i = 0; l[i] != NULL; i++)
		if (l[i][0] == '\0' || strpbrk(l[i], ",;") != NULL)
			abort();
}

/*
 * The node ID check of the greeting (transport.c): a valid ID is shown as
 * it is; whatever the ID, what is shown is printable.
 */
static void
visible(const char *id)
{
	char *vis = ae_text_visible(id, strlen(id), 8192);
	const char *p, *end = vis + strlen(vis);
	size_t len;

	if (ae_nodeid_valid(id) && strcmp(vis, id) != 0)
		abort();
	for (p = vis; p < end; p += len)
		if ((len = ae_utf8_printable_len(p, end)) == 0)
			abort();
	free(vis);
}

static void
greeting(const uint8_t *data, size_t size)
{
	struct aemp_greeting	 g, h;
	const char		*kv[7], *why;
	char			*line;
	size_t			 n = 0, i;
	int			 crlf;

	if (ae_greeting_parse((const char *)data, size, &g, &why) != 0) {
		if (why == NULL || g.nodeid != NULL || g.auths != NULL)
			abort();
		return;
	}
	if (why != NULL || g.nodeid == NULL || g.nodeid[0] == '\0' ||
	    strchr(g.nodeid, ';') != NULL)
		abort();
	check_list(g.auths);
	check_list(g.framings);
	visible(g.nodeid);

	if (g.provider != NULL) {
		kv[n++] = "provider";
		kv[n++] = g.provider;
	}
	if (g.peeraddr != NULL) {
		kv[n++] = "peeraddr";
		kv[n++] = g.peeraddr;
	}
	if (g.tls != NULL) {
		kv[n++] = "tls";
		kv[n++] = g.tls;
	}
	kv[n] = NULL;
	crlf = has_crlf(g.nodeid) || has_crlf(g.provider) ||
	    has_crlf(g.peeraddr) || has_crlf(g.tls);
	for (i = 0; g.auths[i] != NULL; i++)
		crlf |= has_crlf(g.auths[i]);
	for (i = 0; g.framings[i] != NULL; i++)
		crlf |= has_crlf(g.framings[i]);

	line = ae_greeting_format(g.nodeid, (const char *const *)g.auths,
	    (const char *const *)g.framings, kv);
	if ((line == NULL) != crlf)
		abort();
	if (line != NULL) {
		if (ae_greeting_parse(line, strlen(line), &h, &why) != 0)
			abort();
		if (h.version != 1 || strcmp(g.nodeid, h.nodeid) != 0 ||
		    !same_list(g.auths, h.auths) ||
		    !same_list(g.framings, h.framings) ||
		    !same_opt(g.provider, h.provider) ||
		    !same_opt(g.peeraddr, h.peeraddr) ||
		    !same_opt(g.tls, h.tls))
			abort();
		ae_greeting_clear(&h);
		free(line);
	}
	ae_greeting_clear(&g);
}

static void
authline(const uint8_t *data, size_t size)
{
	struct aemp_authline	 a;
	const char		*why;
	size_t			 m, t, f;

	if (ae_authline_parse((const char *)data, size, &a, &why) != 0) {
		if (why == NULL || a.method != NULL)
			abort();
		return;
	}
	/* Nothing may be lost: the fields and two ';' are the whole line. */
	m = strlen(a.method);
	t = strlen(a.token);
	f = strlen(a.framing);
	if (size > 0 && data[size - 1] == '\r')
		size--;
	if (m == 0 || f == 0 || m + t + f + 2 != size ||
	    memcmp(data, a.method, m) != 0 || data[m] != ';' ||
	    memcmp(data + m + 1, a.token, t) != 0 || data[m + 1 + t] != ';' ||
	    memcmp(data + m + t + 2, a.framing, f) != 0)
		abort();
	ae_authline_clear(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	greeting(data, size);
	authline(data, size);
	return 0;
}

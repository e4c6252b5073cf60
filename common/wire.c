/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * wire.c: greeting and auth lines, host:port strings and the incremental
 * JSON packet splitter of the AEMP transport, as pure functions on memory.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/*
 * jansson refuses containers nested deeper than this (JSON_PARSER_MAX_DEPTH
 * in its load.c), so a deeper packet can never be delivered: failing early
 * also bounds the splitter's stack.
 */
#define SCAN_MAX_DEPTH	2048

enum {
	SCAN_IDLE,		/* whitespace before a packet's '[' */
	SCAN_VALUE,		/* inside a packet, outside strings */
	SCAN_STRING,		/* inside a string */
	SCAN_ESCAPE,		/* the byte after a backslash in a string */
	SCAN_ERROR		/* sticky: the stream is broken */
};

/*
 * Byte classes outside strings; everything else is part of a scalar. NUL
 * is refused because jansson 2.14 silently drops a NUL that follows a
 * number or literal ("[2\0]" loads as [2]); inside strings it rejects NUL.
 */
enum {
	CL_OTHER = 0,
	CL_QUOTE,
	CL_OPEN,
	CL_CLOSE,
	CL_COMMA,	/* counted: see max_values */
	CL_BAD
};

static const unsigned char scan_class[256] = {
	['\0'] = CL_BAD,
	['"'] = CL_QUOTE,
	['['] = CL_OPEN, ['{'] = CL_OPEN,
	[']'] = CL_CLOSE, ['}'] = CL_CLOSE,
	[','] = CL_COMMA
};

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A growable string for the formatters; err latches allocation failure. */
struct wbuf {
	char	*p;
	size_t	 len, cap;
	int	 err;
};

static void
wbuf_add(struct wbuf *b, const char *s, size_t n)
{
	size_t	 cap;
	char	*p;

	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 128;
		while (b->len + n + 1 > cap)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->err = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
wbuf_str(struct wbuf *b, const char *s)
{
	wbuf_add(b, s, strlen(s));
}

static char *
wbuf_finish(struct wbuf *b)
{
	if (b->err || b->p == NULL) {
		free(b->p);
		return NULL;
	}
	return b->p;
}

static char *
dup_n(const char *s, size_t n)
{
	char	*p;

	if ((p = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void
free_list(char **l)
{
	size_t	i;

	if (l == NULL)
		return;
	for (i = 0; l[i] != NULL; i++)
		free(l[i]);
	free(l);
}

/*
 * Split a comma list into a NULL-terminated array. Empty items are dropped:
 * they can never name a method, and "a,,b" from a sloppy peer should still
 * offer a and b.
 */
static char **
split_list(const char *s, size_t n)
{
	const char	*end = s + n, *e;
	char		**l;
	size_t		 items = 1, i = 0, k;

	for (k = 0; k < n; k++)
		if (s[k] == ',')
			items++;
	if ((l = calloc(items + 1, sizeof *l)) == NULL)
		return NULL;
	while (s < end) {
		if ((e = memchr(s, ',', end - s)) == NULL)
			e = end;
		if (e > s && (l[i++] = dup_n(s, e - s)) == NULL) {
			free_list(l);
			return NULL;
		}
		s = e + 1;
	}
	return l;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Undo the greeting value escapes. Only %3b and %25 are defined (AEMP.md
 * 3.1); any other '%' is kept as it is rather than guessed at.
 */
static char *
unescape(const char *s, size_t n)
{
	char	*out, *o;
	size_t	 i;
	int	 c;

	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && n - i >= 3 && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			if (c == ';' || c == '%') {
				*o++ = c;
				i += 2;
				continue;
			}
		}
		*o++ = s[i];
	}
	*o = '\0';
	return out;
}

/* Replace *slot with the unescaped value: a repeated key wins, as in Perl. */
static int
set_value(char **slot, const char *s, size_t n)
{
	char	*v;

	if ((v = unescape(s, n)) == NULL)
		return -1;
	free(*slot);
	*slot = v;
	return 0;
}

static int
parse_version(const char *s, size_t n, int *out)
{
	long	 v = 0;
	size_t	 i = 0;
	int	 neg = 0;

	if (n > 0 && s[0] == '-') {
		neg = 1;
		i++;
	}
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		/* Saturate: a huge version is a mismatch, not garbage. */
		if (v < INT_MAX)
			v = v * 10 + (s[i] - '0');
	}
	if (v > INT_MAX)
		v = INT_MAX;
	*out = neg ? (int)-v : (int)v;
	return 0;
}

/* "-WORD" behind "aemp": the reference accepts aemp-\w+ (11.3). */
static int
protocol_suffix(const char *s, size_t n)
{
	size_t	 i;

	if (n < 2 || s[0] != '-')
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

int
ae_greeting_parse(const char *line, size_t len, struct aemp_greeting *g,
    const char **why)
{
	const char	*f[5], *p, *end, *e, *eq;
	size_t		 fl[5], i, kl;
	const char	*dummy;

	if (why == NULL)
		why = &dummy;
	memset(g, 0, sizeof *g);
	*why = "unparsable greeting";
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0 || memchr(line, '\0', len) != NULL)
		return -1;

	p = line;
	end = line + len;
	for (i = 0; i < 5; i++) {
		if (p == NULL)
			return -1;
		e = memchr(p, ';', end - p);
		f[i] = p;
		fl[i] = (e != NULL ? e : end) - p;
		p = e != NULL ? e + 1 : NULL;
	}
	if (fl[0] < 4 || memcmp(f[0], "aemp", 4) != 0 ||
	    (fl[0] > 4 && !protocol_suffix(f[0] + 4, fl[0] - 4)))
		return -1;
	if (parse_version(f[1], fl[1], &g->version) != 0 || fl[2] == 0)
		return -1;

	*why = "out of memory";
	if ((g->protocol = dup_n(f[0], fl[0])) == NULL ||
	    (g->nodeid = dup_n(f[2], fl[2])) == NULL ||
	    (g->auths = split_list(f[3], fl[3])) == NULL ||
	    (g->framings = split_list(f[4], fl[4])) == NULL)
		goto fail;

	while (p != NULL) {
		if ((e = memchr(p, ';', end - p)) == NULL)
			e = end;
		if ((eq = memchr(p, '=', e - p)) != NULL) {
			kl = eq - p;
			if (kl == 8 && memcmp(p, "provider", 8) == 0) {
				if (set_value(&g->provider, eq + 1,
				    e - eq - 1) != 0)
					goto fail;
			} else if (kl == 8 && memcmp(p, "peeraddr", 8) == 0) {
				if (set_value(&g->peeraddr, eq + 1,
				    e - eq - 1) != 0)
					goto fail;
			} else if (kl == 11 &&
			    memcmp(p, "dataconn_id", 11) == 0) {
				if (set_value(&g->dataconn_id, eq + 1,
				    e - eq - 1) != 0)
					goto fail;
			} else if (kl == 3 && memcmp(p, "tls", 3) == 0) {
				if (set_value(&g->tls, eq + 1, e - eq - 1) != 0)
					goto fail;
			}
		}
		p = e < end ? e + 1 : NULL;
	}
	*why = NULL;
	return 0;

fail:
	ae_greeting_clear(g);
	return -1;
}

void
ae_greeting_clear(struct aemp_greeting *g)
{
	free(g->nodeid);
	free_list(g->auths);
	free_list(g->framings);
	free(g->provider);
	free(g->peeraddr);
	free(g->tls);
	free(g->protocol);
	free(g->dataconn_id);
	memset(g, 0, sizeof *g);
}

/* A line field must not carry the line end or the separators around it. */
static int
field_ok(const char *s, const char *bad)
{
	return s != NULL && *s != '\0' && strpbrk(s, bad) == NULL;
}

static int
add_list(struct wbuf *b, const char *const *l)
{
	size_t	i;

	wbuf_add(b, ";", 1);
	for (i = 0; l != NULL && l[i] != NULL; i++) {
		if (!field_ok(l[i], ";,\r\n"))
			return -1;
		if (i > 0)
			wbuf_add(b, ",", 1);
		wbuf_str(b, l[i]);
	}
	return 0;
}

char *
ae_greeting_format(const char *nodeid, const char *const *auths,
    const char *const *framings, const char *const *kv)
{
	struct wbuf	 b = { NULL, 0, 0, 0 };
	const char	*v;
	size_t		 i;

	if (!field_ok(nodeid, ";\r\n"))
		return NULL;
	wbuf_str(&b, "aemp;1;");
	wbuf_str(&b, nodeid);
	if (add_list(&b, auths) != 0 || add_list(&b, framings) != 0)
		goto fail;
	for (i = 0; kv != NULL && kv[i] != NULL; i += 2) {
		if ((v = kv[i + 1]) == NULL || !field_ok(kv[i], ";=\r\n") ||
		    strpbrk(v, "\r\n") != NULL)
			goto fail;
		wbuf_add(&b, ";", 1);
		wbuf_str(&b, kv[i]);
		wbuf_add(&b, "=", 1);
		for (; *v != '\0'; v++) {
			if (*v == ';')
				wbuf_add(&b, "%3b", 3);
			else if (*v == '%')
				wbuf_add(&b, "%25", 3);
			else
				wbuf_add(&b, v, 1);
		}
	}
	return wbuf_finish(&b);

fail:
	free(b.p);
	return NULL;
}

int
ae_authline_parse(const char *line, size_t len, struct aemp_authline *a,
    const char **why)
{
	const char	*s1, *s2, *end;
	const char	*dummy;

	if (why == NULL)
		why = &dummy;
	memset(a, 0, sizeof *a);
	*why = "unparsable auth line";
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0 || memchr(line, '\0', len) != NULL)
		return -1;
	end = line + len;
	if ((s1 = memchr(line, ';', len)) == NULL ||
	    (s2 = memchr(s1 + 1, ';', end - s1 - 1)) == NULL ||
	    memchr(s2 + 1, ';', end - s2 - 1) != NULL)
		return -1;
	/* The token may be empty (tls_anon); method and framing may not. */
	if (s1 == line || s2 + 1 == end)
		return -1;
	if ((a->method = dup_n(line, s1 - line)) == NULL ||
	    (a->token = dup_n(s1 + 1, s2 - s1 - 1)) == NULL ||
	    (a->framing = dup_n(s2 + 1, end - s2 - 1)) == NULL) {
		ae_authline_clear(a);
		*why = "out of memory";
		return -1;
	}
	*why = NULL;
	return 0;
}

void
ae_authline_clear(struct aemp_authline *a)
{
	free(a->method);
	free(a->token);
	free(a->framing);
	memset(a, 0, sizeof *a);
}

/*
 * Port: "*" or 0..65535 in decimal, returned in canonical form. 0, like
 * "*", asks the kernel for a port when binding (the reference accepts
 * "127.0.0.1:0"); callers that connect refuse both.
 */
static char *
parse_port(const char *s, size_t n)
{
	char	 buf[24];
	long	 v = 0;
	size_t	 i;

	if (n == 1 && s[0] == '*')
		return strdup("*");
	if (n == 0)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return NULL;
		v = v * 10 + (s[i] - '0');
		if (v > 65535)
			return NULL;
	}
	snprintf(buf, sizeof buf, "%ld", v);
	return strdup(buf);
}

/* An IPv6 literal, optionally with a %scope suffix (fe80::1%eth0). */
static int
is_ipv6(const char *s, size_t n)
{
	struct in6_addr	 a;
	char		 buf[INET6_ADDRSTRLEN + 1];
	const char	*pct;

	if ((pct = memchr(s, '%', n)) != NULL) {
		if (pct + 1 == s + n)
			return 0;
		n = pct - s;
	}
	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

static int
all_digits(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

int
ae_hostport_parse(const char *s, char **host, char **port)
{
	const char	*hs, *ps = NULL, *end, *c, *rb;
	size_t		 hl, pl = 0, n, colons = 0, i;

	*host = *port = NULL;
	if (s == NULL || (n = strlen(s)) == 0)
		return -1;
	end = s + n;
	/* Blanks and control bytes are never part of an address. */
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return -1;
		if (s[i] == ':')
			colons++;
	}

	if (s[0] == '[') {
		if ((rb = memchr(s, ']', n)) == NULL)
			return -1;
		hs = s + 1;
		hl = rb - hs;
		if (hl == 0 || memchr(hs, '[', hl) != NULL)
			return -1;
		/* Brackets may hold a name, but a ':' means IPv6. */
		if (memchr(hs, ':', hl) != NULL && !is_ipv6(hs, hl))
			return -1;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return -1;
			ps = rb + 2;
			pl = end - ps;
		}
	} else if (strpbrk(s, "[]") != NULL) {
		return -1;
	} else if (colons == 0) {
		if (all_digits(s, n)) {
			hs = NULL;
			hl = 0;
			ps = s;
			pl = n;
		} else {
			hs = s;
			hl = n;
		}
	} else if (colons == 1) {
		c = strchr(s, ':');
		hs = s;
		hl = c - s;
		if (hl == 0)
			return -1;
		ps = c + 1;
		pl = end - ps;
	} else {
		/* A bare IPv6 literal cannot carry a port: it is all host. */
		if (!is_ipv6(s, n))
			return -1;
		hs = s;
		hl = n;
	}

	if (ps != NULL && (*port = parse_port(ps, pl)) == NULL)
		return -1;
	if (hs != NULL && (*host = dup_n(hs, hl)) == NULL) {
		free(*port);
		*port = NULL;
		return -1;
	}
	return 0;
}

int
ae_bind_valid(const char *s)
{
	char *host, *port;
	int rc = ae_hostport_parse(s, &host, &port);

	free(host);
	free(port);
	return rc == 0;
}

int
ae_hostport_seed_valid(const char *s)
{
	char *host, *port;
	int ok = ae_hostport_parse(s, &host, &port) == 0 &&
	    aemp_port_connectable(port);

	free(host);
	free(port);
	return ok;
}

char *
ae_hostport_format(const char *host, int port)
{
	char	*s;
	int	 r;

	if (host == NULL)
		return NULL;
	if (strchr(host, ':') != NULL)
		r = asprintf(&s, "[%s]:%d", host, port);
	else
		r = asprintf(&s, "%s:%d", host, port);
	return r < 0 ? NULL : s;
}

void
ae_scan_init(struct aemp_scan *s, size_t max)
{
	memset(s, 0, sizeof *s);
	s->max = max;
}

void
ae_scan_reset(struct aemp_scan *s)
{
	s->skip = s->len = 0;
	s->values = 0;
	s->too_many = 0;
	s->done = 0;
	s->state = SCAN_IDLE;
	s->depth = 0;
	s->stack_len = 0;
	s->uescape = 0;
}

void
ae_scan_free(struct aemp_scan *s)
{
	free(s->stack);
	s->stack = NULL;
	s->stack_cap = 0;
	ae_scan_reset(s);
}

static int
scan_push(struct aemp_scan *s, unsigned depth, unsigned char c)
{
	unsigned char	*p;
	size_t		 cap;

	if (depth >= SCAN_MAX_DEPTH)
		return -1;
	if (depth == s->stack_cap) {
		cap = s->stack_cap ? s->stack_cap * 2 : 32;
		if (cap > SCAN_MAX_DEPTH)
			cap = SCAN_MAX_DEPTH;
		if ((p = realloc(s->stack, cap)) == NULL)
			return -1;
		s->stack = p;
		s->stack_cap = cap;
	}
	s->stack[depth] = c;
	return 0;
}

/*
 * Skip string content from p up to the closing quote or lim. Returns the
 * position of the closing quote, or lim. *q caches the first quote at or
 * after the last search (lim if none; NULL before any), still valid while
 * *q >= p because there is no quote between: so a string full of escapes
 * followed by a distant quote does not make memchr() rescan the same bytes,
 * and each byte is looked at by each of the two memchr()s at most once.
 */
static const unsigned char *
scan_string(const unsigned char *p, const unsigned char *lim,
    const unsigned char **q, int *escape)
{
	const unsigned char	*b;

	for (;;) {
		if (*q == NULL || *q < p) {
			*q = memchr(p, '"', lim - p);
			if (*q == NULL)
				*q = lim;
		}
		if ((b = memchr(p, '\\', *q - p)) == NULL)
			return *q;
		if (b + 1 >= lim) {
			*escape = 1;
			return lim;
		}
		p = b + 2;
	}
}

ssize_t
ae_scan_feed(struct aemp_scan *s, const char *buf, size_t len)
{
	const unsigned char	*start = (const unsigned char *)buf;
	const unsigned char	*p = start, *end = start + len, *lim, *pkt;
	const unsigned char	*q = NULL;
	unsigned		 depth = s->depth;
	unsigned char		 c;
	int			 state = s->state, escape;

	if (state == SCAN_ERROR)
		return -1;
	if (s->done || len == 0)
		return 0;

	if (state == SCAN_IDLE) {
		while (p < end && is_ws(*p))
			p++;
		s->skip += p - start;
		if (s->max != 0 && s->skip > s->max)
			goto error;
		if (p == end)
			return len;
		if (*p++ != '[')
			goto error;
		if (scan_push(s, 0, '[') != 0)
			goto error;
		depth = 1;
		s->len = 1;
		state = SCAN_VALUE;
	}

	/* Never look past the byte that would make the packet too long. */
	pkt = p;
	lim = end;
	if (s->max != 0 && (size_t)(end - p) > s->max - s->len)
		lim = p + (s->max - s->len);

	while (p < lim) {
		switch (state) {
		case SCAN_ESCAPE:
			p++;
			state = SCAN_STRING;
			/* FALLTHROUGH */
		case SCAN_STRING:
			escape = 0;
			p = scan_string(p, lim, &q, &escape);
			if (escape) {
				state = SCAN_ESCAPE;
				break;
			}
			if (p == lim)
				break;
			p++;
			state = SCAN_VALUE;
			break;
		case SCAN_VALUE:
			/* Numbers, literals, ',' and ':' need no state. */
			while (scan_class[*p] == CL_OTHER && ++p < lim)
				;
			if (p == lim)
				break;
			c = *p++;
			switch (scan_class[c]) {
			case CL_QUOTE:
				state = SCAN_STRING;
				break;
			case CL_OPEN:
				if (scan_push(s, depth, c) != 0)
					goto error;
				depth++;
				/* FALLTHROUGH */
			case CL_COMMA:
				if (++s->values > s->max_values &&
				    s->max_values != 0) {
					s->too_many = 1;
					goto error;
				}
				break;
			case CL_CLOSE:
				if (s->stack[--depth] != (c == ']' ? '[' : '{'))
					goto error;
				if (depth == 0) {
					s->len += p - pkt;
					s->depth = 0;
					s->stack_len = 0;
					s->state = SCAN_IDLE;
					s->done = 1;
					return p - start;
				}
				break;
			case CL_BAD:
				goto error;
			}
			break;
		}
	}
	s->len += p - pkt;
	if (p < end)
		goto error;	/* the cap was reached with bytes to spare */
	s->depth = depth;
	s->stack_len = depth;
	s->state = state;
	return len;

error:
	s->state = SCAN_ERROR;
	return -1;
}

void
ae_hex(const unsigned char *in, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

char *
ae_base64(const unsigned char *in, size_t n)
{
	static const char	 tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char			*out, *o;
	size_t			 i;
	unsigned long		 v;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 2)
		return NULL;
	if ((out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned long)in[i] << 16 | in[i + 1] << 8 | in[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (i < n) {
		v = (unsigned long)in[i] << 16;
		if (i + 1 < n)
			v |= in[i + 1] << 8;
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

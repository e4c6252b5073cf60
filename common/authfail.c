/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * authfail.c: online guessing of the shared secret is slowed down per
 * source address. An address that failed to authenticate more than
 * AUTHFAIL_GRACE times in a row waits before it gets our greeting (and so
 * before it can try again), twice as long after each further failure, up
 * to AUTHFAIL_MAX seconds; a success, or AUTHFAIL_FORGET seconds without
 * a failure, clears it. On the wire that is only a slow peer, so every
 * implementation stays compatible. The table has AUTHFAIL_SLOTS entries
 * (the least recently failing one makes room), so its memory is bounded
 * whatever a peer does; IPv6 addresses count by their /64, which one
 * host can change at will.
 *
 * Every failure is logged at level 5 (seen by default by aempd and by
 * nodes), through the log limiter: the first ones of an address at once,
 * then one line a LOGLIM_INTERVAL with the count.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "stream.h"

#define AUTHFAIL_GRACE	3	/* free failures: typos, restarts */
#define AUTHFAIL_FIRST	0.1	/* seconds, after the grace */
#define AUTHFAIL_MAX	5.0
#define AUTHFAIL_FORGET	120.0
#define AUTHFAIL_LEVEL	5

struct authfail {
	unsigned char	 key[8];	/* IPv4 address, or IPv6 /64 */
	unsigned char	 keylen;	/* 4 or 8 */
	unsigned	 failures;	/* in a row */
	double		 last;
};

/* The key of sa's address and its text; 0 for what has none. */
static size_t
addr_key(const struct sockaddr *sa, unsigned char key[8], char *text,
    size_t size)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		memcpy(key, &sin->sin_addr, 4);
		inet_ntop(AF_INET, &sin->sin_addr, text, (socklen_t)size);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(key, sin6->sin6_addr.s6_addr + 12, 4);
			inet_ntop(AF_INET, key, text, (socklen_t)size);
			return 4;
		}
		struct in6_addr net;
		memset(&net, 0, sizeof net);
		memcpy(net.s6_addr, sin6->sin6_addr.s6_addr, 8);
		memcpy(key, net.s6_addr, 8);
		/* the log, too, counts by /64 */
		inet_ntop(AF_INET6, &net, text, (socklen_t)size - 3);
		strcat(text, "/64");
		return 8;
	}
	*text = '\0';
	return 0;
}

static struct authfail *
find(aemp_node *n, const unsigned char *key, size_t keylen)
{
	size_t i;

	for (i = 0; i < n->nauthfail; i++)
		if (n->authfail[i].keylen == keylen &&
		    memcmp(n->authfail[i].key, key, keylen) == 0)
			return &n->authfail[i];
	return NULL;
}

static void
drop(aemp_node *n, struct authfail *e)
{
	*e = n->authfail[--n->nauthfail];
}

double
ae_authfail_delay(aemp_node *n, const struct sockaddr *sa)
{
	unsigned char key[8];
	char text[INET6_ADDRSTRLEN];
	size_t keylen = addr_key(sa, key, text, sizeof text);
	struct authfail *e;
	double delay;
	unsigned i;

	if (keylen == 0 || (e = find(n, key, keylen)) == NULL)
		return 0;
	if (ae_node_now() - e->last > AUTHFAIL_FORGET) {
		drop(n, e);
		return 0;
	}
	if (e->failures <= AUTHFAIL_GRACE)
		return 0;
	delay = AUTHFAIL_FIRST;
	for (i = AUTHFAIL_GRACE + 1; i < e->failures && delay < AUTHFAIL_MAX;
	    i++)
		delay *= 2;
	return delay < AUTHFAIL_MAX ? delay : AUTHFAIL_MAX;
}

void
ae_authfail_record(aemp_node *n, const struct sockaddr *sa, const char *peer,
    const char *why)
{
	unsigned char key[8];
	char text[INET6_ADDRSTRLEN] = "";
	size_t keylen = 0, i, oldest;
	struct authfail *e;

	if (sa != NULL)
		keylen = addr_key(sa, key, text, sizeof text);
	e = keylen > 0 ? find(n, key, keylen) : NULL;
	if (why == NULL) {
		if (e != NULL)
			drop(n, e);
		return;
	}
	ae_node_log_limited(n, AUTHFAIL_LEVEL, "authentication failed", text,
	    "%s: authentication failed: %s", peer, why);
	if (keylen == 0)
		return;
	if (e == NULL) {
		if (n->authfail == NULL && (n->authfail = calloc(
		    AUTHFAIL_SLOTS, sizeof *n->authfail)) == NULL)
			return;
		if (n->nauthfail == AUTHFAIL_SLOTS) {
			for (i = oldest = 0; i < n->nauthfail; i++)
				if (n->authfail[i].last <
				    n->authfail[oldest].last)
					oldest = i;
			drop(n, &n->authfail[oldest]);
		}
		e = &n->authfail[n->nauthfail++];
		memset(e, 0, sizeof *e);
		memcpy(e->key, key, keylen);
		e->keylen = (unsigned char)keylen;
	}
	e->failures++;
	e->last = ae_node_now();
}

void
ae_authfail_record_fd(aemp_node *n, int fd, const char *peer, const char *why)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	ae_authfail_record(n, fd >= 0 && getpeername(fd, (struct sockaddr *)&ss,
	    &len) == 0 ? (struct sockaddr *)&ss : NULL, peer, why);
}

/*
 * How many connections from sa's address wait for their greeting (the
 * accepted ones not started yet): bounded, so that a guesser cannot
 * make up for the delay with connections in parallel.
 */
int
ae_authfail_waiting(aemp_node *n, const struct sockaddr *sa)
{
	unsigned char key[8], other[8];
	char text[INET6_ADDRSTRLEN];
	size_t keylen = addr_key(sa, key, text, sizeof text);
	struct sockaddr_storage ss;
	struct aemp_conn *c;
	socklen_t len;
	int count = 0;

	for (c = LIST_FIRST(&n->conns); c != NULL && keylen > 0;
	    c = LIST_NEXT(c, entry)) {
		if (!c->inbound || c->state != CONN_CONNECTING)
			continue;
		len = sizeof ss;
		if (getpeername(c->stream->fd,
		    (struct sockaddr *)&ss, &len) == 0 &&
		    addr_key((struct sockaddr *)&ss, other, text,
		    sizeof text) == keylen && memcmp(key, other, keylen) == 0)
			count++;
	}
	return count;
}

void
ae_authfail_free(aemp_node *n)
{
	free(n->authfail);
	n->authfail = NULL;
	n->nauthfail = 0;
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * loglimit.c: log lines that a peer can cause at will (failed
 * authentication, requests for functions that do not exist, malformed
 * requests) go through a limiter, so that a flood of them cannot fill the
 * disk: 1 M such requests once gave 196 MB of log. Each kind of line
 * (its call site, and for some a subject such as the peer's address) may
 * log LOGLIM_BURST lines per LOGLIM_INTERVAL; what goes beyond is counted
 * and summed up in one line at the end of the interval. The table is
 * small and fixed: the least recently used entry makes room (its count
 * logged first), so its memory stays bounded whatever peers do.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

/*
 * Lines of one kind in an interval, all subjects together: a peer can
 * have many subjects (IPv6 /64s, node IDs), and past this the new ones
 * are only counted, in the kind's own line.
 */
#define LOGLIM_SITE_BURST	(4 * LOGLIM_BURST)

struct loglim {
	const char	*site;		/* NULL: a free slot */
	char		 subject[64];
	int		 level;
	unsigned	 logged;	/* lines in this interval */
	unsigned long	 suppressed;	/* lines not logged in it */
	double		 since;		/* the interval's start */
	double		 used;		/* last occurrence */
};

static void
summary(aemp_node *n, struct loglim *e, double now)
{
	if (e->suppressed > 0)
		aemp_log(n, e->level, "%s%s%s: %lu more like this in the last "
		    "%.0f s, not logged one by one", e->subject, *e->subject ?
		    ": " : "", e->site, e->suppressed, now - e->since);
	e->suppressed = 0;
	e->logged = 0;
	e->since = now;
}

static void
flush_due(evutil_socket_t fd, short what, void *arg)
{
	aemp_node *n = arg;
	double now = ae_node_now();
	double next = 0;
	size_t i;

	(void)fd; (void)what;
	for (i = 0; i < LOGLIM_SLOTS; i++) {
		struct loglim *e = &n->loglim[i];
		double left = LOGLIM_INTERVAL - (now - e->since);
		if (e->site == NULL || e->suppressed == 0)
			continue;
		if (left <= 0.01)
			summary(n, e, now);
		else if (next == 0 || left < next)
			next = left;
	}
	if (next > 0)
		ae_ntimer_add(n, n->loglim_ev, next);
}

/* Whether site has a slot for subject. */
static int
slot_exists(aemp_node *n, const char *site, const char *subject)
{
	size_t i;

	for (i = 0; i < LOGLIM_SLOTS; i++)
		if (n->loglim[i].site == site && strncmp(n->loglim[i].subject,
		    subject, sizeof n->loglim[i].subject - 1) == 0)
			return 1;
	return 0;
}

/* The lines site logged in the current intervals of its slots. */
static unsigned
site_logged(aemp_node *n, const char *site, double now)
{
	unsigned count = 0;
	size_t i;

	for (i = 0; i < LOGLIM_SLOTS; i++)
		if (n->loglim[i].site == site &&
		    now - n->loglim[i].since < LOGLIM_INTERVAL)
			count += n->loglim[i].logged;
	return count;
}

static struct loglim *
slot_for(aemp_node *n, const char *site, const char *subject, double now)
{
	struct loglim *e, *lru = NULL;
	size_t i;

	for (i = 0; i < LOGLIM_SLOTS; i++) {
		e = &n->loglim[i];
		/* subject as kept: a longer one must find its slot too */
		if (e->site == site && strncmp(e->subject, subject,
		    sizeof e->subject - 1) == 0)
			return e;
		if (lru == NULL || e->site == NULL ||
		    (lru->site != NULL && e->used < lru->used))
			lru = e;
	}
	if (lru->site != NULL)
		summary(n, lru, now);
	memset(lru, 0, sizeof *lru);
	lru->site = site;
	snprintf(lru->subject, sizeof lru->subject, "%s", subject);
	lru->since = now;
	return lru;
}

void
ae_node_log_limited(aemp_node *n, int level, const char *site,
    const char *subject, const char *fmt, ...)
{
	struct loglim *e;
	double now;
	va_list ap;
	int over = 0;

	if (level > n->log_level && level > n->lc_level)
		return;
	if (n->loglim == NULL &&
	    (n->loglim = calloc(LOGLIM_SLOTS, sizeof *n->loglim)) == NULL)
		return;
	now = ae_node_now();
	if (subject == NULL)
		subject = "";
	if (*subject != '\0' && !slot_exists(n, site, subject) &&
	    site_logged(n, site, now) >= LOGLIM_SITE_BURST) {
		/* counted under the kind, whose line says how many */
		subject = "";
		over = 1;
	}
	e = slot_for(n, site, subject, now);
	e->used = now;
	e->level = level;
	if (now - e->since >= LOGLIM_INTERVAL)
		summary(n, e, now);
	if (over || e->logged >= LOGLIM_BURST) {
		e->suppressed++;
		if (n->freeing)
			return;
		if (n->loglim_ev == NULL)
			n->loglim_ev = ae_ntimer_new(n, 0, flush_due, n);
		if (!ae_ntimer_pending(n->loglim_ev))
			ae_ntimer_add(n, n->loglim_ev, LOGLIM_INTERVAL -
			    (now - e->since));
		return;
	}
	e->logged++;
	va_start(ap, fmt);
	ae_node_vlog(n, level, fmt, ap);
	va_end(ap);
}

/* The counts not yet logged are logged now: nothing goes unsaid. */
void
ae_loglimit_free(aemp_node *n)
{
	double now = ae_node_now();
	size_t i;

	if (n->loglim != NULL)
		for (i = 0; i < LOGLIM_SLOTS; i++)
			if (n->loglim[i].site != NULL)
				summary(n, &n->loglim[i], now);
	if (n->loglim_ev != NULL)
		ae_ntimer_free(n, n->loglim_ev);
	n->loglim_ev = NULL;
	free(n->loglim);
	n->loglim = NULL;
}

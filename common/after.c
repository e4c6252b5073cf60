/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * after.c: the program's timers, aemp_after() and aemp_after_snd().
 */
#include <stdlib.h>

#include "kernel.h"
#include "xmalloc.h"

/* --- after --------------------------------------------------------------- */

void
ae_timer_free(aemp_timer *t)
{
	ae_ntimer_free(t->node, t->ev);
	free(t->port);
	json_decref(t->msg);
	free(t);
}

static void
timer_fired(evutil_socket_t fd, short what, void *arg)
{
	aemp_timer *t = arg;
	aemp_node *n = t->node;

	(void)fd; (void)what;
	LIST_REMOVE(t, entry);
	t->firing = 1;		/* a cancel from cb only defuses */
	if (t->port != NULL) {
		aemp_snd(n, t->port, t->msg);
		t->msg = NULL;
	} else if (t->cb != NULL)
		t->cb(n, t->ud);
	ae_timer_free(t);
}

static aemp_timer *
timer_new(aemp_node *n, double seconds)
{
	aemp_timer *t = ae_xcalloc(1, sizeof *t);
	t->node = n;
	t->ev = ae_ntimer_new(n, 0, timer_fired, t);
	LIST_INSERT_HEAD(&n->timers, t, entry);
	ae_ntimer_add(n, t->ev, seconds);
	return t;
}

aemp_timer *
aemp_after(aemp_node *n, double seconds, aemp_timer_fn cb, void *ud)
{
	aemp_timer *t = timer_new(n, seconds);

	t->cb = cb;
	t->ud = ud;
	return t;
}

aemp_timer *
aemp_after_snd(aemp_node *n, double seconds, const char *port, json_t *msg)
{
	aemp_timer *t = timer_new(n, seconds);

	t->port = ae_xstrdup(port);
	t->msg = msg;
	return t;
}

void
aemp_timer_cancel(aemp_node *n, aemp_timer *t)
{
	if (t == NULL)
		return;
	if (t->firing) {
		t->cb = NULL;	/* its own callback: timer_fired frees it */
		return;
	}
	LIST_REMOVE(t, entry);
	ae_timer_free(t);
	(void)n;
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * kernel.c: the kernel's start (what it hears from the layers below)
 * and its teardown, when the node is freed.
 */
#include <stdlib.h>

#include "kernel.h"

/* --- start --------------------------------------------------------------- */

/* A node went up or down, or was given up on (remote.c's report). */
static void
remote_event(aemp_node *n, struct aemp_remote *r, enum remote_event ev,
    json_t *reason)
{
	if (ev == REMOTE_FORGET) {
		kernel_remote_forget(n, r);
		return;
	}
	if (ev != REMOTE_UP)
		kernel_remote_down(n, r, reason);
	if (ev != REMOTE_FAILED)
		kernel_nodes_event(n, r->id, ev == REMOTE_UP, reason);
}

void
kernel_start(aemp_node *n)
{
	n->upcall.deliver = kernel_deliver;
	n->upcall.deliver_tagged = kernel_deliver_tagged;
	n->upcall.drop = kernel_drop;
	remote_on_event(n, remote_event);
}

/* --- teardown ------------------------------------------------------------ */

void
kernel_free(aemp_node *n)
{
	struct dict_entry *e;
	size_t pos = 0;
	aemp_watch *w;

	while ((e = dict_next(&n->ports, &pos)) != NULL) {
		struct aemp_port *p = e->value;
		struct aemp_mon *m;
		while (p->mons != NULL &&
		    (m = TAILQ_FIRST(&p->mons->mons)) != NULL) {
			mon_unlink(m);
			mon_free(m);
		}
		port_free(n, p);
	}
	dict_clear(&n->ports);
	pos = 0;
	while ((e = dict_next(&n->funcs, &pos)) != NULL) {
		struct func *f = e->value;
		free(f->name);
		free(f);
	}
	dict_clear(&n->funcs);
	while (!LIST_EMPTY(&n->timers)) {
		aemp_timer *t = LIST_FIRST(&n->timers);
		LIST_REMOVE(t, entry);
		timer_free(t);
	}
	for (w = n->node_watches; w != NULL; w = w->next)
		w->cancelled = 1;
	watch_sweep(&n->node_watches);
	for (w = n->grp_watches; w != NULL; w = w->next)
		w->cancelled = 1;
	watch_sweep(&n->grp_watches);
}

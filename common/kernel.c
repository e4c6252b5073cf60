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
		ae_kernel_remote_forget(n, r);
		return;
	}
	if (ev != REMOTE_UP)
		ae_kernel_remote_down(n, r, reason);
	if (ev != REMOTE_FAILED)
		ae_kernel_nodes_event(n, r->id, ev == REMOTE_UP, reason);
}

void
ae_kernel_start(aemp_node *n)
{
	n->upcall.deliver = ae_kernel_deliver;
	n->upcall.deliver_tagged = ae_kernel_deliver_tagged;
	n->upcall.drop = ae_kernel_drop;
	ae_remote_on_event(n, remote_event);
}

/* --- teardown ------------------------------------------------------------ */

void
ae_kernel_free(aemp_node *n)
{
	struct dict_entry *e;
	size_t pos = 0;
	aemp_watch *w;

	while ((e = ae_dict_next(&n->ports, &pos)) != NULL) {
		struct aemp_port *p = e->value;
		struct aemp_mon *m;
		while (PORT_MONS(p) != NULL &&
		    (m = TAILQ_FIRST(&PORT_MONS(p)->mons)) != NULL) {
			ae_mon_unlink(m);
			ae_mon_free(m);
		}
		ae_port_free(n, p);
	}
	ae_dict_clear(&n->ports);
	ae_dict_clear(&n->tagnames);	/* every port has let go of its tags */
	pos = 0;
	while ((e = ae_dict_next(&n->funcs, &pos)) != NULL) {
		struct func *f = e->value;
		free(f->name);
		free(f);
	}
	ae_dict_clear(&n->funcs);
	while (!LIST_EMPTY(&n->timers)) {
		aemp_timer *t = LIST_FIRST(&n->timers);
		LIST_REMOVE(t, entry);
		ae_timer_free(t);
	}
	TAILQ_FOREACH(w, &n->node_watches, entry)
		w->cancelled = 1;
	ae_watch_sweep(&n->node_watches);
	TAILQ_FOREACH(w, &n->grp_watches, entry)
		w->cancelled = 1;
	ae_watch_sweep(&n->grp_watches);
}

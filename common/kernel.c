/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * kernel.c: the kernel's teardown, when the node is freed.
 */
#include <stdlib.h>

#include "kernel.h"

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
		while (PORT_MONS(p) != NULL &&
		    (m = TAILQ_FIRST(&PORT_MONS(p)->mons)) != NULL) {
			mon_unlink(m);
			mon_free(m);
		}
		port_free(n, p);
	}
	dict_clear(&n->ports);
	dict_clear(&n->tagnames);	/* every port has let go of its tags */
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

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * watch.c: node watches (aemp_mon_nodes) and what the kernel tells of
 * other nodes: up, known.
 */
#include <stdlib.h>

#include "kernel.h"
#include "xmalloc.h"

/* --- nodes ---------------------------------------------------------------- */

aemp_watch *
aemp_mon_nodes(aemp_node *n, aemp_nodes_fn cb, void *ud)
{
	aemp_watch *w = ae_xcalloc(1, sizeof *w);

	w->nodes_cb = cb;
	w->ud = ud;
	TAILQ_INSERT_HEAD(&n->node_watches, w, entry);
	return w;
}

void
aemp_watch_cancel(aemp_node *n, aemp_watch *w)
{
	if (w == NULL)
		return;
	/* unlinked lazily: a callback may cancel a watch mid-walk */
	w->cancelled = 1;
	(void)n;
}

void
ae_watch_sweep(struct aemp_watch_list *head)
{
	aemp_watch *w, *next;

	for (w = TAILQ_FIRST(head); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (!w->cancelled)
			continue;
		TAILQ_REMOVE(head, w, entry);
		free(w->group);
		free(w);
	}
}

void
ae_kernel_nodes_event(aemp_node *n, const char *id, int up, json_t *reason)
{
	aemp_watch *w;

	/* a callback may cause another node event: sweep only outermost */
	n->node_watch_depth++;
	TAILQ_FOREACH(w, &n->node_watches, entry)
		if (!w->cancelled)
			w->nodes_cb(n, id, up, reason, w->ud);
	if (--n->node_watch_depth == 0)
		ae_watch_sweep(&n->node_watches);
}

json_t *
aemp_up_nodes(aemp_node *n)
{
	json_t *a = json_array();
	struct dict_entry *e;
	size_t pos = 0;

	while ((e = ae_dict_next(&n->remotes, &pos)) != NULL) {
		struct aemp_remote *r = e->value;
		if (r->conn != NULL)
			json_array_append_new(a, json_string(r->id));
	}
	return a;
}

json_t *
aemp_known_nodes(aemp_node *n)
{
	json_t *a = json_array();
	struct dict_entry *e;
	size_t pos = 0;

	json_array_append_new(a, json_string(n->id));
	while ((e = ae_dict_next(&n->remotes, &pos)) != NULL)
		json_array_append_new(a, json_string(dict_key(&n->remotes, e)));
	return a;
}

int
aemp_node_is_up(aemp_node *n, const char *id)
{
	struct aemp_remote *r = ae_dict_get(&n->remotes, id);

	return r != NULL && r->conn != NULL;
}

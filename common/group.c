/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * group.c: global groups (AEMP.md section 7): local registrations, the
 * network-wide view every node keeps, and group monitors.
 */
#include <stdlib.h>
#include <string.h>

#include "global.h"
#include "xmalloc.h"

void
ae_group_init(aemp_node *n)
{
	/*
	 * lreg keeps a group's key after its last local port left, like the
	 * reference, so that "set" then says {"group":[]} on the wire as a
	 * Perl node would; greg drops empty groups.
	 */
	n->global->lreg = json_object();
	n->global->greg = json_object();
	TAILQ_INIT(&n->global->grp_pending);
}

/* --- group monitors ------------------------------------------------------- */

static void
watch_free(aemp_watch *w)
{
	free(w->group);
	free(w);
}

/* Frees cancelled monitors, once no callback walk is running. */
static void
grp_sweep(aemp_node *n)
{
	if (n->global->grp_walking == 0)
		ae_watch_sweep(&n->grp_watches);
}

static json_t *
members(json_t *kv)
{
	json_t *a = json_array(), *v;
	const char *port;

	json_object_foreach(kv, port, v)
		json_array_append_new(a, json_string(port));
	return a;
}

static void
notify(aemp_node *n, const char *group, json_t *added, json_t *removed)
{
	struct aemp_global *g = n->global;
	json_t *all = members(json_object_get(g->greg, group));
	aemp_watch *w;

	g->grp_walking++;
	TAILQ_FOREACH(w, &n->grp_watches, entry)
		if (!w->cancelled && strcmp(w->group, group) == 0)
			w->grp_cb(n, group, all, added, removed, w->ud);
	g->grp_walking--;
	json_decref(all);
	grp_sweep(n);
}

/*
 * The reference's _change: remove del, then add add (arrays of port IDs,
 * borrowed, may be NULL). Monitors hear of what really changed, and only
 * when something did.
 */
void
ae_group_change(aemp_node *n, const char *group, json_t *add, json_t *del)
{
	struct aemp_global *g = n->global;
	json_t *kv = json_object_get(g->greg, group), *added, *removed, *v;
	size_t i;

	if (kv == NULL) {
		if (json_array_size(add) == 0)
			return;
		kv = json_object();
		json_object_set_new(g->greg, group, kv);
	}
	added = json_array();
	removed = json_array();
	json_array_foreach(del, i, v)
		if (json_object_get(kv, json_string_value(v)) != NULL) {
			json_object_del(kv, json_string_value(v));
			json_array_append(removed, v);
		}
	json_array_foreach(add, i, v)
		if (json_is_string(v) &&
		    json_object_get(kv, json_string_value(v)) == NULL) {
			json_object_set_new(kv, json_string_value(v),
			    json_true());
			json_array_append(added, v);
		}
	if (json_object_size(kv) == 0)
		json_object_del(g->greg, group);
	if (json_array_size(added) > 0 || json_array_size(removed) > 0)
		notify(n, group, added, removed);
	json_decref(added);
	json_decref(removed);
}

/* Removes every member on node from every group (node down, port died). */
void
ae_group_unreg_node(aemp_node *n, const char *node)
{
	struct aemp_global *g = n->global;
	json_t *groups = json_object(), *kv, *v;
	size_t len = strlen(node);
	const char *group, *port;

	/* collect first: the monitors we call may change greg */
	json_object_foreach(g->greg, group, kv) {
		json_t *del = NULL;
		json_object_foreach(kv, port, v) {
			if (strncmp(port, node, len) != 0 ||
			    (port[len] != '#' && port[len] != '\0'))
				continue;
			if (del == NULL)
				del = json_array();
			json_array_append_new(del, json_string(port));
		}
		if (del != NULL)
			json_object_set_new(groups, group, del);
	}
	json_object_foreach(groups, group, v)
		ae_group_change(n, group, NULL, v);
	json_decref(groups);
}

static void
grp_mon_start(aemp_node *n, void *ud)
{
	struct aemp_global *g = n->global;
	aemp_watch *w = ud;
	json_t *all, *none;

	TAILQ_REMOVE(&g->grp_pending, w, entry);
	if (w->cancelled) {
		watch_free(w);
		return;
	}
	/* at the end, so that monitors are called in the order made */
	TAILQ_INSERT_TAIL(&n->grp_watches, w, entry);
	if ((all = aemp_grp_get(n, w->group)) == NULL)
		return;
	none = json_array();
	g->grp_walking++;
	w->grp_cb(n, w->group, all, all, none, w->ud);
	g->grp_walking--;
	json_decref(none);
	json_decref(all);
	grp_sweep(n);
}

/*
 * The monitor starts from the event loop: then it is called with the
 * current members as added (if there are any), and with every change
 * after that.
 */
aemp_watch *
aemp_grp_mon(aemp_node *n, const char *group, aemp_grp_fn cb, void *ud)
{
	struct aemp_global *g = n->global;
	aemp_watch *w;

	if (group == NULL || cb == NULL) {
		ae_node_error(n, "grp_mon: group and callback are required");
		return NULL;
	}
	w = ae_xcalloc(1, sizeof *w);
	w->grp_cb = cb;
	w->group = ae_xstrdup(group);
	w->ud = ud;
	TAILQ_INSERT_HEAD(&g->grp_pending, w, entry);
	ae_node_call_later(n, grp_mon_start, w);
	return w;
}

json_t *
aemp_grp_get(aemp_node *n, const char *group)
{
	json_t *kv = group ? json_object_get(n->global->greg, group) : NULL;

	return json_object_size(kv) > 0 ? members(kv) : NULL;
}

/* --- local registrations -------------------------------------------------- */

static void
unregister(aemp_node *n, struct aemp_grp *gr)
{
	struct aemp_global *g = n->global;
	json_t *list = json_object_get(g->lreg, gr->group), *del;
	size_t i;

	if (!gr->active)
		return;
	gr->active = 0;
	if (gr->mon != NULL)
		aemp_mon_cancel(n, gr->mon);
	gr->mon = NULL;
	for (i = 0; i < json_array_size(list); i++)
		if (strcmp(json_string_value(json_array_get(list, i)),
		    gr->port) == 0)
			json_array_remove(list, i--);
	del = json_pack("[s]", gr->port);
	ae_group_change(n, gr->group, NULL, del);
	json_decref(del);
	ae_global_broadcast(n, json_pack("[sss]", "reg0", gr->group, gr->port));
}

static void
grp_port_died(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct aemp_grp *gr = ud;

	(void)port; (void)reason;
	gr->mon = NULL;
	unregister(n, gr);
}

/*
 * Registers local port in group. The guard stays valid until
 * aemp_grp_unreg() (or aemp_free()), also after the port died and took
 * its registration with it.
 */
aemp_grp *
aemp_grp_reg(aemp_node *n, const char *group, const char *port)
{
	struct aemp_global *g = n->global;
	struct aemp_grp *gr;
	json_t *list, *v, *add;
	size_t i, len;

	if (group == NULL || port == NULL) {
		ae_node_error(n, "grp_reg: group and port are required");
		return NULL;
	}
	id_split(port, &len);
	if (len != strlen(n->id) || memcmp(port, n->id, len) != 0) {
		ae_node_error(n, "grp_reg can only be called for local ports, "
		    "%s is not one", port);
		return NULL;
	}
	if (!aemp_port_exists(n, port)) {
		ae_node_error(n, "grp_reg: no such port %s", port);
		return NULL;
	}
	list = json_object_get(g->lreg, group);
	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(v), port) == 0) {
			ae_node_error(n, "'%s': group already registered, cannot "
			    "register a second time", group);
			return NULL;
		}
	if (list == NULL) {
		list = json_array();
		json_object_set_new(g->lreg, group, list);
	}
	gr = ae_xcalloc(1, sizeof *gr);
	gr->group = ae_xstrdup(group);
	gr->port = ae_xstrdup(port);
	gr->active = 1;
	LIST_INSERT_HEAD(&g->grps, gr, entry);
	gr->mon = aemp_mon_cb(n, port, grp_port_died, gr);
	json_array_append_new(list, json_string(port));
	ae_global_broadcast(n, json_pack("[sss]", "reg1", group, port));
	add = json_pack("[s]", port);
	ae_group_change(n, group, add, NULL);
	json_decref(add);
	return gr;
}

void
aemp_grp_unreg(aemp_node *n, aemp_grp *gr)
{

	if (gr == NULL)
		return;
	unregister(n, gr);
	LIST_REMOVE(gr, entry);
	free(gr->group);
	free(gr->port);
	free(gr);
}

/* Frees guards and unstarted monitors; the kernel frees the rest. */
void
ae_group_free(aemp_node *n)
{
	struct aemp_global *g = n->global;

	while (!LIST_EMPTY(&g->grps)) {
		struct aemp_grp *gr = LIST_FIRST(&g->grps);
		LIST_REMOVE(gr, entry);
		free(gr->group);
		free(gr->port);
		free(gr);
	}
	while (!TAILQ_EMPTY(&g->grp_pending)) {
		aemp_watch *w = TAILQ_FIRST(&g->grp_pending);
		TAILQ_REMOVE(&g->grp_pending, w, entry);
		watch_free(w);
	}
	json_decref(g->lreg);
	json_decref(g->greg);
}

/* aemp_stats()'s groups: how many, their members, ours among them */
json_t *
ae_group_stats(aemp_node *n)
{
	struct aemp_global *g = n->global;
	size_t groups = 0, members = 0, local = 0;
	const char *name;
	json_t *v;

	if (g != NULL) {
		json_object_foreach(g->greg, name, v) {
			groups++;
			members += json_object_size(v);
		}
		json_object_foreach(g->lreg, name, v)
			local += json_array_size(v);
	}
	return json_pack("{s:I, s:I, s:I}", "groups", (json_int_t)groups,
	    "members", (json_int_t)members, "local_members", (json_int_t)local);
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * mon.c: monitors of local and remote ports, and how they fire (AEMP.md
 * section 4).
 */
#include <stdlib.h>

#include "kernel.h"
#include "xmalloc.h"

/* --- monitors ----------------------------------------------------------- */

void
ae_mon_link(struct mon_list *l, struct aemp_mon *m)
{
	m->list = l;
	TAILQ_INSERT_TAIL(&l->mons, m, entry);
}

void
ae_mon_unlink(struct aemp_mon *m)
{
	struct mon_list *l = m->list;

	if (l == NULL)
		return;
	TAILQ_REMOVE(&l->mons, m, entry);
	m->list = NULL;
}

void
ae_mon_free(struct aemp_mon *m)
{
	free(m->other);
	json_decref(m->msg);
	free(m);
}

void
ae_mon_fire(aemp_node *n, struct aemp_mon *m, const char *portid, json_t *reason)
{
	json_t *msg;

	switch (m->kind) {
	case MON_CB:
	case MON_CAL:
		m->cb(n, portid, reason, m->ud);
		break;
	case MON_KILL:
		/* a normal kill does not propagate */
		if (json_array_size(reason) > 0)
			aemp_kil(n, m->other, json_copy(reason));
		break;
	case MON_SND:
		msg = json_copy(m->msg);
		json_array_extend(msg, reason);
		aemp_snd(n, m->other, msg);
		break;
	case MON_REMOTE:
		ae_dict_del(&m->remote->rmon, m->other);
		msg = json_pack("[ss]", "kil0", m->other);
		json_array_extend(msg, reason);
		ae_remote_send_name(m->remote, "", msg);
		break;
	}
}

/*
 * Fires and frees every monitor on l. The monitors move to a list on the
 * stack first, so that an action may cancel a monitor that has yet to fire
 * or add new monitors to l without disturbing this walk.
 */
void
ae_mon_list_fire(aemp_node *n, struct mon_list *l, json_t *reason)
{
	struct mon_list firing = *l;
	struct aemp_mon *m;

	TAILQ_INIT(&firing.mons);
	TAILQ_CONCAT(&firing.mons, &l->mons, entry);
	/* a cancel during the walk only unlinks: the list is the caller's */
	firing.remote = NULL;
	TAILQ_FOREACH(m, &firing.mons, entry)
		m->list = &firing;
	while ((m = TAILQ_FIRST(&firing.mons)) != NULL) {
		ae_mon_unlink(m);
		m->pending = 1;		/* a cancel now defuses it */
		if (m->kind != MON_CB || m->cb != NULL)
			ae_mon_fire(n, m, firing.portid, reason);
		ae_mon_free(m);
	}
}

struct aemp_mon *
ae_mon_new(enum mon_kind kind)
{
	struct aemp_mon *m = ae_xcalloc(1, sizeof *m);

	m->kind = kind;
	return m;
}

static struct mon_list *
remote_mon_list(aemp_node *n, const char *port, size_t nodelen,
    const char *name)
{
	char *nodeid = ae_xstrndup(port, nodelen);
	struct aemp_remote *r = ae_remote_get(n, nodeid, 1);
	struct mon_list *l = ae_dict_get(&r->lmon, name);

	free(nodeid);
	if (l != NULL)
		return l;
	l = ae_xcalloc(1, sizeof *l);
	TAILQ_INIT(&l->mons);
	l->remote = r;
	l->portid = ae_xstrdup(port);
	l->name = ae_xstrdup(name);
	ae_dict_put(&r->lmon, l->name, l);
	if (*name != '\0')
		ae_remote_send_name(r, "", json_pack("[ss]", "mon1", name));
	else if (r->conn == NULL)
		ae_remote_connect(r);
	return l;
}

void
ae_remote_mon_list_free(struct mon_list *l)
{
	free(l->portid);
	free(l->name);
	free(l);
}

static struct aemp_mon *
mon_attach(aemp_node *n, const char *port, struct aemp_mon *m)
{
	const char *name;
	size_t nodelen;

	if (ae_is_local(n, port, &name)) {
		struct aemp_port *p = *name ? ae_dict_get(&n->ports, name) : NULL;
		if (p != NULL)
			ae_mon_link(ae_port_mons(p), m);
		else if (*name != '\0') {
			/* fires later, from the deferred queue */
			struct defer *d = ae_node_defer(n, DEFER_MON_FIRE);
			d->mon = m;
			d->port = ae_xstrdup(port);
			d->msg = json_pack("[sss]", "no_such_port",
			    "cannot monitor nonexistent port", port);
			m->list = NULL;
			m->pending = 1;		/* in defer */
		}
		/* our own node port never dies while we run: never fires */
		return m;
	}
	name = id_split(port, &nodelen);
	ae_mon_link(remote_mon_list(n, port, nodelen, name), m);
	return m;
}

aemp_mon *
aemp_mon_cb(aemp_node *n, const char *port, aemp_mon_fn cb, void *ud)
{
	struct aemp_mon *m = ae_mon_new(MON_CB);

	m->cb = cb;
	m->ud = ud;
	return mon_attach(n, port, m);
}

aemp_mon *
aemp_mon_kill(aemp_node *n, const char *port, const char *other)
{
	struct aemp_mon *m = ae_mon_new(MON_KILL);

	m->other = ae_xstrdup(other);
	return mon_attach(n, port, m);
}

aemp_mon *
aemp_mon_snd(aemp_node *n, const char *port, const char *to, json_t *msg)
{
	struct aemp_mon *m = ae_mon_new(MON_SND);

	m->other = ae_xstrdup(to);
	m->msg = json_is_array(msg) ? msg : json_array();
	if (m->msg != msg)
		json_decref(msg);
	return mon_attach(n, port, m);
}

void
aemp_mon_cancel(aemp_node *n, aemp_mon *m)
{
	struct mon_list *l;

	if (m == NULL)
		return;
	if (m->pending) {
		m->cb = NULL;	/* pending in defer: it frees it unfired */
		m->kind = MON_CB;
		return;
	}
	l = m->list;
	ae_mon_unlink(m);
	ae_mon_free(m);
	if (l != NULL && l->remote != NULL && TAILQ_EMPTY(&l->mons)) {
		struct aemp_remote *r = l->remote;
		ae_dict_del(&r->lmon, l->name);
		/* queued behind its mon1 while we are still connecting */
		if (*l->name != '\0')
			ae_remote_send_name(r, "", json_pack("[ss]", "mon0",
			    l->name));
		ae_remote_mon_list_free(l);
	}
	(void)n;
}

void
ae_kernel_remote_forget(aemp_node *n, struct aemp_remote *r)
{
	struct dict_entry *e;
	size_t pos = 0;
	struct aemp_mon *m;

	(void)n;
	while ((e = ae_dict_next(&r->lmon, &pos)) != NULL) {
		struct mon_list *l = e->value;
		while ((m = TAILQ_FIRST(&l->mons)) != NULL) {
			ae_mon_unlink(m);
			ae_mon_free(m);
		}
		ae_remote_mon_list_free(l);
	}
	ae_dict_clear(&r->lmon);
	pos = 0;
	while ((e = ae_dict_next(&r->rmon, &pos)) != NULL) {
		m = e->value;
		ae_mon_unlink(m);
		ae_mon_free(m);
	}
	ae_dict_clear(&r->rmon);
}

/* A remote node went away: every monitor on its ports fires with reason. */
void
ae_kernel_remote_down(aemp_node *n, struct aemp_remote *r, json_t *reason)
{
	struct mon_list **lists;
	struct dict_entry *e;
	size_t pos = 0, count = r->lmon.count, i = 0;

	lists = ae_xcalloc(count + 1, sizeof *lists);
	while ((e = ae_dict_next(&r->lmon, &pos)) != NULL)
		lists[i++] = e->value;
	ae_dict_clear(&r->lmon);
	pos = 0;
	while ((e = ae_dict_next(&r->rmon, &pos)) != NULL) {
		struct aemp_mon *m = e->value;
		ae_mon_unlink(m);
		ae_mon_free(m);
	}
	ae_dict_clear(&r->rmon);
	/* detached from r: cancels while these fire must not free them */
	for (i = 0; i < count; i++)
		lists[i]->remote = NULL;
	for (i = 0; i < count; i++) {
		ae_mon_list_fire(n, lists[i], reason);
		ae_remote_mon_list_free(lists[i]);
	}
	free(lists);
}

/*
 * A message from `from` to local port name could not be represented and
 * is lost (libaemp(3), VALUES FROM PERL NODES). The link stays up for
 * everybody else's traffic; the AEMP guarantee (no holes after a monitor
 * is set) is kept by firing `from`'s monitor of that one port, as a
 * transport loss would: its node sees kil0 with a transport_error reason.
 */
void
ae_kernel_drop(aemp_node *n, const char *name, const char *why,
    struct aemp_remote *from)
{
	struct aemp_mon *m = name != NULL ? ae_dict_get(&from->rmon, name) : NULL;
	json_t *reason;

	/* a peer can send these at will: limited, and the name cut short */
	ae_node_log_limited(n, 2, "undecodable messages", from->id, "%s sent "
	    "%s%.100s a message that cannot be represented here (%s): "
	    "dropped it%s.", from->id, name != NULL ? "port " : "a port",
	    name != NULL ? name : "", why, m != NULL ?
	    ", and fired its monitor of that port" : "");
	if (m == NULL)
		return;
	reason = json_pack("[sss+]", "transport_error", n->id,
	    "message dropped: ", why);
	ae_mon_unlink(m);
	ae_mon_fire(n, m, NULL, reason);
	ae_mon_free(m);
	json_decref(reason);
}

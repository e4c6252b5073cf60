/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * port.c: port IDs and names, local ports and their receivers, delivery,
 * snd and kill (AEMP.md section 4).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "xmalloc.h"

/* --- identifiers --------------------------------------------------------- */

char *
aemp_node_of(const char *port)
{
	size_t len;

	id_split(port, &len);
	return ae_xstrndup(port, len);
}

int
ae_is_local(aemp_node *n, const char *id, const char **name)
{
	size_t len;

	*name = id_split(id, &len);
	return len == n->idlen && memcmp(id, n->id, len) == 0;
}

/*
 * Port names are PREFIX.COUNTER with the counter spelled a, b, ... z, aa,
 * ab, ... like Perl's string increment; the counter never goes back, so a
 * name is never reused while the process lives, and the random prefix
 * keeps names apart across restarts.
 */
static void
port_name_format(aemp_node *n, int remote, uint64_t c,
    char name[PORT_NAME_MAX])
{
	char digits[16];
	size_t i = 0, len;
	const char *prefix = remote ? n->runiq : n->uniq;

	do {
		c--;
		digits[i++] = 'a' + (char)(c % 26);
		c /= 26;
	} while (c > 0 && i < sizeof digits);
	len = strlen(prefix);
	if (len > PORT_NAME_MAX - sizeof digits - 2)
		abort();
	memcpy(name, prefix, len);
	name[len] = '.';
	for (size_t j = 0; j < i; j++)
		name[len + 1 + j] = digits[i - 1 - j];
	name[len + 1 + i] = '\0';
}

static void
port_name_into(aemp_node *n, int remote, char name[PORT_NAME_MAX])
{
	port_name_format(n, remote, ++n->counter, name);
}

char *
ae_kernel_port_name(aemp_node *n, int remote)
{
	char name[PORT_NAME_MAX], *copy;

	port_name_into(n, remote, name);
	copy = ae_xstrdup(name);
	return copy;
}

/* --- ports -------------------------------------------------------------- */

/* A port named name, whose hash (ae_dict_prefetch()) is hash. */
static struct aemp_port *
port_new_hashed(aemp_node *n, const char *name, size_t hash)
{
	size_t idlen = strlen(n->id), namelen = strlen(name);
	struct aemp_port *p;

	/* the ID starts inside the struct's tail padding */
	if (idlen >= 1u << 30)
		abort();
	p = ae_xmalloc(offsetof(struct aemp_port, id) + idlen + 1 + namelen + 1);
	memset(p, 0, offsetof(struct aemp_port, id));
	memcpy(p->id, n->id, idlen);
	p->id[idlen] = '#';
	memcpy(p->id + idlen + 1, name, namelen + 1);
	p->nameoff = (unsigned)idlen + 1;
	ae_dict_put_hashed(&n->ports, PORT_NAME(p), hash, p);
	n->stats.ports_created++;
	return p;
}

struct aemp_port *
ae_port_new(aemp_node *n, const char *name)
{
	return port_new_hashed(n, name, ae_dict_prefetch(&n->ports, name));
}

/* The port's rarely used part, created on first use. */
static struct port_ext *
port_ext(struct aemp_port *p)
{
	if (p->ext == NULL) {
		p->ext = ae_xcalloc(1, sizeof *p->ext);
		TAILQ_INIT(&p->ext->ml.mons);
		p->ext->ml.portid = p->id;
	}
	return p->ext;
}

/* The port's monitor list, created on first use. */
struct mon_list *
ae_port_mons(struct aemp_port *p)
{
	return &port_ext(p)->ml;
}

/* The node's shared copy of tag, with one more user. */
static const struct tagname *
tagname_get(aemp_node *n, const char *tag)
{
	struct tagname *t = n->tag_last;
	size_t len;

	/* ports are mostly made many alike: the last one, without a lookup */
	if (t != NULL && strcmp(t->s, tag) == 0) {
		t->refs++;
		return t;
	}
	if ((t = ae_dict_get(&n->tagnames, tag)) == NULL) {
		len = strlen(tag);
		t = ae_xmalloc(sizeof *t + len + 1);
		t->refs = 0;
		t->len = len;
		memcpy(t->s, tag, len + 1);
		{
			json_t *probe = json_stringn(tag, len);
			t->utf8 = probe != NULL;
			json_decref(probe);
		}
		ae_dict_put(&n->tagnames, t->s, t);
	}
	t->refs++;
	n->tag_last = t;
	return t;
}

void
ae_tagname_put(aemp_node *n, const struct tagname *tag)
{
	struct tagname *t = (struct tagname *)tag;

	if (--t->refs == 0) {
		if (n->tag_last == t)
			n->tag_last = NULL;
		ae_dict_del(&n->tagnames, t->s);
		free(t);
	}
}

void
ae_port_free(aemp_node *n, struct aemp_port *p)
{
	struct rcv_tag *t, *next;

	if (n->last_port == p)
		n->last_port = NULL;
	if (n->last_rcv == p)
		n->last_rcv = NULL;
	if (p->tag != NULL)
		ae_tagname_put(n, p->tag);
	if (p->ext != NULL) {
		for (t = p->ext->tags; t != NULL; t = next) {
			next = t->next;
			free(t);
		}
		free(p->ext);
	}
	free(p);
}

struct aemp_port *
ae_port_live(aemp_node *n, const char *id)
{
	const char *name;

	struct aemp_port *p;

	/* the ID aemp_port() returned for the port used last: no lookup */
	if ((p = n->last_port) != NULL && id == p->id && !p->dead)
		return p;
	if (!ae_is_local(n, id, &name) || *name == '\0')
		return NULL;
	p = ae_dict_get(&n->ports, name);
	return p != NULL && !p->dead ? p : NULL;
}

const char *
aemp_port(aemp_node *n, aemp_rcv_fn cb, void *ud)
{
	char name[PORT_NAME_MAX];
	struct aemp_port *p;

	if (n->next_counter == n->counter + 1) {
		n->counter++;
		p = port_new_hashed(n, n->next_port, n->next_hash);
	} else {
		port_name_into(n, 0, name);
		p = ae_port_new(n, name);
	}
	p->first.cb = cb;
	p->first.ud = ud;
	/* a new port is often given its receivers or a message next */
	n->last_port = p;
	/*
	 * A big table misses the cache on every insert: the next port's
	 * name is made and its slot fetched while the program works with
	 * this one.
	 */
	n->next_counter = n->counter + 1;
	port_name_format(n, 0, n->next_counter, n->next_port);
	n->next_hash = ae_dict_prefetch(&n->ports, n->next_port);
	return p->id;
}

int
aemp_port_exists(aemp_node *n, const char *id)
{
	return ae_port_live(n, id) != NULL;
}

/* Sets p's default receiver (cb NULL: none). */
static void
rcv_default(struct aemp_port *p, aemp_rcv_fn cb, void *ud)
{
	struct rcv *r = p->tag == NULL ? &p->first : &port_ext(p)->def;

	r->cb = cb;
	r->ud = ud;
}

int
aemp_rcv(aemp_node *n, const char *port, const char *tag, aemp_rcv_fn cb,
    void *ud)
{
	struct aemp_port *p = ae_port_live(n, port);
	struct rcv_tag **tp = NULL, *t;

	if (p == NULL)
		return ae_node_error(n, "rcv: %s is not a local port", port);
	if (tag == NULL) {
		rcv_default(p, cb, ud);
		return 0;
	}
	if (p->tag != NULL && strcmp(p->tag->s, tag) == 0) {
		if (cb != NULL) {
			p->first.cb = cb;
			p->first.ud = ud;
			return 0;
		}
		/* the default moves back into the port */
		ae_tagname_put(n, p->tag);
		p->tag = NULL;
		p->first = p->ext != NULL ? p->ext->def : (struct rcv){ 0 };
		if (p->ext != NULL)
			p->ext->def = (struct rcv){ 0 };
		return 0;
	}
	if (p->ext != NULL)
		for (tp = &p->ext->tags; *tp != NULL; tp = &(*tp)->next)
			if (strcmp((*tp)->tag, tag) == 0)
				break;
	if (cb == NULL) {
		if (tp != NULL && (t = *tp) != NULL) {
			*tp = t->next;
			free(t);
		}
		return 0;
	}
	if (tp != NULL && *tp != NULL) {
		(*tp)->r.cb = cb;
		(*tp)->r.ud = ud;
		return 0;
	}
	/* the first receiver of a port without a default: in the port */
	if (p->tag == NULL && p->first.cb == NULL) {
		p->tag = tagname_get(n, tag);
		p->first.cb = cb;
		p->first.ud = ud;
		return 0;
	}
	for (tp = &port_ext(p)->tags; *tp != NULL; tp = &(*tp)->next)
		;
	{
		size_t len = strlen(tag);
		*tp = ae_xmalloc(sizeof **tp + len + 1);
		(*tp)->next = NULL;
		memcpy((*tp)->tag, tag, len + 1);
	}
	(*tp)->r.cb = cb;
	(*tp)->r.ud = ud;
	return 0;
}

const char *
aemp_self(aemp_node *n)
{
	return n->self;
}

int
aemp_die(aemp_node *n, const char *fmt, ...)
{
	va_list ap;

	free(n->die_msg);
	va_start(ap, fmt);
	if (vasprintf(&n->die_msg, fmt, ap) < 0)
		n->die_msg = NULL;
	va_end(ap);
	return -1;
}

/* Runs a receiver or spawned function as SELF; a failure kills SELF. */
void
ae_run_as(aemp_node *n, struct aemp_port *p, int (*call)(aemp_node *,
    struct aemp_port *, void *), void *arg)
{
	const char *prev = n->self;
	int rc;

	/* the free()s are skipped: this runs once per local message */
	if (n->die_msg != NULL) {
		free(n->die_msg);
		n->die_msg = NULL;
	}
	n->self = p->id;
	rc = call(n, p, arg);
	n->self = prev;
	if (rc < 0)
		ae_port_kill(n, p, json_pack("[ss]", "die",
		    n->die_msg != NULL ? n->die_msg : "receiver failed"));
	if (n->die_msg != NULL) {
		free(n->die_msg);
		n->die_msg = NULL;
	}
}

struct delivery {
	aemp_rcv_fn	 cb;
	void		*ud;
	json_t		*msg;
};

static int
call_receiver(aemp_node *n, struct aemp_port *p, void *arg)
{
	struct delivery *d = arg;

	n->stats.delivered++;
	return d->cb(n, p->id, d->msg, d->ud);
}

/* Whether a and b (len bytes) are equal: tags are short, no memcmp(). */
static inline int
tag_eq(const char *a, const char *b, size_t len)
{
	uint64_t x, y;
	uint32_t u, v;

	for (; len >= 8; a += 8, b += 8, len -= 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return 0;
	}
	if (len >= 4) {
		memcpy(&u, a, 4);
		memcpy(&v, b, 4);
		if (u != v)
			return 0;
		a += 4;
		b += 4;
		len -= 4;
	}
	while (len-- > 0)
		if (*a++ != *b++)
			return 0;
	return 1;
}

/* tag_find() of the tags beside the port. */
static struct rcv *
tag_find_ext(struct aemp_port *p, const char *tag, size_t len)
{
	struct rcv_tag *t;

	if (p->ext == NULL)
		return NULL;
	for (t = p->ext->tags; t != NULL; t = t->next)
		if (strlen(t->tag) == len && memcmp(t->tag, tag, len) == 0)
			return &t->r;
	return NULL;
}

/* p's receiver for tag (len bytes), or NULL. */
static inline struct rcv *
tag_find(struct aemp_port *p, const char *tag, size_t len)
{
	/* the tag in the port, the one most ports have, without a call */
	if (p->tag != NULL && p->tag->len == len && tag_eq(p->tag->s, tag,
	    len))
		return &p->first;
	return tag_find_ext(p, tag, len);
}

/* p's default receiver (its cb may be NULL). */
static const struct rcv *
port_default(const struct aemp_port *p)
{
	static const struct rcv none;

	if (p->tag == NULL)
		return &p->first;
	return p->ext != NULL ? &p->ext->def : &none;
}

/* Delivers msg (stolen) to port p, which may be dead or NULL. */
void
ae_port_deliver(aemp_node *n, struct aemp_port *p, json_t *msg)
{
	struct delivery d = { NULL, NULL, msg };
	json_t *tag;
	const struct rcv *t = NULL;

	if (p == NULL || p->dead) {
		n->stats.dropped++;
		json_decref(msg);	/* ports never queue */
		return;
	}
	tag = json_array_get(msg, 0);
	if (json_is_string(tag))
		t = tag_find(p, json_string_value(tag), json_string_length(tag));
	if (t != NULL) {
		d.cb = t->cb;
		d.ud = t->ud;
		/*
		 * Dropping the tag in place saves a copy, but only a message
		 * nobody else holds (a sender may keep a reference) may change.
		 */
		if (msg->refcount > 1) {
			json_t *copy = json_copy(msg);
			json_decref(msg);
			d.msg = msg = copy;
		}
		json_array_remove(msg, 0);
	} else {
		t = port_default(p);
		d.cb = t->cb;
		d.ud = t->ud;
	}
	if (d.cb == NULL)
		ae_port_kill(n, p, json_pack("[ss]", "die",
		    "received message on port without callback"));
	else
		ae_run_as(n, p, call_receiver, &d);
	json_decref(msg);
}

/*
 * The tag p has a receiver for, with one more user, when that tag is a
 * string a message may hold; else NULL.
 */
const struct tagname *
ae_port_tag_for(aemp_node *n, struct aemp_port *p, const char *tag)
{
	size_t len = strlen(tag);
	const struct tagname *t;

	if (p->tag != NULL && p->tag->len == len &&
	    memcmp(p->tag->s, tag, len) == 0)
		t = p->tag;
	else if (tag_find(p, tag, len) == NULL)
		return NULL;
	else
		t = ae_dict_get(&n->tagnames, tag);
	if (t == NULL || !t->utf8)
		return NULL;
	((struct tagname *)t)->refs++;
	return t;
}

/*
 * Delivers [tag, msg...] (msg stolen, without the tag) to port p, which
 * may be dead or NULL: a receiver for the tag gets msg as it is.
 */
void
ae_port_deliver_tag(aemp_node *n, struct aemp_port *p,
    const struct tagname *tag, json_t *msg)
{
	struct rcv *t;

	if (p != NULL && !p->dead && (t = tag_find(p, tag->s, tag->len)) !=
	    NULL && t->cb != NULL) {
		struct delivery d = { t->cb, t->ud, msg };
		ae_run_as(n, p, call_receiver, &d);
		json_decref(msg);
		return;
	}
	json_array_insert_new(msg, 0, json_stringn_nocheck(tag->s, tag->len));
	ae_port_deliver(n, p, msg);
}

/*
 * Delivers msg (stolen), which ae_fast_packet() made, to p's receiver for
 * tag (len bytes that need no escaping), then keeps it as the spare for
 * the next packet. Returns 0 when p has no receiver for it (dead or
 * NULL: none), having put the tag back in front of msg.
 */
static inline int
deliver_fast_tagged(aemp_node *n, struct aemp_port *p, const char *tag,
    size_t len, json_t *msg)
{
	struct rcv *t;

	if (p != NULL && !p->dead && (t = tag_find(p, tag, len)) != NULL &&
	    t->cb != NULL) {
		struct delivery d = { t->cb, t->ud, msg };
		ae_run_as(n, p, call_receiver, &d);
		ae_fast_packet_done(&n->spare_msg, msg);
		return 1;
	}
	json_array_insert_new(msg, 0, json_stringn_nocheck(tag, len));
	return 0;
}

/*
 * Delivers msg (stolen), made as ae_fast_packet() makes it, to p, which
 * may be dead or NULL: with tag (len bytes that need no escaping; NULL:
 * none) in front, the tag not made when p has a receiver for it.
 */
void
ae_port_deliver_fast(aemp_node *n, struct aemp_port *p, const char *tag,
    size_t len, json_t *msg)
{
	if (tag == NULL || !deliver_fast_tagged(n, p, tag, len, msg))
		ae_port_deliver(n, p, msg);
}

/* Delivers msg (stolen) to local port name; "" is the node port. */
void
ae_kernel_deliver(aemp_node *n, const char *name, json_t *msg,
    struct aemp_remote *from)
{
	if (*name == '\0') {
		ae_kernel_node_request(n, msg, from);
		json_decref(msg);
		return;
	}
	ae_port_deliver(n, ae_dict_get(&n->ports, name), msg);
}

/*
 * Delivers [tag, msg...] (msg stolen; tag is len bytes that need no
 * escaping) to port name: a receiver for the tag gets msg as it is, which
 * saves making the tag's string only to remove it again.
 */
void
ae_kernel_deliver_tagged(aemp_node *n, const char *name, const char *tag,
    size_t len, json_t *msg, struct aemp_remote *from)
{
	struct aemp_port *p = n->last_rcv;

	/* a stream of packets mostly goes to one port: no lookup for it */
	if (p == NULL || strcmp(PORT_NAME(p), name) != 0)
		p = n->last_rcv = *name ? ae_dict_get(&n->ports, name) : NULL;
	if (!deliver_fast_tagged(n, p, tag, len, msg))
		ae_kernel_deliver(n, name, msg, from);
}

/*
 * The remote node of port (its first nodelen bytes). Senders mostly send
 * to one node many times over, and a remote lives as long as the node:
 * the last one is kept.
 */
struct aemp_remote *
ae_remote_of(aemp_node *n, const char *port, size_t nodelen)
{
	struct aemp_remote *r = n->last_remote;

	if (r == NULL || r->idlen != nodelen ||
	    memcmp(r->id, port, nodelen) != 0) {
		/* most node IDs are short: no malloc() for them */
		char buf[128], *nodeid = nodelen < sizeof buf ? buf :
		    ae_xmalloc(nodelen + 1);
		memcpy(nodeid, port, nodelen);
		nodeid[nodelen] = '\0';
		r = n->last_remote = ae_remote_get(n, nodeid, 1);
		if (nodeid != buf)
			free(nodeid);
	}
	return r;
}

int
aemp_snd(aemp_node *n, const char *port, json_t *msg)
{
	struct aemp_remote *r;
	const char *name;
	size_t nodelen;

	if (!json_is_array(msg)) {
		json_decref(msg);
		return ae_node_error(n, "snd: message must be a JSON array");
	}
	if (port == NULL || *port == '\0') {
		json_decref(msg);
		return ae_node_error(n, "snd: empty port ID");
	}
	/*
	 * A program sending to a local port over and over passes the ID
	 * that aemp_port() returned: the same pointer needs no lookup.
	 */
	if (n->last_port != NULL && port == n->last_port->id &&
	    !n->last_port->dead) {
		struct defer *d = ae_node_defer(n, DEFER_DELIVER);
		d->to = n->last_port;
		d->msg = msg;
		return 0;
	}
	/* split once: ae_is_local() and the remote's name alike */
	name = id_split(port, &nodelen);
	if ((r = ae_remote_last(n, port, nodelen)) != NULL) {
		ae_remote_send_name(r, name, msg);
		return 0;
	}
	if (nodelen == n->idlen && memcmp(port, n->id, nodelen) == 0) {
		struct aemp_port *p = *name ? ae_dict_get(&n->ports, name) : NULL;
		struct defer *d = ae_node_defer(n, DEFER_DELIVER);
		if (p != NULL)
			n->last_port = p;
		/*
		 * A live port is remembered as such: it is freed only by a
		 * kill queued behind this message. Otherwise the name is
		 * looked up at delivery (a spawn may be queued before it).
		 */
		if (p != NULL && !p->dead)
			d->to = p;
		else
			d->port = ae_xstrdup(name);
		d->msg = msg;
		return 0;
	}
	ae_remote_send_name(ae_remote_of(n, port, nodelen), name, msg);
	return 0;
}

/* --- kill --------------------------------------------------------------- */

void
ae_port_kill(aemp_node *n, struct aemp_port *p, json_t *reason)
{
	struct defer *d;

	if (p->dead) {
		json_decref(reason);
		return;
	}
	/*
	 * The port stays in the table, dead, until the deferred kill runs:
	 * delivery stops now, but a monitor that arrives meanwhile still
	 * gets the real reason, as with the reference's postponed kill.
	 */
	p->dead = 1;
	n->stats.ports_killed++;
	d = ae_node_defer(n, DEFER_KILL);
	d->dead = p;
	d->msg = reason != NULL ? reason : json_array();
}

int
aemp_kil(aemp_node *n, const char *port, json_t *reason)
{
	const char *name;
	size_t nodelen;

	if (reason != NULL && !json_is_array(reason)) {
		json_t *wrapped = json_array();
		json_array_append_new(wrapped, reason);
		reason = wrapped;
	}
	name = id_split(port, &nodelen);
	if (*name == '\0') {
		json_decref(reason);
		return ae_node_error(n, "%s: killing a node port is not allowed",
		    port);
	}
	if (ae_is_local(n, port, &name)) {
		struct aemp_port *p = ae_dict_get(&n->ports, name);
		if (p != NULL)
			ae_port_kill(n, p, reason);
		else
			json_decref(reason);
		return 0;
	} else {
		char *nodeid = ae_xstrndup(port, nodelen);
		struct aemp_remote *r = ae_remote_get(n, nodeid, 1);
		json_t *pkt = json_pack("[ss]", "kil", name);
		free(nodeid);
		if (reason != NULL)
			json_array_extend(pkt, reason);
		json_decref(reason);
		ae_remote_send_name(r, "", pkt);
	}
	return 0;
}

void
ae_run_kill(aemp_node *n, struct aemp_port *p, json_t *reason)
{
	struct mon_list *ml = PORT_MONS(p);

	if (json_array_size(reason) > 0 && (ml == NULL ||
	    TAILQ_EMPTY(&ml->mons))) {
		char *text = aemp_words(reason);
		ae_node_log_limited(n, 2, "unmonitored ports died", NULL,
		    "unmonitored local port %s died with reason: %s", p->id,
		    text);
		free(text);
	}
	if (ml != NULL)
		ae_mon_list_fire(n, ml, reason);
	ae_port_free(n, p);
}

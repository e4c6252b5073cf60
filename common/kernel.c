/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * kernel.c: local ports, receivers and delivery, kill, monitors, spawn,
 * cal, after and the node port's requests (AEMP.md sections 4 and 5).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "names.h"
#include "xmalloc.h"

static void port_kill(aemp_node *, struct aemp_port *, json_t *reason);

/* --- identifiers --------------------------------------------------------- */

/* The port name part of an ID ("" for a node port); *nodelen its node part. */
const char *
kernel_split(const char *id, size_t *nodelen)
{
	const char *hash = strchr(id, '#');

	if (hash == NULL) {
		*nodelen = strlen(id);
		return id + *nodelen;
	}
	*nodelen = (size_t)(hash - id);
	return hash + 1;
}

char *
aemp_node_of(const char *port)
{
	size_t len;

	kernel_split(port, &len);
	return xstrndup(port, len);
}

static int
is_local(aemp_node *n, const char *id, const char **name)
{
	size_t len;

	*name = kernel_split(id, &len);
	return len == strlen(n->id) && memcmp(id, n->id, len) == 0;
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
kernel_port_name(aemp_node *n, int remote)
{
	char name[PORT_NAME_MAX], *copy;

	port_name_into(n, remote, name);
	copy = xstrdup(name);
	return copy;
}

/* --- ports -------------------------------------------------------------- */

/* A port named name, whose hash (dict_prefetch()) is hash. */
static struct aemp_port *
port_new_hashed(aemp_node *n, const char *name, size_t hash)
{
	size_t idlen = strlen(n->id), namelen = strlen(name);
	struct aemp_port *p;

	/* the ID starts inside the struct's tail padding */
	if (idlen >= 1u << 30)
		abort();
	p = xmalloc(offsetof(struct aemp_port, id) + idlen + 1 + namelen + 1);
	memset(p, 0, offsetof(struct aemp_port, id));
	memcpy(p->id, n->id, idlen);
	p->id[idlen] = '#';
	memcpy(p->id + idlen + 1, name, namelen + 1);
	p->nameoff = (unsigned)idlen + 1;
	dict_put_hashed(&n->ports, PORT_NAME(p), hash, p);
	n->stats.ports_created++;
	return p;
}

static struct aemp_port *
port_new(aemp_node *n, const char *name)
{
	return port_new_hashed(n, name, dict_prefetch(&n->ports, name));
}

/* The port's monitor list, created on first use. */
static struct mon_list *
port_mons(struct aemp_port *p)
{
	if (p->mons == NULL) {
		p->mons = xcalloc(1, sizeof *p->mons);
		p->mons->portid = p->id;
	}
	return p->mons;
}

static void
port_free(aemp_node *n, struct aemp_port *p)
{
	struct rcv_tag *t, *next;

	if (n->last_port == p)
		n->last_port = NULL;
	if (n->last_rcv == p)
		n->last_rcv = NULL;
	for (t = p->tags; t != NULL; t = next) {
		next = t->next;
		free(t);
	}
	free(p->mons);
	free(p);
}

static struct aemp_port *
port_lookup(aemp_node *n, const char *id)
{
	const char *name;

	struct aemp_port *p;

	/* the ID aemp_port() returned for the port used last: no lookup */
	if ((p = n->last_port) != NULL && id == p->id && !p->dead)
		return p;
	if (!is_local(n, id, &name) || *name == '\0')
		return NULL;
	p = dict_get(&n->ports, name);
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
		p = port_new(n, name);
	}
	p->cb = cb;
	p->ud = ud;
	/* a new port is often given its receivers or a message next */
	n->last_port = p;
	/*
	 * A big table misses the cache on every insert: the next port's
	 * name is made and its slot fetched while the program works with
	 * this one.
	 */
	n->next_counter = n->counter + 1;
	port_name_format(n, 0, n->next_counter, n->next_port);
	n->next_hash = dict_prefetch(&n->ports, n->next_port);
	return p->id;
}

int
aemp_port_exists(aemp_node *n, const char *id)
{
	return port_lookup(n, id) != NULL;
}

int
aemp_rcv(aemp_node *n, const char *port, const char *tag, aemp_rcv_fn cb,
    void *ud)
{
	struct aemp_port *p = port_lookup(n, port);
	struct rcv_tag **tp, *t;

	if (p == NULL)
		return node_error(n, "rcv: %s is not a local port", port);
	if (tag == NULL) {
		p->cb = cb;
		p->ud = ud;
		return 0;
	}
	for (tp = &p->tags; *tp != NULL; tp = &(*tp)->next)
		if (strcmp((*tp)->tag, tag) == 0)
			break;
	if (cb == NULL) {
		if ((t = *tp) != NULL) {
			*tp = t->next;
			free(t);
		}
		return 0;
	}
	if (*tp == NULL) {
		size_t len = strlen(tag);
		*tp = xmalloc(sizeof **tp + len + 1);
		(*tp)->next = NULL;
		memcpy((*tp)->tag, tag, len + 1);
	}
	(*tp)->cb = cb;
	(*tp)->ud = ud;
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
static void
run_as(aemp_node *n, struct aemp_port *p, int (*call)(aemp_node *,
    struct aemp_port *, void *), void *arg)
{
	const char *prev = n->self;
	int rc;

	free(n->die_msg);
	n->die_msg = NULL;
	n->self = p->id;
	rc = call(n, p, arg);
	n->self = prev;
	if (rc < 0)
		port_kill(n, p, json_pack("[ss]", "die",
		    n->die_msg != NULL ? n->die_msg : "receiver failed"));
	free(n->die_msg);
	n->die_msg = NULL;
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

/* p's receiver for tag (len bytes), or NULL. */
static struct rcv_tag *
tag_find(struct aemp_port *p, const char *tag, size_t len)
{
	struct rcv_tag *t;

	for (t = p->tags; t != NULL; t = t->next)
		if (strlen(t->tag) == len && memcmp(t->tag, tag, len) == 0)
			break;
	return t;
}

/* Delivers msg (stolen) to port p, which may be dead or NULL. */
static void
port_deliver(aemp_node *n, struct aemp_port *p, json_t *msg)
{
	struct delivery d = { NULL, NULL, msg };
	json_t *tag;
	struct rcv_tag *t = NULL;

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
		d.cb = p->cb;
		d.ud = p->ud;
	}
	if (d.cb == NULL)
		port_kill(n, p, json_pack("[ss]", "die",
		    "received message on port without callback"));
	else
		run_as(n, p, call_receiver, &d);
	json_decref(msg);
}

/* Delivers msg (stolen) to local port name; "" is the node port. */
void
kernel_deliver(aemp_node *n, const char *name, json_t *msg,
    struct aemp_remote *from)
{
	if (*name == '\0') {
		kernel_node_request(n, msg, from);
		json_decref(msg);
		return;
	}
	port_deliver(n, dict_get(&n->ports, name), msg);
}

/*
 * Delivers [tag, msg...] (msg stolen; tag is len bytes that need no
 * escaping) to port name: a receiver for the tag gets msg as it is, which
 * saves making the tag's string only to remove it again.
 */
void
kernel_deliver_tagged(aemp_node *n, const char *name, const char *tag,
    size_t len, json_t *msg, struct aemp_remote *from)
{
	struct aemp_port *p = n->last_rcv;
	struct rcv_tag *t;

	/* a stream of packets mostly goes to one port: no lookup for it */
	if (p == NULL || strcmp(PORT_NAME(p), name) != 0)
		p = n->last_rcv = *name ? dict_get(&n->ports, name) : NULL;

	if (p != NULL && !p->dead && (t = tag_find(p, tag, len)) != NULL &&
	    t->cb != NULL) {
		struct delivery d = { t->cb, t->ud, msg };
		run_as(n, p, call_receiver, &d);
		json_decref(msg);
		return;
	}
	json_array_insert_new(msg, 0, json_stringn_nocheck(tag, len));
	kernel_deliver(n, name, msg, from);
}

/*
 * The remote node of port (its first nodelen bytes). Senders mostly send
 * to one node many times over, and a remote lives as long as the node:
 * the last one is kept.
 */
static struct aemp_remote *
remote_of(aemp_node *n, const char *port, size_t nodelen)
{
	struct aemp_remote *r = n->last_remote;

	if (r == NULL || strncmp(r->id, port, nodelen) != 0 ||
	    r->id[nodelen] != '\0') {
		/* most node IDs are short: no malloc() for them */
		char buf[128], *nodeid = nodelen < sizeof buf ? buf :
		    xmalloc(nodelen + 1);
		memcpy(nodeid, port, nodelen);
		nodeid[nodelen] = '\0';
		r = n->last_remote = remote_get(n, nodeid, 1);
		if (nodeid != buf)
			free(nodeid);
	}
	return r;
}

int
aemp_snd(aemp_node *n, const char *port, json_t *msg)
{
	const char *name;
	size_t nodelen;

	if (!json_is_array(msg)) {
		json_decref(msg);
		return node_error(n, "snd: message must be a JSON array");
	}
	if (port == NULL || *port == '\0') {
		json_decref(msg);
		return node_error(n, "snd: empty port ID");
	}
	/*
	 * A program sending to a local port over and over passes the ID
	 * that aemp_port() returned: the same pointer needs no lookup.
	 */
	if (n->last_port != NULL && port == n->last_port->id &&
	    !n->last_port->dead) {
		struct defer *d = node_defer(n, DEFER_DELIVER);
		d->to = n->last_port;
		d->msg = msg;
		return 0;
	}
	if (is_local(n, port, &name)) {
		struct aemp_port *p = *name ? dict_get(&n->ports, name) : NULL;
		struct defer *d = node_defer(n, DEFER_DELIVER);
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
			d->port = xstrdup(name);
		d->msg = msg;
		return 0;
	}
	name = kernel_split(port, &nodelen);
	remote_send_name(remote_of(n, port, nodelen), name, msg);
	return 0;
}

/*
 * json_pack()'s plain items, one value each, and what its format skips;
 * modifiers ("s#", "o?", ...) and nesting are not among them.
 */
static int
plain_format(const char *fmt)
{
	for (; *fmt != '\0'; fmt++)
		if (strchr("siIfbnoO \t\n,:", *fmt) == NULL)
			return 0;
	return 1;
}

/*
 * Builds the message of a plain format as json_pack() would, without its
 * format parser, which cost more than the message itself. Every argument
 * is taken, so that "o" values are released on error too, as jansson
 * does. Returns NULL with *why set on error.
 */
static json_t *
pack_plain(const char *fmt, va_list ap, const char **why)
{
	json_t *msg = json_array(), *v;
	const char *s;

	*why = NULL;
	for (; *fmt != '\0'; fmt++) {
		switch (*fmt) {
		case 's':
			s = va_arg(ap, const char *);
			v = s != NULL ? json_string_fast(s) : NULL;
			if (v == NULL && *why == NULL)
				*why = s == NULL ? "NULL string" :
				    "Invalid UTF-8 string";
			break;
		case 'i':
			v = json_integer(va_arg(ap, int));
			break;
		case 'I':
			v = json_integer(va_arg(ap, json_int_t));
			break;
		case 'f':
			if ((v = json_real(va_arg(ap, double))) == NULL &&
			    *why == NULL)
				*why = "Invalid floating point value";
			break;
		case 'b':
			v = json_boolean(va_arg(ap, int));
			break;
		case 'n':
			v = json_null();
			break;
		case 'o':
		case 'O':
			v = va_arg(ap, json_t *);
			if (v == NULL && *why == NULL)
				*why = "NULL object";
			else if (*fmt == 'O')
				json_incref(v);
			break;
		default:
			continue;	/* what the format skips */
		}
		if (*why != NULL)
			json_decref(v);
		else
			json_array_append_new(msg, v);
	}
	if (*why != NULL) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

#define DIRECT_STRINGS	16	/* "s" items the direct path takes */

/*
 * aemp_sndf() to a port on a connected node, with a format of s, i, I, b
 * and n items whose strings are plain bytes (what a tag and most payloads
 * are): the packet is written straight into the connection's queue, the
 * bytes the message would have been dumped as, without a message built
 * and freed again, which was most of the cost of sending. Returns 1 when
 * sent; 0, with ap untouched, when the general path takes it (tracing,
 * other items, strings that need escapes or may not be UTF-8, a node not
 * connected, a name that needs escapes).
 */
static int
sndf_direct(aemp_node *n, const char *port, const char *fmt, va_list ap)
{
	struct aemp_remote *r;
	struct bytes *out;
	const char *name, *f, *s;
	size_t nodelen, namelen, need, before, lens[DIRECT_STRINGS], ns = 0;
	size_t at;
	char *p;
	va_list aq;

	if (n->trace || port == NULL || *port == '\0' ||
	    is_local(n, port, &name) || !transport_plain_name(name, &namelen))
		return 0;
	kernel_split(port, &nodelen);
	if ((r = remote_of(n, port, nodelen))->conn == NULL)
		return 0;
	need = namelen + 4;
	va_copy(aq, ap);
	for (f = fmt; *f != '\0'; f++) {
		switch (*f) {
		case 's':
			s = va_arg(aq, const char *);
			if (s == NULL || ns == DIRECT_STRINGS)
				goto general;
			lens[ns] = strlen(s);
			if (plain_span(s, lens[ns]) != lens[ns])
				goto general;
			need += lens[ns++] + 3;
			break;
		case 'i':
		case 'b':
			(void)va_arg(aq, int);
			need += FAST_INT + 1;
			break;
		case 'I':
			(void)va_arg(aq, json_int_t);
			need += FAST_INT + 1;
			break;
		case 'n':
			need += 5;
			break;
		case ' ': case '\t': case '\n': case ',': case ':':
			break;
		default:
			goto general;
		}
	}
	va_end(aq);
	out = &r->conn->out;
	before = out->len;
	p = bytes_reserve(out, need);
	p[0] = '[';
	p[1] = '"';
	memcpy(p + 2, name, namelen);
	p[namelen + 2] = '"';
	at = namelen + 3;
	for (f = fmt, ns = 0; *f != '\0'; f++) {
		switch (*f) {
		case 's':
			s = va_arg(ap, const char *);
			p[at++] = ',';
			p[at++] = '"';
			memcpy(p + at, s, lens[ns]);
			at += lens[ns++];
			p[at++] = '"';
			break;
		case 'i':
			p[at++] = ',';
			at += fast_int(va_arg(ap, int), p + at);
			break;
		case 'I':
			p[at++] = ',';
			at += fast_int(va_arg(ap, json_int_t), p + at);
			break;
		case 'b':
			p[at++] = ',';
			at += va_arg(ap, int) ? (memcpy(p + at, "true", 4), 4) :
			    (memcpy(p + at, "false", 5), 5);
			break;
		case 'n':
			memcpy(p + at, ",null", 5);
			at += 5;
			break;
		}
	}
	p[at++] = ']';
	bytes_commit(out, at);
	remote_sent_bytes(r, before);
	return 1;
general:
	va_end(aq);
	return 0;
}

int
aemp_sndf(aemp_node *n, const char *port, const char *fmt, ...)
{
	va_list ap;
	char *afmt;
	json_t *msg;
	json_error_t jerr;
	const char *why;
	char buf[128];
	size_t len = strlen(fmt);

	va_start(ap, fmt);
	if (sndf_direct(n, port, fmt, ap)) {
		va_end(ap);
		return 0;
	}
	if (plain_format(fmt)) {
		msg = pack_plain(fmt, ap, &why);
		va_end(ap);
		if (msg == NULL)
			return node_error(n, "sndf: %s", why);
		return aemp_snd(n, port, msg);
	}
	/* formats are short: build "[fmt]" without a malloc() */
	if (len + 3 <= sizeof buf) {
		buf[0] = '[';
		memcpy(buf + 1, fmt, len);
		buf[len + 1] = ']';
		buf[len + 2] = '\0';
		afmt = buf;
	} else
		afmt = xasprintf("[%s]", fmt);
	msg = json_vpack_ex(&jerr, 0, afmt, ap);
	va_end(ap);
	if (afmt != buf)
		free(afmt);
	if (msg == NULL)
		return node_error(n, "sndf: %s", jerr.text);
	return aemp_snd(n, port, msg);
}

/* --- kill --------------------------------------------------------------- */

static void
port_kill(aemp_node *n, struct aemp_port *p, json_t *reason)
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
	d = node_defer(n, DEFER_KILL);
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
	name = kernel_split(port, &nodelen);
	if (*name == '\0') {
		json_decref(reason);
		return node_error(n, "%s: killing a node port is not allowed",
		    port);
	}
	if (is_local(n, port, &name)) {
		struct aemp_port *p = dict_get(&n->ports, name);
		if (p != NULL)
			port_kill(n, p, reason);
		else
			json_decref(reason);
		return 0;
	} else {
		char *nodeid = xstrndup(port, nodelen);
		struct aemp_remote *r = remote_get(n, nodeid, 1);
		json_t *pkt = json_pack("[ss]", "kil", name);
		free(nodeid);
		if (reason != NULL)
			json_array_extend(pkt, reason);
		json_decref(reason);
		remote_send_name(r, "", pkt);
	}
	return 0;
}

static void
run_kill(aemp_node *n, struct aemp_port *p, json_t *reason)
{
	if (json_array_size(reason) > 0 && (p->mons == NULL ||
	    p->mons->head == NULL)) {
		char *text = aemp_words(reason);
		node_log_limited(n, 2, "unmonitored ports died", NULL,
		    "unmonitored local port %s died with reason: %s", p->id,
		    text);
		free(text);
	}
	if (p->mons != NULL)
		mon_list_fire(n, p->mons, reason);
	port_free(n, p);
}

/* --- monitors ----------------------------------------------------------- */

static void
mon_link(struct mon_list *l, struct aemp_mon *m)
{
	m->list = l;
	m->next = NULL;
	m->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = m;
	else
		l->head = m;
	l->tail = m;
}

void
mon_unlink(struct aemp_mon *m)
{
	struct mon_list *l = m->list;

	if (l == NULL)
		return;
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		l->head = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	else
		l->tail = m->prev;
	m->list = NULL;
	m->prev = m->next = NULL;
}

void
mon_free(struct aemp_mon *m)
{
	free(m->other);
	json_decref(m->msg);
	free(m);
}

static void
mon_fire(aemp_node *n, struct aemp_mon *m, const char *portid, json_t *reason)
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
		dict_del(&m->remote->rmon, m->other);
		msg = json_pack("[ss]", "kil0", m->other);
		json_array_extend(msg, reason);
		remote_send_name(m->remote, "", msg);
		break;
	}
}

/*
 * Fires and frees every monitor on l. The monitors move to a list on the
 * stack first, so that an action may cancel a monitor that has yet to fire
 * or add new monitors to l without disturbing this walk.
 */
void
mon_list_fire(aemp_node *n, struct mon_list *l, json_t *reason)
{
	struct mon_list firing = *l;
	struct aemp_mon *m;

	l->head = l->tail = NULL;
	/* a cancel during the walk only unlinks: the list is the caller's */
	firing.remote = NULL;
	for (m = firing.head; m != NULL; m = m->next)
		m->list = &firing;
	while ((m = firing.head) != NULL) {
		mon_unlink(m);
		m->prev = m->next = m;	/* "pending": a cancel now defuses it */
		if (m->kind != MON_CB || m->cb != NULL)
			mon_fire(n, m, firing.portid, reason);
		mon_free(m);
	}
}

static struct aemp_mon *
mon_new(enum mon_kind kind)
{
	struct aemp_mon *m = xcalloc(1, sizeof *m);

	m->kind = kind;
	return m;
}

static struct mon_list *
remote_mon_list(aemp_node *n, const char *port, size_t nodelen,
    const char *name)
{
	char *nodeid = xstrndup(port, nodelen);
	struct aemp_remote *r = remote_get(n, nodeid, 1);
	struct mon_list *l = dict_get(&r->lmon, name);

	free(nodeid);
	if (l != NULL)
		return l;
	l = xcalloc(1, sizeof *l);
	l->remote = r;
	l->portid = xstrdup(port);
	l->name = xstrdup(name);
	dict_put(&r->lmon, l->name, l);
	if (*name != '\0')
		remote_send_name(r, "", json_pack("[ss]", "mon1", name));
	else if (r->conn == NULL)
		remote_connect(r);
	return l;
}

static void
remote_mon_list_free(struct mon_list *l)
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

	if (is_local(n, port, &name)) {
		struct aemp_port *p = *name ? dict_get(&n->ports, name) : NULL;
		if (p != NULL)
			mon_link(port_mons(p), m);
		else if (*name != '\0') {
			/* fires later, from the deferred queue */
			struct defer *d = node_defer(n, DEFER_MON_FIRE);
			d->mon = m;
			d->port = xstrdup(port);
			d->msg = json_pack("[sss]", "no_such_port",
			    "cannot monitor nonexistent port", port);
			m->list = NULL;
			m->prev = m->next = m;	/* marks "pending in defer" */
		}
		/* our own node port never dies while we run: never fires */
		return m;
	}
	name = kernel_split(port, &nodelen);
	mon_link(remote_mon_list(n, port, nodelen, name), m);
	return m;
}

aemp_mon *
aemp_mon_cb(aemp_node *n, const char *port, aemp_mon_fn cb, void *ud)
{
	struct aemp_mon *m = mon_new(MON_CB);

	m->cb = cb;
	m->ud = ud;
	return mon_attach(n, port, m);
}

aemp_mon *
aemp_mon_kill(aemp_node *n, const char *port, const char *other)
{
	struct aemp_mon *m = mon_new(MON_KILL);

	m->other = xstrdup(other);
	return mon_attach(n, port, m);
}

aemp_mon *
aemp_mon_snd(aemp_node *n, const char *port, const char *to, json_t *msg)
{
	struct aemp_mon *m = mon_new(MON_SND);

	m->other = xstrdup(to);
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
	if (m->prev == m) {
		m->cb = NULL;	/* pending in defer: it frees it unfired */
		m->kind = MON_CB;
		return;
	}
	l = m->list;
	mon_unlink(m);
	mon_free(m);
	if (l != NULL && l->remote != NULL && l->head == NULL) {
		struct aemp_remote *r = l->remote;
		dict_del(&r->lmon, l->name);
		/* queued behind its mon1 while we are still connecting */
		if (*l->name != '\0')
			remote_send_name(r, "", json_pack("[ss]", "mon0",
			    l->name));
		remote_mon_list_free(l);
	}
	(void)n;
}

/* A remote node went away: every monitor on its ports fires with reason. */
void
kernel_remote_down(aemp_node *n, struct aemp_remote *r, json_t *reason)
{
	struct mon_list **lists;
	struct dict_entry *e;
	size_t pos = 0, count = r->lmon.count, i = 0;

	lists = xcalloc(count + 1, sizeof *lists);
	while ((e = dict_next(&r->lmon, &pos)) != NULL)
		lists[i++] = e->value;
	dict_clear(&r->lmon);
	pos = 0;
	while ((e = dict_next(&r->rmon, &pos)) != NULL) {
		struct aemp_mon *m = e->value;
		mon_unlink(m);
		mon_free(m);
	}
	dict_clear(&r->rmon);
	/* detached from r: cancels while these fire must not free them */
	for (i = 0; i < count; i++)
		lists[i]->remote = NULL;
	for (i = 0; i < count; i++) {
		mon_list_fire(n, lists[i], reason);
		remote_mon_list_free(lists[i]);
	}
	free(lists);
}

/* --- spawn and functions ------------------------------------------------- */

int
aemp_register_func(aemp_node *n, const char *name, aemp_func_fn fn, void *ud)
{
	struct func *f;

	if (!pkg_name_valid(name, 0))
		return node_error(n, "invalid function name '%s'", name);
	f = dict_get(&n->funcs, name);
	if (f == NULL) {
		f = xcalloc(1, sizeof *f);
		f->name = xstrdup(name);
		dict_put(&n->funcs, f->name, f);
	}
	f->fn = fn;
	f->ud = ud;
	return 0;
}

void
aemp_set_resolver(aemp_node *n, aemp_resolve_fn fn, void *ud)
{
	n->resolve = fn;
	n->resolve_ud = ud;
}

/* The registered function name, after asking the resolver if need be. */
static struct func *
func_lookup(aemp_node *n, const char *name)
{
	struct func *f = NULL;

	while (pkg_name_valid(name, 0) &&
	    (f = dict_get(&n->funcs, name)) == NULL && n->resolve != NULL &&
	    n->resolve(n, name, n->resolve_ud) == 0)
		;
	return f;
}

struct spawn_call {
	struct func	*f;
	json_t		*args;
};

static int
call_func(aemp_node *n, struct aemp_port *p, void *arg)
{
	struct spawn_call *c = arg;

	return c->f->fn(n, p->id, c->args, c->f->ud);
}

/* Creates port name and runs func(args) as it; args is borrowed. */
static void
spawn_run(aemp_node *n, const char *name, const char *func, json_t *args)
{
	struct spawn_call c;
	struct aemp_port *p;

	if (*name == '\0' || strchr(name, '#') != NULL ||
	    dict_get(&n->ports, name) != NULL) {
		node_log_limited(n, 2, "spawn: refused port names", NULL,
		    "spawn: refusing port name '%s'", name);
		return;
	}
	/*
	 * As with the reference, the port exists only once the function
	 * resolves: otherwise it never did, and a monitor of it (the mon1
	 * that follows a spawn, in the same read or not) always reports
	 * no_such_port rather than racing a delayed kill.
	 */
	c.f = func_lookup(n, func);
	c.args = args;
	if (c.f == NULL) {
		node_log_limited(n, 2, "spawn: unknown functions", NULL,
		    "spawn: unable to resolve function %s", func);
		return;
	}
	p = port_new(n, name);
	run_as(n, p, call_func, &c);
}

char *
aemp_spawn(aemp_node *n, const char *node, const char *func, json_t *args)
{
	char *name = kernel_port_name(n, 1), *id;
	const char *dummy;

	if (args == NULL)
		args = json_array();
	id = xasprintf("%s#%s", node, name);
	if (is_local(n, node, &dummy)) {
		struct defer *d = node_defer(n, DEFER_SPAWN);
		d->port = name;
		d->func = xstrdup(func);
		d->msg = args;
		return id;
	}
	{
		struct aemp_remote *r = remote_get(n, node, 1);
		json_t *pkt = json_pack("[sss]", "AnyEvent::MP::_spawn", name,
		    func);
		json_array_extend(pkt, args);
		json_decref(args);
		remote_send_name(r, "", pkt);
	}
	free(name);
	return id;
}

/* --- cal ----------------------------------------------------------------- */

struct cal {
	aemp_cal_fn	 cb;
	void		*ud;
	char		*rport;
	aemp_timer	*timer;
	aemp_mon	*target_mon;
	int		 done;
};

static void
cal_finish(aemp_node *n, struct cal *c, json_t *reply)
{
	if (c->done)
		return;
	c->done = 1;
	c->cb(n, reply, c->ud);
	aemp_kil(n, c->rport, NULL);
}

static int
cal_reply(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	(void)self;
	cal_finish(n, ud, msg);
	return 0;
}

static void
cal_timeout(aemp_node *n, void *ud)
{
	struct cal *c = ud;

	c->timer = NULL;
	cal_finish(n, c, NULL);
}

static void
cal_target_died(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct cal *c = ud;

	(void)port; (void)reason;
	c->target_mon = NULL;
	cal_finish(n, c, NULL);
}

static void
cal_rport_died(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct cal *c = ud;

	(void)port; (void)reason;
	aemp_timer_cancel(n, c->timer);
	aemp_mon_cancel(n, c->target_mon);
	free(c->rport);
	free(c);
}

int
aemp_cal(aemp_node *n, const char *port, json_t *msg, aemp_cal_fn cb,
    void *ud, double timeout)
{
	struct cal *c;

	if (!json_is_array(msg)) {
		json_decref(msg);
		return node_error(n, "cal: message must be a JSON array");
	}
	c = xcalloc(1, sizeof *c);
	c->cb = cb;
	c->ud = ud;
	c->rport = xstrdup(aemp_port(n, cal_reply, c));
	json_array_append_new(msg, json_string(c->rport));
	aemp_mon_cb(n, c->rport, cal_rport_died, c);
	if (timeout > 0)
		c->timer = aemp_after(n, timeout, cal_timeout, c);
	else
		c->target_mon = aemp_mon_cb(n, port, cal_target_died, c);
	return aemp_snd(n, port, msg);
}

/* --- after --------------------------------------------------------------- */

static void
timer_unlink(aemp_node *n, aemp_timer *t)
{
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		n->timers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
}

static void
timer_free(aemp_timer *t)
{
	ntimer_free(t->node, t->ev);
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
	timer_unlink(n, t);
	t->prev = t->next = t;	/* firing: a cancel from cb only defuses */
	if (t->port != NULL) {
		aemp_snd(n, t->port, t->msg);
		t->msg = NULL;
	} else if (t->cb != NULL)
		t->cb(n, t->ud);
	timer_free(t);
}

static aemp_timer *
timer_new(aemp_node *n, double seconds)
{
	aemp_timer *t = xcalloc(1, sizeof *t);
	t->node = n;
	t->ev = ntimer_new(n, 0, timer_fired, t);
	t->next = n->timers;
	if (n->timers != NULL)
		n->timers->prev = t;
	n->timers = t;
	ntimer_add(n, t->ev, seconds);
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

	t->port = xstrdup(port);
	t->msg = msg;
	return t;
}

void
aemp_timer_cancel(aemp_node *n, aemp_timer *t)
{
	if (t == NULL)
		return;
	if (t->prev == t) {
		t->cb = NULL;	/* its own callback: timer_fired frees it */
		return;
	}
	timer_unlink(n, t);
	timer_free(t);
}

/* --- deferred work ------------------------------------------------------- */

void
kernel_run_defer(aemp_node *n, struct defer *d)
{
	switch (d->kind) {
	case DEFER_DELIVER:
		if (n->freeing)
			json_decref(d->msg);
		else if (d->to != NULL)
			/* killed since? then whoever has its name now */
			port_deliver(n, d->to->dead ? dict_get(&n->ports,
			    PORT_NAME(d->to)) : d->to, d->msg);
		else
			kernel_deliver(n, d->port, d->msg, NULL);
		break;
	case DEFER_KILL:
		dict_del(&n->ports, PORT_NAME(d->dead));
		if (!n->freeing)
			run_kill(n, d->dead, d->msg);
		else {
			/* monitors die with the node, unfired */
			struct aemp_mon *m;
			while (d->dead->mons != NULL &&
			    (m = d->dead->mons->head) != NULL) {
				mon_unlink(m);
				mon_free(m);
			}
			port_free(n, d->dead);
		}
		json_decref(d->msg);
		break;
	case DEFER_MON_FIRE:
		/* a cancelled pending monitor is an MON_CB without cb */
		if (!n->freeing && (d->mon->kind != MON_CB || d->mon->cb != NULL))
			mon_fire(n, d->mon, d->port, d->msg);
		mon_free(d->mon);
		json_decref(d->msg);
		break;
	case DEFER_SPAWN:
		if (!n->freeing)
			spawn_run(n, d->port, d->func, d->msg);
		json_decref(d->msg);
		break;
	case DEFER_CALL:
		if (!n->freeing && d->fn != NULL)
			d->fn(n, d->ud);
		break;
	case DEFER_FREE:
		d->fn(n, d->ud);
		break;
	}
	free(d->port);
	free(d->func);
}

/* --- nodes ---------------------------------------------------------------- */

aemp_watch *
aemp_mon_nodes(aemp_node *n, aemp_nodes_fn cb, void *ud)
{
	aemp_watch *w = xcalloc(1, sizeof *w);

	w->nodes_cb = cb;
	w->ud = ud;
	w->next = n->node_watches;
	if (w->next != NULL)
		w->next->prev = w;
	n->node_watches = w;
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

static void
watch_sweep(aemp_watch **head)
{
	aemp_watch *w = *head, *next;

	for (; w != NULL; w = next) {
		next = w->next;
		if (!w->cancelled)
			continue;
		if (w->prev != NULL)
			w->prev->next = w->next;
		else
			*head = w->next;
		if (w->next != NULL)
			w->next->prev = w->prev;
		free(w->group);
		free(w);
	}
}

void
kernel_nodes_event(aemp_node *n, const char *id, int up, json_t *reason)
{
	aemp_watch *w;

	/* a callback may cause another node event: sweep only outermost */
	n->node_watch_depth++;
	for (w = n->node_watches; w != NULL; w = w->next)
		if (!w->cancelled)
			w->nodes_cb(n, id, up, reason, w->ud);
	if (--n->node_watch_depth == 0)
		watch_sweep(&n->node_watches);
}

json_t *
aemp_up_nodes(aemp_node *n)
{
	json_t *a = json_array();
	struct dict_entry *e;
	size_t pos = 0;

	while ((e = dict_next(&n->remotes, &pos)) != NULL) {
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
	while ((e = dict_next(&n->remotes, &pos)) != NULL)
		json_array_append_new(a, json_string(dict_key(&n->remotes, e)));
	return a;
}

int
aemp_node_is_up(aemp_node *n, const char *id)
{
	struct aemp_remote *r = dict_get(&n->remotes, id);

	return r != NULL && r->conn != NULL;
}

/* --- the node port -------------------------------------------------------- */

/*
 * The node port's snd: packets on a connection are processed in order,
 * so a relay from a peer to a local port is delivered now, like a packet
 * addressed to that port directly, and not overtaken by the next one.
 */
static void
relay(aemp_node *n, const char *to, json_t *msg, struct aemp_remote *from)
{
	const char *name;

	if (from != NULL && is_local(n, to, &name) && *name != '\0')
		kernel_deliver(n, name, msg, NULL);
	else
		aemp_snd(n, to, msg);
}

/* snd(@reply, values...): reply is [PORTID, leading elements...]. */
static void
reply_to(aemp_node *n, json_t *reply, json_t *values)
{
	const char *port = json_id(json_array_get(reply, 0));
	json_t *msg;

	if (port == NULL) {
		json_decref(values);
		return;
	}
	msg = json_array();
	for (size_t i = 1; i < json_array_size(reply); i++)
		json_array_append(msg, json_array_get(reply, i));
	json_array_extend(msg, values);
	json_decref(values);
	aemp_snd(n, port, msg);
}

/* Elements from index i on, as a new array. */
static json_t *
rest(json_t *a, size_t i)
{
	json_t *r = json_array();

	for (; i < json_array_size(a); i++)
		json_array_append(r, json_array_get(a, i));
	return r;
}

static void
req_mon1(aemp_node *n, const char *name, struct aemp_remote *from)
{
	struct aemp_port *p = dict_get(&n->ports, name);
	struct aemp_mon *m;
	char *id;

	if (p == NULL) {
		id = xasprintf("%s#%s", n->id, name);
		remote_send_name(from, "", json_pack("[sssss]", "kil0", name,
		    "no_such_port", "cannot monitor nonexistent port", id));
		free(id);
		return;
	}
	if (dict_get(&from->rmon, name) != NULL)
		return;
	m = mon_new(MON_REMOTE);
	m->remote = from;
	m->other = xstrdup(name);
	dict_put(&from->rmon, m->other, m);
	mon_link(port_mons(p), m);
}

/*
 * A message from `from` to local port name could not be represented and
 * is lost (libaemp(3), VALUES FROM PERL NODES). The link stays up for
 * everybody else's traffic; the AEMP guarantee (no holes after a monitor
 * is set) is kept by firing `from`'s monitor of that one port, as a
 * transport loss would: its node sees kil0 with a transport_error reason.
 */
void
kernel_drop(aemp_node *n, const char *name, const char *why,
    struct aemp_remote *from)
{
	struct aemp_mon *m = name != NULL ? dict_get(&from->rmon, name) : NULL;
	json_t *reason;

	/* a peer can send these at will: limited, and the name cut short */
	node_log_limited(n, 2, "undecodable messages", from->id, "%s sent "
	    "%s%.100s a message that cannot be represented here (%s): "
	    "dropped it%s.", from->id, name != NULL ? "port " : "a port",
	    name != NULL ? name : "", why, m != NULL ?
	    ", and fired its monitor of that port" : "");
	if (m == NULL)
		return;
	reason = json_pack("[sss+]", "transport_error", n->id,
	    "message dropped: ", why);
	mon_unlink(m);
	mon_fire(n, m, NULL, reason);
	mon_free(m);
	json_decref(reason);
}

static void
req_mon0(aemp_node *n, const char *name, struct aemp_remote *from)
{
	struct aemp_mon *m = dict_del(&from->rmon, name);

	(void)n;
	if (m != NULL) {
		mon_unlink(m);
		mon_free(m);
	}
}

static void
req_kil0(aemp_node *n, const char *name, json_t *reason,
    struct aemp_remote *from)
{
	struct mon_list *l = dict_del(&from->lmon, name);

	if (l == NULL)
		return;
	mon_list_fire(n, l, reason);
	remote_mon_list_free(l);
}

static void
req_function(aemp_node *n, const char *tag, json_t *args)
{
	struct func *f = func_lookup(n, tag);

	if (f == NULL) {
		node_log_limited(n, 2, "node port requests for unregistered "
		    "functions", NULL, "node port request '%s' is not a "
		    "registered function, ignored", tag);
		return;
	}
	if (f->fn(n, n->id, args, f->ud) < 0)
		aemp_log(n, 2, "node port function %s failed: %s", tag,
		    n->die_msg ? n->die_msg : "error");
	free(n->die_msg);
	n->die_msg = NULL;
}

/*
 * A request to the node port: msg is [TAG, args...]. Malformed requests
 * are logged and ignored: a peer's mistake must not take the node down.
 */
void
kernel_node_request(aemp_node *n, json_t *msg, struct aemp_remote *from)
{
	const char *tag = json_id(json_array_get(msg, 0));
	const char *arg1 = json_id(json_array_get(msg, 1));
	json_t *args;

	if (tag == NULL || *tag == '\0')
		return;
	if (strcmp(tag, "devnull") == 0) {
		if (from != NULL && json_is_string(json_array_get(msg, 1)) &&
		    strcmp(json_string_value(json_array_get(msg, 1)),
		    "aemp-probe") == 0)
			remote_probe_answer(from, msg);
		return;
	}
	args = rest(msg, 1);
	if (strcmp(tag, "mon1") == 0 || strcmp(tag, "mon0") == 0 ||
	    strcmp(tag, "kil0") == 0 || strcmp(tag, "kil") == 0) {
		if (arg1 == NULL)
			goto malformed;
		if (strcmp(tag, "kil") == 0) {
			struct aemp_port *p = *arg1 ? dict_get(&n->ports, arg1) :
			    NULL;
			if (p != NULL)
				port_kill(n, p, rest(msg, 2));
		} else if (from == NULL)
			;	/* only meaningful between nodes */
		else if (strcmp(tag, "mon1") == 0)
			req_mon1(n, arg1, from);
		else if (strcmp(tag, "mon0") == 0)
			req_mon0(n, arg1, from);
		else {
			json_t *reason = rest(msg, 2);
			req_kil0(n, arg1, reason, from);
			json_decref(reason);
		}
	} else if (strcmp(tag, "snd") == 0) {
		if (arg1 == NULL)
			goto malformed;
		relay(n, arg1, rest(msg, 2), from);
	} else if (strcmp(tag, "snd_multiple") == 0) {
		size_t i;
		json_t *v;
		json_array_foreach(args, i, v) {
			const char *to = json_id(json_array_get(v, 0));
			if (to != NULL)
				relay(n, to, rest(v, 1), from);
		}
	} else if (strcmp(tag, "info") == 0)
		reply_to(n, args, json_pack("[s]", n->id));
	else if (strcmp(tag, "known_nodes") == 0)
		reply_to(n, args, aemp_known_nodes(n));
	else if (strcmp(tag, "up_nodes") == 0)
		reply_to(n, args, aemp_up_nodes(n));
	else if (strcmp(tag, "time") == 0)
		reply_to(n, args, json_pack("[f]", node_now()));
	else if (strcmp(tag, STATS_REQUEST) == 0)	/* stats.c */
		reply_to(n, args, json_pack("[o]", aemp_stats(n)));
	else if (strcmp(tag, "eval") == 0) {
		json_t *reply = rest(msg, 2);
		const char *code = json_string_value(json_array_get(msg, 1));
		/*
		 * "1" is how aemp (shell, restart) asks whether a node
		 * evaluates Perl: an expected question, not an attempt to
		 * run code.
		 */
		if (code != NULL && strcmp(code, "1") == 0)
			aemp_log(n, 8, "eval probe%s%s: this node does not "
			    "evaluate Perl", from ? " from " : "",
			    from ? from->id : "");
		else
			node_log_limited(n, 2, "refused eval requests", NULL,
			    "refusing eval request%s%s", from ? " from " : "",
			    from ? from->id : "");
		reply_to(n, reply, json_pack("[s]",
		    "eval is not supported by this node"));
		json_decref(reply);
	} else if (strcmp(tag, "AnyEvent::MP::_spawn") == 0) {
		const char *func = json_id(json_array_get(msg, 2));
		json_t *fargs;
		if (arg1 == NULL || func == NULL)
			goto malformed;
		fargs = rest(msg, 3);
		spawn_run(n, arg1, func, fargs);
		json_decref(fargs);
	} else
		req_function(n, tag, args);
	json_decref(args);
	return;
malformed:
	{
		char *text = json_dumps(msg, JSON_COMPACT);
		node_log_limited(n, 2, "malformed node port requests", NULL,
		    "malformed node port request%s%s: %.200s",
		    from ? " from " : "", from ? from->id : "", text);
		free(text);
	}
	json_decref(args);
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
		while (p->mons != NULL && (m = p->mons->head) != NULL) {
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
	while (n->timers != NULL) {
		aemp_timer *t = n->timers;
		timer_unlink(n, t);
		timer_free(t);
	}
	for (w = n->node_watches; w != NULL; w = w->next)
		w->cancelled = 1;
	watch_sweep(&n->node_watches);
	for (w = n->grp_watches; w != NULL; w = w->next)
		w->cancelled = 1;
	watch_sweep(&n->grp_watches);
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * global.c: the global service (AEMP.md section 7): the full mesh built by
 * spawning AnyEvent::MP::Global::connect on every node that comes up,
 * master selection, and the receivers of that connect port. Seeds are in
 * seed.c, the group registry in group.c.
 */
#include <sys/random.h>
#include <arpa/inet.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "global.h"
#include "names.h"
#include "xmalloc.h"

/*
 * What a peer can make us do is bounded. Nodes it tells us about are
 * connected at most PACE_INFLIGHT at a time (an attempt lasts at most
 * monitor_timeout), so announcing 10,000 nodes starts no connection
 * storm; at most PENDING_MAX wait behind them, and at most ADDRS_MAX
 * addresses are kept per node.
 */
#define PACE_INFLIGHT	16
#define PACE_INTERVAL	0.05
#define PENDING_MAX	16384
#define ADDRS_MAX	64
#define NODEID_MAX	255
#define LOGTEXT_MAX	4096
#define TABLE_ALWAYS	8	/* nodes start_node always tells (below) */

/* --- small helpers -------------------------------------------------------- */

/* A number in [0, 1) from the node's own generator (xorshift64*). */
double
ae_global_random(aemp_node *n)
{
	uint64_t x = n->global->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	n->global->rng = x;
	return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* What the global service knows of node's addresses, or NULL. */
json_t *
ae_global_node_addrs(aemp_node *n, const char *node)
{
	return n->global != NULL ? json_object_get(n->global->addr, node) :
	    NULL;
}

size_t
ae_global_up_count(aemp_node *n)
{
	struct dict_entry *e;
	size_t pos = 0, up = 0;

	while ((e = ae_dict_next(&n->remotes, &pos)) != NULL)
		up += ((struct aemp_remote *)e->value)->conn != NULL;
	return up;
}

static int
valid_nodeid(const char *id)
{
	return strlen(id) <= NODEID_MAX && ae_nodeid_valid(id);
}

/*
 * Addresses learned from peers must be numeric host:port: they are what
 * the peer's listeners are bound to (section 7), and a host name would
 * make us block in the resolver on a peer's say-so.
 */
static int
valid_addr(const char *s)
{
	char *host = NULL, *port = NULL;
	unsigned char buf[16];
	int ok;

	if (ae_hostport_parse(s, &host, &port) < 0)
		return 0;
	ok = host != NULL && aemp_port_connectable(port) &&
	    (inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1);
	free(host);
	free(port);
	return ok;
}

/* The usable addresses in list (a new array); *bad counts the others. */
static json_t *
usable_addrs(json_t *list, size_t *bad)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach(list, i, v) {
		if (json_is_string(v) && valid_addr(json_string_value(v)) &&
		    json_array_size(out) < ADDRS_MAX)
			json_array_append(out, v);
		else
			(*bad)++;
	}
	return out;
}

/* Whether port is on node (a bare node ID is its own node port). */
static int
port_on(const char *port, const char *node)
{
	size_t len;

	id_split(port, &len);
	return len == strlen(node) && memcmp(port, node, len) == 0;
}

/* --- our global ports on other nodes -------------------------------------- */

/*
 * The global ports of every node, or of the nodes in only (an object), as
 * an array of port IDs. Sending can fire monitors that change the table
 * (a connection that fails while we write), so nobody sends while walking
 * it.
 */
static json_t *
gport_list(aemp_node *n, json_t *only)
{
	struct dict_entry *e;
	size_t pos = 0;
	json_t *a = json_array();

	while ((e = ae_dict_next(&n->global->gports, &pos)) != NULL) {
		struct gport *gp = e->value;
		if (only == NULL || json_object_get(only, gp->node) != NULL)
			json_array_append_new(a, json_string(gp->port));
	}
	return a;
}

static void
send_ports(aemp_node *n, json_t *ports, json_t *msg)
{
	size_t i;
	json_t *v;

	json_array_foreach(ports, i, v)
		aemp_snd(n, json_string_value(v), json_deep_copy(msg));
	json_decref(msg);
}

/* Sends msg (stolen) to every node's global port: reg1 and reg0. */
void
ae_global_broadcast(aemp_node *n, json_t *msg)
{
	json_t *ports = gport_list(n, NULL);

	send_ports(n, ports, msg);
	json_decref(ports);
}

/* Sends msg (stolen) to our global port on node, if we have one. */
static void
send_global(aemp_node *n, const char *node, json_t *msg)
{
	struct gport *gp = node ? ae_dict_get(&n->global->gports, node) : NULL;
	char *port;

	if (gp == NULL) {
		json_decref(msg);
		return;
	}
	port = ae_xstrdup(gp->port);
	aemp_snd(n, port, msg);
	free(port);
}

static void
gport_free(struct gport *gp)
{
	free(gp->node);
	free(gp->port);
	free(gp);
}

/*
 * Our port on the node died (the node went down, or killed it): its group
 * members go, and the next node-up or mention in "nodes" starts a new one.
 */
static void
gport_died(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct gport *gp = ud;

	(void)port; (void)reason;
	gp->mon = NULL;
	ae_dict_del(&n->global->gports, gp->node);
	ae_group_unreg_node(n, gp->node);
	gport_free(gp);
}

/*
 * Whether start_node tells node the nodes we know, when we know more than
 * TABLE_ALWAYS (a small table always goes, as the reference's transcripts
 * show). The reference always does, which makes a mesh of N nodes send
 * N * N tables of N nodes. A node with seeds learns every node from its
 * master, which passes on the nodes that connect to it (rcv_seedme1,
 * bcast_fire), so two such nodes need not tell each other: the table
 * goes from a seed or a master (a node that is or seeds others), to our
 * seeds, and from a node without seeds, which knows the others only as
 * the reference would.
 */
static int	node_is_seed(aemp_node *, const char *);
static int	has_other_seeds(aemp_node *);

static int
tells_nodes(aemp_node *n, const char *node)
{
	size_t i;

	if (!has_other_seeds(n) || json_object_size(n->global->seedme) > 0 ||
	    node_is_seed(n, node))
		return 1;
	for (i = 0; i < n->nseeds; i++)
		if (n->seeds[i].self)
			return 1;
	return 0;
}

/*
 * The reference's start_node: spawn the connect port on node and tell it
 * our addresses, the nodes we know, our registrations, and that we are
 * set up, in this order.
 */
static void
start_node(aemp_node *n, const char *node)
{
	struct aemp_global *g = n->global;
	struct gport *gp;
	char *port;

	if (strcmp(node, n->id) == 0 || ae_dict_get(&g->gports, node) != NULL)
		return;
	gp = ae_xcalloc(1, sizeof *gp);
	gp->node = ae_xstrdup(node);
	gp->port = aemp_spawn(n, node, GLOBAL_CONNECT,
	    json_pack("[is]", GLOBAL_VERSION, n->id));
	ae_dict_put(&g->gports, gp->node, gp);
	/* a send may fail the connection and free gp: use a copy */
	port = ae_xstrdup(gp->port);
	gp->mon = aemp_mon_cb(n, port, gport_died, gp);
	/*
	 * The port is on another node, so aemp_snd() encodes each message
	 * before it returns: the tables go out as they are, uncopied (a
	 * node meshing with N others sends N tables of N nodes).
	 */
	aemp_snd(n, port, json_pack("[sO]", "addr", aemp_listeners(n)));
	if (json_object_size(g->addr) > 0 && (json_object_size(g->addr) <=
	    TABLE_ALWAYS || tells_nodes(n, node)))
		aemp_snd(n, port, json_pack("[sO]", "nodes", g->addr));
	if (json_object_size(g->lreg) > 0)
		aemp_snd(n, port, json_pack("[sO]", "set", g->lreg));
	aemp_snd(n, port, json_pack("[s]", "setup"));
	free(port);
}

/* --- master selection ----------------------------------------------------- */

static int
node_is_seed(aemp_node *n, const char *node)
{
	size_t i;

	for (i = 0; node != NULL && i < n->nseeds; i++)
		if (!n->seeds[i].self && n->seeds[i].nodeid != NULL &&
		    strcmp(n->seeds[i].nodeid, node) == 0)
			return 1;
	return 0;
}

/* Node IDs of the seeds that are up (a node behind two seeds counts twice). */
static json_t *
up_seeds(aemp_node *n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n->nseeds; i++) {
		struct seed *s = &n->seeds[i];
		if (!s->self && s->nodeid != NULL &&
		    aemp_node_is_up(n, s->nodeid))
			json_array_append_new(a, json_string(s->nodeid));
	}
	return a;
}

/* Whether a seed address is not (or not known to be) this node itself. */
static int
has_other_seeds(aemp_node *n)
{
	size_t i;

	for (i = 0; i < n->nseeds; i++)
		if (!n->seeds[i].self)
			return 1;
	return 0;
}

static void
set_master(aemp_node *n, const char *node)
{
	struct aemp_global *g = n->global;
	char *old = g->master, *now;

	if (old == node || (old != NULL && node != NULL &&
	    strcmp(old, node) == 0))
		return;
	g->master = node != NULL ? ae_xstrdup(node) : NULL;
	if (old != NULL && aemp_node_is_up(n, old))
		send_global(n, old, json_pack("[s]", "seedme0"));
	free(old);
	if (g->master == NULL) {
		/*
		 * The reference says so at level 1 on every loss. A node
		 * whose seeds are all itself (a lone seed, whose clients
		 * come and go) is where it should be: info, once. With other
		 * seeds it is a warning, once until a seed is master again.
		 */
		if (!g->lonely_logged)
			aemp_log(n, has_other_seeds(n) ? 5 : 7, "no contact to "
			    "any other node, cannot seed.");
		g->lonely_logged = 1;
		return;
	}
	if (node_is_seed(n, g->master))
		g->lonely_logged = 0;
	now = ae_xstrdup(g->master);
	send_global(n, now, json_pack("[s]", "seedme1"));
	aemp_log(n, 7, "selected new master: %s.", now);
	free(now);
}

/*
 * A seed beats a non-seed; a new seed replaces a seed master with a
 * chance that keeps all up seeds equally likely; without a usable master
 * we take a random up seed, else the last up node in sort order.
 */
static void
select_master(aemp_node *n, const char *node, int up)
{
	struct aemp_global *g = n->global;
	json_t *seeds;

	if (up && node_is_seed(n, node)) {
		if (node_is_seed(n, g->master)) {
			seeds = up_seeds(n);
			double k = (double)json_array_size(seeds);
			if (1 < ae_global_random(n) * k)
				set_master(n, node);
			json_decref(seeds);
		} else
			set_master(n, node);
	}
	if (g->master != NULL && aemp_node_is_up(n, g->master))
		return;
	seeds = up_seeds(n);
	if (json_array_size(seeds) > 0) {
		size_t i = (size_t)(ae_global_random(n) *
		    (double)json_array_size(seeds));
		set_master(n, json_string_value(json_array_get(seeds, i)));
	} else {
		json_t *upn = aemp_up_nodes(n), *v;
		const char *last = NULL;
		size_t i;
		json_array_foreach(upn, i, v)
			if (last == NULL || strcmp(json_string_value(v),
			    last) > 0)
				last = json_string_value(v);
		set_master(n, last);
		json_decref(upn);
	}
	json_decref(seeds);
}

/* --- connecting to nodes we learn about ----------------------------------- */

static struct pending *
pend_pop(struct aemp_global *g)
{
	struct pending *p = STAILQ_FIRST(&g->pend_q);

	STAILQ_REMOVE_HEAD(&g->pend_q, entry);
	ae_dict_del(&g->pend, p->node);
	return p;
}

static void
pend_free(struct pending *p)
{
	json_decref(p->addrs);
	free(p->node);
	free(p);
}

/*
 * Starts connecting to waiting nodes while fewer than PACE_INFLIGHT of
 * ours are still trying; a slot frees up when its node is up or the
 * attempt gave up. Runs again every PACE_INTERVAL while work is left.
 */
static void
pace(aemp_node *n)
{
	struct aemp_global *g = n->global;
	size_t i;

	for (i = json_array_size(g->inflight); i-- > 0;) {
		struct aemp_remote *r = ae_dict_get(&n->remotes,
		    json_string_value(json_array_get(g->inflight, i)));
		if (r == NULL || !r->connecting)
			json_array_remove(g->inflight, i);
	}
	while (!STAILQ_EMPTY(&g->pend_q) &&
	    json_array_size(g->inflight) < PACE_INFLIGHT) {
		struct pending *p = pend_pop(g);
		struct aemp_remote *r = ae_remote_get(n, p->node, 1);
		if (r->conn != NULL)
			start_node(n, p->node);
		else {
			ae_remote_add_addrs(r, p->addrs);
			if (!r->connecting) {
				ae_remote_connect(r);
				if (r->connecting)
					json_array_append_new(g->inflight,
					    json_string(p->node));
			}
		}
		pend_free(p);
	}
	/* with nothing waiting, the next call clears finished slots */
	if (!STAILQ_EMPTY(&g->pend_q) && !ae_ntimer_pending(g->pace_ev))
		ae_ntimer_add(n, g->pace_ev, PACE_INTERVAL);
}

static void
pace_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	pace(arg);
}

/*
 * The reference's "$node->connect(@addresses); start_node $id": a node
 * that is up only needs our global port; one that is down is queued for
 * connecting, and start_node follows when it comes up (sending the same
 * packets in the same order as queueing them before would). Returns 0
 * when the queue is full.
 */
static int
learn_node(aemp_node *n, const char *node, json_t *addrs)
{
	struct aemp_global *g = n->global;
	struct aemp_remote *r = ae_dict_get(&n->remotes, node);
	struct pending *p;

	if (r != NULL && r->conn != NULL) {
		start_node(n, node);
		return 1;
	}
	if (r != NULL && r->connecting) {
		ae_remote_add_addrs(r, addrs);
		return 1;
	}
	if ((p = ae_dict_get(&g->pend, node)) != NULL) {
		json_decref(p->addrs);
		p->addrs = json_incref(addrs);
		return 1;
	}
	if (g->pend.count >= PENDING_MAX)
		return 0;
	p = ae_xcalloc(1, sizeof *p);
	p->node = ae_xstrdup(node);
	p->addrs = json_incref(addrs);
	STAILQ_INSERT_TAIL(&g->pend_q, p, entry);
	ae_dict_put(&g->pend, p->node, p);
	return 1;
}

/* --- delayed address broadcast -------------------------------------------- */

static void
bcast_free(struct bcast *b)
{
	ae_ntimer_free(b->n, b->ev);
	json_decref(b->addrs);
	free(b->node);
	free(b);
}

static void
bcast_fire(evutil_socket_t fd, short what, void *arg)
{
	struct bcast *b = arg;
	aemp_node *n = b->n;
	json_t *ports;

	(void)fd; (void)what;
	ae_dict_del(&n->global->bcasts, b->node);
	/* most nodes seed nobody: no walk over every node's port then */
	if (json_object_size(n->global->seedme) > 0) {
		ports = gport_list(n, n->global->seedme);
		send_ports(n, ports, json_pack("[s{sO}]", "nodes", b->node,
		    b->addrs));
		json_decref(ports);
	}
	bcast_free(b);
}

/*
 * Tells the nodes we seed about node's addresses after 2 to 3 seconds,
 * so that the nodes do not all connect to it at the same moment. One
 * broadcast per node is pending at a time; a newer "addr" updates it.
 */
static void
bcast_schedule(aemp_node *n, const char *node, json_t *addrs)
{
	struct aemp_global *g = n->global;
	struct bcast *b = ae_dict_get(&g->bcasts, node);

	if (b != NULL) {
		json_decref(b->addrs);
		b->addrs = json_incref(addrs);
		return;
	}
	b = ae_xcalloc(1, sizeof *b);
	b->n = n;
	b->node = ae_xstrdup(node);
	b->addrs = json_incref(addrs);
	b->ev = ae_ntimer_new(n, 0, bcast_fire, b);
	ae_dict_put(&g->bcasts, b->node, b);
	ae_ntimer_add(n, b->ev, 2 + ae_global_random(n));
}

/* Forgets node's members and addresses, and stops passing them on. */
static void
forget_node(aemp_node *n, const char *node)
{
	struct aemp_global *g = n->global;
	struct bcast *b;

	ae_group_unreg_node(n, node);
	json_object_del(g->addr, node);
	/* what we forget we no longer pass on (the reference still would) */
	if ((b = ae_dict_del(&g->bcasts, node)) != NULL)
		bcast_free(b);
}

/* --- the connect port: what other nodes tell us --------------------------- */

static int
rcv_setup(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	/* the reference runs its on-setup hooks here; there are none */
	(void)n; (void)self; (void)msg; (void)ud;
	return 0;
}

static int
rcv_addr(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct cport *cp = ud;
	json_t *list = json_array_get(msg, 0), *good;
	size_t bad = 0;

	(void)self;
	if (!json_is_array(list)) {
		aemp_log(n, 2, "%s sent addr without an address list, "
		    "ignored.", cp->node);
		return 0;
	}
	if (n->log_level >= 9) {
		char *text = ae_strlist_join(list, " ", LOGTEXT_MAX);
		aemp_log(n, 9, "%s told us its addresses (%s).", cp->node,
		    text);
		free(text);
	}
	good = usable_addrs(list, &bad);
	if (bad > 0)
		aemp_log(n, 2, "%s told us %zu unusable addresses, ignored "
		    "them.", cp->node, bad);
	json_object_set(n->global->addr, cp->node, good);
	/* so that we can connect back to a node that connected to us */
	if (json_array_size(good) > 0)
		ae_remote_add_addrs(ae_remote_get(n, cp->node, 1), good);
	bcast_schedule(n, cp->node, good);
	json_decref(good);
	return 0;
}

/*
 * Whether node is up with our global port on it: all there is to learn
 * about it is done, as for most of a table while a mesh forms.
 */
static int
known_up(aemp_node *n, const char *node)
{
	struct aemp_remote *r = ae_dict_get(&n->remotes, node);

	return r != NULL && r->conn != NULL &&
	    ae_dict_get(&n->global->gports, node) != NULL;
}

static int
rcv_nodes(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct cport *cp = ud;
	json_t *kv = json_array_get(msg, 0), *addrs;
	const char *id;
	size_t badnodes = 0, badaddrs = 0, dropped = 0;

	(void)self;
	if (!json_is_object(kv)) {
		aemp_log(n, 2, "%s sent nodes without a node table, ignored.",
		    cp->node);
		return 0;
	}
	if (n->log_level >= 9) {
		char *text = json_dumps(kv, JSON_COMPACT);
		size_t len = text ? strlen(text) : 0;
		aemp_log(n, 9, "%s told us it knows about %.*s%s.", cp->node,
		    LOGTEXT_MAX, text ? text : "?",
		    len > LOGTEXT_MAX ? "..." : "");
		free(text);
	}
	json_object_foreach(kv, id, addrs) {
		json_t *good;
		size_t bad = 0;
		if (!valid_nodeid(id) || !json_is_array(addrs)) {
			badnodes++;
			continue;
		}
		if (strcmp(id, n->id) == 0 || known_up(n, id))
			continue;
		/* no listener: normal in AEMP, and nothing to learn */
		if (json_array_size(addrs) == 0)
			continue;
		good = usable_addrs(addrs, &bad);
		badaddrs += bad;
		if (json_array_size(good) == 0)
			badnodes++;
		else if (!learn_node(n, id, good))
			dropped++;
		json_decref(good);
	}
	if (badnodes > 0 || badaddrs > 0)
		aemp_log(n, 2, "%s told us about nodes with unusable IDs or "
		    "addresses: ignored %zu nodes and %zu addresses.", cp->node,
		    badnodes, badaddrs);
	if (dropped > 0)
		aemp_log(n, 2, "too many nodes waiting to be connected: "
		    "ignored %zu that %s told us about.", dropped, cp->node);
	pace(n);
	return 0;
}

/* The ports in list that belong to cp's node; *foreign counts the others. */
static json_t *
own_ports(struct cport *cp, json_t *list, size_t *foreign)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach(list, i, v) {
		if (json_is_string(v) && port_on(json_string_value(v),
		    cp->node))
			json_array_append(out, v);
		else
			(*foreign)++;
	}
	return out;
}

static int
rcv_set(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct cport *cp = ud;
	json_t *obj = json_array_get(msg, 0), *ports;
	const char *group;
	size_t foreign = 0;

	(void)self;
	if (!json_is_object(obj)) {
		aemp_log(n, 2, "%s sent set without a group table, ignored.",
		    cp->node);
		return 0;
	}
	json_object_foreach(obj, group, ports) {
		json_t *add;
		if (!json_is_array(ports)) {
			foreign++;
			continue;
		}
		add = own_ports(cp, ports, &foreign);
		ae_group_change(n, group, add, NULL);
		json_decref(add);
	}
	if (foreign > 0)
		aemp_log(n, 2, "%s: ignored %zu group members that are not "
		    "its own ports.", cp->node, foreign);
	return 0;
}

static int
rcv_reg(aemp_node *n, struct cport *cp, json_t *msg, int add)
{
	const char *group = json_id(json_array_get(msg, 0));
	const char *port = json_id(json_array_get(msg, 1));
	json_t *list;

	if (group == NULL || port == NULL) {
		aemp_log(n, 2, "%s sent a malformed reg%d, ignored.", cp->node,
		    add);
		return 0;
	}
	if (!port_on(port, cp->node)) {
		aemp_log(n, 2, "%s: ignored reg%d of %s, which is not its own "
		    "port.", cp->node, add, port);
		return 0;
	}
	list = json_pack("[s]", port);
	ae_group_change(n, group, add ? list : NULL, add ? NULL : list);
	json_decref(list);
	return 0;
}

static int
rcv_reg1(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	(void)self;
	return rcv_reg(n, ud, msg, 1);
}

static int
rcv_reg0(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	(void)self;
	return rcv_reg(n, ud, msg, 0);
}

static int
rcv_find(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct cport *cp = ud;
	const char *other = json_id(json_array_get(msg, 0));
	json_t *addrs;

	(void)self;
	if (other == NULL)
		return 0;
	aemp_log(n, 9, "%s asked us to find %s.", cp->node, other);
	addrs = json_object_get(n->global->addr, other);
	if (addrs != NULL)
		send_global(n, cp->node, json_pack("[s{so}]", "nodes", other,
		    json_deep_copy(addrs)));
	return 0;
}

static int
rcv_seedme1(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct cport *cp = ud;
	struct aemp_global *g = n->global;

	(void)self; (void)msg;
	aemp_log(n, 9, "%s asked us to seed it.", cp->node);
	json_object_set_new(g->seedme, cp->node, json_true());
	if (json_object_size(g->addr) > 0)
		send_global(n, cp->node, json_pack("[sO]", "nodes", g->addr));
	return 0;
}

static int
rcv_seedme0(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct cport *cp = ud;

	(void)self; (void)msg;
	aemp_log(n, 9, "%s asked us to NOT seed it.", cp->node);
	json_object_del(n->global->seedme, cp->node);
	return 0;
}

/*
 * A message with a tag we do not know: the reference's port would die of
 * it and take the node's groups with it; a newer peer is more likely than
 * a broken one, so we let it pass.
 */
static int
rcv_other(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct cport *cp = ud;
	char *text = json_dumps(msg, JSON_COMPACT);

	(void)self;
	ae_node_log_limited(n, 2, "unknown global messages", cp->node,
	    "%s sent an unknown global message %.200s, ignored.", cp->node,
	    text ? text : "?");
	free(text);
	return 0;
}

/*
 * The node that spawned cp is down or was never reachable (a node ID
 * that is not the spawner's own). What it told us goes: node-down does
 * this too, but a node that never came up has no node-down.
 */
static void
cport_node_gone(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct cport *cp = ud;

	(void)port; (void)reason;
	cp->nodemon = NULL;
	json_object_del(n->global->seedme, cp->node);
	if (!aemp_node_is_up(n, cp->node))
		forget_node(n, cp->node);
	aemp_kil(n, cp->self, NULL);	/* quietly */
}

static void
cport_free(struct cport *cp)
{
	free(cp->node);
	free(cp->self);
	free(cp);
}

static void
cport_died(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct cport *cp = ud;

	(void)port; (void)reason;
	if (cp->nodemon != NULL)
		aemp_mon_cancel(n, cp->nodemon);
	LIST_REMOVE(cp, entry);
	cport_free(cp);
}

/* int(version) as Perl computes it, or -1 for what cannot be a version. */
static long long
version_of(json_t *v)
{
	double d = 0;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		d = json_real_value(v);
	else if (json_is_string(v))
		d = strtod(json_string_value(v), NULL);
	if (!isfinite(d) || fabs(d) > 1e15)
		return -1;
	return (long long)d;
}

static const struct {
	const char	*tag;
	aemp_rcv_fn	 fn;
} receivers[] = {
	{ "setup", rcv_setup },
	{ "addr", rcv_addr },
	{ "nodes", rcv_nodes },
	{ "set", rcv_set },
	{ "reg0", rcv_reg0 },
	{ "reg1", rcv_reg1 },
	{ "find", rcv_find },
	{ "seedme0", rcv_seedme0 },
	{ "seedme1", rcv_seedme1 },
};

/*
 * AnyEvent::MP::Global::connect(version, NODE), spawned on us by NODE's
 * start_node: SELF becomes NODE's way into our global service, and dies
 * quietly when NODE goes down.
 */
static int
global_connect(aemp_node *n, const char *self, json_t *args, void *ud)
{
	struct aemp_global *g = n->global;
	json_t *version = json_array_get(args, 0);
	const char *node = json_id(json_array_get(args, 1));
	struct cport *cp;
	size_t i;

	(void)ud;
	if (version_of(version) != GLOBAL_VERSION) {
		char *text = json_is_string(version) ?
		    ae_xstrdup(json_string_value(version)) : version != NULL ?
		    json_dumps(version, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		aemp_die(n, "node version mismatch (requested %.40s; we have "
		    "%d)", text ? text : "", GLOBAL_VERSION);
		free(text);
		return -1;
	}
	if (node == NULL || !valid_nodeid(node) || strcmp(node, n->id) == 0)
		return aemp_die(n, "global connect from an invalid node ID");
	cp = ae_xcalloc(1, sizeof *cp);
	cp->node = ae_xstrdup(node);
	cp->self = ae_xstrdup(self);
	LIST_INSERT_HEAD(&g->cports, cp, entry);
	cp->selfmon = aemp_mon_cb(n, self, cport_died, cp);
	cp->nodemon = aemp_mon_cb(n, node, cport_node_gone, cp);
	aemp_rcv(n, self, NULL, rcv_other, cp);
	for (i = 0; i < sizeof receivers / sizeof receivers[0]; i++)
		aemp_rcv(n, self, receivers[i].tag, receivers[i].fn, cp);
	return 0;
}

/* --- node events ---------------------------------------------------------- */

static void
node_up(aemp_node *n, struct aemp_remote *r)
{
	char *node;

	if (n->global == NULL)
		return;
	node = ae_xstrdup(r->id);
	start_node(n, node);
	select_master(n, node, 1);
	free(node);
}

/*
 * Its groups go, its addresses are forgotten, and our master is asked to
 * find it, which reconnects us quickly when only our connection broke.
 */
static void
node_down(aemp_node *n, struct aemp_remote *r)
{
	struct aemp_global *g = n->global;
	char *node;

	if (g == NULL)
		return;
	node = ae_xstrdup(r->id);
	select_master(n, node, 0);
	if (ae_global_up_count(n) == 0)
		ae_seed_more(n);
	forget_node(n, node);
	if (g->master != NULL)
		send_global(n, g->master, json_pack("[ss]", "find", node));
	free(node);
}

/* remote.c's report */
static void
remote_event(aemp_node *n, struct aemp_remote *r, enum remote_event ev,
    json_t *reason)
{
	(void)reason;
	if (ev == REMOTE_UP)
		node_up(n, r);
	else if (ev == REMOTE_DOWN)
		node_down(n, r);
}

/* --- life cycle ----------------------------------------------------------- */

void
ae_global_start(aemp_node *n)
{
	struct aemp_global *g = ae_xcalloc(1, sizeof *g);

	n->global = g;
	if (getrandom(&g->rng, sizeof g->rng, 0) != sizeof g->rng)
		g->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	g->rng |= 1;	/* xorshift must not start at 0 */
	g->addr = json_object();
	g->seedme = json_object();
	g->inflight = json_array();
	ae_dict_init(&g->gports, gport_key);
	ae_dict_init(&g->bcasts, bcast_key);
	ae_dict_init(&g->pend, pending_key);
	STAILQ_INIT(&g->pend_q);
	g->pace_ev = ae_ntimer_new(n, 0, pace_tick, n);
	ae_group_init(n);

	aemp_log(n, 7, "starting global service.");
	aemp_register_func(n, GLOBAL_CONNECT, global_connect, NULL);
	ae_remote_on_event(n, remote_event);
	ae_seed_start(n);
}

/*
 * Frees what the service owns. Monitors and ports it created belong to
 * the kernel, which frees them unfired after this.
 */
void
ae_global_free(aemp_node *n)
{
	struct aemp_global *g = n->global;
	struct dict_entry *e;
	size_t pos;

	ae_seed_free(n);
	if (g == NULL)
		return;
	ae_group_free(n);
	pos = 0;
	while ((e = ae_dict_next(&g->gports, &pos)) != NULL)
		gport_free(e->value);
	ae_dict_clear(&g->gports);
	pos = 0;
	while ((e = ae_dict_next(&g->bcasts, &pos)) != NULL)
		bcast_free(e->value);
	ae_dict_clear(&g->bcasts);
	while (!STAILQ_EMPTY(&g->pend_q))
		pend_free(pend_pop(g));
	ae_dict_clear(&g->pend);
	while (!LIST_EMPTY(&g->cports)) {
		struct cport *cp = LIST_FIRST(&g->cports);
		LIST_REMOVE(cp, entry);
		cport_free(cp);
	}
	ae_ntimer_free(n, g->pace_ev);
	json_decref(g->inflight);
	json_decref(g->addr);
	json_decref(g->seedme);
	free(g->master);
	free(g);
	n->global = NULL;
}

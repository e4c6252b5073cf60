/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_global.c: the global service (AEMP.md section 7) with several
 * nodes in one process on 127.0.0.1: full mesh through a seed, master
 * selection, global groups, and what peers can throw at the connect port.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "nodeutil.h"
#include "remote.h"
#include "transport.h"

static struct event_base *base;

static void
setup(void)
{
	tn_isolate();
	base = event_base_new();
}

static void
teardown(void)
{
	event_base_free(base);
}

/* Runs the loop until cond(n, s, t, k) holds or seconds pass. */
typedef int (*cond_fn)(aemp_node *, const char *, const char *, long);

static int
wait_cond(cond_fn cond, aemp_node *n, const char *s, const char *t, long k,
    double seconds)
{
	double end = test_now() + seconds;

	while (!cond(n, s, t, k) && test_now() < end)
		tn_run_for(base, 0.02);
	return cond(n, s, t, k);
}

#define wait_for(cond, n, s, k, secs) \
	wait_cond(cond, n, s, NULL, k, secs)
#define wait_is(n, group, port, secs) \
	wait_cond(group_is, n, group, port, 0, secs)

static int
is_up(aemp_node *n, const char *id, const char *unused, long up)
{
	(void)unused;
	return aemp_node_is_up(n, id) == up;
}

static int
group_size(aemp_node *n, const char *group, const char *unused, long size)
{
	json_t *g = aemp_grp_get(n, group);
	long have = (long)json_array_size(g);

	(void)unused;
	json_decref(g);
	return have == size;
}

/* Whether group is exactly the one port. */
static int
group_is(aemp_node *n, const char *group, const char *port, long unused)
{
	json_t *g = aemp_grp_get(n, group);
	int ok = json_array_size(g) == 1 &&
	    strcmp(json_string_value(json_array_get(g, 0)), port) == 0;

	(void)unused;
	json_decref(g);
	return ok;
}

static int
group_has(aemp_node *n, const char *group, const char *port)
{
	json_t *g = aemp_grp_get(n, group), *v;
	size_t i;
	int found = 0;

	json_array_foreach(g, i, v)
		found |= strcmp(json_string_value(v), port) == 0;
	json_decref(g);
	return found;
}

static int
known(aemp_node *n, const char *id)
{
	json_t *k = aemp_known_nodes(n), *v;
	size_t i;
	int found = 0;

	json_array_foreach(k, i, v)
		found |= strcmp(json_string_value(v), id) == 0;
	json_decref(k);
	return found;
}

static size_t
known_count(aemp_node *n)
{
	json_t *k = aemp_known_nodes(n);
	size_t c = json_array_size(k);

	json_decref(k);
	return c;
}

static aemp_node *
seeded(const char *id, aemp_node *seed, json_t *extra)
{
	json_t *cfg = json_pack("{s[s]}", "seeds", tn_addr(seed));

	if (extra != NULL) {
		json_object_update(cfg, extra);
		json_decref(extra);
	}
	return tn_node(base, id, cfg);
}

struct box {
	int	 got;
	int	 count;
	json_t	*all, *added, *removed, *reason;
};

static void
box_clear(struct box *b)
{
	json_decref(b->all);
	json_decref(b->added);
	json_decref(b->removed);
	json_decref(b->reason);
	memset(b, 0, sizeof *b);
}

static void
keep_change(aemp_node *n, const char *group, json_t *all, json_t *added,
    json_t *removed, void *ud)
{
	struct box *b = ud;

	(void)n; (void)group;
	json_decref(b->all);
	json_decref(b->added);
	json_decref(b->removed);
	b->all = json_incref(all);
	b->added = json_incref(added);
	b->removed = json_incref(removed);
	b->got = 1;
	b->count++;
}

static void
count_change(aemp_node *n, const char *group, json_t *all, json_t *added,
    json_t *removed, void *ud)
{
	(void)n; (void)group; (void)all; (void)added; (void)removed;
	(*(int *)ud)++;
}

static void
keep_reason(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct box *b = ud;

	(void)n; (void)port;
	json_decref(b->reason);
	b->reason = json_incref(reason);
	b->got = 1;
	b->count++;
}

/* A connect port of b's on a, as if b's global service had spawned it. */
static char *
fake_connect(aemp_node *b, const char *a, json_t *version)
{
	return aemp_spawn(b, a, "AnyEvent::MP::Global::connect",
	    json_pack("[os]", version, aemp_nodeid(b)));
}

/* --- the mesh and groups ------------------------------------------------- */

START_TEST(mesh_groups_and_master)
{
	struct tn_log alog = { 0 };
	aemp_node *s, *a, *b;
	char *pa, *pb, *pb2;
	struct box mon = { 0 };
	aemp_grp *ga;

	setenv("AEMP_WARNLEVEL", "9", 1);
	s = tn_node(base, "seed", NULL);
	a = seeded("alpha", s, NULL);
	tn_log_capture(a, &alog);
	b = seeded("beta", s, NULL);
	/* copies: a port's ID goes with the port */
	pa = strdup(aemp_port(a, NULL, NULL));
	pb = strdup(aemp_port(b, NULL, NULL));
	ga = aemp_grp_reg(a, "g", pa);
	ck_assert_ptr_nonnull(ga);
	ck_assert_ptr_nonnull(aemp_grp_reg(b, "g", pb));

	/* full mesh: alpha and beta find each other through the seed */
	ck_assert(wait_for(is_up, a, "beta", 1, 5));
	ck_assert(wait_for(is_up, b, "alpha", 1, 2));
	ck_assert(wait_for(group_size, s, "g", 2, 3));
	ck_assert(wait_for(group_size, a, "g", 2, 3));
	ck_assert(wait_for(group_size, b, "g", 2, 3));
	ck_assert(tn_log_has(&alog, "selected new master: seed."));

	/* a monitor starts later, with the members as added */
	aemp_grp_mon(s, "g", keep_change, &mon);
	ck_assert_int_eq(mon.got, 0);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(mon.count, 1);
	ck_assert_int_eq(json_array_size(mon.all), 2);
	ck_assert_int_eq(json_array_size(mon.added), 2);
	ck_assert_int_eq(json_array_size(mon.removed), 0);

	/* a port that dies leaves its groups everywhere */
	aemp_kil(b, pb, NULL);
	ck_assert(wait_is(s, "g", pa, 3));
	ck_assert(wait_is(a, "g", pa, 3));
	ck_assert_int_eq(json_array_size(mon.removed), 1);
	ck_assert_str_eq(json_string_value(json_array_get(mon.removed, 0)),
	    pb);

	/* releasing the guard unregisters */
	aemp_grp_unreg(a, ga);
	ck_assert(wait_for(group_size, s, "g", 0, 3));
	ck_assert(wait_for(group_size, b, "g", 0, 3));
	ck_assert_ptr_null(aemp_grp_get(s, "g"));

	/* a node that goes down takes its members along */
	pb2 = strdup(aemp_port(b, NULL, NULL));
	ck_assert_ptr_nonnull(aemp_grp_reg(b, "g", pb2));
	ck_assert(wait_is(s, "g", pb2, 3));
	ck_assert(wait_is(a, "g", pb2, 3));
	aemp_free(b);
	ck_assert(wait_for(group_size, s, "g", 0, 3));
	ck_assert(wait_for(group_size, a, "g", 0, 3));
	ck_assert(tn_log_has(&alog, "beta is down"));

	box_clear(&mon);
	aemp_free(a);
	aemp_free(s);
	free(alog.text);
	free(pa);
	free(pb);
	free(pb2);
}
END_TEST

START_TEST(group_api)
{
	aemp_node *n = tn_node(base, "one", NULL);
	char *p = strdup(aemp_port(n, NULL, NULL));
	const char *q;
	struct box first = { 0 }, late = { 0 };
	int cancelled = 0;
	aemp_grp *g1, *g2;
	aemp_watch *w;
	json_t *members;

	ck_assert_ptr_null(aemp_grp_reg(n, "g", "other#x.a"));
	ck_assert(strstr(aemp_error(n), "local ports") != NULL);
	ck_assert_ptr_null(aemp_grp_reg(n, "g", "one#nonexistent.a"));
	g1 = aemp_grp_reg(n, "g", p);
	ck_assert_ptr_nonnull(g1);
	ck_assert_ptr_null(aemp_grp_reg(n, "g", p));
	ck_assert(strstr(aemp_error(n), "already registered") != NULL);
	g2 = aemp_register(n, "h", p);	/* the tutorial's name */
	ck_assert_ptr_nonnull(g2);

	members = aemp_find(n, "g");
	ck_assert_int_eq(json_array_size(members), 1);
	ck_assert_str_eq(json_string_value(json_array_get(members, 0)), p);
	json_decref(members);
	ck_assert_ptr_null(aemp_grp_get(n, "nope"));

	/* the first call is delayed and only for a non-empty group */
	aemp_grp_mon(n, "g", keep_change, &first);
	w = aemp_grp_mon(n, "g", count_change, &cancelled);
	aemp_watch_cancel(n, w);
	aemp_grp_mon(n, "e", keep_change, &late);
	ck_assert_int_eq(first.count, 0);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(first.count, 1);
	ck_assert(json_equal(first.all, first.added));
	ck_assert_int_eq(json_array_size(first.removed), 0);
	ck_assert_int_eq(late.count, 0);
	ck_assert_ptr_nonnull(aemp_grp_reg(n, "e", p));
	ck_assert_int_eq(late.count, 1);
	ck_assert_str_eq(json_string_value(json_array_get(late.added, 0)), p);

	/* the port dies: out of every group, and the guards stay usable */
	aemp_kil(n, p, NULL);
	tn_run_for(base, 0.05);
	ck_assert_ptr_null(aemp_grp_get(n, "g"));
	ck_assert_ptr_null(aemp_grp_get(n, "h"));
	ck_assert_ptr_null(aemp_grp_get(n, "e"));
	ck_assert_int_eq(first.count, 2);
	ck_assert_int_eq(json_array_size(first.all), 0);
	ck_assert_str_eq(json_string_value(json_array_get(first.removed, 0)),
	    p);
	aemp_grp_unreg(n, g1);
	aemp_grp_unreg(n, g2);
	aemp_grp_unreg(n, NULL);
	ck_assert_int_eq(cancelled, 0);

	/* a new port can join again */
	q = aemp_port(n, NULL, NULL);
	g1 = aemp_grp_reg(n, "g", q);
	ck_assert_ptr_nonnull(g1);
	ck_assert_int_eq(first.count, 3);
	aemp_grp_unreg(n, g1);
	ck_assert_int_eq(first.count, 4);
	ck_assert_ptr_null(aemp_grp_get(n, "g"));

	box_clear(&first);
	box_clear(&late);
	aemp_free(n);
	free(p);
}
END_TEST

/* One of several group monitors that note, in turn, who was called. */
struct order_mon {
	char		 name;
	char		*calls;		/* shared: the names, in call order */
	aemp_watch	*self;
	aemp_watch	*cancel;	/* on a change: cancels this one */
	int		 cancel_self;	/* on a change: and itself */
	struct order_mon *start;	/* on a change: starts this one */
	const char	*group;
};

static void
order_change(aemp_node *n, const char *group, json_t *all, json_t *added,
    json_t *removed, void *ud)
{
	struct order_mon *m = ud;
	size_t len = strlen(m->calls);

	(void)group; (void)all; (void)added; (void)removed;
	ck_assert_uint_lt(len, 31);
	m->calls[len] = m->name;
	m->calls[len + 1] = '\0';
	if (json_array_size(all) < 2)
		return;		/* the first call, on start */
	if (m->cancel != NULL)
		aemp_watch_cancel(n, m->cancel);
	if (m->cancel_self)
		aemp_watch_cancel(n, m->self);
	if (m->start != NULL)
		m->start->self = aemp_grp_mon(n, m->group, order_change,
		    m->start);
	m->cancel = NULL;
	m->cancel_self = 0;
	m->start = NULL;
}

/*
 * Group monitors are called in the order they were made, also one made
 * from a callback (after the others); one cancelled during a walk, by
 * another or by itself, is not called again.
 */
START_TEST(group_monitors_in_order)
{
	aemp_node *n = tn_node(base, "one", NULL);
	char *p = strdup(aemp_port(n, NULL, NULL));
	char *q = strdup(aemp_port(n, NULL, NULL));
	char *r = strdup(aemp_port(n, NULL, NULL));
	char calls[32] = "";
	struct order_mon m[4];
	aemp_grp *g1, *g2, *g3;
	int i;

	memset(m, 0, sizeof m);
	for (i = 0; i < 4; i++) {
		m[i].name = (char)('A' + i);
		m[i].calls = calls;
		m[i].group = "g";
	}
	g1 = aemp_grp_reg(n, "g", p);
	for (i = 0; i < 3; i++)
		m[i].self = aemp_grp_mon(n, "g", order_change, &m[i]);
	tn_run_for(base, 0.05);
	ck_assert_str_eq(calls, "ABC");

	/* A cancels C (later in the walk) and starts D; B cancels itself */
	m[0].cancel = m[2].self;
	m[0].start = &m[3];
	m[1].cancel_self = 1;
	calls[0] = '\0';
	g2 = aemp_grp_reg(n, "g", q);
	ck_assert_str_eq(calls, "AB");
	tn_run_for(base, 0.05);
	ck_assert_str_eq(calls, "ABD");	/* D's start, with the members */

	calls[0] = '\0';
	g3 = aemp_grp_reg(n, "g", r);
	ck_assert_str_eq(calls, "AD");

	aemp_watch_cancel(n, m[0].self);
	aemp_watch_cancel(n, m[3].self);
	aemp_grp_unreg(n, g1);
	aemp_grp_unreg(n, g2);
	aemp_grp_unreg(n, g3);
	aemp_free(n);
	free(p);
	free(q);
	free(r);
}
END_TEST

/* --- bad input and faults ------------------------------------------------ */

START_TEST(connect_version_mismatch)
{
	struct tn_log alog = { 0 };
	aemp_node *a, *b;
	struct box bad = { 0 }, ok = { 0 }, self = { 0 };
	char *p1, *p2, *p3;

	setenv("AEMP_WARNLEVEL", "2", 1);
	a = tn_node(base, "alpha", NULL);
	tn_log_capture(a, &alog);
	b = seeded("beta", a, NULL);
	ck_assert(wait_for(is_up, b, "alpha", 1, 5));
	p1 = fake_connect(b, "alpha", json_integer(1));
	aemp_mon_cb(b, p1, keep_reason, &bad);
	/* int(0.5) == 0 */
	p2 = fake_connect(b, "alpha", json_real(0.5));
	aemp_mon_cb(b, p2, keep_reason, &ok);
	p3 = aemp_spawn(b, "alpha", "AnyEvent::MP::Global::connect",
	    json_pack("[is]", 0, "alpha"));	/* names the callee */
	aemp_mon_cb(b, p3, keep_reason, &self);
	/*
	 * The port dies as it is spawned, but its kill is delayed like the
	 * reference's, so beta's mon1 (in the same read) gets the reason.
	 */
	ck_assert(tn_run_until(base, &bad.got, 3));
	ck_assert(tn_run_until(base, &self.got, 3));
	ck_assert_str_eq(json_string_value(json_array_get(bad.reason, 0)),
	    "die");
	ck_assert_str_eq(json_string_value(json_array_get(bad.reason, 1)),
	    "node version mismatch (requested 1; we have 0)");
	ck_assert_str_eq(json_string_value(json_array_get(self.reason, 1)),
	    "global connect from an invalid node ID");
	tn_run_for(base, 0.2);
	ck_assert_int_eq(ok.got, 0);
	/* and the real global ports are untouched */
	ck_assert(aemp_node_is_up(a, "beta"));
	free(p1);
	free(p2);
	free(p3);
	box_clear(&bad);
	box_clear(&ok);
	box_clear(&self);
	aemp_free(b);
	aemp_free(a);
	free(alog.text);
}
END_TEST

START_TEST(bad_nodes_and_addresses)
{
	struct tn_log log = { 0 };
	aemp_node *a, *b;
	struct box died = { 0 };
	char *cp, closed[64];

	setenv("AEMP_WARNLEVEL", "2", 1);
	a = tn_node(base, "alpha", NULL);
	tn_log_capture(a, &log);
	b = seeded("beta", a, NULL);
	ck_assert(wait_for(is_up, b, "alpha", 1, 5));
	cp = fake_connect(b, "alpha", json_integer(0));
	aemp_mon_cb(b, cp, keep_reason, &died);
	aemp_snd(b, cp, json_pack(
	    "[s{ss s[s] s[s] s[i] s[s] s[s] s[s] s[] s[s] s[s]}]",
	    "nodes",
	    "x1", "not an array",
	    "x2", "nonsense",
	    "x3", ":::1",
	    "x4", 1234,
	    "x5", "host.example:4040",
	    "x6#bad", "127.0.0.1:1",
	    "x7", "127.0.0.1:*",
	    "x8",			/* no listener: fine, nothing to learn */
	    "x9", "[nonsense",
	    "x10", "127.0.0.1:0"));	/* binds may say :0, addresses not */
	aemp_snd(b, cp, json_pack("[ss]", "nodes", "not an object"));
	aemp_snd(b, cp, json_pack("[ss]", "addr", "not a list"));
	aemp_snd(b, cp, json_pack("[s[]]", "set"));
	aemp_snd(b, cp, json_pack("[s]", "reg1"));
	aemp_snd(b, cp, json_pack("[s]", "something new"));
	tn_run_for(base, 0.3);
	ck_assert(tn_log_has(&log, "ignored 9 nodes and 7 addresses."));
	ck_assert(tn_log_has(&log, "sent nodes without a node table"));
	ck_assert(tn_log_has(&log, "sent addr without an address list"));
	ck_assert(tn_log_has(&log, "unknown global message"));
	for (int i = 1; i <= 10; i++) {
		char id[8];
		snprintf(id, sizeof id, "x%d", i);
		ck_assert(!known(a, id));
	}
	ck_assert_int_eq(died.got, 0);	/* the port lives on */

	/* and still works: a usable node is connected to */
	snprintf(closed, sizeof closed, "127.0.0.1:%d", test_free_port());
	aemp_snd(b, cp, json_pack("[s{s[ss]}]", "nodes", "gamma", closed,
	    "bogus"));
	tn_run_for(base, 0.1);
	ck_assert(known(a, "gamma"));
	ck_assert_int_eq(died.got, 0);
	free(cp);
	box_clear(&died);
	aemp_free(b);
	aemp_free(a);
	free(log.text);
}
END_TEST

/*
 * An empty address list is normal in AEMP (nodes without listeners; the
 * reference's DataConn empties its own): no warning, as the reference
 * prints none. Addresses that cannot be parsed still get one.
 */
START_TEST(empty_address_lists_are_silent)
{
	struct tn_log log = { 0 };
	aemp_node *a, *b;
	char *cp;

	setenv("AEMP_WARNLEVEL", "2", 1);
	a = tn_node(base, "alpha", NULL);
	tn_log_capture(a, &log);
	b = seeded("beta", a, NULL);
	ck_assert(wait_for(is_up, b, "alpha", 1, 5));
	cp = fake_connect(b, "alpha", json_integer(0));
	aemp_snd(b, cp, json_pack("[s{s[]s[]}]", "nodes", "quiet1", "quiet2"));
	aemp_snd(b, cp, json_pack("[s[]]", "addr"));
	tn_run_for(base, 0.3);
	ck_assert_msg(!tn_log_has(&log, "unusable"), "log: %s", log.text);
	ck_assert(!known(a, "quiet1"));
	aemp_snd(b, cp, json_pack("[s{s[s]}]", "nodes", "loud", "nonsense"));
	aemp_snd(b, cp, json_pack("[s[s]]", "addr", "nonsense"));
	tn_run_for(base, 0.3);
	ck_assert(tn_log_has(&log, "told us about nodes with unusable IDs or "
	    "addresses: ignored 1 nodes and 1 addresses."));
	ck_assert(tn_log_has(&log, "told us 1 unusable addresses"));
	free(cp);
	aemp_free(b);
	aemp_free(a);
	free(log.text);
}
END_TEST

/*
 * "127.0.0.1:0" binds a port the kernel chooses, as with the reference:
 * the node announces that port (its listeners, the global service's addr
 * message) and logs it. A seed must name a port: "127.0.0.1:0" is
 * skipped (check_wire tests aemp_port_connectable()).
 */
START_TEST(ephemeral_bind_announced)
{
	struct tn_log alog = { 0 }, blog = { 0 };
	aemp_node *a, *b;
	const char *addr;
	char want[128];
	int port = 0;

	setenv("AEMP_WARNLEVEL", "9", 1);
	a = tn_node(base, "alpha", json_pack("{s[s]}", "binds",
	    "127.0.0.1:0"));
	ck_assert_ptr_nonnull(a);
	tn_log_capture(a, &alog);
	ck_assert_int_eq(json_array_size(aemp_listeners(a)), 1);
	addr = tn_addr(a);
	ck_assert_int_eq(sscanf(addr, "127.0.0.1:%d", &port), 1);
	ck_assert_int_gt(port, 0);
	/* a seed must say where to connect: port 0 is refused at configure */
	ck_assert_ptr_null(tn_node(base, "gamma", json_pack("{s[s]}", "seeds",
	    "127.0.0.1:0")));
	b = tn_node(base, "beta", json_pack("{s[s]}", "seeds", addr));
	ck_assert_ptr_nonnull(b);
	tn_log_capture(b, &blog);
	ck_assert(wait_for(is_up, b, "alpha", 1, 5));
	snprintf(want, sizeof want, "alpha told us its addresses (%s).", addr);
	for (double end = test_now() + 5; !tn_log_has(&blog, want) && test_now() < end;)
		tn_run_for(base, 0.05);
	ck_assert_msg(tn_log_has(&blog, want), "log: %s", blog.text);
	aemp_free(b);
	aemp_free(a);
	free(alog.text);
	free(blog.text);
}
END_TEST

START_TEST(foreign_ports_ignored)
{
	struct tn_log log = { 0 };
	aemp_node *a, *b;
	char *cp;

	setenv("AEMP_WARNLEVEL", "2", 1);
	a = tn_node(base, "alpha", NULL);
	tn_log_capture(a, &log);
	b = seeded("beta", a, NULL);
	ck_assert(wait_for(is_up, b, "alpha", 1, 5));
	cp = fake_connect(b, "alpha", json_integer(0));
	aemp_snd(b, cp, json_pack("[s{s[sssi]ss}]", "set",
	    "g", "alpha#x.a", "gamma#y.b", "beta#ok.a", 5,
	    "h", "not a list"));
	aemp_sndf(b, cp, "sss", "reg1", "g", "gamma#z.c");
	aemp_sndf(b, cp, "sss", "reg1", "g", "betamax#z.c");
	aemp_sndf(b, cp, "sss", "reg1", "g", "beta#ok2.a");
	aemp_sndf(b, cp, "sss", "reg0", "g", "alpha#x.a");
	ck_assert(wait_for(group_size, a, "g", 2, 2));
	tn_run_for(base, 0.1);
	ck_assert(group_size(a, "g", NULL, 2));
	ck_assert(group_has(a, "g", "beta#ok.a"));
	ck_assert(group_has(a, "g", "beta#ok2.a"));
	ck_assert(!group_has(a, "h", "n"));
	ck_assert(tn_log_has(&log, "ignored 4 group members"));
	ck_assert(tn_log_has(&log, "ignored reg1 of gamma#z.c"));
	ck_assert(tn_log_has(&log, "ignored reg1 of betamax#z.c"));
	/* what beta registered goes when beta goes */
	aemp_free(b);
	ck_assert(wait_for(group_size, a, "g", 0, 2));
	free(cp);
	aemp_free(a);
	free(log.text);
}
END_TEST

/*
 * A connect port naming a node that never comes up (not the spawner):
 * what it registered goes once that node turns out unreachable.
 */
START_TEST(unreachable_node_forgotten)
{
	aemp_node *a = tn_node(base, "alpha", json_pack("{sf}",
	    "monitor_timeout", 0.8));
	aemp_node *b = seeded("beta", a, NULL);
	struct box died = { 0 };
	char closed[64], *cp;

	ck_assert(wait_for(is_up, b, "alpha", 1, 5));
	cp = aemp_spawn(b, "alpha", "AnyEvent::MP::Global::connect",
	    json_pack("[is]", 0, "ghost"));
	aemp_mon_cb(b, cp, keep_reason, &died);
	snprintf(closed, sizeof closed, "127.0.0.1:%d", test_free_port());
	aemp_snd(b, cp, json_pack("[s[s]]", "addr", closed));
	aemp_snd(b, cp, json_pack("[s{s[s]}]", "set", "g", "ghost#x.a"));
	ck_assert(wait_for(group_size, a, "g", 1, 2));
	/* alpha gives up on ghost after monitor_timeout */
	ck_assert(wait_for(group_size, a, "g", 0, 3));
	ck_assert(tn_run_until(base, &died.got, 2));
	ck_assert_int_eq(json_array_size(died.reason), 0);	/* quietly */
	ck_assert(aemp_node_is_up(a, "beta"));
	free(cp);
	box_clear(&died);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/* A reply that came back (cal). */
static void
note_reply(aemp_node *n, json_t *reply, void *ud)
{
	(void)n;
	*(int *)ud = reply != NULL ? 1 : -1;
}

START_TEST(ten_thousand_nodes)
{
	aemp_node *a = tn_node(base, "alpha", json_pack("{si}",
	    "monitor_timeout", 1));
	aemp_node *b = seeded("beta", a, NULL);
	json_t *table = json_object();
	char closed[64], *cp;
	size_t early, later;
	double t0;
	int replied = 0;

	ck_assert(wait_for(is_up, b, "alpha", 1, 5));
	snprintf(closed, sizeof closed, "127.0.0.1:%d", test_free_port());
	for (int i = 0; i < 10000; i++) {
		char id[16];
		snprintf(id, sizeof id, "n%05d", i);
		json_object_set_new(table, id, json_pack("[s]", closed));
	}
	cp = fake_connect(b, "alpha", json_integer(0));
	aemp_snd(b, cp, json_pack("[so]", "nodes", table));
	t0 = test_now();
	tn_run_for(base, 0.3);
	/* bounded: only a few are being connected at once */
	early = known_count(a);
	ck_assert_uint_le(early, 3 + 16 + 16);
	ck_assert_uint_gt(early, 3);
	/* still responsive */
	aemp_cal(b, "alpha", json_pack("[s]", "info"), note_reply, &replied, 2);
	ck_assert(tn_run_until(base, &replied, 2));
	ck_assert_int_eq(replied, 1);
	ck_assert(test_now() - t0 < 1.5);
	/* and spread over time: attempts that give up make room */
	tn_run_for(base, 2.5);
	later = known_count(a);
	ck_assert_uint_gt(later, early);
	ck_assert_uint_le(later, 3 + 16 * 5);
	free(cp);
	aemp_free(b);
	aemp_free(a);	/* with thousands still waiting */
}
END_TEST

START_TEST(flapping_node)
{
	aemp_node *s = tn_node(base, "seed", json_pack("{si}",
	    "monitor_timeout", 2));
	aemp_node *a = seeded("alpha", s, NULL), *b;
	const char *pb;
	json_t *up;

	ck_assert(wait_for(is_up, a, "seed", 1, 5));
	srandom(4711);
	for (int i = 0; i < 8; i++) {
		b = seeded("beta", s, NULL);
		aemp_grp_reg(b, "g", aemp_port(b, NULL, NULL));
		tn_run_for(base, 0.05 + 0.25 * (double)random() / RAND_MAX);
		aemp_free(b);
	}
	b = seeded("beta", s, NULL);
	pb = aemp_port(b, NULL, NULL);
	ck_assert_ptr_nonnull(aemp_grp_reg(b, "g", pb));
	ck_assert(wait_is(s, "g", pb, 5));
	ck_assert(wait_is(a, "g", pb, 5));
	/* and it stays that way once every delayed message has come */
	tn_run_for(base, 3.5);
	ck_assert(group_is(s, "g", pb, 0));
	ck_assert(group_is(a, "g", pb, 0));
	ck_assert(aemp_node_is_up(a, "beta"));
	up = aemp_up_nodes(s);
	ck_assert_int_eq(json_array_size(up), 2);
	json_decref(up);
	aemp_free(b);
	aemp_free(a);
	aemp_free(s);
}
END_TEST

START_TEST(same_node_id_twice)
{
	struct tn_log slog = { 0 };
	aemp_node *s, *d1, *d2;
	const char *p1, *p2;
	json_t *up;

	setenv("AEMP_WARNLEVEL", "9", 1);
	s = tn_node(base, "seed", NULL);
	tn_log_capture(s, &slog);
	d1 = seeded("dup", s, NULL);
	p1 = aemp_port(d1, NULL, NULL);
	aemp_grp_reg(d1, "g", p1);
	ck_assert(wait_is(s, "g", p1, 5));
	d2 = seeded("dup", s, NULL);
	p2 = aemp_port(d2, NULL, NULL);
	aemp_grp_reg(d2, "g", p2);
	tn_run_for(base, 1.5);
	/* the second one is turned away; the first keeps its place */
	ck_assert(tn_log_has(&slog, "dup already connected"));
	ck_assert(group_is(s, "g", p1, 0));
	ck_assert(!aemp_node_is_up(d2, "seed"));
	up = aemp_up_nodes(s);
	ck_assert_int_eq(json_array_size(up), 1);
	json_decref(up);
	/* when the first goes, the second gets in and nothing is mixed up */
	aemp_free(d1);
	ck_assert(wait_for(is_up, d2, "seed", 1, 4));
	ck_assert(wait_is(s, "g", p2, 2));
	aemp_free(d2);
	aemp_free(s);
	free(slog.text);
}
END_TEST

START_TEST(find_after_connection_loss)
{
	struct tn_log slog = { 0 };
	aemp_node *s, *a, *b;
	struct aemp_remote *r;
	double t0;

	setenv("AEMP_WARNLEVEL", "9", 1);
	s = tn_node(base, "seed", NULL);
	tn_log_capture(s, &slog);
	a = seeded("alpha", s, NULL);
	b = seeded("beta", s, NULL);
	ck_assert(wait_for(is_up, a, "beta", 1, 5));
	tn_run_for(base, 0.2);
	/* only the alpha-beta connection breaks */
	r = ae_remote_get(a, "beta", 0);
	ck_assert_ptr_nonnull(r);
	ae_transport_close(r->conn, "test: cable cut");
	t0 = test_now();
	ck_assert(!aemp_node_is_up(a, "beta"));
	/* alpha asks its master, the seed, which still knows beta */
	ck_assert(wait_for(is_up, a, "beta", 1, 3));
	ck_assert(test_now() - t0 < 2);
	ck_assert(tn_log_has(&slog, "alpha asked us to find beta."));
	ck_assert(aemp_node_is_up(s, "alpha"));
	aemp_free(b);
	aemp_free(a);
	aemp_free(s);
	free(slog.text);
}
END_TEST

START_TEST(reseed_when_isolated)
{
	struct tn_log alog = { 0 };
	char addr[64];
	aemp_node *s, *a;
	json_t *binds;

	setenv("AEMP_WARNLEVEL", "9", 1);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", test_free_port());
	binds = json_pack("{s[s]}", "binds", addr);
	s = tn_node(base, "seed", json_deep_copy(binds));
	a = seeded("alpha", s, NULL);
	tn_log_capture(a, &alog);
	ck_assert(wait_for(is_up, a, "seed", 1, 5));
	aemp_free(s);
	ck_assert(wait_for(is_up, a, "seed", 0, 2));
	ck_assert(tn_log_has(&alog,
	    "no contact to any other node, cannot seed."));
	s = tn_node(base, "seed", binds);
	ck_assert_ptr_nonnull(s);
	ck_assert(wait_for(is_up, a, "seed", 1, 3.5));
	ck_assert(tn_log_has(&alog, "selected new master: seed."));
	aemp_free(a);
	aemp_free(s);
	free(alog.text);
}
END_TEST

START_TEST(delayed_address_broadcast)
{
	struct tn_log alog = { 0 };
	aemp_node *s, *a, *b;
	double t0;

	setenv("AEMP_WARNLEVEL", "9", 1);
	s = tn_node(base, "seed", NULL);
	a = seeded("alpha", s, NULL);
	tn_log_capture(a, &alog);
	ck_assert(wait_for(is_up, a, "seed", 1, 5));
	tn_run_for(base, 0.2);	/* the seed now seeds alpha */
	b = seeded("beta", s, NULL);
	ck_assert(wait_for(is_up, s, "beta", 1, 5));
	t0 = test_now();
	/* the seed tells alpha about beta 2 to 3 seconds after beta's addr */
	while (!tn_log_has(&alog, "seed told us it knows about {\"beta\"") &&
	    test_now() - t0 < 4)
		tn_run_for(base, 0.02);
	ck_assert(tn_log_has(&alog, "seed told us it knows about {\"beta\""));
	ck_assert(test_now() - t0 > 1.8);
	aemp_free(b);
	aemp_free(a);
	aemp_free(s);
	free(alog.text);
}
END_TEST

static int
count_text(struct tn_log *log, const char *needle)
{
	int count = 0;
	const char *p = log->text;

	while (p != NULL && (p = strstr(p, needle)) != NULL) {
		count++;
		p += strlen(needle);
	}
	return count;
}

START_TEST(seed_that_is_self_and_seed_master)
{
	struct tn_log alog = { 0 };
	char own[64], trying[128];
	aemp_node *s, *a;

	setenv("AEMP_WARNLEVEL", "9", 1);
	s = tn_node(base, "seed", NULL);
	snprintf(own, sizeof own, "127.0.0.1:%d", test_free_port());
	/* alpha's own address comes first: it is tried, then dropped */
	a = tn_node(base, "alpha", json_pack("{s[s]s[ss]sf}", "binds", own,
	    "seeds", own, tn_addr(s), "connect_interval", 0.1));
	tn_log_capture(a, &alog);
	ck_assert(wait_for(is_up, a, "seed", 1, 5));
	tn_run_for(base, 2.5);
	snprintf(trying, sizeof trying, "trying connect to seed node %s.", own);
	ck_assert_int_le(count_text(&alog, trying), 1);
	ck_assert(tn_log_has(&alog, "selected new master: seed."));
	aemp_free(a);
	aemp_free(s);
	free(alog.text);
}
END_TEST

static int
all_up(aemp_node **nodes, int count)
{
	for (int i = 0; i < count; i++) {
		json_t *up = aemp_up_nodes(nodes[i]);
		int full = json_array_size(up) == (size_t)count - 1;
		json_decref(up);
		if (!full)
			return 0;
	}
	return 1;
}

/*
 * 32 nodes with one seed mesh fully, none goes down on the way (a
 * simultaneous connect keeps one connection on both sides), and nodes
 * that both have the seed do not tell each other the nodes they know
 * once they know many: the seed does.
 */
#define MESH_N	32
START_TEST(mesh_of_32_without_downs)
{
	aemp_node *nodes[MESH_N];
	struct tn_log logs[MESH_N];
	char id[16];
	double end;
	int i, downs = 0, tables = 0;

	setenv("AEMP_WARNLEVEL", "9", 1);
	memset(logs, 0, sizeof logs);
	nodes[0] = tn_node(base, "m0", NULL);
	tn_log_capture(nodes[0], &logs[0]);
	for (i = 1; i < MESH_N; i++) {
		snprintf(id, sizeof id, "m%d", i);
		nodes[i] = seeded(id, nodes[0], NULL);
		tn_log_capture(nodes[i], &logs[i]);
	}
	end = test_now() + 20;
	while (!all_up(nodes, MESH_N) && test_now() < end)
		tn_run_for(base, 0.02);
	ck_assert(all_up(nodes, MESH_N));
	for (i = 0; i < MESH_N; i++)
		downs += count_text(&logs[i], " is down (");
	ck_assert_int_eq(downs, 0);
	/*
	 * Tables between nodes other than the seed: the reference sends
	 * one each way for every pair (992); only small ones go now.
	 */
	for (i = 1; i < MESH_N; i++) {
		char told[64];
		snprintf(told, sizeof told, "m%d told us it knows about", i);
		for (int j = 0; j < MESH_N; j++)
			tables += count_text(&logs[j], told);
	}
	ck_assert_int_lt(tables, MESH_N * (MESH_N - 1) / 2);
	ck_assert(tn_log_has(&logs[MESH_N - 1], "m0 told us it knows about"));
	for (i = MESH_N; i-- > 0;) {
		aemp_free(nodes[i]);
		free(logs[i].text);
	}
}
END_TEST

/*
 * Two seeds that do not know each other, each with a node of its own,
 * and a node that has both seeds: the five still make one mesh.
 */
START_TEST(two_seed_groups_merge)
{
	aemp_node *nodes[5];
	json_t *fast = json_pack("{sf}", "connect_interval", 0.1);
	double end;
	int i;

	nodes[0] = tn_node(base, "s1", NULL);
	nodes[1] = tn_node(base, "s2", NULL);
	nodes[2] = seeded("a", nodes[0], json_incref(fast));
	nodes[3] = seeded("b", nodes[1], json_incref(fast));
	end = test_now() + 5;
	while ((!aemp_node_is_up(nodes[2], "s1") ||
	    !aemp_node_is_up(nodes[3], "s2")) && test_now() < end)
		tn_run_for(base, 0.02);
	ck_assert(aemp_node_is_up(nodes[2], "s1"));
	ck_assert(aemp_node_is_up(nodes[3], "s2"));
	ck_assert(!aemp_node_is_up(nodes[2], "b"));
	nodes[4] = tn_node(base, "x", json_pack("{s[ss]sf}", "seeds",
	    tn_addr(nodes[0]), tn_addr(nodes[1]), "connect_interval", 0.1));
	end = test_now() + 20;
	while (!all_up(nodes, 5) && test_now() < end)
		tn_run_for(base, 0.02);
	ck_assert(all_up(nodes, 5));
	for (i = 5; i-- > 0;)
		aemp_free(nodes[i]);
	json_decref(fast);
}
END_TEST

static Suite *
global_suite(void)
{
	Suite *s = suite_create("global");
	TCase *groups = tcase_create("groups");
	TCase *faults = tcase_create("faults");
	TCase *net = tcase_create("network");

	tcase_add_checked_fixture(groups, setup, teardown);
	tcase_add_checked_fixture(faults, setup, teardown);
	tcase_add_checked_fixture(net, setup, teardown);
	tcase_set_timeout(groups, 30);
	tcase_set_timeout(faults, 30);
	tcase_set_timeout(net, 30);
	tcase_add_test(groups, mesh_groups_and_master);
	tcase_add_test(groups, group_api);
	tcase_add_test(groups, group_monitors_in_order);
	tcase_add_test(faults, connect_version_mismatch);
	tcase_add_test(faults, bad_nodes_and_addresses);
	tcase_add_test(faults, empty_address_lists_are_silent);
	tcase_add_test(faults, ephemeral_bind_announced);
	tcase_add_test(faults, foreign_ports_ignored);
	tcase_add_test(faults, unreachable_node_forgotten);
	tcase_add_test(faults, ten_thousand_nodes);
	tcase_add_test(faults, flapping_node);
	tcase_add_test(faults, same_node_id_twice);
	tcase_add_test(net, find_after_connection_loss);
	tcase_add_test(net, reseed_when_isolated);
	tcase_add_test(net, delayed_address_broadcast);
	tcase_add_test(net, seed_that_is_self_and_seed_master);
	tcase_add_test(net, mesh_of_32_without_downs);
	tcase_add_test(net, two_seed_groups_merge);
	suite_add_tcase(s, groups);
	suite_add_tcase(s, faults);
	suite_add_tcase(s, net);
	return s;
}

AEMP_TEST_MAIN(global_suite)

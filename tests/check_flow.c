/*
 * check_flow.c: flow between two nodes in one process (127.0.0.1): the
 * send queue watermarks (aemp_queued, aemp_set_watermark) and packets at
 * the boundary of max_packet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "nodeutil.h"

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

static double
flow_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

/* What the drain callback saw. */
struct drain {
	int	 calls;
	char	*node;
	size_t	 queued;	/* aemp_queued() during the call */
	const char *port;	/* whose queue that is */
};

static void
on_drain(aemp_node *n, const char *nodeid, void *ud)
{
	struct drain *d = ud;

	d->calls++;
	free(d->node);
	d->node = strdup(nodeid);
	if (d->port != NULL)
		d->queued = aemp_queued(n, d->port);
}

/* What a receiver saw: messages ["m", SEQ, DATA] in order. */
struct sink {
	long	 count;
	long	 disorder;
	int	 died;
	json_t	*reason;
};

static int
on_m(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct sink *s = ud;

	(void)n; (void)self;
	if (json_integer_value(json_array_get(msg, 0)) != s->count)
		s->disorder++;
	s->count++;
	return 0;
}

static void
on_death(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct sink *s = ud;

	(void)n; (void)port;
	s->died = 1;
	s->reason = json_incref(reason);
}

static char *
filler(size_t len)
{
	char *s = malloc(len + 1);

	memset(s, 'x', len);
	s[len] = '\0';
	return s;
}

/* Sends count messages of size bytes each to port, in one go. */
static void
burst(aemp_node *n, const char *port, long *seq, int count, size_t size)
{
	char *data = filler(size);
	int i;

	for (i = 0; i < count; i++)
		aemp_sndf(n, port, "sIs", "m", (json_int_t)(*seq)++, data);
	free(data);
}

static void
up_within(aemp_node *n, const char *nodeid, double seconds)
{
	double end = flow_now() + seconds;

	while (!aemp_node_is_up(n, nodeid) && flow_now() < end)
		tn_run_for(base, 0.01);
	ck_assert_msg(aemp_node_is_up(n, nodeid), "%s not up", nodeid);
}

/* alpha and beta up, beta's port with an "m" receiver counting into s. */
static const char *
pair(aemp_node **a, aemp_node **b, struct sink *s, json_t *extra)
{
	const char *port;

	*a = tn_node(base, "alpha", extra != NULL ? json_incref(extra) : NULL);
	*b = seeded("beta", *a, extra);
	ck_assert_ptr_nonnull(*a);
	ck_assert_ptr_nonnull(*b);
	port = aemp_port(*b, NULL, NULL);
	aemp_rcv(*b, port, "m", on_m, s);
	up_within(*a, "beta", 10);
	up_within(*b, "alpha", 10);
	return port;
}

static int
all_arrived(struct sink *s, long want)
{
	double end = flow_now() + 10;

	while (s->count < want && flow_now() < end)
		tn_run_for(base, 0.01);
	return s->count == want;
}

START_TEST(watermark_fires_once_per_crossing)
{
	aemp_node *a, *b;
	struct sink s = { 0 };
	struct drain d = { 0 };
	const char *port = pair(&a, &b, &s, NULL);
	long seq = 0;

	ck_assert_int_eq(aemp_set_watermark(a, 64 * 1024, 16 * 1024, on_drain,
	    &d), 0);
	d.port = port;
	/* below the high mark: no call however often it drains */
	burst(a, port, &seq, 10, 1000);
	ck_assert_uint_gt(aemp_queued(a, port), 10000);
	ck_assert_uint_eq(aemp_queued(a, "beta"), aemp_queued(a, port));
	ck_assert(all_arrived(&s, seq));
	ck_assert_int_eq(d.calls, 0);
	/* 200 messages above it: one call, once it is down to 16 KiB */
	burst(a, port, &seq, 200, 1000);
	ck_assert_uint_gt(aemp_queued(a, port), 64 * 1024);
	ck_assert(all_arrived(&s, seq));
	tn_run_for(base, 0.1);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_str_eq(d.node, "beta");
	ck_assert_uint_le(d.queued, 16 * 1024);
	/* and again for the next crossing */
	burst(a, port, &seq, 200, 1000);
	ck_assert(all_arrived(&s, seq));
	tn_run_for(base, 0.1);
	ck_assert_int_eq(d.calls, 2);
	ck_assert_int_eq(s.disorder, 0);
	/* local ports and unknown nodes have nothing queued */
	ck_assert_uint_eq(aemp_queued(a, port), 0);
	ck_assert_uint_eq(aemp_queued(a, aemp_port(a, NULL, NULL)), 0);
	ck_assert_uint_eq(aemp_queued(a, "nosuchnode#x"), 0);
	/* low must be below high, and a callback is needed */
	ck_assert_int_eq(aemp_set_watermark(a, 100, 100, on_drain, &d), -1);
	ck_assert_int_eq(aemp_set_watermark(a, 100, 10, NULL, NULL), -1);
	ck_assert_int_eq(aemp_set_watermark(a, 0, 0, NULL, NULL), 0);
	aemp_free(b);
	aemp_free(a);
	free(d.node);
}
END_TEST

START_TEST(watermark_while_connecting)
{
	aemp_node *a = tn_node(base, "alpha", NULL), *b;
	struct sink s = { 0 };
	struct drain d = { 0 };
	long seq = 0;

	/* beta queues for alpha before its seed connection is up */
	b = seeded("beta", a, NULL);
	ck_assert_ptr_nonnull(b);
	ck_assert(!aemp_node_is_up(b, "alpha"));
	aemp_set_watermark(b, 32 * 1024, 1024, on_drain, &d);
	{
		const char *pa = aemp_port(a, NULL, NULL);
		aemp_rcv(a, pa, "m", on_m, &s);
		burst(b, pa, &seq, 100, 1000);
		ck_assert(!aemp_node_is_up(b, "alpha"));
		ck_assert_uint_gt(aemp_queued(b, pa), 32 * 1024);
		ck_assert(all_arrived(&s, seq));
	}
	tn_run_for(base, 0.1);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_str_eq(d.node, "alpha");
	ck_assert_int_eq(s.disorder, 0);
	aemp_free(b);
	aemp_free(a);
	free(d.node);
}
END_TEST

START_TEST(watermark_cleared_by_node_down)
{
	aemp_node *a = tn_node(base, "alpha", json_pack("{sf}",
	    "monitor_timeout", 0.3)), *c;
	struct sink s = { 0 }, gone = { 0 };
	struct drain d = { 0 };
	const char *pc;
	long seq = 0;

	aemp_set_watermark(a, 32 * 1024, 1024, on_drain, &d);
	/* gamma's address is unknown: the queue waits, then is dropped */
	aemp_mon_cb(a, "gamma#x", on_death, &gone);
	burst(a, "gamma#x", &seq, 100, 1000);
	ck_assert_uint_gt(aemp_queued(a, "gamma#x"), 32 * 1024);
	ck_assert(tn_run_until(base, &gone.died, 5));
	ck_assert_uint_eq(aemp_queued(a, "gamma#x"), 0);
	tn_run_for(base, 0.1);
	ck_assert_int_eq(d.calls, 0);
	/* gamma comes up: a small message drains without a call */
	c = seeded("gamma", a, NULL);
	ck_assert_ptr_nonnull(c);
	pc = aemp_port(c, NULL, NULL);
	aemp_rcv(c, pc, "m", on_m, &s);
	up_within(a, "gamma", 10);
	seq = 0;
	burst(a, pc, &seq, 1, 100);
	ck_assert(all_arrived(&s, 1));
	tn_run_for(base, 0.1);
	ck_assert_int_eq(d.calls, 0);
	json_decref(gone.reason);
	aemp_free(c);
	aemp_free(a);
	free(d.node);
}
END_TEST

/*
 * A sender that keeps its queue under the high mark and waits for the
 * call: every message arrives, in order, whatever the mark, up to
 * max_queue.
 */
struct paced {
	aemp_node	*n;
	const char	*port;
	long		 seq, total;
	size_t		 high, peak;
	char		*data;
	int		 waiting;
};

static void
paced_pump(struct paced *p)
{
	size_t q;

	while (p->seq < p->total && (q = aemp_queued(p->n, p->port)) <=
	    p->high) {
		/* sizes vary, so that packets end anywhere in a read */
		size_t len = 1 + (size_t)(p->seq * 7919) % 6000;
		aemp_sndf(p->n, p->port, "sIs", "m", (json_int_t)p->seq++,
		    p->data + 6000 - len);
		if ((q = aemp_queued(p->n, p->port)) > p->peak)
			p->peak = q;
	}
	p->waiting = p->seq < p->total;
}

static void
paced_drain(aemp_node *n, const char *nodeid, void *ud)
{
	struct paced *p = ud;

	(void)n; (void)nodeid;
	paced_pump(p);
}

START_TEST(paced_sender_loses_nothing)
{
	static const size_t highs[] = { 1, 1024, 64 * 1024, 512 * 1024,
	    1024 * 1024 - 8192 };
	size_t i;

	for (i = 0; i < sizeof highs / sizeof highs[0]; i++) {
		aemp_node *a, *b;
		struct sink s = { 0 };
		struct paced p = { 0 };
		const char *port = pair(&a, &b, &s, json_pack("{si}",
		    "max_queue", 1024 * 1024));

		p.n = a;
		p.port = port;
		p.total = 3000;
		p.high = highs[i];
		p.data = filler(6000);
		aemp_set_watermark(a, p.high, p.high / 2, paced_drain, &p);
		paced_pump(&p);
		ck_assert_msg(all_arrived(&s, p.total), "high %zu: %ld of %ld",
		    p.high, s.count, p.total);
		ck_assert_int_eq(s.disorder, 0);
		ck_assert_uint_le(p.peak, p.high + 6100);
		ck_assert(aemp_node_is_up(a, "beta"));
		free(p.data);
		aemp_free(b);
		aemp_free(a);
	}
}
END_TEST

/* --- aemp_sndf straight into the queue ----------------------------------- */

struct got {
	json_t	*msgs;
};

static int
keep_all(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct got *g = ud;

	(void)n; (void)self;
	json_array_append(g->msgs, msg);
	return 0;
}

/*
 * What aemp_sndf() writes itself to a connected node arrives as what
 * json_pack() builds, item by item, and in order with what takes the
 * general path (escapes, non-ASCII, reals, objects).
 */
START_TEST(sndf_to_remote_matches_json_pack)
{
	aemp_node *a, *b;
	struct sink s = { 0 };
	struct got g = { json_array() };
	const char *port = pair(&a, &b, &s, NULL);
	json_t *want = json_array();
	size_t i;

	aemp_rcv(b, port, NULL, keep_all, &g);
	aemp_sndf(a, port, "sIs", "tag", (json_int_t)-9223372036854775807LL
	    - 1, "plain text");
	json_array_append_new(want, json_pack("[sIs]", "tag",
	    (json_int_t)-9223372036854775807LL - 1, "plain text"));
	aemp_sndf(a, port, "s i, b b n: I", "", 0, 1, 0, (json_int_t)1 << 62);
	json_array_append_new(want, json_pack("[sibbnI]", "", 0, 1, 0,
	    (json_int_t)1 << 62));
	aemp_sndf(a, port, "ss", "q\"uote", "caf\xc3\xa9");
	json_array_append_new(want, json_pack("[ss]", "q\"uote",
	    "caf\xc3\xa9"));
	aemp_sndf(a, port, "sf", "real", 0.5);
	json_array_append_new(want, json_pack("[sf]", "real", 0.5));
	aemp_sndf(a, port, "");
	json_array_append_new(want, json_array());
	aemp_sndf(a, port, "si", "last", 2147483647);
	json_array_append_new(want, json_pack("[si]", "last", 2147483647));
	/* an invalid string is an error, as json_pack() says */
	ck_assert_int_eq(aemp_sndf(a, port, "s", "\xff"), -1);
	ck_assert_int_eq(aemp_sndf(a, port, "s", (char *)NULL), -1);
	{
		double end = flow_now() + 10;
		while (json_array_size(g.msgs) < json_array_size(want) &&
		    flow_now() < end)
			tn_run_for(base, 0.01);
	}
	ck_assert_int_eq(json_array_size(g.msgs), json_array_size(want));
	for (i = 0; i < json_array_size(want); i++)
		ck_assert_msg(json_equal(json_array_get(g.msgs, i),
		    json_array_get(want, i)), "message %zu: %s", i,
		    json_dumps(json_array_get(g.msgs, i), 0));
	json_decref(want);
	json_decref(g.msgs);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/*
 * Large messages, plain and with escapes, mixed with small ones: every one
 * arrives whole, unchanged and in order, however the reads cut them.
 */
START_TEST(large_messages_arrive_whole_and_in_order)
{
	aemp_node *a, *b;
	struct sink s = { 0 };
	struct got g = { json_array() };
	const char *port = pair(&a, &b, &s, NULL);
	char *big = filler(300000);
	json_t *want = json_array();
	int i;

	aemp_rcv(b, port, NULL, keep_all, &g);
	for (i = 0; i < 60; i++) {
		size_t len = 1 + (size_t)i * 4999 % 299999;
		json_t *m;
		if (i % 3 == 1)
			big[len / 2] = '"';	/* escapes: the general path */
		m = json_pack("[is%]", i, big, len);
		big[len / 2] = 'x';
		json_array_append(want, m);
		if (i % 2 == 0)
			aemp_snd(a, port, m);
		else {
			aemp_snd(a, port, json_deep_copy(m));
			json_decref(m);
		}
		aemp_sndf(a, port, "si", "small", i);
		json_array_append_new(want, json_pack("[si]", "small", i));
	}
	{
		double end = flow_now() + 20;
		while (json_array_size(g.msgs) < json_array_size(want) &&
		    flow_now() < end)
			tn_run_for(base, 0.01);
	}
	ck_assert_int_eq(json_array_size(g.msgs), json_array_size(want));
	for (i = 0; i < (int)json_array_size(want); i++)
		ck_assert_msg(json_equal(json_array_get(g.msgs, (size_t)i),
		    json_array_get(want, (size_t)i)), "message %d differs", i);
	json_decref(want);
	json_decref(g.msgs);
	free(big);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/* --- max_packet --------------------------------------------------------- */

/*
 * alpha sends beta (max_packet 100000) one packet of exactly len bytes,
 * ["PORT","xx...x"], then a small one: both arrive, or beta drops the
 * connection with "packet too large" and alpha's monitor on the port
 * fires with a transport error.
 */
static void
packet_of(size_t len, int fits)
{
	aemp_node *a, *b;
	struct sink s = { 0 }, gone = { 0 };
	struct tn_log log = { 0 };
	const char *port;
	char *data;

	setenv("AEMP_WARNLEVEL", "9", 1);	/* the reason is logged at 9 */
	port = pair(&a, &b, &s, json_pack("{si}", "max_packet", 100000));
	unsetenv("AEMP_WARNLEVEL");

	tn_log_capture(b, &log);
	aemp_rcv(b, port, NULL, on_m, &s);
	aemp_mon_cb(a, port, on_death, &gone);
	/* the packet is ["NAME","DATA"], NAME the port's part after '#' */
	data = filler(len - strlen(strchr(port, '#') + 1) - 7);
	aemp_sndf(a, port, "s", data);
	free(data);
	if (fits) {
		/* the default receiver sees ["xx..."], not a sequence */
		ck_assert(all_arrived(&s, 1));
		ck_assert(!gone.died);
		ck_assert(aemp_node_is_up(b, "alpha"));
	} else {
		tn_run_until(base, &gone.died, 5);
		ck_assert_msg(gone.died, "count %ld log %s", s.count, log.text);
		ck_assert_str_eq(json_string_value(json_array_get(gone.reason,
		    0)), "transport_error");
		ck_assert(tn_log_has(&log, "packet too large"));
		ck_assert_int_eq(s.count, 0);
		json_decref(gone.reason);
	}
	aemp_free(b);
	aemp_free(a);
	free(log.text);
}

START_TEST(packet_one_under_max_packet)
{
	packet_of(99999, 1);
}
END_TEST

START_TEST(packet_at_max_packet)
{
	packet_of(100000, 1);
}
END_TEST

START_TEST(packet_one_over_max_packet)
{
	packet_of(100001, 0);
}
END_TEST

static Suite *
flow_suite(void)
{
	Suite *s = suite_create("flow");
	TCase *tc = tcase_create("watermark");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, watermark_fires_once_per_crossing);
	tcase_add_test(tc, watermark_while_connecting);
	tcase_add_test(tc, watermark_cleared_by_node_down);
	tcase_add_test(tc, paced_sender_loses_nothing);
	tcase_add_test(tc, sndf_to_remote_matches_json_pack);
	tcase_add_test(tc, large_messages_arrive_whole_and_in_order);
	suite_add_tcase(s, tc);
	tc = tcase_create("max_packet");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, packet_one_under_max_packet);
	tcase_add_test(tc, packet_at_max_packet);
	tcase_add_test(tc, packet_one_over_max_packet);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(flow_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

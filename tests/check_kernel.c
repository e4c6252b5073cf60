/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_kernel.c: ports, messages, kill and monitor semantics, spawn, cal
 * and after on one node, then between nodes in one process (127.0.0.1).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "nodeutil.h"
#include "kernel.h"

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

/* --- one node --------------------------------------------------------------- */

struct box {
	int	 got;
	json_t	*msg;
	json_t	*reason;
	char	*port;
	int	 count;
};

static void
box_clear(struct box *b)
{
	json_decref(b->msg);
	json_decref(b->reason);
	free(b->port);
	memset(b, 0, sizeof *b);
}

static int
keep_msg(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct box *b = ud;

	(void)n; (void)self;
	json_decref(b->msg);
	b->msg = json_incref(msg);
	b->got = 1;
	b->count++;
	return 0;
}

static void
keep_reason(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct box *b = ud;

	(void)n;
	json_decref(b->reason);
	b->reason = json_incref(reason);
	free(b->port);
	b->port = strdup(port);
	b->got = 1;
	b->count++;
}

START_TEST(simple_example)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box b = { 0 };
	const char *p;

	ck_assert_ptr_nonnull(n);
	p = aemp_port(n, NULL, NULL);
	ck_assert_int_eq(aemp_rcv(n, p, "test", keep_msg, &b), 0);
	ck_assert_int_eq(aemp_sndf(n, p, "si", "test", 123), 0);
	ck_assert_int_eq(b.got, 0);	/* local delivery is not re-entrant */
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_int_eq(json_array_size(b.msg), 1);
	ck_assert_int_eq(json_integer_value(json_array_get(b.msg, 0)), 123);
	box_clear(&b);
	aemp_free(n);
}
END_TEST

START_TEST(port_ids_unique)
{
	aemp_node *n = tn_node(base, "one", NULL);
	char *seen[100];
	int i, j;

	for (i = 0; i < 100; i++) {
		/* spawns take names too, between those made ahead */
		const char *p = i % 3 == 2 ? NULL : aemp_port(n, NULL, NULL);
		seen[i] = p != NULL ? strdup(p) :
		    aemp_spawn(n, "one", "no::such", NULL);
		ck_assert(strncmp(seen[i], "one#", 4) == 0);
		if (p != NULL)
			aemp_kil(n, p, NULL);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(seen[i], seen[j]);
	}
	tn_run_for(base, 0.05);
	for (i = 0; i < 100; i++)
		free(seen[i]);
	aemp_free(n);
}
END_TEST

START_TEST(default_and_tag_receivers)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box def = { 0 }, tag = { 0 };
	const char *p = aemp_port(n, keep_msg, &def);

	aemp_rcv(n, p, "a", keep_msg, &tag);
	aemp_sndf(n, p, "si", "a", 1);
	aemp_sndf(n, p, "si", "b", 2);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(tag.count, 1);
	ck_assert_int_eq(json_integer_value(json_array_get(tag.msg, 0)), 1);
	ck_assert_int_eq(def.count, 1);
	ck_assert_str_eq(json_string_value(json_array_get(def.msg, 0)), "b");
	/* removing the tag receiver sends "a" to the default receiver */
	aemp_rcv(n, p, "a", NULL, NULL);
	aemp_sndf(n, p, "si", "a", 3);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(tag.count, 1);
	ck_assert_int_eq(def.count, 2);
	box_clear(&def);
	box_clear(&tag);
	aemp_free(n);
}
END_TEST

/*
 * A port's first tag receiver lives in the port and the rest beside it:
 * every order of adding and removing tags and the default must deliver
 * as a plain list would.
 */
START_TEST(receivers_in_and_beside_the_port)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box def = { 0 }, a = { 0 }, b = { 0 }, a2 = { 0 };
	const char *p = aemp_port(n, NULL, NULL), *q;

	aemp_rcv(n, p, "a", keep_msg, &a);	/* in the port */
	aemp_rcv(n, p, NULL, keep_msg, &def);	/* beside it */
	aemp_rcv(n, p, "b", keep_msg, &b);	/* beside it */
	aemp_sndf(n, p, "si", "a", 1);
	aemp_sndf(n, p, "si", "b", 2);
	aemp_sndf(n, p, "si", "c", 3);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(a.count, 1);
	ck_assert_int_eq(b.count, 1);
	ck_assert_int_eq(def.count, 1);
	ck_assert_str_eq(json_string_value(json_array_get(def.msg, 0)), "c");
	/* replacing the one in the port */
	aemp_rcv(n, p, "a", keep_msg, &a2);
	aemp_sndf(n, p, "si", "a", 4);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(a.count, 1);
	ck_assert_int_eq(a2.count, 1);
	/* removing it: the default moves into the port, "b" stays */
	aemp_rcv(n, p, "a", NULL, NULL);
	aemp_sndf(n, p, "si", "a", 5);
	aemp_sndf(n, p, "si", "b", 6);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(a2.count, 1);
	ck_assert_int_eq(def.count, 2);
	ck_assert_str_eq(json_string_value(json_array_get(def.msg, 0)), "a");
	ck_assert_int_eq(b.count, 2);
	/* with a default in the port, a new tag goes beside it */
	aemp_rcv(n, p, "a", keep_msg, &a);
	aemp_rcv(n, p, "b", NULL, NULL);
	aemp_sndf(n, p, "si", "a", 7);
	aemp_sndf(n, p, "si", "b", 8);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(a.count, 2);
	ck_assert_int_eq(def.count, 3);
	ck_assert_str_eq(json_string_value(json_array_get(def.msg, 0)), "b");
	/* no default: a message without a receiver kills the port */
	aemp_rcv(n, p, NULL, NULL, NULL);
	q = aemp_port(n, NULL, NULL);	/* its tag shared with p's */
	aemp_rcv(n, q, "a", keep_msg, &a2);
	aemp_mon_cb(n, p, keep_reason, &b);
	b.got = 0;
	aemp_sndf(n, p, "si", "c", 9);
	aemp_sndf(n, q, "si", "a", 10);
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_str_eq(json_string_value(json_array_get(b.reason, 0)),
	    "die");
	ck_assert_int_eq(a2.count, 2);
	ck_assert_int_eq(json_integer_value(json_array_get(a2.msg, 0)), 10);
	box_clear(&def);
	box_clear(&a);
	box_clear(&b);
	box_clear(&a2);
	aemp_free(n);
}
END_TEST

/*
 * aemp_sndf() of a tag with a receiver on a local port makes the message
 * without the tag: what changes before delivery must still be seen, as
 * for aemp_snd().
 */
START_TEST(local_sndf_without_the_tag)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box def = { 0 }, a = { 0 }, a2 = { 0 }, mon = { 0 };
	const char *p = aemp_port(n, NULL, NULL), *q;
	char *pid = strdup(p);

	aemp_rcv(n, p, "a", keep_msg, &a);
	ck_assert_int_eq(aemp_sndf(n, p, "sis", "a", 1, "x"), 0);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(a.count, 1);
	ck_assert_int_eq(json_array_size(a.msg), 2);
	ck_assert_int_eq(json_integer_value(json_array_get(a.msg, 0)), 1);
	ck_assert_str_eq(json_string_value(json_array_get(a.msg, 1)), "x");
	/* the receiver changes after the send: the new one gets it */
	aemp_sndf(n, p, "si", "a", 2);
	aemp_rcv(n, p, "a", keep_msg, &a2);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(a.count, 1);
	ck_assert_int_eq(a2.count, 1);
	/* it goes: the default gets the message with its tag */
	aemp_sndf(n, p, "si", "a", 3);
	aemp_rcv(n, p, "a", NULL, NULL);
	aemp_rcv(n, p, NULL, keep_msg, &def);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(a2.count, 1);
	ck_assert_int_eq(def.count, 1);
	ck_assert_int_eq(json_array_size(def.msg), 2);
	ck_assert_str_eq(json_string_value(json_array_get(def.msg, 0)), "a");
	ck_assert_int_eq(json_integer_value(json_array_get(def.msg, 1)), 3);
	/* a tag that is not UTF-8 is refused as before, even with a receiver */
	aemp_rcv(n, p, "\xff", keep_msg, &a);
	ck_assert_int_lt(aemp_sndf(n, p, "si", "\xff", 4), 0);
	/* killed before delivery: nothing arrives, the tag is let go */
	q = aemp_port(n, NULL, NULL);
	aemp_rcv(n, q, "b", keep_msg, &a);
	aemp_mon_cb(n, q, keep_reason, &mon);
	aemp_sndf(n, q, "si", "b", 5);
	aemp_kil(n, q, NULL);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(mon.count, 1);
	ck_assert_int_eq(a.count, 1);
	/* queued at free: released unfired */
	aemp_sndf(n, pid, "si", "\xff", 6);
	aemp_rcv(n, pid, "c", keep_msg, &a);
	aemp_sndf(n, pid, "si", "c", 7);
	box_clear(&def);
	box_clear(&a);
	box_clear(&a2);
	box_clear(&mon);
	aemp_free(n);
	free(pid);
}
END_TEST

/*
 * What reuse_rcv() saw: each message as text and its pointer, and what it
 * was told to keep: the message (keep_msg) or its value keep_at.
 */
struct seen {
	int	 count;
	char	*text[8];
	json_t	*ptr[8];
	int	 keep_at;	/* -1: none */
	json_t	*kept_msg, *kept_value;
	char	*kept_text;	/* kept_msg or kept_value as it was */
	int	 keep_msg;
	const char *self;	/* sends ["a",100] here from the receiver */
};

static int
reuse_rcv(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct seen *s = ud;

	if (s->count < 8) {
		s->text[s->count] = json_dumps(msg, JSON_COMPACT);
		s->ptr[s->count] = msg;
	}
	s->count++;
	if (s->keep_msg) {
		s->keep_msg = 0;
		s->kept_msg = json_incref(msg);
		s->kept_text = json_dumps(msg, JSON_COMPACT);
	}
	if (s->keep_at >= 0) {
		s->kept_value = json_incref(json_array_get(msg, s->keep_at));
		s->kept_text = json_dumps(s->kept_value, JSON_COMPACT |
		    JSON_ENCODE_ANY);
		s->keep_at = -1;
	}
	if (s->self != NULL) {
		/* a send from the receiver goes behind what is queued */
		aemp_sndf(n, self, "si", "a", 100);
		s->self = NULL;
	}
	return 0;
}

static void
seen_clear(struct seen *s)
{
	for (int i = 0; i < 8; i++)
		free(s->text[i]);
	json_decref(s->kept_msg);
	json_decref(s->kept_value);
	free(s->kept_text);
	memset(s, 0, sizeof *s);
	s->keep_at = -1;
}

/* the text of what s kept, now */
static char *
kept_now(struct seen *s)
{
	return json_dumps(s->kept_msg != NULL ? s->kept_msg : s->kept_value,
	    JSON_COMPACT | JSON_ENCODE_ANY);
}

/*
 * aemp_sndf() to a local port makes the message at delivery in the one the
 * last receiver let go: it is used again only when nothing holds it, and
 * a value of it only when nothing holds that; whatever a receiver keeps
 * never changes.
 */
START_TEST(local_sndf_reuses_only_released_messages)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct seen s = { .keep_at = -1 };
	const char *p = aemp_port(n, NULL, NULL);
	json_t *obj = json_pack("{si}", "k", 1);
	char *now;

	aemp_rcv(n, p, "a", reuse_rcv, &s);
	/* released: the next message is the same one, refilled */
	aemp_sndf(n, p, "sis", "a", 1, "x");
	aemp_sndf(n, p, "sis", "a", 2, "y");
	tn_run_for(base, 0.05);
	ck_assert_int_eq(s.count, 2);
	ck_assert_str_eq(s.text[0], "[1,\"x\"]");
	ck_assert_str_eq(s.text[1], "[2,\"y\"]");
	ck_assert_ptr_eq(s.ptr[0], s.ptr[1]);
	seen_clear(&s);

	/* kept by the receiver: later ones are new, it stays as it was */
	s.keep_msg = 1;
	aemp_sndf(n, p, "sisb", "a", 3, "z", 1);
	aemp_sndf(n, p, "sis", "a", 4, "w");
	aemp_sndf(n, p, "siI", "a", 5, (json_int_t)1 << 40);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(s.count, 3);
	ck_assert_str_eq(s.kept_text, "[3,\"z\",true]");
	now = kept_now(&s);
	ck_assert_str_eq(now, "[3,\"z\",true]");
	free(now);
	ck_assert_ptr_ne(s.ptr[0], s.ptr[1]);
	ck_assert_str_eq(s.text[2], "[5,1099511627776]");
	seen_clear(&s);

	/* a value kept, of each shape: the message is reused, not the value */
	for (int at = 0; at < 6; at++) {
		s.keep_at = at;
		aemp_sndf(n, p, "sisIbnf", "a", 10, "str", (json_int_t)-7, 0,
		    0.5);
		aemp_sndf(n, p, "sisIbnf", "a", 11, "other", (json_int_t)8, 1,
		    1.5);
		aemp_sndf(n, p, "sfsinI", "a", 2.5, "s", 3, (json_int_t)9);
		aemp_sndf(n, p, "s", "a");
		aemp_sndf(n, p, "siiiiiii", "a", 1, 2, 3, 4, 5, 6, 7);
		tn_run_for(base, 0.05);
		ck_assert_int_eq(s.count, 5);
		ck_assert_str_eq(s.text[0], "[10,\"str\",-7,false,null,0.5]");
		ck_assert_str_eq(s.text[1], "[11,\"other\",8,true,null,1.5]");
		ck_assert_str_eq(s.text[2], "[2.5,\"s\",3,null,9]");
		ck_assert_str_eq(s.text[3], "[]");
		ck_assert_str_eq(s.text[4], "[1,2,3,4,5,6,7]");
		now = kept_now(&s);
		ck_assert_str_eq(now, s.kept_text);
		free(now);
		seen_clear(&s);
	}

	/* nested values, o and O: the receiver gets them themselves */
	s.keep_at = 1;
	aemp_sndf(n, p, "siO", "a", 1, obj);
	aemp_sndf(n, p, "sio", "a", 2, json_pack("[i[i]]", 3, 4));
	aemp_sndf(n, p, "sii", "a", 5, 6);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(s.count, 3);
	ck_assert_ptr_eq(s.kept_value, obj);
	ck_assert_str_eq(s.text[1], "[2,[3,[4]]]");
	ck_assert_str_eq(s.text[2], "[5,6]");
	ck_assert_str_eq(s.kept_text, "{\"k\":1}");
	now = kept_now(&s);
	ck_assert_str_eq(now, "{\"k\":1}");
	free(now);
	seen_clear(&s);
	ck_assert_int_eq(obj->refcount, 1);

	/* in order with aemp_snd(), and behind a send from the receiver */
	s.self = p;
	aemp_sndf(n, p, "si", "a", 1);
	aemp_snd(n, p, json_pack("[si]", "a", 2));
	aemp_sndf(n, p, "si", "a", 3);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(s.count, 4);
	ck_assert_str_eq(s.text[0], "[1]");
	ck_assert_str_eq(s.text[1], "[2]");
	ck_assert_str_eq(s.text[2], "[3]");
	ck_assert_str_eq(s.text[3], "[100]");
	seen_clear(&s);

	/* queued at free: what the records hold is let go */
	aemp_sndf(n, p, "siO", "a", 1, obj);
	aemp_sndf(n, p, "so", "a", json_pack("[s]", "x"));
	ck_assert_int_eq(obj->refcount, 2);
	aemp_free(n);
	ck_assert_int_eq(obj->refcount, 1);
	json_decref(obj);
}
END_TEST

/* aemp_sndf builds plain formats itself: the messages must be jansson's */
START_TEST(sndf_builds_what_json_pack_builds)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box got = { 0 };
	const char *p = aemp_port(n, keep_msg, &got);
	json_t *obj = json_pack("{si}", "k", 1), *want;
	char bad[] = { 'a', (char)0xff, 0 };

	ck_assert_int_eq(aemp_sndf(n, p, "siIfbnO", "s", -7,
	    (json_int_t)1 << 40, 2.5, 1, obj), 0);
	tn_run_for(base, 0.05);
	want = json_pack("[siIfbnO]", "s", -7, (json_int_t)1 << 40, 2.5, 1,
	    obj);
	ck_assert(json_equal(got.msg, want));
	json_decref(want);
	/* "O" took a reference for the message, not ours */
	ck_assert_int_eq(obj->refcount, 2);

	/* what the format skips, and items it does not build itself */
	ck_assert_int_eq(aemp_sndf(n, p, "s, i [s{s:i}]", "a", 1, "x", "y",
	    2), 0);
	tn_run_for(base, 0.05);
	want = json_pack("[s,i[s{s:i}]]", "a", 1, "x", "y", 2);
	ck_assert(json_equal(got.msg, want));
	json_decref(want);

	/* errors: nothing is sent, "o" values are released all the same */
	got.count = 0;
	json_incref(obj);
	ck_assert_int_eq(aemp_sndf(n, p, "so", NULL, obj), -1);
	ck_assert_ptr_nonnull(strstr(aemp_error(n), "NULL string"));
	ck_assert_int_eq(obj->refcount, 1);
	ck_assert_int_eq(aemp_sndf(n, p, "s", bad), -1);
	ck_assert_ptr_nonnull(strstr(aemp_error(n), "UTF-8"));
	ck_assert_int_eq(aemp_sndf(n, p, "io", 1, NULL), -1);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(got.count, 0);
	json_decref(obj);
	box_clear(&got);
	aemp_free(n);
}
END_TEST

static int
oops(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	(void)self; (void)msg; (void)ud;
	return aemp_die(n, "oops");
}

START_TEST(receiver_failure_kills_port)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box b = { 0 };
	const char *p = aemp_port(n, oops, NULL);

	aemp_mon_cb(n, p, keep_reason, &b);
	aemp_snd(n, p, json_array());
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_str_eq(json_string_value(json_array_get(b.reason, 0)), "die");
	ck_assert_str_eq(json_string_value(json_array_get(b.reason, 1)), "oops");
	box_clear(&b);
	aemp_free(n);
}
END_TEST

START_TEST(monitor_nonexistent_port)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box b = { 0 };

	aemp_mon_cb(n, "one#nope.a", keep_reason, &b);
	ck_assert_int_eq(b.got, 0);	/* delayed, never inside the caller */
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_str_eq(json_string_value(json_array_get(b.reason, 0)),
	    "no_such_port");
	ck_assert_str_eq(json_string_value(json_array_get(b.reason, 1)),
	    "cannot monitor nonexistent port");
	box_clear(&b);
	aemp_free(n);
}
END_TEST

START_TEST(kill_is_delayed_and_monitors_are_one_shot)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box b = { 0 }, c = { 0 };
	const char *p = aemp_port(n, keep_msg, &c);
	aemp_mon *m;

	aemp_mon_cb(n, p, keep_reason, &b);
	m = aemp_mon_cb(n, p, keep_reason, &c);
	aemp_mon_cancel(n, m);
	aemp_kil(n, p, json_pack("[ss]", "custom_error", "steenking face"));
	ck_assert_int_eq(b.got, 0);
	ck_assert_int_eq(aemp_port_exists(n, p), 0);	/* no more delivery */
	tn_run_for(base, 0.05);
	ck_assert_int_eq(b.count, 1);
	ck_assert_int_eq(c.count, 0);	/* cancelled */
	ck_assert_str_eq(json_string_value(json_array_get(b.reason, 1)),
	    "steenking face");
	box_clear(&b);
	box_clear(&c);
	aemp_free(n);
}
END_TEST

START_TEST(mon_kill_propagates_only_abnormal)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box b1 = { 0 }, b2 = { 0 };
	const char *p1 = aemp_port(n, NULL, NULL), *p2 = aemp_port(n, NULL, NULL);
	const char *q1 = aemp_port(n, NULL, NULL), *q2 = aemp_port(n, NULL, NULL);

	/* normal kill of p1 does not kill q1 */
	aemp_mon_kill(n, p1, q1);
	aemp_mon_cb(n, q1, keep_reason, &b1);
	aemp_kil(n, p1, NULL);
	/* abnormal kill of p2 kills q2 with the same reason */
	aemp_mon_kill(n, p2, q2);
	aemp_mon_cb(n, q2, keep_reason, &b2);
	aemp_kil(n, p2, json_pack("[s]", "boom"));
	tn_run_for(base, 0.1);
	ck_assert_int_eq(b1.count, 0);
	ck_assert_int_eq(aemp_port_exists(n, q1), 1);
	ck_assert_int_eq(b2.count, 1);
	ck_assert_str_eq(json_string_value(json_array_get(b2.reason, 0)), "boom");
	box_clear(&b1);
	box_clear(&b2);
	aemp_free(n);
}
END_TEST

START_TEST(mon_snd_appends_reason)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box b = { 0 };
	const char *p = aemp_port(n, NULL, NULL), *to = aemp_port(n, keep_msg, &b);

	aemp_mon_snd(n, p, to, json_pack("[ss]", "gone", "x"));
	aemp_kil(n, p, json_pack("[ss]", "why", "because"));
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_int_eq(json_array_size(b.msg), 4);
	ck_assert_str_eq(json_string_value(json_array_get(b.msg, 3)), "because");
	box_clear(&b);
	aemp_free(n);
}
END_TEST

START_TEST(kill_node_port_refused)
{
	aemp_node *n = tn_node(base, "one", NULL);

	ck_assert_int_eq(aemp_kil(n, "one", NULL), -1);
	ck_assert_int_eq(aemp_kil(n, "one#", NULL), -1);
	ck_assert_int_eq(aemp_kil(n, "one#nonexistent", NULL), 0);
	aemp_free(n);
}
END_TEST

static int
spawned(aemp_node *n, const char *self, json_t *args, void *ud)
{
	struct box *b = ud;

	b->port = strdup(self);
	b->msg = json_incref(args);
	b->got = 1;
	return aemp_rcv(n, self, NULL, keep_msg, b);
}

START_TEST(local_spawn_and_unknown_function)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box b = { 0 }, d = { 0 };
	char *id, *bad;

	ck_assert_int_eq(aemp_register_func(n, "Test::spawned", spawned, &b), 0);
	ck_assert_int_eq(aemp_register_func(n, "../evil", spawned, &b), -1);
	id = aemp_spawn(n, "one", "Test::spawned", json_pack("[i]", 7));
	ck_assert_int_eq(b.got, 0);	/* delayed like a kill */
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_str_eq(b.port, id);
	ck_assert_int_eq(json_integer_value(json_array_get(b.msg, 0)), 7);
	bad = aemp_spawn(n, "one", "No::such", NULL);
	tn_run_for(base, 0.05);
	aemp_mon_cb(n, bad, keep_reason, &d);
	ck_assert(tn_run_until(base, &d.got, 2));
	/* it died before we could watch it */
	ck_assert_str_eq(json_string_value(json_array_get(d.reason, 0)),
	    "no_such_port");
	free(id);
	free(bad);
	box_clear(&b);
	box_clear(&d);
	aemp_free(n);
}
END_TEST

static void
keep_reply(aemp_node *n, json_t *reply, void *ud)
{
	struct box *b = ud;

	(void)n;
	b->msg = reply ? json_incref(reply) : NULL;
	b->got = 1;
}

START_TEST(cal_node_port_time_and_timeout)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box b = { 0 }, t = { 0 };
	const char *silent = aemp_port(n, keep_msg, &t);

	aemp_cal(n, "one", json_pack("[s]", "time"), keep_reply, &b, 2);
	ck_assert(tn_run_until(base, &b.got, 3));
	ck_assert(json_is_real(json_array_get(b.msg, 0)));
	box_clear(&b);
	aemp_cal(n, silent, json_pack("[s]", "hello"), keep_reply, &b, 0.1);
	ck_assert(tn_run_until(base, &b.got, 3));
	ck_assert_ptr_null(b.msg);
	box_clear(&b);
	box_clear(&t);
	aemp_free(n);
}
END_TEST

static void
count_timer(aemp_node *n, void *ud)
{
	(void)n;
	(*(int *)ud)++;
}

START_TEST(after_and_cancel)
{
	aemp_node *n = tn_node(base, "one", NULL);
	int fired = 0, cancelled = 0;
	aemp_timer *t;

	aemp_after(n, 0.05, count_timer, &fired);
	t = aemp_after(n, 0.05, count_timer, &cancelled);
	aemp_timer_cancel(n, t);
	tn_run_until(base, &fired, 2);
	tn_run_for(base, 0.1);
	ck_assert_int_eq(fired, 1);
	ck_assert_int_eq(cancelled, 0);
	aemp_free(n);
}
END_TEST

START_TEST(eval_refused_locally)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box b = { 0 };
	const char *p = aemp_port(n, keep_msg, &b);

	aemp_snd(n, "one", json_pack("[sss]", "eval", "system('ls')", p));
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_str_eq(json_string_value(json_array_get(b.msg, 0)),
	    "eval is not supported by this node");
	box_clear(&b);
	aemp_free(n);
}
END_TEST

START_TEST(node_port_requests_locally)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box b = { 0 };
	const char *p = aemp_port(n, keep_msg, &b);

	/* snd relays, snd_multiple relays each */
	aemp_snd(n, "one", json_pack("[sssi]", "snd", p, "x", 1));
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_int_eq(json_integer_value(json_array_get(b.msg, 1)), 1);
	b.got = 0;
	aemp_snd(n, "one#", json_pack("[s[ssi][ssi]]", "snd_multiple", p, "y",
	    2, p, "y", 3));
	tn_run_for(base, 0.1);
	ck_assert_int_eq(b.count, 3);
	ck_assert_int_eq(json_integer_value(json_array_get(b.msg, 1)), 3);
	/* known_nodes includes ourselves; the reply has leading elements */
	aemp_snd(n, "one", json_pack("[sss]", "known_nodes", p, "lead"));
	tn_run_for(base, 0.1);
	ck_assert_str_eq(json_string_value(json_array_get(b.msg, 0)), "lead");
	ck_assert_str_eq(json_string_value(json_array_get(b.msg, 1)), "one");
	/* devnull and empty requests are ignored */
	aemp_snd(n, "one", json_pack("[s]", "devnull"));
	aemp_snd(n, "one", json_pack("[]"));
	tn_run_for(base, 0.05);
	ck_assert_int_eq(b.count, 4);
	box_clear(&b);
	aemp_free(n);
}
END_TEST

START_TEST(words_like_perl)
{
	json_t *l = json_pack("[ssIfbbn[i]]", "die", "oops", (json_int_t)-3,
	    1.5, 1, 0, 2);
	char *w = aemp_words(l), *e;

	ck_assert_str_eq(w, "die oops -3 1.5 1 0  [2]");
	free(w);
	json_decref(l);
	l = json_array();
	e = aemp_words(l);
	ck_assert_str_eq(e, "");
	free(e);
	json_decref(l);
}
END_TEST

/* --- the node port's request table ------------------------------------------ */

static int
log_count(struct tn_log *log, const char *needle)
{
	const char *p = log->text;
	int count = 0;

	while (p != NULL && (p = strstr(p, needle)) != NULL) {
		count++;
		p += strlen(needle);
	}
	return count;
}

static int
spawned_fn(aemp_node *n, const char *self, json_t *args, void *ud)
{
	(void)n; (void)self; (void)args;
	(*(int *)ud)++;
	return 0;
}

static void
died_fn(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	(void)n; (void)port; (void)reason;
	(*(int *)ud)++;
}

/*
 * Every row of the table answers its name (a request of each kind does
 * what it did as a strcmp chain, and none falls through to the function
 * registry); each row is covered here, so that a new row needs a case.
 */
START_TEST(node_request_table_rows_answer)
{
	static const char *covered[] = { "devnull", "mon1", "mon0", "kil0",
	    "kil", "snd", "snd_multiple", "info", "known_nodes", "up_nodes",
	    "time", AEMP_STATS_REQUEST, "eval", "AnyEvent::MP::_spawn", NULL };
	aemp_node *n = tn_node(base, "one", NULL);
	struct tn_log log = { 0 };
	struct box b = { 0 };
	const char *p = aemp_port(n, keep_msg, &b);
	char *q;
	const struct node_request *r;
	int spawned = 0, died = 0;
	size_t i, rows = 0;

	for (r = ae_node_requests; r->name != NULL; r++, rows++) {
		for (i = 0; covered[i] != NULL; i++)
			if (strcmp(covered[i], r->name) == 0)
				break;
		ck_assert_msg(covered[i] != NULL, "row %s has no case", r->name);
		ck_assert_ptr_eq(ae_node_request_find(r->name), r);
	}
	ck_assert_uint_eq(rows, sizeof covered / sizeof *covered - 1);
	ck_assert_ptr_null(ae_node_request_find("no_such_request"));
	tn_log_capture(n, &log);

	/* requests with a reply: [TAG, PORT, leading...] */
	aemp_snd(n, "one", json_pack("[sss]", "info", p, "i"));
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_str_eq(json_string_value(json_array_get(b.msg, 0)), "i");
	ck_assert_str_eq(json_string_value(json_array_get(b.msg, 1)), "one");
	b.got = 0;
	aemp_snd(n, "one", json_pack("[ss]", "known_nodes", p));
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_str_eq(json_string_value(json_array_get(b.msg, 0)), "one");
	b.got = 0;
	aemp_snd(n, "one", json_pack("[sss]", "up_nodes", p, "u"));
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_uint_eq(json_array_size(b.msg), 1);
	ck_assert_str_eq(json_string_value(json_array_get(b.msg, 0)), "u");
	b.got = 0;
	aemp_snd(n, "one", json_pack("[ss]", "time", p));
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert(json_is_number(json_array_get(b.msg, 0)));
	b.got = 0;
	aemp_snd(n, "one", json_pack("[ss]", AEMP_STATS_REQUEST, p));
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert(json_is_object(json_array_get(b.msg, 0)));
	b.got = 0;
	aemp_snd(n, "one", json_pack("[sss]", "eval", "1+1", p));
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_str_eq(json_string_value(json_array_get(b.msg, 0)),
	    "eval is not supported by this node");
	ck_assert_int_eq(log_count(&log, "refusing eval request"), 1);
	b.got = 0;

	/* relays */
	aemp_snd(n, "one", json_pack("[ssi]", "snd", p, 7));
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_int_eq(json_integer_value(json_array_get(b.msg, 0)), 7);
	b.got = 0;
	aemp_snd(n, "one", json_pack("[s[si]]", "snd_multiple", p, 8));
	ck_assert(tn_run_until(base, &b.got, 2));
	ck_assert_int_eq(json_integer_value(json_array_get(b.msg, 0)), 8);
	b.got = 0;

	/* kil kills a local port; spawn runs a registered function */
	/* the ID dies with the port: a copy */
	q = strdup(aemp_port(n, keep_msg, &b));
	aemp_mon_cb(n, q, died_fn, &died);
	aemp_snd(n, "one", json_pack("[ss]", "kil", strchr(q, '#') + 1));
	ck_assert(tn_run_until(base, &died, 2));
	ck_assert_int_eq(aemp_port_exists(n, q), 0);
	free(q);
	ck_assert_int_eq(aemp_register_func(n, "Table::spawned", spawned_fn,
	    &spawned), 0);
	aemp_snd(n, "one", json_pack("[sss]", "AnyEvent::MP::_spawn",
	    "tablespawn", "Table::spawned"));
	ck_assert(tn_run_until(base, &spawned, 2));
	ck_assert_int_eq(aemp_port_exists(n, "one#tablespawn"), 1);

	/* between nodes only: from a local sender they do nothing */
	aemp_snd(n, "one", json_pack("[ss]", "mon1", "x"));
	aemp_snd(n, "one", json_pack("[ss]", "mon0", "x"));
	aemp_snd(n, "one", json_pack("[sss]", "kil0", "x", "die"));
	aemp_snd(n, "one", json_pack("[ss]", "devnull", "aemp-probe"));
	tn_run_for(base, 0.05);
	ck_assert_int_eq(b.count, 8);

	/* nothing above was malformed or taken for a function */
	ck_assert_int_eq(log_count(&log, "malformed node port request"), 0);
	ck_assert_int_eq(log_count(&log, "is not a registered function"), 0);
	box_clear(&b);
	aemp_free(n);
	free(log.text);
}
END_TEST

/*
 * Each row with min_args refuses a request with fewer ID arguments, or
 * with one that is not a string, as malformed (its own node each: the
 * log limiter lets only LOGLIM_BURST alike lines through).
 */
START_TEST(node_request_table_min_args)
{
	const struct node_request *r;
	int checked = 0;

	for (r = ae_node_requests; r->name != NULL; r++) {
		aemp_node *n;
		struct tn_log log = { 0 };
		struct box b = { 0 };
		const char *p;
		json_t *msg;
		size_t i;

		if (r->min_args == 0)
			continue;
		n = tn_node(base, "one", NULL);
		p = aemp_port(n, keep_msg, &b);
		tn_log_capture(n, &log);
		/* one argument short, then the last one not a string */
		msg = json_pack("[s]", r->name);
		for (i = 1; i < r->min_args; i++)
			json_array_append_new(msg, json_string(p));
		aemp_snd(n, "one", msg);
		msg = json_pack("[s]", r->name);
		for (i = 1; i < r->min_args; i++)
			json_array_append_new(msg, json_string(p));
		json_array_append_new(msg, json_integer(1));
		json_array_append_new(msg, json_string(p));
		aemp_snd(n, "one", msg);
		tn_run_for(base, 0.05);
		ck_assert_msg(log_count(&log, "malformed node port request") ==
		    2, "%s: %s", r->name, log.text ? log.text : "no log");
		ck_assert_int_eq(log_count(&log, "registered function"), 0);
		ck_assert_int_eq(b.count, 0);
		ck_assert_int_eq(aemp_port_exists(n, p), 1);
		checked++;
		box_clear(&b);
		aemp_free(n);
		free(log.text);
	}
	ck_assert_int_ge(checked, 6);
}
END_TEST

/* A name no row has is a function's: unregistered, it logs through the limiter. */
START_TEST(node_request_unknown_name_is_limited)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct tn_log log = { 0 };
	const char *line = "node port request 'No::such' is not a "
	    "registered function, ignored";
	int i;

	tn_log_capture(n, &log);
	aemp_snd(n, "one", json_pack("[si]", "No::such", 1));
	tn_run_for(base, 0.05);
	ck_assert_int_eq(log_count(&log, line), 1);
	for (i = 0; i < 20; i++)
		aemp_snd(n, "one", json_pack("[si]", "No::such", i));
	tn_run_for(base, 0.05);
	ck_assert_int_eq(log_count(&log, line), LOGLIM_BURST);
	ck_assert_int_eq(log_count(&log, "malformed"), 0);
	aemp_free(n);
	free(log.text);
}
END_TEST

/* --- regressions found in review ------------------------------------------ */

struct canceller {
	aemp_mon	*other;
	int		 fired;
};

static void
cancel_other(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct canceller *c = ud;

	(void)port; (void)reason;
	c->fired++;
	aemp_mon_cancel(n, c->other);
	c->other = NULL;
}

static void
count_fired(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	(void)n; (void)port; (void)reason;
	(*(int *)ud)++;
}

START_TEST(cancel_sibling_monitor_while_firing)
{
	aemp_node *n = tn_node(base, "one", json_pack("{sf}",
	    "monitor_timeout", 0.3));
	struct canceller c1 = { NULL, 0 }, c2 = { NULL, 0 };
	int never = 0;

	/* same remote port, and another port of the same node */
	aemp_mon_cb(n, "ghost#p1", cancel_other, &c1);
	c1.other = aemp_mon_cb(n, "ghost#p1", count_fired, &never);
	aemp_mon_cb(n, "ghost#p1", cancel_other, &c2);
	c2.other = aemp_mon_cb(n, "ghost#p2", count_fired, &never);
	ck_assert(tn_run_until(base, &c2.fired, 3));
	tn_run_for(base, 0.1);
	ck_assert_int_eq(c1.fired, 1);
	ck_assert_int_eq(never, 0);
	aemp_free(n);
}
END_TEST

static void
cancel_self_timer(aemp_node *n, void *ud)
{
	aemp_timer **t = ud;

	aemp_timer_cancel(n, *t);
	*t = NULL;
}

/* Delays that are no number of seconds neither crash nor hang the node */
START_TEST(odd_timer_delays)
{
	aemp_node *n = tn_node(base, "one", NULL);
	int nan_fired = 0, neg_fired = 0, never = 0;

	aemp_after(n, NAN, count_timer, &nan_fired);
	aemp_after(n, -5, count_timer, &neg_fired);
	aemp_after(n, 1e300, count_timer, &never);
	aemp_after(n, INFINITY, count_timer, &never);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(nan_fired, 1);
	ck_assert_int_eq(neg_fired, 1);
	ck_assert_int_eq(never, 0);
	aemp_free(n);
}
END_TEST

static void
free_node_timer(aemp_node *n, void *ud)
{
	*(int *)ud = 1;
	aemp_free(n);
}

/* An aemp_after callback may free its node (on a base of the program's) */
START_TEST(timer_callback_frees_its_node)
{
	aemp_node *n = tn_node(base, "one", NULL);
	int freed = 0, other = 0;

	aemp_after(n, 0.01, free_node_timer, &freed);
	aemp_after(n, 0.01, count_timer, &other);
	ck_assert(tn_run_until(base, &freed, 2));
	tn_run_for(base, 0.05);
	ck_assert_int_eq(other, 0);	/* went with the node */
}
END_TEST

static void
break_timer(aemp_node *n, void *ud)
{
	(*(int *)ud)++;
	event_base_loopbreak(aemp_base(n));
}

/*
 * Breaking the loop in a timer callback leaves the other due timers for
 * the next pass, as libevent's own timers did.
 */
START_TEST(loopbreak_in_timer_defers_the_rest)
{
	aemp_node *n = tn_node(base, "one", NULL);
	int first = 0, second = 0;

	aemp_after(n, 0.010, break_timer, &first);
	aemp_after(n, 0.011, count_timer, &second);
	usleep(30000);		/* both due when the loop starts */
	event_base_dispatch(base);
	ck_assert_int_eq(first, 1);
	ck_assert_int_eq(second, 0);
	ck_assert(tn_run_until(base, &second, 2));
	aemp_free(n);
}
END_TEST

/* With nothing left to wait for, the node's loop ends: timers are no hold */
START_TEST(loop_ends_when_nothing_is_left)
{
	json_t *cfg = json_pack("{s[]}", "binds");
	aemp_node *n = tn_node(base, "one", cfg);
	int fired = 0;

	ck_assert_ptr_nonnull(n);
	aemp_after(n, 0.01, count_timer, &fired);
	aemp_loop(n);		/* a hang fails the test (Check's timeout) */
	ck_assert_int_eq(fired, 1);
	aemp_free(n);
}
END_TEST

START_TEST(timer_cancels_itself)
{
	aemp_node *n = tn_node(base, "one", NULL);
	aemp_timer *t = aemp_after(n, 0.01, cancel_self_timer, &t);
	int later = 0;

	aemp_after(n, 0.05, count_timer, &later);
	ck_assert(tn_run_until(base, &later, 2));
	ck_assert_ptr_null(t);
	aemp_free(n);
}
END_TEST

struct deadlines {
	double	 due[200];
	int	 fired[200], nfired, cancelled[200];
};

struct order_timer {
	struct deadlines *o;
	int		 i;
};

static void
order_timer(aemp_node *n, void *ud)
{
	struct order_timer *ot = ud;

	(void)n;
	ot->o->fired[ot->o->nfired++] = ot->i;
}

/*
 * Node timers live in a heap of the node's own: they fire in deadline
 * order, and cancelling any of them, first, last or in between, leaves
 * the others to fire.
 */
START_TEST(timers_fire_in_deadline_order)
{
	aemp_node *n = tn_node(base, "one", NULL);
	static struct deadlines o;
	static struct order_timer ot[200];
	aemp_timer *t[200];
	unsigned seed = 7;
	int i, live = 0;

	memset(&o, 0, sizeof o);
	for (i = 0; i < 200; i++) {
		seed = seed * 1103515245u + 12345u;
		o.due[i] = 0.01 + (double)(seed >> 16 & 0xff) / 255.0 * 0.2;
		ot[i].o = &o;
		ot[i].i = i;
		t[i] = aemp_after(n, o.due[i], order_timer, &ot[i]);
	}
	for (i = 0; i < 200; i += 3) {
		aemp_timer_cancel(n, t[i]);
		o.cancelled[i] = 1;
	}
	for (i = 0; i < 200; i++)
		live += !o.cancelled[i];
	tn_run_for(base, 0.4);
	ck_assert_int_eq(o.nfired, live);
	for (i = 0; i < o.nfired; i++) {
		ck_assert(!o.cancelled[o.fired[i]]);
		/* 2 ms apart at least: one pass may fire both, in either order */
		if (i > 0)
			ck_assert(o.due[o.fired[i]] + 0.002 >=
			    o.due[o.fired[i - 1]]);
	}
	aemp_free(n);
}
END_TEST

struct again {
	aemp_node	*n;
	int		 runs, stop;
};

static void
again_timer(aemp_node *n, void *ud)
{
	struct again *a = ud;

	a->runs++;
	if (!a->stop)
		aemp_after(n, 0, again_timer, a);
}

static int
send_to_self(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	(void)msg; (void)ud;
	return aemp_snd(n, self, json_pack("[s]", "again"));
}

START_TEST(self_sending_port_does_not_starve_the_loop)
{
	aemp_node *n = tn_node(base, "one", NULL);
	const char *p = aemp_port(n, send_to_self, NULL);
	int fired = 0;

	aemp_snd(n, p, json_pack("[s]", "go"));
	aemp_after(n, 0.05, count_timer, &fired);
	ck_assert(tn_run_until(base, &fired, 2));
	aemp_free(n);
}
END_TEST

START_TEST(shared_message_is_not_changed)
{
	aemp_node *n = tn_node(base, "one", NULL);
	struct box a = { 0 }, b = { 0 };
	const char *pa = aemp_port(n, NULL, NULL);
	const char *pb = aemp_port(n, keep_msg, &b);
	json_t *msg = json_pack("[si]", "tag", 1);

	aemp_rcv(n, pa, "tag", keep_msg, &a);
	aemp_snd(n, pa, json_incref(msg));
	aemp_snd(n, pb, msg);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(json_array_size(a.msg), 1);
	ck_assert_int_eq(json_array_size(b.msg), 2);
	ck_assert_str_eq(json_string_value(json_array_get(b.msg, 0)), "tag");
	box_clear(&a);
	box_clear(&b);
	aemp_free(n);
}
END_TEST

START_TEST(node_ids_that_break_greetings_are_refused)
{
	const char *bad[] = { "a;b", "a\nb", "a#b", "" };
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *err = NULL;
		aemp_node *n = aemp_configure(base, json_pack("{sb ss s[] ss}",
		    "norc", 1, "nodeid", bad[i], "binds", "secret", "s"), &err);
		ck_assert_ptr_null(n);
		ck_assert_ptr_nonnull(err);
		free(err);
	}
}
END_TEST

/* --- two nodes ------------------------------------------------------------ */

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

static void
note_up(aemp_node *n, const char *id, int up, json_t *reason, void *ud)
{
	struct box *b = ud;

	(void)n; (void)reason;
	if (up) {
		free(b->port);
		b->port = strdup(id);
		b->got = 1;
	} else
		b->count++;
}

/*
 * The spare message is shared by packets from the network and local
 * sends: a nested value a receiver keeps of a remote message stays as it
 * was when a local send refills that message.
 */
START_TEST(spare_shared_by_remote_and_local)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct seen s = { .keep_at = 1 };
	const char *pa;
	char *now;

	pa = aemp_port(a, NULL, NULL);
	aemp_rcv(a, pa, "a", reuse_rcv, &s);
	aemp_snd(b, pa, json_pack("[si[is]s]", "a", 1, 2, "in", "x"));
	ck_assert(tn_run_until(base, &s.count, 5));
	ck_assert_int_eq(s.count, 1);
	ck_assert_str_eq(s.kept_text, "[2,\"in\"]");
	aemp_sndf(a, pa, "siis", "a", 3, 4, "y");
	aemp_sndf(a, pa, "sisi", "a", 5, "z", 6);
	tn_run_for(base, 0.05);
	ck_assert_int_eq(s.count, 3);
	ck_assert_str_eq(s.text[0], "[1,[2,\"in\"],\"x\"]");
	ck_assert_str_eq(s.text[1], "[3,4,\"y\"]");
	ck_assert_str_eq(s.text[2], "[5,\"z\",6]");
	/* a refilled message (kernel packets take the spare too) or not */
	now = kept_now(&s);
	ck_assert_str_eq(now, "[2,\"in\"]");
	free(now);
	seen_clear(&s);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

START_TEST(two_nodes_connect_and_message)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct box up = { 0 }, msg = { 0 }, rep = { 0 };
	const char *pa;
	json_t *nodes;

	ck_assert_ptr_nonnull(b);
	aemp_mon_nodes(b, note_up, &up);
	ck_assert(tn_run_until(base, &up.got, 5));
	ck_assert_str_eq(up.port, "alpha");
	tn_run_for(base, 0.2);	/* alpha verifies beta's auth line last */
	ck_assert(aemp_node_is_up(a, "beta"));
	nodes = aemp_up_nodes(b);
	ck_assert_int_eq(json_array_size(nodes), 1);
	json_decref(nodes);

	pa = aemp_port(a, NULL, NULL);
	aemp_rcv(a, pa, "test", keep_msg, &msg);
	aemp_sndf(b, pa, "sis", "test", 42, "payload");
	ck_assert(tn_run_until(base, &msg.got, 5));
	ck_assert_int_eq(json_integer_value(json_array_get(msg.msg, 0)), 42);

	/* node port requests across the wire */
	aemp_cal(b, "alpha", json_pack("[s]", "info"), keep_reply, &rep, 5);
	ck_assert(tn_run_until(base, &rep.got, 5));
	ck_assert_str_eq(json_string_value(json_array_get(rep.msg, 0)), "alpha");
	box_clear(&rep);
	aemp_cal(b, "alpha", json_pack("[s]", "up_nodes"), keep_reply, &rep, 5);
	ck_assert(tn_run_until(base, &rep.got, 5));
	ck_assert_str_eq(json_string_value(json_array_get(rep.msg, 0)), "beta");
	box_clear(&rep);
	aemp_cal(b, "alpha", json_pack("[ss]", "eval", "1+1"), keep_reply,
	    &rep, 5);
	ck_assert(tn_run_until(base, &rep.got, 5));
	ck_assert_str_eq(json_string_value(json_array_get(rep.msg, 0)),
	    "eval is not supported by this node");
	box_clear(&rep);
	box_clear(&up);
	box_clear(&msg);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/*
 * Remote packets whose first value is a plain string reach a tag receiver
 * without that string ever becoming part of the message; every other
 * packet, and a tag nobody receives, reaches the default receiver whole.
 */
START_TEST(remote_tags_reach_the_right_receiver)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct box def = { 0 }, tag = { 0 };
	const char *pa = aemp_port(a, keep_msg, &def);
	json_t *m;

	aemp_rcv(a, pa, "a", keep_msg, &tag);
	aemp_sndf(b, pa, "si", "a", 1);
	ck_assert(tn_run_until(base, &tag.got, 5));
	ck_assert_int_eq(json_array_size(tag.msg), 1);
	ck_assert_int_eq(json_integer_value(json_array_get(tag.msg, 0)), 1);

	aemp_sndf(b, pa, "si", "b", 2);
	ck_assert(tn_run_until(base, &def.got, 5));
	ck_assert_int_eq(json_array_size(def.msg), 2);
	ck_assert_str_eq(json_string_value(json_array_get(def.msg, 0)), "b");

	/* "a" then NUL is another tag, though strcmp() would say "a" */
	def.got = 0;
	m = json_array();
	json_array_append_new(m, json_stringn("a\0x", 3));
	json_array_append_new(m, json_integer(3));
	aemp_snd(b, pa, m);
	ck_assert(tn_run_until(base, &def.got, 5));
	ck_assert_int_eq(json_string_length(json_array_get(def.msg, 0)), 3);

	/* a first value that is not a plain string */
	def.got = 0;
	aemp_sndf(b, pa, "ii", 4, 5);
	ck_assert(tn_run_until(base, &def.got, 5));
	ck_assert_int_eq(json_integer_value(json_array_get(def.msg, 0)), 4);
	def.got = 0;
	aemp_sndf(b, pa, "s", "needs \"escapes\"");
	ck_assert(tn_run_until(base, &def.got, 5));
	ck_assert_str_eq(json_string_value(json_array_get(def.msg, 0)),
	    "needs \"escapes\"");

	/* without its tag receiver, "a" goes to the default one, whole */
	def.got = 0;
	aemp_rcv(a, pa, "a", NULL, NULL);
	aemp_sndf(b, pa, "si", "a", 6);
	ck_assert(tn_run_until(base, &def.got, 5));
	ck_assert_str_eq(json_string_value(json_array_get(def.msg, 0)), "a");
	ck_assert_int_eq(json_integer_value(json_array_get(def.msg, 1)), 6);
	ck_assert_int_eq(tag.count, 1);
	box_clear(&def);
	box_clear(&tag);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/* Holds a copy of each message, and the values of each, in ud (arrays). */
struct held {
	json_t	*copies, *values;
};

static int
hold_values(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct held *h = ud;
	size_t i;
	json_t *v;

	(void)n; (void)self;
	json_array_append_new(h->copies, json_deep_copy(msg));
	json_array_foreach(msg, i, v)
		json_array_append(h->values, v);
	return 0;
}

/* Keeps a copy of the message, and nothing of it. */
static int
copy_msg(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	json_t *copies = ud;

	(void)n; (void)self;
	json_array_append_new(copies, json_deep_copy(msg));
	return 0;
}

/*
 * A remote message that its receiver released is filled again by the
 * next packet: whatever a receiver still holds keeps its value, and each
 * message has exactly the values of its packet, whatever the shapes of
 * those before it.
 */
START_TEST(remote_messages_reused_only_when_released)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct held h = { json_array(), json_array() };
	json_t *copies = json_array(), *want, *got;
	const char *pa = aemp_port(a, NULL, NULL);
	size_t i;
	double t0;

	aemp_rcv(a, pa, "h", hold_values, &h);
	aemp_rcv(a, pa, "c", copy_msg, copies);
	aemp_sndf(b, pa, "ssi", "h", "one", 1);
	aemp_sndf(b, pa, "ssi", "h", "two", 2);
	aemp_sndf(b, pa, "ssi", "c", "three", 3);
	aemp_sndf(b, pa, "ssi", "h", "four", 4);
	aemp_sndf(b, pa, "sis", "c", 5, "five");
	aemp_sndf(b, pa, "ss", "c", "six");
	aemp_snd(b, pa, json_pack("[s[ii]nbs]", "c", 7, 8, 1, "seven"));
	aemp_sndf(b, pa, "s", "c");
	aemp_sndf(b, pa, "sIsi", "c", (json_int_t)-9000000000LL, "nine", 9);
	aemp_sndf(b, pa, "ssi", "h", "ten", 10);
	for (t0 = test_now(); (json_array_size(copies) < 6 ||
	    json_array_size(h.copies) < 4) && test_now() - t0 < 5;)
		tn_run_for(base, 0.01);
	want = json_pack("[[si][si][si][si]]", "one", 1, "two", 2, "four", 4,
	    "ten", 10);
	ck_assert(json_equal(h.copies, want));
	/* what the receiver held is as it came, though later ones refilled */
	for (i = 0; i < json_array_size(h.values); i++)
		ck_assert(json_equal(json_array_get(h.values, i),
		    json_array_get(json_array_get(want, i / 2), i % 2)));
	json_decref(want);
	want = json_pack("[[si][is][s][[ii]nbs][][Isi]]", "three", 3, 5, "five",
	    "six", 7, 8, 1, "seven", (json_int_t)-9000000000LL, "nine", 9);
	got = copies;
	ck_assert(json_equal(got, want));
	json_decref(want);
	json_decref(copies);
	json_decref(h.copies);
	json_decref(h.values);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/*
 * aemp_sndf() of "o" and "O" items to a remote port: the values arrive as
 * they were, "O" values stay the caller's and "o" values are released
 * once, whether the packet is written directly or (escapes beyond the
 * room guessed) by the general path.
 */
START_TEST(remote_sndf_of_values)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	json_t *copies = json_array(), *want;
	json_t *obj = json_pack("{si}", "k", 1), *arr = json_pack("[isn]", 1,
	    "two"), *str = json_string("stolen");
	const char *pa = aemp_port(a, NULL, NULL);
	char ctl[101];
	double t0;

	memset(ctl, 1, 100);
	ctl[100] = '\0';
	aemp_rcv(a, pa, "v", copy_msg, copies);
	/* connected: the direct path writes to the connection */
	for (t0 = test_now(); !aemp_node_is_up(b, "alpha") &&
	    test_now() - t0 < 5;)
		tn_run_for(base, 0.01);
	ck_assert(aemp_node_is_up(b, "alpha"));
	aemp_sndf(b, pa, "sOoOi", "v", obj, json_incref(str), arr, 5);
	ck_assert_int_eq(obj->refcount, 1);
	ck_assert_int_eq(str->refcount, 1);
	ck_assert_int_eq(arr->refcount, 1);
	/* each \u0001 is six bytes: more than the room guessed */
	aemp_sndf(b, pa, "ssoO", "v", "x", json_string(ctl), obj);
	ck_assert_int_eq(obj->refcount, 1);
	aemp_sndf(b, pa, "so", "v", json_incref(str));
	ck_assert_int_eq(str->refcount, 1);
	for (t0 = test_now(); json_array_size(copies) < 3 &&
	    test_now() - t0 < 5;)
		tn_run_for(base, 0.01);
	want = json_pack("[[OOOi][ssO][O]]", obj, str, arr, 5, "x", ctl, obj,
	    str);
	ck_assert(json_equal(copies, want));
	json_decref(want);
	json_decref(copies);
	json_decref(obj);
	json_decref(arr);
	json_decref(str);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/*
 * A tag receiver gets its tag only: a tag of the same length that differs
 * in any one byte goes to the default receiver, whatever the length (a
 * port's first tag is compared in words, not byte by byte), from a
 * remote node.
 */
START_TEST(remote_tags_differing_in_one_byte)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct box def = { 0 }, tag = { 0 };
	char want[16], other[16];
	const char *pa;
	size_t len, i;
	int sent = 0;
	double t0;

	for (len = 1; len <= 12; len++) {
		/* the tag first, the default after: the port's first tag */
		pa = aemp_port(a, NULL, NULL);
		memset(want, 'a' + (int)len, len);
		want[len] = '\0';
		aemp_rcv(a, pa, want, keep_msg, &tag);
		aemp_rcv(a, pa, NULL, keep_msg, &def);
		for (i = 0; i < len; i++) {
			memcpy(other, want, len + 1);
			other[i] = 'Z';
			aemp_sndf(b, pa, "si", other, (int)i);
			sent++;
		}
		aemp_sndf(b, pa, "si", want, (int)len);
		for (t0 = test_now(); (def.count < sent ||
		    tag.count < (int)len) && test_now() - t0 < 5;)
			tn_run_for(base, 0.01);
		ck_assert_int_eq(def.count, sent);
		ck_assert_int_eq(tag.count, (int)len);
		ck_assert_int_eq(json_integer_value(json_array_get(tag.msg, 0)),
		    (json_int_t)len);
	}
	box_clear(&def);
	box_clear(&tag);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/*
 * aemp_sndf() to a remote port writes each item into the queue as it
 * reads it: an item that the general path must take, or an error, after
 * others were written leaves nothing of them, and the packets queued
 * before and after arrive whole.
 */
START_TEST(remote_sndf_given_up_midway)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	json_t *copies = json_array(), *want;
	const char *pa = aemp_port(a, NULL, NULL);
	double t0;

	aemp_rcv(a, pa, "v", copy_msg, copies);
	for (t0 = test_now(); !aemp_node_is_up(b, "alpha") &&
	    test_now() - t0 < 5;)
		tn_run_for(base, 0.01);
	ck_assert(aemp_node_is_up(b, "alpha"));
	ck_assert_int_eq(aemp_sndf(b, pa, "si", "v", 1), 0);
	ck_assert_int_eq(aemp_sndf(b, pa, "sisi", "v", 2, "needs \"escapes\"",
	    3), 0);
	ck_assert_int_eq(aemp_sndf(b, pa, "ssO", "v", "x", NULL), -1);
	ck_assert_int_eq(aemp_sndf(b, pa, "sis", "v", 4, NULL), -1);
	ck_assert_int_eq(aemp_sndf(b, pa, "sis[i]", "v", 5, "y", 6), 0);
	ck_assert_int_eq(aemp_sndf(b, pa, "sI", "v", (json_int_t)7), 0);
	for (t0 = test_now(); json_array_size(copies) < 4 &&
	    test_now() - t0 < 5;)
		tn_run_for(base, 0.01);
	tn_run_for(base, 0.05);
	want = json_pack("[[i][isi][is[i]][I]]", 1, 2, "needs \"escapes\"", 3,
	    5, "y", 6, (json_int_t)7);
	ck_assert(json_equal(copies, want));
	json_decref(want);
	json_decref(copies);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/*
 * A timer that sets itself again at once runs once per pass of the loop:
 * messages between nodes still move.
 */
START_TEST(timer_rearming_at_once_does_not_starve_io)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct box msg = { 0 };
	struct again again = { a, 0, 0 };
	const char *pa = aemp_port(a, keep_msg, &msg);

	aemp_after(a, 0, again_timer, &again);
	aemp_sndf(b, pa, "s", "through");
	ck_assert(tn_run_until(base, &msg.got, 5));
	ck_assert_int_gt(again.runs, 0);
	again.stop = 1;
	tn_run_for(base, 0.05);
	box_clear(&msg);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

static int
count_timeouts(const struct event_base *base, const struct event *ev,
    void *ud)
{
	(void)base;
	if (event_pending(ev, EV_TIMEOUT, NULL))
		(*(int *)ud)++;
	return 0;
}

/*
 * Connected nodes keep timers (liveness probes, the global service), but
 * none in libevent: its polls then wait without a timeout, which spares
 * the kernel a timer per sleep.
 */
START_TEST(node_timers_leave_polls_without_timeout)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct box up = { 0 };
	int timeouts = 0;

	aemp_mon_nodes(b, note_up, &up);
	ck_assert(tn_run_until(base, &up.got, 5));
	tn_run_for(base, 0.2);
	event_base_foreach_event(base, count_timeouts, &timeouts);
	ck_assert_int_eq(timeouts, 0);
	box_clear(&up);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

START_TEST(remote_monitor_and_kill)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct box m1 = { 0 }, m2 = { 0 }, m3 = { 0 };
	const char *pa = aemp_port(a, NULL, NULL);
	const char *pa2 = aemp_port(a, NULL, NULL);

	aemp_mon_cb(b, pa, keep_reason, &m1);
	aemp_mon_cb(b, "alpha#doesnotexist", keep_reason, &m2);
	aemp_mon_cb(b, pa2, keep_reason, &m3);
	tn_run_for(base, 0.3);
	ck_assert_int_eq(m1.got, 0);
	aemp_kil(a, pa, json_pack("[ss]", "done", "enough"));
	ck_assert(tn_run_until(base, &m1.got, 5));
	ck_assert_str_eq(m1.port, pa == NULL ? "" : m1.port);
	ck_assert_str_eq(json_string_value(json_array_get(m1.reason, 0)), "done");
	ck_assert_str_eq(json_string_value(json_array_get(m1.reason, 1)),
	    "enough");
	ck_assert(tn_run_until(base, &m2.got, 5));
	ck_assert_str_eq(json_string_value(json_array_get(m2.reason, 0)),
	    "no_such_port");
	ck_assert_str_eq(json_string_value(json_array_get(m2.reason, 2)),
	    "alpha#doesnotexist");
	/* remote kill */
	aemp_kil(b, pa2, json_pack("[s]", "remote"));
	ck_assert(tn_run_until(base, &m3.got, 5));
	ck_assert_str_eq(json_string_value(json_array_get(m3.reason, 0)),
	    "remote");
	box_clear(&m1);
	box_clear(&m2);
	box_clear(&m3);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/*
 * As with the reference, whose port exists only once the function
 * resolved: the port never exists, so the monitor reports no_such_port,
 * every time (spawn and mon1 leave in one write and arrive in one read).
 */
START_TEST(remote_spawn_of_unknown_function_reports_no_such_port)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct box up = { 0 }, m = { 0 };
	char *id;
	int i;

	aemp_mon_nodes(b, note_up, &up);
	ck_assert(tn_run_until(base, &up.got, 5));
	for (i = 0; i < 20; i++) {
		id = aemp_spawn(b, "alpha", "No::such", NULL);
		aemp_mon_cb(b, id, keep_reason, &m);
		ck_assert(tn_run_until(base, &m.got, 5));
		ck_assert_str_eq(json_string_value(json_array_get(m.reason, 0)),
		    "no_such_port");
		ck_assert_str_eq(json_string_value(json_array_get(m.reason, 2)),
		    id);
		free(id);
		box_clear(&m);
	}
	box_clear(&up);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

START_TEST(connection_loss_fires_transport_error)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct box up = { 0 }, m = { 0 };
	const char *pa = aemp_port(a, NULL, NULL);

	aemp_mon_nodes(b, note_up, &up);
	ck_assert(tn_run_until(base, &up.got, 5));
	aemp_mon_cb(b, pa, keep_reason, &m);
	tn_run_for(base, 0.1);
	aemp_free(a);
	ck_assert(tn_run_until(base, &m.got, 5));
	ck_assert_str_eq(json_string_value(json_array_get(m.reason, 0)),
	    "transport_error");
	ck_assert_str_eq(json_string_value(json_array_get(m.reason, 1)),
	    "alpha");
	ck_assert_int_eq(up.count, 1);
	box_clear(&up);
	box_clear(&m);
	aemp_free(b);
}
END_TEST

START_TEST(wrong_secret_is_refused)
{
	aemp_node *a, *b;
	struct tn_log log = { 0 };
	struct box up = { 0 };

	setenv("AEMP_WARNLEVEL", "9", 1);
	a = tn_node(base, "alpha", NULL);
	tn_log_capture(a, &log);
	b = seeded("beta", a, json_pack("{ss}", "secret", "other"));
	aemp_mon_nodes(b, note_up, &up);
	tn_run_for(base, 1.0);
	ck_assert_int_eq(up.got, 0);
	ck_assert(tn_log_has(&log,
	    "authentication failure/shared secret mismatch"));
	ck_assert(!aemp_node_is_up(a, "beta"));
	free(log.text);
	box_clear(&up);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

START_TEST(unable_to_connect)
{
	aemp_node *a = tn_node(base, "alpha", json_pack("{sf}",
	    "monitor_timeout", 0.5));
	struct box m = { 0 };

	aemp_mon_cb(a, "nowhere#x.a", keep_reason, &m);
	ck_assert(tn_run_until(base, &m.got, 3));
	ck_assert_str_eq(json_string_value(json_array_get(m.reason, 0)),
	    "transport_error");
	ck_assert_str_eq(json_string_value(json_array_get(m.reason, 2)),
	    "unable to connect");
	box_clear(&m);
	aemp_free(a);
}
END_TEST

START_TEST(seed_that_is_self_is_dropped)
{
	aemp_node *a;
	struct tn_log log = { 0 };
	char addr[64];
	int port = test_free_port();

	setenv("AEMP_WARNLEVEL", "9", 1);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	a = tn_node(base, "alpha", json_pack("{s[s]s[s]}", "binds", addr,
	    "seeds", addr));
	tn_log_capture(a, &log);
	tn_run_for(base, 0.5);
	ck_assert(tn_log_has(&log, "I refuse to talk to myself"));
	free(log.text);
	aemp_free(a);
}
END_TEST


START_TEST(ipv6_loopback)
{
	aemp_node *a = tn_node(base, "alpha", json_pack("{s[s]}", "binds",
	    "[::1]:*"));
	aemp_node *b;
	struct box up = { 0 };

	ck_assert_ptr_nonnull(a);
	ck_assert(strncmp(tn_addr(a), "[::1]:", 6) == 0);
	b = seeded("beta", a, NULL);
	aemp_mon_nodes(b, note_up, &up);
	ck_assert(tn_run_until(base, &up.got, 5));
	ck_assert_str_eq(up.port, "alpha");
	box_clear(&up);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

START_TEST(bad_binds_fail_configure)
{
	char *err = NULL;
	aemp_node *n = aemp_configure(base, json_pack("{ss s[s] ss}", "nodeid",
	    "x", "binds", "127.0.0.1:99999", "secret", "s"), &err);

	ck_assert_ptr_null(n);
	ck_assert_ptr_nonnull(strstr(err, "127.0.0.1:99999"));
	free(err);
}
END_TEST

struct order {
	int	 seen[4];
	int	 count;
};

static int
note_order(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct order *o = ud;

	(void)n; (void)self;
	if (o->count < 4)
		o->seen[o->count++] = (int)json_integer_value(json_array_get(msg,
		    0));
	return 0;
}

START_TEST(relay_is_not_overtaken)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct box up = { 0 };
	struct order o = { { 0 }, 0 };
	const char *pa = aemp_port(a, NULL, NULL);
	int i;

	aemp_rcv(a, pa, "x", note_order, &o);
	aemp_mon_nodes(b, note_up, &up);
	ck_assert(tn_run_until(base, &up.got, 5));
	/* through alpha's node port, then directly: one connection, in order */
	aemp_snd(b, "alpha", json_pack("[sssi]", "snd", pa, "x", 1));
	aemp_sndf(b, pa, "si", "x", 2);
	aemp_snd(b, "alpha", json_pack("[s[ssi]]", "snd_multiple", pa, "x", 3));
	aemp_sndf(b, pa, "si", "x", 4);
	for (i = 0; i < 100 && o.count < 4; i++)
		tn_run_for(base, 0.02);
	ck_assert_int_eq(o.count, 4);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(o.seen[i], i + 1);
	box_clear(&up);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

START_TEST(cancel_while_connecting_sends_mon0)
{
	struct tn_log log = { 0 };
	aemp_node *a, *b;
	struct box up = { 0 };
	const char *pa;

	setenv("AEMP_WARNLEVEL", "2", 1);
	a = tn_node(base, "alpha", NULL);
	tn_log_capture(a, &log);
	pa = aemp_port(a, NULL, NULL);
	b = seeded("beta", a, NULL);
	/* mon1 and mon0 both wait in beta's queue for the connection */
	aemp_mon_cancel(b, aemp_mon_cb(b, pa, keep_reason, &up));
	aemp_mon_nodes(b, note_up, &up);
	ck_assert(tn_run_until(base, &up.got, 5));
	tn_run_for(base, 0.2);
	aemp_kil(a, pa, json_pack("[s]", "bye"));
	tn_run_for(base, 0.2);
	/* nobody monitors it any more, so alpha says so */
	ck_assert(tn_log_has(&log, "unmonitored local port"));
	free(log.text);
	box_clear(&up);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

START_TEST(unencodable_message_fires_monitors)
{
	aemp_node *a = tn_node(base, "alpha", NULL);
	aemp_node *b = seeded("beta", a, NULL);
	struct box up = { 0 }, m = { 0 };
	const char *pa = aemp_port(a, NULL, NULL);
	json_t *msg;

	aemp_mon_nodes(b, note_up, &up);
	ck_assert(tn_run_until(base, &up.got, 5));
	aemp_mon_cb(b, pa, keep_reason, &m);
	tn_run_for(base, 0.1);
	msg = json_array();
	json_array_append_new(msg, json_stringn_nocheck("\xff\xfe", 2));
	aemp_snd(b, pa, msg);
	ck_assert(tn_run_until(base, &m.got, 3));
	ck_assert_str_eq(json_string_value(json_array_get(m.reason, 0)),
	    "transport_error");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(m.reason,
	    2)), "encodable"));
	box_clear(&up);
	box_clear(&m);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/* --- the AEMP guarantee ----------------------------------------------------- */

#include <netinet/in.h>
#include <arpa/inet.h>
#include <event2/listener.h>
#include <event2/bufferevent.h>
#include <event2/buffer.h>

/* A TCP proxy on the test's event base whose connection the test can cut. */
struct proxy {
	struct evconnlistener	*listener;
	struct bufferevent	*front, *back;
	struct sockaddr_in	 target;
	char			 addr[64];
};

static void
proxy_cut(struct proxy *p)
{
	if (p->front != NULL)
		bufferevent_free(p->front);
	if (p->back != NULL)
		bufferevent_free(p->back);
	p->front = p->back = NULL;
}

static void
proxy_read(struct bufferevent *from, void *arg)
{
	struct proxy *p = arg;
	struct bufferevent *to = from == p->front ? p->back : p->front;

	evbuffer_add_buffer(bufferevent_get_output(to),
	    bufferevent_get_input(from));
}

static void
proxy_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		proxy_cut(arg);
}

static void
proxy_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct proxy *p = arg;
	struct event_base *b = evconnlistener_get_base(l);

	(void)sa; (void)len;
	if (p->front != NULL) {
		evutil_closesocket(fd);
		return;
	}
	p->front = bufferevent_socket_new(b, fd, BEV_OPT_CLOSE_ON_FREE);
	p->back = bufferevent_socket_new(b, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(p->front, proxy_read, NULL, proxy_event, p);
	bufferevent_setcb(p->back, proxy_read, NULL, proxy_event, p);
	bufferevent_socket_connect(p->back, (struct sockaddr *)&p->target,
	    sizeof p->target);
	bufferevent_enable(p->front, EV_READ | EV_WRITE);
	bufferevent_enable(p->back, EV_READ | EV_WRITE);
}

static void
proxy_start(struct proxy *p, const char *target)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	const char *colon = strrchr(target, ':');

	memset(p, 0, sizeof *p);
	p->target.sin_family = AF_INET;
	p->target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->target.sin_port = htons(atoi(colon + 1));
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->listener = evconnlistener_new_bind(base, proxy_accept, p,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof sin);
	ck_assert_ptr_nonnull(p->listener);
	getsockname(evconnlistener_get_fd(p->listener), (struct sockaddr *)&sin,
	    &len);
	snprintf(p->addr, sizeof p->addr, "127.0.0.1:%d", ntohs(sin.sin_port));
}

struct stream {
	aemp_node	*sender;
	const char	*to;
	long		 sent, received, holes;
	int		 fired;
	json_t		*reason;
};

static int
stream_rcv(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct stream *s = ud;

	(void)n; (void)self;
	if (json_integer_value(json_array_get(msg, 0)) != s->received)
		s->holes++;
	s->received++;
	return 0;
}

static void
stream_fired(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct stream *s = ud;

	(void)n; (void)port;
	s->reason = json_incref(reason);
	s->fired = 1;
}

static void
stream_more(aemp_node *n, void *ud)
{
	struct stream *s = ud;

	if (s->fired)
		return;		/* after the monitor: nothing more is sent */
	for (int i = 0; i < 200; i++)
		aemp_sndf(n, s->to, "sI", "seq", (json_int_t)s->sent++);
	aemp_after(n, 0.001, stream_more, s);
}

START_TEST(aemp_guarantee_on_cut_connection)
{
	aemp_node *a = tn_node(base, "alpha", NULL), *b;
	struct stream s = { 0 };
	struct proxy p;
	const char *pa;

	proxy_start(&p, tn_addr(a));
	b = tn_node(base, "beta", json_pack("{s[s]}", "seeds", p.addr));
	pa = aemp_port(a, NULL, NULL);
	aemp_rcv(a, pa, "seq", stream_rcv, &s);
	s.sender = b;
	s.to = pa;
	aemp_mon_cb(b, pa, stream_fired, &s);
	stream_more(b, &s);
	while (s.received < 20000 && tn_run_until(base, &s.fired, 0.05) == 0)
		;
	ck_assert_int_ge(s.received, 20000);
	/* cut mid-stream, with packets in flight, and refuse reconnects */
	evconnlistener_free(p.listener);
	proxy_cut(&p);
	ck_assert(tn_run_until(base, &s.fired, 5));
	tn_run_for(base, 0.2);
	ck_assert_int_eq(s.holes, 0);
	ck_assert_int_le(s.received, s.sent);
	ck_assert_str_eq(json_string_value(json_array_get(s.reason, 0)),
	    "transport_error");
	ck_assert_str_eq(json_string_value(json_array_get(s.reason, 1)),
	    "alpha");
	json_decref(s.reason);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

static Suite *
kernel_suite(void)
{
	Suite *s = suite_create("kernel");
	TCase *one = tcase_create("one node"), *two = tcase_create("two nodes");

	tcase_add_checked_fixture(one, setup, teardown);
	tcase_add_checked_fixture(two, setup, teardown);
	tcase_set_timeout(two, 30);
	tcase_add_test(one, simple_example);
	tcase_add_test(one, port_ids_unique);
	tcase_add_test(one, default_and_tag_receivers);
	tcase_add_test(one, receivers_in_and_beside_the_port);
	tcase_add_test(one, local_sndf_without_the_tag);
	tcase_add_test(one, local_sndf_reuses_only_released_messages);
	tcase_add_test(one, sndf_builds_what_json_pack_builds);
	tcase_add_test(one, receiver_failure_kills_port);
	tcase_add_test(one, monitor_nonexistent_port);
	tcase_add_test(one, kill_is_delayed_and_monitors_are_one_shot);
	tcase_add_test(one, mon_kill_propagates_only_abnormal);
	tcase_add_test(one, mon_snd_appends_reason);
	tcase_add_test(one, kill_node_port_refused);
	tcase_add_test(one, local_spawn_and_unknown_function);
	tcase_add_test(one, cal_node_port_time_and_timeout);
	tcase_add_test(one, after_and_cancel);
	tcase_add_test(one, eval_refused_locally);
	tcase_add_test(one, node_port_requests_locally);
	tcase_add_test(one, node_request_table_rows_answer);
	tcase_add_test(one, node_request_table_min_args);
	tcase_add_test(one, node_request_unknown_name_is_limited);
	tcase_add_test(one, words_like_perl);
	tcase_add_test(one, cancel_sibling_monitor_while_firing);
	tcase_add_test(one, timer_cancels_itself);
	tcase_add_test(one, timers_fire_in_deadline_order);
	tcase_add_test(one, odd_timer_delays);
	tcase_add_test(one, timer_callback_frees_its_node);
	tcase_add_test(one, loopbreak_in_timer_defers_the_rest);
	tcase_add_test(one, loop_ends_when_nothing_is_left);
	tcase_add_test(one, self_sending_port_does_not_starve_the_loop);
	tcase_add_test(one, shared_message_is_not_changed);
	tcase_add_test(one, node_ids_that_break_greetings_are_refused);
	tcase_add_test(two, relay_is_not_overtaken);
	tcase_add_test(two, cancel_while_connecting_sends_mon0);
	tcase_add_test(two, unencodable_message_fires_monitors);
	tcase_add_test(two, two_nodes_connect_and_message);
	tcase_add_test(two, spare_shared_by_remote_and_local);
	tcase_add_test(two, remote_tags_reach_the_right_receiver);
	tcase_add_test(two, remote_messages_reused_only_when_released);
	tcase_add_test(two, remote_sndf_of_values);
	tcase_add_test(two, remote_sndf_given_up_midway);
	tcase_add_test(two, remote_tags_differing_in_one_byte);
	tcase_add_test(two, timer_rearming_at_once_does_not_starve_io);
	tcase_add_test(two, node_timers_leave_polls_without_timeout);
	tcase_add_test(two, remote_monitor_and_kill);
	tcase_add_test(two, remote_spawn_of_unknown_function_reports_no_such_port);
	tcase_add_test(two, connection_loss_fires_transport_error);
	tcase_add_test(two, wrong_secret_is_refused);
	tcase_add_test(two, unable_to_connect);
	tcase_add_test(two, seed_that_is_self_is_dropped);
	tcase_add_test(two, aemp_guarantee_on_cut_connection);
	tcase_add_test(two, ipv6_loopback);
	tcase_add_test(one, bad_binds_fail_configure);
	suite_add_tcase(s, one);
	suite_add_tcase(s, two);
	return s;
}

AEMP_TEST_MAIN(kernel_suite)

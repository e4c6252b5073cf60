/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fanout.c: the chat server pattern. A hub node's relay port sends each
 * message it gets to 100 ports spread over 4 leaf nodes, each leaf in its
 * own process; the hub feeds its relay port locally, as fast as the
 * leaves' acknowledgements allow.
 *
 * usage: fanout MESSAGES     prints "rate DELIVERIES_PER_SECOND"
 */
#include "bench.h"

#define LEAVES		4
#define PER_LEAF	25
#define WINDOW		4096	/* relayed messages in flight at most */
#define ACK_EVERY	256	/* per leaf, in messages per port */

struct leaf {
	FILE		*out;
	char		*ack;
	long		 total, count;	/* deliveries to this leaf */
	int		 idx;
};

static int
leaf_hello(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct leaf *l = ud;

	(void)n; (void)self;
	l->ack = strdup(json_string_value(json_array_get(msg, 0)));
	l->total = (long)json_integer_value(json_array_get(msg, 1)) * PER_LEAF;
	return 0;
}

static int
leaf_msg(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct leaf *l = ud;

	(void)self; (void)msg;
	l->count++;
	if (l->count % (ACK_EVERY * PER_LEAF) == 0 || l->count == l->total)
		aemp_sndf(n, l->ack, "siI", "ack", l->idx,
		    (json_int_t)(l->count / PER_LEAF));
	return 0;
}

static void
leaf(FILE *out, void *arg)
{
	struct leaf l;
	char id[16];
	aemp_node *n;

	memset(&l, 0, sizeof l);
	l.idx = *(int *)arg;
	snprintf(id, sizeof id, "leaf%d", l.idx);
	n = bench_node(NULL, id, 1, NULL);
	fprintf(out, "%s", bench_addr(n));
	for (int i = 0; i < PER_LEAF; i++) {
		const char *p = aemp_port(n, NULL, NULL);
		aemp_rcv(n, p, "hello", leaf_hello, &l);
		aemp_rcv(n, p, "msg", leaf_msg, &l);
		fprintf(out, " %s", p);
	}
	fprintf(out, "\n");
	aemp_loop(n);
}

struct hub {
	aemp_node	*n;
	const char	*relay;
	char		*ports[LEAVES * PER_LEAF];
	long		 total, sent, acked[LEAVES];
	double		 t0, t1;
	int		 done;
};

static int
relay(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct hub *h = ud;

	(void)self;
	for (int i = 0; i < LEAVES * PER_LEAF; i++)
		aemp_snd(n, h->ports[i], json_copy(msg));
	return 0;
}

static long
least_acked(struct hub *h)
{
	long least = h->acked[0];

	for (int i = 1; i < LEAVES; i++)
		if (h->acked[i] < least)
			least = h->acked[i];
	return least;
}

static void
pump(struct hub *h)
{
	while (h->sent < h->total && h->sent - least_acked(h) < WINDOW) {
		aemp_sndf(h->n, h->relay, "sIs", "msg", (json_int_t)h->sent,
		    "hello, everyone in the room");
		h->sent++;
	}
}

static int
on_ack(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct hub *h = ud;
	int idx = (int)json_integer_value(json_array_get(msg, 0));

	(void)self;
	if (idx >= 0 && idx < LEAVES)
		h->acked[idx] = (long)json_integer_value(json_array_get(msg, 1));
	if (least_acked(h) >= h->total) {
		h->t1 = bench_now();
		bench_finish(n, &h->done);
	} else
		pump(h);
	return 0;
}

int
main(int argc, char **argv)
{
	struct bench_child c[LEAVES];
	struct event_base *base;
	struct hub h;
	char line[LEAVES][4096];
	json_t *seeds;
	char *err = NULL;
	const char *ack;
	int i, k;

	if (argc != 2) {
		fprintf(stderr, "usage: fanout MESSAGES\n");
		return 2;
	}
	bench_isolate();
	memset(&h, 0, sizeof h);
	h.total = atol(argv[1]);
	for (i = 0; i < LEAVES; i++) {
		bench_fork(&c[i], leaf, &i);
		bench_child_line(&c[i], line[i], sizeof line[i]);
	}
	seeds = json_array();
	for (i = 0, k = 0; i < LEAVES; i++) {
		char *save = NULL, *tok = strtok_r(line[i], " ", &save);
		json_array_append_new(seeds, json_string(tok));
		while ((tok = strtok_r(NULL, " ", &save)) != NULL &&
		    k < LEAVES * PER_LEAF)
			h.ports[k++] = tok;
	}
	base = event_base_new();
	h.n = aemp_configure(base, json_pack("{sb ss ss s[s] so}", "norc", 1,
	    "nodeid", "hub", "secret", BENCH_SECRET, "binds", "127.0.0.1:*",
	    "seeds", seeds), &err);
	if (h.n == NULL) {
		fprintf(stderr, "fanout: %s\n", err);
		return 1;
	}
	for (i = 0; i < LEAVES; i++) {
		char id[16];
		snprintf(id, sizeof id, "leaf%d", i);
		bench_wait_up(h.n, id, 10);
	}
	h.relay = aemp_port(h.n, relay, &h);
	ack = aemp_port(h.n, NULL, NULL);
	aemp_rcv(h.n, ack, "ack", on_ack, &h);
	/* one port per leaf takes the hello for the whole leaf */
	for (i = 0; i < LEAVES; i++)
		aemp_sndf(h.n, h.ports[i * PER_LEAF], "ssI", "hello", ack,
		    (json_int_t)h.total);
	h.t0 = bench_now();
	pump(&h);
	if (!bench_run_until(h.n, &h.done, 120)) {
		fprintf(stderr, "fanout: timed out at %ld\n", least_acked(&h));
		return 1;
	}
	printf("rate %.0f\n", (double)h.total * LEAVES * PER_LEAF /
	    (h.t1 - h.t0));
	for (i = 0; i < LEAVES; i++)
		bench_child_end(&c[i]);
	aemp_free(h.n);
	event_base_free(base);
	return 0;
}

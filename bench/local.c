/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * local.c: in-process throughput: snd ["test",<int>] to a local port
 * whose "test" receiver counts, in batches that the loop delivers.
 *
 * usage: local COUNT     prints "rate MSGS_PER_SECOND"
 */
#include "bench.h"

#define BATCH	4096

static int
on_test(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	(void)n; (void)self; (void)msg;
	(*(long *)ud)++;
	return 0;
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	aemp_node *n;
	const char *port;
	json_t *tag;
	long total, sent = 0, got = 0;
	double t0, t;

	if (argc != 2) {
		fprintf(stderr, "usage: local COUNT\n");
		return 2;
	}
	bench_isolate();
	total = atol(argv[1]);
	base = event_base_new();
	n = bench_node(base, "local", 0, NULL);
	port = aemp_port(n, NULL, NULL);
	aemp_rcv(n, port, "test", on_test, &got);
	/* one tag string shared by every message, as a tuned sender would */
	tag = json_string("test");
	t0 = bench_now();
	while (sent < total) {
		for (long i = 0; i < BATCH && sent < total; i++, sent++) {
			json_t *msg = json_array();
			json_array_append(msg, tag);
			json_array_append_new(msg, json_integer(sent));
			aemp_snd(n, port, msg);
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	while (got < total)
		event_base_loop(base, EVLOOP_NONBLOCK);
	t = bench_now() - t0;
	printf("rate %.0f\n", (double)got / t);
	json_decref(tag);
	aemp_free(n);
	event_base_free(base);
	return 0;
}

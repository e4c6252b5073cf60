/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * local.c: in-process throughput: snd ["test",<int>] to a local port
 * whose "test" receiver counts, in batches that the loop delivers.
 *
 * usage: local COUNT     prints "rate MSGS_PER_SECOND"
 *        local COUNT sndf    the same sent with aemp_sndf, format "sI"
 *        local COUNT floor   the same messages built, their tag removed
 *                            and freed in the same batches, without
 *                            aemp: what the sender's jansson calls cost
 *                            alone, the most aemp_snd() could reach
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

static int
floor_run(long total)
{
	json_t **q = malloc(BATCH * sizeof *q), *tag = json_string("test");
	long sent = 0, got = 0, k, i;
	double t0 = bench_now();

	while (sent < total) {
		for (k = 0; k < BATCH && sent < total; k++, sent++) {
			json_t *msg = json_array();
			json_array_append(msg, tag);
			json_array_append_new(msg, json_integer(sent));
			q[k] = msg;
		}
		for (i = 0; i < k; i++) {
			json_array_remove(q[i], 0);
			got += json_integer_value(json_array_get(q[i], 0)) >= 0;
			json_decref(q[i]);
		}
	}
	printf("rate %.0f\n", (double)got / (bench_now() - t0));
	json_decref(tag);
	free(q);
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
	int sndf;
	double t0, t;

	if (argc != 2 && !(argc == 3 && (strcmp(argv[2], "floor") == 0 ||
	    strcmp(argv[2], "sndf") == 0))) {
		fprintf(stderr, "usage: local COUNT [floor|sndf]\n");
		return 2;
	}
	bench_isolate();
	total = atol(argv[1]);
	if (argc == 3 && strcmp(argv[2], "floor") == 0)
		return floor_run(total);
	sndf = argc == 3;
	base = event_base_new();
	n = bench_node(base, "local", 0, NULL);
	port = aemp_port(n, NULL, NULL);
	aemp_rcv(n, port, "test", on_test, &got);
	/* one tag string shared by every message, as a tuned sender would */
	tag = json_string("test");
	t0 = bench_now();
	while (sent < total) {
		for (long i = 0; i < BATCH && sent < total; i++, sent++) {
			json_t *msg;
			if (sndf) {
				aemp_sndf(n, port, "sI", "test",
				    (json_int_t)sent);
				continue;
			}
			msg = json_array();
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

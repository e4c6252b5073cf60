/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * handshake.c: a fresh node connects to a node in another process until
 * it is up: TCP connect, greetings and the hmac_md6_64_256 handshake.
 * The clock starts when the node logs that it tries its seed and stops
 * when mon_nodes reports the peer up.
 *
 * usage: handshake COUNT     prints "median_us X"
 */
#include "bench.h"

struct hs {
	double	 t0, t1;
	int	 up;
};

static void
on_log(aemp_node *n, int level, const char *msg, void *ud)
{
	struct hs *hs = ud;

	(void)n; (void)level;
	if (strncmp(msg, "trying connect to seed", 22) == 0)
		hs->t0 = bench_now();
}

static void
on_nodes(aemp_node *n, const char *nodeid, int up, json_t *reason, void *ud)
{
	struct hs *hs = ud;

	(void)nodeid; (void)reason;
	if (up && !hs->up) {
		hs->t1 = bench_now();
		bench_finish(n, &hs->up);
	}
}

static void
server(FILE *out, void *arg)
{
	aemp_node *n = bench_node(NULL, "server", 1, NULL);

	(void)arg;
	fprintf(out, "%s\n", bench_addr(n));
	aemp_loop(n);
}

int
main(int argc, char **argv)
{
	struct bench_child c;
	struct event_base *base;
	char addr[256];
	double *us;
	long count, i;

	if (argc != 2) {
		fprintf(stderr, "usage: handshake COUNT\n");
		return 2;
	}
	bench_isolate();
	count = atol(argv[1]);
	if (count < 1)
		count = 1;
	us = calloc((size_t)count, sizeof *us);
	bench_fork(&c, server, NULL);
	bench_child_line(&c, addr, sizeof addr);
	/* level 9 for the "trying connect" line, the start of the clock */
	setenv("AEMP_WARNLEVEL", "9", 1);
	base = event_base_new();
	for (i = 0; i < count; i++) {
		struct hs hs = { 0, 0, 0 };
		aemp_node *n = bench_node(base, NULL, 0, addr);
		aemp_set_logger(n, on_log, &hs);
		aemp_mon_nodes(n, on_nodes, &hs);
		if (!bench_run_until(n, &hs.up, 10) || hs.t0 == 0) {
			fprintf(stderr, "handshake: no connection\n");
			return 1;
		}
		us[i] = (hs.t1 - hs.t0) * 1e6;
		aemp_free(n);
	}
	qsort(us, (size_t)count, sizeof *us, bench_cmp_double);
	printf("median_us %.1f\n", us[count / 2]);
	bench_child_end(&c);
	event_base_free(base);
	free(us);
	return 0;
}

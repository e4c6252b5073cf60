/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * snapshot.c: the cost of aemp_stats() (what /metrics, /status.json and
 * "aemp top" ask for) on a node with PORTS local ports, a tenth of them
 * monitored, and PEERS connected peer nodes, all in this process.
 *
 * usage: snapshot PORTS PEERS     prints "snapshot_ms", "dump_ms"
 */
#include "bench.h"

#define CALLS	51

static void
ignore(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	(void)n; (void)port; (void)reason; (void)ud;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	aemp_node *n, **peers;
	double snap[CALLS], dump[CALLS], end;
	long nports, npeers, i, up;
	char name[32];
	json_t *s;

	if (argc != 3) {
		fprintf(stderr, "usage: snapshot PORTS PEERS\n");
		return 2;
	}
	/* peers without listeners make the hub warn about each: quiet */
	setenv("AEMP_WARNLEVEL", "1", 0);
	bench_isolate();
	nports = atol(argv[1]);
	npeers = atol(argv[2]);
	base = event_base_new();
	n = bench_node(base, "hub", 1, NULL);
	for (i = 0; i < nports; i++) {
		const char *p = aemp_port(n, NULL, NULL);
		if (i % 10 == 0)
			aemp_mon_cb(n, p, ignore, NULL);
	}
	peers = calloc((size_t)npeers, sizeof *peers);
	for (i = 0; i < npeers; i++) {
		snprintf(name, sizeof name, "peer%ld", i);
		peers[i] = bench_node(base, name, 0, bench_addr(n));
	}
	end = bench_now() + 60;
	do {
		struct timeval tv = { 0, 10000 };
		json_t *upn;
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
		upn = aemp_up_nodes(n);
		up = (long)json_array_size(upn);
		json_decref(upn);
	} while (up < npeers && bench_now() < end);
	if (up < npeers) {
		fprintf(stderr, "snapshot: only %ld of %ld peers up\n", up,
		    npeers);
		return 1;
	}
	for (i = 0; i < CALLS; i++) {
		double t0 = bench_now(), t1;
		char *text;
		s = aemp_stats(n);
		t1 = bench_now();
		text = json_dumps(s, JSON_COMPACT);
		dump[i] = (bench_now() - t1) * 1e3;
		snap[i] = (t1 - t0) * 1e3;
		free(text);
		json_decref(s);
	}
	qsort(snap, CALLS, sizeof snap[0], cmp_double);
	qsort(dump, CALLS, sizeof dump[0], cmp_double);
	printf("snapshot_ms %.3f\ndump_ms %.3f\n", snap[CALLS / 2],
	    dump[CALLS / 2]);
	for (i = 0; i < npeers; i++)
		aemp_free(peers[i]);
	free(peers);
	aemp_free(n);
	event_base_free(base);
	return 0;
}

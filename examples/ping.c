/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * ping.c: spawns Echo::echo on a node running echo.c and measures COUNT
 * round trips, one at a time; prints the median and 99th percentile.
 *
 * usage: ping NODE COUNT [KEY VALUE ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aemp.h"
#include "example_args.h"

struct ping {
	const char	*echo;
	const char	*self;
	long		 count, done;
	double		*rtt;
	double		 sent;
	int		 failed;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
send_ping(aemp_node *n, struct ping *p)
{
	p->sent = now();
	aemp_sndf(n, p->echo, "ssI", "ping", p->self, (json_int_t)p->done);
}

static int
on_pong(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct ping *p = ud;

	(void)self; (void)msg;
	p->rtt[p->done++] = now() - p->sent;
	if (p->done == p->count)
		aemp_loopexit(n);
	else
		send_ping(n, p);
	return 0;
}

static void
on_echo_death(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct ping *p = ud;
	char *text = json_dumps(reason, JSON_COMPACT);

	fprintf(stderr, "ping: %s died: %s\n", port, text);
	free(text);
	p->failed = 1;
	aemp_loopexit(n);
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
	struct ping p;
	char *err = NULL, *echo;
	aemp_node *n;

	if (argc < 3) {
		fprintf(stderr, "usage: ping NODE COUNT [KEY VALUE ...]\n");
		return 2;
	}
	memset(&p, 0, sizeof p);
	p.count = atol(argv[2]);
	if (p.count <= 0)
		p.count = 1;
	p.rtt = calloc((size_t)p.count, sizeof *p.rtt);
	n = aemp_configure(NULL, example_args(argc - 3, argv + 3), &err);
	if (n == NULL) {
		fprintf(stderr, "ping: %s\n", err);
		return 1;
	}
	echo = aemp_spawn(n, argv[1], "Echo::echo", NULL);
	p.echo = echo;
	p.self = aemp_port(n, NULL, NULL);
	aemp_rcv(n, p.self, "pong", on_pong, &p);
	aemp_mon_cb(n, echo, on_echo_death, &p);
	send_ping(n, &p);
	aemp_loop(n);
	if (!p.failed) {
		qsort(p.rtt, (size_t)p.done, sizeof *p.rtt, cmp_double);
		printf("{\"count\": %ld, \"median_us\": %.1f, \"p99_us\": %.1f}\n",
		    p.done, p.rtt[p.done / 2] * 1e6,
		    p.rtt[(size_t)((double)p.done * 0.99)] * 1e6);
	}
	free(echo);
	free(p.rtt);
	aemp_free(n);
	return p.failed;
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * portmem.c: creates COUNT ports, each with one tag receiver, and
 * reports the resident memory they took and the time each creation took.
 *
 * usage: portmem COUNT     prints "bytes_per_port X", "us_per_port Y"
 *                          (wall clock) and "cpu_us_per_port Z" (this
 *                          process's CPU time: what other load on a
 *                          shared machine does not inflate)
 */
#include "bench.h"

static long
rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, rss = 0;

	if (f == NULL || fscanf(f, "%ld %ld", &size, &rss) != 2)
		bench_die("/proc/self/statm");
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
on_msg(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	(void)n; (void)self; (void)msg; (void)ud;
	return 0;
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	aemp_node *n;
	long count, rss0, rss1;
	double t0, t1, c0, c1;

	if (argc != 2) {
		fprintf(stderr, "usage: portmem COUNT\n");
		return 2;
	}
	bench_isolate();
	count = atol(argv[1]);
	base = event_base_new();
	n = bench_node(base, "mem", 0, NULL);
	rss0 = rss_bytes();
	c0 = cpu_now();
	t0 = bench_now();
	for (long i = 0; i < count; i++) {
		const char *p = aemp_port(n, NULL, NULL);
		aemp_rcv(n, p, "msg", on_msg, NULL);
	}
	t1 = bench_now();
	c1 = cpu_now();
	rss1 = rss_bytes();
	printf("bytes_per_port %.1f\nus_per_port %.3f\ncpu_us_per_port %.3f\n",
	    (double)(rss1 - rss0) / (double)count,
	    (t1 - t0) * 1e6 / (double)count, (c1 - c0) * 1e6 / (double)count);
	fflush(stdout);
	/* freeing a million ports is not what is measured */
	_exit(0);
}

/*
 * connmem.c: memory per connected peer. A node in a child process counts
 * peers coming up; after WARM of them it notes its resident set size,
 * after WARM + COUNT more it prints the growth per peer. The peers are
 * nodes in this process, on one event base. With $AEMP_BENCH_CERT every
 * connection is TLS.
 *
 * usage: connmem COUNT     prints "bytes_per_conn X"
 */
#include "bench.h"

#define WARM	10

struct srv {
	FILE	*out;
	long	 count, up;
	long	 rss0;
};

static long
rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;

	if (f == NULL || fscanf(f, "%ld %ld", &pages, &rss) != 2)
		bench_die("/proc/self/statm");
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

static void
on_up(aemp_node *n, const char *nodeid, int up, json_t *reason, void *ud)
{
	struct srv *s = ud;

	(void)n; (void)nodeid; (void)reason;
	if (!up)
		return;
	if (++s->up == WARM)
		s->rss0 = rss_bytes();
	if (s->up == WARM + s->count)
		fprintf(s->out, "bytes_per_conn %.0f\n", (double)(rss_bytes() -
		    s->rss0) / (double)s->count);
}

static void
server(FILE *out, void *arg)
{
	aemp_node *n = bench_node(NULL, "server", 1, NULL);
	struct srv s = { out, *(long *)arg, 0, 0 };

	aemp_mon_nodes(n, on_up, &s);
	fprintf(out, "%s\n", bench_addr(n));
	aemp_loop(n);
}

int
main(int argc, char **argv)
{
	struct bench_child c;
	struct event_base *base;
	aemp_node **peers;
	char addr[256], line[128];
	long count, i;
	int done = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: connmem COUNT\n");
		return 2;
	}
	bench_isolate();
	count = atol(argv[1]);
	if (count < 1)
		count = 1;
	bench_fork(&c, server, &count);
	bench_child_line(&c, addr, sizeof addr);
	base = event_base_new();
	peers = calloc((size_t)(count + WARM), sizeof *peers);
	for (i = 0; i < count + WARM; i++) {
		peers[i] = bench_node(base, NULL, 0, addr);
		if (i % 10 == 9)
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	{
		/* the answer comes when every peer is up */
		struct timeval tv = { 0, 10000 };
		double end = bench_now() + 60;
		while (bench_now() < end && !done) {
			fd_set r;
			struct timeval z = { 0, 0 };
			int fd = fileno(c.from);
			FD_ZERO(&r);
			FD_SET(fd, &r);
			if (select(fd + 1, &r, NULL, NULL, &z) > 0)
				done = 1;
			else {
				event_base_loopexit(base, &tv);
				event_base_dispatch(base);
			}
		}
	}
	if (!done) {
		fprintf(stderr, "connmem: peers did not come up\n");
		return 1;
	}
	bench_child_line(&c, line, sizeof line);
	printf("%s\n", line);
	bench_child_end(&c);
	for (i = 0; i < count + WARM; i++)
		aemp_free(peers[i]);
	free(peers);
	event_base_free(base);
	return 0;
}

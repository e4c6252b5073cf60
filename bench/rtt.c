/*
 * rtt.c: ping-pong round trips between two processes, one message in
 * flight: "aemp" between two nodes (["ECHO","ping",REPLY,<int>] answered
 * by ["REPLY","pong",<int>]), "raw" the same bytes over a blocking
 * TCP_NODELAY socket pair.
 *
 * The two alternate in blocks of BLOCK round trips within one run, so
 * that a machine whose speed drifts (shared, frequency scaling) affects
 * both alike.
 *
 * usage: rtt COUNT     prints "median_us", "p99_us", "raw_median_us" and
 *                      "raw_p99_us" lines
 */
#include "bench.h"

#define WARMUP		2000
#define BLOCK		500
#define RAW_ECHO	"abcdefghi.a"
#define RAW_REPLY	"send#jklmnopqr.a"

static int
on_ping(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	const char *reply = json_string_value(json_array_get(msg, 0));

	(void)self; (void)ud;
	return aemp_snd(n, reply, json_pack("[sO]", "pong",
	    json_array_get(msg, 1)));
}

static void
aemp_echo(FILE *out, void *arg)
{
	aemp_node *n = bench_node(NULL, "echo", 1, NULL);
	const char *port = aemp_port(n, NULL, NULL);

	(void)arg;
	aemp_rcv(n, port, "ping", on_ping, NULL);
	fprintf(out, "%s %s\n", bench_addr(n), port);
	aemp_loop(n);
}

struct pinger {
	aemp_node	*n;
	const char	*echo, *self;
	long		 count, done, stop;
	double		*rtt, sent;
	int		 finished;
};

static void
send_ping(struct pinger *p)
{
	p->sent = bench_now();
	aemp_sndf(p->n, p->echo, "ssI", "ping", p->self, (json_int_t)p->done);
}

static int
on_pong(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct pinger *p = ud;
	double t = bench_now();

	(void)n; (void)self; (void)msg;
	p->rtt[p->done++] = t - p->sent;
	if (p->done == p->stop)
		p->finished = 1;
	else
		send_ping(p);
	return 0;
}

static void
report(const char *prefix, double *rtt, long count)
{
	/* the warm-up round trips are not counted */
	rtt += WARMUP;
	count -= WARMUP;
	qsort(rtt, (size_t)count, sizeof *rtt, bench_cmp_double);
	printf("%smedian_us %.2f\n%sp99_us %.2f\n", prefix,
	    rtt[count / 2] * 1e6, prefix,
	    rtt[(long)((double)count * 0.99)] * 1e6);
}

/* --- raw --------------------------------------------------------------- */

/* Reads until the buffered bytes end with ']': one whole packet. */
static size_t
read_packet(int fd, char *buf, size_t size)
{
	size_t len = 0;

	do {
		ssize_t r = read(fd, buf + len, size - len);
		if (r <= 0)
			return 0;
		len += (size_t)r;
	} while (buf[len - 1] != ']');
	return len;
}

static void
raw_echo(FILE *out, void *arg)
{
	int port, lfd = bench_raw_listen(&port), fd;
	char buf[4096], reply[256];

	(void)arg;
	fprintf(out, "%d\n", port);
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		bench_die("accept");
	bench_nodelay(fd);
	for (;;) {
		size_t len = read_packet(fd, buf, sizeof buf);
		char *num;
		int rlen;
		if (len == 0)
			_exit(0);
		/* the counter is the last element: after the last ',' */
		buf[len - 1] = '\0';
		num = strrchr(buf, ',') + 1;
		rlen = snprintf(reply, sizeof reply, "[\"%s\",\"pong\",%s]",
		    "jklmnopqr.a", num);
		bench_write_all(fd, reply, (size_t)rlen);
	}
}

static void
raw_block(int fd, double *rtt, long from, long to)
{
	char buf[4096];

	for (long i = from; i < to; i++) {
		double t = bench_now();
		int len = snprintf(buf, sizeof buf,
		    "[\"" RAW_ECHO "\",\"ping\",\"" RAW_REPLY "\",%ld]", i);
		bench_write_all(fd, buf, (size_t)len);
		if (read_packet(fd, buf, sizeof buf) == 0)
			bench_die("read");
		rtt[i] = bench_now() - t;
	}
}

static int
run(long count)
{
	struct bench_child ca, cr;
	struct event_base *base;
	struct pinger p;
	char line[512], *sp;
	double *raw;
	int fd;

	bench_fork(&ca, aemp_echo, NULL);
	bench_child_line(&ca, line, sizeof line);
	bench_fork(&cr, raw_echo, NULL);
	if ((sp = strchr(line, ' ')) == NULL)
		return 1;
	*sp++ = '\0';
	base = event_base_new();
	memset(&p, 0, sizeof p);
	p.n = bench_node(base, "send", 1, line);
	p.echo = sp;
	p.count = count + WARMUP;
	p.rtt = calloc((size_t)p.count, sizeof *p.rtt);
	raw = calloc((size_t)p.count, sizeof *raw);
	bench_wait_up(p.n, "echo", 10);
	p.self = aemp_port(p.n, NULL, NULL);
	aemp_rcv(p.n, p.self, "pong", on_pong, &p);
	bench_child_line(&cr, line, sizeof line);
	fd = bench_raw_connect(atoi(line));
	while (p.done < p.count) {
		long from = p.done;
		p.stop = from + BLOCK < p.count ? from + BLOCK : p.count;
		p.finished = 0;
		send_ping(&p);
		if (!bench_run_until(base, &p.finished, 60)) {
			fprintf(stderr, "rtt: timed out\n");
			return 1;
		}
		raw_block(fd, raw, from, p.stop);
	}
	report("", p.rtt, p.count);
	report("raw_", raw, p.count);
	close(fd);
	bench_child_end(&cr);
	bench_child_end(&ca);
	aemp_free(p.n);
	event_base_free(base);
	free(p.rtt);
	free(raw);
	return 0;
}

int
main(int argc, char **argv)
{
	long count;

	if (argc != 2) {
		fprintf(stderr, "usage: rtt COUNT\n");
		return 2;
	}
	bench_isolate();
	count = atol(argv[1]);
	if (count < 100)
		count = 100;
	return run(count);
}

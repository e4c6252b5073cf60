/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * rtt.c: ping-pong round trips between two processes, one message in
 * flight: "aemp" between two nodes (["ECHO","ping",REPLY,<int>] answered
 * by ["REPLY","pong",<int>]), "raw" the same bytes over a blocking
 * TCP_NODELAY socket pair, and "floor" the same bytes through a bare
 * libevent loop on each side (a non-blocking socket, a poll per message):
 * what any event loop costs before aemp does anything.
 *
 * The three alternate in blocks of BLOCK round trips within one run, so
 * that a machine whose speed drifts (shared, frequency scaling) affects
 * all alike. Where the processes run is fixed, not left to the scheduler:
 * on a virtual machine waking an idle CPU costs tens of microseconds, and
 * whether a pair shares a CPU then decides the result. "same" puts every
 * process on one CPU, "xcpu" the echo side on another than the ping side,
 * "free" leaves it to the scheduler (to see what it does).
 *
 * usage: rtt COUNT [same|xcpu|free]   prints "median_us", "p99_us",
 *                      "raw_median_us", "raw_p99_us", "floor_median_us"
 *                      and "floor_p99_us" lines
 */
#include <sched.h>
#include <fcntl.h>

#include "bench.h"

#define WARMUP		2000
#define BLOCK		500
#define RAW_ECHO	"abcdefghi.a"
#define RAW_REPLY	"send#jklmnopqr.a"

static void pin_child(void *);

static int
on_ping(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	const char *reply = json_string_value(json_array_get(msg, 0));

	(void)self; (void)ud;
	return aemp_sndf(n, reply, "sO", "pong", json_array_get(msg, 1));
}

static void
aemp_echo(FILE *out, void *arg)
{
	aemp_node *n;
	const char *port;

	pin_child(arg);
	n = bench_node(NULL, "echo", 1, NULL);
	port = aemp_port(n, NULL, NULL);
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

	(void)self; (void)msg;
	p->rtt[p->done++] = t - p->sent;
	if (p->done == p->stop)
		bench_finish(n, &p->finished);
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

	pin_child(arg);
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

/* --- floor: a bare libevent loop ------------------------------------------ */

/*
 * Adds what fd has to acc (*len bytes so far): 1 once it ends a packet
 * (one is in flight at a time), as read_packet() does for the raw pair,
 * -1 at the end of the stream.
 */
static int
floor_read(int fd, char *acc, size_t size, size_t *len)
{
	ssize_t r = read(fd, acc + *len, size - 1 - *len);

	if (r == 0)
		return -1;
	if (r < 0)
		return 0;
	*len += (size_t)r;
	return acc[*len - 1] == ']' || *len == size - 1;
}

static void
floor_on_ping(evutil_socket_t fd, short what, void *arg)
{
	static char buf[4096];
	static size_t len;
	char reply[256], *num;
	int rlen;

	(void)what; (void)arg;
	switch (floor_read(fd, buf, sizeof buf, &len)) {
	case -1:
		_exit(0);
	case 0:
		return;
	}
	buf[len - 1] = '\0';
	len = 0;
	num = strrchr(buf, ',') + 1;
	rlen = snprintf(reply, sizeof reply, "[\"%s\",\"pong\",%s]",
	    "jklmnopqr.a", num);
	bench_write_all(fd, reply, (size_t)rlen);
}

static void
floor_echo(FILE *out, void *arg)
{
	int port, lfd = bench_raw_listen(&port), fd;
	struct event_base *base;

	pin_child(arg);
	fprintf(out, "%d\n", port);
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		bench_die("accept");
	bench_nodelay(fd);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	base = event_base_new();
	event_add(event_new(base, fd, EV_READ | EV_PERSIST, floor_on_ping,
	    NULL), NULL);
	event_base_dispatch(base);
	_exit(0);
}

struct floor_pinger {
	struct event_base *base;
	double		*rtt, sent;
	long		 i, stop;
	char		 acc[4096];
	size_t		 len;
};

static void
floor_on_pong(evutil_socket_t fd, short what, void *arg)
{
	struct floor_pinger *f = arg;
	char buf[256];
	int wlen;

	(void)what;
	if (floor_read(fd, f->acc, sizeof f->acc, &f->len) != 1)
		return;
	f->len = 0;
	f->rtt[f->i] = bench_now() - f->sent;
	if (++f->i == f->stop) {
		event_base_loopbreak(f->base);
		return;
	}
	f->sent = bench_now();
	wlen = snprintf(buf, sizeof buf,
	    "[\"" RAW_ECHO "\",\"ping\",\"" RAW_REPLY "\",%ld]", f->i);
	bench_write_all(fd, buf, (size_t)wlen);
}

static void
floor_block(struct floor_pinger *f, int fd, long from, long to)
{
	char buf[256];
	int len;

	f->i = from;
	f->stop = to;
	f->sent = bench_now();
	len = snprintf(buf, sizeof buf,
	    "[\"" RAW_ECHO "\",\"ping\",\"" RAW_REPLY "\",%ld]", from);
	bench_write_all(fd, buf, (size_t)len);
	event_base_dispatch(f->base);
}

/* --- placement ---------------------------------------------------------- */

static int cpus[2];	/* the ping side's CPU and the echo side's */

static void
pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;		/* "free": the scheduler decides */

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		bench_die("sched_setaffinity");
}

static void
pin_child(void *arg)
{
	(void)arg;
	pin(cpus[1]);
}

/* Picks the CPUs; 0 when xcpu is asked for on a single CPU. */
static int
placement(const char *how)
{
	cpu_set_t set;
	int i, n = 0;

	if (sched_getaffinity(0, sizeof set, &set) < 0)
		bench_die("sched_getaffinity");
	for (i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	if (strcmp(how, "same") == 0 || n < 2)
		cpus[1] = cpus[0];
	if (strcmp(how, "free") == 0) {
		cpus[0] = cpus[1] = -1;
		return 1;
	}
	pin(cpus[0]);
	return strcmp(how, "xcpu") != 0 || cpus[1] != cpus[0];
}

/* --- the run ------------------------------------------------------------ */

static int
run(long count)
{
	struct bench_child ca, cr, cf;
	struct event_base *base;
	struct floor_pinger f;
	struct event *fev;
	struct pinger p;
	char line[512], *sp;
	double *raw;
	int fd, ffd;

	bench_fork(&ca, aemp_echo, NULL);
	bench_child_line(&ca, line, sizeof line);
	bench_fork(&cr, raw_echo, NULL);
	bench_fork(&cf, floor_echo, NULL);
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
	memset(&f, 0, sizeof f);
	f.rtt = calloc((size_t)p.count, sizeof *f.rtt);
	f.base = event_base_new();
	bench_wait_up(p.n, "echo", 10);
	p.self = aemp_port(p.n, NULL, NULL);
	aemp_rcv(p.n, p.self, "pong", on_pong, &p);
	bench_child_line(&cr, line, sizeof line);
	fd = bench_raw_connect(atoi(line));
	bench_child_line(&cf, line, sizeof line);
	ffd = bench_raw_connect(atoi(line));
	fcntl(ffd, F_SETFL, O_NONBLOCK);
	fev = event_new(f.base, ffd, EV_READ | EV_PERSIST, floor_on_pong, &f);
	event_add(fev, NULL);
	while (p.done < p.count) {
		long from = p.done;
		p.stop = from + BLOCK < p.count ? from + BLOCK : p.count;
		p.finished = 0;
		send_ping(&p);
		if (!bench_run_until(p.n, &p.finished, 60)) {
			fprintf(stderr, "rtt: timed out\n");
			return 1;
		}
		raw_block(fd, raw, from, p.stop);
		floor_block(&f, ffd, from, p.stop);
	}
	report("", p.rtt, p.count);
	report("raw_", raw, p.count);
	report("floor_", f.rtt, p.count);
	close(fd);
	close(ffd);
	bench_child_end(&cf);
	bench_child_end(&cr);
	bench_child_end(&ca);
	aemp_free(p.n);
	event_base_free(base);
	event_free(fev);
	event_base_free(f.base);
	free(p.rtt);
	free(raw);
	free(f.rtt);
	return 0;
}

int
main(int argc, char **argv)
{
	long count;

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "same") != 0 &&
	    strcmp(argv[2], "xcpu") != 0 && strcmp(argv[2], "free") != 0)) {
		fprintf(stderr, "usage: rtt COUNT [same|xcpu|free]\n");
		return 2;
	}
	bench_isolate();
	if (!placement(argc == 3 ? argv[2] : "same")) {
		fprintf(stderr, "rtt: xcpu needs two CPUs\n");
		return 1;
	}
	count = atol(argv[1]);
	if (count < 100)
		count = 100;
	return run(count);
}

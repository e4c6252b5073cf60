/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * tput.c: one-way throughput between two processes: the sender sends
 * ["PORT","test",<int>,PAYLOAD] packets as fast as it can, the receiver
 * counts them and checks their order. PAYLOAD is "payload", or a string of
 * SIZE bytes. Modes:
 *   aemp   aemp_sndf() behind an application window of acks
 *   snd    the same with aemp_snd() of an array built per message
 *   sndfloor the messages of "snd" built with json_pack() and freed with
 *          json_decref(), in one process, with no aemp and no socket:
 *          what the sender's own jansson calls cost, the most "snd"
 *          could reach (its ceiling, as local's "floor")
 *   naive  aemp_sndf() of all COUNT messages before the loop runs
 *          (no window): also prints the sender's peak RSS
 *   raw    the same bytes through a blocking TCP_NODELAY socket pair,
 *          the receiver counting bytes (the baseline)
 *   bp     back-pressure: the receiver spends BP_SPIN_US per message, the
 *          sender could send far faster but keeps its queue under
 *          BP_HIGH with the watermarks of aemp_set_watermark(); prints
 *          the sender's largest aemp_queued() as "peak_queued" and its
 *          peak RSS
 *   bpnaive the same receiver, its sender queueing everything at once:
 *          the receiver never waits, so this is its own rate (the
 *          baseline of bp)
 *
 * "scraped" is "aemp" with aempd's status endpoint on the receiver and
 * a third process reading its /metrics ten times a second meanwhile.
 * "rawtls" sends them through a bare OpenSSL connection over such a pair
 * (certificate and trust from $AEMP_BENCH_CERT, TLS 1.2+, the default
 * cipher, as the nodes have), the baseline of the TLS row.
 *
 * usage: tput aemp|snd|sndfloor|naive|scraped|raw|rawtls|bp|bpnaive
 *            COUNT [SIZE]
 *        prints "rate MSGS_PER_SECOND", "lost N" (messages out of order
 *        or changed), and more as said above
 */
#include <sys/resource.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench.h"
#include "aempd.h"

#define SCRAPE_INTERVAL_US	100000

#define WINDOW_BYTES	(8L * 1024 * 1024)	/* payload in flight at most */
#define WINDOW_MAX	(256L * 1024)		/* messages in flight at most */
#define BP_SPIN_US	20.0			/* the bp receiver's work */
#define BP_HIGH		(1024 * 1024)		/* the bp sender's marks */
#define BP_LOW		(256 * 1024)

/* Bytes per raw read and write, as large as aemp's largest reads. */
#define RAW_BUF		(1024 * 1024)

/* The receiver's port name is NAME.a with a 9-character prefix. */
#define RAW_PORT	"abcdefghi.a"

/* CPU seconds this process has used. */
static double
cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

struct tput {
	long		 total;
	size_t		 size;		/* payload bytes, 0: "payload" */
	char		*payload;
	long		 window, ack_every;
	int		 spin;		/* bp: the receiver works */
	int		 hport;		/* scraped: the status endpoint's port */
};

struct rx {
	FILE		*out;
	struct tput	*t;
	char		*ack;
	long		 total, count, disorder;
	double		 t0;
};

static int
rx_hello(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct rx *rx = ud;

	(void)n; (void)self;
	rx->ack = strdup(json_string_value(json_array_get(msg, 0)));
	rx->total = (long)json_integer_value(json_array_get(msg, 1));
	return 0;
}

static int
rx_test(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct rx *rx = ud;

	(void)self;
	if (rx->t->spin) {
		double until = bench_now() + BP_SPIN_US / 1e6;
		while (bench_now() < until)
			;
	}
	if (json_integer_value(json_array_get(msg, 0)) != rx->count ||
	    json_string_length(json_array_get(msg, 1)) !=
	    strlen(rx->t->payload))
		rx->disorder++;
	if (++rx->count == 1)
		rx->t0 = bench_now();
	if (rx->ack != NULL && (rx->count % rx->t->ack_every == 0 ||
	    rx->count == rx->total))
		aemp_sndf(n, rx->ack, "sI", "ack", (json_int_t)rx->count);
	if (rx->count == rx->total) {
		fprintf(rx->out, "rate %.0f\n", (double)(rx->total - 1) /
		    (bench_now() - rx->t0));
		fprintf(rx->out, "lost %ld\n", rx->disorder);
		fprintf(rx->out, "cpu_rx_s %.3f\n", cpu_seconds());

	}
	return 0;
}

/* aempd's status endpoint on n at 127.0.0.1:hport (http.c). */
static void
status_start(aemp_node *n, int hport)
{
	static struct aempd d;
	char bind[64], *err = NULL;

	snprintf(bind, sizeof bind, "127.0.0.1:%d", hport);
	json_object_set_new(aemp_config(n), "status_bind", json_string(bind));
	d.d_node = n;
	d.d_base = aemp_base(n);
	if (http_start(&d, &err) < 0) {
		fprintf(stderr, "tput: %s\n", err ? err : "status endpoint");
		exit(1);
	}
}

static void
aemp_receiver(FILE *out, void *arg)
{
	struct rx rx;
	aemp_node *n = bench_node(NULL, "recv", 1, NULL);
	const char *port;
	memset(&rx, 0, sizeof rx);
	rx.out = out;
	rx.t = arg;
	rx.total = rx.t->total;
	if (rx.t->hport)
		status_start(n, rx.t->hport);
	port = aemp_port(n, NULL, NULL);
	aemp_rcv(n, port, "hello", rx_hello, &rx);
	aemp_rcv(n, port, "test", rx_test, &rx);
	fprintf(out, "%s %s\n", bench_addr(n), port);
	aemp_loop(n);
}

/* GET /metrics every SCRAPE_INTERVAL_US until killed; counts answers. */
static volatile sig_atomic_t scraping = 1;

static void
scrape_stop(int sig)
{
	(void)sig;
	scraping = 0;
}

static void
scraper(FILE *out, void *arg)
{
	int hport = *(int *)arg;
	long ok = 0, bad = 0;
	static char buf[256 * 1024];
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";

	signal(SIGTERM, scrape_stop);
	fprintf(out, "ready\n");
	while (scraping) {
		int fd = bench_raw_connect(hport);
		size_t len = 0;
		ssize_t got;
		bench_write_all(fd, req, sizeof req - 1);
		while ((got = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
			len += (size_t)got;
		buf[len] = '\0';
		close(fd);
		if (strncmp(buf, "HTTP/1.0 200", 12) == 0 ||
		    strncmp(buf, "HTTP/1.1 200", 12) == 0)
			ok++;
		else if (scraping)
			bad++;
		usleep(SCRAPE_INTERVAL_US);
	}
	fprintf(out, "scrapes %ld failed %ld\n", ok, bad);
}

struct tx {
	aemp_node	*n;
	struct tput	*t;
	const char	*port;
	int		 snd;		/* aemp_snd of a built array */
	long		 total, sent, acked;
	int		 done;
	size_t		 peak;		/* bp: largest aemp_queued() */
};

static void
tx_one(struct tx *tx)
{
	if (tx->snd)
		aemp_snd(tx->n, tx->port, json_pack("[sIs]", "test",
		    (json_int_t)tx->sent, tx->t->payload));
	else
		aemp_sndf(tx->n, tx->port, "sIs", "test", (json_int_t)tx->sent,
		    tx->t->payload);
	tx->sent++;
}

static void
tx_pump(struct tx *tx)
{
	while (tx->sent < tx->total && tx->sent - tx->acked < tx->t->window)
		tx_one(tx);
}

/* bp: sends while the queue is under the high mark */
static void
tx_paced(struct tx *tx)
{
	size_t q;

	while (tx->sent < tx->total &&
	    (q = aemp_queued(tx->n, tx->port)) <= BP_HIGH) {
		tx_one(tx);
		if ((q = aemp_queued(tx->n, tx->port)) > tx->peak)
			tx->peak = q;
	}
}

static void
tx_drained(aemp_node *n, const char *nodeid, void *ud)
{
	(void)n; (void)nodeid;
	tx_paced(ud);
}

static int
tx_ack(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct tx *tx = ud;

	(void)self;
	tx->acked = (long)json_integer_value(json_array_get(msg, 0));
	if (tx->acked >= tx->total)
		bench_finish(n, &tx->done);
	else if (!tx->t->spin)
		tx_pump(tx);
	return 0;
}

/*
 * sndfloor: tx_one()'s json_pack() of "snd", each message freed as the
 * receiving side of aemp_snd() would once it is written: the part of
 * "snd" that is the program's, not aemp's.
 */
static int
run_sndfloor(struct tput *t)
{
	long i, got = 0;
	double t0 = bench_now();

	for (i = 0; i < t->total; i++) {
		json_t *msg = json_pack("[sIs]", "test", (json_int_t)i,
		    t->payload);
		got += json_array_size(msg) == 3;
		json_decref(msg);
	}
	printf("rate %.0f\nlost %ld\n", (double)got / (bench_now() - t0),
	    t->total - got);
	return 0;
}

static int
run_aemp(struct tput *t, int snd, int naive)
{
	struct bench_child c, sc;
	struct event_base *base;
	struct rusage ru;
	struct tx tx;
	char line[512], *sp;
	const char *ack;

	bench_fork(&c, aemp_receiver, t);
	bench_child_line(&c, line, sizeof line);
	if ((sp = strchr(line, ' ')) == NULL)
		return 1;
	*sp++ = '\0';
	base = event_base_new();
	memset(&tx, 0, sizeof tx);
	tx.n = bench_node(base, "send", 1, line);
	tx.t = t;
	tx.port = sp;
	tx.snd = snd;
	tx.total = t->total;
	bench_wait_up(tx.n, "recv", 10);
	if (t->hport) {
		bench_fork(&sc, scraper, &t->hport);
		bench_child_line(&sc, line, sizeof line);
	}
	ack = aemp_port(tx.n, NULL, NULL);
	aemp_rcv(tx.n, ack, "ack", tx_ack, &tx);
	aemp_sndf(tx.n, tx.port, "ssI", "hello", ack, (json_int_t)t->total);
	if (t->spin && !naive) {
		aemp_set_watermark(tx.n, BP_HIGH, BP_LOW, tx_drained, &tx);
		tx_paced(&tx);
	} else if (naive)
		while (tx.sent < tx.total)
			tx_one(&tx);
	else
		tx_pump(&tx);
	if (!bench_run_until(tx.n, &tx.done, 120)) {
		fprintf(stderr, "tput: timed out after %ld acked%s\n", tx.acked,
		    aemp_node_is_up(tx.n, "recv") ? "" : " (the link is down)");
		return 1;
	}
	bench_child_line(&c, line, sizeof line);
	printf("%s\n", line);
	bench_child_line(&c, line, sizeof line);
	printf("%s\n", line);
	bench_child_line(&c, line, sizeof line);
	printf("%s\ncpu_tx_s %.3f\n", line, cpu_seconds());
	if ((naive || t->spin) && getrusage(RUSAGE_SELF, &ru) == 0)
		printf("peak_rss_mb %.1f\n", (double)ru.ru_maxrss / 1024);
	if (t->spin && !naive)
		printf("peak_queued %zu\n", tx.peak);
	if (t->hport) {
		kill(sc.pid, SIGTERM);
		bench_child_line(&sc, line, sizeof line);
		printf("%s\n", line);
		bench_child_end(&sc);
	}
	bench_child_end(&c);
	aemp_free(tx.n);
	event_base_free(base);
	return 0;
}

/* --- raw --------------------------------------------------------------- */

/*
 * The packet aemp would send, into buf (NULL: only its length); the
 * payload is copied, not formatted, so that the baseline is as fast as a
 * sender of these bytes can be.
 */
static size_t
raw_format(char *buf, size_t size, struct tput *t, long i)
{
	char head[64];
	size_t hlen = (size_t)snprintf(head, sizeof head, "[\"" RAW_PORT
	    "\",\"test\",%ld,\"", i), plen = strlen(t->payload);

	if (buf != NULL && hlen + plen + 2 <= size) {
		memcpy(buf, head, hlen);
		memcpy(buf + hlen, t->payload, plen);
		memcpy(buf + hlen + plen, "\"]", 2);
	}
	return hlen + plen + 2;
}

/* Counts bytes, as fast as a reader can: the sender's bytes are known. */
static void
raw_receiver(FILE *out, void *arg)
{
	struct tput *t = arg;
	long i;
	int port, lfd = bench_raw_listen(&port), fd;
	static char buf[RAW_BUF];
	size_t total = 0, got = 0, first;
	double t0 = 0;

	first = raw_format(NULL, 0, t, 0);
	for (i = 0; i < t->total; i++)
		total += raw_format(NULL, 0, t, i);
	fprintf(out, "%d\n", port);
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		bench_die("accept");
	while (got < total) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r <= 0)
			bench_die("read");
		/* the clock starts with the first whole packet, as aemp's */
		if (got < first && got + (size_t)r >= first)
			t0 = bench_now();
		got += (size_t)r;
	}
	fprintf(out, "rate %.0f\n", (double)(t->total - 1) /
	    (bench_now() - t0));
	fprintf(out, "cpu_rx_s %.3f\n", cpu_seconds());
	pause();
}

static int
run_raw(struct tput *t)
{
	struct bench_child c;
	size_t size = RAW_BUF + 2 * (t->size + 64);
	char *buf = malloc(size);
	char line[128];
	long i = 0;
	int fd;

	bench_fork(&c, raw_receiver, t);
	bench_child_line(&c, line, sizeof line);
	fd = bench_raw_connect(atoi(line));
	while (i < t->total) {
		size_t len = 0;
		while (i < t->total && len + t->size + 64 < size)
			len += raw_format(buf + len, size - len, t, i++);
		bench_write_all(fd, buf, len);
	}
	bench_child_line(&c, line, sizeof line);
	printf("%s\n", line);
	bench_child_line(&c, line, sizeof line);
	printf("%s\ncpu_tx_s %.3f\n", line, cpu_seconds());
	close(fd);
	bench_child_end(&c);
	free(buf);
	return 0;
}

/* --- raw TLS ------------------------------------------------------------ */

static SSL *
rawtls_ssl(int fd, int server)
{
	const char *pem = getenv("AEMP_BENCH_CERT");
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	SSL *ssl;

	if (pem == NULL || ctx == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, pem) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, pem, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, pem, NULL) != 1) {
		fprintf(stderr, "tput: rawtls needs AEMP_BENCH_CERT\n");
		exit(1);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if ((server ? SSL_accept(ssl) : SSL_connect(ssl)) != 1) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	return ssl;
}

static void
rawtls_receiver(FILE *out, void *arg)
{
	long total = *(long *)arg, count = 0;
	int port, lfd = bench_raw_listen(&port), fd;
	static char buf[256 * 1024];
	double t0 = 0;
	SSL *ssl;

	fprintf(out, "%d\n", port);
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		bench_die("accept");
	ssl = rawtls_ssl(fd, 1);
	while (count < total) {
		int r = SSL_read(ssl, buf, sizeof buf);
		const char *p = buf, *end;
		if (r <= 0)
			bench_die("SSL_read");
		if (count == 0)
			t0 = bench_now();
		end = buf + r;
		while ((p = memchr(p, ']', (size_t)(end - p))) != NULL) {
			count++;
			p++;
		}
	}
	fprintf(out, "rate %.0f\n", (double)(total - 1) / (bench_now() - t0));
	pause();
}

static int
run_rawtls(long total)
{
	struct bench_child c;
	static char buf[64 * 1024];
	char line[128];
	long i = 0;
	SSL *ssl;

	bench_fork(&c, rawtls_receiver, &total);
	bench_child_line(&c, line, sizeof line);
	ssl = rawtls_ssl(bench_raw_connect(atoi(line)), 0);
	while (i < total) {
		size_t len = 0;
		while (i < total && len + 64 < sizeof buf)
			len += (size_t)snprintf(buf + len, sizeof buf - len,
			    "[\"" RAW_PORT "\",\"test\",%ld,\"payload\"]", i++);
		if (SSL_write(ssl, buf, (int)len) != (int)len)
			bench_die("SSL_write");
	}
	bench_child_line(&c, line, sizeof line);
	printf("%s\n", line);
	bench_child_end(&c);
	return 0;
}

int
main(int argc, char **argv)
{
	struct tput t;
	const char *mode;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: tput aemp|snd|sndfloor|naive|scraped|"
		    "raw|rawtls|bp|bpnaive COUNT [SIZE]\n");
		return 2;
	}
	bench_isolate();
	mode = argv[1];
	memset(&t, 0, sizeof t);
	t.total = atol(argv[2]);
	if (t.total < 2)
		t.total = 2;
	t.size = argc == 4 ? (size_t)atol(argv[3]) : 0;
	if (t.size == 0)
		t.payload = strdup("payload");
	else {
		t.payload = malloc(t.size + 1);
		memset(t.payload, 'x', t.size);
		t.payload[t.size] = '\0';
	}
	t.window = WINDOW_BYTES / (long)(strlen(t.payload) + 32);
	if (t.window > WINDOW_MAX)
		t.window = WINDOW_MAX;
	t.ack_every = t.window / 8 > 0 ? t.window / 8 : 1;
	if (strcmp(mode, "raw") == 0)
		return run_raw(&t);
	if (strcmp(mode, "rawtls") == 0)
		return run_rawtls(t.total);
	if (strcmp(mode, "scraped") == 0) {
		close(bench_raw_listen(&t.hport));
		return run_aemp(&t, 0, 0);
	}
	if (strcmp(mode, "aemp") == 0)
		return run_aemp(&t, 0, 0);
	if (strcmp(mode, "snd") == 0)
		return run_aemp(&t, 1, 0);
	if (strcmp(mode, "sndfloor") == 0)
		return run_sndfloor(&t);
	if (strcmp(mode, "naive") == 0)
		return run_aemp(&t, 0, 1);
	if (strcmp(mode, "bp") == 0 || strcmp(mode, "bpnaive") == 0) {
		t.spin = 1;
		t.ack_every = t.total;
		return run_aemp(&t, 0, strcmp(mode, "bpnaive") == 0);
	}
	fprintf(stderr, "tput: unknown mode %s\n", mode);
	return 2;
}

/*
 * tput.c: one-way throughput between two processes: the sender sends
 * ["PORT","test",<int>,"payload"] packets as fast as it can, the receiver
 * counts. "aemp" runs two nodes; "raw" sends the same bytes through a
 * blocking TCP_NODELAY socket pair, the baseline.
 *
 * "rawtls" sends them through a bare OpenSSL connection over such a pair
 * (certificate and trust from $AEMP_BENCH_CERT, TLS 1.2+, the default
 * cipher, as the nodes have), the baseline of the TLS row.
 *
 * usage: tput aemp|raw|rawtls COUNT     prints "rate MSGS_PER_SECOND"
 */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench.h"

#define WINDOW		(256 * 1024)	/* messages in flight at most */
#define ACK_EVERY	(32 * 1024)

/* The receiver's port name is NAME.a with a 9-character prefix. */
#define RAW_PORT	"abcdefghi.a"

struct rx {
	FILE		*out;
	char		*ack;
	long		 total, count;
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

	(void)self; (void)msg;
	if (++rx->count == 1)
		rx->t0 = bench_now();
	if (rx->count % ACK_EVERY == 0 || rx->count == rx->total)
		aemp_sndf(n, rx->ack, "sI", "ack", (json_int_t)rx->count);
	if (rx->count == rx->total)
		fprintf(rx->out, "rate %.0f\n", (double)(rx->total - 1) /
		    (bench_now() - rx->t0));
	return 0;
}

static void
aemp_receiver(FILE *out, void *arg)
{
	struct rx rx;
	aemp_node *n = bench_node(NULL, "recv", 1, NULL);
	const char *port;

	(void)arg;
	memset(&rx, 0, sizeof rx);
	rx.out = out;
	port = aemp_port(n, NULL, NULL);
	aemp_rcv(n, port, "hello", rx_hello, &rx);
	aemp_rcv(n, port, "test", rx_test, &rx);
	fprintf(out, "%s %s\n", bench_addr(n), port);
	aemp_loop(n);
}

struct tx {
	aemp_node	*n;
	const char	*port;
	long		 total, sent, acked;
	int		 done;
};

static void
tx_pump(struct tx *tx)
{
	while (tx->sent < tx->total && tx->sent - tx->acked < WINDOW) {
		aemp_sndf(tx->n, tx->port, "sIs", "test", (json_int_t)tx->sent,
		    "payload");
		tx->sent++;
	}
}

static int
tx_ack(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct tx *tx = ud;

	(void)self;
	tx->acked = (long)json_integer_value(json_array_get(msg, 0));
	if (tx->acked >= tx->total)
		bench_finish(n, &tx->done);
	else
		tx_pump(tx);
	return 0;
}

static int
run_aemp(long total)
{
	struct bench_child c;
	struct event_base *base;
	struct tx tx;
	char line[512], *sp;
	const char *ack;

	bench_fork(&c, aemp_receiver, NULL);
	bench_child_line(&c, line, sizeof line);
	if ((sp = strchr(line, ' ')) == NULL)
		return 1;
	*sp++ = '\0';
	base = event_base_new();
	memset(&tx, 0, sizeof tx);
	tx.n = bench_node(base, "send", 1, line);
	tx.port = sp;
	tx.total = total;
	bench_wait_up(tx.n, "recv", 10);
	ack = aemp_port(tx.n, NULL, NULL);
	aemp_rcv(tx.n, ack, "ack", tx_ack, &tx);
	aemp_sndf(tx.n, tx.port, "ssI", "hello", ack, (json_int_t)total);
	tx_pump(&tx);
	if (!bench_run_until(tx.n, &tx.done, 120)) {
		fprintf(stderr, "tput: timed out after %ld acked\n", tx.acked);
		return 1;
	}
	bench_child_line(&c, line, sizeof line);
	printf("%s\n", line);
	bench_child_end(&c);
	aemp_free(tx.n);
	event_base_free(base);
	return 0;
}

/* --- raw --------------------------------------------------------------- */

static void
raw_receiver(FILE *out, void *arg)
{
	long total = *(long *)arg, count = 0;
	int port, lfd = bench_raw_listen(&port), fd;
	static char buf[256 * 1024];
	double t0 = 0;

	fprintf(out, "%d\n", port);
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		bench_die("accept");
	while (count < total) {
		ssize_t r = read(fd, buf, sizeof buf);
		const char *p = buf, *end;
		if (r <= 0)
			bench_die("read");
		if (count == 0)
			t0 = bench_now();
		end = buf + r;
		/* every packet has exactly one ']': its last byte */
		while ((p = memchr(p, ']', (size_t)(end - p))) != NULL) {
			count++;
			p++;
		}
	}
	fprintf(out, "rate %.0f\n", (double)(total - 1) / (bench_now() - t0));
	pause();
}

static int
run_raw(long total)
{
	struct bench_child c;
	static char buf[64 * 1024];
	char line[128];
	long i = 0;
	int fd;

	bench_fork(&c, raw_receiver, &total);
	bench_child_line(&c, line, sizeof line);
	fd = bench_raw_connect(atoi(line));
	while (i < total) {
		size_t len = 0;
		while (i < total && len + 64 < sizeof buf)
			len += (size_t)snprintf(buf + len, sizeof buf - len,
			    "[\"" RAW_PORT "\",\"test\",%ld,\"payload\"]", i++);
		bench_write_all(fd, buf, len);
	}
	bench_child_line(&c, line, sizeof line);
	printf("%s\n", line);
	close(fd);
	bench_child_end(&c);
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
	long total;

	if (argc != 3) {
		fprintf(stderr, "usage: tput aemp|raw|rawtls COUNT\n");
		return 2;
	}
	bench_isolate();
	total = atol(argv[2]);
	if (total < 2)
		total = 2;
	if (strcmp(argv[1], "rawtls") == 0)
		return run_rawtls(total);
	return strcmp(argv[1], "raw") == 0 ? run_raw(total) : run_aemp(total);
}

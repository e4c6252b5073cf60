/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * dataconn.c: bytes/s of one bulk transfer between two processes over a
 * data connection (AnyEvent::MP::DataConn), and the baselines of the same
 * size: a raw TCP stream, and a bare OpenSSL stream for the TLS case.
 * The receiver measures from its first byte to the end of the stream.
 *
 * usage: dataconn aemp|raw|rawbev|tls|rawtls BYTES
 *        prints "rate BYTES_PER_SECOND"
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "bench.h"
#include "../tests/util/testcert.h"

#define CHUNK		(256 * 1024)
#define HIGH_WATER	(4 * 1024 * 1024)

static char chunk[CHUNK];
static char *pem;		/* tls, rawtls: one certificate for both
				   (tests/util/testcert.h) */

static aemp_node *
dc_node(struct event_base *base, const char *id, const char *seed)
{
	aemp_node *n;
	json_t *cfg = json_pack("{sb ss ss s[s]}", "norc", 1, "nodeid", id,
	    "secret", BENCH_SECRET, "binds", "127.0.0.1:*");
	char *err = NULL;

	if (seed != NULL)
		json_object_set_new(cfg, "seeds", json_pack("[s]", seed));
	if (pem != NULL)
		json_object_set_new(cfg, "cert", json_string(pem));
	if ((n = aemp_configure(base, cfg, &err)) == NULL) {
		fprintf(stderr, "bench: node %s: %s\n", id, err ? err : "?");
		exit(1);
	}
	return n;
}

/* --- over a data connection ---------------------------------------------- */

struct sink {
	FILE		*out;
	aemp_node	*n;
	long long	 bytes;
	double		 t0;
};

static void
sink_read(struct bufferevent *bev, void *arg)
{
	struct sink *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);

	if (len > 0 && s->bytes == 0)
		s->t0 = bench_now();
	s->bytes += (long long)len;
	evbuffer_drain(in, len);
}

static void
sink_event(struct bufferevent *bev, short what, void *arg)
{
	struct sink *s = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		sink_read(bev, s);
		fprintf(s->out, "rate %.0f\nbytes %lld\n", (double)s->bytes /
		    (bench_now() - s->t0), s->bytes);
		bufferevent_free(bev);
	}
}

static void
sink_start(aemp_node *n, struct bufferevent *bev, json_t *args, void *ud)
{
	(void)n; (void)args;
	bufferevent_setcb(bev, sink_read, NULL, sink_event, ud);
	bufferevent_enable(bev, EV_READ);
}

static void
aemp_receiver(FILE *out, void *arg)
{
	struct sink s;
	aemp_node *n = dc_node(NULL, "recv", NULL);

	(void)arg;
	memset(&s, 0, sizeof s);
	s.out = out;
	s.n = n;
	aemp_register_dataconn(n, "Bench::sink", sink_start, &s);
	fprintf(out, "%s\n", bench_addr(n));
	aemp_loop(n);
}

struct source {
	aemp_node	*n;
	long long	 total, sent;
	int		 done;
};

static void
source_write(struct bufferevent *bev, void *arg)
{
	struct source *s = arg;
	struct evbuffer *out = bufferevent_get_output(bev);

	while (s->sent < s->total && evbuffer_get_length(out) < HIGH_WATER) {
		size_t len = s->total - s->sent < CHUNK ?
		    (size_t)(s->total - s->sent) : CHUNK;
		evbuffer_add_reference(out, chunk, len, NULL, NULL);
		s->sent += (long long)len;
	}
	if (s->sent == s->total && evbuffer_get_length(out) == 0) {
		/* the end of the stream, then our end goes */
		bufferevent_flush(bev, EV_WRITE, BEV_FINISHED);
		bufferevent_free(bev);
		bench_finish(s->n, &s->done);
	}
}

static void
source_start(aemp_node *n, struct bufferevent *bev, json_t *reason, void *ud)
{
	(void)n;
	if (bev == NULL) {
		char *text = aemp_words(reason);
		fprintf(stderr, "dataconn: %s\n", text);
		exit(1);
	}
	bufferevent_setwatermark(bev, EV_WRITE, HIGH_WATER / 2, 0);
	bufferevent_setcb(bev, NULL, source_write, NULL, ud);
	bufferevent_enable(bev, EV_WRITE);
	source_write(bev, ud);
}

static void
child_said(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	event_base_loopbreak(arg);
}

static int
run_aemp(long long total)
{
	struct bench_child c;
	struct event_base *base;
	struct source s;
	char line[512];

	bench_fork(&c, aemp_receiver, NULL);
	bench_child_line(&c, line, sizeof line);
	base = event_base_new();
	memset(&s, 0, sizeof s);
	s.n = dc_node(base, "send", line);
	s.total = total;
	bench_wait_up(s.n, "recv", 10);
	if (aemp_dataconn(s.n, aemp_port(s.n, NULL, NULL), "recv", 10,
	    "Bench::sink", NULL, source_start, &s) < 0)
		return 1;
	if (!bench_run_until(s.n, &s.done, 120)) {
		fprintf(stderr, "dataconn: timed out after %lld bytes\n",
		    s.sent);
		return 1;
	}
	{
		/* the node's loop runs on until the receiver reports: a
		   TLS stream's end goes out from there */
		struct event *ev = event_new(base, fileno(c.from), EV_READ,
		    child_said, base);
		event_add(ev, NULL);
		event_base_dispatch(base);
		event_free(ev);
	}
	bench_child_line(&c, line, sizeof line);
	printf("%s\n", line);
	bench_child_line(&c, line, sizeof line);
	if (atoll(line + 6) != total) {
		fprintf(stderr, "dataconn: %s of %lld\n", line, total);
		return 1;
	}
	bench_child_end(&c);
	aemp_free(s.n);
	event_base_free(base);
	return 0;
}

/*
 * --- baseline: the same bufferevents on a raw TCP connection -------------
 * What libevent itself costs: 2.1's evbuffer_read() takes at most 4 KiB
 * per read(2), whatever bufferevent_set_max_single_read() says.
 */

static void
bev_receiver(FILE *out, void *arg)
{
	struct event_base *base = event_base_new();
	int port, lfd = bench_raw_listen(&port), fd;
	struct bufferevent *bev;
	struct sink s;

	(void)arg;
	memset(&s, 0, sizeof s);
	s.out = out;
	fprintf(out, "%d\n", port);
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		bench_die("accept");
	evutil_make_socket_nonblocking(fd);
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_set_max_single_read(bev, CHUNK);
	sink_start(NULL, bev, NULL, &s);
	event_base_dispatch(base);
	pause();
}

static void
bev_write(struct bufferevent *bev, void *arg)
{
	struct source *s = arg;
	struct evbuffer *out = bufferevent_get_output(bev);

	while (s->sent < s->total && evbuffer_get_length(out) < HIGH_WATER) {
		size_t len = s->total - s->sent < CHUNK ?
		    (size_t)(s->total - s->sent) : CHUNK;
		evbuffer_add_reference(out, chunk, len, NULL, NULL);
		s->sent += (long long)len;
	}
	if (s->sent == s->total && evbuffer_get_length(out) == 0) {
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		bufferevent_free(bev);
		s->done = 1;
	}
}

static int
run_bev(long long total)
{
	struct bench_child c;
	struct event_base *base = NULL;
	struct bufferevent *bev;
	struct source s;
	char line[128];
	int fd;

	bench_fork(&c, bev_receiver, NULL);
	bench_child_line(&c, line, sizeof line);
	fd = bench_raw_connect(atoi(line));
	evutil_make_socket_nonblocking(fd);
	base = event_base_new();
	memset(&s, 0, sizeof s);
	s.total = total;
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_set_max_single_write(bev, CHUNK);
	bufferevent_setwatermark(bev, EV_WRITE, HIGH_WATER / 2, 0);
	bufferevent_setcb(bev, NULL, bev_write, NULL, &s);
	bufferevent_enable(bev, EV_WRITE);
	bev_write(bev, &s);
	while (!s.done)
		event_base_loop(base, EVLOOP_ONCE);
	event_base_free(base);
	bench_child_line(&c, line, sizeof line);
	printf("%s\n", line);
	bench_child_end(&c);
	return 0;
}

/* --- baselines: raw TCP and bare OpenSSL ------------------------------------ */

static SSL_CTX *
bare_ctx(int server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() :
	    TLS_client_method());
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);

	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, k);
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(b);
	return ctx;
}

static void
raw_receiver(FILE *out, void *arg)
{
	int tls = *(int *)arg, port, lfd = bench_raw_listen(&port), fd;
	static char buf[CHUNK];
	long long bytes = 0;
	double t0 = 0;
	SSL *ssl = NULL;

	fprintf(out, "%d\n", port);
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		bench_die("accept");
	if (tls) {
		SSL_CTX *ctx = bare_ctx(1);
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) != 1)
			bench_die("SSL_accept");
	}
	for (;;) {
		int r = tls ? SSL_read(ssl, buf, sizeof buf) :
		    (int)read(fd, buf, sizeof buf);
		if (r <= 0)
			break;
		if (bytes == 0)
			t0 = bench_now();
		bytes += r;
	}
	fprintf(out, "rate %.0f\nbytes %lld\n", (double)bytes /
	    (bench_now() - t0), bytes);
	pause();
}

static int
run_raw(long long total, int tls)
{
	struct bench_child c;
	char line[128];
	long long sent = 0;
	SSL *ssl = NULL;
	int fd;

	bench_fork(&c, raw_receiver, &tls);
	bench_child_line(&c, line, sizeof line);
	fd = bench_raw_connect(atoi(line));
	if (tls) {
		SSL_CTX *ctx = bare_ctx(0);
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_connect(ssl) != 1)
			bench_die("SSL_connect");
	}
	while (sent < total) {
		size_t len = total - sent < CHUNK ? (size_t)(total - sent) :
		    CHUNK;
		if (tls) {
			if (SSL_write(ssl, chunk, (int)len) <= 0)
				bench_die("SSL_write");
		} else
			bench_write_all(fd, chunk, len);
		sent += (long long)len;
	}
	if (tls)
		SSL_shutdown(ssl);
	close(fd);
	bench_child_line(&c, line, sizeof line);
	printf("%s\n", line);
	bench_child_end(&c);
	return 0;
}

int
main(int argc, char **argv)
{
	long long total;

	if (argc != 3) {
		fprintf(stderr, "usage: dataconn aemp|raw|rawbev|tls|rawtls "
		    "BYTES\n");
		return 2;
	}
	bench_isolate();
	signal(SIGPIPE, SIG_IGN);
	total = atoll(argv[2]);
	memset(chunk, 'x', sizeof chunk);
	if (strcmp(argv[1], "tls") == 0 || strcmp(argv[1], "rawtls") == 0)
		pem = test_cert_pem("AnyEvent::MP");
	if (strcmp(argv[1], "raw") == 0)
		return run_raw(total, 0);
	if (strcmp(argv[1], "rawtls") == 0)
		return run_raw(total, 1);
	if (strcmp(argv[1], "rawbev") == 0)
		return run_bev(total);
	return run_aemp(total);
}

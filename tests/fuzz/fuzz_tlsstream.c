/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fuzz_tlsstream.c: libFuzzer target for the TLS stream once its records
 * are aemp's (stream_tls.c's own_read(): records split over reads, a
 * record's content larger than the reader's buffer, records behind a
 * piece of one). Two TLS streams over socket pairs, the server's output
 * relayed to the client by the fuzzer's rules: the input is a list of
 * operations (the server writes n bytes; n bytes are relayed in pieces
 * of k; the client reads with a buffer of m; one relayed byte is
 * changed). What the client reads must be exactly the server's bytes,
 * in order: a changed byte read as data would break the order (the
 * bytes written follow a pattern), so a record with one must fail. A
 * pair that failed is replaced.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "stream.h"
#include "../util/testcert.h"

#define MAXOP	20000

static struct ssl_ctx_st *ctx;
static struct aemp_stream *client, *server;
static int crelay, srelay;	/* the relay's ends of the two pairs */
static size_t written, got;	/* bytes of the server's stream */

static unsigned char
pattern(size_t i)
{
	return (unsigned char)(i * 31 + (i >> 8) + 7);
}

static void
nonblocking(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void
pair_free(void)
{
	if (client == NULL)
		return;
	stream_close(client);
	stream_close(server);
	close(crelay);
	close(srelay);
	client = server = NULL;
}

/* The client reads with a buffer of n: what it reads is checked. */
static void
client_read(size_t n)
{
	static unsigned char in[MAXOP + 1];
	ssize_t r = stream_read(client, in, n);
	size_t i;

	if (r > 0) {
		for (i = 0; i < (size_t)r; i++)
			if (in[i] != pattern(got + i))
				abort();	/* forged or out of order */
		got += (size_t)r;
		if (got > written)
			abort();
	} else if (r < 0 && errno != EAGAIN)
		pair_free();	/* failed, as it must after a change */
}

/*
 * Moves up to max bytes from -> to, k at a time; flip: change one.
 * When the client's socket is full, the client reads.
 */
static void
relay(int from, int to, size_t max, size_t k, long flip)
{
	static unsigned char buf[MAXOP];
	ssize_t n = read(from, buf, max < sizeof buf ? max : sizeof buf), w;
	size_t off;

	if (n <= 0)
		return;
	if (flip >= 0 && flip < n)
		buf[flip] ^= 0x5a;
	for (off = 0; off < (size_t)n; off += (size_t)w) {
		w = write(to, buf + off, (size_t)n - off < k ? (size_t)n - off :
		    k);
		if (w < 0 && errno == EAGAIN && to == crelay && client != NULL) {
			client_read(MAXOP);
			w = 0;
		} else if (w < 0)
			return;		/* the pair is gone */
	}
}

static void
pair_new(void)
{
	int a[2], b[2], i;
	char buf[64], d1[160], d2[160];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, b) < 0)
		abort();
	nonblocking(a[0]);
	nonblocking(a[1]);
	nonblocking(b[0]);
	nonblocking(b[1]);
	crelay = a[1];
	srelay = b[1];
	client = ae_stream_tls_new(ae_stream_tcp_new(a[0], "c"), ctx, 1,
	    NULL, 0);
	server = ae_stream_tls_new(ae_stream_tcp_new(b[0], "s"), ctx, 0,
	    NULL, 0);
	for (i = 0; i < 20; i++) {
		(void)stream_read(client, buf, sizeof buf);
		(void)relay(crelay, srelay, MAXOP, MAXOP, -1);
		(void)stream_read(server, buf, sizeof buf);
		(void)relay(srelay, crelay, MAXOP, MAXOP, -1);
		ae_stream_tls_describe(client, d1, sizeof d1);
		ae_stream_tls_describe(server, d2, sizeof d2);
		if (strstr(d1, "by aemp") && strstr(d2, "by aemp"))
			break;
	}
	if (i == 20)
		abort();	/* no handshake */
	written = got = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[MAXOP];
	size_t off = 0;

	if (ctx == NULL) {
		char *pem = test_cert_pem("fuzz"), *err = NULL;
		if ((ctx = ae_tls_ctx_new(pem, strlen(pem), &err)) == NULL)
			abort();
		free(pem);
	}
	while (off + 3 <= size) {
		size_t n = ((size_t)data[off + 1] << 8 | data[off + 2]) % MAXOP;
		size_t k, i;
		ssize_t r;

		if (client == NULL)
			pair_new();
		switch (data[off] % 4) {
		case 0:		/* the server writes n bytes */
			for (i = 0; i < n; i++)
				out[i] = pattern(written + i);
			r = stream_write(server, out, n);
			if (r > 0)
				written += (size_t)r;
			(void)stream_flush(server);
			break;
		case 1:		/* n bytes relayed, k at a time */
			k = 1 + data[off] / 4;
			(void)relay(srelay, crelay, n, k, -1);
			break;
		case 2:		/* the client reads with a buffer of n */
			client_read(n + 1);
			break;
		case 3:		/* one relayed byte changed */
			(void)relay(srelay, crelay, MAXOP, MAXOP, (long)(n % 64));
			break;
		}
		off += 3;
	}
	pair_free();
	return 0;
}

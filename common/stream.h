/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * stream.h: a byte stream under the transport. The transport reads into
 * its own buffers and writes from its flat byte queues through these
 * operations, whatever the stream is: plain TCP (stream_tcp.c) or TLS
 * driven through a BIO of its own over another stream (stream_tls.c).
 * Streams never block and never register events themselves: the
 * transport polls stream->fd and asks stream_pending() what else a
 * stream waits for.
 */
#ifndef AEMP_STREAM_H
#define AEMP_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct aemp_stream;

/* What stream_pending() reports. */
#define STREAM_HAS_INPUT	0x01	/* read without waiting for the fd */
#define STREAM_HAS_OUTPUT	0x02	/* bytes of its own to flush: wait
					   for the fd to be writable */

struct stream_ops {
	const char *name;
	/*
	 * Like read(2) and send(2) on a non-blocking socket: > 0 bytes,
	 * 0 for the end of the stream (read), -1 with errno (EAGAIN: try
	 * again when stream->want says; other values: the stream failed,
	 * ae_stream_error() says why).
	 */
	ssize_t	(*read)(struct aemp_stream *, void *, size_t);
	ssize_t	(*write)(struct aemp_stream *, const void *, size_t);
	/* Sends bytes the stream holds itself: 0 all gone, 1 some left,
	   -1 failed. NULL: it holds none (no call per read and write). */
	int	(*flush)(struct aemp_stream *);
	/* STREAM_HAS_INPUT and STREAM_HAS_OUTPUT; NULL: never any. */
	int	(*pending)(struct aemp_stream *);
	/* No more writes from us (the peer reads an end of stream). */
	void	(*shutdown)(struct aemp_stream *);
	/* Frees the stream and what it holds, the socket included. */
	void	(*close)(struct aemp_stream *);
};

struct aemp_stream {
	const struct stream_ops *ops;
	int	 fd;		/* what to poll */
	short	 want;		/* after EAGAIN: EV_READ or EV_WRITE */
	char	*peer;		/* "host:port" of the other side */
	char	 err[256];	/* why it failed, when errno does not say */
};

/* stream_tcp.c: takes over the connected (or connecting) socket fd. */
struct aemp_stream *ae_stream_tcp_new(int fd, const char *peer);

/*
 * stream_tls.c. ae_tls_ctx_new() builds the TLS context of a node from the
 * PEM text of the `cert` key (AEMP-TLS-EXT.md 10.1, 10.5); NULL with *err
 * (malloc()ed) when the text holds no certificate, no key, or a key that
 * does not match the first certificate. ae_stream_tls_new() starts TLS over
 * lower (which it owns from then on) as client or server; early holds
 * bytes already read from lower that belong to the TLS stream.
 */
struct ssl_ctx_st;
struct ssl_ctx_st *ae_tls_ctx_new(const char *pem, size_t len, char **err);
void	 ae_tls_ctx_free(struct ssl_ctx_st *);
/* For tests: OpenSSL's record layer after the handshake, not tls13.c. */
void	 ae_tls_ctx_openssl_records(struct ssl_ctx_st *);
/* For tests: our KeyUpdate after this many records (not 2^23), and how
   many we sent. */
void	 ae_stream_tls_rekey_every(struct aemp_stream *, uint64_t records);
uint64_t ae_stream_tls_key_updates(struct aemp_stream *);
struct aemp_stream *ae_stream_tls_new(struct aemp_stream *lower,
	    struct ssl_ctx_st *, int client, const void *early,
	    size_t early_len);
/* "client, TLSv1.3 TLS_AES_256_GCM_SHA384, records by aemp" into buf,
   for the log ("by OpenSSL" where tls13.c does not take them over). */
void	 ae_stream_tls_describe(struct aemp_stream *, char *buf, size_t size);

static inline ssize_t
stream_read(struct aemp_stream *s, void *buf, size_t len)
{
	return s->ops->read(s, buf, len);
}

static inline ssize_t
stream_write(struct aemp_stream *s, const void *buf, size_t len)
{
	return s->ops->write(s, buf, len);
}

static inline int
stream_flush(struct aemp_stream *s)
{
	return s->ops->flush != NULL ? s->ops->flush(s) : 0;
}

static inline int
stream_pending(struct aemp_stream *s)
{
	return s->ops->pending != NULL ? s->ops->pending(s) : 0;
}

static inline void
stream_close(struct aemp_stream *s)
{
	s->ops->close(s);
}

/* The text for a failure that returned -1 with errno e. */
const char *ae_stream_error(struct aemp_stream *, int e);

#endif

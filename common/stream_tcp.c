/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * stream_tcp.c: the plain TCP stream. Writes use send(MSG_NOSIGNAL): a
 * peer that goes away while we write is an error on this connection, and
 * the program's SIGPIPE disposition is left alone.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "stream.h"

static ssize_t
tcp_read(struct aemp_stream *s, void *buf, size_t len)
{
	ssize_t got = read(s->fd, buf, len);

	if (got < 0)
		s->want = EV_READ;
	return got;
}

static ssize_t
tcp_write(struct aemp_stream *s, const void *buf, size_t len)
{
	ssize_t got = send(s->fd, buf, len, MSG_NOSIGNAL);

	/* short: the socket is full, another try now would only fail */
	s->want = got < 0 || (size_t)got < len ? EV_WRITE : 0;
	return got;
}

static void
tcp_shutdown(struct aemp_stream *s)
{
	shutdown(s->fd, SHUT_WR);
}

static void
tcp_close(struct aemp_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->peer);
	free(s);
}

static const struct stream_ops tcp_ops = {
	/* a socket holds nothing of its own to flush or to read */
	"tcp", tcp_read, tcp_write, NULL, NULL, tcp_shutdown, tcp_close
};

struct aemp_stream *
ae_stream_tcp_new(int fd, const char *peer)
{
	struct aemp_stream *s = calloc(1, sizeof *s);

	if (s == NULL || (s->peer = strdup(peer)) == NULL)
		abort();
	s->ops = &tcp_ops;
	s->fd = fd;
	return s;
}

const char *
ae_stream_error(struct aemp_stream *s, int e)
{
	if (s->err[0] != '\0')
		return s->err;
	return strerror(e);
}

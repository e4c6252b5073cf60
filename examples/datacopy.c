/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * datacopy.c: copies a file (or stdin) to another node over a data
 * connection (AnyEvent::MP::DataConn), the receiving node writing it to
 * the file it was started with.
 *
 * usage: datacopy receive OUTFILE
 *        datacopy send NODE|PORT [FILE]
 *
 * Both are configured by the profile store, like "configure;" (set
 * AEMP_PROFILE to pick a profile); the sender must reach NODE, through
 * its seeds say. The receiver registers Datacopy::receive, which takes
 * each incoming stream in turn; the file name never comes from the
 * network. The sender prints a progress line on stderr while it runs
 * longer than a second.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "aemp.h"

#define CHUNK		(256 * 1024)
#define HIGH_WATER	(4 * 1024 * 1024)
#define TIMEOUT		30.0

struct copy {
	aemp_node	*node;
	const char	*target;	/* send: NODE or PORT */
	const char	*self;		/* the context port */
	int		 fd;		/* the file to read or write */
	const char	*path;
	unsigned long long bytes;
	struct timespec	 start;
	int		 progress;	/* a progress line is showing */
	int		 eof;		/* send: the file is all read */
	int		 status;
	int		 started;
	int		 sent_end;	/* send: the end of the stream went */
};

static double
since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	    (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void
progress(aemp_node *n, void *ud)
{
	struct copy *c = ud;
	double s = since(&c->start);

	fprintf(stderr, "\rdatacopy: %llu bytes in %.0f s (%.1f MiB/s)  ",
	    c->bytes, s, s > 0 ? (double)c->bytes / s / 1048576.0 : 0.0);
	c->progress = 1;
	aemp_after(n, 1.0, progress, c);
}

static void
finish(struct copy *c, int status)
{
	if (c->progress)
		fprintf(stderr, "\n");
	c->status = status;
	aemp_loopexit(c->node);
}

/* --- sending ------------------------------------------------------------- */

static void
send_more(struct bufferevent *bev, void *ud)
{
	struct copy *c = ud;
	struct evbuffer *out = bufferevent_get_output(bev);
	char buf[CHUNK];
	ssize_t got;

	while (!c->eof && evbuffer_get_length(out) < HIGH_WATER) {
		got = read(c->fd, buf, sizeof buf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fprintf(stderr, "datacopy: %s: %s\n", c->path,
			    strerror(errno));
			bufferevent_free(bev);
			finish(c, 1);
			return;
		}
		if (got == 0)
			c->eof = 1;
		else {
			bufferevent_write(bev, buf, (size_t)got);
			c->bytes += (unsigned long long)got;
		}
	}
	if (c->eof && evbuffer_get_length(out) == 0 && !c->sent_end) {
		/*
		 * All written: the receiver reads the end of the stream, and
		 * closes when it has it all, which is our end (send_event).
		 */
		c->sent_end = 1;
		bufferevent_flush(bev, EV_WRITE, BEV_FINISHED);
	}
}

static void
send_event(struct bufferevent *bev, short what, void *ud)
{
	struct copy *c = ud;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		bufferevent_free(bev);
		if (c->sent_end && !(what & BEV_EVENT_ERROR)) {
			if (c->progress || since(&c->start) > 1.0)
				progress(c->node, c);
			finish(c, 0);
			return;
		}
		fprintf(stderr, "datacopy: the receiver closed the connection "
		    "after %llu bytes\n", c->bytes);
		finish(c, 1);
	}
}

static void
connected(aemp_node *n, struct bufferevent *bev, json_t *reason, void *ud)
{
	struct copy *c = ud;

	if (bev == NULL) {
		char *text = aemp_words(reason);
		fprintf(stderr, "datacopy: %s\n", text);
		free(text);
		finish(c, 1);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	aemp_after(n, 1.0, progress, c);
	bufferevent_setcb(bev, NULL, send_more, send_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	send_more(bev, c);
}

/* Connect once the target's node is up (its address is known then). */
static void
node_event(aemp_node *n, const char *node, int up, json_t *reason, void *ud)
{
	struct copy *c = ud;
	char *want = strchr(c->target, '#') ? aemp_node_of(c->target) :
	    strdup(c->target);

	(void)reason;
	if (up && !c->started && strcmp(node, want) == 0) {
		c->started = 1;
		if (aemp_dataconn(n, c->self, c->target, TIMEOUT,
		    "Datacopy::receive", NULL, connected, c) < 0) {
			fprintf(stderr, "datacopy: %s\n", aemp_error(n));
			finish(c, 1);
		}
	}
	free(want);
}

/* --- receiving ------------------------------------------------------------- */

static void
recv_data(struct bufferevent *bev, void *ud)
{
	struct copy *c = ud;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[CHUNK];
	size_t n;

	while ((n = evbuffer_remove(in, buf, sizeof buf)) > 0 &&
	    n != (size_t)-1) {
		if (write(c->fd, buf, n) != (ssize_t)n) {
			fprintf(stderr, "datacopy: %s: %s\n", c->path,
			    strerror(errno));
			bufferevent_free(bev);
			return;
		}
		c->bytes += n;
	}
}

static void
recv_event(struct bufferevent *bev, short what, void *ud)
{
	struct copy *c = ud;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		recv_data(bev, c);
		fprintf(stderr, "datacopy: %s: %llu bytes\n", c->path,
		    c->bytes);
		bufferevent_free(bev);
		close(c->fd);
		c->fd = -1;
	}
}

static void
receive(aemp_node *n, struct bufferevent *bev, json_t *args, void *ud)
{
	struct copy *c = ud;

	(void)n; (void)args;
	if (c->fd >= 0) {
		/* one at a time: this one is turned away */
		bufferevent_free(bev);
		return;
	}
	c->fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (c->fd < 0) {
		fprintf(stderr, "datacopy: %s: %s\n", c->path, strerror(errno));
		bufferevent_free(bev);
		return;
	}
	c->bytes = 0;
	bufferevent_setcb(bev, recv_data, NULL, recv_event, c);
	bufferevent_enable(bev, EV_READ);
}

static int
usage(void)
{
	fprintf(stderr, "usage: datacopy receive OUTFILE\n"
	    "       datacopy send NODE|PORT [FILE]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct copy c;
	char *err = NULL;

	memset(&c, 0, sizeof c);
	c.fd = -1;
	if (argc == 3 && strcmp(argv[1], "receive") == 0)
		c.path = argv[2];
	else if ((argc == 3 || argc == 4) && strcmp(argv[1], "send") == 0) {
		c.target = argv[2];
		c.path = argc == 4 ? argv[3] : "-";
		c.fd = strcmp(c.path, "-") == 0 ? 0 :
		    open(c.path, O_RDONLY | O_CLOEXEC);
		if (c.fd < 0) {
			fprintf(stderr, "datacopy: %s: %s\n", c.path,
			    strerror(errno));
			return 1;
		}
	} else
		return usage();
	if ((c.node = aemp_configure(NULL, NULL, &err)) == NULL) {
		fprintf(stderr, "datacopy: %s\n", err);
		free(err);
		return 1;
	}
	if (c.target == NULL)
		aemp_register_dataconn(c.node, "Datacopy::receive", receive,
		    &c);
	else {
		c.self = aemp_port(c.node, NULL, NULL);
		aemp_mon_nodes(c.node, node_event, &c);
		if (aemp_node_is_up(c.node, c.target))
			node_event(c.node, c.target, 1, NULL, &c);
	}
	aemp_loop(c.node);
	aemp_free(c.node);
	return c.status;
}

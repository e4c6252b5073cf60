/*
 * bench.h: helpers shared by the benchmark programs: clocks, nodes on
 * 127.0.0.1, child processes that report over a pipe, raw TCP sockets.
 */
#ifndef BENCH_H
#define BENCH_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aemp.h"

#define BENCH_SECRET	"benchsecret"

static inline double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void
bench_die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* No profile store, quiet logs: a benchmark must not depend on $HOME. */
static inline void
bench_isolate(void)
{
	setenv("AEMP_RC", "/nonexistent/aemp-bench/aemp.db", 1);
	unsetenv("AEMP_PROFILE");
	if (getenv("AEMP_WARNLEVEL") == NULL)
		setenv("AEMP_WARNLEVEL", "2", 1);
}

/*
 * A node named id (NULL: anonymous) listening on 127.0.0.1 (unless
 * listen is 0), seeded by seed when not NULL.
 */
static inline aemp_node *
bench_node(struct event_base *base, const char *id, int listen,
    const char *seed)
{
	json_t *cfg = json_pack("{sb ss ss}", "norc", 1, "nodeid",
	    id != NULL ? id : "anon/", "secret", BENCH_SECRET);
	char *err = NULL;
	aemp_node *n;

	/* $AEMP_BENCH_CERT: a PEM file, for the TLS rows */
	if (getenv("AEMP_BENCH_CERT") != NULL) {
		FILE *f = fopen(getenv("AEMP_BENCH_CERT"), "r");
		char pem[64 * 1024];
		size_t len;
		if (f == NULL)
			bench_die("AEMP_BENCH_CERT");
		len = fread(pem, 1, sizeof pem, f);
		fclose(f);
		json_object_set_new(cfg, "cert", json_stringn(pem, len));
	}
	json_object_set_new(cfg, "binds", listen ?
	    json_pack("[s]", "127.0.0.1:*") : json_array());
	if (seed != NULL)
		json_object_set_new(cfg, "seeds", json_pack("[s]", seed));
	n = aemp_configure(base, cfg, &err);
	if (n == NULL) {
		fprintf(stderr, "bench: node %s: %s\n", id ? id : "anon",
		    err ? err : "?");
		exit(1);
	}
	return n;
}

static inline const char *
bench_addr(aemp_node *n)
{
	return json_string_value(json_array_get(aemp_listeners(n), 0));
}

/* A callback's work is done: *flag is set and bench_run_until() returns. */
static inline void
bench_finish(aemp_node *n, volatile int *flag)
{
	*flag = 1;
	event_base_loopbreak(aemp_base(n));
}

static inline void
bench_deadline(aemp_node *n, void *arg)
{
	*(aemp_timer **)arg = NULL;
	event_base_loopbreak(aemp_base(n));
}

/*
 * Runs n's loop as aemp_loop() does until a callback calls bench_finish()
 * or seconds pass; returns *flag. The deadline is a node timer, so the
 * loop's polls wait without a timeout, as a node's own do.
 */
static inline int
bench_run_until(aemp_node *n, volatile int *flag, double seconds)
{
	aemp_timer *deadline = NULL;

	deadline = aemp_after(n, seconds, bench_deadline, &deadline);
	if (*flag == 0)
		event_base_dispatch(aemp_base(n));
	if (deadline != NULL)
		aemp_timer_cancel(n, deadline);
	return *flag;
}

/* Waits until nodeid is up on n, or exits after seconds. */
static inline void
bench_wait_up(aemp_node *n, const char *nodeid, double seconds)
{
	double end = bench_now() + seconds;
	struct timeval tv = { 0, 1000 };

	while (!aemp_node_is_up(n, nodeid)) {
		if (bench_now() > end) {
			fprintf(stderr, "bench: %s never came up\n", nodeid);
			exit(1);
		}
		event_base_loopexit(aemp_base(n), &tv);
		event_base_dispatch(aemp_base(n));
	}
}

/* --- children ----------------------------------------------------------- */

struct bench_child {
	pid_t	 pid;
	FILE	*from;		/* what the child writes to its pipe */
};

/*
 * Forks a child running fn(out, arg), out being the write end of a pipe
 * whose read end the parent keeps. Forks before any event base exists in
 * the caller, so that the child starts clean.
 */
static inline void
bench_fork(struct bench_child *c, void (*fn)(FILE *, void *), void *arg)
{
	int fds[2];

	if (pipe(fds) < 0)
		bench_die("pipe");
	fflush(NULL);
	if ((c->pid = fork()) < 0)
		bench_die("fork");
	if (c->pid == 0) {
		FILE *out;
		close(fds[0]);
		out = fdopen(fds[1], "w");
		setvbuf(out, NULL, _IOLBF, 0);
		fn(out, arg);
		fclose(out);
		_exit(0);
	}
	close(fds[1]);
	c->from = fdopen(fds[0], "r");
}

/* Reads the next line from the child (without newline) into buf. */
static inline void
bench_child_line(struct bench_child *c, char *buf, size_t size)
{
	size_t len;

	if (fgets(buf, (int)size, c->from) == NULL) {
		fprintf(stderr, "bench: child %d said nothing\n", (int)c->pid);
		exit(1);
	}
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
}

static inline void
bench_child_end(struct bench_child *c)
{
	int status;

	kill(c->pid, SIGTERM);
	waitpid(c->pid, &status, 0);
	fclose(c->from);
}

/* --- raw TCP ------------------------------------------------------------ */

/* A listening socket on 127.0.0.1, ephemeral port in *port. */
static inline int
bench_raw_listen(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		bench_die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		bench_die("listen");
	*port = ntohs(sin.sin_port);
	return fd;
}

static inline void
bench_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static inline int
bench_raw_connect(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		bench_die("socket");
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
		bench_die("connect");
	bench_nodelay(fd);
	return fd;
}

static inline void
bench_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			bench_die("write");
		}
		buf += w;
		len -= (size_t)w;
	}
}

static inline int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif

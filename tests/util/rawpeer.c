/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * rawpeer.c: the hand-made AEMP peer of rawpeer.h.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "md6.h"
#include "nodeutil.h"
#include "rawpeer.h"
#include "testutil.h"

int
raw_connect(int port)
{
	struct sockaddr_in sin;
	struct timeval tv = { 3, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

void
raw_send(int fd, const char *s)
{
	size_t len = strlen(s);

	ck_assert_int_eq(write(fd, s, len), (ssize_t)len);
}

int
raw_line(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t r = read(fd, buf + len, 1);
		if (r <= 0)
			return -1;
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return (int)len;
		}
		len++;
	}
	return -1;
}

int
raw_read_into(int fd, const char *needle, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	while (len < size - 1) {
		ssize_t r = read(fd, buf + len, size - 1 - len);
		if (r <= 0)
			return 0;
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, needle) != NULL)
			return 1;
	}
	return 0;
}

int
raw_read_until(int fd, const char *needle)
{
	char buf[65536];

	return raw_read_into(fd, needle, buf, sizeof buf);
}

int
raw_closed(int fd)
{
	char buf[4096];

	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 1;
		if (r < 0)
			return 0;
	}
}

int
raw_greet(int port, const char *id, char *g1, char *g2, char *my1)
{
	int fd = raw_connect(port);

	snprintf(my1, 256, "aemp;1;%s;hmac_md6_64_256;json;provider=test", id);
	raw_send(fd, my1);
	raw_send(fd, "\n" RAW_NONCE "\n");
	ck_assert_int_gt(raw_line(fd, g1, 4096), 0);
	ck_assert_int_gt(raw_line(fd, g2, 4096), 0);
	return fd;
}

int
raw_auth(int fd, const char *g1, const char *g2, const char *my1)
{
	char line[4096], token[65];

	ae_auth_token(RAW_SECRET, my1, RAW_NONCE, g1, g2, token);
	snprintf(line, sizeof line, "hmac_md6_64_256;%s;json\n", token);
	if (write(fd, line, strlen(line)) < 0)
		return 0;
	return raw_line(fd, line, sizeof line) > 0 &&
	    strncmp(line, "hmac_md6_64_256;", 16) == 0;
}

int
raw_authenticated_as(int port, const char *id)
{
	char g1[4096], g2[4096], my1[256];
	int fd = raw_greet(port, id, g1, g2, my1);

	ck_assert(raw_auth(fd, g1, g2, my1));
	return fd;
}

pid_t
child_fork(struct child *c)
{
	c->dir = test_tmpdir();
	c->port = test_free_port();
	snprintf(c->log, sizeof c->log, "%s/node.log", c->dir);
	fflush(NULL);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		FILE *f = freopen(c->log, "w", stderr);

		(void)f;
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		setvbuf(stderr, NULL, _IONBF, 0);
		tn_isolate();
		setenv("AEMP_WARNLEVEL", "9", 1);
	}
	return c->pid;
}

void
child_stop(struct child *c)
{
	ck_assert_int_eq(kill(c->pid, 0), 0);	/* it did not crash */
	test_stop(c->pid);
	test_rmtree(c->dir);
	free(c->dir);
}

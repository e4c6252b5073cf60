/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * rawpeer.h: a foreign peer that speaks AEMP by hand over a blocking
 * socket on 127.0.0.1 (greeting, auth line, packets as text), for tests
 * that need to do what a node would not: stall, lie, or never read.
 */
#ifndef RAWPEER_H
#define RAWPEER_H

#include <sys/types.h>

#include <stddef.h>

/* The secret of the nodes under test, and the raw peer's fixed nonce. */
#define RAW_SECRET	"testsecret"
#define RAW_NONCE	"bm9uY2Vub25jZW5vbmNlbm9uY2Vub25jZW5vbmNlbm9uY2Vub25jZQ=="

/* Connected to 127.0.0.1:port, reads time out after 3 s. */
int	 raw_connect(int port);
/* Writes all of s (or fails the test). */
void	 raw_send(int fd, const char *s);
/* Reads one line (without LF) into buf; returns its length or -1. */
int	 raw_line(int fd, char *buf, size_t size);
/*
 * Reads into buf (size bytes, kept NUL-terminated) until needle was seen
 * (1) or the peer stops sending (0); raw_read_until with a buffer of its
 * own.
 */
int	 raw_read_into(int fd, const char *needle, char *buf, size_t size);
int	 raw_read_until(int fd, const char *needle);
/* 1 if the peer closed the connection within the receive timeout. */
int	 raw_closed(int fd);
/*
 * Sends our greeting as id (my1: 256 bytes, gets our line 1) and reads
 * the node's two lines into g1 and g2 (4096 bytes each); returns the fd.
 */
int	 raw_greet(int port, const char *id, char *g1, char *g2, char *my1);
/* Sends our auth line; 1 when the node's auth line came back. */
int	 raw_auth(int fd, const char *g1, const char *g2, const char *my1);
/* A complete, correct handshake as node id; returns the fd. */
int	 raw_authenticated_as(int port, const char *id);

/* A node under test in a child process (started by each test program). */
struct child {
	pid_t	 pid;
	int	 port;
	char	 log[256];
	char	*dir;
};
/*
 * Forks its process, with c's dir, port and log made first. In the child
 * (0 returned) stderr goes to the log, unbuffered, SIGTERM and SIGINT do
 * what they do by default again (Check's handlers would take the whole
 * test down with it), the store adds nothing (tn_isolate) and everything
 * is logged; the parent gets the PID, also in c->pid.
 */
pid_t	 child_fork(struct child *);
/* Stops it (it must still run: it did not crash) and removes its dir. */
void	 child_stop(struct child *);

#endif

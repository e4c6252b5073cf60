/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * conn.h: one connection (struct aemp_conn), private to the transport's
 * files (transport.c, authfail.c): everyone else holds it opaque and
 * calls transport.h.
 */
#ifndef AEMP_CONN_H
#define AEMP_CONN_H

#include "transport.h"
#include "remote.h"
#include "bytes.h"

/* --- connections ------------------------------------------------------- */

enum conn_state {
	CONN_CONNECTING,	/* TCP connect in progress */
	CONN_GREETING,		/* waiting for the peer's two greeting lines */
	CONN_AUTH,		/* waiting for the peer's auth line */
	CONN_HELD,		/* a second connection for a node that is up,
				   waiting while the old one is probed */
	CONN_PARKED,		/* authenticated, waiting while the connection
				   a simultaneous connect keeps finishes */
	CONN_UP,		/* data phase */
	CONN_CLOSED
};

struct aemp_conn {
	aemp_node	*node;
	LIST_ENTRY(aemp_conn) entry;	/* node->conns, newest first */
	struct aemp_stream *stream;	/* TCP, then TLS (stream.h) */
	int		 tls;		/* TLS was started (10.3) */
	char		*why;		/* a composed reason for closing */
	enum conn_state	 state;
	char		*peer;		/* "host:port" of the other side */
	char		*expect;	/* node ID we connected to, or NULL */
	struct aemp_remote *remote;	/* once up */
	char		*lgreet1, *lgreet2, *rgreet1, *rgreet2;
	char		*rnodeid;
	char		 expect_token[65];
	const char	*auth_method;	/* ours, a literal (send_auth) */
	struct ntimer	*timer;		/* handshake timeout, then keepalive */
	struct event	*more_ev;	/* continue parsing after the budget */
	/* data phase: reads and writes without the bufferevent */
	struct bytes	 in;		/* input the read buffer did not finish */
	struct bytes	 out;		/* packets not yet written */
	struct event	*flush_ev;	/* writes out, once per loop turn */
	struct event	*read_ev;
	struct event	*write_ev;	/* while the socket takes no more */
	struct event	*pump_ev;	/* read what a TLS stream holds */
	evutil_socket_t	 fd;		/* the socket under the stream */
	int		 reading;	/* in its read callback: flush after */
	int		 write_waiting;	/* write_ev is pending */
	struct aemp_scan scan;
	size_t		 scanned;	/* bytes of input the splitter consumed */
	int		 tag;		/* the opener's mark (upcall.attempt) */
	int		 listener_less_keepalive;
	unsigned	 closing;
	int		 inbound;	/* accepted, not connected by us */
	int		 outgoing;	/* we initiated it */
	double		 up_since;	/* ae_node_now() when it came up */
	/* a data connection (dataconn.c): its ID, and whether we connected */
	char		*dc_id;
	int		 dc_out;
};

#endif

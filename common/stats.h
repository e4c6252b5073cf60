/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * stats.h: the counters a node keeps about itself and each remote node,
 * for aemp_stats(). They are plain integers bumped on paths that already
 * run (no lock, syscall or allocation per message), so they stay on.
 */
#ifndef AEMP_STATS_H
#define AEMP_STATS_H

#include <stddef.h>
#include <stdint.h>

struct aemp_remote;
struct aemp_node;

/* Why a handshake failed, as counted in stats_node.hs_failed. */
enum stats_hs_reason {
	STATS_HS_CONNECT,	/* the TCP connect itself failed */
	STATS_HS_TIMEOUT,	/* no complete handshake in monitor_timeout */
	STATS_HS_AUTH,		/* secret mismatch, method not accepted */
	STATS_HS_PROTOCOL,	/* greeting or auth line not understood */
	STATS_HS_DUPLICATE,	/* already connected, or ourselves */
	STATS_HS_CLOSED,	/* the peer closed or the socket failed */
	STATS_HS_EVICTED,	/* too many connections in handshake */
	STATS_HS_REFUSED,	/* accepted, then refused before the greeting */
	STATS_HS_NREASONS
};

/* Per remote node: kept across its connections, like the remote. */
struct stats_remote {
	uint64_t	 msgs_in;	/* packets received */
	uint64_t	 msgs_out;	/* packets sent or queued */
	uint64_t	 bytes_in;	/* data-phase bytes read */
	uint64_t	 bytes_out;	/* data-phase bytes written */
	uint64_t	 errors;	/* transport errors (went down) */
	uint64_t	 ups;		/* connections established */
	double		 since;		/* last change of state, or 0 */
	double		 last_in;	/* last data-phase read, or 0 */
};

struct stats_node {
	double		 started;
	uint64_t	 ports_created;
	uint64_t	 ports_killed;
	uint64_t	 delivered;	/* messages handed to local receivers */
	uint64_t	 dropped;	/* messages for ports that do not exist */
	uint64_t	 hs_ok;
	uint64_t	 hs_failed[STATS_HS_NREASONS];
};

/* The node port request that answers with aemp_stats() (nodeport.c). */
#define STATS_REQUEST	AEMP_STATS_REQUEST

const char *ae_stats_hs_reason_name(int reason);
/* ae_transport_close() of a connection that never reached the data phase. */
void	 ae_stats_handshake_failed(struct aemp_node *, int connecting,
	    int inbound, const char *why);
void	 ae_stats_remote_up(struct aemp_remote *);
void	 ae_stats_remote_down(struct aemp_remote *);
/* A data-phase read of len bytes from r. */
void	 ae_stats_read(struct aemp_remote *, size_t len);

#endif

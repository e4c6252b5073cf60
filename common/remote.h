/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * remote.h: what libaemp knows of another node (struct aemp_remote,
 * remote.c). The transport reads the record of the node it carries; the
 * kernel and the global service hear of it going up and down through
 * ae_remote_on_event().
 */
#ifndef AEMP_REMOTE_H
#define AEMP_REMOTE_H

#include "node.h"
#include "bytes.h"

/* --- remote nodes ------------------------------------------------------- */

struct aemp_remote {
	aemp_node	*node;
	char		*id;
	size_t		 idlen;		/* strlen(id) */
	struct aemp_conn *conn;		/* established connection, or NULL */
	struct bytes	 queue;		/* packets waiting for a connection */
	json_t		*addrs;		/* known "host:port" strings */
	struct dict	 lmon;		/* port name -> struct mon_list */
	struct dict	 rmon;		/* local port names it monitors */
	struct ntimer	*connect_ev;	/* next connect attempt */
	struct ntimer	*timeout_ev;	/* give up after monitor_timeout */
	size_t		 addr_next;	/* next address to try */
	int		 connecting;
	int		 dying;
	/* liveness probe while up (see remote.c) */
	struct ntimer	*probe_ev;
	double		 probe_sent;	/* when the outstanding probe left */
	uint64_t	 probe_seq;
	int		 probe_pending;
	int		 sent_since_probe;
	struct stats_remote stats;	/* stats.c */
	int		 wm_above;	/* the queue went above wm_high */
	/* a new connection for this node, held while conn is probed */
	struct aemp_conn *challenger;
	struct ntimer	*challenge_ev;
	double		 idle_since;	/* made, or last went down */
};

static inline const char *
remote_key(const void *v)
{
	return ((const struct aemp_remote *)v)->id;
}


/* remote.c */
void	 ae_remote_start(aemp_node *);
void	 ae_remote_on_event(aemp_node *, remote_event_fn);
struct aemp_remote *ae_remote_get(aemp_node *, const char *id, int create);
void	 ae_remote_send(struct aemp_remote *, json_t *pkt);
void	 ae_remote_send_name(struct aemp_remote *, const char *port, json_t *msg);
void	 ae_remote_connect(struct aemp_remote *);
void	 ae_remote_add_addrs(struct aemp_remote *, json_t *addrs);
void	 ae_remote_down(struct aemp_remote *, const char *why);
void	 ae_remote_free_all(aemp_node *);
void	 ae_remote_probe_answer(struct aemp_remote *, json_t *msg);
size_t	 ae_remote_queued(const struct aemp_remote *);
void	 ae_remote_sent_bytes(struct aemp_remote *, size_t before);

#endif

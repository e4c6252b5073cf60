/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * global.h: the state of the global service (AEMP.md section 7), shared
 * by global.c (full mesh, the connect port), seed.c and group.c, and
 * private to them.
 */
#ifndef AEMP_GLOBAL_H
#define AEMP_GLOBAL_H

#include "kernel.h"
#include "remote.h"
#include "transport.h"
#include "services.h"

#define GLOBAL_VERSION		0
#define GLOBAL_CONNECT		"AnyEvent::MP::Global::connect"

/* Our global port on another node (the reference's $port{NODE}). */
struct gport {
	char		*node;		/* dict key */
	char		*port;		/* NODE#RUNIQ.ID, our spawn */
	aemp_mon	*mon;		/* on port; NULL once fired */
};

/* A port another node spawned on us with GLOBAL_CONNECT. */
struct cport {
	LIST_ENTRY(cport) entry;	/* global->cports */
	char		*node;		/* the node that spawned it */
	char		*self;
	aemp_mon	*nodemon;	/* on node's node port */
	aemp_mon	*selfmon;	/* on self, to free this */
};

/* A delayed "nodes" broadcast of one node's addresses to SEEDME nodes. */
struct bcast {
	aemp_node	*n;
	char		*node;		/* dict key */
	json_t		*addrs;
	struct ntimer	*ev;
};

/* A node learned from a peer, waiting for its turn to be connected. */
struct pending {
	STAILQ_ENTRY(pending) entry;	/* global->pend_q */
	char		*node;		/* dict key */
	json_t		*addrs;
};

static inline const char *
gport_key(const void *v)
{
	return ((const struct gport *)v)->node;
}

static inline const char *
bcast_key(const void *v)
{
	return ((const struct bcast *)v)->node;
}

static inline const char *
pending_key(const void *v)
{
	return ((const struct pending *)v)->node;
}

/* A local registration: the aemp_grp_reg() guard. */
struct aemp_grp {
	LIST_ENTRY(aemp_grp) entry;	/* global->grps */
	char		*group;
	char		*port;
	aemp_mon	*mon;		/* on port; NULL once fired */
	int		 active;
};

struct aemp_global {
	uint64_t	 rng;		/* xorshift state */

	json_t		*addr;		/* node -> its addresses */
	struct dict	 gports;	/* node -> struct gport */
	LIST_HEAD(, cport) cports;
	json_t		*seedme;	/* node -> true: nodes we seed */
	char		*master;	/* who seeds us, or NULL */
	int		 lonely_logged;	/* "no contact" said since a seed was master */
	struct dict	 bcasts;	/* node -> struct bcast */

	/* connecting to learned nodes, a few at a time */
	STAILQ_HEAD(, pending) pend_q;	/* FIFO */
	struct dict	 pend;		/* node -> struct pending */
	json_t		*inflight;	/* node IDs being connected */
	struct ntimer	*pace_ev;

	/* seeds (the list itself is n->seeds) */
	size_t		 seed_next;
	int		 seeded;	/* the first round has run */

	/* groups */
	json_t		*lreg;		/* group -> [local ports] */
	json_t		*greg;		/* group -> {port: true} */
	LIST_HEAD(, aemp_grp) grps;
	struct aemp_watch_list grp_pending;	/* grp_mon()s not started */
	int		 grp_walking;	/* depth of callback walks */
};

/* global.c */
double	 ae_global_random(aemp_node *);
size_t	 ae_global_up_count(aemp_node *);
void	 ae_global_broadcast(aemp_node *, json_t *msg);

/* seed.c */
void	 ae_seed_start(aemp_node *);
void	 ae_seed_more(aemp_node *);
void	 ae_seed_free(aemp_node *);

/* group.c */
void	 ae_group_init(aemp_node *);
void	 ae_group_free(aemp_node *);
void	 ae_group_change(aemp_node *, const char *group, json_t *add,
	    json_t *del);
void	 ae_group_unreg_node(aemp_node *, const char *node);

#endif

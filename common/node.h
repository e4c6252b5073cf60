/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * node.h: the node's record (struct aemp_node), what the transport and
 * remote.c report upward through (struct upcalls, enum remote_event),
 * and node.c's ring of deferred work.
 */
#ifndef AEMP_NODE_H
#define AEMP_NODE_H

#include "internal.h"

#define PORT_NAME_MAX	64	/* the prefixes are 9 and 16 characters */

/* --- deferred work ------------------------------------------------------ */

enum defer_kind {
	DEFER_DELIVER,		/* local message */
	DEFER_PACKET,		/* local message, as sndf.c's record */
	DEFER_KILL,		/* fire a dead port's monitors and free it */
	DEFER_MON_FIRE,		/* fire one detached monitor */
	DEFER_SPAWN,		/* run a local spawn */
	DEFER_CALL,		/* run a callback (not while freeing) */
	DEFER_FREE		/* run a release function (also while freeing) */
};

/* 40 bytes: a local message is one of these on the ring. */
struct defer {
	enum defer_kind	 kind;
	json_t		*msg;		/* message, reason or args */
	char		*port;		/* DELIVER/SPAWN/MON_FIRE: name or ID */
	union {
		struct aemp_port *to;	/* DELIVER: the port, when it lived */
		struct aemp_port *dead;	/* KILL */
		struct aemp_mon	*mon;	/* MON_FIRE */
		void	(*fn)(aemp_node *, void *);	/* CALL, FREE */
	};
	union {
		char	*func;		/* SPAWN */
		void	*ud;		/* CALL, FREE */
		const struct tagname *tag;	/* DELIVER: msg is untagged */
		size_t	 pktlen;	/* PACKET: its record's bytes */
	};
};


struct seed {
	char		*addr;		/* "host:port" as configured */
	char		*nodeid;	/* learned on connect */
	int		 self;		/* it turned out to be us */
	struct aemp_conn *conn;		/* attempt in progress */
};


/* --- reports upward ----------------------------------------------------- */

/*
 * What the transport reports to the layers above it: functions those
 * layers set in n->upcall when they start (ae_kernel_start(): delivery;
 * ae_remote_start(): the node's connection; ae_seed_start(): tagged attempts;
 * ae_dataconn_start(): data connections). The transport names none of them.
 * NULL: nobody listens (not for the kernel's and remote.c's).
 */
struct upcalls {
	/* a message for local port name from `from` (ae_kernel_deliver*) */
	void	(*deliver)(aemp_node *, const char *name, json_t *msg,
		    struct aemp_remote *from);
	void	(*deliver_tagged)(aemp_node *, const char *name,
		    const char *tag, size_t len, json_t *msg,
		    struct aemp_remote *from);
	/* a message to name (may be NULL) was lost (ae_kernel_drop) */
	void	(*drop)(aemp_node *, const char *name, const char *why,
		    struct aemp_remote *from);
	/* any other packet from r */
	void	(*packet)(struct aemp_remote *, json_t *pkt);
	/* c finished its handshake: now r's connection */
	void	(*up)(struct aemp_remote *, struct aemp_conn *);
	/* r's connection was lost */
	void	(*lost)(struct aemp_remote *, const char *why);
	/* c authenticated as r, which is up: held (ae_transport_held_verdict) */
	void	(*held)(struct aemp_remote *, struct aemp_conn *);
	/* r's connection wrote out what it held */
	void	(*drained)(struct aemp_remote *);
	/*
	 * An attempt the opener marked (ae_transport_set_tag) came up as nodeid
	 * (why NULL) or failed (why; nodeid when the peer said it).
	 */
	void	(*attempt)(aemp_node *, int tag, const char *nodeid,
		    const char *why);
	/*
	 * Data connection c for id with nodeid finished its handshake (ours:
	 * we connected): taken with ae_transport_detach(), or -1: unknown, closed.
	 */
	int	(*data_ready)(aemp_node *, struct aemp_conn *, const char *id,
		    const char *nodeid, int ours);
	/* our own data connection attempt for id failed */
	void	(*data_failed)(aemp_node *, const char *id, const char *why);
};

/*
 * What remote.c reports about other nodes to the layers above it (the
 * kernel, then the global service), in the order they registered with
 * ae_remote_on_event().
 */
enum remote_event {
	REMOTE_UP,		/* connected */
	REMOTE_DOWN,		/* the connection was lost */
	REMOTE_FAILED,		/* not connected, and given up on: its
				   messages are lost, its monitors fire */
	REMOTE_FORGET		/* the record goes: what is on it goes */
};
typedef void (*remote_event_fn)(aemp_node *, struct aemp_remote *,
    enum remote_event, json_t *reason);
#define REMOTE_HOOKS_MAX	4

/* --- the node ----------------------------------------------------------- */

/* node watches and group monitors (struct aemp_watch: kernel.h) */
TAILQ_HEAD(aemp_watch_list, aemp_watch);

struct aemp_node {
	struct event_base *base;
	int		 own_base;
	json_t		*config;
	char		*id;
	size_t		 idlen;		/* strlen(id): every send compares it */
	char		*uniq;		/* prefix of local port names */
	char		*runiq;		/* prefix of names of spawned ports */
	uint64_t	 counter;	/* port name suffix, never reused */

	/* settings from config */
	char		*secret;
	struct ssl_ctx_st *tls_ctx;	/* from the cert key, or NULL */
	double		 monitor_timeout;
	double		 connect_interval;
	json_t		*auth_offer, *auth_accept;
	int		 nodelay;
	size_t		 max_packet;
	size_t		 max_queue;
	/* aemp_set_watermark() */
	size_t		 wm_high, wm_low;
	aemp_drain_fn	 wm_cb;
	void		*wm_ud;
	size_t		 max_queue_total;	/* all remotes' queues together */
	size_t		 queued_total;		/* their bytes now */
	char		*read_buf;	/* what each read goes into first */
	json_t		*spare_msg;	/* ae_fast_packet()'s next message */
	/* DEFER_PACKET's records (sndf.c), in the ring's order */
	struct bytes	 local_pkts;
	/* the next port aemp_port() makes, named ahead (kernel.c) */
	char		 next_port[PORT_NAME_MAX];
	uint64_t	 next_counter;
	size_t		 next_hash;
	/* timers (timers.c) */
	struct ntimer	**theap;
	size_t		 ntheap, theap_cap;
	int		 tfd;		/* timerfd, or -1 */
	struct event	*tfd_ev;
	int		 tfd_polled;	/* tfd_ev is added */
	double		 tfd_armed;	/* its deadline, or 0 */
	struct event	*due_ev;	/* zero timeout for timers due at once */
	int		 timers_firing;
	int		 free_asked;	/* aemp_free() from a timer callback */

	struct dict	 ports;		/* name -> struct aemp_port */
	struct dict	 tagnames;	/* tag -> struct tagname */
	struct tagname	*tag_last;	/* the one tagname_get() gave last */
	struct dict	 remotes;	/* node ID -> struct aemp_remote */
	struct aemp_remote *last_remote; /* aemp_snd()'s last, never freed */
	struct aemp_port *last_port;	/* aemp_snd()'s last local port */
	struct aemp_port *last_rcv;	/* the port a packet went to last */
	struct dict	 funcs;		/* name -> struct func */
	aemp_resolve_fn	 resolve;	/* aemp_set_resolver() */
	void		*resolve_ud;

	json_t		*listen_addrs;	/* "host:port" */
	struct evconnlistener **listeners;
	struct ntimer	*listen_retry_ev;	/* resumes after accept errors */
	size_t		 nlisteners;
	LIST_HEAD(, aemp_conn) conns;	/* every connection, newest first */

	struct seed	*seeds;
	size_t		 nseeds;
	struct ntimer	*seed_ev;
	struct ntimer	*forget_ev;	/* forgets idle remotes (remote.c) */

	/* deferred work, run from one event in FIFO order: a ring */
	struct defer	*defer_ring;
	size_t		 defer_cap, defer_first, defer_len;
	struct event	*defer_ev;

	LIST_HEAD(, aemp_timer) timers;	/* after.c */
	struct aemp_watch_list node_watches;	/* newest first */
	unsigned	 node_watch_depth;	/* ae_kernel_nodes_event nesting */
	int		 defer_running;		/* inside defer_run() */
	struct aemp_watch_list grp_watches;	/* in the order started */
	struct aemp_global *global;
	struct upcalls	 upcall;	/* the transport's reports */
	remote_event_fn	 remote_hooks[REMOTE_HOOKS_MAX];
	size_t		 nremote_hooks;

	const char	*self;		/* SELF while a receiver runs */
	char		*die_msg;
	char		*errmsg;
	aemp_log_fn	 log_fn;
	void		*log_ud;
	int		 log_level;
	int		 log_journal;	/* stderr is systemd's journal stream */
	int		 trace;
	int		 freeing;
	struct loglim	*loglim;	/* loglimit.c: LOGLIM_SLOTS */
	struct ntimer	*loglim_ev;	/* logs the counts not logged */
	struct authfail	*authfail;	/* authfail.c */
	size_t		 nauthfail;
	struct stats_node stats;	/* stats.c */
	struct dcstate	*dc;		/* dataconn.c */
	struct lcstate	*lc;		/* logcatcher.c */
	int		 lc_level;	/* highest level a catcher takes, -1 */
	int		 log_busy;	/* inside log_fn: no recursion */
};

/* node.c: ae_node_defer() when the ring is full or empty */
struct defer *ae_node_defer_grow(aemp_node *, enum defer_kind);

/*
 * A slot at the end of the deferred ring, zeroed for the caller to fill
 * at once (it moves when the ring grows). Inline: every local message
 * takes one, and mostly the ring has room and its run is scheduled.
 */
static inline struct defer *
ae_node_defer(aemp_node *n, enum defer_kind kind)
{
	struct defer *d;

	if (n->defer_len == n->defer_cap || n->defer_len == 0)
		return ae_node_defer_grow(n, kind);
	d = &n->defer_ring[(n->defer_first + n->defer_len++) &
	    (n->defer_cap - 1)];
	*d = (struct defer){ .kind = kind };
	return d;
}

#endif

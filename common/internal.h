/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * internal.h: the node's data structures, shared by the files of libaemp
 * (node.c, the kernel's files, remote.c, transport.c, and the global
 * service's global.c, seed.c and group.c). Not installed.
 *
 * Layers: the kernel owns local ports, monitors and delivery, one job a
 * file, sharing kernel.h: port.c (IDs, ports, receivers, delivery, snd,
 * kill), sndf.c (aemp_sndf), mon.c (monitors), spawn.c (the function
 * registry and spawn), cal.c, after.c (the program's timers), defer.c
 * (running deferred work), watch.c (node watches, up and known nodes),
 * nodeport.c (the node port's request table) and kernel.c (teardown).
 * remote.c owns
 * what we know of other nodes (queues, addresses, connecting, up/down);
 * transport.c owns one TCP connection (handshake and framing); global.c
 * (with seed.c and group.c, sharing global.h) is the global service;
 * node.c ties them to a configuration. Under them all, calling no layer:
 * dict.c, bytes.c, words.c (with the one string-list joiner),
 * names.c (the Pkg::Sub rule) and xmalloc.c (allocation that aborts).
 * Only what aemp.h marks AEMP_API leaves the library.
 */
#ifndef AEMP_INTERNAL_H
#define AEMP_INTERNAL_H

#include <stdint.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "aemp.h"
#include "dict.h"
#include "wire.h"
#include "codec.h"
#include "stats.h"

struct aemp_conn;
struct aemp_global;
struct aemp_stream;
struct ssl_ctx_st;
struct dcstate;
struct lcstate;

/* --- monitors ------------------------------------------------------------ */

enum mon_kind {
	MON_CB,		/* call a function */
	MON_KILL,	/* kill another port with the same reason */
	MON_SND,	/* send msg + reason */
	MON_REMOTE,	/* a remote node monitors a local port: send kil0 */
	MON_CAL		/* internal: a cal reply port watching its target */
};

/*
 * A monitor sits on the list of what it watches: a local port's list, or
 * a remote port's list in remote->lmon. Lists are doubly linked so that
 * cancelling is O(1). A monitor off every list that is about to fire
 * (from the deferred queue, or while its list fires) is pending: a cancel
 * then only defuses it.
 */
struct aemp_mon {
	enum mon_kind	 kind;
	struct mon_list	*list;
	TAILQ_ENTRY(aemp_mon) entry;	/* on list */
	int		 pending;
	aemp_mon_fn	 cb;
	void		*ud;
	char		*other;		/* MON_KILL, MON_SND: port to act on */
	json_t		*msg;		/* MON_SND */
	struct aemp_remote *remote;	/* MON_REMOTE */
};

struct mon_list {
	TAILQ_HEAD(, aemp_mon) mons;	/* in the order they were made */
	char		*portid;	/* full ID of the watched port */
	struct aemp_remote *remote;	/* owner when the port is remote */
	char		*name;		/* key in remote->lmon */
};

/* --- local ports ------------------------------------------------------- */

struct rcv {
	aemp_rcv_fn	 cb;
	void		*ud;
};

struct rcv_tag {
	struct rcv_tag	*next;
	struct rcv	 r;
	char		 tag[];
};

/* A tag string that receivers share, once per node (n->tagnames). */
struct tagname {
	size_t		 refs;
	size_t		 len : 63;
	size_t		 utf8 : 1;	/* valid UTF-8, as a message string */
	char		 s[];
};

static inline const char *
tagname_key(const void *v)
{
	return ((const struct tagname *)v)->s;
}

#define PORT_NAME_MAX	64	/* the prefixes are 9 and 16 characters */

/*
 * What few ports have: monitors, a second receiver. The monitor list is
 * always initialised.
 */
struct port_ext {
	struct mon_list	 ml;
	struct rcv	 def;		/* the default while first has a tag */
	struct rcv_tag	*tags;		/* tag receivers besides first's */
};

/*
 * One allocation per port, with its ID inside: a node may hold millions
 * of ports, most of them with one receiver and never monitored, so that
 * receiver is in the port (its tag shared), and the rest in ext, which is
 * allocated when needed. A port with first.tag NULL has first as its
 * default receiver (cb NULL: none); with a tag, the default is ext's.
 */
struct aemp_port {
	const struct tagname *tag;	/* first's tag, or NULL */
	struct rcv	 first;
	struct port_ext	*ext;		/* NULL until needed */
	unsigned	 nameoff : 31;	/* the name is id + nameoff */
	unsigned	 dead : 1;
	char		 id[];		/* NODEID#NAME */
};
#define PORT_MONS(p)	((p)->ext != NULL ? &(p)->ext->ml : NULL)
#define PORT_NAME(p)	((p)->id + (p)->nameoff)

/* The keys of the node's tables (dict.h): strings inside the values. */
static inline const char *
port_key(const void *v)
{
	return PORT_NAME((const struct aemp_port *)v);
}

static inline const char *
mon_list_key(const void *v)
{
	return ((const struct mon_list *)v)->name;
}

static inline const char *
mon_other_key(const void *v)
{
	return ((const struct aemp_mon *)v)->other;
}

/* --- remote nodes ------------------------------------------------------- */

struct aemp_remote {
	aemp_node	*node;
	char		*id;
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
	struct aemp_conn *prev, *next;	/* node->conns */
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
	int		 seed;		/* index in node->seeds + 1, or 0 */
	int		 listener_less_keepalive;
	unsigned	 closing;
	int		 inbound;	/* accepted, not connected by us */
	int		 outgoing;	/* we initiated it */
	double		 up_since;	/* node_now() when it came up */
	/* a data connection (dataconn.c): its ID, and whether we connected */
	char		*dc_id;
	int		 dc_out;
};

/* --- deferred work ------------------------------------------------------ */

enum defer_kind {
	DEFER_DELIVER,		/* local message */
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
	};
};

struct func {
	char		*name;
	aemp_func_fn	 fn;
	void		*ud;
};

static inline const char *
func_key(const void *v)
{
	return ((const struct func *)v)->name;
}

struct aemp_timer {
	aemp_node	*node;
	LIST_ENTRY(aemp_timer) entry;	/* node->timers */
	int		 firing;	/* off the list, its callback running */
	struct ntimer	*ev;
	aemp_timer_fn	 cb;
	void		*ud;
	char		*port;		/* aemp_after_snd */
	json_t		*msg;
};

struct aemp_watch {
	struct aemp_watch *prev, *next;
	aemp_nodes_fn	 nodes_cb;
	aemp_grp_fn	 grp_cb;
	char		*group;
	void		*ud;
	int		 cancelled;
};

struct seed {
	char		*addr;		/* "host:port" as configured */
	char		*nodeid;	/* learned on connect */
	int		 self;		/* it turned out to be us */
	struct aemp_conn *conn;		/* attempt in progress */
};

/* --- the node ----------------------------------------------------------- */

struct aemp_node {
	struct event_base *base;
	int		 own_base;
	json_t		*config;
	char		*id;
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
	struct aemp_conn *conns;	/* every connection */

	struct seed	*seeds;
	size_t		 nseeds;
	struct ntimer	*seed_ev;
	struct ntimer	*forget_ev;	/* forgets idle remotes (remote.c) */

	/* deferred work, run from one event in FIFO order: a ring */
	struct defer	*defer_ring;
	size_t		 defer_cap, defer_first, defer_len;
	struct event	*defer_ev;

	LIST_HEAD(, aemp_timer) timers;	/* after.c */
	struct aemp_watch *node_watches;
	unsigned	 node_watch_depth;	/* kernel_nodes_event nesting */
	int		 defer_running;		/* inside defer_run() */
	struct aemp_watch *grp_watches;
	struct aemp_global *global;

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

/* node.c */
int	 node_error(aemp_node *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
char	*node_random_string(size_t bytes);
double	 node_now(void);
struct defer *node_defer(aemp_node *, enum defer_kind);
void	 node_call_later(aemp_node *, void (*)(aemp_node *, void *), void *);
void	 node_free_later(aemp_node *, void (*)(aemp_node *, void *), void *);
/* A formatted line to the log catchers and the logger (aemp_log()). */
void	 node_log_line(aemp_node *, int level, const char *msg);
void	 node_trace(aemp_node *, const char *dir, const char *nodeid,
	    json_t *pkt, int skip_first);

/*
 * loglimit.c: lines a peer can cause at will. site (a static string, the
 * kind of line: compared by address) and subject (may be NULL) say which
 * lines are alike; past LOGLIM_BURST of them in LOGLIM_INTERVAL seconds
 * they are counted, and the count is logged at the interval's end.
 */
#define LOGLIM_SLOTS	32
#define LOGLIM_BURST	3
#define LOGLIM_INTERVAL	10.0
void	 node_log_limited(aemp_node *, int level, const char *site,
	    const char *subject, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
void	 loglimit_free(aemp_node *);

/*
 * authfail.c: addresses that failed to authenticate, to slow them down.
 * authfail_delay: seconds to wait before greeting a peer from sa;
 * authfail_waiting: how many from sa's address already wait so;
 * authfail_record: a peer from sa (NULL: not to be slowed down, only
 * logged) failed (why) or succeeded (why NULL); _fd: the peer of fd (-1:
 * none).
 */
#define AUTHFAIL_SLOTS	256
#define AUTHFAIL_WAITING 2
int	 authfail_waiting(aemp_node *, const struct sockaddr *);
double	 authfail_delay(aemp_node *, const struct sockaddr *);
void	 authfail_record(aemp_node *, const struct sockaddr *,
	    const char *peer, const char *why);
void	 authfail_record_fd(aemp_node *, int fd, const char *peer,
	    const char *why);
void	 authfail_free(aemp_node *);

/* timers.c: timers that keep polls free of timeouts (see there) */
struct ntimer	*ntimer_new(aemp_node *, int persist,
		    void (*)(evutil_socket_t, short, void *), void *);
void	 ntimer_add(aemp_node *, struct ntimer *, double seconds);
void	 ntimer_del(aemp_node *, struct ntimer *);
int	 ntimer_pending(const struct ntimer *);
void	 ntimer_free(aemp_node *, struct ntimer *);
int	 timers_init(aemp_node *);
void	 timers_free(aemp_node *);

/*
 * The kernel: kernel.c (kernel_free), port.c (kernel_deliver*,
 * kernel_port_name, kernel_split), defer.c, mon.c (kernel_drop, mon_*,
 * kernel_remote_down), nodeport.c (kernel_node_request).
 */
void	 kernel_free(aemp_node *);
void	 kernel_deliver(aemp_node *, const char *name, json_t *msg,
	    struct aemp_remote *from);
void	 kernel_deliver_tagged(aemp_node *, const char *name,
	    const char *tag, size_t len, json_t *msg, struct aemp_remote *);
void	 kernel_run_defer(aemp_node *, struct defer *);
/* A message from `from` to port name (may be NULL) was lost: see mon.c */
void	 kernel_drop(aemp_node *, const char *name, const char *why,
	    struct aemp_remote *from);
void	 kernel_node_request(aemp_node *, json_t *msg, struct aemp_remote *);
void	 mon_list_fire(aemp_node *, struct mon_list *, json_t *reason);
void	 mon_free(struct aemp_mon *);
void	 mon_unlink(struct aemp_mon *);
void	 kernel_remote_down(aemp_node *, struct aemp_remote *, json_t *reason);
char	*kernel_port_name(aemp_node *, int remote);
const char *kernel_split(const char *id, size_t *nodelen);

/* remote.c */
struct aemp_remote *remote_get(aemp_node *, const char *id, int create);
void	 remote_send(struct aemp_remote *, json_t *pkt);
void	 remote_send_name(struct aemp_remote *, const char *port, json_t *msg);
void	 remote_connect(struct aemp_remote *);
void	 remote_add_addrs(struct aemp_remote *, json_t *addrs);
void	 remote_up(struct aemp_remote *, struct aemp_conn *);
void	 remote_down(struct aemp_remote *, const char *why);
void	 remote_free_all(aemp_node *);
void	 remote_packet(struct aemp_remote *, json_t *pkt);
void	 remote_probe_answer(struct aemp_remote *, json_t *msg);
size_t	 remote_queued(struct aemp_remote *);
void	 remote_sent_bytes(struct aemp_remote *, size_t before);
void	 remote_drained(struct aemp_remote *);
void	 remote_challenge(struct aemp_remote *, struct aemp_conn *);

/* transport.c */
int	 transport_listen(aemp_node *, json_t *binds);
struct aemp_conn *transport_connect(aemp_node *, const char *addr,
	    const char *expect);
void	 transport_close(struct aemp_conn *, const char *why);
int	 transport_write(struct aemp_conn *, json_t *pkt);
int	 transport_write_named(struct aemp_conn *, const char *name,
	    size_t len, json_t *msg);
void	 transport_write_buffer(struct aemp_conn *, struct bytes *);
void	 transport_queued(struct aemp_conn *, size_t before);
void	 transport_held_verdict(struct aemp_conn *, int accept);
void	 transport_free_all(aemp_node *);

/*
 * transport.c for data connections (dataconn.c): connect with the
 * aemp-dataconn greeting for id; take the stream of a connection whose
 * handshake finished, with the bytes read behind it (in) and our bytes
 * not yet sent (out), both moved into the caller's buffers.
 */
struct aemp_conn *transport_connect_data(aemp_node *, const char *addr,
	    const char *nodeid, const char *id);
struct aemp_stream *transport_detach(struct aemp_conn *, struct bytes *in,
	    struct bytes *out);

/*
 * dataconn.c (AEMP-TLS-EXT.md 11): dataconn_ready() takes a data
 * connection whose handshake finished; dataconn_failed() hears that our
 * own attempt for id failed.
 */
void	 dataconn_start(aemp_node *);
void	 dataconn_free(aemp_node *);
void	 dataconn_ready(struct aemp_conn *);
void	 dataconn_failed(aemp_node *, const char *id, const char *why);
int	 dataconn_id_valid(const char *id);
size_t	 dataconn_pending(aemp_node *);	/* IDs expected or being opened */

/* logcatcher.c (AEMP-TLS-EXT.md 12): the source side's log hook */
void	 logcatcher_start(aemp_node *);
void	 logcatcher_free(aemp_node *);
void	 logcatcher_forward(aemp_node *, int level, const char *msg);

/* words.c */
/*
 * The strings of list joined by sep (other values left out, and so is a
 * string that would take the text past max bytes; 0: no limit);
 * malloc()ed, "" for none.
 */
char	*strlist_join(json_t *list, const char *sep, size_t max);

/* the global service: global.c, and global_seed_result() in seed.c */
void	 global_start(aemp_node *);
void	 global_free(aemp_node *);
void	 global_node_up(aemp_node *, struct aemp_remote *);
void	 global_node_down(aemp_node *, struct aemp_remote *);
void	 global_seed_result(aemp_node *, struct aemp_conn *, const char *nodeid,
	    const char *why);

#endif

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * aemp.h: the public API of libaemp, an AnyEvent::MP 1.30 compatible
 * message-passing node for C programs, on libevent with jansson values.
 *
 * Ownership rules (also in libaemp(3)):
 * - json_t arguments named "msg", "reason", "args" or "config" are STOLEN:
 *   the library takes the reference, even when the call fails.
 * - json_t values handed to callbacks are BORROWED: valid during the call;
 *   json_incref() them to keep them.
 * - json_t values returned by functions are NEW references: json_decref().
 * - const char * port IDs returned by aemp_port() belong to the node and stay
 *   valid while the port lives (including during its monitor callbacks);
 *   char * returned by aemp_spawn(), aemp_words() and aemp_node_of() are
 *   malloc()ed.
 * Nothing here exits, or prints except through the node's logger.
 */
#ifndef AEMP_H
#define AEMP_H

#include <stdarg.h>
#include <stddef.h>

#include <event2/event.h>
#include <jansson.h>

#define AEMP_VERSION "0.1"

/*
 * Marks what libaemp exports: the library is built with
 * -fvisibility=hidden, so a function declared here without AEMP_API is
 * not in libaemp.so (tests/check_symbols.c checks the two agree).
 */
#define AEMP_API	__attribute__((visibility("default")))

typedef struct aemp_node aemp_node;
typedef struct aemp_mon aemp_mon;       /* monitor guard */
typedef struct aemp_timer aemp_timer;   /* aemp_after() guard */
typedef struct aemp_grp aemp_grp;       /* group registration guard */
typedef struct aemp_watch aemp_watch;   /* mon_nodes / grp_mon guard */

/*
 * A receiver gets the message (a JSON array; for a per-tag receiver the
 * tag is removed). Return 0, or -1 to fail: the port SELF is then killed
 * with ["die", MESSAGE], MESSAGE set by aemp_die() or a generic one.
 */
typedef int (*aemp_rcv_fn)(aemp_node *, const char *self, json_t *msg,
    void *ud);
/* A monitor action: reason is an array, empty for a normal kill. */
typedef void (*aemp_mon_fn)(aemp_node *, const char *port, json_t *reason,
    void *ud);
/* A spawnable function: runs as SELF with the spawn arguments (array). */
typedef int (*aemp_func_fn)(aemp_node *, const char *self, json_t *args,
    void *ud);
typedef void (*aemp_timer_fn)(aemp_node *, void *ud);
/* cal() reply: reply is the message array, or NULL on timeout/failure. */
typedef void (*aemp_cal_fn)(aemp_node *, json_t *reply, void *ud);
/* mon_nodes(): up is 1 or 0; reason is NULL for up, an array for down. */
typedef void (*aemp_nodes_fn)(aemp_node *, const char *nodeid, int up,
    json_t *reason, void *ud);
/* grp_mon(): all members, and those added and removed by this change. */
typedef void (*aemp_grp_fn)(aemp_node *, const char *group, json_t *all,
    json_t *added, json_t *removed, void *ud);
/* Log sink: level 0..9 as in AEMP.md section 6, message without newline. */
typedef void (*aemp_log_fn)(aemp_node *, int level, const char *msg,
    void *ud);

/* --- node life cycle ------------------------------------------------- */

/*
 * Become a node. config is a JSON object of configure arguments (stolen,
 * may be NULL): "profile" names the profile (default $AEMP_PROFILE, then
 * the host name), any other key is a configuration key (AEMP.md section 8).
 * The effective configuration is read from the profile store ($AEMP_RC)
 * unless config has "norc": true. Returns NULL and sets *err (malloc()ed)
 * on failure. base may be NULL: the node then owns a base of its own.
 */
AEMP_API
aemp_node	*aemp_configure(struct event_base *base, json_t *config,
		    char **err);
/* Close every connection and listener, free everything. */
AEMP_API
void		 aemp_free(aemp_node *);
AEMP_API
struct event_base *aemp_base(aemp_node *);
/*
 * Input a program adds to the base (standard input): a regular file,
 * /dev/null or another device that is not a terminal cannot be watched
 * (epoll refuses it), so this reads fd to its end into buf and returns 1.
 * Returns 0 for a pipe, socket or terminal (watch it with an event), -1
 * on a read error (errno says why).
 */
struct evbuffer;
AEMP_API
int		 aemp_read_unpollable(int fd, struct evbuffer *buf);
/* Run the node's base until aemp_loopexit() (or nothing is left to do). */
AEMP_API
int		 aemp_loop(aemp_node *);
AEMP_API
void		 aemp_loopexit(aemp_node *);
AEMP_API
const char	*aemp_nodeid(aemp_node *);
/* The effective configuration (borrowed). */
AEMP_API
json_t		*aemp_config(aemp_node *);
/* Addresses actually bound, as "host:port" strings (borrowed). */
AEMP_API
json_t		*aemp_listeners(aemp_node *);
/* The last error message of a failed call (valid until the next call). */
AEMP_API
const char	*aemp_error(aemp_node *);
AEMP_API
void		 aemp_set_logger(aemp_node *, aemp_log_fn, void *ud);
/*
 * The default logger: "YYYY-MM-DD HH:MM:SS <LEVEL> msg" on stderr, or,
 * when stderr is systemd's journal stream ($JOURNAL_STREAM matches it),
 * "<PRIORITY>msg" with the syslog priority aemp_syslog_priority(level)
 * gives, which journald reads as the line's priority.
 */
AEMP_API
void		 aemp_log_stderr(aemp_node *, int level, const char *msg,
		    void *ud);
/* The syslog priority (0..7) of a log level 0..9 (see aempd(8)). */
AEMP_API
int		 aemp_syslog_priority(int level);
AEMP_API
void		 aemp_log(aemp_node *, int level, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

/* --- ports and messages ---------------------------------------------- */

/* Create a local port, with a default receiver (cb may be NULL). */
AEMP_API
const char	*aemp_port(aemp_node *, aemp_rcv_fn cb, void *ud);
/* Set (cb != NULL) or remove the receiver for tag (NULL: default). */
AEMP_API
int		 aemp_rcv(aemp_node *, const char *port, const char *tag,
		    aemp_rcv_fn cb, void *ud);
/* Send msg (a JSON array, stolen) to a port anywhere. */
AEMP_API
int		 aemp_snd(aemp_node *, const char *port, json_t *msg);
/* Send a message built with json_pack items, e.g. ("si", "test", 123). */
AEMP_API
int		 aemp_sndf(aemp_node *, const char *port, const char *fmt, ...);
/* Kill a port; reason NULL or [] is a normal kill. Local kills are delayed. */
AEMP_API
int		 aemp_kil(aemp_node *, const char *port, json_t *reason);
/* Inside a receiver or spawned function: set the die message, return -1. */
AEMP_API
int		 aemp_die(aemp_node *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* The port whose receiver is running, or NULL outside receivers. */
AEMP_API
const char	*aemp_self(aemp_node *);
/* 1 if the local port exists. */
AEMP_API
int		 aemp_port_exists(aemp_node *, const char *port);
/*
 * The elements of list joined by spaces as Perl prints "@list" (strings
 * as they are, numbers, true 1, false 0, null empty, structures as JSON);
 * malloc()ed. Kill reasons are printed like this.
 */
AEMP_API
char		*aemp_words(json_t *list);
/* The node part of a port ID, malloc()ed. */
AEMP_API
char		*aemp_node_of(const char *port);

/* --- monitors (one-shot; the guard cancels) --------------------------- */

AEMP_API
aemp_mon	*aemp_mon_cb(aemp_node *, const char *port, aemp_mon_fn cb,
		    void *ud);
/* Kill other with the same reason when port dies abnormally. */
AEMP_API
aemp_mon	*aemp_mon_kill(aemp_node *, const char *port, const char *other);
/* Send msg + reason to a port when port dies. msg is stolen. */
AEMP_API
aemp_mon	*aemp_mon_snd(aemp_node *, const char *port, const char *to,
		    json_t *msg);
/* Cancel a monitor that has not fired yet (NULL is fine). */
AEMP_API
void		 aemp_mon_cancel(aemp_node *, aemp_mon *);

/* --- spawn, cal, after ------------------------------------------------ */

/* Register a function for spawn and services. Names: Pkg::Sub::func. */
AEMP_API
int		 aemp_register_func(aemp_node *, const char *name,
		    aemp_func_fn fn, void *ud);
/*
 * Called when spawn or a node port request names a valid function that is
 * not registered: register it (aempd loads a module) and return 0, and the
 * registry is consulted again (and the resolver called again while it keeps
 * returning 0 and the name stays unregistered); return -1 to give up.
 */
typedef int (*aemp_resolve_fn)(aemp_node *, const char *func, void *ud);
AEMP_API
void		 aemp_set_resolver(aemp_node *, aemp_resolve_fn fn, void *ud);
/* Create a port on node running func(args); returns its ID (malloc()ed). */
AEMP_API
char		*aemp_spawn(aemp_node *, const char *node, const char *func,
		    json_t *args);
/* Send msg + a reply port; cb gets the first reply. timeout <= 0: none. */
AEMP_API
int		 aemp_cal(aemp_node *, const char *port, json_t *msg,
		    aemp_cal_fn cb, void *ud, double timeout);
AEMP_API
aemp_timer	*aemp_after(aemp_node *, double seconds, aemp_timer_fn cb,
		    void *ud);
AEMP_API
aemp_timer	*aemp_after_snd(aemp_node *, double seconds, const char *port,
		    json_t *msg);
AEMP_API
void		 aemp_timer_cancel(aemp_node *, aemp_timer *);

/* --- nodes ------------------------------------------------------------ */

AEMP_API
aemp_watch	*aemp_mon_nodes(aemp_node *, aemp_nodes_fn cb, void *ud);
AEMP_API
void		 aemp_watch_cancel(aemp_node *, aemp_watch *);
AEMP_API
json_t		*aemp_up_nodes(aemp_node *);
AEMP_API
json_t		*aemp_known_nodes(aemp_node *);
AEMP_API
int		 aemp_node_is_up(aemp_node *, const char *nodeid);

/* --- statistics (libaemp(3), Statistics) ------------------------------ */

/*
 * A snapshot of the node's counters (a new object): identity, uptime,
 * ports, monitors, messages, groups, handshakes, and one entry per
 * remote node in "connections". Other nodes ask for it with the node
 * port request AEMP_STATS_REQUEST, [AEMP_STATS_REQUEST, @reply].
 */
AEMP_API
json_t		*aemp_stats(aemp_node *);
#define AEMP_STATS_REQUEST	"aemp_c_stats"

/* --- back-pressure ---------------------------------------------------- */

/*
 * The bytes queued toward the node of port (a port ID or a node ID) that
 * the kernel has not taken yet: what waits for a connection, then what
 * waits for room in the socket. 0 for local ports and nodes nothing is
 * queued for.
 */
AEMP_API
size_t		 aemp_queued(aemp_node *, const char *port);
/*
 * Watermarks on every node's queue: when the bytes queued toward a node
 * have gone above high, cb(nodeid) is called once as soon as they are
 * down to low or less; it is not called again until the queue has gone
 * above high again. A node going down clears the mark without a call
 * (its monitors tell). high 0 turns the watermarks off; low must be less
 * than high. Nothing on the wire changes.
 */
typedef void (*aemp_drain_fn)(aemp_node *, const char *nodeid, void *ud);
AEMP_API
int		 aemp_set_watermark(aemp_node *, size_t high, size_t low,
		    aemp_drain_fn cb, void *ud);

/* --- global groups ----------------------------------------------------- */

/*
 * Register a live local port in group, network-wide; NULL (aemp_error())
 * if the port is not local, not alive, or already in the group. The port
 * leaves the group when it dies or when the guard is released with
 * aemp_grp_unreg(), which is safe before and after the port died (NULL
 * is fine); guards never released are freed by aemp_free().
 */
AEMP_API
aemp_grp	*aemp_grp_reg(aemp_node *, const char *group, const char *port);
AEMP_API
void		 aemp_grp_unreg(aemp_node *, aemp_grp *);
/* The members (a new array of port IDs), or NULL when there are none. */
AEMP_API
json_t		*aemp_grp_get(aemp_node *, const char *group);
/*
 * Call cb on every change of group. The first call comes from the event
 * loop, with the current members as all and added, only if there are
 * any. Cancel with aemp_watch_cancel().
 */
AEMP_API
aemp_watch	*aemp_grp_mon(aemp_node *, const char *group, aemp_grp_fn cb,
		    void *ud);
/* --- data connections (AnyEvent::MP::DataConn) --------------------------- */

struct bufferevent;
/*
 * A data connection's stream: bev is the caller's from now on (one end of
 * a bufferevent pair on the node's base: read and write it there;
 * bufferevent_flush(bev, EV_WRITE, BEV_FINISHED) ends our direction,
 * bufferevent_free() closes the connection once what was written is
 * out), with any bytes that came behind the handshake already in its
 * input. On the target, args are the INITDATA (borrowed). On the
 * initiator args is NULL, or, when the connection failed, bev is NULL and
 * args the reason the context port was killed with.
 */
typedef void (*aemp_dataconn_fn)(aemp_node *, struct bufferevent *bev,
    json_t *args, void *ud);
/*
 * Open a data connection to node (a node ID or a port ID) from the
 * context port self (a live local port): func(args..., stream) is called
 * on the target (a name registered there with aemp_register_dataconn()),
 * cb(stream) here. args (stolen, may be NULL) is an array. On failure or
 * after timeout seconds, self is killed with ["AnyEvent::MP::DataConn",
 * TEXT] and cb gets a NULL stream. Returns 0, or -1 (aemp_error()).
 */
AEMP_API
int		 aemp_dataconn(aemp_node *, const char *self, const char *node,
		    double timeout, const char *func, json_t *args,
		    aemp_dataconn_fn cb, void *ud);
/* Accept incoming data connections for func (NULL fn: no more). */
AEMP_API
int		 aemp_register_dataconn(aemp_node *, const char *func,
		    aemp_dataconn_fn fn, void *ud);

/* --- log collection (AnyEvent::MP::LogCatcher) --------------------------- */

/* A line caught from node: its level and text (a trailing LF may remain). */
typedef void (*aemp_caught_fn)(aemp_node *, const char *node, int level,
    const char *text, void *ud);
/*
 * Catch the log lines at or below level of every other node that is up
 * or comes up later, until called again (level < 0: stop). cb NULL
 * prints "YYYY-MM-DD HH:MM:SS [NODE] <LEVEL> TEXT" on stderr. Every node
 * sends its lines to catchers that ask (aemp_log() forwards them, before
 * and whatever its own log level).
 */
AEMP_API
int		 aemp_log_catch(aemp_node *, int level, aemp_caught_fn cb,
		    void *ud);

#define aemp_register	aemp_grp_reg
#define aemp_find	aemp_grp_get

#endif /* AEMP_H */

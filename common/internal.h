/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * internal.h: what every file of libaemp shares: the base headers and
 * the node's helpers (node.c, loglimit.c, timers.c, words.c), on an
 * opaque aemp_node (its fields are in node.h). Not installed.
 *
 * The layers, top to bottom. A file includes headers of its own layer
 * or below and calls down by name; it hears from below only through
 * function pointers it set when it started (the transport's n->upcall,
 * remote.c's ae_remote_on_event()). tests/check_layers holds common/ to this
 * drawing (and lists the few upward uses there are, with the reason):
 *
 *   top          node.c (starts and frees each layer), stats.c (reads
 *                them all for aemp_stats())
 *   services     global.c seed.c group.c (global.h, theirs only),
 *                dataconn.c, logcatcher.c (logcatcher.h)      services.h
 *   kernel       local ports, delivery, monitors, spawn: port.c sndf.c
 *                mon.c spawn.c cal.c after.c defer.c watch.c nodeport.c
 *                kernel.c (its start and teardown)              kernel.h
 *   remote       remote.c: other nodes' queues, addresses, connecting,
 *                up and down                                    remote.h
 *   transport    transport.c (handshake, framing), authfail.c: struct
 *                aemp_conn in conn.h, theirs only; others see transport.h
 *                stream_tcp.c stream_tls.c (tls13.c: its TLS 1.3
 *                records, tls13.h)                              stream.h
 *   node record  struct aemp_node, the upcalls, deferred work: node.h;
 *                timers.c, loglimit.c
 *   base         this header; dict.c bytes.c words.c names.c xmalloc.c
 *                wire.c codec.c md6.c
 *
 * Only what aemp.h marks AEMP_API leaves the library.
 */
#ifndef AEMP_INTERNAL_H
#define AEMP_INTERNAL_H

#include <stdarg.h>
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
struct aemp_remote;
struct defer;
struct aemp_global;
struct aemp_stream;
struct ssl_ctx_st;
struct dcstate;
struct lcstate;

/* node.c */
int	 ae_node_error(aemp_node *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
char	*ae_node_random_string(size_t bytes);
double	 ae_node_now(void);
void	 ae_node_call_later(aemp_node *, void (*)(aemp_node *, void *), void *);
void	 ae_node_free_later(aemp_node *, void (*)(aemp_node *, void *), void *);
/* A formatted line to the log catchers and the logger (aemp_log()). */
void	 ae_node_log_line(aemp_node *, int level, const char *msg);
/* The same, formatted (what aemp_log() does past its level filter). */
void	 ae_node_vlog(aemp_node *, int level, const char *fmt, va_list);
void	 ae_node_trace(aemp_node *, const char *dir, const char *nodeid,
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
void	 ae_node_log_limited(aemp_node *, int level, const char *site,
	    const char *subject, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
void	 ae_loglimit_free(aemp_node *);

/* timers.c: timers that keep polls free of timeouts (see there) */
struct ntimer	*ae_ntimer_new(aemp_node *, int persist,
		    void (*)(evutil_socket_t, short, void *), void *);
void	 ae_ntimer_add(aemp_node *, struct ntimer *, double seconds);
void	 ae_ntimer_del(aemp_node *, struct ntimer *);
int	 ae_ntimer_pending(const struct ntimer *);
void	 ae_ntimer_free(aemp_node *, struct ntimer *);
int	 ae_timers_init(aemp_node *);
void	 ae_timers_free(aemp_node *);


/* words.c */
/*
 * The strings of list joined by sep (other values left out, and so is a
 * string that would take the text past max bytes; 0: no limit);
 * malloc()ed, "" for none.
 */
char	*ae_strlist_join(json_t *list, const char *sep, size_t max);

#endif

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * dataconn.c: bulk data connections (AnyEvent::MP::DataConn,
 * AEMP-TLS-EXT.md section 11). A data connection is a second connection
 * to a node's listener with the aemp-dataconn greeting; transport.c runs
 * its handshake (the same code as for node connections) and hands the
 * connection here once authenticated. The application gets the stream
 * as one end of a bufferevent pair whose other end a pump here connects
 * to the stream, TCP or TLS alike (see stream_bev() for why not a socket
 * bufferevent).
 *
 * Initiator I, target T, one state (struct dcwant) per ID on each side:
 * I sends _expect and the snd barrier, then connects (or asks T with
 * _connect to connect back); each side's timer gives up.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "remote.h"
#include "transport.h"
#include "services.h"
#include "names.h"
#include "stream.h"
#include "xmalloc.h"

#define DC_REASON	"AnyEvent::MP::DataConn"
#define DC_EXPECT	"AnyEvent::MP::DataConn::_expect"
#define DC_CONNECT	"AnyEvent::MP::DataConn::_connect"
#define DC_RETRY	2.0		/* seconds between connect attempts */
#define PUMP_CHUNK	(256 * 1024)	/* bytes per read in the pump */
#define PUMP_HIGH	(4 * 1024 * 1024)	/* bytes waiting either way */
#define PUMP_CHECK	0.2		/* seconds: is the application's
					   end still there? */

struct dcwant {
	LIST_ENTRY(dcwant) entry;	/* dc->wants */
	aemp_node	*node;
	char		*id;
	int		 initiator;
	char		*peer;		/* the other node */
	char		*port;		/* the context port P */
	char		*func;		/* the target's function */
	json_t		*data;		/* its arguments (INITDATA) */
	aemp_dataconn_fn cb;		/* the initiator's callback */
	void		*ud;
	aemp_mon	*pmon;		/* the initiator's monitor on P */
	double		 timeout;
	struct ntimer	*timer;		/* gives up */
	struct ntimer	*retry;		/* the next connect attempt */
	char		*barrier;	/* the barrier's reply port */
	json_t		*addrs;		/* where to connect */
	size_t		 next_addr;
	int		 attempts;	/* connections of ours in handshake */
	char		*last_error;
};

struct dcfunc {
	SLIST_ENTRY(dcfunc) entry;	/* dc->funcs */
	char		*name;
	aemp_dataconn_fn fn;
	void		*ud;
};

/*
 * The pump's read buffers: handed to the application's evbuffer as
 * references and back here when it drained them, so that a bulk stream
 * reads into the same warm pages instead of a fresh chain per read. The
 * application may hold some after the pump is gone: the pool lives
 * until the last comes back.
 */
#define POOL_BUFS	(PUMP_HIGH / PUMP_CHUNK + 4)
struct dcpool {
	int		 refs;		/* the pump, and buffers out */
	int		 nfree;
	int		 made;		/* buffers allocated, at most POOL_BUFS */
	char		*free[POOL_BUFS];
	struct event	*wake;		/* the pump waits for a buffer */
};

/* Between a stream and the application's end of a bufferevent pair. */
struct dcpump {
	LIST_ENTRY(dcpump) entry;	/* dc->pumps */
	aemp_node	*node;
	struct aemp_stream *s;
	struct bufferevent *mine;	/* our end of the pair */
	struct evbuffer	*tmp;		/* what one read gets */
	struct dcpool	*pool;
	struct bytes	 pre;		/* ours, before the application's */
	struct event	*s_rd, *s_wr, *again;
	struct ntimer	*check;
	int		 s_eof, s_shut, app_eof, app_gone;
	int		 rd_on, wr_on;	/* s_rd, s_wr are added */
	/*
	 * The stream had nothing to read, or took no more: no read or
	 * write is tried until its event says otherwise (a sender's pump
	 * would otherwise try a read per write, a syscall each).
	 */
	int		 s_dry, s_full;
	int		 app_rd;	/* mine reads from the application */
};

struct dcstate {
	LIST_HEAD(, dcwant) wants;
	SLIST_HEAD(, dcfunc) funcs;
	LIST_HEAD(, dcpump) pumps;
	uint64_t	 counter;
};

static void	pump_run(evutil_socket_t, short, void *);
static void	pump_in(struct evbuffer *, const struct evbuffer_cb_info *,
		    void *);

/* --- state ----------------------------------------------------------------- */

static struct dcwant *
want_find(aemp_node *n, const char *id)
{
	struct dcwant *w;

	if (n->dc == NULL || id == NULL)
		return NULL;
	LIST_FOREACH(w, &n->dc->wants, entry)
		if (strcmp(w->id, id) == 0)
			return w;
	return NULL;
}

static struct dcwant *
want_new(aemp_node *n, const char *id, int initiator, const char *peer,
    const char *port)
{
	struct dcwant *w = ae_xcalloc(1, sizeof *w);

	w->node = n;
	w->id = ae_xstrdup(id);
	w->initiator = initiator;
	w->peer = ae_xstrdup(peer);
	w->port = ae_xstrdup(port);
	LIST_INSERT_HEAD(&n->dc->wants, w, entry);
	return w;
}

/* Our attempts still in their handshake are closed without a word. */
static void
want_free(struct dcwant *w)
{
	aemp_node *n = w->node;

	LIST_REMOVE(w, entry);
	ae_transport_close_data(n, w->id, "data connection no longer wanted");
	aemp_mon_cancel(n, w->pmon);
	if (w->timer != NULL)
		ae_ntimer_free(n, w->timer);
	if (w->retry != NULL)
		ae_ntimer_free(n, w->retry);
	if (w->barrier != NULL && !n->freeing)
		aemp_kil(n, w->barrier, NULL);
	free(w->barrier);
	free(w->id);
	free(w->peer);
	free(w->port);
	free(w->func);
	free(w->last_error);
	json_decref(w->data);
	json_decref(w->addrs);
	free(w);
}

/*
 * The initiator gives up: P dies with ["AnyEvent::MP::DataConn", why],
 * and the callback hears it with a NULL stream. The target's failures
 * kill P the same way (remotely).
 */
static void
want_fail(struct dcwant *w, const char *why)
{
	aemp_node *n = w->node;
	json_t *reason = json_pack("[ss]", DC_REASON, why);
	aemp_dataconn_fn cb = w->cb;
	void *ud = w->ud;

	aemp_log(n, 9, "data connection %s to %s failed: %s", w->id, w->peer,
	    why);
	aemp_mon_cancel(n, w->pmon);
	w->pmon = NULL;
	aemp_kil(n, w->port, json_incref(reason));
	want_free(w);
	if (cb != NULL)
		cb(n, NULL, reason, ud);
	json_decref(reason);
}

/* P died (the target killed it, say): the initiator gives up. */
static void
context_died(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct dcwant *w = ud;
	aemp_dataconn_fn cb = w->cb;
	void *cbud = w->ud;

	(void)port;
	w->pmon = NULL;		/* it fired */
	json_incref(reason);
	want_free(w);
	if (cb != NULL)
		cb(n, NULL, reason, cbud);
	json_decref(reason);
}

static void
want_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dcwant *w = arg;
	char why[256];

	(void)fd; (void)what;
	if (!w->initiator) {
		/* the reference's target sends no text (11.4, 3) */
		aemp_kil(w->node, w->port, json_pack("[sn]", DC_REASON));
		want_free(w);
		return;
	}
	snprintf(why, sizeof why, "%s: unable to establish connection within "
	    "%g seconds", w->peer, w->timeout);
	want_fail(w, why);
}

/* Global's addr table first (11.4, 2), then what remote.c knows. */
static json_t *
addrs_of(aemp_node *n, const char *node)
{
	json_t *a = ae_global_node_addrs(n, node);
	struct aemp_remote *r;

	if (json_is_array(a))
		return json_deep_copy(a);
	if ((r = ae_dict_get(&n->remotes, node)) != NULL &&
	    json_array_size(r->addrs) > 0)
		return json_deep_copy(r->addrs);
	return NULL;
}

/* One attempt at the next address; the retry timer starts the one after. */
static void
want_connect(struct dcwant *w)
{
	aemp_node *n = w->node;
	size_t count = json_array_size(w->addrs);

	while (w->next_addr < count) {
		const char *addr = json_string_value(json_array_get(w->addrs,
		    w->next_addr++));
		if (addr != NULL && ae_transport_connect_data(n, addr, w->peer,
		    w->id) != NULL) {
			w->attempts++;
			break;
		}
		free(w->last_error);
		w->last_error = ae_xstrdup(addr == NULL ? "bad address" :
		    "unable to connect");
	}
	if (w->attempts == 0) {
		want_fail(w, w->last_error ? w->last_error :
		    "no listeners found");
		return;
	}
	if (w->next_addr < count)
		ae_ntimer_add(n, w->retry, DC_RETRY);
}

static void
want_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	want_connect(arg);
}

/* Our connection for id failed in its handshake (transport.c). */
static void
data_failed(aemp_node *n, const char *id, const char *why)
{
	struct dcwant *w = want_find(n, id);

	if (w == NULL || w->attempts == 0)
		return;
	w->attempts--;
	free(w->last_error);
	w->last_error = ae_xstrdup(why);
	if (w->attempts > 0)
		return;
	if (w->next_addr < json_array_size(w->addrs)) {
		ae_ntimer_del(n, w->retry);
		want_connect(w);
	} else
		want_fail(w, why);
}

/* --- handing the stream over ------------------------------------------------ */

static void
pool_unref(struct dcpool *pool)
{
	if (--pool->refs > 0)
		return;
	while (pool->nfree > 0)
		free(pool->free[--pool->nfree]);
	free(pool);
}

/* libevent is done with a buffer (the application drained it). */
/* A free buffer, a new one while there are fewer than POOL_BUFS. */
static int
pool_ready(struct dcpool *pool)
{
	if (pool->nfree == 0 && pool->made < POOL_BUFS) {
		pool->free[pool->nfree++] = ae_xmalloc(PUMP_CHUNK);
		pool->made++;
	}
	return pool->nfree > 0;
}

static void
pool_back(const void *data, size_t len, void *arg)
{
	struct dcpool *pool = arg;

	(void)len;
	if (pool->refs > 1) {
		pool->free[pool->nfree++] = (char *)data;
		if (pool->wake != NULL)
			event_active(pool->wake, EV_TIMEOUT, 1);
	} else {
		free((void *)data);
		pool->made--;
	}
	pool_unref(pool);
}

static void
pump_free(struct dcpump *p)
{
	aemp_node *n = p->node;

	LIST_REMOVE(p, entry);
	event_free(p->s_rd);
	event_free(p->s_wr);
	event_free(p->again);
	ae_ntimer_free(n, p->check);
	evbuffer_remove_cb(bufferevent_get_input(p->mine), pump_in, p);
	bufferevent_free(p->mine);
	evbuffer_free(p->tmp);
	p->pool->wake = NULL;
	pool_unref(p->pool);
	stream_close(p->s);
	ae_bytes_free(&p->pre);
	free(p);
}

static void
pump_arm(struct dcpump *p)
{
	size_t in = evbuffer_get_length(bufferevent_get_input(p->mine));
	int pend, s_read, s_write;
	size_t held;

	/* ours reads from the application again (pump_in stopped it) */
	if (!p->app_rd && in < PUMP_HIGH / 2) {
		p->app_rd = 1;
		bufferevent_enable(p->mine, EV_READ);
		in = evbuffer_get_length(bufferevent_get_input(p->mine));
	}
	pend = stream_pending(p->s);
	held = in + p->pre.len;
	s_read = (!p->s_eof && !p->app_gone && pool_ready(p->pool) &&
	    evbuffer_get_length(bufferevent_get_output(p->mine)) <
	    PUMP_HIGH) || (held > 0 && p->s->want == EV_READ);
	s_write = (held > 0 && (p->s_full || p->s->want == EV_WRITE)) ||
	    (pend & STREAM_HAS_OUTPUT);

	/* persistent events, changed only when the want changes */
	if (s_read != p->rd_on) {
		if (s_read)
			event_add(p->s_rd, NULL);
		else
			event_del(p->s_rd);
		p->rd_on = s_read;
	}
	if (s_write != p->wr_on) {
		if (s_write)
			event_add(p->s_wr, NULL);
		else
			event_del(p->s_wr);
		p->wr_on = s_write;
	}
	if ((pend & STREAM_HAS_INPUT) && s_read)
		event_active(p->again, EV_TIMEOUT, 1);
}

/*
 * The application wrote to its end, and the pair moved it to ours: at
 * PUMP_HIGH ours stops reading, and the application's writes wait in its
 * end. Here, at once: the pair moves what the application writes while
 * it writes, and an application that writes until its end holds enough
 * would otherwise never stop. (A high read watermark would stop it too,
 * but a pair then moves no more than the watermark allows, and copies
 * the chain that does not fit: with partial sends, every byte.)
 */
static void
pump_in(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct dcpump *p = arg;

	if (info->n_added > 0 && p->app_rd &&
	    evbuffer_get_length(in) >= PUMP_HIGH) {
		p->app_rd = 0;
		bufferevent_disable(p->mine, EV_READ);
	}
}

/* What the application wrote, ours first (the end of the handshake). */
static int
pump_up(struct dcpump *p)
{
	struct evbuffer *in = bufferevent_get_input(p->mine);
	struct evbuffer_iovec v;
	const void *ptr;
	size_t len;
	ssize_t got;

	if (p->pre.len > 0) {
		ptr = bytes_ptr(&p->pre);
		len = p->pre.len;
	} else if (evbuffer_peek(in, -1, NULL, &v, 1) > 0) {
		ptr = v.iov_base;
		len = v.iov_len;
	} else
		return 0;
	got = stream_write(p->s, ptr, len);
	if (got <= 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		p->s_full = p->s->want == EV_WRITE;
		return 0;
	}
	/* a short write: the socket is full */
	p->s_full = p->s->want == EV_WRITE;
	if (p->pre.len > 0)
		ae_bytes_consume(&p->pre, (size_t)got);
	else
		evbuffer_drain(in, (size_t)got);
	return 1;
}

/*
 * Moves bytes both ways until neither side takes or gives more: from
 * the stream straight into evbuffer chains handed to the pair (no copy
 * for TCP), from the pair's chains to the stream. The stream's end
 * reaches the application as BEV_EVENT_EOF; the application's end
 * (bufferevent_flush(BEV_FINISHED), or freeing its end) shuts the
 * stream down once what it wrote is out.
 */
static void
pump_run(evutil_socket_t fd, short what, void *arg)
{
	struct dcpump *p = arg;
	struct aemp_stream *s = p->s;
	struct evbuffer *out = bufferevent_get_output(p->mine);
	int turns, progress, dead = 0, r;
	ssize_t got;

	(void)fd;
	if (what & EV_READ)
		p->s_dry = 0;
	if (what & EV_WRITE)
		p->s_full = 0;
	if (stream_pending(s) & STREAM_HAS_INPUT)
		p->s_dry = 0;
	if (!p->app_gone && bufferevent_pair_get_partner(p->mine) == NULL)
		p->app_gone = p->app_eof = 1;
	for (turns = 0; turns < 64 && !dead; turns++) {
		progress = 0;
		if (!p->s_eof && !p->app_gone && !p->s_dry &&
		    evbuffer_get_length(out) < PUMP_HIGH &&
		    pool_ready(p->pool)) {
			char *buf = p->pool->free[--p->pool->nfree];
			got = stream_read(s, buf, PUMP_CHUNK);
			if (got > 0) {
				/*
				 * Less than asked for: the socket is empty
				 * (a TLS stream says in stream_pending()
				 * when it holds more).
				 */
				p->s_dry = (size_t)got < PUMP_CHUNK;
				p->pool->refs++;
				evbuffer_add_reference(p->tmp, buf,
				    (size_t)got, pool_back, p->pool);
				bufferevent_write_buffer(p->mine, p->tmp);
				progress = 1;
			} else {
				p->pool->free[p->pool->nfree++] = buf;
				p->s_dry = got < 0;
				if (got == 0 || (errno != EAGAIN &&
				    errno != EWOULDBLOCK && errno != EINTR)) {
					p->s_eof = 1;
					progress = 1;
					/* the application reads an end */
					bufferevent_flush(p->mine, EV_WRITE,
					    BEV_FINISHED);
				}
			}
		}
		if (!p->s_full) {
			if ((r = pump_up(p)) < 0)
				dead = 1;
			else if (r > 0)
				progress = 1;
		}
		if (!p->s_full && (r = stream_flush(s)) != 0) {
			if (r < 0)
				dead = 1;
			p->s_full = 1;
		}
		/* a TLS stream's records must be out before its end goes */
		if (p->app_eof && !p->s_shut && p->pre.len == 0 &&
		    evbuffer_get_length(bufferevent_get_input(p->mine)) == 0 &&
		    !(stream_pending(s) & STREAM_HAS_OUTPUT)) {
			s->ops->shutdown(s);
			p->s_shut = 1;
		}
		if (!progress)
			break;
	}
	if (dead || (p->s_shut && (p->s_eof || p->app_gone) &&
	    !(stream_pending(s) & STREAM_HAS_OUTPUT))) {
		pump_free(p);
		return;
	}
	if (turns == 64)
		event_active(p->again, EV_TIMEOUT, 1);
	pump_arm(p);
}

static void
pump_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pump_run(-1, 0, arg);
}

static void
pump_event(struct bufferevent *bev, short what, void *arg)
{
	struct dcpump *p = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		p->app_eof = 1;
	pump_run(-1, 0, p);
}

/* Whether the application freed its end: a pair does not say. */
static void
pump_check(evutil_socket_t fd, short what, void *arg)
{
	struct dcpump *p = arg;

	(void)fd; (void)what;
	if (bufferevent_pair_get_partner(p->mine) == NULL)
		pump_run(-1, 0, p);
}

/*
 * The application's end of a bufferevent pair for stream s, with in
 * (read behind the handshake) waiting in it and out (ours, not yet sent)
 * going out first. A socket bufferevent would be simpler, but libevent
 * 2.1 reads at most 4 KiB per read(2) into one, a third of what the
 * socket gives; the pump reads 256 KiB at a time, without copying for
 * plain TCP, and runs TLS through the same code.
 */
static struct bufferevent *
stream_bev(aemp_node *n, struct aemp_stream *s, struct bytes *in,
    struct bytes *out)
{
	struct bufferevent *pair[2];
	struct dcpump *p;

	if (bufferevent_pair_new(n->base, BEV_OPT_DEFER_CALLBACKS, pair) < 0)
		abort();
	p = ae_xcalloc(1, sizeof *p);
	p->node = n;
	p->s = s;
	p->mine = pair[1];
	p->tmp = evbuffer_new();
	p->pool = ae_xcalloc(1, sizeof *p->pool);
	p->pool->refs = 1;
	/* buffers are made as the stream needs them: idle ones cost none */
	ae_bytes_move(&p->pre, out);
	if (in->len > 0)
		bufferevent_write(p->mine, bytes_ptr(in), in->len);
	/* the application's writes wait in its end while we cannot send
	   (pump_in, pump_arm) */
	bufferevent_setwatermark(p->mine, EV_WRITE, PUMP_HIGH / 2, 0);
	bufferevent_setcb(p->mine, pump_read, pump_read, pump_event, p);
	evbuffer_add_cb(bufferevent_get_input(p->mine), pump_in, p);
	bufferevent_enable(p->mine, EV_READ | EV_WRITE);
	p->app_rd = 1;
	/* and ours in the application's, until it reads (its to change) */
	bufferevent_setwatermark(pair[0], EV_READ, 0, PUMP_HIGH);
	p->s_rd = event_new(n->base, s->fd, EV_READ | EV_PERSIST, pump_run, p);
	p->s_wr = event_new(n->base, s->fd, EV_WRITE | EV_PERSIST, pump_run,
	    p);
	p->again = event_new(n->base, -1, 0, pump_run, p);
	p->pool->wake = p->again;
	p->check = ae_ntimer_new(n, 1, pump_check, p);
	ae_ntimer_add(n, p->check, PUMP_CHECK);
	LIST_INSERT_HEAD(&n->dc->pumps, p, entry);
	event_active(p->again, EV_TIMEOUT, 1);
	return pair[0];
}

static struct dcfunc *
func_find(aemp_node *n, const char *name)
{
	struct dcfunc *f;

	SLIST_FOREACH(f, &n->dc->funcs, entry)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/*
 * Input that came with the handshake is in the bufferevent already; the
 * application's read callback hears of it from the loop.
 */
static void
hand_over(aemp_node *n, struct bufferevent *bev, aemp_dataconn_fn fn,
    json_t *args, void *ud)
{
	bufferevent_data_cb readcb = NULL;

	/* fn may free bev: our reference keeps it to look at */
	bufferevent_incref(bev);
	fn(n, bev, args, ud);
	bufferevent_getcb(bev, &readcb, NULL, NULL, NULL);
	if (readcb != NULL &&
	    evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
	bufferevent_decref(bev);
}

/* The target's side of a stream: INITFUNC(@INITDATA, stream). */
static void
target_run(struct dcwant *w, struct bufferevent *bev)
{
	aemp_node *n = w->node;
	struct dcfunc *f = func_find(n, w->func);

	if (f == NULL) {
		char why[512];
		/* the reference throws and leaves the stream open (11.5) */
		snprintf(why, sizeof why, "unable to resolve function '%.400s'",
		    w->func);
		bufferevent_free(bev);
		aemp_log(n, 2, "data connection %s: %s", w->id, why);
		aemp_kil(n, w->port, json_pack("[ss]", DC_REASON, why));
		want_free(w);
		return;
	}
	{
		json_t *data = json_incref(w->data);
		want_free(w);
		hand_over(n, bev, f->fn, data, f->ud);
		json_decref(data);
	}
}

/*
 * A data connection finished its handshake (transport.c). An ID we do
 * not expect, or one expected from another node, is closed without a
 * word (11.3, 11.5).
 */
static int
data_ready(aemp_node *n, struct aemp_conn *c, const char *id,
    const char *nodeid, int ours)
{
	struct dcwant *w = want_find(n, id);
	struct bytes in = { 0 }, out = { 0 };
	struct aemp_stream *s;
	struct bufferevent *bev;

	if (w == NULL || strcmp(w->peer, nodeid) != 0 ||
	    (w->initiator && w->barrier != NULL))
		return -1;
	if (ours)
		w->attempts--;
	aemp_log(n, 9, "%s data connection %s with %s%s", ae_transport_peer(c),
	    w->id, nodeid, ae_transport_tls(c) ? ", TLS" : "");
	s = ae_transport_detach(c, &in, &out);
	bev = stream_bev(n, s, &in, &out);
	ae_bytes_free(&in);
	ae_bytes_free(&out);
	if (bev == NULL) {
		want_fail(w, "unable to make a socketpair");
		return 0;
	}
	if (w->initiator) {
		aemp_dataconn_fn cb = w->cb;
		void *ud = w->ud;
		w->cb = NULL;
		want_free(w);
		hand_over(n, bev, cb, NULL, ud);
	} else
		target_run(w, bev);
	return 0;
}

/* --- the node port requests (11.2) --------------------------------------- */

/* _expect(ID, P, TIMEOUT, INITFUNC, @INITDATA) */
static int
req_expect(aemp_node *n, const char *self, json_t *args, void *ud)
{
	const char *id = json_string_value(json_array_get(args, 0));
	const char *port = json_string_value(json_array_get(args, 1));
	json_t *tv = json_array_get(args, 2);
	const char *func = json_string_value(json_array_get(args, 3));
	struct dcwant *w;
	char *peer;
	size_t i;

	(void)self; (void)ud;
	if (id == NULL || port == NULL || func == NULL || !json_is_number(tv) ||
	    !ae_dc_id_valid(id) || strchr(port, '#') == NULL)
		return aemp_die(n, "malformed data connection request");
	if (want_find(n, id) != NULL)
		return aemp_die(n, "data connection %s expected already", id);
	if (func_find(n, func) == NULL) {
		/* refused at once: the initiator's monitor on P says so */
		char why[512];
		snprintf(why, sizeof why, "unable to resolve function '%.400s'",
		    func);
		aemp_log(n, 2, "data connection %s: %s", id, why);
		aemp_kil(n, port, json_pack("[ss]", DC_REASON, why));
		return 0;
	}
	peer = aemp_node_of(port);
	w = want_new(n, id, 0, peer, port);
	free(peer);
	w->func = ae_xstrdup(func);
	w->data = json_array();
	for (i = 4; i < json_array_size(args); i++)
		json_array_append(w->data, json_array_get(args, i));
	w->timeout = json_number_value(tv);
	w->timer = ae_ntimer_new(n, 0, want_timeout, w);
	w->retry = ae_ntimer_new(n, 0, want_retry, w);
	ae_ntimer_add(n, w->timer, w->timeout > 0 ? w->timeout : 0);
	return 0;
}

/* _connect(ID, INITIATOR): the initiator cannot reach us: we connect. */
static int
req_connect(aemp_node *n, const char *self, json_t *args, void *ud)
{
	const char *id = json_string_value(json_array_get(args, 0));
	const char *node = json_string_value(json_array_get(args, 1));
	struct dcwant *w = want_find(n, id);

	(void)self; (void)ud;
	if (w == NULL || w->initiator || node == NULL ||
	    strcmp(node, w->peer) != 0 || w->addrs != NULL)
		return aemp_die(n, "data connection %s not expected from %s",
		    id ? id : "?", node ? node : "?");
	w->addrs = addrs_of(n, w->peer);
	if (json_array_size(w->addrs) == 0) {
		char why[256];
		snprintf(why, sizeof why, "%s: no listeners found", w->peer);
		want_fail(w, why);
		return 0;
	}
	want_connect(w);
	return 0;
}

/* --- the initiator -------------------------------------------------------- */

/* The barrier's empty reply: T has seen _expect (11.4, 1). */
static int
barrier_reply(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct dcwant *w = ud;

	(void)msg; (void)self;
	aemp_kil(n, w->barrier, NULL);
	free(w->barrier);
	w->barrier = NULL;
	w->addrs = addrs_of(n, w->peer);
	if (json_array_size(w->addrs) > 0) {
		want_connect(w);
		return 0;
	}
	json_decref(w->addrs);
	w->addrs = json_array();
	ae_remote_send_name(ae_remote_get(n, w->peer, 1), "",
	    json_pack("[sss]", DC_CONNECT, w->id, n->id));
	return 0;
}

/* A socket bufferevent writing up to 256 KiB at a time. */
static struct bufferevent *
bev_new(aemp_node *n, int fd)
{
	struct bufferevent *bev = bufferevent_socket_new(n->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);

	if (bev == NULL)
		abort();
	bufferevent_set_max_single_write(bev, PUMP_CHUNK);
	return bev;
}

/*
 * A local data connection is a socketpair (11.1): unlike a bufferevent
 * pair, either side sees the other close.
 */
struct dclocal {
	aemp_node	*node;
	char		*port;
	char		*func;
	json_t		*data;
	aemp_dataconn_fn cb;
	void		*ud;
};

static void
local_run(aemp_node *n, void *arg)
{
	struct dclocal *l = arg;
	struct dcfunc *f = func_find(n, l->func);
	struct bufferevent *a, *b;
	json_t *reason = NULL;
	int sv[2];

	if (f == NULL) {
		char why[512];
		snprintf(why, sizeof why, "unable to resolve function '%.400s'",
		    l->func);
		reason = json_pack("[ss]", DC_REASON, why);
	} else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv) < 0)
		reason = json_pack("[ss]", DC_REASON, strerror(errno));
	if (reason != NULL) {
		aemp_kil(n, l->port, json_incref(reason));
		l->cb(n, NULL, reason, l->ud);
		json_decref(reason);
	} else {
		a = bev_new(n, sv[0]);
		b = bev_new(n, sv[1]);
		f->fn(n, b, l->data, f->ud);
		l->cb(n, a, NULL, l->ud);
	}
	free(l->port);
	free(l->func);
	json_decref(l->data);
	free(l);
}

int
aemp_dataconn(aemp_node *n, const char *self, const char *node,
    double timeout, const char *func, json_t *args, aemp_dataconn_fn cb,
    void *ud)
{
	struct dcwant *w;
	char *peer, id[256];
	json_t *msg;
	size_t i;

	if (args == NULL)
		args = json_array();
	if (!json_is_array(args)) {
		json_decref(args);
		return ae_node_error(n, "dataconn: args must be an array");
	}
	if (self == NULL || !aemp_port_exists(n, self) || node == NULL ||
	    *node == '\0' || func == NULL || cb == NULL) {
		json_decref(args);
		return ae_node_error(n, "dataconn: needs a live local port, a "
		    "node, a function and a callback");
	}
	peer = strchr(node, '#') != NULL ? aemp_node_of(node) : ae_xstrdup(node);
	if (strcmp(peer, n->id) == 0) {
		struct dclocal *l = ae_xcalloc(1, sizeof *l);
		l->node = n;
		l->port = ae_xstrdup(self);
		l->func = ae_xstrdup(func);
		l->data = args;
		l->cb = cb;
		l->ud = ud;
		free(peer);
		ae_node_call_later(n, local_run, l);
		return 0;
	}
	snprintf(id, sizeof id, "%llu@%s", (unsigned long long)
	    ++n->dc->counter, n->id);
	/* keep the ID to the characters a greeting value can take */
	for (i = 0; id[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789@._:/-", id[i]) == NULL)
			id[i] = '_';
	w = want_new(n, id, 1, peer, self);
	free(peer);
	w->cb = cb;
	w->ud = ud;
	w->pmon = aemp_mon_cb(n, self, context_died, w);
	w->timeout = timeout;
	w->timer = ae_ntimer_new(n, 0, want_timeout, w);
	w->retry = ae_ntimer_new(n, 0, want_retry, w);
	ae_ntimer_add(n, w->timer, timeout > 0 ? timeout : 0);
	/* whole seconds as an integer, as the reference sends them */
	msg = json_pack("[ssso]", DC_EXPECT, w->id, self, timeout ==
	    (double)(long long)timeout ? json_integer((json_int_t)timeout) :
	    json_real(timeout));
	json_array_append_new(msg, json_string(func));
	json_array_extend(msg, args);
	json_decref(args);
	ae_remote_send_name(ae_remote_get(n, w->peer, 1), "", msg);
	w->barrier = ae_xstrdup(aemp_port(n, barrier_reply, w));
	ae_remote_send_name(ae_remote_get(n, w->peer, 1), "",
	    json_pack("[ss]", "snd", w->barrier));
	return 0;
}

int
aemp_register_dataconn(aemp_node *n, const char *name, aemp_dataconn_fn fn,
    void *ud)
{
	struct dcfunc *f;

	if (name == NULL || *name == '\0')
		return ae_node_error(n, "register_dataconn: empty name");
	if ((f = func_find(n, name)) == NULL) {
		f = ae_xcalloc(1, sizeof *f);
		f->name = ae_xstrdup(name);
		SLIST_INSERT_HEAD(&n->dc->funcs, f, entry);
	}
	f->fn = fn;
	f->ud = ud;
	if (fn == NULL) {
		SLIST_REMOVE(&n->dc->funcs, f, dcfunc, entry);
		free(f->name);
		free(f);
	}
	return 0;
}

size_t
ae_dataconn_pending(aemp_node *n)
{
	struct dcwant *w;
	size_t count = 0;

	if (n->dc == NULL)
		return 0;
	LIST_FOREACH(w, &n->dc->wants, entry)
		count++;
	return count;
}

/* --- life cycle ------------------------------------------------------------ */

void
ae_dataconn_start(aemp_node *n)
{
	n->dc = ae_xcalloc(1, sizeof *n->dc);
	n->upcall.data_ready = data_ready;
	n->upcall.data_failed = data_failed;
	aemp_register_func(n, DC_EXPECT, req_expect, NULL);
	aemp_register_func(n, DC_CONNECT, req_connect, NULL);
}

void
ae_dataconn_free(aemp_node *n)
{
	struct dcstate *d = n->dc;

	if (d == NULL)
		return;
	while (!LIST_EMPTY(&d->wants))
		want_free(LIST_FIRST(&d->wants));
	while (!LIST_EMPTY(&d->pumps))
		pump_free(LIST_FIRST(&d->pumps));
	while (!SLIST_EMPTY(&d->funcs)) {
		struct dcfunc *f = SLIST_FIRST(&d->funcs);
		SLIST_REMOVE_HEAD(&d->funcs, entry);
		free(f->name);
		free(f);
	}
	free(d);
	n->dc = NULL;
}

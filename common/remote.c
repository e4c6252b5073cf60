/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * remote.c: what a node knows of each other node: its send queue while
 * unconnected, its addresses, connect attempts, and going up and down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "remote.h"
#include "kernel.h"
#include "transport.h"
#include "names.h"

/* Idle records of other nodes kept at most (see remote_forgettable). */
#define REMOTES_IDLE_MAX	4096

static void watermark_rise(struct aemp_remote *);
static void report(struct aemp_remote *, enum remote_event, json_t *);

static void forget_schedule(aemp_node *, double);

struct aemp_remote *
ae_remote_get(aemp_node *n, const char *id, int create)
{
	struct aemp_remote *r = ae_dict_get(&n->remotes, id);

	if (r != NULL || !create)
		return r;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		abort();
	r->node = n;
	r->id = strdup(id);
	r->idlen = strlen(id);
	r->addrs = json_array();
	r->idle_since = ae_node_now();
	ae_dict_init(&r->lmon, mon_list_key);
	ae_dict_init(&r->rmon, mon_other_key);
	ae_dict_put(&n->remotes, r->id, r);
	forget_schedule(n, n->remotes.count > REMOTES_IDLE_MAX ? 0 :
	    n->monitor_timeout);
	return r;
}

/* The monitors on r (the kernel's) go with REMOTE_FORGET first. */
static void
remote_free(aemp_node *n, struct aemp_remote *r)
{
	report(r, REMOTE_FORGET, NULL);
	ae_dict_clear(&r->lmon);
	ae_dict_clear(&r->rmon);
	if (r->connect_ev != NULL) {
		ae_ntimer_free(n, r->connect_ev);
		ae_ntimer_free(n, r->timeout_ev);
	}
	if (r->probe_ev != NULL)
		ae_ntimer_free(n, r->probe_ev);
	if (r->challenge_ev != NULL)
		ae_ntimer_free(n, r->challenge_ev);
	n->queued_total -= r->queue.len;
	ae_bytes_free(&r->queue);
	json_decref(r->addrs);
	free(r->id);
	free(r);
}

/*
 * What we know of a node that is down, unmonitored, with nothing queued
 * and no seed is only its addresses, which the global service tells us
 * again: every aemp CLI call is a node with a fresh ID, and relays name
 * any ID a peer likes, so such records are forgotten after
 * monitor_timeout, and at once while there are more than
 * REMOTES_IDLE_MAX of them.
 */
static int
remote_forgettable(aemp_node *n, struct aemp_remote *r)
{
	size_t i;

	if (r->conn != NULL || r->connecting || r->queue.len > 0 ||
	    r->lmon.count > 0 || r->rmon.count > 0 || r->challenger != NULL)
		return 0;
	for (i = 0; i < n->nseeds; i++)
		if (n->seeds[i].nodeid != NULL &&
		    strcmp(n->seeds[i].nodeid, r->id) == 0)
			return 0;
	return 1;
}

static void
forget_tick(evutil_socket_t fd, short what, void *arg)
{
	aemp_node *n = arg;
	struct aemp_remote **gone;
	struct dict_entry *e;
	size_t pos = 0, ngone = 0, i, waiting = 0;
	int all = n->remotes.count > REMOTES_IDLE_MAX;
	double now = ae_node_now();

	(void)fd; (void)what;
	if (n->freeing || n->remotes.count == 0)
		return;
	gone = malloc(n->remotes.count * sizeof *gone);
	if (gone == NULL)
		abort();
	/* collected first: deleting moves the table's entries */
	while ((e = ae_dict_next(&n->remotes, &pos)) != NULL) {
		struct aemp_remote *r = e->value;
		if (!remote_forgettable(n, r))
			continue;
		if (all || now - r->idle_since >= n->monitor_timeout)
			gone[ngone++] = r;
		else
			waiting++;
	}
	for (i = 0; i < ngone; i++) {
		if (n->last_remote == gone[i])
			n->last_remote = NULL;
		ae_dict_del(&n->remotes, gone[i]->id);
		remote_free(n, gone[i]);
	}
	free(gone);
	if (ngone > 0 && n->remotes.cap > 64 &&
	    n->remotes.count < n->remotes.cap / 8) {
		/* the table shrinks too */
		struct dict d;
		ae_dict_init(&d, remote_key);
		pos = 0;
		while ((e = ae_dict_next(&n->remotes, &pos)) != NULL)
			ae_dict_put(&d, remote_key(e->value), e->value);
		ae_dict_clear(&n->remotes);
		n->remotes = d;
	}
	if (ngone > 0)
		aemp_log(n, 9, "forgot %zu nodes that were down and idle",
		    ngone);
#ifdef __GLIBC__
	/* many small blocks freed at once: glibc keeps them otherwise */
	if (ngone >= 256)
		malloc_trim(0);
#endif
	if (waiting > 0)
		forget_schedule(n, n->monitor_timeout);
}

/* The next sweep for idle remotes within seconds (a sooner one stays). */
static void
forget_schedule(aemp_node *n, double seconds)
{
	if (n->freeing)
		return;
	if (n->forget_ev == NULL)
		n->forget_ev = ae_ntimer_new(n, 0, forget_tick, n);
	else if (ae_ntimer_pending(n->forget_ev) && seconds > 0)
		return;
	ae_ntimer_add(n, n->forget_ev, seconds);
}

/*
 * A message that cannot be written as JSON (a string that is not UTF-8)
 * is lost; later ones must not arrive as if nothing happened (the AEMP
 * guarantee), so the node's monitors fire as for any transport loss.
 */
static void
unencodable(struct aemp_remote *r)
{
	aemp_log(r->node, 1, "a message to %s cannot be encoded as JSON",
	    r->id);
	ae_remote_down(r, "message not encodable as JSON");
}

/*
 * Sends pkt (stolen): on the connection, or queued while connecting.
 * With name set, pkt is the message and the packet [name, pkt...].
 */
static void
send_packet(struct aemp_remote *r, const char *name, size_t len, json_t *pkt)
{
	aemp_node *n = r->node;
	size_t before;
	int rc;

	r->stats.msgs_out++;
	ae_node_trace(n, "SND", r->id, pkt, name == NULL);
	if (r->conn != NULL) {
		r->sent_since_probe = 1;
		rc = name != NULL ? ae_transport_write_named(r->conn, name, len,
		    pkt) : ae_transport_write(r->conn, pkt);
		json_decref(pkt);
		if (rc < 0)
			unencodable(r);
		else
			watermark_rise(r);
		return;
	}
	if (r->dying) {
		json_decref(pkt);
		return;
	}
	before = r->queue.len;
	rc = ae_json_dump_named(name, len, pkt, &r->queue);
	json_decref(pkt);
	if (rc < 0) {
		unencodable(r);
		return;
	}
	n->queued_total += r->queue.len - before;
	if (n->max_queue > 0 && r->queue.len > n->max_queue) {
		ae_remote_down(r, "send queue overflow");
		return;
	}
	/* many unreachable nodes must not add up to all memory */
	if (n->max_queue_total > 0 && n->queued_total > n->max_queue_total) {
		ae_remote_down(r, "send queue overflow (max_queue_total, all "
		    "nodes)");
		return;
	}
	watermark_rise(r);
	ae_remote_connect(r);
}

/* What waits for the connection, then what waits for the socket. */
size_t
ae_remote_queued(const struct aemp_remote *r)
{
	return r->queue.len +
	    (r->conn != NULL ? ae_transport_out(r->conn)->len : 0);
}

/* Packets were queued toward r: has the queue gone above the mark? */
static void
watermark_rise(struct aemp_remote *r)
{
	aemp_node *n = r->node;

	if (n->wm_high > 0 && !r->wm_above && ae_remote_queued(r) > n->wm_high)
		r->wm_above = 1;
}

/*
 * Some of the queue toward r was written (transport.c, once per flush):
 * the program hears once that it is down to the low mark.
 */
static void
remote_drained(struct aemp_remote *r)
{
	aemp_node *n = r->node;

	if (!r->wm_above || n->wm_high == 0 || ae_remote_queued(r) > n->wm_low)
		return;
	r->wm_above = 0;
	n->wm_cb(n, r->id, n->wm_ud);
}

size_t
aemp_queued(aemp_node *n, const char *port)
{
	struct aemp_remote *r;
	size_t len;
	char *id;

	if (port == NULL)
		return 0;
	id_split(port, &len);
	if (len == strlen(n->id) && memcmp(port, n->id, len) == 0)
		return 0;
	if (n->last_remote != NULL && strncmp(n->last_remote->id, port,
	    len) == 0 && n->last_remote->id[len] == '\0')
		return ae_remote_queued(n->last_remote);
	if ((id = strndup(port, len)) == NULL)
		abort();
	r = ae_remote_get(n, id, 0);
	free(id);
	return r != NULL ? ae_remote_queued(r) : 0;
}

int
aemp_set_watermark(aemp_node *n, size_t high, size_t low, aemp_drain_fn cb,
    void *ud)
{
	struct dict_entry *e;
	size_t pos = 0;

	if (high > 0 && (cb == NULL || low >= high))
		return ae_node_error(n, "watermark: needs a callback and low "
		    "less than high");
	n->wm_high = high;
	n->wm_low = low;
	n->wm_cb = cb;
	n->wm_ud = ud;
	/* queues already above the new mark count as having passed it */
	while ((e = ae_dict_next(&n->remotes, &pos)) != NULL) {
		struct aemp_remote *r = e->value;
		r->wm_above = 0;
		watermark_rise(r);
	}
	return 0;
}

/*
 * One packet was appended to r->conn->out, which held before bytes
 * (sndf.c's aemp_sndf() writes it itself).
 */
void
ae_remote_sent_bytes(struct aemp_remote *r, size_t before)
{
	r->stats.msgs_out++;
	r->sent_since_probe = 1;
	ae_transport_queued(r->conn, before);
	watermark_rise(r);
}

void
ae_remote_send(struct aemp_remote *r, json_t *pkt)
{
	send_packet(r, NULL, 0, pkt);
}

/*
 * Sends msg (stolen) to port name on r: the packet is [name, msg...],
 * written without inserting name into msg when the name needs no
 * escaping, which saves an allocation and a copy per message.
 */
void
ae_remote_send_name(struct aemp_remote *r, const char *name, json_t *msg)
{
	size_t len;

	if (ae_codec_plain_name(name, &len)) {
		send_packet(r, name, len, msg);
		return;
	}
	json_array_insert_new(msg, 0, json_string(name));
	send_packet(r, NULL, 0, msg);
}

void
ae_remote_add_addrs(struct aemp_remote *r, json_t *addrs)
{
	size_t i;
	json_t *v;

	json_array_clear(r->addrs);
	json_array_foreach(addrs, i, v)
		if (json_is_string(v))
			json_array_append(r->addrs, v);
	r->addr_next = 0;
}

static double
attempt_interval(struct aemp_remote *r)
{
	aemp_node *n = r->node;
	size_t naddrs = json_array_size(r->addrs);
	double iv = n->connect_interval;

	/* spread the attempts over monitor_timeout, but at least 0.4 s apart */
	if (naddrs > 0 && n->monitor_timeout / (double)naddrs < iv)
		iv = n->monitor_timeout / (double)naddrs;
	return iv < 0.4 ? 0.4 : iv;
}

static void
connect_attempt(evutil_socket_t fd, short what, void *arg)
{
	struct aemp_remote *r = arg;
	aemp_node *n = r->node;
	size_t naddrs = json_array_size(r->addrs);

	(void)fd; (void)what;
	if (r->conn != NULL)
		return;
	if (naddrs > 0) {
		const char *addr = json_string_value(json_array_get(r->addrs,
		    r->addr_next++ % naddrs));
		aemp_log(n, 9, "connecting to %s at %s", r->id, addr);
		ae_transport_connect(n, addr, r->id);
	}
	ae_ntimer_add(n, r->connect_ev, attempt_interval(r));
}

static void
connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct aemp_remote *r = arg;

	(void)fd; (void)what;
	if (r->conn == NULL)
		ae_remote_down(r, "unable to connect");
}

static void
stop_connecting(struct aemp_remote *r)
{
	r->connecting = 0;
	ae_ntimer_del(r->node, r->connect_ev);
	ae_ntimer_del(r->node, r->timeout_ev);
}

/*
 * Starts connecting unless up or already trying. Without known addresses
 * nothing is tried, but the timeout still runs: the node may connect to
 * us, or the global service may tell us where it is.
 */
void
ae_remote_connect(struct aemp_remote *r)
{
	aemp_node *n = r->node;

	if (r->conn != NULL || r->connecting || n->freeing)
		return;
	r->connecting = 1;
	if (r->connect_ev == NULL) {
		r->connect_ev = ae_ntimer_new(n, 0, connect_attempt, r);
		r->timeout_ev = ae_ntimer_new(n, 0, connect_timeout, r);
	}
	if (json_array_size(r->addrs) > 0 && n->log_level >= 9) {
		/* the reference prints "[@addresses]": [a b], no quotes */
		char *list = ae_strlist_join(r->addrs, " ", 0);
		aemp_log(n, 9, "connecting to %s with [%s]", r->id, list);
		free(list);
	}
	ae_ntimer_add(n, r->timeout_ev, n->monitor_timeout);
	ae_ntimer_add(n, r->connect_ev, 0);
}

/*
 * A peer that stops reading (SIGSTOP, a hung process) still has its
 * kernel accept megabytes for it, so TCP says nothing for a long time.
 * While we send to it, we ask it now and then to relay a devnull request
 * back to our node port (section 5's "snd", which every node answers);
 * no answer within monitor_timeout means our messages make no progress,
 * and the node is dropped with a transport error.
 */
/*
 * ["snd", OURID, "devnull", "aemp-probe", SEQ], built value by value: a
 * varargs format once named four items for five values, so that SEQ was
 * read from the pointer to "aemp-probe" and no probe was ever answered.
 */
static json_t *
probe_message(const char *self, uint64_t seq)
{
	json_t *msg = json_array();

	json_array_append_new(msg, json_string("snd"));
	json_array_append_new(msg, json_string(self));
	json_array_append_new(msg, json_string("devnull"));
	json_array_append_new(msg, json_string("aemp-probe"));
	json_array_append_new(msg, json_integer((json_int_t)seq));
	return msg;
}

static void
probe_tick(evutil_socket_t fd, short what, void *arg)
{
	struct aemp_remote *r = arg;
	aemp_node *n = r->node;

	(void)fd; (void)what;
	if (r->conn == NULL)
		return;
	if (r->probe_pending) {
		if (ae_node_now() - r->probe_sent > n->monitor_timeout)
			ae_remote_down(r, "peer not responding (no progress for "
			    "monitor_timeout)");
		return;
	}
	if (!r->sent_since_probe)
		return;
	r->probe_pending = 1;
	r->probe_sent = ae_node_now();
	ae_remote_send_name(r, "", probe_message(n->id, ++r->probe_seq));
	r->sent_since_probe = 0;
}

/* The node port saw ["devnull", "aemp-probe", SEQ] from r. */
void
ae_remote_probe_answer(struct aemp_remote *r, json_t *msg)
{
	struct aemp_conn *c = r->challenger;

	if (json_integer_value(json_array_get(msg, 2)) !=
	    (json_int_t)r->probe_seq)
		return;
	r->probe_pending = 0;
	if (c != NULL) {
		/* the old connection is alive: the newcomer is a duplicate */
		r->challenger = NULL;
		ae_ntimer_del(r->node, r->challenge_ev);
		ae_transport_held_verdict(c, 0);
	}
}

/* Bound on the answer that decides between an old and a new connection. */
#define CHALLENGE_BOUND	1.0

static void
challenge_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct aemp_remote *r = arg;
	struct aemp_conn *c = r->challenger;

	(void)fd; (void)what;
	if (c == NULL)
		return;
	r->challenger = NULL;
	if (r->conn != NULL)
		ae_remote_down(r, "peer not responding (a new connection from "
		    "it replaces this one)");
	ae_transport_held_verdict(c, 1);
}

/*
 * A second connection c authenticates as r, which is up: a duplicate of
 * a live node (refused, as the reference does), or the restarted node
 * whose old connection is dead without a FIN (a frozen process, a
 * partition). The old connection is probed at once; an answer within
 * CHALLENGE_BOUND (or monitor_timeout / 2 if shorter) keeps it, silence
 * drops it as a transport error and lets c in.
 */
static void
remote_challenge(struct aemp_remote *r, struct aemp_conn *c)
{
	aemp_node *n = r->node;
	double bound = n->monitor_timeout / 2 < CHALLENGE_BOUND ?
	    n->monitor_timeout / 2 : CHALLENGE_BOUND;

	r->challenger = c;
	if (r->challenge_ev == NULL)
		r->challenge_ev = ae_ntimer_new(n, 0, challenge_timeout, r);
	ae_ntimer_add(n, r->challenge_ev, bound);
	r->probe_pending = 1;
	r->probe_sent = ae_node_now();
	ae_remote_send_name(r, "", probe_message(n->id, ++r->probe_seq));
}

static void
probe_start(struct aemp_remote *r)
{
	aemp_node *n = r->node;

	if (r->probe_ev == NULL)
		r->probe_ev = ae_ntimer_new(n, 1, probe_tick, r);
	r->probe_pending = 0;
	r->sent_since_probe = 0;
	ae_ntimer_add(n, r->probe_ev, n->monitor_timeout / 3);
}

/* Tells the layers above (ae_remote_on_event) that r went up or down. */
static void
report(struct aemp_remote *r, enum remote_event ev, json_t *reason)
{
	aemp_node *n = r->node;
	size_t i;

	for (i = 0; i < n->nremote_hooks; i++)
		n->remote_hooks[i](n, r, ev, reason);
}

void
ae_remote_on_event(aemp_node *n, remote_event_fn fn)
{
	if (n->nremote_hooks == REMOTE_HOOKS_MAX)
		abort();
	n->remote_hooks[n->nremote_hooks++] = fn;
}

/* c finished its handshake as r (upcall.up): r's connection now */
static void
remote_up(struct aemp_remote *r, struct aemp_conn *c)
{
	aemp_node *n = r->node;

	if (r->conn != NULL && r->conn != c)
		ae_transport_close(r->conn, "switched connections");
	r->conn = c;
	stop_connecting(r);
	ae_stats_remote_up(r);
	n->queued_total -= r->queue.len;
	ae_transport_write_buffer(c, &r->queue);
	probe_start(r);
	report(r, REMOTE_UP, NULL);
	/* logged after the callbacks ran, as the reference does */
	aemp_log(n, 7, "%s is up ()", r->id);
}

/*
 * The connection is gone or could not be made: the queue is dropped and
 * every monitor on the node's ports fires, which is what keeps the AEMP
 * guarantee (no holes: after a loss, nothing more is delivered until the
 * monitors have fired).
 */
void
ae_remote_down(struct aemp_remote *r, const char *why)
{
	aemp_node *n = r->node;
	int was_up = r->conn != NULL;
	json_t *reason = json_pack("[sss]", "transport_error", r->id, why);

	struct aemp_conn *challenger = r->challenger;

	if (was_up) {
		struct aemp_conn *c = r->conn;
		r->conn = NULL;
		ae_transport_close(c, why);
	}
	/* the old connection is gone by itself: the newcomer may come in */
	r->challenger = NULL;
	ae_ntimer_del(n, r->challenge_ev);
	stop_connecting(r);
	ae_stats_remote_down(r);
	ae_ntimer_del(n, r->probe_ev);
	n->queued_total -= r->queue.len;
	ae_bytes_free(&r->queue);
	r->wm_above = 0;
	r->idle_since = ae_node_now();
	forget_schedule(n, n->monitor_timeout);
	if (!was_up)
		aemp_log(n, 9, "%s: %s", r->id, why);
	report(r, was_up ? REMOTE_DOWN : REMOTE_FAILED, reason);
	if (was_up) {
		aemp_log(n, 7, "%s is down (transport_error %s %s)", r->id,
		    r->id, why);
	}
	json_decref(reason);
	if (challenger != NULL)
		ae_transport_held_verdict(challenger, 1);
}

/* A packet (stolen) arrived from r (upcall.packet). */
static void
remote_packet(struct aemp_remote *r, json_t *pkt)
{
	json_t *name;

	ae_node_trace(r->node, "RCV", r->id, pkt, 0);
	if (json_array_size(pkt) == 0) {	/* keepalive */
		json_decref(pkt);
		return;
	}
	name = json_incref(json_array_get(pkt, 0));
	json_array_remove(pkt, 0);
	/* a name with a NUL byte names no port: no other may get it */
	if (json_id(name) != NULL)
		r->node->upcall.deliver(r->node, json_id(name), pkt, r);
	else
		json_decref(pkt);
	json_decref(name);
}

void
ae_remote_start(aemp_node *n)
{
	n->upcall.packet = remote_packet;
	n->upcall.up = remote_up;
	n->upcall.lost = ae_remote_down;
	n->upcall.held = remote_challenge;
	n->upcall.drained = remote_drained;
}

void
ae_remote_free_all(aemp_node *n)
{
	struct dict_entry *e;
	size_t pos = 0;

	while ((e = ae_dict_next(&n->remotes, &pos)) != NULL)
		remote_free(n, e->value);
	ae_dict_clear(&n->remotes);
	n->last_remote = NULL;
	if (n->forget_ev != NULL)
		ae_ntimer_free(n, n->forget_ev);
	n->forget_ev = NULL;
}

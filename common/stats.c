/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * stats.c: the node's counters (stats.h) and aemp_stats(), the snapshot
 * that aempd's status page, /metrics and "aemp top" show. The counters
 * are bumped where the work happens; everything that can be counted when
 * asked (ports alive, monitors, groups, queue sizes) is counted here, so
 * that it costs nothing until somebody looks.
 */
#include <string.h>

#include "kernel.h"
#include "transport.h"
#include "services.h"

static const char *const hs_reason_names[STATS_HS_NREASONS] = {
	[STATS_HS_CONNECT] = "connect",
	[STATS_HS_TIMEOUT] = "timeout",
	[STATS_HS_AUTH] = "auth",
	[STATS_HS_PROTOCOL] = "protocol",
	[STATS_HS_DUPLICATE] = "duplicate",
	[STATS_HS_CLOSED] = "closed",
	[STATS_HS_EVICTED] = "evicted",
	[STATS_HS_REFUSED] = "refused",
};

const char *
ae_stats_hs_reason_name(int reason)
{
	if (reason < 0 || reason >= STATS_HS_NREASONS)
		return NULL;
	return hs_reason_names[reason];
}

/*
 * The reason class of ae_transport_close()'s why (see transport.c). A
 * connection still "connecting" is ours to a peer whose TCP connect
 * failed, or one we accepted and closed before greeting it (its address
 * failed to authenticate before): the accepting side's failure.
 */
static int
hs_reason(int connecting, int inbound, const char *why)
{
	static const struct {
		const char	*text;
		int		 reason;
	} classes[] = {
		{ "handshake timeout",		STATS_HS_TIMEOUT },
		{ "authentication",		STATS_HS_AUTH },
		{ "shared secret",		STATS_HS_AUTH },
		{ "already connected",		STATS_HS_DUPLICATE },
		{ "talk to myself",		STATS_HS_DUPLICATE },
		{ "too many connections",	STATS_HS_EVICTED },
		{ "greeting",			STATS_HS_PROTOCOL },
		{ "version mismatch",		STATS_HS_PROTOCOL },
		{ "no common",			STATS_HS_PROTOCOL },
		{ "line too long",		STATS_HS_PROTOCOL },
		{ "framing",			STATS_HS_PROTOCOL },
		{ "auth line",			STATS_HS_PROTOCOL },
		{ "method",			STATS_HS_AUTH },
	};
	size_t i;

	if (why == NULL)
		why = "";
	for (i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (strstr(why, classes[i].text) != NULL)
			return classes[i].reason;
	if (!connecting)
		return STATS_HS_CLOSED;
	return inbound ? STATS_HS_REFUSED : STATS_HS_CONNECT;
}

void
ae_stats_handshake_failed(aemp_node *n, int connecting, int inbound,
    const char *why)
{
	n->stats.hs_failed[hs_reason(connecting, inbound, why)]++;
}

void
ae_stats_remote_up(struct aemp_remote *r)
{
	r->stats.ups++;
	r->stats.since = r->stats.last_in = ae_node_now();
	/* what came with the handshake's last read waits in the input */
	if (r->conn != NULL)
		r->stats.bytes_in += ae_transport_in_len(r->conn);
}

void
ae_stats_remote_down(struct aemp_remote *r)
{
	r->stats.errors++;
	r->stats.since = ae_node_now();
}

void
ae_stats_read(struct aemp_remote *r, size_t len)
{
	r->stats.bytes_in += len;
	r->stats.last_in = ae_node_now();
}

/* --- the snapshot ---------------------------------------------------- */

static size_t
mon_list_length(const struct mon_list *l)
{
	const struct aemp_mon *m;
	size_t count = 0;

	if (l != NULL)
		TAILQ_FOREACH(m, &l->mons, entry)
			count++;
	return count;
}

static size_t
remote_monitors(const struct aemp_remote *r)
{
	struct dict_entry *e;
	size_t pos = 0, count = 0;

	while ((e = ae_dict_next(&r->lmon, &pos)) != NULL)
		count += mon_list_length(e->value);
	return count;
}

static const char *
remote_state(const struct aemp_remote *r)
{
	if (r->conn != NULL)
		return "up";
	return r->connecting ? "connecting" : "down";
}

/* Whether r's connection is encrypted (TLS was started on it, 10.3). */
static int
remote_tls(const struct aemp_remote *r)
{
	return r->conn != NULL && ae_transport_tls(r->conn);
}

static json_t *
remote_snapshot(const struct aemp_remote *r, double now)
{
	size_t queued = ae_remote_queued(r);
	json_t *o;

	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "node", r->id,
	    "state", remote_state(r),
	    "messages_in", (json_int_t)r->stats.msgs_in,
	    "messages_out", (json_int_t)r->stats.msgs_out,
	    "bytes_in", (json_int_t)r->stats.bytes_in,
	    "bytes_out", (json_int_t)r->stats.bytes_out,
	    "queue_bytes", (json_int_t)queued,
	    "transport_errors", (json_int_t)r->stats.errors,
	    "connects", (json_int_t)r->stats.ups,
	    "monitors_out", (json_int_t)remote_monitors(r),
	    "monitors_in", (json_int_t)r->rmon.count);
	json_object_set_new(o, "peer", r->conn != NULL ?
	    json_string(ae_transport_peer(r->conn)) : json_null());
	json_object_set_new(o, "since", r->stats.since > 0 ?
	    json_real(r->stats.since) : json_null());
	json_object_set_new(o, "last_activity_age", r->stats.last_in > 0 ?
	    json_real(now - r->stats.last_in) : json_null());
	json_object_set_new(o, "tls", json_boolean(remote_tls(r)));
	return o;
}

static json_t *
handshakes_snapshot(aemp_node *n)
{
	json_t *failed = json_object();
	int i;

	for (i = 0; i < STATS_HS_NREASONS; i++)
		json_object_set_new(failed, hs_reason_names[i],
		    json_integer((json_int_t)n->stats.hs_failed[i]));
	return json_pack("{s:I, s:o}", "ok", (json_int_t)n->stats.hs_ok,
	    "failed", failed);
}

json_t *
aemp_stats(aemp_node *n)
{
	double now = ae_node_now();
	struct dict_entry *e;
	size_t pos = 0, local_mons = 0, remote_mons = 0, held = 0;
	json_t *conns = json_array(), *o;

	while ((e = ae_dict_next(&n->ports, &pos)) != NULL)
		local_mons += mon_list_length(PORT_MONS((struct aemp_port *)
		    e->value));
	pos = 0;
	while ((e = ae_dict_next(&n->remotes, &pos)) != NULL) {
		struct aemp_remote *r = e->value;
		remote_mons += remote_monitors(r);
		held += r->rmon.count;
		json_array_append_new(conns, remote_snapshot(r, now));
	}
	o = json_pack("{s:s, s:s, s:f, s:f, s:f, s:O}",
	    "nodeid", n->id,
	    "version", AEMP_VERSION,
	    "time", now,
	    "started", n->stats.started,
	    "uptime", now - n->stats.started,
	    "listeners", n->listen_addrs);
	json_object_set_new(o, "ports", json_pack("{s:I, s:I, s:I}",
	    "alive", (json_int_t)n->ports.count,
	    "created", (json_int_t)n->stats.ports_created,
	    "killed", (json_int_t)n->stats.ports_killed));
	json_object_set_new(o, "monitors", json_pack("{s:I, s:I, s:I}",
	    "local_ports", (json_int_t)local_mons,
	    "remote_ports", (json_int_t)remote_mons,
	    "held_for_remotes", (json_int_t)held));
	json_object_set_new(o, "messages", json_pack("{s:I, s:I}",
	    "delivered", (json_int_t)n->stats.delivered,
	    "unknown_port_dropped", (json_int_t)n->stats.dropped));
	json_object_set_new(o, "groups", ae_group_stats(n));
	json_object_set_new(o, "handshakes", handshakes_snapshot(n));
	json_object_set_new(o, "connections", conns);
	return o;
}

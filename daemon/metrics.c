/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * metrics.c: aemp_stats() in the Prometheus text exposition format
 * (version 0.0.4): every metric once, with HELP and TYPE lines before its
 * samples, counters named *_total, peers as the label "peer".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "aempd.h"
#include "codec.h"

/*
 * Label values are UTF-8 with \\, \" and \n escaped, as the format says.
 * Bytes that are not printable UTF-8 (a newline too) become \xNN first,
 * \\xNN on the page, so that no node ID (the greeting refuses such IDs)
 * can break the page.
 */
static void
label_value(struct evbuffer *out, const char *value)
{
	char *vis = ae_text_visible(value, strlen(value), SIZE_MAX), *v;

	for (v = vis; *v != '\0'; v++) {
		if (*v == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*v == '"')
			evbuffer_add(out, "\\\"", 2);
		else
			evbuffer_add(out, v, 1);
	}
	free(vis);
}

static void
header(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
value(struct evbuffer *out, json_t *v)
{
	if (json_is_integer(v))
		evbuffer_add_printf(out, " %lld\n",
		    (long long)json_integer_value(v));
	else if (json_is_number(v))
		evbuffer_add_printf(out, " %.6f\n", json_number_value(v));
	else if (json_is_boolean(v))
		evbuffer_add_printf(out, " %d\n", json_is_true(v));
	else
		evbuffer_add_printf(out, " NaN\n");
}

/* One sample without labels, or with one label. */
static void
sample(struct evbuffer *out, const char *name, const char *label,
    const char *lvalue, json_t *v)
{
	evbuffer_add_printf(out, "%s", name);
	if (label != NULL) {
		evbuffer_add_printf(out, "{%s=\"", label);
		label_value(out, lvalue);
		evbuffer_add(out, "\"}", 2);
	}
	value(out, v);
}

static void
single(struct evbuffer *out, const char *name, const char *type,
    const char *help, json_t *v)
{
	header(out, name, type, help);
	sample(out, name, NULL, NULL, v);
}

/* A metric with one sample per key of obj, labelled label="key". */
static void
by_key(struct evbuffer *out, const char *name, const char *type,
    const char *help, const char *label, json_t *obj)
{
	const char *k;
	json_t *v;

	header(out, name, type, help);
	json_object_foreach(obj, k, v)
		sample(out, name, label, k, v);
}

static const struct peer_metric {
	const char	*name;
	const char	*type;
	const char	*key;	/* in the connection's object */
	const char	*help;
} peer_metrics[] = {
	{ "aemp_peer_messages_received_total", "counter", "messages_in",
	  "Packets received from the peer node." },
	{ "aemp_peer_messages_sent_total", "counter", "messages_out",
	  "Packets sent or queued to the peer node." },
	{ "aemp_peer_bytes_received_total", "counter", "bytes_in",
	  "Bytes read from the peer in the data phase." },
	{ "aemp_peer_bytes_sent_total", "counter", "bytes_out",
	  "Bytes written to the peer in the data phase." },
	{ "aemp_peer_send_queue_bytes", "gauge", "queue_bytes",
	  "Bytes waiting to be written to the peer." },
	{ "aemp_peer_transport_errors_total", "counter", "transport_errors",
	  "Times the peer went down or could not be reached." },
	{ "aemp_peer_connects_total", "counter", "connects",
	  "Connections to the peer that completed the handshake." },
	{ "aemp_peer_monitors_out", "gauge", "monitors_out",
	  "Monitors this node holds on the peer's ports." },
	{ "aemp_peer_monitors_in", "gauge", "monitors_in",
	  "Monitors the peer holds on this node's ports." },
	{ "aemp_peer_state_since_seconds", "gauge", "since",
	  "Unix time of the peer's last change between up and down." },
	{ "aemp_peer_last_activity_age_seconds", "gauge", "last_activity_age",
	  "Seconds since the last read from the peer." },
	{ "aemp_peer_tls", "gauge", "tls",
	  "1 if the connection to the peer is encrypted with TLS." },
};

void
metrics_write(struct evbuffer *out, json_t *snap)
{
	json_t *conns = json_object_get(snap, "connections"), *c, *v;
	json_t *ports = json_object_get(snap, "ports");
	json_t *msgs = json_object_get(snap, "messages");
	json_t *groups = json_object_get(snap, "groups");
	json_t *hs = json_object_get(snap, "handshakes");
	size_t i, j;

	header(out, "aemp_node_info", "gauge",
	    "The node's identity; always 1.");
	evbuffer_add_printf(out, "aemp_node_info{node=\"");
	label_value(out, json_string_value(json_object_get(snap, "nodeid")));
	evbuffer_add_printf(out, "\",version=\"");
	label_value(out, json_string_value(json_object_get(snap, "version")));
	evbuffer_add_printf(out, "\"} 1\n");
	single(out, "aemp_start_time_seconds", "gauge",
	    "Unix time the node started.", json_object_get(snap, "started"));
	single(out, "aemp_uptime_seconds", "gauge",
	    "Seconds since the node started.", json_object_get(snap, "uptime"));
	single(out, "aemp_ports", "gauge", "Local ports alive.",
	    json_object_get(ports, "alive"));
	single(out, "aemp_ports_created_total", "counter",
	    "Local ports created.", json_object_get(ports, "created"));
	single(out, "aemp_ports_killed_total", "counter",
	    "Local ports killed.", json_object_get(ports, "killed"));
	by_key(out, "aemp_monitors", "gauge", "Monitors, by what they watch "
	    "(local_ports, remote_ports, held_for_remotes).", "kind",
	    json_object_get(snap, "monitors"));
	single(out, "aemp_messages_delivered_total", "counter",
	    "Messages handed to local receivers.",
	    json_object_get(msgs, "delivered"));
	single(out, "aemp_messages_unknown_port_total", "counter",
	    "Messages dropped because their port does not exist.",
	    json_object_get(msgs, "unknown_port_dropped"));
	single(out, "aemp_groups", "gauge", "Global groups with members.",
	    json_object_get(groups, "groups"));
	single(out, "aemp_group_members", "gauge",
	    "Members of all global groups.", json_object_get(groups, "members"));
	single(out, "aemp_group_local_members", "gauge",
	    "Local ports registered in global groups.",
	    json_object_get(groups, "local_members"));
	single(out, "aemp_handshakes_ok_total", "counter",
	    "Handshakes that reached the data phase.",
	    json_object_get(hs, "ok"));
	by_key(out, "aemp_handshakes_failed_total", "counter",
	    "Handshakes that failed, by reason.", "reason",
	    json_object_get(hs, "failed"));

	header(out, "aemp_peer_up", "gauge",
	    "1 if the peer node is connected, else 0.");
	json_array_foreach(conns, i, c) {
		const char *id = json_string_value(json_object_get(c, "node"));
		json_t *up = json_boolean(strcmp(json_string_value(
		    json_object_get(c, "state")), "up") == 0);
		sample(out, "aemp_peer_up", "peer", id, up);
		json_decref(up);
	}
	for (j = 0; j < sizeof peer_metrics / sizeof peer_metrics[0]; j++) {
		const struct peer_metric *m = &peer_metrics[j];
		header(out, m->name, m->type, m->help);
		json_array_foreach(conns, i, c) {
			if (json_is_null(v = json_object_get(c, m->key)) ||
			    v == NULL)
				continue;
			sample(out, m->name, "peer", json_string_value(
			    json_object_get(c, "node")), v);
		}
	}
}

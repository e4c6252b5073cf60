/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * nodeport.c: the node port's requests (AEMP.md section 5), from other
 * nodes and from local senders.
 */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "xmalloc.h"

/* --- the node port -------------------------------------------------------- */

/*
 * The node port's snd: packets on a connection are processed in order,
 * so a relay from a peer to a local port is delivered now, like a packet
 * addressed to that port directly, and not overtaken by the next one.
 */
static void
relay(aemp_node *n, const char *to, json_t *msg, struct aemp_remote *from)
{
	const char *name;

	if (from != NULL && ae_is_local(n, to, &name) && *name != '\0')
		ae_kernel_deliver(n, name, msg, NULL);
	else
		aemp_snd(n, to, msg);
}

/* snd(@reply, values...): reply is [PORTID, leading elements...]. */
static void
reply_to(aemp_node *n, json_t *reply, json_t *values)
{
	const char *port = json_id(json_array_get(reply, 0));
	json_t *msg;

	if (port == NULL) {
		json_decref(values);
		return;
	}
	msg = json_array();
	for (size_t i = 1; i < json_array_size(reply); i++)
		json_array_append(msg, json_array_get(reply, i));
	json_array_extend(msg, values);
	json_decref(values);
	aemp_snd(n, port, msg);
}

/* Elements from index i on, as a new array. */
static json_t *
rest(json_t *a, size_t i)
{
	json_t *r = json_array();

	for (; i < json_array_size(a); i++)
		json_array_append(r, json_array_get(a, i));
	return r;
}

static void
req_mon1(aemp_node *n, const char *name, struct aemp_remote *from)
{
	struct aemp_port *p = ae_dict_get(&n->ports, name);
	struct aemp_mon *m;
	char *id;

	if (p == NULL) {
		id = ae_xasprintf("%s#%s", n->id, name);
		ae_remote_send_name(from, "", json_pack("[sssss]", "kil0", name,
		    "no_such_port", "cannot monitor nonexistent port", id));
		free(id);
		return;
	}
	if (ae_dict_get(&from->rmon, name) != NULL)
		return;
	m = ae_mon_new(MON_REMOTE);
	m->remote = from;
	m->other = ae_xstrdup(name);
	ae_dict_put(&from->rmon, m->other, m);
	ae_mon_link(ae_port_mons(p), m);
}

static void
req_mon0(aemp_node *n, const char *name, struct aemp_remote *from)
{
	struct aemp_mon *m = ae_dict_del(&from->rmon, name);

	(void)n;
	if (m != NULL) {
		ae_mon_unlink(m);
		ae_mon_free(m);
	}
}

static void
req_kil0(aemp_node *n, const char *name, json_t *reason,
    struct aemp_remote *from)
{
	struct mon_list *l = ae_dict_del(&from->lmon, name);

	if (l == NULL)
		return;
	ae_mon_list_fire(n, l, reason);
	ae_remote_mon_list_free(l);
}

/*
 * The reply port of a request for an unknown function: its last argument
 * if that is a port of the sending node (a cal appends its reply port),
 * else NULL. Only a port of the sender: a request must not kill a third
 * node's port.
 */
static const char *
unknown_reply_port(aemp_node *n, json_t *args, struct aemp_remote *from)
{
	const char *port, *name;
	size_t nodelen;

	if (json_array_size(args) == 0 ||
	    (port = json_id(json_array_get(args,
	    json_array_size(args) - 1))) == NULL)
		return NULL;
	name = id_split(port, &nodelen);
	if (*name == '\0')
		return NULL;
	if (from == NULL)
		return ae_is_local(n, port, &name) ? port : NULL;
	if (strlen(from->id) != nodelen ||
	    memcmp(from->id, port, nodelen) != 0)
		return NULL;
	return port;
}

/*
 * A function that is not registered: logged, and, where the request
 * carries a reply port of its sender, that port is killed with the die
 * reason the reference gives a spawn of an unknown function, so a caller
 * that monitors it (aemp cal) learns at once. The reference itself only
 * logs: a Perl caller's cal times out as before, its reply port dead.
 */
static void
unknown_function(aemp_node *n, const char *tag, json_t *args,
    struct aemp_remote *from)
{
	const char *port = unknown_reply_port(n, args, from), *name;
	size_t nodelen, cut;
	char *why;

	ae_node_log_limited(n, 2, "node port requests for unregistered "
	    "functions", NULL, "node port request '%s' is not a "
	    "registered function, ignored", tag);
	if (port == NULL)
		return;
	/* a long name is cut at a character: the reason is a JSON string */
	cut = strlen(tag);
	if (cut > 200)
		for (cut = 200; cut > 0 && ((unsigned char)tag[cut] & 0xc0) ==
		    0x80; cut--)
			;
	why = ae_xasprintf("unable to resolve function '%.*s'", (int)cut, tag);
	name = id_split(port, &nodelen);
	if (from != NULL)
		ae_remote_send_name(from, "", json_pack("[ssss]", "kil", name,
		    "die", why));
	else
		aemp_kil(n, port, json_pack("[ss]", "die", why));
	free(why);
}

static void
req_function(aemp_node *n, const char *tag, json_t *args,
    struct aemp_remote *from)
{
	struct func *f = ae_func_lookup(n, tag);

	if (f == NULL) {
		unknown_function(n, tag, args, from);
		return;
	}
	if (f->fn(n, n->id, args, f->ud) < 0)
		aemp_log(n, 2, "node port function %s failed: %s", tag,
		    n->die_msg ? n->die_msg : "error");
	free(n->die_msg);
	n->die_msg = NULL;
}

/*
 * The requests, one handler each: msg is [TAG, args...] and args is
 * rest(msg, 1) (borrowed); the table has checked that the first min_args
 * arguments are IDs. from is NULL for a local sender.
 */

/* A liveness probe's answer (remote.c); anything else is thrown away. */
static void
np_devnull(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	(void)n; (void)args;
	if (from != NULL && json_is_string(json_array_get(msg, 1)) &&
	    strcmp(json_string_value(json_array_get(msg, 1)),
	    "aemp-probe") == 0)
		ae_remote_probe_answer(from, msg);
}

static void
np_kil(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	const char *arg1 = json_id(json_array_get(msg, 1));
	struct aemp_port *p = *arg1 ? ae_dict_get(&n->ports, arg1) : NULL;

	(void)args; (void)from;
	if (p != NULL)
		ae_port_kill(n, p, rest(msg, 2));
}

/* mon1, mon0 and kil0 are only meaningful between nodes. */
static void
np_mon1(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	(void)args;
	if (from != NULL)
		req_mon1(n, json_id(json_array_get(msg, 1)), from);
}

static void
np_mon0(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	(void)args;
	if (from != NULL)
		req_mon0(n, json_id(json_array_get(msg, 1)), from);
}

static void
np_kil0(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	json_t *reason;

	(void)args;
	if (from == NULL)
		return;
	reason = rest(msg, 2);
	req_kil0(n, json_id(json_array_get(msg, 1)), reason, from);
	json_decref(reason);
}

static void
np_snd(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	(void)args;
	relay(n, json_id(json_array_get(msg, 1)), rest(msg, 2), from);
}

static void
np_snd_multiple(aemp_node *n, json_t *msg, json_t *args,
    struct aemp_remote *from)
{
	size_t i;
	json_t *v;

	(void)msg;
	json_array_foreach(args, i, v) {
		const char *to = json_id(json_array_get(v, 0));
		if (to != NULL)
			relay(n, to, rest(v, 1), from);
	}
}

static void
np_info(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	(void)msg; (void)from;
	reply_to(n, args, json_pack("[s]", n->id));
}

static void
np_known_nodes(aemp_node *n, json_t *msg, json_t *args,
    struct aemp_remote *from)
{
	(void)msg; (void)from;
	reply_to(n, args, aemp_known_nodes(n));
}

static void
np_up_nodes(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	(void)msg; (void)from;
	reply_to(n, args, aemp_up_nodes(n));
}

static void
np_time(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	(void)msg; (void)from;
	reply_to(n, args, json_pack("[f]", ae_node_now()));
}

/* stats.c */
static void
np_stats(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	(void)msg; (void)from;
	reply_to(n, args, json_pack("[o]", aemp_stats(n)));
}

static void
np_eval(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	json_t *reply = rest(msg, 2);
	const char *code = json_string_value(json_array_get(msg, 1));

	(void)args;
	/*
	 * "1" is how aemp (shell, restart) asks whether a node
	 * evaluates Perl: an expected question, not an attempt to
	 * run code.
	 */
	if (code != NULL && strcmp(code, "1") == 0)
		aemp_log(n, 8, "eval probe%s%s: this node does not "
		    "evaluate Perl", from ? " from " : "",
		    from ? from->id : "");
	else
		ae_node_log_limited(n, 2, "refused eval requests", NULL,
		    "refusing eval request%s%s", from ? " from " : "",
		    from ? from->id : "");
	reply_to(n, reply, json_pack("[s]",
	    "eval is not supported by this node"));
	json_decref(reply);
}

static void
np_spawn(aemp_node *n, json_t *msg, json_t *args, struct aemp_remote *from)
{
	json_t *fargs = rest(msg, 3);

	(void)args; (void)from;
	ae_spawn_run(n, json_id(json_array_get(msg, 1)),
	    json_id(json_array_get(msg, 2)), fargs);
	json_decref(fargs);
}

/*
 * The node port's requests: a request is added by adding a row. A name
 * that is none of these is a registered function's (req_function).
 */
const struct node_request ae_node_requests[] = {
	{ "devnull",		0, np_devnull },
	{ "mon1",		1, np_mon1 },
	{ "mon0",		1, np_mon0 },
	{ "kil0",		1, np_kil0 },
	{ "kil",		1, np_kil },
	{ "snd",		1, np_snd },
	{ "snd_multiple",	0, np_snd_multiple },
	{ "info",		0, np_info },
	{ "known_nodes",	0, np_known_nodes },
	{ "up_nodes",		0, np_up_nodes },
	{ "time",		0, np_time },
	{ STATS_REQUEST,	0, np_stats },
	{ "eval",		0, np_eval },
	{ "AnyEvent::MP::_spawn", 2, np_spawn },
	{ NULL,			0, NULL }
};

/* The row for request name, or NULL. */
const struct node_request *
ae_node_request_find(const char *name)
{
	const struct node_request *r;

	for (r = ae_node_requests; r->name != NULL; r++)
		if (strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

/*
 * A request to the node port: msg is [TAG, args...]. Malformed requests
 * are logged and ignored: a peer's mistake must not take the node down.
 */
void
ae_kernel_node_request(aemp_node *n, json_t *msg, struct aemp_remote *from)
{
	const char *tag = json_id(json_array_get(msg, 0));
	const struct node_request *r;
	json_t *args;
	size_t i;

	if (tag == NULL || *tag == '\0')
		return;
	args = rest(msg, 1);
	if ((r = ae_node_request_find(tag)) == NULL) {
		req_function(n, tag, args, from);
		json_decref(args);
		return;
	}
	for (i = 1; i <= r->min_args; i++)
		if (json_id(json_array_get(msg, i)) == NULL)
			goto malformed;
	r->handler(n, msg, args, from);
	json_decref(args);
	return;
malformed:
	{
		char *text = json_dumps(msg, JSON_COMPACT);
		ae_node_log_limited(n, 2, "malformed node port requests", NULL,
		    "malformed node port request%s%s: %.200s",
		    from ? " from " : "", from ? from->id : "", text);
		free(text);
	}
	json_decref(args);
}

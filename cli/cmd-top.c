/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * cmd-top.c: "aemp top [NODE] [--once]": a C node's counters (the
 * AEMP_STATS_REQUEST node port request, see libaemp(3)) in the terminal,
 * redrawn every second with plain ANSI escapes, or once as JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "net.h"
#include "xmalloc.h"

#define TOP_INTERVAL	1.0

struct top {
	struct net	 t_net;
	const char	*t_reply;	/* our port for the answers */
	int		 t_once;
	json_t		*t_prev;	/* the last snapshot, for rates */
	aemp_timer	*t_next;
};

static void top_ask(aemp_node *, void *);

static void
human_duration(char *buf, size_t len, double s)
{
	/* the node's numbers: NaN or beyond an int's days is no UB here */
	if (!(s >= 0))
		s = 0;
	if (s > 1e12)
		s = 1e12;
	if (s < 60)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 3600)
		snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%dh%02dm", (int)(s / 3600),
		    (int)s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02dh", (long long)(s / 86400),
		    (int)((long long)s % 86400 / 3600));
}

static json_int_t
num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* A string of the answer, which the node (a peer) chose: "?" if none. */
static const char *
text(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "?";
}

/* A string of o that another node sent, fit for the terminal. */
static char *
visible(json_t *o, const char *key)
{
	const char *v = text(o, key);

	return ae_text_visible(v, strlen(v), 256);
}

/* The previous snapshot's entry for node, or NULL. */
static json_t *
prev_conn(struct top *t, const char *node)
{
	json_t *conns = json_object_get(t->t_prev, "connections"), *c;
	size_t i;

	json_array_foreach(conns, i, c)
		if (strcmp(text(c, "node"), node) == 0)
			return c;
	return NULL;
}

static double
rate(json_t *c, json_t *p, const char *key, double dt, double div)
{
	if (p == NULL || dt <= 0)
		return 0;
	return (double)(num(c, key) - num(p, key)) / dt / div;
}

static void
draw(struct top *t, json_t *s)
{
	json_t *ports = json_object_get(s, "ports");
	json_t *mons = json_object_get(s, "monitors");
	json_t *msgs = json_object_get(s, "messages");
	json_t *groups = json_object_get(s, "groups");
	json_t *hs = json_object_get(s, "handshakes"), *c, *v;
	double now = json_number_value(json_object_get(s, "time"));
	double dt = t->t_prev != NULL ? now - json_number_value(
	    json_object_get(t->t_prev, "time")) : 0;
	json_int_t failed = 0;
	const char *k;
	char up[32], since[32], idle[32], *vis;
	size_t i;

	json_object_foreach(json_object_get(hs, "failed"), k, v)
		failed += json_integer_value(v);
	human_duration(up, sizeof up, json_number_value(json_object_get(s,
	    "uptime")));
	/* home, clear: no curses needed */
	vis = visible(s, "nodeid");
	printf("\033[H\033[2J\033[1m%s\033[0m  aemp %s  up %s\n", vis,
	    text(s, "version"), up);
	free(vis);
	printf("ports %lld alive, %lld created, %lld killed   messages %lld "
	    "delivered, %lld to unknown ports\n", (long long)num(ports, "alive"),
	    (long long)num(ports, "created"), (long long)num(ports, "killed"),
	    (long long)num(msgs, "delivered"),
	    (long long)num(msgs, "unknown_port_dropped"));
	printf("monitors %lld local, %lld remote, %lld for peers   groups %lld "
	    "(%lld members)   handshakes %lld ok, %lld failed\n\n",
	    (long long)num(mons, "local_ports"),
	    (long long)num(mons, "remote_ports"),
	    (long long)num(mons, "held_for_remotes"),
	    (long long)num(groups, "groups"), (long long)num(groups, "members"),
	    (long long)num(hs, "ok"), (long long)failed);
	printf("\033[7m%-28s %-10s %7s %9s %9s %9s %9s %10s %6s %5s\033[0m\n",
	    "NODE", "STATE", "SINCE", "MSG/S IN", "MSG/S OUT", "KIB/S IN",
	    "KIB/S OUT", "QUEUE", "IDLE", "ERR");
	json_array_foreach(json_object_get(s, "connections"), i, c) {
		const char *node = text(c, "node"), *state = text(c, "state");
		json_t *p = prev_conn(t, node), *sv, *iv;
		sv = json_object_get(c, "since");
		iv = json_object_get(c, "last_activity_age");
		if (json_is_number(sv))
			human_duration(since, sizeof since, now -
			    json_number_value(sv));
		else
			strcpy(since, "-");
		if (json_is_number(iv))
			human_duration(idle, sizeof idle, json_number_value(iv));
		else
			strcpy(idle, "-");
		vis = visible(c, "node");
		printf("%-28.28s %s%-10s\033[0m %7s %9.1f %9.1f %9.1f %9.1f "
		    "%10lld %6s %5lld\n", vis, strcmp(state, "up") == 0 ?
		    "\033[32m" : "\033[31m", state, since,
		    rate(c, p, "messages_in", dt, 1),
		    rate(c, p, "messages_out", dt, 1),
		    rate(c, p, "bytes_in", dt, 1024),
		    rate(c, p, "bytes_out", dt, 1024),
		    (long long)num(c, "queue_bytes"), idle,
		    (long long)num(c, "transport_errors"));
		free(vis);
	}
	fflush(stdout);
}

static int
top_reply(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct top *t = ud;
	json_t *s = json_array_get(msg, 0);

	(void)self;
	if (t->t_net.nt_done)
		return 0;
	if (!json_is_object(s)) {
		cli_error(t->t_net.nt_cmd, "%s answered with something that is "
		    "not a statistics object", t->t_net.nt_target);
		net_finish(&t->t_net, 1);
		return 0;
	}
	if (t->t_once) {
		net_finish(&t->t_net, cli_print_json(t->t_net.nt_cmd, s) < 0);
		return 0;
	}
	draw(t, s);
	json_decref(t->t_prev);
	t->t_prev = json_incref(s);
	net_deadline(&t->t_net, NULL);
	t->t_next = aemp_after(n, TOP_INTERVAL, top_ask, t);
	return 0;
}

static void
top_ask(aemp_node *n, void *ud)
{
	struct top *t = ud;

	t->t_next = NULL;
	aemp_snd(n, t->t_net.nt_target, json_pack("[ss]", AEMP_STATS_REQUEST,
	    t->t_reply));
	net_deadline(&t->t_net, "no statistics from %s (it is probably not a "
	    "C node: Perl nodes do not answer %s)", t->t_net.nt_target,
	    AEMP_STATS_REQUEST);
}

/* NODE when none is given: the node ID of the host's default profile. */
static char *
default_node(struct cli *cli, const char *cmd)
{
	char *err = NULL, *id = NULL;
	json_t *eff = ae_store_effective_in(cli->c_store, NULL, NULL, &err);

	if (eff == NULL) {
		cli_errstr(cmd, NULL, err);
		return NULL;
	}
	if (json_is_string(json_object_get(eff, "nodeid")))
		id = ae_xstrdup(json_string_value(json_object_get(eff, "nodeid")));
	else
		cli_error(cmd, "missing argument NODE (profile '%s' names no "
		    "nodeid)", json_string_value(json_object_get(eff,
		    "profile")));
	json_decref(eff);
	return id;
}

static int
cmd_top_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	struct top t;
	char *node = NULL;
	int rc, i;

	(void)self;
	memset(&t, 0, sizeof t);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			t.t_once = 1;
		else if (node == NULL && argv[i][0] != '-')
			node = ae_xstrdup(argv[i]);
		else {
			free(node);
			return cli_error(argv[0], "unexpected argument '%s' "
			    "(usage: aemp top [NODE] [--once]; top ends a "
			    "chain)", argv[i]);
		}
	}
	if (node == NULL && (node = default_node(cli, argv[0])) == NULL)
		return -1;
	if (net_check_port(argv[0], node) < 0 || strchr(node, '#') != NULL) {
		if (strchr(node, '#') != NULL)
			cli_error(argv[0], "'%s' is a port: top wants a node ID",
			    node);
		free(node);
		return -1;
	}
	if ((rc = net_open(&t.t_net, cli, argv[0])) == 0) {
		net_target(&t.t_net, node);
		t.t_reply = aemp_port(t.t_net.nt_node, top_reply, &t);
		top_ask(t.t_net.nt_node, &t);
	}
	free(node);
	rc = rc == 0 ? net_run(&t.t_net) : 1;
	if (t.t_net.nt_node != NULL)
		aemp_timer_cancel(t.t_net.nt_node, t.t_next);
	net_close(&t.t_net);
	json_decref(t.t_prev);
	return rc == 0 ? 0 : -1;
}

const struct aemp_cmd cmd_top_entry = {
	"top", NULL, 0, -1, "[NODE] [--once]",
	"show a C node's counters, connections and rates every second, or "
	"with --once print them once as JSON",
	CMD_READ, NULL, cmd_top_exec
};

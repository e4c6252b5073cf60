/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * cmd-net.c: the commands that talk to a running network as an
 * anonymous node: snd, cal, mon, eval, trace and restart.
 *
 * Each takes every argument that follows it, so it ends a chain: the
 * store transaction of the commands before it stays open (and uncommitted)
 * only for the few seconds the command waits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "xmalloc.h"

/* A restart for Perl nodes run by "aemp run" (under AnyEvent::Watchdog). */
#define PERL_RESTART \
	"require AnyEvent::Watchdog::Util; my $w; $w = AE::timer 0.1, 0, " \
	"sub { undef $w; AnyEvent::Watchdog::Util::restart () }; ()"
/* What aempd registers for a restart (see aempd(8)). */
#define AEMPD_RESTART	"aempd::restart"

/* Commands with fixed arguments take all the rest: say what is extra. */
static int
check_extra(char **argv, int argc, int max)
{
	if (argc - 1 <= max)
		return 0;
	return cli_error(argv[0], "unexpected argument '%s' (%s talks to the "
	    "network and must be the last command)", argv[max + 1], argv[0]);
}

/* The port a reply or confirmation goes to; ud is the struct net. */
static int
finish_words(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct net *nt = ud;

	(void)n; (void)self;
	if (!nt->nt_done) {
		net_print_words(msg);
		net_finish(nt, 0);
	}
	return 0;
}

static int
finish_json(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct net *nt = ud;

	(void)n; (void)self;
	if (!nt->nt_done) {
		net_print_json(msg);
		net_finish(nt, 0);
	}
	return 0;
}

/* The port (or its node) died before the answer came. */
static void
died_first(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct net *nt = ud;
	char *why = aemp_words(reason);

	(void)n;
	if (!nt->nt_done) {
		cli_error(nt->nt_cmd, "%s: %s", port, *why ? why :
		    "killed before it answered");
		net_finish(nt, 1);
	}
	free(why);
}

static int
status(struct net *nt, int opened)
{
	int rc = opened == 0 ? net_run(nt) : 1;

	net_close(nt);
	return rc == 0 ? 0 : -1;
}

/* --- snd --------------------------------------------------------------- */

#define SND_WRITING	(64 * 1024)	/* a message this large is "large" */

/*
 * A large message takes a while to be written: once the last of it has
 * left the queue, the node's confirmation gets its own NET_TIMEOUT.
 */
static void
snd_written(aemp_node *n, const char *nodeid, void *ud)
{
	struct net *nt = ud;

	(void)n;
	if (!nt->nt_done && nt->nt_timer != NULL)
		net_deadline(nt, "%s did not confirm the delivery", nodeid);
}

/*
 * Like the reference: send, then monitor the port, then ask its node to
 * relay "message sent successfully" back: the node handles requests in
 * order, so the relay arrives after the message was delivered.
 */
static int
cmd_snd_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	struct net nt;
	json_t *msg;
	char *node;
	const char *reply;
	int rc;

	(void)self;
	if (net_options(cli, &argc, &argv, 1) < 0)
		return -1;
	if (net_check_port(argv[0], argv[1]) < 0 ||
	    (msg = net_args(argv[0], argc - 2, argv + 2)) == NULL)
		return -1;
	if ((rc = net_open(&nt, cli, argv[0])) == 0) {
		node = aemp_node_of(argv[1]);
		net_target(&nt, node);
		aemp_set_watermark(nt.nt_node, SND_WRITING, 0, snd_written,
		    &nt);
		aemp_snd(nt.nt_node, argv[1], msg);
		msg = NULL;
		aemp_mon_cb(nt.nt_node, argv[1], died_first, &nt);
		reply = aemp_port(nt.nt_node, finish_words, &nt);
		aemp_snd(nt.nt_node, node, json_pack("[sss]", "snd", reply,
		    "message sent successfully"));
		net_deadline(&nt, "%s did not confirm the delivery", node);
		free(node);
	}
	json_decref(msg);
	return status(&nt, rc);
}

/* --- cal --------------------------------------------------------------- */

/*
 * The reply port was killed: a C node kills it when the request names a
 * function it does not have (libaemp(3), nodeport.c); a Perl node sends
 * nothing, and the deadline's hint says what that probably means.
 */
static void
reply_killed(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct net *nt = ud;
	char *why;

	(void)n; (void)port;
	if (nt->nt_done)
		return;
	why = net_reason(reason);
	cli_error(nt->nt_cmd, "%s: %s", nt->nt_target ? nt->nt_target : "?",
	    *why ? why : "the reply port was killed before an answer came");
	free(why);
	net_finish(nt, 1);
}

static int
cmd_cal_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	struct net nt;
	json_t *msg;
	const char *reply;
	int rc;

	(void)self;
	if (net_options(cli, &argc, &argv, 1) < 0)
		return -1;
	if (net_check_port(argv[0], argv[1]) < 0 ||
	    (msg = net_args(argv[0], argc - 2, argv + 2)) == NULL)
		return -1;
	if ((rc = net_open(&nt, cli, argv[0])) == 0) {
		net_target(&nt, argv[1]);
		/* monitor first, as the reference's cal: a port the message
		 * kills then reports why */
		aemp_mon_cb(nt.nt_node, argv[1], died_first, &nt);
		reply = aemp_port(nt.nt_node, finish_json, &nt);
		aemp_mon_cb(nt.nt_node, reply, reply_killed, &nt);
		json_array_append_new(msg, json_string(reply));
		aemp_snd(nt.nt_node, argv[1], msg);
		msg = NULL;
		/*
		 * A Perl node only logs a request for a function it does not
		 * know, so a silent node port most likely means just that (a
		 * C node kills the reply port: reply_killed).
		 */
		if (strchr(argv[1], '#') == NULL && argc > 2 &&
		    asprintf(&nt.nt_hint, "(%s is up: '%s' is probably not a "
		    "request or function known there, or it does not reply; "
		    "its log says so)", argv[1], argv[2]) < 0)
			nt.nt_hint = NULL;
		net_deadline(&nt, "no reply from %s", argv[1]);
	}
	json_decref(msg);
	return status(&nt, rc);
}

/* --- mon --------------------------------------------------------------- */

static void
mon_fired(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct net *nt = ud;

	(void)n; (void)port;
	if (!nt->nt_done) {
		net_print_words(reason);
		net_finish(nt, 0);
	}
}

/* Once the port's node is reached, mon waits as long as the port lives. */
static void
mon_node_up(aemp_node *n, const char *nodeid, int up, json_t *reason,
    void *ud)
{
	struct net *nt = ud;

	(void)n; (void)reason;
	if (up && strcmp(nodeid, nt->nt_target) == 0)
		net_deadline(nt, NULL);
}

static int
cmd_mon_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	struct net nt;
	int rc;

	(void)self;
	if (net_options(cli, &argc, &argv, 1) < 0)
		return -1;
	if (check_extra(argv, argc, 1) < 0 ||
	    net_check_port(argv[0], argv[1]) < 0)
		return -1;
	if ((rc = net_open(&nt, cli, argv[0])) == 0) {
		net_target(&nt, argv[1]);
		aemp_mon_nodes(nt.nt_node, mon_node_up, &nt);
		aemp_mon_cb(nt.nt_node, argv[1], mon_fired, &nt);
		net_deadline(&nt, "cannot reach %s", nt.nt_target);
	}
	return status(&nt, rc);
}

/* --- eval -------------------------------------------------------------- */

/* [error, results...]: Perl's $@ first, empty when all went well. */
static int
eval_reply(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct net *nt = ud;
	const char *err = json_string_value(json_array_get(msg, 0));
	json_t *res = json_array();
	size_t i;

	(void)n; (void)self;
	for (i = 1; i < json_array_size(msg); i++)
		json_array_append(res, json_array_get(msg, i));
	if (nt->nt_done)
		;
	else if (err != NULL && *err != '\0') {
		char *more = aemp_words(res);
		/* Perl's error text often ends in a newline already */
		cli_error(nt->nt_cmd, "%s: %.*s%s%s", nt->nt_target,
		    (int)strcspn(err, "\n"), err, *more ? " " : "", more);
		free(more);
		net_finish(nt, 1);
	} else {
		net_print_json(res);
		net_finish(nt, 0);
	}
	json_decref(res);
	return 0;
}

static int
cmd_eval_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	struct net nt;
	char *expr = NULL;
	size_t len = 0;
	FILE *f;
	int rc, i;

	(void)self;
	if (net_options(cli, &argc, &argv, 2) < 0)
		return -1;
	if (net_check_port(argv[0], argv[1]) < 0)
		return -1;
	f = open_memstream(&expr, &len);
	for (i = 2; i < argc; i++)
		fprintf(f, "%s%s", i > 2 ? " " : "", argv[i]);
	fclose(f);
	if ((rc = net_open(&nt, cli, argv[0])) == 0) {
		net_target(&nt, argv[1]);
		aemp_snd(nt.nt_node, nt.nt_target, json_pack("[sss]", "eval",
		    expr, aemp_port(nt.nt_node, eval_reply, &nt)));
		aemp_mon_cb(nt.nt_node, nt.nt_target, died_first, &nt);
		net_deadline(&nt, "no answer from %s", nt.nt_target);
	}
	free(expr);
	return status(&nt, rc);
}

/* --- trace ------------------------------------------------------------- */

struct trace {
	struct net	 t_net;
	const char	*t_reply;
	json_t		*t_asked;	/* node -> answered (bool) */
	json_t		*t_nodes;	/* in the order they answered */
	json_t		*t_edges;	/* "a\nb" (sorted pair) -> [a, b] */
	json_t		*t_order;	/* the edges' keys in order */
	int		 t_dot;
};

static void
dot_name(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

/* The mesh as a Graphviz graph: every node, every connection once. */
static void
print_dot(struct trace *t)
{
	size_t i;
	json_t *v, *e;

	printf("graph aemp {\n");
	json_array_foreach(t->t_nodes, i, v) {
		putchar('\t');
		dot_name(json_string_value(v));
		printf(";\n");
	}
	json_array_foreach(t->t_order, i, v) {
		e = json_object_get(t->t_edges, json_string_value(v));
		putchar('\t');
		dot_name(json_string_value(json_array_get(e, 0)));
		printf(" -- ");
		dot_name(json_string_value(json_array_get(e, 1)));
		printf(";\n");
	}
	printf("}\n");
}

/* Nodes asked that have not answered, for the deadline's message. */
static void
trace_arm(struct trace *t)
{
	char *list = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&list, &len);
	const char *node;
	json_t *v;
	int n = 0;

	json_object_foreach(t->t_asked, node, v)
		if (!json_is_true(v))
			fprintf(f, "%s%s", n++ ? ", " : "", node);
	fclose(f);
	net_deadline(&t->t_net, "no answer from %s", list);
	free(list);
}

static void
trace_ask(struct trace *t, const char *node)
{
	json_object_set_new(t->t_asked, node, json_false());
	aemp_snd(t->t_net.nt_node, node, json_pack("[sss]", "up_nodes",
	    t->t_reply, node));
}

static void
add_edge(struct trace *t, const char *a, const char *b)
{
	char *key;

	if (strcmp(a, b) > 0) {
		const char *x = a;
		a = b;
		b = x;
	}
	key = ae_xasprintf("%s\n%s", a, b);
	if (json_object_get(t->t_edges, key) == NULL) {
		json_object_set_new(t->t_edges, key, json_pack("[ss]", a, b));
		json_array_append_new(t->t_order, json_string(key));
	}
	free(key);
}

/*
 * [NODE, up nodes...]: print the line (without ourselves, as the
 * reference does), then ask every node not asked yet.
 */
static int
trace_reply(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct trace *t = ud;
	const char *node = json_string_value(json_array_get(msg, 0)), *up;
	json_t *neigh = json_array(), *v;
	size_t i;

	(void)self;
	if (node == NULL || t->t_net.nt_done ||
	    !json_is_false(json_object_get(t->t_asked, node))) {
		json_decref(neigh);
		return 0;	/* not an answer we are waiting for */
	}
	json_object_set_new(t->t_asked, node, json_true());
	json_array_append_new(t->t_nodes, json_string(node));
	for (i = 1; i < json_array_size(msg); i++) {
		up = json_string_value(json_array_get(msg, i));
		if (up != NULL && strcmp(up, aemp_nodeid(n)) != 0)
			json_array_append_new(neigh, json_string(up));
	}
	if (!t->t_dot) {
		char *words = aemp_words(neigh);
		printf("%s%s%s\n", node, *words ? " " : "", words);
		free(words);
	}
	json_array_foreach(neigh, i, v) {
		up = json_string_value(v);
		add_edge(t, node, up);
		if (json_object_get(t->t_asked, up) == NULL)
			trace_ask(t, up);
	}
	json_decref(neigh);
	json_object_foreach(t->t_asked, up, v)
		if (!json_is_true(v))
			break;
	if (up == NULL) {	/* everybody answered */
		if (t->t_dot)
			print_dot(t);
		net_finish(&t->t_net, 0);
	} else
		trace_arm(t);
	return 0;
}

static int
cmd_trace_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	struct trace t;
	const char *node = NULL;
	int rc, i;

	(void)self;
	if (net_options(cli, &argc, &argv, 1) < 0)
		return -1;
	memset(&t, 0, sizeof t);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dot") == 0)
			t.t_dot = 1;
		else if (node == NULL && argv[i][0] != '-')
			node = argv[i];
		else
			return cli_error(argv[0], "unexpected argument '%s' "
			    "(usage: aemp trace NODE [--dot]; trace ends a "
			    "chain)", argv[i]);
	}
	if (node == NULL)
		return cli_error(argv[0], "missing argument NODE");
	if (net_check_port(argv[0], node) < 0)
		return -1;
	if ((rc = net_open(&t.t_net, cli, argv[0])) == 0) {
		t.t_asked = json_object();
		t.t_nodes = json_array();
		t.t_edges = json_object();
		t.t_order = json_array();
		net_target(&t.t_net, node);
		t.t_reply = aemp_port(t.t_net.nt_node, trace_reply, &t);
		trace_ask(&t, t.t_net.nt_target);
		trace_arm(&t);
	}
	rc = status(&t.t_net, rc);
	json_decref(t.t_asked);
	json_decref(t.t_nodes);
	json_decref(t.t_edges);
	json_decref(t.t_order);
	return rc;
}

/* --- restart ----------------------------------------------------------- */

/*
 * Perl nodes restart through eval, as the reference's aemp does; aempd
 * is asked to call AEMPD_RESTART instead. Which one it is, the answer to
 * the eval probe says ("1", which a C node answers without logging an
 * eval attempt): sending the restart code itself would make every C node
 * log a refused eval, as if attacked.
 */
static int
restart_eval_reply(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct net *nt = ud;
	const char *err = json_string_value(json_array_get(msg, 0));

	(void)self;
	if (nt->nt_done)
		return 0;
	if (err != NULL && strcmp(err, NET_NO_EVAL) == 0) {
		aemp_snd(n, nt->nt_target, json_pack("[ss]", AEMPD_RESTART,
		    aemp_port(n, finish_json, nt)));
		net_deadline(nt, "%s did not confirm the restart (is it an "
		    "aempd?)", nt->nt_target);
		return 0;
	}
	if (err != NULL && *err == '\0') {	/* a Perl node */
		aemp_snd(n, nt->nt_target, json_pack("[sss]", "eval",
		    PERL_RESTART, aemp_port(n, eval_reply, nt)));
		net_deadline(nt, "no answer from %s", nt->nt_target);
		return 0;
	}
	return eval_reply(n, self, msg, ud);
}

static int
cmd_restart_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	struct net nt;
	int rc;

	(void)self;
	if (net_options(cli, &argc, &argv, 1) < 0)
		return -1;
	if (check_extra(argv, argc, 1) < 0 ||
	    net_check_port(argv[0], argv[1]) < 0)
		return -1;
	if ((rc = net_open(&nt, cli, argv[0])) == 0) {
		net_target(&nt, argv[1]);
		aemp_snd(nt.nt_node, nt.nt_target, json_pack("[sss]", "eval",
		    NET_EVAL_PROBE, aemp_port(nt.nt_node, restart_eval_reply,
		    &nt)));
		net_deadline(&nt, "no answer from %s", nt.nt_target);
	}
	return status(&nt, rc);
}

const struct aemp_cmd cmd_snd_entry = {
	"snd", NULL, 1, -1, "[--timeout SECONDS] PORT [ARG...]",
	"send a message to PORT as an anonymous node, then wait until PORT's "
	"node confirms it was delivered",
	CMD_READ, NULL, cmd_snd_exec
};
const struct aemp_cmd cmd_cal_entry = {
	"cal", NULL, 1, -1, "[--timeout SECONDS] PORT [ARG...]",
	"send a message with a reply port appended to PORT and print the "
	"reply as comma-separated JSON",
	CMD_READ, NULL, cmd_cal_exec
};
const struct aemp_cmd cmd_mon_entry = {
	"mon", NULL, 1, -1, "[--timeout SECONDS] PORT",
	"wait until PORT dies and print the reason it was killed with",
	CMD_READ, NULL, cmd_mon_exec
};
const struct aemp_cmd cmd_eval_entry = {
	"eval", NULL, 2, -1, "[--timeout SECONDS] NODE EXPR...",
	"evaluate Perl code on NODE (Perl nodes only) and print the results",
	CMD_READ, NULL, cmd_eval_exec
};
const struct aemp_cmd cmd_trace_entry = {
	"trace", NULL, 1, -1, "[--timeout SECONDS] NODE [--dot]",
	"print every node reachable from NODE with the nodes it is connected "
	"to, or with --dot a Graphviz graph of the mesh",
	CMD_READ, NULL, cmd_trace_exec
};
const struct aemp_cmd cmd_restart_entry = {
	"restart", NULL, 1, -1, "[--timeout SECONDS] NODE",
	"make aempd (or a Perl node under AnyEvent::Watchdog) on NODE restart "
	"itself",
	CMD_READ, NULL, cmd_restart_exec
};

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * cmd-shell.c: an interactive shell on a node of the network: Perl code
 * for Perl nodes (eval), node port requests for nodes that refuse eval.
 *
 * Lines are handled one at a time, each after the answer to the one
 * before (or its timeout), so piped input gives ordered output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "net.h"
#include "xmalloc.h"

enum shell_mode {
	MODE_PROBE,		/* asking whether the node evaluates Perl */
	MODE_PERL,		/* lines are Perl code for eval */
	MODE_REQUEST		/* lines are node port requests */
};

struct shell {
	struct net	 s_net;
	char		*s_node;	/* the node lines go to */
	char		*s_next;	/* the node being probed by =NAME */
	enum shell_mode	 s_mode;
	struct evbuffer	*s_in;
	struct event	*s_ev;		/* standard input */
	char		*s_reply;	/* the reply port being waited on */
	aemp_timer	*s_timer;	/* its timeout */
	aemp_watch	*s_watch;	/* waiting for a first node */
	int		 s_words;	/* print the answer as words */
	int		 s_eof;
	int		 s_tty;
};

static void	shell_lines(struct shell *);

/* Node port requests that answer to a reply port (AEMP.md section 5). */
static const char *const replying[] = {
	"info", "known_nodes", "up_nodes", "time", "eval", NULL
};

static void
prompt(struct shell *s)
{
	if (!s->s_tty || s->s_node == NULL)
		return;
	printf("%s%s> ", s->s_node, s->s_mode == MODE_REQUEST ?
	    " (requests)" : "");
	fflush(stdout);
}

static void
help(struct shell *s)
{
	printf("  =              list the nodes this shell is connected to\n"
	    "  =NODE          talk to NODE\n"
	    "  quit, exit     leave (so does end of input)\n");
	if (s->s_mode == MODE_REQUEST)
		printf("  TAG [ARG...]   send a node port request and print "
		    "the reply: info,\n"
		    "                 known_nodes, up_nodes, time, "
		    "Pkg::func (a registered\n"
		    "                 function); snd PORT ARG..., kil PORT "
		    "REASON..., devnull\n"
		    "                 are only confirmed. ARGs starting with "
		    "[ { or \" are JSON.\n");
	else
		printf("  CODE           evaluate Perl code on the node and "
		    "print the results\n");
	fflush(stdout);
}

/* Stops waiting for an answer: the next line may go. */
static void
answered(struct shell *s)
{
	aemp_node *n = s->s_net.nt_node;

	aemp_timer_cancel(n, s->s_timer);
	s->s_timer = NULL;
	if (s->s_reply != NULL) {
		char *reply = s->s_reply;

		s->s_reply = NULL;	/* its monitor then ignores the kill */
		aemp_kil(n, reply, NULL);
		free(reply);
	}
	fflush(stdout);
	prompt(s);
	shell_lines(s);
}

static void
switched(struct shell *s, enum shell_mode mode)
{
	free(s->s_node);
	s->s_node = s->s_next;
	s->s_next = NULL;
	s->s_mode = mode;
	if (mode == MODE_REQUEST) {
		printf("%s does not evaluate Perl: lines are node port "
		    "requests (type help).\n", s->s_node);
		fflush(stdout);
	}
}

static int
on_answer(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct shell *s = ud;
	const char *err;
	json_t *res;
	size_t i;

	(void)n;
	if (s->s_reply == NULL || strcmp(self, s->s_reply) != 0)
		return 0;	/* an answer that came too late */
	if (s->s_next != NULL) {
		err = json_string_value(json_array_get(msg, 0));
		switched(s, err != NULL && strcmp(err, NET_NO_EVAL) == 0 ?
		    MODE_REQUEST : MODE_PERL);
	} else if (s->s_words)
		net_print_words(msg);
	else if (s->s_mode == MODE_PERL) {
		err = json_string_value(json_array_get(msg, 0));
		res = json_array();
		for (i = 1; i < json_array_size(msg); i++)
			json_array_append(res, json_array_get(msg, i));
		if (err != NULL && *err != '\0') {
			fflush(stdout);
			fprintf(stderr, "%.*s\n", (int)strcspn(err, "\n"), err);
		} else
			net_print_json(res);
		json_decref(res);
	} else
		net_print_json(msg);
	answered(s);
	return 0;
}

/* A request got no answer (said on stderr): a probed node is given up. */
static void
unanswered(struct shell *s)
{
	if (s->s_next != NULL) {
		free(s->s_next);
		s->s_next = NULL;
		if (s->s_node == NULL) {	/* nowhere to stay */
			net_finish(&s->s_net, 1);
			return;
		}
	}
	answered(s);
}

static void
timed_out(aemp_node *n, void *ud)
{
	struct shell *s = ud;
	const char *node = s->s_next ? s->s_next : s->s_node;

	(void)n;
	s->s_timer = NULL;
	fflush(stdout);
	fprintf(stderr, "aemp: shell: no answer from %s within %g seconds\n",
	    node, s->s_net.nt_timeout);
	unanswered(s);
}

/*
 * The reply port was killed: by a C node that does not have the function
 * asked for (nodeport.c). The next line may go.
 */
static void
reply_killed(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct shell *s = ud;
	char *why;

	(void)n;
	if (s->s_reply == NULL || strcmp(port, s->s_reply) != 0)
		return;
	why = net_reason(reason);
	fflush(stdout);
	fprintf(stderr, "aemp: shell: %s: %s\n", s->s_next ? s->s_next :
	    s->s_node, *why ? why : "the reply port was killed");
	free(why);
	unanswered(s);
}

/* Sends msg (stolen) to the node port of node with a reply port added. */
static void
ask(struct shell *s, const char *node, json_t *msg, int append)
{
	aemp_node *n = s->s_net.nt_node;

	s->s_reply = ae_xstrdup(aemp_port(n, on_answer, s));
	aemp_mon_cb(n, s->s_reply, reply_killed, s);
	if (append)
		json_array_append_new(msg, json_string(s->s_reply));
	aemp_snd(n, node, msg);
	s->s_timer = aemp_after(n, s->s_net.nt_timeout, timed_out, s);
}

/* =NODE: ask whether it evaluates Perl; the switch happens on the answer. */
static void
probe(struct shell *s, const char *node)
{
	free(s->s_next);
	s->s_next = ae_xstrdup(node);
	s->s_words = 0;
	ask(s, node, json_pack("[ss]", "eval", NET_EVAL_PROBE), 1);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
list_nodes(struct shell *s)
{
	json_t *up = aemp_up_nodes(s->s_net.nt_node);
	const char **names = ae_xcalloc(json_array_size(up) + 1, sizeof *names);
	size_t i, count = json_array_size(up);

	for (i = 0; i < count; i++)
		names[i] = json_string_value(json_array_get(up, i));
	qsort(names, count, sizeof *names, cmp_str);
	for (i = 0; i < count; i++)
		printf("%s %s\n", s->s_node != NULL &&
		    strcmp(names[i], s->s_node) == 0 ? "*" : " ", names[i]);
	fflush(stdout);
	free(names);
	json_decref(up);
}

/* Splits a request line into words; words starting with [ { " are JSON. */
static json_t *
request_words(const char *line)
{
	json_t *words = json_array(), *v;
	json_error_t je;
	const char *p = line;
	size_t len;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			return words;
		if (strchr("[{\"", *p) != NULL) {
			v = json_loadb(p, strlen(p), JSON_DISABLE_EOF_CHECK |
			    JSON_DECODE_ANY, &je);
			if (v == NULL) {
				fprintf(stderr, "aemp: shell: invalid JSON at "
				    "column %d: %s\n", (int)(p - line) +
				    je.column, je.text);
				json_decref(words);
				return NULL;
			}
			json_array_append_new(words, v);
			p += je.position;
			continue;
		}
		len = strcspn(p, " \t");
		json_array_append_new(words, json_stringn(p, len));
		p += len;
	}
}

/* Confirms a request that has no answer, as snd does: an echo behind it. */
static void
relay_confirm(struct shell *s)
{
	aemp_node *n = s->s_net.nt_node;

	s->s_reply = ae_xstrdup(aemp_port(n, on_answer, s));
	aemp_snd(n, s->s_node, json_pack("[sss]", "snd", s->s_reply,
	    "message sent successfully"));
	s->s_timer = aemp_after(n, s->s_net.nt_timeout, timed_out, s);
}

static void
handle(struct shell *s, char *line)
{
	size_t len = strlen(line);

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
	    line[len - 1] == '\t'))
		line[--len] = '\0';
	line += strspn(line, " \t");
	if (*line == '\0') {
		prompt(s);
		return;
	}
	if (strcmp(line, "quit") == 0 || strcmp(line, "exit") == 0) {
		s->s_eof = 1;
		return;
	}
	if (strcmp(line, "help") == 0 || strcmp(line, "?") == 0) {
		help(s);
		prompt(s);
		return;
	}
	if (line[0] == '=') {
		line++;
		line += strspn(line, " \t");
		if (*line == '\0') {
			list_nodes(s);
			prompt(s);
		} else if (net_check_port("shell", line) == 0) {
			char *node = aemp_node_of(line);
			probe(s, node);
			free(node);
		} else
			prompt(s);
		return;
	}
	if (s->s_mode == MODE_PERL) {
		s->s_words = 0;
		ask(s, s->s_node, json_pack("[ss]", "eval", line), 1);
	} else if (s->s_mode == MODE_REQUEST) {
		json_t *words = request_words(line);
		const char *tag = json_string_value(json_array_get(words, 0));
		const char *const *r;
		int reply;

		if (tag == NULL) {
			if (words != NULL)
				fprintf(stderr, "aemp: shell: a request starts "
				    "with its name (type help)\n");
			json_decref(words);
			prompt(s);
			return;
		}
		reply = strstr(tag, "::") != NULL;
		for (r = replying; *r != NULL; r++)
			if (strcmp(tag, *r) == 0)
				reply = 1;
		s->s_words = !reply;
		if (reply)
			ask(s, s->s_node, words, 1);
		else {
			aemp_snd(s->s_net.nt_node, s->s_node, words);
			relay_confirm(s);
		}
	}
}

/* Handles the lines read so far, one at a time; leaves at the end. */
static void
shell_lines(struct shell *s)
{
	char *line;
	size_t len;

	/* before the first node answered, lines wait */
	while (s->s_reply == NULL && s->s_node != NULL && !s->s_net.nt_done) {
		line = evbuffer_readln(s->s_in, &len, EVBUFFER_EOL_LF);
		if (line == NULL && s->s_eof && evbuffer_get_length(s->s_in)) {
			/* a last line without a line end */
			len = evbuffer_get_length(s->s_in);
			line = ae_xmalloc(len + 1);
			evbuffer_remove(s->s_in, line, len);
			line[len] = '\0';
		}
		if (line == NULL)
			break;
		handle(s, line);
		free(line);
	}
	if (s->s_eof && s->s_reply == NULL && s->s_node != NULL &&
	    !s->s_net.nt_done) {
		if (s->s_tty)
			printf("\n");
		net_finish(&s->s_net, 0);
	}
}

static void
on_stdin(evutil_socket_t fd, short what, void *arg)
{
	struct shell *s = arg;

	(void)what;
	if (evbuffer_read(s->s_in, fd, 4096) <= 0) {
		s->s_eof = 1;
		event_del(s->s_ev);
	}
	shell_lines(s);
}

/* Without a NODE: the first node that comes up (a seed). */
static void
first_up(aemp_node *n, const char *nodeid, int up, json_t *reason, void *ud)
{
	struct shell *s = ud;

	(void)n; (void)reason;
	if (!up || s->s_node != NULL || s->s_next != NULL)
		return;
	aemp_timer_cancel(n, s->s_timer);
	s->s_timer = NULL;
	probe(s, nodeid);
}

static void
nobody_up(aemp_node *n, void *ud)
{
	struct shell *s = ud;

	(void)n;
	s->s_timer = NULL;
	cli_error("shell", "no node came up within %g seconds",
	    s->s_net.nt_timeout);
	net_finish(&s->s_net, 1);
}

static int
cmd_shell_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	struct shell s;
	aemp_node *n;
	int rc;

	(void)self;
	if (net_options(cli, &argc, &argv, 0) < 0)
		return -1;
	if (argc > 2)
		return cli_error(argv[0], "unexpected argument '%s' (shell "
		    "must be the last command)", argv[2]);
	if (argc > 1 && net_check_port(argv[0], argv[1]) < 0)
		return -1;
	memset(&s, 0, sizeof s);
	if (net_open(&s.s_net, cli, argv[0]) < 0)
		return -1;
	n = s.s_net.nt_node;
	s.s_tty = isatty(STDIN_FILENO);
	s.s_in = evbuffer_new();
	/* a file's lines are all there: read now, to the end */
	if ((s.s_eof = aemp_read_unpollable(STDIN_FILENO, s.s_in)) < 0) {
		cli_error(argv[0], "standard input: %s", strerror(errno));
		evbuffer_free(s.s_in);
		net_close(&s.s_net);
		return -1;
	}
	if (!s.s_eof)
		s.s_ev = event_new(aemp_base(n), STDIN_FILENO, EV_READ |
		    EV_PERSIST, on_stdin, &s);
	if (argc > 1) {
		char *node = aemp_node_of(argv[1]);
		probe(&s, node);
		free(node);
	} else {
		s.s_watch = aemp_mon_nodes(n, first_up, &s);
		s.s_timer = aemp_after(n, s.s_net.nt_timeout, nobody_up, &s);
	}
	if (s.s_tty)
		printf("aemp shell: type help for help.\n");
	if (s.s_ev != NULL)
		event_add(s.s_ev, NULL);
	rc = net_run(&s.s_net);
	aemp_timer_cancel(n, s.s_timer);
	aemp_watch_cancel(n, s.s_watch);
	if (s.s_ev != NULL)
		event_free(s.s_ev);
	evbuffer_free(s.s_in);
	net_close(&s.s_net);
	free(s.s_node);
	free(s.s_next);
	free(s.s_reply);
	return rc == 0 ? 0 : -1;
}

const struct aemp_cmd cmd_shell_entry = {
	"shell", NULL, 0, -1, "[--timeout SECONDS] [NODE]",
	"read Perl code (Perl nodes) or node port requests (C nodes) and run "
	"them on NODE, printing the results; =NODE switches node",
	CMD_READ, NULL, cmd_shell_exec
};

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * chat_client.c: the tutorial's chat client, supervisor included: finds
 * the server in eg_chat_server (or tries again a second later), joins
 * with a fresh client port that dies with the server, and starts over
 * when that port dies. Lines read from stdin go to the server; lines
 * typed while there is none (before it is found, or while it is gone)
 * wait, up to QUEUE_MAX of them, and go once it is found.
 *
 * usage: chat_client NICK (configured by the profile store)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "aemp.h"

/* Lines kept while no server is known; beyond, the oldest is dropped. */
#define QUEUE_MAX	64

struct chat {
	aemp_node	*n;
	const char	*nick;
	char		*server;
	struct evbuffer	*input;
	struct event	*stdin_ev;
	json_t		*queue;		/* lines waiting for a server */
};

static void server_connect(aemp_node *, void *);

static int
on_message(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	char *text = aemp_words(msg);

	(void)n; (void)self; (void)ud;
	printf("\r  \r%s\n> ", text);
	fflush(stdout);
	free(text);
	return 0;
}

static void
on_client_gone(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct chat *c = ud;
	char *text = aemp_words(reason);

	(void)port;
	printf("\rdisconnected %s\n", text);
	fflush(stdout);
	free(text);
	free(c->server);
	c->server = NULL;	/* lines wait for the next one */
	server_connect(n, ud);
}

/* The lines typed before there was a server, in order, after the join. */
static void
say_queued(struct chat *c)
{
	size_t i;
	json_t *v;

	json_array_foreach(c->queue, i, v)
		aemp_sndf(c->n, c->server, "sss", "privmsg", c->nick,
		    json_string_value(v));
	json_array_clear(c->queue);
}

static void
say(struct chat *c, const char *line)
{
	json_t *v;

	if (c->server != NULL) {
		aemp_sndf(c->n, c->server, "sss", "privmsg", c->nick, line);
		return;
	}
	if ((v = json_string(line)) == NULL) {
		fprintf(stderr, "chat_client: a line that is not UTF-8 was "
		    "dropped\n");
		return;
	}
	if (json_array_size(c->queue) >= QUEUE_MAX) {
		fprintf(stderr, "chat_client: no server yet: the oldest of %d "
		    "waiting lines was dropped\n", QUEUE_MAX);
		json_array_remove(c->queue, 0);
	}
	json_array_append_new(c->queue, v);
}

static void
server_connect(aemp_node *n, void *ud)
{
	struct chat *c = ud;
	json_t *servers = aemp_find(n, "eg_chat_server");
	const char *client;

	if (servers == NULL) {
		aemp_after(n, 1, server_connect, c);
		return;
	}
	printf("\rconnecting...\n");
	fflush(stdout);
	client = aemp_port(n, on_message, c);
	aemp_mon_cb(n, client, on_client_gone, c);
	free(c->server);
	c->server = strdup(json_string_value(json_array_get(servers, 0)));
	json_decref(servers);
	aemp_sndf(n, c->server, "sss", "join", client, c->nick);
	aemp_mon_kill(n, c->server, client);
	say_queued(c);
}

/*
 * Each line read is sent to the server, as privmsg NICK LINE; at the end
 * of input, so is a last line without a line end.
 */
static void
say_lines(struct chat *c, int eof)
{
	char *line;
	size_t len;

	while ((line = evbuffer_readln(c->input, &len,
	    EVBUFFER_EOL_LF)) != NULL || (eof &&
	    (len = evbuffer_get_length(c->input)) > 0 &&
	    (line = (char *)evbuffer_pullup(c->input, -1)) != NULL &&
	    (line = strndup(line, len)) != NULL &&
	    evbuffer_drain(c->input, len) == 0)) {
		printf("> ");
		fflush(stdout);
		say(c, line);
		free(line);
	}
}

static void
on_stdin(evutil_socket_t fd, short what, void *arg)
{
	struct chat *c = arg;

	(void)what;
	if (evbuffer_read(c->input, fd, 4096) <= 0) {
		/* end of input: chatting is over, listening is not */
		event_del(c->stdin_ev);
		say_lines(c, 1);
		return;
	}
	say_lines(c, 0);
}

int
main(int argc, char **argv)
{
	struct chat c;
	char *err = NULL;

	if (argc != 2) {
		fprintf(stderr, "usage: chat_client NICK\n");
		return 2;
	}
	memset(&c, 0, sizeof c);
	c.nick = argv[1];
	c.queue = json_array();
	c.n = aemp_configure(NULL, NULL, &err);
	if (c.n == NULL) {
		fprintf(stderr, "chat_client: %s\n", err);
		free(err);
		return 1;
	}
	server_connect(c.n, &c);
	c.input = evbuffer_new();
	printf("> ");
	fflush(stdout);
	/*
	 * A file (or /dev/null) on stdin cannot be watched: its lines are
	 * all there, so they wait for the server now, like early typing.
	 */
	if (aemp_read_unpollable(STDIN_FILENO, c.input) != 0)
		say_lines(&c, 1);
	else {
		c.stdin_ev = event_new(aemp_base(c.n), STDIN_FILENO,
		    EV_READ | EV_PERSIST, on_stdin, &c);
		event_add(c.stdin_ev, NULL);
	}
	aemp_loop(c.n);
	if (c.stdin_ev != NULL)
		event_free(c.stdin_ev);
	evbuffer_free(c.input);
	aemp_free(c.n);
	free(c.server);
	json_decref(c.queue);
	return 0;
}

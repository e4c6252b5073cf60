/*
 * chat_server.c: the tutorial's chat server: a port in the global group
 * eg_chat_server relays "join" and "privmsg" to every client that joined,
 * and announces a client's quit with the reason its monitor gives. A
 * client whose node reads slower than the chat goes on gets its lines
 * from a backlog once the queue toward it has drained (the watermarks of
 * libaemp(3)), and is dropped when the backlog grows past BACKLOG_MAX.
 *
 * usage: chat_server (configured by the profile store, like "configure;")
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aemp.h"

#define QUEUE_HIGH	(256 * 1024)	/* queued toward a client's node */
#define QUEUE_LOW	(64 * 1024)
#define BACKLOG_MAX	10000		/* lines held for a slow client */

struct client {
	struct client	*prev, *next;
	struct server	*server;
	char		*port;
	char		*nick;
	json_t		*backlog;	/* lines not sent yet, oldest first */
	int		 kicked;
};

struct server {
	struct client	*clients;
};

/* Sends c its backlog while the queue toward its node has room. */
static void
catch_up(aemp_node *n, struct client *c)
{
	while (json_array_size(c->backlog) > 0 &&
	    aemp_queued(n, c->port) <= QUEUE_HIGH) {
		aemp_snd(n, c->port, json_pack("[O]",
		    json_array_get(c->backlog, 0)));
		json_array_remove(c->backlog, 0);
	}
}

static void
relay(aemp_node *n, struct client *c, const char *text)
{
	if (c->kicked)
		return;
	if (json_array_size(c->backlog) == 0 &&
	    aemp_queued(n, c->port) <= QUEUE_HIGH) {
		aemp_sndf(n, c->port, "s", text);
		return;
	}
	if (json_array_size(c->backlog) >= BACKLOG_MAX) {
		/* its monitor announces the quit */
		c->kicked = 1;
		aemp_kil(n, c->port, json_pack("[ss]", "chat_server",
		    "too slow, lines dropped"));
		return;
	}
	json_array_append_new(c->backlog, json_string(text));
}

static void
msg(aemp_node *n, struct server *s, const char *text)
{
	struct client *c;

	printf("relaying: %s\n", text);
	fflush(stdout);
	for (c = s->clients; c != NULL; c = c->next)
		relay(n, c, text);
}

/* The queue toward nodeid is down to QUEUE_LOW: its clients catch up. */
static void
on_drained(aemp_node *n, const char *nodeid, void *ud)
{
	struct server *s = ud;
	struct client *c;
	size_t len = strlen(nodeid);

	for (c = s->clients; c != NULL; c = c->next)
		if (strncmp(c->port, nodeid, len) == 0 && c->port[len] == '#')
			catch_up(n, c);
}

static void
on_client_gone(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct client *c = ud;
	struct server *s = c->server;
	char *why = aemp_words(reason), *text;

	(void)port;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (asprintf(&text, "%s (quits, %s)", c->nick, why) >= 0) {
		msg(n, s, text);
		free(text);
	}
	free(why);
	json_decref(c->backlog);
	free(c->port);
	free(c->nick);
	free(c);
}

static int
on_join(aemp_node *n, const char *self, json_t *m, void *ud)
{
	struct server *s = ud;
	const char *port = json_string_value(json_array_get(m, 0));
	const char *nick = json_string_value(json_array_get(m, 1));
	struct client *c;
	char *text;

	(void)self;
	if (port == NULL || nick == NULL)
		return aemp_die(n, "join needs a client port and a nick");
	for (c = s->clients; c != NULL; c = c->next)
		if (strcmp(c->port, port) == 0)
			break;
	if (c == NULL) {
		c = calloc(1, sizeof *c);
		c->server = s;
		c->port = strdup(port);
		c->nick = strdup(nick);
		c->backlog = json_array();
		c->next = s->clients;
		if (c->next != NULL)
			c->next->prev = c;
		s->clients = c;
		aemp_mon_cb(n, port, on_client_gone, c);
	}
	if (asprintf(&text, "%s (joins)", nick) >= 0) {
		msg(n, s, text);
		free(text);
	}
	return 0;
}

static int
on_privmsg(aemp_node *n, const char *self, json_t *m, void *ud)
{
	const char *nick = json_string_value(json_array_get(m, 0));
	const char *line = json_string_value(json_array_get(m, 1));
	char *text;

	(void)self;
	if (asprintf(&text, "%s: %s", nick ? nick : "",
	    line ? line : "") >= 0) {
		msg(n, ud, text);
		free(text);
	}
	return 0;
}

int
main(void)
{
	struct server s = { NULL };
	char *err = NULL;
	aemp_node *n = aemp_configure(NULL, NULL, &err);
	const char *server;

	if (n == NULL) {
		fprintf(stderr, "chat_server: %s\n", err);
		free(err);
		return 1;
	}
	server = aemp_port(n, NULL, NULL);
	aemp_set_watermark(n, QUEUE_HIGH, QUEUE_LOW, on_drained, &s);
	aemp_rcv(n, server, "join", on_join, &s);
	aemp_rcv(n, server, "privmsg", on_privmsg, &s);
	if (aemp_register(n, "eg_chat_server", server) == NULL) {
		fprintf(stderr, "chat_server: %s\n", aemp_error(n));
		aemp_free(n);
		return 1;
	}
	fprintf(stderr, "server ready.\n");
	aemp_loop(n);
	aemp_free(n);
	return 0;
}

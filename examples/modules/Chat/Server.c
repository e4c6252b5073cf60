/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * Chat/Server.c: the tutorial's chat server as an aempd service module
 * (module Chat::Server, file Chat/Server.so in the module path).
 *
 *   aemp profile chat addservice Chat::Server::start
 *   aemp run profile chat
 *
 * Chat::Server::start makes a server port in the global group
 * eg_chat_server that relays "join" and "privmsg" to every client that
 * joined and announces a client's quit with the reason its monitor gives,
 * so the tutorial's chat_client works with it unchanged. Spawned
 * remotely (spawn NODE, "Chat::Server::start"), the spawned port itself
 * becomes a server.
 *
 * aempd loads one copy of a module per process (dlopen), but a program
 * may run several nodes: state is kept per node, in a list the module
 * owns, and freed by aemp_module_fini() before aempd frees the node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aemp.h"

struct client {
	struct client	*prev, *next;
	struct server	*server;
	char		*port;
	char		*nick;
	aemp_mon	*mon;
};

struct server {
	struct server	*next;
	struct chat	*chat;
	char		*port;
	struct client	*clients;
	aemp_mon	*self_mon;
	aemp_grp	*reg;
};

/* What the module keeps for one node. */
struct chat {
	struct chat	*next;
	aemp_node	*node;
	struct server	*servers;
};

static struct chat *chats;	/* one per node that loaded the module */

static void
relay(aemp_node *n, struct server *s, const char *text)
{
	struct client *c;

	aemp_log(n, 8, "chat: relaying: %s", text);
	for (c = s->clients; c != NULL; c = c->next)
		aemp_sndf(n, c->port, "s", text);
}

static void
client_free(struct client *c)
{
	free(c->port);
	free(c->nick);
	free(c);
}

static void
client_unlink(struct client *c)
{
	struct server *s = c->server;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
}

static void
on_client_gone(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct client *c = ud;
	char *why = aemp_words(reason), *text;

	(void)port;
	client_unlink(c);
	if (asprintf(&text, "%s (quits, %s)", c->nick, why) >= 0) {
		relay(n, c->server, text);
		free(text);
	}
	free(why);
	client_free(c);
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
		c->next = s->clients;
		if (c->next != NULL)
			c->next->prev = c;
		s->clients = c;
		c->mon = aemp_mon_cb(n, port, on_client_gone, c);
	}
	if (asprintf(&text, "%s (joins)", nick) >= 0) {
		relay(n, s, text);
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
		relay(n, ud, text);
		free(text);
	}
	return 0;
}

/* Frees a server and its clients, cancelling what still watches them. */
static void
server_free(aemp_node *n, struct server *s)
{
	struct client *c;

	while ((c = s->clients) != NULL) {
		client_unlink(c);
		aemp_mon_cancel(n, c->mon);
		client_free(c);
	}
	aemp_mon_cancel(n, s->self_mon);
	/* the guard outlives the port's registration: free it either way */
	aemp_grp_unreg(n, s->reg);
	free(s->port);
	free(s);
}

/* A server port died (killed, or a receiver failed): forget it. */
static void
on_server_gone(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct server *s = ud, **sp;

	(void)port; (void)reason;
	for (sp = &s->chat->servers; *sp != NULL; sp = &(*sp)->next)
		if (*sp == s) {
			*sp = s->next;
			break;
		}
	s->self_mon = NULL;	/* fired: gone */
	server_free(n, s);
}

/*
 * Chat::Server::start: run as a service (self is the node ID) it makes a
 * port of its own; spawned (self is a fresh port) it serves on self.
 */
static int
chat_server_start(aemp_node *n, const char *self, json_t *args, void *ud)
{
	struct chat *chat = ud;
	struct server *s;
	const char *port;
	int spawned;

	(void)args;
	s = calloc(1, sizeof *s);
	s->chat = chat;
	spawned = strchr(self, '#') != NULL && strchr(self, '#')[1] != '\0';
	port = spawned ? self : aemp_port(n, NULL, NULL);
	s->port = strdup(port);
	aemp_rcv(n, port, "join", on_join, s);
	aemp_rcv(n, port, "privmsg", on_privmsg, s);
	if ((s->reg = aemp_grp_reg(n, "eg_chat_server", port)) == NULL) {
		char *why = strdup(aemp_error(n));
		if (!spawned)	/* a spawned port dies of the failure */
			aemp_kil(n, port, NULL);
		server_free(n, s);
		aemp_die(n, "Chat::Server::start: %s", why);
		free(why);
		return -1;
	}
	s->self_mon = aemp_mon_cb(n, port, on_server_gone, s);
	s->next = chat->servers;
	chat->servers = s;
	aemp_log(n, 7, "chat: server %s ready.", port);
	return 0;
}

int	aemp_module_init(aemp_node *);
void	aemp_module_fini(aemp_node *);

int
aemp_module_init(aemp_node *n)
{
	struct chat *chat = calloc(1, sizeof *chat);

	if (chat == NULL)
		return -1;
	chat->node = n;
	chat->next = chats;
	chats = chat;
	return aemp_register_func(n, "Chat::Server::start", chat_server_start,
	    chat);
}

void
aemp_module_fini(aemp_node *n)
{
	struct chat **cp, *chat;
	struct server *s;

	for (cp = &chats; (chat = *cp) != NULL; cp = &chat->next)
		if (chat->node == n)
			break;
	if (chat == NULL)
		return;
	*cp = chat->next;
	while ((s = chat->servers) != NULL) {
		chat->servers = s->next;
		server_free(n, s);
	}
	free(chat);
}

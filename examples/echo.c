/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * echo.c: a node offering the spawnable function Echo::echo, whose port
 * answers ["ping", REPLY, DATA...] with ["pong", DATA...] to REPLY. The
 * counterpart of ping.c, and of the round-trip benchmark.
 *
 * usage: echo [KEY VALUE ...]   configure arguments, e.g.
 *        echo nodeid echo binds '["127.0.0.1:4050"]'
 * (the shared secret comes from the profile store: aemp gensecret)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aemp.h"
#include "example_args.h"

static int
on_ping(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	const char *reply = json_string_value(json_array_get(msg, 0));
	json_t *pong;

	(void)self; (void)ud;
	if (reply == NULL)
		return aemp_die(n, "ping without reply port");
	pong = json_array();
	json_array_append_new(pong, json_string("pong"));
	for (size_t i = 1; i < json_array_size(msg); i++)
		json_array_append(pong, json_array_get(msg, i));
	return aemp_snd(n, reply, pong);
}

static int
echo_start(aemp_node *n, const char *self, json_t *args, void *ud)
{
	(void)args; (void)ud;
	return aemp_rcv(n, self, "ping", on_ping, NULL);
}

int
main(int argc, char **argv)
{
	char *err = NULL;
	aemp_node *n = aemp_configure(NULL, example_args(argc - 1, argv + 1),
	    &err);

	if (n == NULL) {
		fprintf(stderr, "echo: %s\n", err);
		return 1;
	}
	aemp_register_func(n, "Echo::echo", echo_start, NULL);
	printf("echo node %s ready\n", aemp_nodeid(n));
	fflush(stdout);
	aemp_loop(n);
	aemp_free(n);
	return 0;
}

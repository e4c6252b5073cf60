/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * receiver.c: the tutorial's receiver: a port in the global group
 * eg_receivers prints the data of every "test" message sent to it.
 *
 * usage: receiver (configured by the profile store, like "configure;")
 */
#include <stdio.h>
#include <stdlib.h>

#include "aemp.h"

static int
on_test(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	json_t *data = json_array_get(msg, 0);
	char *text;

	(void)n; (void)self; (void)ud;
	if (json_is_string(data))
		printf("Received data: %s\n", json_string_value(data));
	else {
		text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
		printf("Received data: %s\n", text ? text : "");
		free(text);
	}
	fflush(stdout);
	return 0;
}

int
main(void)
{
	char *err = NULL;
	aemp_node *n = aemp_configure(NULL, NULL, &err);
	const char *port;

	if (n == NULL) {
		fprintf(stderr, "receiver: %s\n", err);
		free(err);
		return 1;
	}
	port = aemp_port(n, NULL, NULL);
	if (aemp_register(n, "eg_receivers", port) == NULL) {
		fprintf(stderr, "receiver: %s\n", aemp_error(n));
		aemp_free(n);
		return 1;
	}
	aemp_rcv(n, port, "test", on_test, NULL);
	aemp_loop(n);
	aemp_free(n);
	return 0;
}

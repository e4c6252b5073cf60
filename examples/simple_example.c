/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * simple_example.c: the tutorial's first program: a port receives the
 * message a node sends to itself.
 */
#include <stdio.h>
#include <stdlib.h>

#include "aemp.h"

static int
on_test(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	json_int_t *result = ud;

	(void)self;
	*result = json_integer_value(json_array_get(msg, 0));
	aemp_loopexit(n);
	return 0;
}

int
main(void)
{
	char *err = NULL;
	/* no binds: this node talks to nobody, so it needs no listener */
	aemp_node *n = aemp_configure(NULL, json_pack("{s[]}", "binds"), &err);
	json_int_t result = 0;
	const char *port;

	if (n == NULL) {
		fprintf(stderr, "simple_example: %s\n", err);
		return 1;
	}
	port = aemp_port(n, NULL, NULL);
	aemp_rcv(n, port, "test", on_test, &result);
	aemp_sndf(n, port, "si", "test", 123);
	aemp_loop(n);
	printf("Ending with: %lld\n", (long long)result);
	aemp_free(n);
	return 0;
}

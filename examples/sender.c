/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * sender.c: the tutorial's sender: every second, sends "test" and the
 * current time to every port in the global group eg_receivers.
 *
 * usage: sender (configured by the profile store, like "configure;")
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aemp.h"

static void
send_tests(aemp_node *n, void *ud)
{
	json_t *ports = aemp_find(n, "eg_receivers"), *port;
	size_t i;

	(void)ud;
	/* like AE::timer 0, 1: again in a second, found or not */
	aemp_after(n, 1, send_tests, NULL);
	json_array_foreach(ports, i, port)
		aemp_sndf(n, json_string_value(port), "sI", "test",
		    (json_int_t)time(NULL));
	json_decref(ports);
}

int
main(void)
{
	char *err = NULL;
	aemp_node *n = aemp_configure(NULL, NULL, &err);

	if (n == NULL) {
		fprintf(stderr, "sender: %s\n", err);
		free(err);
		return 1;
	}
	aemp_after(n, 0, send_tests, NULL);
	aemp_loop(n);
	aemp_free(n);
	return 0;
}

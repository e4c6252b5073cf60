/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fuzz_nodeport.c: libFuzzer target for node-port requests: any JSON a
 * peer could send to the node port "" must be handled or logged, never
 * crash or corrupt the node.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aemp.h"

static void
quiet(aemp_node *n, int level, const char *msg, void *ud)
{
	(void)n; (void)level; (void)msg; (void)ud;
}

static int
spawned(aemp_node *n, const char *self, json_t *args, void *ud)
{
	(void)args; (void)ud;
	return json_array_size(args) > 1 ? aemp_die(n, "no") :
	    aemp_rcv(n, self, NULL, NULL, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_base *base = event_base_new();
	aemp_node *n = aemp_configure(base, json_pack("{sb ss s[] ss}", "norc",
	    1, "nodeid", "fuzz", "binds", "secret", "s"), NULL);
	json_t *msg = json_loadb((const char *)data, size, 0, NULL);

	aemp_set_logger(n, quiet, NULL);
	aemp_register_func(n, "Fuzz::spawned", spawned, NULL);
	aemp_port(n, NULL, NULL);	/* fuzz#....a exists */
	if (json_is_array(msg)) {
		aemp_snd(n, "fuzz", json_incref(msg));
		/* and as if a peer had sent it */
		aemp_snd(n, "fuzz#", json_incref(msg));
		event_base_loop(base, EVLOOP_NONBLOCK);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	json_decref(msg);
	aemp_free(n);
	event_base_free(base);
	return 0;
}

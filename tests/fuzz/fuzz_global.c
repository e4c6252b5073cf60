/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fuzz_global.c: libFuzzer target for the global service's messages
 * (addr, nodes, set, reg0, reg1, find, seedme0, seedme1, setup, and
 * anything else) as a peer's global port would send them.
 *
 * Addresses that would make the node connect somewhere other than
 * loopback are rewritten to 127.0.0.1:1 (refused at once): a fuzzer must
 * never send traffic off this machine.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aemp.h"
#include "wire.h"

static void
quiet(aemp_node *n, int level, const char *msg, void *ud)
{
	(void)n; (void)level; (void)msg; (void)ud;
}

/* Rewrites every parsable host:port that is not 127.0.0.1 in v. */
static json_t *
confine(json_t *v)
{
	size_t i;
	const char *key;
	json_t *e;

	if (json_is_string(v)) {
		char *host = NULL, *port = NULL;
		int rewrite = ae_hostport_parse(json_string_value(v), &host,
		    &port) == 0 && (host == NULL || strcmp(host, "127.0.0.1"));
		free(host);
		free(port);
		if (rewrite) {
			json_decref(v);
			return json_string("127.0.0.1:1");
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			json_array_set_new(v, i, confine(json_incref(e)));
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, e)
			json_object_set_new(v, key, confine(json_incref(e)));
	}
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_base *base;
	aemp_node *n;
	json_t *msg = json_loadb((const char *)data, size, 0, NULL);
	char *port;

	if (!json_is_array(msg) || json_array_size(msg) == 0 ||
	    !json_is_string(json_array_get(msg, 0))) {
		json_decref(msg);
		return 0;
	}
	/* the tag stays as it is; everything after it is confined */
	for (size_t i = 1; i < json_array_size(msg); i++)
		json_array_set_new(msg, i, confine(json_incref(
		    json_array_get(msg, i))));
	base = event_base_new();
	n = aemp_configure(base, json_pack("{sb ss s[] ss sf}", "norc", 1,
	    "nodeid", "fuzz", "binds", "secret", "s", "monitor_timeout", 0.05),
	    NULL);
	aemp_set_logger(n, quiet, NULL);
	/* the global port a peer named "peer" would have spawned on us */
	port = aemp_spawn(n, "fuzz", "AnyEvent::MP::Global::connect",
	    json_pack("[is]", 0, "peer"));
	event_base_loop(base, EVLOOP_NONBLOCK);
	aemp_snd(n, port, msg);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	free(port);
	aemp_free(n);
	event_base_free(base);
	return 0;
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * nodeutil.c: in-process multi-node test helpers (see nodeutil.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodeutil.h"
#include "testutil.h"

void
tn_isolate(void)
{
	setenv("AEMP_RC", "/nonexistent/aemp-test/aemp.db", 1);
	unsetenv("AEMP_PROFILE");
}

aemp_node *
tn_node(struct event_base *base, const char *id, json_t *extra)
{
	json_t *cfg = json_pack("{ss ss s[s] ss}", "profile", id, "nodeid", id,
	    "binds", "127.0.0.1:*", "secret", "testsecret");
	char *err = NULL;
	aemp_node *n;

	if (extra != NULL) {
		json_object_update(cfg, extra);
		json_decref(extra);
	}
	n = aemp_configure(base, cfg, &err);
	if (n == NULL) {
		fprintf(stderr, "tn_node %s: %s\n", id, err ? err : "?");
		free(err);
	}
	return n;
}

const char *
tn_addr(aemp_node *n)
{
	return json_string_value(json_array_get(aemp_listeners(n), 0));
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
}

int
tn_run_until(struct event_base *base, volatile int *flag, double seconds)
{
	double end = test_now() + seconds;
	struct timeval tv = { 0, 10000 };
	struct event *ev = event_new(base, -1, EV_PERSIST, tick, NULL);

	event_add(ev, &tv);
	while ((flag == NULL || *flag == 0) && test_now() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(ev);
	return flag != NULL ? *flag : 0;
}

void
tn_run_for(struct event_base *base, double seconds)
{
	tn_run_until(base, NULL, seconds);
}

static void
capture(aemp_node *n, int level, const char *msg, void *ud)
{
	struct tn_log *log = ud;
	size_t mlen = strlen(msg);

	(void)n; (void)level;
	log->text = realloc(log->text, log->len + mlen + 2);
	memcpy(log->text + log->len, msg, mlen);
	log->len += mlen;
	log->text[log->len++] = '\n';
	log->text[log->len] = '\0';
}

void
tn_log_capture(aemp_node *n, struct tn_log *log)
{
	aemp_set_logger(n, capture, log);
}

int
tn_log_has(struct tn_log *log, const char *needle)
{
	return log->text != NULL && strstr(log->text, needle) != NULL;
}

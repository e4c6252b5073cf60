/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * nodeutil.h: helpers for tests that run several nodes in one process on
 * one event base, all on 127.0.0.1.
 */
#ifndef NODEUTIL_H
#define NODEUTIL_H

#include "aemp.h"

/* Points AEMP_RC at a file that does not exist: the store adds nothing. */
void	 tn_isolate(void);
/* A node named id, bound to 127.0.0.1 (ephemeral), secret "testsecret",
 * with extra configuration from extra (stolen, may be NULL). */
aemp_node *tn_node(struct event_base *, const char *id, json_t *extra);
/* The first listener address of n (borrowed). */
const char *tn_addr(aemp_node *);
/* Runs base until *flag != 0 or seconds pass; returns *flag. */
int	 tn_run_until(struct event_base *, volatile int *flag, double seconds);
/* Runs base for seconds. */
void	 tn_run_for(struct event_base *, double seconds);

/* A log sink that keeps everything logged, for assertions. */
struct tn_log {
	char	*text;
	size_t	 len;
};
void	 tn_log_capture(aemp_node *, struct tn_log *);
int	 tn_log_has(struct tn_log *, const char *needle);

#endif

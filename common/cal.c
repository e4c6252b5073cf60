/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * cal.c: aemp_cal(), a request with a reply port, a monitor and a
 * timeout.
 */
#include <stdlib.h>

#include "kernel.h"
#include "xmalloc.h"

/* --- cal ----------------------------------------------------------------- */

struct cal {
	aemp_cal_fn	 cb;
	void		*ud;
	char		*rport;
	aemp_timer	*timer;
	aemp_mon	*target_mon;
	int		 done;
};

static void
cal_finish(aemp_node *n, struct cal *c, json_t *reply)
{
	if (c->done)
		return;
	c->done = 1;
	c->cb(n, reply, c->ud);
	aemp_kil(n, c->rport, NULL);
}

static int
cal_reply(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	(void)self;
	cal_finish(n, ud, msg);
	return 0;
}

static void
cal_timeout(aemp_node *n, void *ud)
{
	struct cal *c = ud;

	c->timer = NULL;
	cal_finish(n, c, NULL);
}

static void
cal_target_died(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct cal *c = ud;

	(void)port; (void)reason;
	c->target_mon = NULL;
	cal_finish(n, c, NULL);
}

static void
cal_rport_died(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct cal *c = ud;

	(void)port; (void)reason;
	aemp_timer_cancel(n, c->timer);
	aemp_mon_cancel(n, c->target_mon);
	free(c->rport);
	free(c);
}

int
aemp_cal(aemp_node *n, const char *port, json_t *msg, aemp_cal_fn cb,
    void *ud, double timeout)
{
	struct cal *c;

	if (!json_is_array(msg)) {
		json_decref(msg);
		return ae_node_error(n, "cal: message must be a JSON array");
	}
	c = ae_xcalloc(1, sizeof *c);
	c->cb = cb;
	c->ud = ud;
	c->rport = ae_xstrdup(aemp_port(n, cal_reply, c));
	json_array_append_new(msg, json_string(c->rport));
	aemp_mon_cb(n, c->rport, cal_rport_died, c);
	if (timeout > 0)
		c->timer = aemp_after(n, timeout, cal_timeout, c);
	else
		c->target_mon = aemp_mon_cb(n, port, cal_target_died, c);
	return aemp_snd(n, port, msg);
}

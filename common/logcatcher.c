/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * logcatcher.c: network-wide log collection (AnyEvent::MP::LogCatcher,
 * AEMP-TLS-EXT.md section 12).
 *
 * Source side: a catcher's connect request installs a hook for its port
 * RPORT and LEVEL; every line the node logs at or below LEVEL goes to
 * RPORT as [level, text], whatever the node's own log level (aemp_log()
 * asks ae_logcatcher_forward() before its level filter). A monitor on RPORT
 * removes the hook. Lines logged while forwarding are not forwarded: a
 * send that logs would otherwise feed itself. Sends only queue, so the
 * logger never blocks.
 *
 * Catcher side: aemp_log_catch() (and the service function catch) asks
 * every node that is up, and every node that comes up later, to send its
 * lines to a port of ours, one per node.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel.h"
#include "logcatcher.h"
#include "services.h"
#include "xmalloc.h"

#define LC_CONNECT	"AnyEvent::MP::LogCatcher::connect"
#define LC_CATCH	"AnyEvent::MP::LogCatcher::catch"

/* A catcher that our lines go to. */
struct lchook {
	struct lchook	*next;
	char		*rport;
	int		 level;
	int		 dead;		/* its monitor fired: freed later */
	aemp_mon	*mon;
};

/* One node we catch from: our port for its lines. */
struct lcnode {
	struct lcnode	*next;
	char		*node;
	char		*port;
};

struct lcstate {
	struct lchook	*hooks;
	int		 forwarding;	/* inside ae_logcatcher_forward() */
	int		 started;	/* "starting log catcher service." */
	int		 sweep_queued;
	/* catcher side */
	int		 catching;
	int		 level;
	aemp_caught_fn	 cb;
	void		*ud;
	aemp_watch	*watch;
	struct lcnode	*nodes;
};

/* --- source side ------------------------------------------------------------ */

static void
hooks_level(aemp_node *n)
{
	struct lchook *h;

	n->lc_level = -1;
	for (h = n->lc->hooks; h != NULL; h = h->next)
		if (!h->dead && h->level > n->lc_level)
			n->lc_level = h->level;
}

static void
hook_free(aemp_node *n, struct lchook *h)
{
	aemp_mon_cancel(n, h->mon);
	free(h->rport);
	free(h);
}

/* Dead hooks leave the list outside ae_logcatcher_forward()'s loop. */
static void
hooks_sweep(aemp_node *n, void *arg)
{
	struct lcstate *lc = n->lc;
	struct lchook **pp = &lc->hooks, *h;

	(void)arg;
	lc->sweep_queued = 0;
	while ((h = *pp) != NULL) {
		if (h->dead) {
			*pp = h->next;
			h->mon = NULL;	/* it fired */
			hook_free(n, h);
		} else
			pp = &h->next;
	}
}

static void
hook_gone(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct lchook *h = ud;

	(void)port; (void)reason;
	h->dead = 1;
	hooks_level(n);
	if (!n->lc->sweep_queued) {
		n->lc->sweep_queued = 1;
		ae_node_call_later(n, hooks_sweep, NULL);
	}
}

void
ae_logcatcher_forward(aemp_node *n, int level, const char *msg)
{
	struct lcstate *lc = n->lc;
	struct lchook *h;

	if (lc == NULL || lc->forwarding || n->freeing)
		return;
	lc->forwarding = 1;
	for (h = lc->hooks; h != NULL; h = h->next)
		if (!h->dead && level <= h->level)
			aemp_snd(n, h->rport, json_pack("[is]", level, msg));
	lc->forwarding = 0;
}

/* connect(version, RPORT, LEVEL), from a catcher through our node port */
static int
req_connect(aemp_node *n, const char *self, json_t *args, void *ud)
{
	struct lcstate *lc = n->lc;
	const char *rport = json_string_value(json_array_get(args, 1));
	json_t *lv = json_array_get(args, 2);
	struct lchook *h;

	(void)self; (void)ud;
	if (rport == NULL || strchr(rport, '#') == NULL)
		return aemp_die(n, "log catcher connect without a port");
	if (!lc->started) {
		lc->started = 1;
		aemp_log(n, 7, "starting log catcher service.");
	}
	/*
	 * LEVEL null comes from a catcher that stopped (12.3): a Perl source
	 * then forwards level 0 only; we forward nothing.
	 */
	if (!json_is_number(lv))
		return 0;
	for (h = lc->hooks; h != NULL; h = h->next)
		if (!h->dead && strcmp(h->rport, rport) == 0)
			break;
	if (h == NULL) {
		h = ae_xcalloc(1, sizeof *h);
		h->rport = ae_xstrdup(rport);
		h->next = lc->hooks;
		lc->hooks = h;
		h->mon = aemp_mon_cb(n, rport, hook_gone, h);
	}
	h->level = (int)json_number_value(lv);
	hooks_level(n);
	return 0;
}

/* --- catcher side ----------------------------------------------------------- */

void
ae_logcatcher_print(aemp_node *n, const char *node, int level, const char *text,
    void *file)
{
	char stamp[32], *vis;
	time_t now = time(NULL);
	struct tm tm;
	size_t len = strlen(text);

	(void)n;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
	if (len > 0 && text[len - 1] == '\n')
		len--;
	/* another node's text: no escape sequences for our terminal, one line */
	vis = ae_text_visible(text, len, SIZE_MAX);
	fprintf(file, "%s [%s] <%d> %s\n", stamp, node, level, vis);
	fflush(file);
	free(vis);
}

static int
rcv_line(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct lcnode *cn = ud;
	struct lcstate *lc = n->lc;
	json_t *lv = json_array_get(msg, 0);
	const char *text = json_string_value(json_array_get(msg, 1));

	(void)self;
	if (!json_is_number(lv) || text == NULL || !lc->catching)
		return 0;
	if (lc->cb != NULL)
		lc->cb(n, cn->node, (int)json_number_value(lv), text, lc->ud);
	else
		ae_logcatcher_print(n, cn->node, (int)json_number_value(lv), text,
		    stderr);
	return 0;
}

static void
catch_node(aemp_node *n, const char *node)
{
	struct lcstate *lc = n->lc;
	struct lcnode *cn;

	if (strcmp(node, n->id) == 0)
		return;
	for (cn = lc->nodes; cn != NULL; cn = cn->next)
		if (strcmp(cn->node, node) == 0)
			return;
	cn = ae_xcalloc(1, sizeof *cn);
	cn->node = ae_xstrdup(node);
	cn->port = ae_xstrdup(aemp_port(n, rcv_line, cn));
	cn->next = lc->nodes;
	lc->nodes = cn;
	ae_remote_send_name(ae_remote_get(n, node, 1), "", json_pack("[sisi]",
	    LC_CONNECT, 0, cn->port, lc->level));
}

static void
lcnode_free(aemp_node *n, struct lcnode *cn, const char *why)
{
	if (!n->freeing)
		aemp_kil(n, cn->port, why != NULL ? json_pack("[s]", why) :
		    NULL);
	free(cn->node);
	free(cn->port);
	free(cn);
}

static void
nodes_event(aemp_node *n, const char *node, int up, json_t *reason, void *ud)
{
	struct lcstate *lc = n->lc;
	struct lcnode **pp, *cn;

	(void)reason; (void)ud;
	if (up) {
		catch_node(n, node);
		return;
	}
	for (pp = &lc->nodes; (cn = *pp) != NULL; pp = &cn->next)
		if (strcmp(cn->node, node) == 0) {
			*pp = cn->next;
			lcnode_free(n, cn, NULL);
			return;
		}
}

static void
catch_stop(aemp_node *n, const char *why)
{
	struct lcstate *lc = n->lc;

	while (lc->nodes != NULL) {
		struct lcnode *cn = lc->nodes;
		lc->nodes = cn->next;
		lcnode_free(n, cn, why);
	}
	if (lc->watch != NULL)
		aemp_watch_cancel(n, lc->watch);
	lc->watch = NULL;
	lc->catching = 0;
}

int
aemp_log_catch(aemp_node *n, int level, aemp_caught_fn cb, void *ud)
{
	struct lcstate *lc = n->lc;
	json_t *up;
	size_t i;

	/* the ports of an earlier catch die first: the sources drop them */
	catch_stop(n, "restart");
	if (level < 0)
		return 0;
	lc->catching = 1;
	lc->level = level;
	lc->cb = cb;
	lc->ud = ud;
	lc->watch = aemp_mon_nodes(n, nodes_event, NULL);
	up = aemp_up_nodes(n);
	for (i = 0; i < json_array_size(up); i++)
		catch_node(n, json_string_value(json_array_get(up, i)));
	json_decref(up);
	return 0;
}

/* The service: ["AnyEvent::MP::LogCatcher::catch", LEVEL] */
static int
req_catch(aemp_node *n, const char *self, json_t *args, void *ud)
{
	json_t *lv = json_array_get(args, 0);

	(void)self; (void)ud;
	if (lv != NULL && !json_is_number(lv) && !json_is_null(lv))
		return aemp_die(n, "catch: the level must be a number");
	if (!n->lc->started) {
		n->lc->started = 1;
		aemp_log(n, 7, "starting log catcher service.");
	}
	return aemp_log_catch(n, json_is_number(lv) ?
	    (int)json_number_value(lv) : -1, NULL, NULL);
}

/* --- life cycle ------------------------------------------------------------- */

void
ae_logcatcher_start(aemp_node *n)
{
	n->lc = ae_xcalloc(1, sizeof *n->lc);
	n->lc_level = -1;
	aemp_register_func(n, LC_CONNECT, req_connect, NULL);
	aemp_register_func(n, LC_CATCH, req_catch, NULL);
}

void
ae_logcatcher_free(aemp_node *n)
{
	struct lcstate *lc = n->lc;

	if (lc == NULL)
		return;
	catch_stop(n, NULL);
	while (lc->hooks != NULL) {
		struct lchook *h = lc->hooks;
		lc->hooks = h->next;
		if (h->dead)
			h->mon = NULL;
		hook_free(n, h);
	}
	free(lc);
	n->lc = NULL;
	n->lc_level = -1;
}

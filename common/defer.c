/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * defer.c: the kernel's deferred work, as node.c's queue hands it out.
 */
#include <stdlib.h>

#include "kernel.h"

/* --- deferred work ------------------------------------------------------- */

void
ae_kernel_run_defer(aemp_node *n, struct defer *d)
{
	switch (d->kind) {
	case DEFER_DELIVER:
		if (n->freeing)
			json_decref(d->msg);
		else if (d->tag != NULL)
			/* sndf's: msg without its tag, to a live port */
			ae_port_deliver_tag(n, d->to->dead ? ae_dict_get(&n->ports,
			    PORT_NAME(d->to)) : d->to, d->tag, d->msg);
		else if (d->to != NULL)
			/* killed since? then whoever has its name now */
			ae_port_deliver(n, d->to->dead ? ae_dict_get(&n->ports,
			    PORT_NAME(d->to)) : d->to, d->msg);
		else
			ae_kernel_deliver(n, d->port, d->msg, NULL);
		if (d->tag != NULL)
			ae_tagname_put(n, d->tag);
		break;
	case DEFER_PACKET:
		/* killed since? then whoever has its name now */
		ae_sndf_deliver(n, n->freeing || !d->to->dead ? d->to :
		    ae_dict_get(&n->ports, PORT_NAME(d->to)),
		    bytes_ptr(&n->local_pkts), d->pktlen, n->freeing);
		/* read before its receiver ran, which may have added more */
		ae_bytes_consume(&n->local_pkts, d->pktlen);
		break;
	case DEFER_KILL:
		ae_dict_del(&n->ports, PORT_NAME(d->dead));
		if (!n->freeing)
			ae_run_kill(n, d->dead, d->msg);
		else {
			/* monitors die with the node, unfired */
			struct aemp_mon *m;
			while (PORT_MONS(d->dead) != NULL &&
			    (m = TAILQ_FIRST(&PORT_MONS(d->dead)->mons)) !=
			    NULL) {
				ae_mon_unlink(m);
				ae_mon_free(m);
			}
			ae_port_free(n, d->dead);
		}
		json_decref(d->msg);
		break;
	case DEFER_MON_FIRE:
		/* a cancelled pending monitor is an MON_CB without cb */
		if (!n->freeing && (d->mon->kind != MON_CB || d->mon->cb != NULL))
			ae_mon_fire(n, d->mon, d->port, d->msg);
		ae_mon_free(d->mon);
		json_decref(d->msg);
		break;
	case DEFER_SPAWN:
		if (!n->freeing)
			ae_spawn_run(n, d->port, d->func, d->msg);
		json_decref(d->msg);
		break;
	case DEFER_CALL:
		if (!n->freeing && d->fn != NULL)
			d->fn(n, d->ud);
		break;
	case DEFER_FREE:
		d->fn(n, d->ud);
		break;
	}
	if (d->port != NULL)
		free(d->port);
	if (d->kind == DEFER_SPAWN)
		free(d->func);
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * services.h: the services on top of the kernel, as node.c starts and
 * frees them, and what one asks of another.
 */
#ifndef AEMP_SERVICES_H
#define AEMP_SERVICES_H

#include "node.h"

/* the global service: global.c */
void	 ae_global_start(aemp_node *);
void	 ae_global_free(aemp_node *);
json_t	*ae_global_node_addrs(aemp_node *, const char *node);
json_t	*ae_group_stats(aemp_node *);	/* group.c, for aemp_stats() */


/* dataconn.c (AEMP-TLS-EXT.md 11) */
void	 ae_dataconn_start(aemp_node *);
void	 ae_dataconn_free(aemp_node *);
size_t	 ae_dataconn_pending(aemp_node *);	/* IDs expected or being opened */

/* logcatcher.c (AEMP-TLS-EXT.md 12): the source side's log hook */
void	 ae_logcatcher_start(aemp_node *);
void	 ae_logcatcher_free(aemp_node *);
void	 ae_logcatcher_forward(aemp_node *, int level, const char *msg);

#endif

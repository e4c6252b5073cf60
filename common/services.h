/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * services.h: the services on top of the kernel, as node.c starts and
 * frees them, and what one asks of another.
 */
#ifndef AEMP_SERVICES_H
#define AEMP_SERVICES_H

#include "node.h"

/* the global service: global.c */
void	 global_start(aemp_node *);
void	 global_free(aemp_node *);
json_t	*global_node_addrs(aemp_node *, const char *node);
json_t	*group_stats(aemp_node *);	/* group.c, for aemp_stats() */


/* dataconn.c (AEMP-TLS-EXT.md 11) */
void	 dataconn_start(aemp_node *);
void	 dataconn_free(aemp_node *);
size_t	 dataconn_pending(aemp_node *);	/* IDs expected or being opened */

/* logcatcher.c (AEMP-TLS-EXT.md 12): the source side's log hook */
void	 logcatcher_start(aemp_node *);
void	 logcatcher_free(aemp_node *);
void	 logcatcher_forward(aemp_node *, int level, const char *msg);

#endif

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * kernel.h: what the kernel's files (port.c, sndf.c, mon.c, spawn.c,
 * cal.c, after.c, defer.c, watch.c, nodeport.c, kernel.c) share among
 * themselves. What the rest of libaemp calls is in internal.h.
 */
#ifndef AEMP_KERNEL_H
#define AEMP_KERNEL_H

#include "internal.h"

/* port.c */
int	 is_local(aemp_node *, const char *id, const char **name);
struct aemp_port *port_new(aemp_node *, const char *name);
struct mon_list *port_mons(struct aemp_port *);
void	 port_free(aemp_node *, struct aemp_port *);
void	 port_deliver(aemp_node *, struct aemp_port *, json_t *msg);
void	 port_deliver_tag(aemp_node *, struct aemp_port *,
	    const struct tagname *, json_t *msg);
struct aemp_port *port_live(aemp_node *, const char *id);
const struct tagname *port_tag_for(aemp_node *, struct aemp_port *,
	    const char *tag);
void	 tagname_put(aemp_node *, const struct tagname *);
void	 run_as(aemp_node *, struct aemp_port *, int (*call)(aemp_node *,
	    struct aemp_port *, void *), void *arg);
void	 port_kill(aemp_node *, struct aemp_port *, json_t *reason);
void	 run_kill(aemp_node *, struct aemp_port *, json_t *reason);
struct aemp_remote *remote_of(aemp_node *, const char *port,
	    size_t nodelen);

/* mon.c */
void	 mon_link(struct mon_list *, struct aemp_mon *);
struct aemp_mon *mon_new(enum mon_kind);
void	 mon_fire(aemp_node *, struct aemp_mon *, const char *portid,
	    json_t *reason);
void	 remote_mon_list_free(struct mon_list *);

/* spawn.c */
struct func *func_lookup(aemp_node *, const char *name);
void	 spawn_run(aemp_node *, const char *name, const char *func,
	    json_t *args);

/* after.c */
void	 timer_free(aemp_timer *);

/* watch.c */
void	 watch_sweep(aemp_watch **head);

/* nodeport.c: the node port's requests, one row each */
struct node_request {
	const char	*name;
	size_t		 min_args;	/* elements after the name */
	void		(*handler)(aemp_node *, json_t *msg, json_t *args,
			    struct aemp_remote *from);
};
extern const struct node_request node_requests[];
const struct node_request *node_request_find(const char *name);

#endif

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * kernel.h: the kernel's structs (monitors, ports, functions, the
 * program's timers, watches), what the layers above and node.c call in
 * it, and what its files (port.c, sndf.c, mon.c, spawn.c, cal.c, after.c,
 * defer.c, watch.c, nodeport.c, kernel.c) share among themselves.
 */
#ifndef AEMP_KERNEL_H
#define AEMP_KERNEL_H

#include "node.h"
#include "remote.h"
#include "names.h"

/* --- monitors ------------------------------------------------------------ */

enum mon_kind {
	MON_CB,		/* call a function */
	MON_KILL,	/* kill another port with the same reason */
	MON_SND,	/* send msg + reason */
	MON_REMOTE,	/* a remote node monitors a local port: send kil0 */
	MON_CAL		/* internal: a cal reply port watching its target */
};

/*
 * A monitor sits on the list of what it watches: a local port's list, or
 * a remote port's list in remote->lmon. Lists are doubly linked so that
 * cancelling is O(1). A monitor off every list that is about to fire
 * (from the deferred queue, or while its list fires) is pending: a cancel
 * then only defuses it.
 */
struct aemp_mon {
	enum mon_kind	 kind;
	struct mon_list	*list;
	TAILQ_ENTRY(aemp_mon) entry;	/* on list */
	int		 pending;
	aemp_mon_fn	 cb;
	void		*ud;
	char		*other;		/* MON_KILL, MON_SND: port to act on */
	json_t		*msg;		/* MON_SND */
	struct aemp_remote *remote;	/* MON_REMOTE */
};

struct mon_list {
	TAILQ_HEAD(, aemp_mon) mons;	/* in the order they were made */
	char		*portid;	/* full ID of the watched port */
	struct aemp_remote *remote;	/* owner when the port is remote */
	char		*name;		/* key in remote->lmon */
};

/* --- local ports ------------------------------------------------------- */

struct rcv {
	aemp_rcv_fn	 cb;
	void		*ud;
};

struct rcv_tag {
	struct rcv_tag	*next;
	struct rcv	 r;
	char		 tag[];
};

/* A tag string that receivers share, once per node (n->tagnames). */
struct tagname {
	size_t		 refs;
	size_t		 len : 63;
	size_t		 utf8 : 1;	/* valid UTF-8, as a message string */
	char		 s[];
};

static inline const char *
tagname_key(const void *v)
{
	return ((const struct tagname *)v)->s;
}

#define PORT_NAME_MAX	64	/* the prefixes are 9 and 16 characters */

/*
 * What few ports have: monitors, a second receiver. The monitor list is
 * always initialised.
 */
struct port_ext {
	struct mon_list	 ml;
	struct rcv	 def;		/* the default while first has a tag */
	struct rcv_tag	*tags;		/* tag receivers besides first's */
};

/*
 * One allocation per port, with its ID inside: a node may hold millions
 * of ports, most of them with one receiver and never monitored, so that
 * receiver is in the port (its tag shared), and the rest in ext, which is
 * allocated when needed. A port with first.tag NULL has first as its
 * default receiver (cb NULL: none); with a tag, the default is ext's.
 */
struct aemp_port {
	const struct tagname *tag;	/* first's tag, or NULL */
	struct rcv	 first;
	struct port_ext	*ext;		/* NULL until needed */
	unsigned	 nameoff : 31;	/* the name is id + nameoff */
	unsigned	 dead : 1;
	char		 id[];		/* NODEID#NAME */
};
#define PORT_MONS(p)	((p)->ext != NULL ? &(p)->ext->ml : NULL)
#define PORT_NAME(p)	((p)->id + (p)->nameoff)

/* The keys of the node's tables (dict.h): strings inside the values. */
static inline const char *
port_key(const void *v)
{
	return PORT_NAME((const struct aemp_port *)v);
}

static inline const char *
mon_list_key(const void *v)
{
	return ((const struct mon_list *)v)->name;
}

static inline const char *
mon_other_key(const void *v)
{
	return ((const struct aemp_mon *)v)->other;
}


struct func {
	char		*name;
	aemp_func_fn	 fn;
	void		*ud;
};

static inline const char *
func_key(const void *v)
{
	return ((const struct func *)v)->name;
}

struct aemp_timer {
	aemp_node	*node;
	LIST_ENTRY(aemp_timer) entry;	/* node->timers */
	int		 firing;	/* off the list, its callback running */
	struct ntimer	*ev;
	aemp_timer_fn	 cb;
	void		*ud;
	char		*port;		/* aemp_after_snd */
	json_t		*msg;
};

struct aemp_watch {
	TAILQ_ENTRY(aemp_watch) entry;	/* on one aemp_watch_list */
	aemp_nodes_fn	 nodes_cb;
	aemp_grp_fn	 grp_cb;
	char		*group;
	void		*ud;
	int		 cancelled;
};


/*
 * The kernel: kernel.c (ae_kernel_free), port.c (ae_kernel_deliver*,
 * ae_kernel_port_name), defer.c, mon.c (ae_kernel_drop, mon_*,
 * ae_kernel_remote_down), nodeport.c (ae_kernel_node_request).
 */
void	 ae_kernel_start(aemp_node *);
void	 ae_kernel_free(aemp_node *);
void	 ae_kernel_deliver(aemp_node *, const char *name, json_t *msg,
	    struct aemp_remote *from);
void	 ae_kernel_deliver_tagged(aemp_node *, const char *name,
	    const char *tag, size_t len, json_t *msg, struct aemp_remote *);
void	 ae_kernel_run_defer(aemp_node *, struct defer *);
/* A message from `from` to port name (may be NULL) was lost: see mon.c */
void	 ae_kernel_drop(aemp_node *, const char *name, const char *why,
	    struct aemp_remote *from);
void	 ae_kernel_node_request(aemp_node *, json_t *msg, struct aemp_remote *);
void	 ae_mon_list_fire(aemp_node *, struct mon_list *, json_t *reason);
void	 ae_mon_free(struct aemp_mon *);
void	 ae_mon_unlink(struct aemp_mon *);
char	*ae_kernel_port_name(aemp_node *, int remote);


/* sndf.c: a DEFER_PACKET's record (dropped: only released) */
void	 ae_sndf_deliver(aemp_node *, struct aemp_port *, const char *rec,
	    size_t len, int drop);

/* port.c */
int	 ae_is_local(aemp_node *, const char *id, const char **name);
struct aemp_port *ae_port_new(aemp_node *, const char *name);
struct mon_list *ae_port_mons(struct aemp_port *);
void	 ae_port_free(aemp_node *, struct aemp_port *);
void	 ae_port_deliver(aemp_node *, struct aemp_port *, json_t *msg);
void	 ae_port_deliver_tag(aemp_node *, struct aemp_port *,
	    const struct tagname *, json_t *msg);
void	 ae_port_deliver_fast(aemp_node *, struct aemp_port *,
	    const char *tag, size_t len, json_t *msg);
struct aemp_port *ae_port_live(aemp_node *, const char *id);
const struct tagname *ae_port_tag_for(aemp_node *, struct aemp_port *,
	    const char *tag);
void	 ae_tagname_put(aemp_node *, const struct tagname *);
void	 ae_run_as(aemp_node *, struct aemp_port *, int (*call)(aemp_node *,
	    struct aemp_port *, void *), void *arg);
void	 ae_port_kill(aemp_node *, struct aemp_port *, json_t *reason);
void	 ae_run_kill(aemp_node *, struct aemp_port *, json_t *reason);
struct aemp_remote *ae_remote_of(aemp_node *, const char *port,
	    size_t nodelen);

/*
 * The node sent to last when port (its first nodelen bytes) is on it,
 * else NULL. It is never this node (ae_remote_of() is asked only past
 * that test), so a port on it needs no comparison with our ID.
 */
static inline struct aemp_remote *
ae_remote_last(aemp_node *n, const char *port, size_t nodelen)
{
	struct aemp_remote *r = n->last_remote;

	return r != NULL && r->idlen == nodelen &&
	    memcmp(r->id, port, nodelen) == 0 ? r : NULL;
}

/* mon.c */
void	 ae_mon_link(struct mon_list *, struct aemp_mon *);
struct aemp_mon *ae_mon_new(enum mon_kind);
void	 ae_mon_fire(aemp_node *, struct aemp_mon *, const char *portid,
	    json_t *reason);
void	 ae_remote_mon_list_free(struct mon_list *);

/* spawn.c */
struct func *ae_func_lookup(aemp_node *, const char *name);
void	 ae_spawn_run(aemp_node *, const char *name, const char *func,
	    json_t *args);

/* after.c */
void	 ae_timer_free(aemp_timer *);

/*
 * mon.c: every monitor on r's ports fires with reason; the monitors on r
 * (its lmon, rmon) are freed unfired
 */
void	 ae_kernel_remote_down(aemp_node *, struct aemp_remote *, json_t *reason);
void	 ae_kernel_remote_forget(aemp_node *, struct aemp_remote *);

/* watch.c */
void	 ae_watch_sweep(struct aemp_watch_list *);
/* the node watches hear that id went up or down */
void	 ae_kernel_nodes_event(aemp_node *, const char *id, int up,
	    json_t *reason);

/* nodeport.c: the node port's requests, one row each */
struct node_request {
	const char	*name;
	size_t		 min_args;	/* elements after the name */
	void		(*handler)(aemp_node *, json_t *msg, json_t *args,
			    struct aemp_remote *from);
};
extern const struct node_request ae_node_requests[];
const struct node_request *ae_node_request_find(const char *name);

#endif

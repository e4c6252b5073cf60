/*
 * aempd.h: what the files of the node daemon share: its state, the
 * module loader, the service runner and systemd notification.
 */
#ifndef AEMPD_H
#define AEMPD_H

#include "aemp.h"
#include "store.h"

/* A shared object loaded from the module path, or a failed attempt. */
struct module {
	struct module	*m_next;
	char		*m_name;	/* "Chat::Server" */
	char		*m_path;	/* the file it was loaded from */
	void		*m_handle;	/* NULL: it could not be loaded */
};

struct modules {
	char		**ms_dirs;	/* the module path, searched in order */
	size_t		  ms_ndirs;
	char		 *ms_path;	/* as configured, for messages */
	struct module	 *ms_list;
};

/* The services of the profile and the order they run in. */
struct services {
	json_t		*sv_queue;	/* entries waiting to run */
	json_t		*sv_started;	/* every entry run so far */
	const char	*sv_port;	/* private port while the queue runs */
	void		(*sv_done)(void *);	/* once the queue is empty */
	void		*sv_done_ud;
};

struct status_http;

struct aempd {
	aemp_node	*d_node;
	struct event_base *d_base;
	json_t		*d_args;	/* configure arguments */
	int		 d_insecure;
	int		 d_level;	/* log level of the daemon */
	int		 d_node_level;	/* the node filters at this level */
	const char	*d_level_file;	/* --warnlevel-file, re-read on HUP */
	char		*d_exe;		/* what a restart executes */
	char		**d_argv;	/* and with which arguments */
	int		 d_restart;	/* exec d_exe once the loop ends */
	int		 d_ready;	/* READY=1 was sent */
	struct event	*d_watchdog;	/* WATCHDOG=1 from the loop, or NULL */
	struct modules	 d_mods;
	struct services	 d_svc;
	struct status_http *d_http;	/* status_bind, or NULL */
};

/* modules.c */
int	 modules_init(struct modules *, char **err);
int	 modules_load(struct modules *, aemp_node *, const char *pkg);
int	 modules_resolve(aemp_node *, const char *func, void *ud);
void	 modules_fini(struct modules *, aemp_node *);
void	 modules_free(struct modules *);

/* services.c */
int	 services_start(struct aempd *, json_t *list);
void	 services_reload(struct aempd *, json_t *list);
void	 services_free(struct services *);

/* http.c: the status page, /status.json and /metrics (status_bind) */
int	 http_start(struct aempd *, char **err);
void	 http_free(struct aempd *);

/* metrics.c */
struct evbuffer;
void	 metrics_write(struct evbuffer *, json_t *snapshot);

/* notify.c */
int	 notify_systemd(const char *state);
/*
 * The watchdog interval systemd asks for ($WATCHDOG_USEC, for this
 * process if $WATCHDOG_PID says so) in seconds, or 0 when none.
 */
double	 notify_watchdog_interval(void);

#endif

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * aempd.c: the node daemon: runs a node from a profile with its services
 * in the foreground until SIGINT or SIGTERM; SIGHUP reloads what can be
 * reloaded, and "aemp restart" makes it execute itself anew.
 */
#include <sys/prctl.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aempd.h"
#include "store.h"
#include "xmalloc.h"

/* The node port function "aemp restart" calls. */
#define RESTART_FUNC	"aempd::restart"
/* Time for the confirmation of a restart to leave before the sockets go. */
#define RESTART_DELAY	0.2
/* What a daemon logs unless told otherwise: start-up, listeners, peers. */
#define DEFAULT_LEVEL	8

static void
usage(FILE *f)
{
	fprintf(f,
"usage: aempd [--insecure] [--warnlevel-file FILE] [--profile NAME]\n"
"             [KEY VALUE ...]\n"
"       aempd [options] NAME [KEY VALUE ...]\n"
"\n"
"Run an AnyEvent::MP compatible node from profile NAME (default:\n"
"$AEMP_PROFILE, else the host name) of the configuration store ($AEMP_RC),\n"
"with KEY VALUE pairs as configure arguments (profile, nodeid, secret, binds,\n"
"seeds, services, monitor_timeout, connect_interval, framing_format,\n"
"auth_offer, auth_accept, autocork, nodelay, status_bind, status_token), and\n"
"start the profile's services (modules from $AEMP_MODULE_PATH, default\n"
"" AEMP_PREFIX "/lib/aemp); status_bind HOST:PORT serves a status page there.\n"
"The node stays in the foreground, logs to stderr, exits cleanly on SIGINT or\n"
"SIGTERM and reloads on SIGHUP; see aempd(8).\n"
"\n"
"The log level is $AEMP_WARNLEVEL, default 8 (start-up, listeners, nodes\n"
"going up and down); AEMP_TRACE=1 prints every packet.\n"
"\n"
"  --insecure             start even without a shared secret (no peer can\n"
"                         authenticate)\n"
"  --warnlevel-file FILE  take the log level from FILE, again on SIGHUP\n"
"  --help                 this text\n"
"  --version              print the version\n");
}

/* --- logging --------------------------------------------------------- */

static void
log_line(aemp_node *n, int level, const char *msg, void *ud)
{
	struct aempd *d = ud;

	if (level > d->d_level)
		return;
	aemp_log_stderr(n, level, msg, NULL);
}

/* The level in FILE (a number 0..9), or -1 with a message in *why. */
static int
read_level_file(const char *file, const char **why)
{
	FILE *f = fopen(file, "r");
	int level, ok;

	if (f == NULL) {
		*why = strerror(errno);
		return -1;
	}
	ok = fscanf(f, "%d", &level) == 1 && level >= 0 && level <= 9;
	fclose(f);
	*why = "not a number from 0 to 9";
	return ok ? level : -1;
}

static int
env_level(void)
{
	const char *v = getenv("AEMP_WARNLEVEL");

	if (v == NULL || *v == '\0')
		v = getenv("PERL_ANYEVENT_MP_WARNLEVEL");
	return v != NULL && *v != '\0' ? atoi(v) : DEFAULT_LEVEL;
}

static int
tracing(void)
{
	const char *v = getenv("AEMP_TRACE");

	if (v == NULL || *v == '\0')
		v = getenv("PERL_ANYEVENT_MP_TRACE");
	return v != NULL && atoi(v) != 0;
}

/*
 * The node logs through log_line, which filters at d_level. The node
 * itself drops messages above the level it was configured with, so with
 * a level file (whose level may rise on SIGHUP) it is configured at 9.
 */
static int
setup_level(struct aempd *d)
{
	const char *why;
	int level;

	d->d_level = env_level();
	if (d->d_level_file != NULL) {
		if ((level = read_level_file(d->d_level_file, &why)) < 0) {
			fprintf(stderr, "aempd: %s: %s\n", d->d_level_file,
			    why);
			return -1;
		}
		d->d_level = level;
	}
	if (tracing())
		d->d_level = 9;
	d->d_node_level = d->d_level_file != NULL ? 9 : d->d_level;
	return 0;
}

/* --- arguments and configuration -------------------------------------- */

static int
parse_args(struct aempd *d, int argc, char **argv)
{
	char **rest = ae_xcalloc((size_t)argc + 2, sizeof *rest);
	int i, nrest = 0, first = -1;
	char *err = NULL;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("aempd %s\n", AEMP_VERSION);
			exit(0);
		} else if (strcmp(argv[i], "--insecure") == 0)
			d->d_insecure = 1;
		else if (strcmp(argv[i], "--profile") == 0 ||
		    strcmp(argv[i], "--warnlevel-file") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "aempd: %s: missing argument "
				    "%s\n", argv[i], argv[i][2] == 'p' ?
				    "NAME" : "FILE");
				free(rest);
				return -1;
			}
			if (argv[i][2] == 'w')
				d->d_level_file = argv[++i];
			else {
				rest[nrest++] = "profile";
				rest[nrest++] = argv[++i];
			}
		} else if (strncmp(argv[i], "--", 2) == 0) {
			fprintf(stderr, "aempd: unknown option %s (see aempd "
			    "--help)\n", argv[i]);
			free(rest);
			return -1;
		} else {
			if (first < 0)
				first = nrest;
			rest[nrest++] = argv[i];
		}
	}
	/* like the reference's configure: an odd count starts with a profile */
	if (first >= 0 && ae_config_odd_start(nrest - first, rest + first,
	    &err) < 0) {
		fprintf(stderr, "aempd: %s\n", err ? err : "bad arguments");
		free(err);
		free(rest);
		return -1;
	}
	if (first >= 0 && (nrest - first) % 2 == 1) {
		memmove(rest + first + 1, rest + first,
		    (size_t)(nrest - first) * sizeof *rest);
		rest[first] = "profile";
		nrest++;
	}
	d->d_args = ae_config_args(nrest, rest, &err);
	free(rest);
	if (d->d_args == NULL) {
		fprintf(stderr, "aempd: %s\n", err ? err : "bad arguments");
		free(err);
		return -1;
	}
	return 0;
}

/* Refuses to run a node that no peer could ever authenticate. */
static int
check_secret(struct aempd *d)
{
	const char *profile = json_string_value(json_object_get(d->d_args,
	    "profile"));
	char *err = NULL;
	json_t *eff = ae_store_effective(profile, d->d_args, &err);
	int ok;

	if (eff == NULL) {
		fprintf(stderr, "aempd: %s\n", err ? err : "configuration error");
		free(err);
		return -1;
	}
	ok = json_is_string(json_object_get(eff, "secret")) || d->d_insecure;
	if (!ok)
		fprintf(stderr, "aempd: profile '%s' has no shared secret, so no "
		    "node could authenticate to this one.\nSet one with: aemp "
		    "gensecret   (or start with --insecure)\n",
		    json_string_value(json_object_get(eff, "profile")));
	json_decref(eff);
	return ok ? 0 : -1;
}

/* What a restart executes: this binary as it was found at start. */
static void
save_exec(struct aempd *d, int argc, char **argv)
{
	char buf[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);
	int i;

	if (len > 0) {
		buf[len] = '\0';
		d->d_exe = ae_xstrdup(buf);
	} else
		d->d_exe = ae_xstrdup(argv[0]);
	d->d_argv = ae_xcalloc((size_t)argc + 1, sizeof *d->d_argv);
	for (i = 0; i < argc; i++)
		d->d_argv[i] = ae_xstrdup(argv[i]);
}

/*
 * Core dumps and ptrace attachment (by the same user) would hand out the
 * secret: off, unless AEMP_DUMPABLE=1 asks for them to debug.
 */
static void
no_dumps(void)
{
	const char *v = getenv("AEMP_DUMPABLE");

	if (v == NULL || strcmp(v, "1") != 0)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Configures the node with the node's log level in the environment. */
static aemp_node *
configure(struct aempd *d, char **err)
{
	char *saved = getenv("AEMP_WARNLEVEL"), level[16];
	aemp_node *n;

	if (saved != NULL)
		saved = ae_xstrdup(saved);
	snprintf(level, sizeof level, "%d", d->d_node_level);
	setenv("AEMP_WARNLEVEL", level, 1);
	n = aemp_configure(d->d_base, json_incref(d->d_args), err);
	/* a restart must start from the same environment */
	if (saved != NULL)
		setenv("AEMP_WARNLEVEL", saved, 1);
	else
		unsetenv("AEMP_WARNLEVEL");
	free(saved);
	return n;
}

/* --- readiness, restart, reload ---------------------------------------- */

static void
services_done(void *ud)
{
	struct aempd *d = ud;
	json_t *l = aemp_listeners(d->d_node), *v;
	char *state = NULL;
	size_t len = 0, i;
	FILE *f;
	int rc;

	if (d->d_ready)
		return;
	d->d_ready = 1;
	f = open_memstream(&state, &len);
	fprintf(f, "READY=1\nSTATUS=node %s", aemp_nodeid(d->d_node));
	json_array_foreach(l, i, v)
		fprintf(f, "%s%s", i ? " " : " listening on ",
		    json_string_value(v));
	fclose(f);
	if ((rc = notify_systemd(state)) < 0)
		aemp_log(d->d_node, 1, "unable to notify the service manager "
		    "(NOTIFY_SOCKET): %s", strerror(errno));
	else if (rc > 0)
		aemp_log(d->d_node, 8, "told the service manager: ready.");
	free(state);
}

static void
restart_now(aemp_node *n, void *ud)
{
	struct aempd *d = ud;

	(void)n;
	event_base_loopbreak(d->d_base);
}

/*
 * RESTART_FUNC: confirms to the reply port in args (with the elements
 * that follow it), then, once that had time to leave, ends the loop; main
 * frees the node and executes aempd again with the same arguments.
 */
static int
fn_restart(aemp_node *n, const char *self, json_t *args, void *ud)
{
	struct aempd *d = ud;
	const char *reply = json_string_value(json_array_get(args, 0));
	char *from = reply != NULL ? aemp_node_of(reply) : NULL;
	json_t *msg;
	size_t i;

	(void)self;
	aemp_log(n, 5, "restart requested%s%s.", from ? " by " : "",
	    from ? from : "");
	free(from);
	if (reply != NULL) {
		msg = json_array();
		for (i = 1; i < json_array_size(args); i++)
			json_array_append(msg, json_array_get(args, i));
		aemp_snd(n, reply, msg);
	}
	if (!d->d_restart) {
		d->d_restart = 1;
		notify_systemd("RELOADING=1");
		aemp_after(n, RESTART_DELAY, restart_now, d);
	}
	return 0;
}

/*
 * SIGHUP: re-read the level file, start services added to the profile,
 * and say which other changes need a restart. Nothing else changes while
 * the node runs: its ID, secret, listeners and seeds are fixed.
 */
static void
reload(struct aempd *d)
{
	aemp_node *n = d->d_node;
	json_t *old = aemp_config(n), *eff;
	const char *profile = json_string_value(json_object_get(old,
	    "profile")), *key, *why;
	char *err = NULL;
	json_t *v;
	int level;

	aemp_log(n, 5, "SIGHUP: reloading.");
	if (d->d_level_file != NULL) {
		if ((level = read_level_file(d->d_level_file, &why)) < 0)
			aemp_log(n, 1, "%s: %s, the log level stays %d.",
			    d->d_level_file, why, d->d_level);
		else if (level != d->d_level) {
			d->d_level = level;
			aemp_log(n, 0, "log level is now %d.", level);
		}
	}
	if ((eff = ae_store_effective(profile, d->d_args, &err)) == NULL) {
		aemp_log(n, 1, "cannot reload the configuration: %s",
		    err ? err : "error");
		free(err);
		return;
	}
	json_object_foreach(eff, key, v)
		if (strcmp(key, "services") != 0 &&
		    !json_equal(v, json_object_get(old, key)))
			aemp_log(n, 2, "configuration key %s changed: it takes "
			    "effect when aempd restarts.", key);
	json_object_foreach(old, key, v)
		if (json_object_get(eff, key) == NULL)
			aemp_log(n, 2, "configuration key %s removed: that "
			    "takes effect when aempd restarts.", key);
	services_reload(d, json_object_get(eff, "services"));
	json_decref(eff);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct aempd *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		reload(d);
		return;
	}
	aemp_log(d->d_node, 7, "received signal %d, shutting down.", (int)sig);
	notify_systemd("STOPPING=1");
	event_base_loopbreak(d->d_base);
}

/*
 * Sent from the event loop, so that a loop that hangs stops it and
 * systemd (WatchdogSec=) restarts the daemon.
 */
static void
watchdog_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	notify_systemd("WATCHDOG=1");
}

/* Pings at half the interval systemd asks for, as sd_watchdog_enabled(3) advises. */
static void
watchdog_start(struct aempd *d)
{
	double iv = notify_watchdog_interval() / 2;
	struct timeval tv;

	if (iv <= 0)
		return;
	tv.tv_sec = (time_t)iv;
	tv.tv_usec = (suseconds_t)((iv - (double)tv.tv_sec) * 1e6);
	d->d_watchdog = event_new(d->d_base, -1, EV_PERSIST, watchdog_tick, d);
	event_add(d->d_watchdog, &tv);
	notify_systemd("WATCHDOG=1");
	aemp_log(d->d_node, 8, "watchdog: pinging every %g seconds.", iv);
}

static void
cleanup(struct aempd *d)
{
	size_t i;

	services_free(&d->d_svc);
	json_decref(d->d_args);
	free(d->d_exe);
	for (i = 0; d->d_argv != NULL && d->d_argv[i] != NULL; i++)
		free(d->d_argv[i]);
	free(d->d_argv);
}

int
main(int argc, char **argv)
{
	struct aempd d;
	struct event *sig[3];
	int signo[3] = { SIGINT, SIGTERM, SIGHUP }, i, status = 0;
	char *err = NULL;

	memset(&d, 0, sizeof d);
	/* before anything else: the secret leaves ps(1) and core dumps */
	save_exec(&d, argc, argv);
	ae_scrub_secret_args(argc, argv);
	no_dumps();
	signal(SIGPIPE, SIG_IGN);
	if (parse_args(&d, argc, d.d_argv) < 0 || setup_level(&d) < 0 ||
	    check_secret(&d) < 0 || modules_init(&d.d_mods, &err) < 0) {
		if (err != NULL)
			fprintf(stderr, "aempd: %s\n", err);
		free(err);
		cleanup(&d);
		return 1;
	}
	if ((err = ae_store_mode_warning(NULL)) != NULL) {
		fprintf(stderr, "aempd: %s\n", err);
		free(err);
		err = NULL;
	}
	d.d_base = event_base_new();
	if ((d.d_node = configure(&d, &err)) == NULL) {
		fprintf(stderr, "aempd: %s\n", err ? err : "unable to start");
		free(err);
		event_base_free(d.d_base);
		modules_free(&d.d_mods);
		cleanup(&d);
		return 1;
	}
	aemp_set_logger(d.d_node, log_line, &d);
	aemp_set_resolver(d.d_node, modules_resolve, &d.d_mods);
	aemp_register_func(d.d_node, RESTART_FUNC, fn_restart, &d);
	if (http_start(&d, &err) < 0) {
		fprintf(stderr, "aempd: %s\n", err ? err : "status page failed");
		free(err);
		aemp_free(d.d_node);
		event_base_free(d.d_base);
		modules_free(&d.d_mods);
		cleanup(&d);
		return 1;
	}
	for (i = 0; i < 3; i++) {
		sig[i] = evsignal_new(d.d_base, signo[i], on_signal, &d);
		evsignal_add(sig[i], NULL);
	}
	d.d_svc.sv_done = services_done;
	d.d_svc.sv_done_ud = &d;
	services_start(&d, json_object_get(aemp_config(d.d_node), "services"));
	watchdog_start(&d);

	event_base_dispatch(d.d_base);

	if (d.d_watchdog != NULL)
		event_free(d.d_watchdog);
	for (i = 0; i < 3; i++)
		event_free(sig[i]);
	if (d.d_restart)
		aemp_log(d.d_node, 5, "restarting: executing %s.", d.d_exe);
	modules_fini(&d.d_mods, d.d_node);
	aemp_free(d.d_node);
	/* after the node: its pending up_nodes calls never answer now */
	http_free(&d);
	modules_free(&d.d_mods);
	event_base_free(d.d_base);
	if (d.d_restart) {
		fflush(stderr);
		execv(d.d_exe, d.d_argv);
		fprintf(stderr, "aempd: cannot restart %s: %s\n", d.d_exe,
		    strerror(errno));
		status = 1;
	}
	cleanup(&d);
	return status;
}

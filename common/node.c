/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * node.c: a node's life cycle (configure, free), its logger and its queue
 * of deferred work.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node.h"
#include "kernel.h"
#include "remote.h"
#include "transport.h"
#include "services.h"
#include "names.h"
#include "store.h"
#include "stream.h"
#include "xmalloc.h"

#define DEFAULT_MAX_PACKET	(64u * 1024 * 1024)
#define DEFAULT_MAX_QUEUE	(256u * 1024 * 1024)
#define DEFAULT_MAX_QUEUE_TOTAL	(512u * 1024 * 1024)

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

char *
ae_node_random_string(size_t chars)
{
	char *s = ae_xmalloc(chars + 1);
	size_t i = 0;

	while (i < chars) {
		unsigned char buf[64];
		ssize_t r = getrandom(buf, sizeof buf, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			abort();	/* no entropy means no security */
		}
		/* Rejection sampling keeps every character equally likely. */
		for (ssize_t j = 0; j < r && i < chars; j++)
			if (buf[j] < 248)
				s[i++] = base62[buf[j] % 62];
	}
	s[chars] = '\0';
	return s;
}

double
ae_node_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

int
ae_node_error(aemp_node *n, const char *fmt, ...)
{
	va_list ap;

	free(n->errmsg);
	va_start(ap, fmt);
	if (vasprintf(&n->errmsg, fmt, ap) < 0)
		n->errmsg = NULL;
	va_end(ap);
	return -1;
}

const char *
aemp_error(aemp_node *n)
{
	return n->errmsg != NULL ? n->errmsg : "no error";
}

/* --- logging ------------------------------------------------------------ */

/*
 * Whether stderr is the stream systemd connected to the journal: it sets
 * JOURNAL_STREAM to "DEV:INODE" of that stream (systemd.exec(5)), which a
 * redirection elsewhere no longer matches.
 */
static int
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	char end;

	if (v == NULL || sscanf(v, "%ju:%ju%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

int
aemp_syslog_priority(int level)
{
	/*
	 * AnyEvent::Log's 1 fatal .. 9 trace onto syslog's 0 emerg ..
	 * 7 debug. A node's fatal is not the system's emergency (journald
	 * would write it on every terminal): crit. Alert (2: unexpected
	 * errors, refused requests) to error (4) are err, so journalctl
	 * -p err finds them; 0 (always shown) is a notice.
	 */
	static const int prio[10] = { 5, 2, 3, 3, 3, 4, 5, 6, 7, 7 };

	return prio[level < 0 ? 0 : level > 9 ? 9 : level];
}

void
aemp_log_stderr(aemp_node *n, int level, const char *msg, void *ud)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	(void)ud;
	if (n != NULL && n->log_journal) {
		/* journald takes "<N>" as the priority and stamps lines itself */
		fprintf(stderr, "<%d>%s\n", aemp_syslog_priority(level), msg);
		return;
	}
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s <%d> %s\n", stamp, level, msg);
}

void
aemp_set_logger(aemp_node *n, aemp_log_fn fn, void *ud)
{
	n->log_fn = fn != NULL ? fn : aemp_log_stderr;
	n->log_ud = ud;
}

void
aemp_log(aemp_node *n, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > n->log_level && level > n->lc_level)
		return;
	va_start(ap, fmt);
	ae_node_vlog(n, level, fmt, ap);
	va_end(ap);
}

void
ae_node_vlog(aemp_node *n, int level, const char *fmt, va_list ap)
{
	char *msg;

	if (vasprintf(&msg, fmt, ap) >= 0) {
		ae_node_log_line(n, level, msg);
		free(msg);
	}
}

/*
 * Where every line goes: log catchers first, whatever the node's own
 * level (AEMP-TLS-EXT.md 12.2), then the node's logger.
 */
void
ae_node_log_line(aemp_node *n, int level, const char *msg)
{
	if (level <= n->lc_level)
		ae_logcatcher_forward(n, level, msg);
	/* a logger that logs gets its own lines forwarded, not again */
	if (level <= n->log_level && !n->log_busy) {
		n->log_busy = 1;
		n->log_fn(n, level, msg, n->log_ud);
		n->log_busy = 0;
	}
}

static const char *
env2(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : getenv(fallback);
}

/*
 * AEMP_TRACE prints every packet like the reference's tracer:
 * "SND node <- [msg]" (without the destination port name) and
 * "RCV node -> [packet]" exactly as it arrived.
 */
void
ae_node_trace(aemp_node *n, const char *dir, const char *nodeid, json_t *pkt,
    int skip_first)
{
	char *text;

	if (!n->trace)
		return;
	if (skip_first && json_array_size(pkt) > 0) {
		json_t *copy = json_array();
		for (size_t i = 1; i < json_array_size(pkt); i++)
			json_array_append(copy, json_array_get(pkt, i));
		text = json_dumps(copy, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(copy);
	} else
		text = json_dumps(pkt, JSON_COMPACT | JSON_ENCODE_ANY);
	fprintf(stderr, "%s %s %s %s\n", dir, nodeid,
	    strcmp(dir, "SND") == 0 ? "<-" : "->", text ? text : "?");
	free(text);
}

/* --- deferred work ------------------------------------------------------ */

/*
 * Queues deferred work (see ae_node_defer()): grows the ring, and the
 * first entry schedules the run. The queue is a ring of entries, not a
 * list of allocations, so that a local message costs no malloc().
 */
struct defer *
ae_node_defer_grow(aemp_node *n, enum defer_kind kind)
{
	struct defer *d;

	if (n->defer_len == n->defer_cap) {
		size_t cap = n->defer_cap ? n->defer_cap * 2 : 64, i;
		struct defer *ring = ae_xreallocarray(NULL, cap, sizeof *ring);
		for (i = 0; i < n->defer_len; i++)
			ring[i] = n->defer_ring[(n->defer_first + i) &
			    (n->defer_cap - 1)];
		free(n->defer_ring);
		n->defer_ring = ring;
		n->defer_cap = cap;
		n->defer_first = 0;
	}
	d = &n->defer_ring[(n->defer_first + n->defer_len++) &
	    (n->defer_cap - 1)];
	memset(d, 0, sizeof *d);
	d->kind = kind;
	/*
	 * The first entry schedules the run, which takes every entry; while
	 * it runs, it schedules what comes in itself.
	 */
	if (n->defer_len == 1 && !n->freeing && !n->defer_running)
		event_active(n->defer_ev, EV_TIMEOUT, 1);
	return d;
}

/* Takes the oldest entry off the ring into *d; 0 when there is none. */
static int
defer_pop(aemp_node *n, struct defer *d)
{
	if (n->defer_len == 0)
		return 0;
	*d = n->defer_ring[n->defer_first];
	n->defer_first = (n->defer_first + 1) & (n->defer_cap - 1);
	n->defer_len--;
	return 1;
}

void
ae_node_call_later(aemp_node *n, void (*fn)(aemp_node *, void *), void *ud)
{
	struct defer *d = ae_node_defer(n, DEFER_CALL);

	d->fn = fn;
	d->ud = ud;
}

void
ae_node_free_later(aemp_node *n, void (*fn)(aemp_node *, void *), void *ud)
{
	struct defer *d = ae_node_defer(n, DEFER_FREE);

	d->fn = fn;
	d->ud = ud;
}

/*
 * Runs what was deferred up to now; work deferred while running waits for
 * the next loop turn, so that a port sending to itself cannot starve I/O.
 */
static void
defer_run(evutil_socket_t fd, short what, void *arg)
{
	aemp_node *n = arg;
	size_t count = n->defer_len;
	struct defer d;

	(void)fd; (void)what;
	n->defer_running = 1;
	while (count-- > 0 && defer_pop(n, &d))
		ae_kernel_run_defer(n, &d);
	n->defer_running = 0;
	/*
	 * Work deferred meanwhile runs after the next poll: event_active()
	 * from here would run it again in this very pass, and a port that
	 * sends to itself would keep the loop from I/O and timers forever.
	 */
	if (n->defer_len > 0 && !n->freeing) {
		struct timeval now = { 0, 0 };
		event_add(n->defer_ev, &now);
	}
}

static void
defer_free_all(aemp_node *n)
{
	struct defer d;

	/* with n->freeing set, each item only releases what it holds */
	while (defer_pop(n, &d))
		ae_kernel_run_defer(n, &d);
	free(n->defer_ring);
	n->defer_ring = NULL;
	n->defer_cap = n->defer_len = n->defer_first = 0;
}

/* --- configuration ------------------------------------------------------ */

static double
config_number(json_t *config, const char *key, double def)
{
	json_t *v = json_object_get(config, key);

	return json_is_number(v) ? json_number_value(v) : def;
}

static int
node_apply_config(aemp_node *n, char **err)
{
	json_t *c = n->config, *v;
	const char *id;

	v = json_object_get(c, "nodeid");
	id = json_is_string(v) ? json_string_value(v) :
	    json_string_value(json_object_get(c, "profile"));
	if (!ae_nodeid_valid(id)) {
		if (asprintf(err, "invalid node ID '%s'", id ? id : "") < 0)
			*err = NULL;
		return -1;
	}
	if (strcmp(id, "anon/") == 0) {
		char *r = ae_node_random_string(16);
		n->id = ae_xasprintf("anon/%s", r);
		free(r);
	} else
		n->id = ae_xstrdup(id);
	n->idlen = strlen(n->id);

	v = json_object_get(c, "secret");
	n->secret = json_is_string(v) ? ae_xstrdup(json_string_value(v)) : NULL;
	/* TLS is enabled exactly when cert exists (AEMP-TLS-EXT.md 10.1) */
	v = json_object_get(c, "cert");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v)) {
			*err = ae_xstrdup("cert: must be PEM text (a string)");
			return -1;
		}
		n->tls_ctx = ae_tls_ctx_new(json_string_value(v),
		    json_string_length(v), err);
		if (n->tls_ctx == NULL)
			return -1;
	}
	n->monitor_timeout = config_number(c, "monitor_timeout", 30);
	if (n->monitor_timeout <= 0)
		n->monitor_timeout = 30;
	n->connect_interval = config_number(c, "connect_interval", 2);
	if (n->connect_interval <= 0)
		n->connect_interval = 2;
	n->max_packet = (size_t)config_number(c, "max_packet",
	    DEFAULT_MAX_PACKET);
	n->max_queue = (size_t)config_number(c, "max_queue", DEFAULT_MAX_QUEUE);
	n->max_queue_total = (size_t)config_number(c, "max_queue_total",
	    DEFAULT_MAX_QUEUE_TOTAL);
	n->auth_offer = json_incref(json_object_get(c, "auth_offer"));
	n->auth_accept = json_incref(json_object_get(c, "auth_accept"));
	if (!json_is_array(n->auth_offer)) {
		json_decref(n->auth_offer);
		n->auth_offer = json_pack("[ss]", "tls_md6_64_256",
		    "hmac_md6_64_256");
	}
	if (!json_is_array(n->auth_accept)) {
		json_decref(n->auth_accept);
		n->auth_accept = json_pack("[ssss]", "tls_md6_64_256",
		    "hmac_md6_64_256", "tls_anon", "cleartext");
	}
	v = json_object_get(c, "nodelay");
	n->nodelay = v == NULL || json_is_true(v) ||
	    (json_is_number(v) && json_number_value(v) != 0);
	return 0;
}

static json_t *
node_effective_config(json_t *config, char **err)
{
	const char *profile = json_string_value(json_object_get(config,
	    "profile"));
	json_t *args = json_object(), *eff;
	const char *key;
	json_t *v;

	/*
	 * Arguments get the checks the aemp CLI applies ("a,b" is a list for
	 * seeds, "30" a number for monitor_timeout); keys the store does not
	 * know pass as they are.
	 */
	json_object_foreach(config, key, v) {
		json_t *checked;
		if (strcmp(key, "profile") == 0 || strcmp(key, "norc") == 0)
			continue;
		if (ae_key_type(key) < 0 || json_is_null(v)) {
			json_object_set(args, key, v);
			continue;
		}
		if ((checked = ae_config_check(key, v, err)) == NULL) {
			json_decref(args);
			return NULL;
		}
		json_object_set_new(args, key, checked);
	}
	if (json_is_true(json_object_get(config, "norc"))) {
		/* embedders that want no store: defaults < arguments */
		char *name = profile ? ae_xstrdup(profile) : ae_default_profile();
		eff = ae_config_defaults();
		json_object_update(eff, args);
		json_object_set_new(eff, "profile", json_string(name));
		free(name);
	} else
		eff = ae_store_effective(profile, args, err);
	json_decref(args);
	return eff;
}

aemp_node *
aemp_configure(struct event_base *base, json_t *config, char **err)
{
	aemp_node *n = ae_xcalloc(1, sizeof *n);
	const char *lv;
	char *dummy = NULL;

	if (err == NULL)
		err = &dummy;
	*err = NULL;
	n->tfd = -1;
	TAILQ_INIT(&n->node_watches);
	TAILQ_INIT(&n->grp_watches);
	n->stats.started = ae_node_now();
	n->lc_level = -1;
	if (config == NULL)
		config = json_object();
	n->log_fn = aemp_log_stderr;
	n->log_journal = stderr_is_journal();
	lv = env2("AEMP_WARNLEVEL", "PERL_ANYEVENT_MP_WARNLEVEL");
	n->log_level = lv != NULL ? atoi(lv) : 5;
	lv = env2("AEMP_TRACE", "PERL_ANYEVENT_MP_TRACE");
	n->trace = lv != NULL && atoi(lv) != 0;
	if (n->trace && n->log_level < 9)
		n->log_level = 9;
	ae_dict_init(&n->ports, port_key);
	ae_dict_init(&n->tagnames, tagname_key);
	ae_dict_init(&n->remotes, remote_key);
	ae_dict_init(&n->funcs, func_key);
	n->listen_addrs = json_array();

	n->config = node_effective_config(config, err);
	json_decref(config);
	if (n->config == NULL || node_apply_config(n, err) < 0)
		goto fail;

	if (base == NULL) {
		base = event_base_new();
		n->own_base = 1;
	}
	n->base = base;
	n->defer_ev = event_new(base, -1, 0, defer_run, n);
	ae_kernel_start(n);
	ae_remote_start(n);
	if (ae_timers_init(n) < 0) {
		if (asprintf(err, "timerfd: %s", strerror(errno)) < 0)
			*err = NULL;
		goto fail;
	}
	n->uniq = ae_node_random_string(9);
	n->runiq = ae_node_random_string(16);

	aemp_log(n, 8, "node %s starting up.", n->id);
	if (ae_transport_listen(n, json_object_get(n->config, "binds")) < 0) {
		*err = strdup(aemp_error(n));
		goto fail;
	}
	if (json_array_size(n->listen_addrs) > 0) {
		char *s = json_dumps(n->listen_addrs, JSON_COMPACT);
		/* the reference prints [a,b] without quotes */
		for (char *p = s, *q = s; ; p++) {
			if (*p != '"')
				*q++ = *p;
			if (*p == '\0')
				break;
		}
		aemp_log(n, 8, "node listens on %s.", s);
		free(s);
	}
	ae_global_start(n);
	ae_dataconn_start(n);
	ae_logcatcher_start(n);
	if (err == &dummy)
		free(dummy);
	return n;
fail:
	if (*err == NULL)
		*err = strdup("configuration failed");
	if (err == &dummy)
		free(dummy);
	aemp_free(n);
	return NULL;
}

void
aemp_free(aemp_node *n)
{
	if (n == NULL)
		return;
	if (n->timers_firing) {
		n->free_asked = 1;	/* timers_fire() frees it after */
		return;
	}
	n->freeing = 1;
	if (n->base != NULL) {
		ae_global_free(n);
		ae_logcatcher_free(n);
		ae_dataconn_free(n);
		ae_transport_free_all(n);
		ae_remote_free_all(n);
		defer_free_all(n);
		ae_kernel_free(n);
		ae_loglimit_free(n);
		ae_timers_free(n);
		event_free(n->defer_ev);
	}
	if (n->own_base && n->base != NULL)
		event_base_free(n->base);
	json_decref(n->config);
	json_decref(n->listen_addrs);
	json_decref(n->auth_offer);
	json_decref(n->auth_accept);
	ae_dict_clear(&n->ports);
	ae_dict_clear(&n->remotes);
	ae_dict_clear(&n->funcs);
	free(n->id);
	free(n->uniq);
	free(n->runiq);
	if (n->secret != NULL)
		explicit_bzero(n->secret, strlen(n->secret));
	free(n->secret);
	if (n->tls_ctx != NULL)
		ae_tls_ctx_free(n->tls_ctx);
	free(n->die_msg);
	free(n->read_buf);
	json_decref(n->spare_msg);
	ae_bytes_free(&n->local_pkts);
	free(n->errmsg);
	ae_authfail_free(n);
	free(n);
}

struct event_base *
aemp_base(aemp_node *n)
{
	return n->base;
}

int
aemp_read_unpollable(int fd, struct evbuffer *buf)
{
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode) && !(S_ISCHR(st.st_mode) && !isatty(fd)))
		return 0;
	while ((r = evbuffer_read(buf, fd, 65536)) > 0 ||
	    (r < 0 && errno == EINTR))
		;
	return r < 0 ? -1 : 1;
}

int
aemp_loop(aemp_node *n)
{
	return event_base_dispatch(n->base);
}

void
aemp_loopexit(aemp_node *n)
{
	event_base_loopbreak(n->base);
}

const char *
aemp_nodeid(aemp_node *n)
{
	return n->id;
}

json_t *
aemp_config(aemp_node *n)
{
	return n->config;
}

json_t *
aemp_listeners(aemp_node *n)
{
	return n->listen_addrs;
}

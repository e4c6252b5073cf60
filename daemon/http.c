/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * http.c: aempd's status endpoint, on when the profile sets status_bind:
 * "/" (a self-contained page that draws the rest), "/status.json"
 * (aemp_stats() and the node's view of the mesh) and "/metrics"
 * (Prometheus), read-only, optionally behind a bearer token.
 *
 * The node's AEMP traffic shares the event loop, so the server is
 * bounded: small headers, no bodies, a timeout on every connection, and
 * at most HTTP_MAX_CONNS connections. A new client past that drops the
 * oldest connection, if it is older than HTTP_EVICT_AGE (a request takes
 * milliseconds: that one is slow, or idle), so that clients that trickle
 * their headers (slowloris) cannot hold the page for all; when all are
 * younger (a flood), the listener pauses for a second and new clients
 * wait in the kernel's backlog, costing the node nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "aempd.h"
#include "wire.h"
#include "xmalloc.h"
#include "status_html.h"

#define HTTP_MAX_CONNS	 256
#define HTTP_MAX_HEADERS 8192	/* bytes of request line and headers */
#define HTTP_MAX_BODY	 1024
#define HTTP_TIMEOUT	 10	/* seconds a connection may make no progress */
#define HTTP_EVICT_AGE	 1.0	/* a connection that old may be dropped */
#define HTTP_EVICT_LOG	 60.0	/* one log line about it in this time */
#define MESH_POLL	 2.0	/* how often peers are asked for their view */
#define MESH_IDLE	 10.0	/* stop asking once nobody looked for this long */
#define MESH_STALE	 (3 * MESH_POLL)

struct view_call {
	struct view_call *prev, *next;
	struct status_http *h;
	char		 node[];
};

struct http_conn {
	struct bufferevent *bev;
	double		 since;		/* accepted (monotonic) */
};

struct status_http {
	aemp_node	*node;
	struct event_base *base;
	struct evhttp	*http;
	struct evhttp_bound_socket *sock;
	char		*token;		/* status_token, or NULL */
	/* connections: our references to the bufferevents evhttp uses */
	struct http_conn *bevs;		/* oldest first */
	size_t		 nbevs, capbevs;
	struct event	*sweep_ev;
	int		 paused;
	uint64_t	 evicted;	/* dropped since the last log line */
	double		 evict_logged, pause_logged;	/* monotonic */
	/* the mesh as the peers see it: node -> {"up": [...], "at": time} */
	json_t		*views;
	struct view_call *calls;	/* up_nodes requests not yet answered */
	aemp_timer	*poll;
	double		 last_look;
};

/* --- connections ------------------------------------------------------ */

/* Seconds on clock: CLOCK_REALTIME for times shown, else MONOTONIC. */
static double
clock_seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
#define now_seconds()	clock_seconds(CLOCK_REALTIME)
#define mono_seconds()	clock_seconds(CLOCK_MONOTONIC)

/*
 * evhttp 2.1 cannot count or limit its connections, but it asks us for
 * each one's bufferevent. We keep a reference to each: when evhttp is done
 * with one, bufferevent_free() has cleared its callbacks, and our release
 * closes it. A sweep on every new connection and every second counts the
 * live ones, resumes a paused listener and logs what was dropped.
 */
static void
sweep(struct status_http *h)
{
	struct evconnlistener *l = evhttp_bound_socket_get_listener(h->sock);
	size_t i, kept = 0;
	double now = mono_seconds();

	for (i = 0; i < h->nbevs; i++) {
		bufferevent_data_cb rd, wr;
		bufferevent_event_cb ev;
		void *arg;
		bufferevent_getcb(h->bevs[i].bev, &rd, &wr, &ev, &arg);
		if (rd == NULL && wr == NULL && ev == NULL && arg == NULL)
			bufferevent_decref(h->bevs[i].bev);
		else
			h->bevs[kept++] = h->bevs[i];
	}
	h->nbevs = kept;
	if (h->paused && (h->nbevs < HTTP_MAX_CONNS ||
	    now - h->bevs[0].since >= HTTP_EVICT_AGE)) {
		evconnlistener_enable(l);
		h->paused = 0;
	}
	if (h->evicted > 0 && now - h->evict_logged >= HTTP_EVICT_LOG) {
		aemp_log(h->node, 4, "status page: %d connections, dropped the "
		    "oldest %llu time%s to take new ones (slow clients?)",
		    HTTP_MAX_CONNS, (unsigned long long)h->evicted,
		    h->evicted == 1 ? "" : "s");
		h->evicted = 0;
		h->evict_logged = now;
	}
}

static void
sweep_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	sweep(arg);
}

/*
 * Room for one more connection: the oldest goes if it is old enough
 * (evhttp closes it as on a timeout, in a callback of its own), else the
 * listener pauses until the next sweep.
 */
static void
make_room(struct status_http *h)
{
	struct evconnlistener *l = evhttp_bound_socket_get_listener(h->sock);
	struct bufferevent *old;

	if (h->nbevs < HTTP_MAX_CONNS)
		return;
	if (mono_seconds() - h->bevs[0].since < HTTP_EVICT_AGE) {
		if (!h->paused) {
			evconnlistener_disable(l);
			h->paused = 1;
			if (h->pause_logged == 0 || mono_seconds() -
			    h->pause_logged >= HTTP_EVICT_LOG) {
				aemp_log(h->node, 2, "status page: %d "
				    "connections, not accepting more for now",
				    HTTP_MAX_CONNS);
				h->pause_logged = mono_seconds();
			}
		}
		return;
	}
	old = h->bevs[0].bev;
	memmove(h->bevs, h->bevs + 1, --h->nbevs * sizeof *h->bevs);
	bufferevent_trigger_event(old, BEV_EVENT_READING | BEV_EVENT_TIMEOUT,
	    BEV_TRIG_DEFER_CALLBACKS);
	bufferevent_decref(old);	/* evhttp holds it until then */
	if (h->evicted++ == 0 && h->evict_logged == 0)
		/* the first one is logged at once */
		h->evict_logged = mono_seconds() - HTTP_EVICT_LOG;
}

static struct bufferevent *
new_bev(struct event_base *base, void *arg)
{
	struct status_http *h = arg;
	struct bufferevent *bev;

	sweep(h);
	make_room(h);
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	if (h->nbevs == h->capbevs) {
		h->capbevs = h->capbevs ? 2 * h->capbevs : 64;
		h->bevs = ae_xreallocarray(h->bevs, h->capbevs, sizeof *h->bevs);
	}
	bufferevent_incref(bev);
	h->bevs[h->nbevs].bev = bev;
	h->bevs[h->nbevs++].since = mono_seconds();
	return bev;
}

/* --- the mesh ---------------------------------------------------------- */

/* A peer's up_nodes answer (the node IDs), or NULL after MESH_POLL. */
static void
view_reply(aemp_node *n, json_t *reply, void *ud)
{
	struct view_call *c = ud;
	struct status_http *h = c->h;

	(void)n;
	if (reply != NULL && json_is_array(reply))
		json_object_set_new(h->views, c->node, json_pack("{s:O, s:f}",
		    "up", reply, "at", now_seconds()));
	else
		json_object_del(h->views, c->node);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
}

/* Asks every up node which nodes it is connected to (up_nodes, 5). */
static void
poll_views(aemp_node *n, void *ud)
{
	struct status_http *h = ud;
	json_t *up;
	size_t i;

	h->poll = NULL;
	if (now_seconds() - h->last_look > MESH_IDLE)
		return;
	up = aemp_up_nodes(n);
	for (i = 0; i < json_array_size(up); i++) {
		const char *id = json_string_value(json_array_get(up, i));
		size_t len = strlen(id);
		struct view_call *c = ae_xcalloc(1, sizeof *c + len + 1);
		c->h = h;
		memcpy(c->node, id, len + 1);
		c->next = h->calls;
		if (c->next != NULL)
			c->next->prev = c;
		h->calls = c;
		aemp_cal(n, id, json_pack("[s]", "up_nodes"), view_reply, c,
		    MESH_POLL);
	}
	json_decref(up);
	h->poll = aemp_after(n, MESH_POLL, poll_views, h);
}

static void
looked(struct status_http *h)
{
	h->last_look = now_seconds();
	if (h->poll == NULL)
		poll_views(h->node, h);
}

static void
add_link(json_t *links, const char *a, const char *b)
{
	char *key;

	if (strcmp(a, b) == 0)
		return;
	if (strcmp(a, b) > 0) {
		const char *t = a;
		a = b;
		b = t;
	}
	if (asprintf(&key, "%s\n%s", a, b) < 0)
		return;
	if (json_object_get(links, key) == NULL)
		json_object_set_new(links, key, json_pack("[ss]", a, b));
	free(key);
}

/*
 * The nodes this node knows, up or down, and the connections between
 * them: its own, and those its peers reported lately, among nodes it
 * sees as up.
 */
static json_t *
mesh(struct status_http *h)
{
	aemp_node *n = h->node;
	const char *self = aemp_nodeid(n), *peer;
	json_t *known = aemp_known_nodes(n), *nodes = json_array();
	json_t *links = json_object(), *list = json_array(), *v, *view;
	double now = now_seconds();
	size_t i;

	json_array_foreach(known, i, v) {
		const char *id = json_string_value(v);
		int me = strcmp(id, self) == 0, up = me || aemp_node_is_up(n, id);
		json_array_append_new(nodes, json_pack("{s:s, s:b, s:b}", "id",
		    id, "self", me, "up", up));
		if (!me && up)
			add_link(links, self, id);
	}
	json_object_foreach(h->views, peer, view) {
		json_t *up = json_object_get(view, "up");
		if (!aemp_node_is_up(n, peer) || now - json_number_value(
		    json_object_get(view, "at")) > MESH_STALE)
			continue;
		json_array_foreach(up, i, v) {
			const char *id = json_string_value(v);
			if (id != NULL && aemp_node_is_up(n, id))
				add_link(links, peer, id);
		}
	}
	{
		const char *key;
		json_object_foreach(links, key, v)
			json_array_append(list, v);
	}
	json_decref(links);
	json_decref(known);
	return json_pack("{s:s, s:o, s:o}", "self", self, "nodes", nodes,
	    "links", list);
}

/* --- requests ---------------------------------------------------------- */

/* Constant-time comparison: the time taken says nothing about token. */
static int
token_equal(const char *given, size_t glen, const char *token)
{
	size_t tlen = strlen(token), i;
	unsigned char diff = glen != tlen;

	for (i = 0; i < tlen; i++)
		diff |= (unsigned char)(token[i] ^ (i < glen ? given[i] : 0));
	return diff == 0;
}

static int
authorized(struct status_http *h, struct evhttp_request *req)
{
	const char *auth = evhttp_find_header(evhttp_request_get_input_headers(
	    req), "Authorization");

	if (h->token == NULL)
		return 1;
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return 0;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return token_equal(auth, strlen(auth), h->token);
}

static void
reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, struct evbuffer *body)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);

	evhttp_add_header(out, "Content-Type", type);
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(req, code, reason, body);
}

static void
reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add_printf(b, "%s\n", text);
	reply(req, code, reason, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

static json_t *
status_json(struct status_http *h)
{
	json_t *s = aemp_stats(h->node);

	json_object_set_new(s, "mesh", mesh(h));
	return s;
}

static void
handle(struct evhttp_request *req, void *arg)
{
	struct status_http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evbuffer *b;
	json_t *s;
	char *text;

	if (path == NULL || *path == '\0')
		path = "/";
	/*
	 * The page holds no data, and a browser cannot send a bearer token
	 * for it: it sends the one given after '#' for the data itself.
	 */
	if (strcmp(path, "/") != 0 && !authorized(h, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer realm=\"aempd\"");
		reply_text(req, 401, "Unauthorized", "a bearer token is "
		    "required (status_token)");
		return;
	}
	if (strcmp(path, "/") != 0 && strcmp(path, "/metrics") != 0 &&
	    strcmp(path, "/status.json") != 0) {
		reply_text(req, 404, "Not Found", "not found: try /, "
		    "/status.json or /metrics");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed", "read-only: GET or "
		    "HEAD");
		return;
	}
	b = evbuffer_new();
	if (strcmp(path, "/") == 0) {
		looked(h);
		evbuffer_add_reference(b, status_html, sizeof status_html - 1,
		    NULL, NULL);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Security-Policy", "default-src 'none'; "
		    "script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
		    "connect-src 'self'; img-src 'self' data:");
		reply(req, 200, "OK", "text/html; charset=utf-8", b);
	} else if (strcmp(path, "/status.json") == 0) {
		looked(h);
		s = status_json(h);
		text = json_dumps(s, JSON_COMPACT | JSON_REAL_PRECISION(15));
		json_decref(s);
		if (text != NULL)
			evbuffer_add(b, text, strlen(text));
		free(text);
		reply(req, 200, "OK", "application/json", b);
	} else {
		s = aemp_stats(h->node);
		metrics_write(b, s);
		json_decref(s);
		reply(req, 200, "OK", "text/plain; version=0.0.4; "
		    "charset=utf-8", b);
	}
	evbuffer_free(b);
}

/* --- start and stop ---------------------------------------------------- */

int
http_start(struct aempd *d, char **err)
{
	json_t *config = aemp_config(d->d_node);
	const char *bind = json_string_value(json_object_get(config,
	    "status_bind"));
	const char *token = json_string_value(json_object_get(config,
	    "status_token"));
	struct status_http *h;
	struct timeval sec = { 1, 0 };
	char *host = NULL, *port = NULL;

	if (bind == NULL) {
		if (token != NULL)
			aemp_log(d->d_node, 2, "status_token is set but "
			    "status_bind is not: no status page");
		return 0;
	}
	if (ae_hostport_parse(bind, &host, &port) < 0 || host == NULL ||
	    port == NULL || strcmp(host, "*") == 0 || strcmp(port, "*") == 0) {
		free(host);
		free(port);
		*err = ae_xasprintf("status_bind: '%s' is not HOST:PORT (a host "
		    "or address and a port number)", bind);
		return -1;
	}
	if (token != NULL && *token == '\0') {
		free(host);
		free(port);
		*err = ae_xstrdup("status_token: empty");
		return -1;
	}
	h = ae_xcalloc(1, sizeof *h);
	h->node = d->d_node;
	h->base = d->d_base;
	h->views = json_object();
	h->token = token != NULL ? ae_xstrdup(token) : NULL;
	h->http = evhttp_new(d->d_base);
	evhttp_set_max_headers_size(h->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->http, HTTP_MAX_BODY);
	evhttp_set_timeout(h->http, HTTP_TIMEOUT);
	/* every method reaches handle(), which answers 405 for the others */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_bevcb(h->http, new_bev, h);
	evhttp_set_gencb(h->http, handle, h);
	h->sock = evhttp_bind_socket_with_handle(h->http, host,
	    (ev_uint16_t)atoi(port));
	d->d_http = h;
	if (h->sock == NULL) {
		*err = ae_xasprintf("status_bind: unable to bind %s", bind);
		free(host);
		free(port);
		http_free(d);
		return -1;
	}
	h->sweep_ev = event_new(d->d_base, -1, EV_PERSIST, sweep_tick, h);
	event_add(h->sweep_ev, &sec);
	aemp_log(d->d_node, 5, "status page on http://%s%s%s:%s/%s", strchr(host,
	    ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port,
	    h->token != NULL ? " (bearer token required)" : "");
	free(host);
	free(port);
	return 0;
}

void
http_free(struct aempd *d)
{
	struct status_http *h = d->d_http;
	size_t i;

	if (h == NULL)
		return;
	d->d_http = NULL;
	if (h->sweep_ev != NULL)
		event_free(h->sweep_ev);
	evhttp_free(h->http);
	for (i = 0; i < h->nbevs; i++)
		bufferevent_decref(h->bevs[i].bev);
	free(h->bevs);
	while (h->calls != NULL) {
		struct view_call *c = h->calls;
		h->calls = c->next;
		free(c);
	}
	json_decref(h->views);
	if (h->token != NULL)
		explicit_bzero(h->token, strlen(h->token));
	free(h->token);
	free(h);
}

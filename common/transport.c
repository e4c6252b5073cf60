/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * transport.c: one TCP connection between two nodes: listening,
 * connecting, the greeting and authentication handshake, and JSON framing
 * (AEMP.md sections 2 and 3).
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <ifaddrs.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "md6.h"
#include "codec.h"
#include "names.h"
#include "stream.h"

#define PROVIDER	"aemp-c-" AEMP_VERSION
#define NONCE_BYTES	66
#define READ_BUDGET	1024	/* packets per read callback */
#define READ_CHUNK	(64 * 1024)	/* bytes per read in the data phase */
#define READ_LARGE	(1024 * 1024)	/* per read of a large packet */
#define WRITE_EARLY	(256 * 1024)	/* queued bytes written at once */
#define MAX_PREAUTH	256	/* connections still in their handshake */
/*
 * Bytes of max_packet per value a packet may hold: 64 MiB allow 4 M
 * values, which decode to about 200 MiB (jansson's ~50 bytes a value).
 */
#define MAX_PACKET_PER_VALUE	16
#define BIG_PACKET_TRIM	(1024 * 1024)

static void conn_handshake_read(struct aemp_conn *);
static void read_packets(struct aemp_conn *);
static void read_more(evutil_socket_t, short, void *);
static void read_later(struct aemp_conn *);
static void conn_flush(evutil_socket_t, short, void *);
static void flush_out(struct aemp_conn *);
static int flush_write(struct aemp_conn *, int in_send);
static void conn_write(evutil_socket_t, short, void *);
static void conn_read_data(evutil_socket_t, short, void *);
static void data_phase(struct aemp_conn *);
static void conn_pump(evutil_socket_t, short, void *);

/* --- addresses ------------------------------------------------------------ */

static char *
sockaddr_text(const struct sockaddr *sa, socklen_t len)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return strdup("?");
	return ae_hostport_format(host, atoi(serv));
}

/*
 * Resolves host:port for connecting or binding. Names are looked up with
 * getaddrinfo, which blocks; node addresses are numeric in practice.
 */
static struct addrinfo *
resolve(const char *host, const char *port, int passive)
{
	struct addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return NULL;
	return res;
}

static char *
host_name(void)
{
	struct utsname u;

	return uname(&u) == 0 ? strdup(u.nodename) : strdup("localhost");
}

/* "*": every non-loopback IPv4 and global IPv6 address, like the reference. */
static json_t *
wildcard_hosts(void)
{
	struct ifaddrs *ifa, *i;
	json_t *hosts = json_array();

	if (getifaddrs(&ifa) != 0)
		return hosts;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		char host[NI_MAXHOST];
		const struct sockaddr *sa = i->ifa_addr;
		socklen_t len;

		if (sa == NULL)
			continue;
		if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *s4 = (const void *)sa;
			if ((ntohl(s4->sin_addr.s_addr) >> 24) == 127)
				continue;
			len = sizeof *s4;
		} else if (sa->sa_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const void *)sa;
			if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
			    IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr))
				continue;
			len = sizeof *s6;
		} else
			continue;
		if (getnameinfo(sa, len, host, sizeof host, NULL, 0,
		    NI_NUMERICHOST) == 0)
			json_array_append_new(hosts, json_string(host));
	}
	freeifaddrs(ifa);
	return hosts;
}

/* --- listening ------------------------------------------------------------ */

static struct aemp_conn *conn_new(aemp_node *, evutil_socket_t fd,
    const char *peer, const char *expect);
static void conn_start(struct aemp_conn *);
static void arm(struct aemp_conn *, event_callback_fn, int, double);

/* A peer from an address that failed to authenticate waits for this. */
static void
greet_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	conn_start(arg);
}

/*
 * Connections that never finish their handshake cost memory until their
 * timeout: past MAX_PREAUTH of them the oldest goes, so that a flood of
 * them cannot keep a legitimate peer (which finishes in a millisecond)
 * from connecting.
 */
static void
evict_preauth(aemp_node *n)
{
	struct aemp_conn *c, *oldest = NULL;
	size_t count = 0;

	LIST_FOREACH(c, &n->conns, entry)
		if (c->state != CONN_UP && c->state != CONN_CLOSED) {
			count++;
			oldest = c;	/* the list is newest first */
		}
	if (count >= MAX_PREAUTH && oldest != NULL)
		ae_transport_close(oldest, "too many connections in handshake, "
		    "dropping the oldest");
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int len, void *arg)
{
	aemp_node *n = arg;
	struct aemp_conn *c;
	char *peer = sockaddr_text(sa, (socklen_t)len);
	double delay;
	int refuse;

	(void)l;
	evict_preauth(n);
	evutil_make_socket_nonblocking(fd);
	c = conn_new(n, fd, peer, NULL);
	free(peer);
	/* (counted before c is inbound, so that it does not count itself) */
	refuse = (delay = ae_authfail_delay(n, sa)) > 0 &&
	    ae_authfail_waiting(n, sa) >= AUTHFAIL_WAITING;
	c->inbound = 1;
	if (refuse) {
		ae_transport_close(c, "failed to authenticate before, and "
		    "already has connections waiting");
		return;
	}
	if (delay > 0)
		arm(c, greet_later, 0, delay);
	else
		conn_start(c);
}

static void
listeners_resume(evutil_socket_t fd, short what, void *arg)
{
	aemp_node *n = arg;
	size_t i;

	(void)fd; (void)what;
	for (i = 0; i < n->nlisteners; i++)
		evconnlistener_enable(n->listeners[i]);
}

/*
 * accept() failed (out of file descriptors, say): the pending connection
 * keeps the socket readable, so the listener pauses for a second instead
 * of spinning the CPU on it.
 */
static void
accept_error(struct evconnlistener *l, void *arg)
{
	aemp_node *n = arg;

	aemp_log(n, 2, "accept: %s; not accepting for a second",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	evconnlistener_disable(l);
	if (n->listen_retry_ev == NULL)
		n->listen_retry_ev = ae_ntimer_new(n, 0, listeners_resume, n);
	ae_ntimer_add(n, n->listen_retry_ev, 1);
}

static int
listen_on(aemp_node *n, const struct addrinfo *ai)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	struct evconnlistener *l;
	int fd, one = 1;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	l = evconnlistener_new(n->base, accept_cb, n, LEV_OPT_CLOSE_ON_FREE,
	    -1, fd);
	if (l == NULL) {
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(l, accept_error);
	n->listeners = realloc(n->listeners, (n->nlisteners + 1) *
	    sizeof *n->listeners);
	n->listeners[n->nlisteners++] = l;
	{
		char *text = sockaddr_text((struct sockaddr *)&ss, sslen);
		json_array_append_new(n->listen_addrs, json_string(text));
		free(text);
	}
	return 0;
}

static int
bind_one(aemp_node *n, const char *bind)
{
	char *host = NULL, *port = NULL;
	json_t *hosts;
	size_t i;
	int rc = 0;

	if (ae_hostport_parse(bind, &host, &port) < 0)
		return ae_node_error(n, "unparsable bind address '%s'", bind);
	if (port == NULL || strcmp(port, "*") == 0) {
		free(port);
		port = strdup("0");
	}
	if (host == NULL)
		host = host_name();
	if (strcmp(host, "*") == 0)
		hosts = wildcard_hosts();
	else
		hosts = json_pack("[s]", host);
	for (i = 0; i < json_array_size(hosts) && rc == 0; i++) {
		const char *h = json_string_value(json_array_get(hosts, i));
		struct addrinfo *res = resolve(h, port, 1), *ai;
		if (res == NULL) {
			rc = ae_node_error(n, "unable to resolve bind address "
			    "%s:%s", h, port);
			break;
		}
		for (ai = res; ai != NULL && rc == 0; ai = ai->ai_next)
			if (listen_on(n, ai) < 0)
				rc = ae_node_error(n, "unable to bind %s: %s",
				    bind, strerror(errno));
		freeaddrinfo(res);
	}
	json_decref(hosts);
	free(host);
	free(port);
	return rc;
}

int
ae_transport_listen(aemp_node *n, json_t *binds)
{
	size_t i;
	json_t *v;

	if (binds == NULL) {
		json_t *def = json_pack("[s]", "*");
		int rc = ae_transport_listen(n, def);
		json_decref(def);
		return rc;
	}
	json_array_foreach(binds, i, v) {
		if (!json_is_string(v))
			return ae_node_error(n, "binds must be host:port strings");
		if (bind_one(n, json_string_value(v)) < 0)
			return -1;
	}
	return 0;
}

/* --- connections ----------------------------------------------------------- */

/*
 * Both phases read and write through c->stream, plain TCP until TLS
 * starts behind the greeting (stream.h); the events poll its socket.
 */
static struct aemp_conn *
conn_new(aemp_node *n, evutil_socket_t fd, const char *peer,
    const char *expect)
{
	struct aemp_conn *c = calloc(1, sizeof *c);

	if (c == NULL)
		abort();
	c->node = n;
	c->fd = fd;
	c->stream = ae_stream_tcp_new(fd, peer);
	c->peer = strdup(peer);
	c->expect = expect ? strdup(expect) : NULL;
	c->state = CONN_CONNECTING;
	ae_scan_init(&c->scan, n->max_packet);
	c->scan.max_values = n->max_packet / MAX_PACKET_PER_VALUE;
	c->more_ev = event_new(n->base, -1, 0, read_more, c);
	c->flush_ev = event_new(n->base, -1, 0, conn_flush, c);
	c->pump_ev = event_new(n->base, -1, 0, conn_pump, c);
	c->read_ev = event_new(n->base, fd, EV_READ | EV_PERSIST,
	    conn_read_data, c);
	c->write_ev = event_new(n->base, fd, EV_WRITE | EV_PERSIST,
	    conn_write, c);
	LIST_INSERT_HEAD(&n->conns, c, entry);
	return c;
}

static void
conn_free(aemp_node *n, void *arg)
{
	struct aemp_conn *c = arg;

	(void)n;
	ae_scan_free(&c->scan);
	ae_bytes_free(&c->in);
	ae_bytes_free(&c->out);
	free(c->peer);
	free(c->expect);
	free(c->lgreet1);
	free(c->lgreet2);
	free(c->rgreet1);
	free(c->rgreet2);
	free(c->rnodeid);
	free(c->why);
	free(c->dc_id);
	explicit_bzero(c->expect_token, sizeof c->expect_token);
	free(c);
}

static struct aemp_conn *conn_sibling(struct aemp_conn *, enum conn_state);
static void conn_up(struct aemp_conn *);

static void
unpark(aemp_node *n, void *arg)
{
	struct aemp_conn *c = arg;

	(void)n;
	if (c->state != CONN_PARKED || conn_sibling(c, CONN_AUTH) != NULL)
		return;
	event_add(c->read_ev, NULL);
	conn_up(c);
	/* packets that came behind its auth line while it waited */
	if (c->state == CONN_UP && c->in.len > 0)
		read_packets(c);
}
/* c leaves n->conns, its timer and events go: no more reads, no writes. */
static void
conn_unlink(struct aemp_conn *c)
{
	aemp_node *n = c->node;

	LIST_REMOVE(c, entry);
	if (c->timer != NULL)
		ae_ntimer_free(n, c->timer);
	c->timer = NULL;
	event_free(c->more_ev);
	event_free(c->flush_ev);
	event_free(c->pump_ev);
	event_free(c->read_ev);
	event_free(c->write_ev);
	c->more_ev = c->flush_ev = c->pump_ev = c->read_ev = c->write_ev =
	    NULL;
}

static void data_ready(struct aemp_conn *);

/* Tells the opener of a marked attempt how it went (upcall.attempt). */
static void
report_attempt(struct aemp_conn *c, const char *why)
{
	aemp_node *n = c->node;
	int tag = c->tag;

	c->tag = 0;
	if (n->upcall.attempt != NULL)
		n->upcall.attempt(n, tag, c->rnodeid, why);
}

void
ae_transport_set_tag(struct aemp_conn *c, int tag)
{
	c->tag = tag;
}

const char *
ae_transport_peer(const struct aemp_conn *c)
{
	return c->peer;
}

int
ae_transport_tls(const struct aemp_conn *c)
{
	return c->tls;
}

struct bytes *
ae_transport_out(struct aemp_conn *c)
{
	return &c->out;
}

size_t
ae_transport_in_len(const struct aemp_conn *c)
{
	return c->in.len;
}


void
ae_transport_close(struct aemp_conn *c, const char *why)
{
	aemp_node *n = c->node;
	enum conn_state was = c->state;

	char whybuf[512];

	if (was == CONN_CLOSED)
		return;
	/* why may be the stream's own text, and the stream goes first */
	snprintf(whybuf, sizeof whybuf, "%s", why);
	why = whybuf;
	c->state = CONN_CLOSED;
	if (!n->freeing)
		aemp_log(n, 9, "%s %s", c->peer, why);
	if (was != CONN_UP && !n->freeing)
		ae_stats_handshake_failed(n, was == CONN_CONNECTING, c->inbound,
		    why);
	conn_unlink(c);
	/*
	 * One non-blocking attempt to send what is queued, so that the peer
	 * gets our auth line (and so its own verdict) or the last packets.
	 */
	if (was != CONN_CONNECTING) {
		if (c->out.len > 0)
			(void)stream_write(c->stream, bytes_ptr(&c->out),
			    c->out.len);
		(void)stream_flush(c->stream);
	}
	stream_close(c->stream);
	c->stream = NULL;
	if (!n->freeing && was == CONN_HELD) {
		struct aemp_remote *r = ae_dict_get(&n->remotes, c->rnodeid);
		if (r != NULL && r->challenger == c) {
			r->challenger = NULL;
			ae_ntimer_del(n, r->challenge_ev);
		}
	}
	if (!n->freeing && was == CONN_AUTH && c->rnodeid != NULL) {
		/* the connection a parked one waited for failed: take that */
		struct aemp_conn *o = conn_sibling(c, CONN_PARKED);
		if (o != NULL)
			ae_node_call_later(n, unpark, o);
	}
	if (!n->freeing) {
		if (c->tag && was != CONN_UP)
			report_attempt(c, why);
		if (c->remote != NULL && c->remote->conn == c)
			n->upcall.lost(c->remote, why);
		if (c->dc_out && n->upcall.data_failed != NULL)
			n->upcall.data_failed(n, c->dc_id, why);
		/* callers up the stack may still hold c: free it later */
		ae_node_free_later(n, conn_free, c);
	} else
		conn_free(n, c);
}

static void
handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	ae_transport_close(arg, "handshake timeout");
}

/*
 * A node without listeners cannot be connected to, so a dead peer would
 * go unnoticed: it sends [] after monitor_timeout seconds of silence.
 */
static void
keepalive_tick(evutil_socket_t fd, short what, void *arg)
{
	struct aemp_conn *c = arg;

	(void)fd; (void)what;
	if (c->out.len == 0 && !c->listener_less_keepalive) {
		ae_bytes_add(&c->out, "[]", 2);
		event_active(c->flush_ev, EV_TIMEOUT, 1);
	}
	c->listener_less_keepalive = 0;
}

static void
arm(struct aemp_conn *c, event_callback_fn fn, int persist, double seconds)
{
	if (c->timer != NULL)
		ae_ntimer_free(c->node, c->timer);
	c->timer = ae_ntimer_new(c->node, persist, fn, c);
	ae_ntimer_add(c->node, c->timer, seconds);
}

/* Both sides send their greeting at once, without waiting (3.1). */
static void
conn_start(struct aemp_conn *c)
{
	aemp_node *n = c->node;
	evutil_socket_t fd = c->fd;
	unsigned char nonce[NONCE_BYTES];
	char *accept = ae_strlist_join(n->auth_accept, ",", 0);
	const char *auths[32], *framings[] = { "json", NULL };
	const char *kv[] = { "provider", PROVIDER, "peeraddr", c->peer,
	    "tls", "1.0", NULL, NULL, NULL };
	char *p, *save = NULL;
	size_t na = 0;
	int one = 1;

	if (n->nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	/* without a cert there is no TLS: never claim tls_* methods (3.3) */
	for (p = strtok_r(accept, ",", &save); p != NULL && na < 31;
	    p = strtok_r(NULL, ",", &save))
		if (n->tls_ctx != NULL || strncmp(p, "tls_", 4) != 0)
			auths[na++] = p;
	auths[na] = NULL;
	/* the optional pairs: tls when we have a cert, dataconn_id (11.3) */
	if (n->tls_ctx == NULL)
		kv[4] = NULL;
	if (c->dc_out) {
		kv[n->tls_ctx != NULL ? 6 : 4] = "dataconn_id";
		kv[n->tls_ctx != NULL ? 7 : 5] = c->dc_id;
	}
	c->lgreet1 = ae_greeting_format(n->id, auths, framings, kv);
	free(accept);
	if (c->lgreet1 != NULL && c->dc_out) {
		/* "aemp;..." becomes "aemp-dataconn;..." */
		char *line;
		if (asprintf(&line, "aemp-dataconn%s", c->lgreet1 + 4) < 0)
			abort();
		free(c->lgreet1);
		c->lgreet1 = line;
	}
	if (getrandom(nonce, sizeof nonce, 0) != sizeof nonce)
		abort();
	c->lgreet2 = ae_base64(nonce, sizeof nonce);
	ae_bytes_add(&c->out, c->lgreet1, strlen(c->lgreet1));
	ae_bytes_add(&c->out, "\n", 1);
	ae_bytes_add(&c->out, c->lgreet2, strlen(c->lgreet2));
	ae_bytes_add(&c->out, "\n", 1);
	c->state = CONN_GREETING;
	arm(c, handshake_timeout, 0, n->monitor_timeout);
	event_add(c->read_ev, NULL);
	flush_out(c);
}

/* The socket of a connect in progress became writable. */
static void
connect_done(struct aemp_conn *c)
{
	int e = 0;
	socklen_t len = sizeof e;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e != 0) {
		ae_transport_close(c, strerror(e));
		return;
	}
	event_del(c->write_ev);
	c->write_waiting = 0;
	conn_start(c);
}

struct aemp_conn *
ae_transport_connect(aemp_node *n, const char *addr, const char *expect)
{
	char *host = NULL, *port = NULL;
	struct addrinfo *res;
	struct aemp_conn *c;
	int fd;

	if (ae_hostport_parse(addr, &host, &port) < 0 ||
	    !aemp_port_connectable(port)) {
		aemp_log(n, 2, "%s: unparsable address", addr);
		free(host);
		free(port);
		return NULL;
	}
	if (host == NULL)
		host = host_name();
	if (strcmp(host, "*") == 0) {
		/*
		 * "*:4040" as a seed means this host's node on 4040 (the
		 * tutorial's set-up), which binds the same "*": the first
		 * address that expands to, else loopback.
		 */
		json_t *hosts = wildcard_hosts();
		const char *first = json_string_value(json_array_get(hosts, 0));
		free(host);
		host = strdup(first != NULL ? first : "127.0.0.1");
		json_decref(hosts);
	}
	res = resolve(host, port, 0);
	free(host);
	free(port);
	if (res == NULL) {
		aemp_log(n, 9, "%s: unable to resolve", addr);
		return NULL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		aemp_log(n, 9, "%s %s", addr, strerror(errno));
		freeaddrinfo(res);
		return NULL;
	}
	c = conn_new(n, fd, addr, expect);
	c->outgoing = 1;
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 &&
	    errno != EINPROGRESS) {
		freeaddrinfo(res);
		ae_transport_close(c, strerror(errno));
		return NULL;
	}
	freeaddrinfo(res);
	/* writable once connected (connect_done), even when it was at once */
	event_add(c->write_ev, NULL);
	c->write_waiting = 1;
	/* connecting counts against the handshake timeout too */
	arm(c, handshake_timeout, 0, n->monitor_timeout);
	return c;
}

/* --- handshake ------------------------------------------------------------ */

/*
 * Takes one line off the input (without LF or CR). Returns 1 with *line
 * set, 0 when more bytes are needed, -1 when the line is too long.
 */
static int
read_line(struct aemp_conn *c, char **line)
{
	const char *p = bytes_ptr(&c->in), *eol;
	size_t len;

	eol = c->in.len > 0 ? memchr(p, '\n', c->in.len) : NULL;
	if (eol == NULL)
		return c->in.len >= AEMP_MAX_LINE ? -1 : 0;
	len = (size_t)(eol - p);
	if (len + 1 > AEMP_MAX_LINE)
		return -1;
	if ((*line = strndup(p, len)) == NULL)
		abort();
	ae_bytes_consume(&c->in, len + 1);
	len = strlen(*line);
	if (len > 0 && (*line)[len - 1] == '\r')
		(*line)[len - 1] = '\0';
	return 1;
}

static int
list_has(json_t *list, const char *item)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), item) == 0)
			return 1;
	return 0;
}

/* Constant-time comparison of two NUL-terminated tokens. */
static int
token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	for (i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/*
 * TLS starts right behind the peer's nonce line (10.4): what we read past
 * it is the start of the TLS stream. Our greeting must be out in
 * plaintext first; it is a few hundred bytes into a fresh socket, so a
 * flush all but always sends it. The smaller nonce line is the client.
 */
static const char *
start_tls(struct aemp_conn *c)
{
	if (c->out.len > 0)
		flush_out(c);
	if (c->state == CONN_CLOSED)
		return "Broken pipe";
	if (c->out.len > 0)
		return "greeting not sent before TLS (socket full)";
	c->stream = ae_stream_tls_new(c->stream, c->node->tls_ctx,
	    strcmp(c->lgreet2, c->rgreet2) < 0, bytes_ptr(&c->in), c->in.len);
	ae_bytes_consume(&c->in, c->in.len);
	c->tls = 1;
	return NULL;
}

/*
 * Two connections between the same two nodes, both initiated at once
 * while a mesh forms: both sides keep the one initiated by the node with
 * the smaller ID (compared as bytes), so neither closes a connection the
 * other keeps, and no link that is up goes down for it. Perl peers keep
 * the newest instead; whichever of the two they close, the other stays.
 */
static int
conn_preferred(struct aemp_conn *c)
{
	int smaller = strcmp(c->node->id, c->rnodeid) < 0;

	return smaller == (c->outgoing != 0);
}

/* Another connection with c's peer in state, or NULL. */
static struct aemp_conn *
conn_sibling(struct aemp_conn *c, enum conn_state state)
{
	struct aemp_conn *o;

	LIST_FOREACH(o, &c->node->conns, entry)
		if (o != c && o->state == state && o->dc_id == NULL &&
		    o->rnodeid != NULL &&
		    strcmp(o->rnodeid, c->rnodeid) == 0)
			return o;
	return NULL;
}

/*
 * Our auth line (3.4, 10.6) with the method handle_greeting() chose: under
 * TLS (started by then) tls_md6_64_256 or tls_anon, else hmac_md6_64_256.
 */
static void
send_auth(struct aemp_conn *c)
{
	aemp_node *n = c->node;
	const char *method = c->auth_method;
	char token[65];

	if (strcmp(method, "tls_md6_64_256") == 0)
		ae_tls_token(c->lgreet1, c->lgreet2, c->rgreet1,
		    c->rgreet2, token);
	else if (strcmp(method, "tls_anon") == 0)
		token[0] = '\0';
	else
		ae_auth_token(n->secret, c->lgreet1, c->lgreet2,
		    c->rgreet1, c->rgreet2, token);
	if (!c->tls)
		ae_auth_token(n->secret, c->rgreet1, c->rgreet2,
		    c->lgreet1, c->lgreet2, c->expect_token);
	ae_bytes_add(&c->out, method, strlen(method));
	ae_bytes_add(&c->out, ";", 1);
	ae_bytes_add(&c->out, token, strlen(token));
	ae_bytes_add(&c->out, ";json\n", 6);
	explicit_bzero(token, sizeof token);
	c->state = CONN_AUTH;
}

/* Checks the peer's greeting (3.2), chooses methods (3.3), sends auth. */
static const char *
handle_greeting(struct aemp_conn *c)
{
	aemp_node *n = c->node;
	struct aemp_greeting g;
	struct aemp_remote *r = NULL;
	const char *why = NULL, *method = NULL;
	size_t i;
	int tls;

	if (ae_greeting_parse(c->rgreet1, strlen(c->rgreet1), &g, &why) < 0)
		return "unparsable greeting";
	/*
	 * Only aemp and, on a connection we accepted, aemp-dataconn with
	 * an ID we could have handed out (11.3, 11.5).
	 */
	if (strcmp(g.protocol, "aemp") != 0) {
		if (strcmp(g.protocol, "aemp-dataconn") != 0 || !c->inbound ||
		    c->dc_id != NULL || g.dataconn_id == NULL ||
		    !ae_dc_id_valid(g.dataconn_id)) {
			ae_greeting_clear(&g);
			return "unparsable greeting";
		}
		c->dc_id = strdup(g.dataconn_id);
	}
	c->rnodeid = strdup(g.nodeid);
	/* TLS iff we have a cert and the peer announced tls=1.x (10.3) */
	tls = n->tls_ctx != NULL && g.tls != NULL &&
	    (int)strtod(g.tls, NULL) == 1;
	/*
	 * An echoed greeting carries our own node ID too, so the echo check
	 * comes first: otherwise it could never say what really happened.
	 */
	if (strcmp(c->lgreet1, c->rgreet1) == 0 &&
	    strcmp(c->lgreet2, c->rgreet2) == 0)
		why = "authentication error, echo attack?";
	else if (g.version != 1)
		why = "version mismatch";
	else if (strcmp(g.nodeid, n->id) == 0 && c->dc_id == NULL)
		why = "I refuse to talk to myself";
	else if (!ae_nodeid_valid(g.nodeid)) {
		/*
		 * "node#port" names ports: such a node is unreachable; the
		 * rest would go into log lines, /metrics and terminals as it
		 * is (the stats count it as the greeting's protocol error).
		 */
		char *vis = ae_text_visible(g.nodeid, strlen(g.nodeid), 100);
		int hash = strchr(g.nodeid, '#') != NULL;
		why = hash ? "node ID in the greeting contains '#'" :
		    "node ID in the greeting is not printable UTF-8";
		ae_node_log_limited(n, 5, hash ? "refused a node ID with '#'" :
		    "refused an unprintable node ID", NULL, "%s: refusing node "
		    "ID '%s' in its greeting: %s", c->peer, vis, hash ?
		    "it contains '#'" : "it has control characters or bytes "
		    "that are no UTF-8");
		free(vis);
	} else if (c->dc_id == NULL &&
	    (r = ae_dict_get(&n->remotes, g.nodeid)) != NULL &&
	    r->conn != NULL && r->challenger != NULL)
		why = "already connected, not connecting again.";
	else if (tls && strcmp(c->lgreet2, c->rgreet2) == 0)
		why = "identical nonces, no TLS roles";
	if (why == NULL) {
		/*
		 * Under TLS only the tls_* methods can be sent (10.6): the
		 * first of the peer's list that we offer. Without, hmac.
		 */
		for (i = 0; g.auths[i] != NULL && method == NULL; i++)
			if (list_has(n->auth_offer, g.auths[i]) && (tls ?
			    strcmp(g.auths[i], "tls_md6_64_256") == 0 ||
			    strcmp(g.auths[i], "tls_anon") == 0 :
			    strcmp(g.auths[i], "hmac_md6_64_256") == 0))
				method = g.auths[i];
		for (i = 0; g.framings[i] != NULL; i++)
			if (strcmp(g.framings[i], "json") == 0)
				break;
		if (method == NULL) {
			json_t *list = json_array();
			char *text;
			for (i = 0; g.auths[i] != NULL; i++)
				json_array_append_new(list,
				    json_string(g.auths[i]));
			text = ae_strlist_join(list, ",", 0);
			json_decref(list);
			free(c->why);
			if (asprintf(&c->why, "%s: no common auth type "
			    "supported", text) < 0)
				abort();
			free(text);
			why = c->why;
		} else if (g.framings[i] == NULL)
			why = "no common framing method supported";
		else if (!tls && n->secret == NULL)
			why = "unable to handshake TLS and no shared secret "
			    "configured (set one with: aemp gensecret)";
	}
	if (why != NULL && strcmp(why, "already connected, not connecting "
	    "again.") == 0) {
		aemp_log(n, 9, "%s %s already connected, not connecting again.",
		    c->peer, g.nodeid);
		why = "already connected";
	}
	if (why == NULL && tls)
		why = start_tls(c);
	if (why == NULL)
		c->auth_method = strcmp(method, "tls_md6_64_256") == 0 ?
		    "tls_md6_64_256" : strcmp(method, "tls_anon") == 0 ?
		    "tls_anon" : "hmac_md6_64_256";
	if (why == NULL && r != NULL && r->conn != NULL && conn_preferred(c) &&
	    !conn_preferred(r->conn) &&
	    ae_node_now() - r->conn->up_since < n->monitor_timeout)
		/*
		 * Most likely the other half of a simultaneous connect whose
		 * first half came up here first: the peer may hold that one
		 * back for this one (conn_up), so a probe would go unanswered.
		 * This one goes; the peer then takes the other.
		 */
		why = "simultaneous connect, keeping the other connection";
	else if (why == NULL && r != NULL && r->conn != NULL) {
		/* live duplicate or restarted node? (remote_challenge) */
		c->state = CONN_HELD;
		event_del(c->read_ev);
		n->upcall.held(r, c);
	} else if (why == NULL && c->dc_id == NULL && !conn_preferred(c) &&
	    (conn_sibling(c, CONN_AUTH) != NULL ||
	    conn_sibling(c, CONN_PARKED) != NULL))
		why = "simultaneous connect, keeping the other connection";
	else if (why == NULL)
		send_auth(c);
	ae_greeting_clear(&g);
	return why;
}

/*
 * The held connection c may go on (accept) or is a duplicate of a live
 * connection. Its buffered lines are read after the current callback.
 */
static void
held_resume(aemp_node *n, void *arg)
{
	struct aemp_conn *c = arg;

	(void)n;
	if (c->state == CONN_AUTH)
		conn_handshake_read(c);
}

void
ae_transport_held_verdict(struct aemp_conn *c, int accept)
{
	aemp_node *n = c->node;

	if (c->state != CONN_HELD)
		return;
	if (!accept) {
		aemp_log(n, 9, "%s %s already connected, not connecting again.",
		    c->peer, c->rnodeid);
		ae_transport_close(c, "already connected");
		return;
	}
	aemp_log(n, 9, "%s: the old connection to %s made no progress, "
	    "taking this one", c->peer, c->rnodeid);
	send_auth(c);
	flush_out(c);
	if (c->state == CONN_CLOSED)
		return;
	event_add(c->read_ev, NULL);
	ae_node_call_later(n, held_resume, c);
}

static const char *
check_auth(struct aemp_conn *c, const char *line)
{
	aemp_node *n = c->node;
	struct aemp_authline a;
	const char *why = NULL;

	if (ae_authline_parse(line, strlen(line), &a, &why) < 0)
		return why;
	if (!list_has(n->auth_accept, a.method))
		why = "authentication method not accepted";
	else if (strcmp(a.framing, "json") != 0)
		why = "unsupported framing method";
	else if (strcmp(a.method, "tls_md6_64_256") == 0) {
		/* the peer's lines first: its own (10.6) */
		char expect[65];
		ae_tls_token(c->rgreet1, c->rgreet2, c->lgreet1, c->lgreet2,
		    expect);
		if (!c->tls || !token_equal(a.token, expect))
			why = "authentication failure/shared secret mismatch";
	} else if (strcmp(a.method, "tls_anon") == 0) {
		if (!c->tls || a.token[0] != '\0')
			why = "authentication failure/shared secret mismatch";
	} else if (strcmp(a.method, "hmac_md6_64_256") == 0) {
		/* the reference has no key under TLS and rejects it */
		if (c->tls || !token_equal(a.token, c->expect_token))
			why = "authentication failure/shared secret mismatch";
	} else if (strcmp(a.method, "cleartext") == 0) {
		size_t len = n->secret ? strlen(n->secret) : 0;
		char *hex = malloc(2 * len + 1);
		ae_hex((const unsigned char *)(n->secret ? n->secret : ""),
		    len, hex);
		/* under TLS without a secret: the empty token (10.6) */
		if ((n->secret == NULL && !c->tls) || !token_equal(a.token, hex))
			why = "authentication failure/shared secret mismatch";
		explicit_bzero(hex, 2 * len + 1);
		free(hex);
	} else
		why = "authentication method not supported";
	ae_authline_clear(&a);
	return why;
}

static void
conn_up(struct aemp_conn *c)
{
	aemp_node *n = c->node;
	struct aemp_remote *r = ae_remote_get(n, c->rnodeid, 1);
	struct aemp_conn *o;

	/* a simultaneous connect: see conn_preferred() */
	if (!conn_preferred(c) && r->conn != NULL) {
		ae_transport_close(c, "simultaneous connect, keeping the other "
		    "connection");
		return;
	}
	if (!conn_preferred(c) && r->conn == NULL &&
	    conn_sibling(c, CONN_AUTH) != NULL) {
		c->state = CONN_PARKED;
		event_del(c->read_ev);
		return;
	}
	while ((o = conn_sibling(c, CONN_PARKED)) != NULL)
		ae_transport_close(o, "simultaneous connect, keeping the other "
		    "connection");
	c->state = CONN_UP;
	n->stats.hs_ok++;
	c->up_since = ae_node_now();
	if (c->timer != NULL)
		ae_ntimer_free(c->node, c->timer);
	c->timer = NULL;
	data_phase(c);
	aemp_log(n, 9, "%s connected as %s", c->peer, c->rnodeid);
	if (c->tls) {
		char info[128];
		ae_stream_tls_describe(c->stream, info, sizeof info);
		aemp_log(n, 9, "%s TLS %s", c->peer, info);
	}
	if (n->nlisteners == 0)
		arm(c, keepalive_tick, 1, n->monitor_timeout);
	if (c->tag)
		report_attempt(c, NULL);
	c->remote = r;
	n->upcall.up(r, c);
}

/* --- data phase ----------------------------------------------------------- */

/*
 * The data phase reads and writes the same stream and byte queues as the
 * handshake, without bufferevents: they read at most 4 KiB at a time,
 * each after a FIONREAD ioctl, and their chained buffers allocate a chunk
 * per message in request-response traffic. What the handshake left (our
 * auth line not yet sent, packets that came with the peer's) is already
 * in c->out and c->in, in order.
 */
static void
data_phase(struct aemp_conn *c)
{
	if (c->out.len > 0 && !c->write_waiting)
		event_active(c->flush_ev, EV_TIMEOUT, 1);
}

/*
 * A TLS stream can hold decrypted input that the socket no longer shows
 * as readable: it is read after the next poll, like read_later().
 */
static void
pump_later(struct aemp_conn *c)
{
	struct timeval now = { 0, 0 };

	if (c->state == CONN_UP && (stream_pending(c->stream) &
	    STREAM_HAS_INPUT))
		event_add(c->pump_ev, &now);
}

static void
conn_pump(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	conn_read_data(fd, EV_READ, arg);
}

static const char *
packet_error(json_t *pkt)
{
	if (!json_is_array(pkt))
		return "protocol error: packet is not an array";
	if (json_array_size(pkt) > 0 && !json_is_string(json_array_get(pkt, 0)))
		return "protocol error: port name is not a string";
	return NULL;
}

/*
 * Delivers the packet p (len bytes, a whole array as the splitter found
 * it). Returns -1 when the connection was closed. A packet that starts
 * with a plain port name, ["NAME",..., is parsed from a copy whose ','
 * after the name is turned into '[': jansson then builds the message
 * itself, and the name is never a JSON string. Everything else, and
 * everything while tracing, takes the general path.
 */
static int
deliver_packet(struct aemp_conn *c, const char *p, size_t len)
{
	char buf[1024], *name;
	json_t *pkt;
	json_error_t jerr;
	const char *why;
	size_t i = 2, j;

	if (len > sizeof buf || len < 4 || p[1] != '"' || c->node->trace)
		goto general;
	while (i < len && plain_byte((unsigned char)p[i]))
		i++;
	if (i + 1 >= len || p[i] != '"' || (p[i + 1] != ',' &&
	    (p[i + 1] != ']' || i + 2 != len)))
		goto general;
	if (p[i + 1] == ',') {
		/* "[name," then "]" is invalid JSON, but "[" then "]" is not */
		for (j = i + 2; j < len && (p[j] == ' ' || p[j] == '\t' ||
		    p[j] == '\n' || p[j] == '\r'); j++)
			;
		if (j >= len || p[j] == ']')
			goto general;
	}
	memcpy(buf, p, len);
	buf[i] = '\0';
	if (buf[i + 1] == ']')
		pkt = json_array();
	else {
		buf[i + 1] = '[';
		pkt = json_loadb(buf + i + 1, len - i - 1, JSON_ALLOW_NUL,
		    &jerr);
	}
	/* what jansson refuses may still be what Perl sends: decide below */
	if (pkt == NULL)
		goto general;
	c->listener_less_keepalive = 1;
	c->node->upcall.deliver(c->node, buf + 2, pkt, c->remote);
	return c->state == CONN_UP ? 0 : -1;
general:
	/* Perl's JSON sends "\u0000" in strings: data may hold NUL bytes */
	switch (ae_packet_decode(p, len, &pkt, &name, &why)) {
	case PACKET_DROP:
		/* one message lost, not the link that carries everybody's */
		c->listener_less_keepalive = 1;
		c->node->upcall.drop(c->node, name, why, c->remote);
		free(name);
		return c->state == CONN_UP ? 0 : -1;
	case PACKET_OK:
		why = packet_error(pkt);
		break;
	}
	if (why != NULL) {
		json_decref(pkt);
		ae_transport_close(c, why);
		return -1;
	}
	c->listener_less_keepalive = 1;
	c->node->upcall.packet(c->remote, pkt);
	return c->state == CONN_UP ? 0 : -1;
}

/* Delivers what ae_fast_packet() parsed; -1 when the connection closed. */
static int
deliver_fast(struct aemp_conn *c, const char *name, const char *tag,
    size_t taglen, json_t *msg)
{
	c->remote->stats.msgs_in++;
	c->listener_less_keepalive = 1;
	if (tag != NULL)
		c->node->upcall.deliver_tagged(c->node, name, tag, taglen,
		    msg, c->remote);
	else
		c->node->upcall.deliver(c->node, name, msg, c->remote);
	return c->state == CONN_UP ? 0 : -1;
}

/*
 * Delivers the whole packets at the start of p (len bytes, beginning at a
 * packet boundary or where the splitter left off), ae_fast_packet()'s shapes
 * straight from memory. Returns the bytes it finished with. It stops early
 * when the connection closes, or when the budget is spent: the rest is
 * then parsed after the next poll.
 */
static size_t
parse_packets(struct aemp_conn *c, const char *p, size_t len, int *budget)
{
	size_t done = 0, pos, whole;
	const char *last;

	/*
	 * Whole packets end at or before the last ']': the fast parser
	 * looks no further, so that the start of a large packet that has not
	 * all come is not parsed in vain before the splitter takes it.
	 */
	last = len > c->scanned ? memrchr(p + c->scanned, ']', len -
	    c->scanned) : NULL;
	whole = last != NULL ? (size_t)(last + 1 - p) : 0;
	while ((pos = done + c->scanned) < len) {
		ssize_t used;
		size_t skip, plen;
		char name[FAST_NAME];
		const char *tag;
		size_t taglen;
		json_t *msg;
		if (c->scanned == 0 && !c->node->trace && pos < whole &&
		    (plen = ae_fast_packet(p + pos, whole - pos, c->scan.max,
		    name, &tag, &taglen, &msg, &c->node->spare_msg)) > 0) {
			done += plen;
			if (deliver_fast(c, name, tag, taglen, msg) < 0)
				return done;
			goto delivered;
		}
		used = ae_scan_feed(&c->scan, p + pos, len - pos);
		if (used < 0) {
			ae_transport_close(c, c->scan.too_many ? "packet too "
			    "large (too many values)" : c->scan.max &&
			    c->scanned + len - pos > c->scan.max ?
			    "packet too large" :
			    "protocol error: malformed packet stream");
			return done;
		}
		c->scanned += (size_t)used;
		if (!c->scan.done)
			break;
		skip = c->scan.skip;
		plen = c->scan.len;
		ae_scan_reset(&c->scan);
		c->scanned = 0;
		pos = done + skip;
		done += skip + plen;
		/*
		 * A packet that came in pieces is whole now: the fast parser
		 * takes it as it takes one that came in one read.
		 */
		if (!c->node->trace && ae_fast_packet(p + pos, plen, 0, name,
		    &tag, &taglen, &msg, &c->node->spare_msg) > 0) {
			if (deliver_fast(c, name, tag, taglen, msg) < 0)
				return done;
			goto delivered;
		}
		c->remote->stats.msgs_in++;
		if (deliver_packet(c, p + pos, plen) < 0)
			return done;
#ifdef __GLIBC__
		/* what a big packet decoded to is freed: give it back */
		if (plen >= BIG_PACKET_TRIM)
			malloc_trim(0);
#endif
	delivered:
		if (--*budget == 0) {
			read_later(c);
			return done;
		}
	}
	return done;
}

/* Parses the input that an earlier read left over. */
static void
read_packets(struct aemp_conn *c)
{
	int budget = READ_BUDGET;
	size_t done;

	if (c->state != CONN_UP || c->in.len <= c->scanned)
		return;
	done = parse_packets(c, bytes_ptr(&c->in), c->in.len, &budget);
	if (c->state == CONN_UP)
		ae_bytes_consume(&c->in, done);
}

/*
 * The rest of the input waits until after the next poll, so that other
 * peers and timers get their turn (event_active() would run it again in
 * this same pass).
 */
static void
read_later(struct aemp_conn *c)
{
	struct timeval now = { 0, 0 };

	event_add(c->more_ev, &now);
}

static void
read_more(evutil_socket_t fd, short what, void *arg)
{
	struct aemp_conn *c = arg;

	(void)fd; (void)what;
	read_packets(c);
	if (c->in.len <= c->scanned)
		pump_later(c);
}

/*
 * The socket is readable in the data phase. Input that the budget left
 * unparsed is parsed before anything more is read, which bounds the input
 * buffer however fast the peer sends. With no packet begun, the read goes
 * into the node's read buffer and only an unfinished end is kept.
 */
static void
conn_read_data(evutil_socket_t fd, short what, void *arg)
{
	struct aemp_conn *c = arg;
	aemp_node *n = c->node;
	int budget = READ_BUDGET;
	ssize_t got;
	size_t done, chunk = READ_CHUNK;
	char *buf;

	(void)what; (void)fd;
	if (c->state != CONN_UP) {
		conn_handshake_read(c);
		return;
	}
	if (c->in.len > c->scanned) {
		read_packets(c);
		return;
	}
	/*
	 * A packet begun that is already longer than a read is read on in
	 * reads as long as what it has (up to READ_LARGE): a large packet
	 * then takes a few reads, not one per 64 KiB. The splitter goes on
	 * where it stopped, so no byte is scanned twice.
	 */
	if (c->in.len >= READ_CHUNK)
		chunk = c->in.len < READ_LARGE ? c->in.len : READ_LARGE;
	if (c->in.len > 0)
		buf = ae_bytes_reserve(&c->in, chunk);
	else if ((buf = n->read_buf) == NULL &&
	    (buf = n->read_buf = malloc(READ_CHUNK)) == NULL)
		abort();
	got = stream_read(c->stream, buf, chunk);
	if (got <= 0) {
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		ae_transport_close(c, got == 0 ? "Unexpected end-of-file" :
		    ae_stream_error(c->stream, errno));
		return;
	}
	ae_stats_read(c->remote, (size_t)got);
	/*
	 * Replies to what is read here leave at the end rather than after
	 * another pass of the loop: request-response traffic waits on each.
	 */
	c->reading = 1;
	if (buf != n->read_buf) {
		ae_bytes_commit(&c->in, (size_t)got);
		read_packets(c);
	} else {
		done = parse_packets(c, buf, (size_t)got, &budget);
		if (c->state == CONN_UP)
			ae_bytes_add(&c->in, buf + done, (size_t)got - done);
	}
	c->reading = 0;
	if (c->state == CONN_UP && c->out.len > 0 &&
	    !c->write_waiting)
		flush_out(c);
	pump_later(c);
}

/*
 * The handshake: lines from c->in, read from the stream until it has no
 * more. When TLS starts behind the greeting the stream changes under us
 * and the loop goes on reading from the new one at once: the early bytes
 * may already hold the peer's first flight.
 */
static void
conn_handshake_read(struct aemp_conn *c)
{
	const char *why = NULL;
	char *line;
	ssize_t got;
	int rc;

	for (;;) {
		while (c->state == CONN_GREETING || c->state == CONN_AUTH) {
			rc = read_line(c, &line);
			if (rc < 0) {
				why = "line too long in handshake";
				goto fail;
			}
			if (rc == 0)
				break;
			if (c->state == CONN_AUTH) {
				why = check_auth(c, line);
				free(line);
				ae_authfail_record_fd(c->node, c->inbound ?
				    c->stream->fd : -1, c->peer, why);
				if (why != NULL)
					goto fail;
				if (c->dc_id != NULL) {
					/* never the node's connection (11.3) */
					data_ready(c);
					return;
				}
				conn_up(c);
			} else if (c->rgreet1 == NULL)
				c->rgreet1 = line;
			else {
				c->rgreet2 = line;
				if ((why = handle_greeting(c)) != NULL)
					goto fail;
			}
		}
		if (c->state == CONN_UP) {
			read_packets(c);
			pump_later(c);
			return;
		}
		if (c->state != CONN_GREETING && c->state != CONN_AUTH)
			return;
		got = stream_read(c->stream, ae_bytes_reserve(&c->in,
		    AEMP_MAX_LINE), AEMP_MAX_LINE);
		if (got > 0) {
			ae_bytes_commit(&c->in, (size_t)got);
			continue;
		}
		if (got == 0) {
			why = "Unexpected end-of-file";
			goto fail;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			break;
		why = ae_stream_error(c->stream, errno);
		goto fail;
	}
	if (!c->write_waiting)
		flush_out(c);
	return;
fail:
	ae_transport_close(c, why);
}

/* --- writing -------------------------------------------------------------- */

/*
 * Writes what the socket takes, then tells the program when the queue
 * toward the node is down to its low mark.
 */
static void
flush_out(struct aemp_conn *c)
{
	flush_write(c, 0);
	if (c->state == CONN_UP && c->remote != NULL && c->remote->wm_above &&
	    c->remote->conn == c)
		c->node->upcall.drained(c->remote);
}

/*
 * Writes what the socket takes. While some is left, the write event
 * waits for room, and no progress for monitor_timeout means a hung peer.
 * From inside a send (in_send), an error only returns -1: closing would
 * fire monitors inside the program's aemp_snd().
 */
static int
flush_write(struct aemp_conn *c, int in_send)
{
	struct aemp_stream *s = c->stream;
	ssize_t got;
	int wait;

	/* a stream's own bytes (TLS records) when we have none queued */
	if (c->out.len == 0 && stream_flush(s) < 0) {
		if (!in_send)
			ae_transport_close(c, ae_stream_error(s, errno));
		return -1;
	}
	while (c->out.len > 0) {
		got = stream_write(s, bytes_ptr(&c->out), c->out.len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			if (in_send)
				return -1;
			ae_transport_close(c, ae_stream_error(s, errno));
			return -1;
		}
		if (got > 0) {
			ae_bytes_consume(&c->out, (size_t)got);
			/* the handshake's lines leave here too, before remote */
			if (c->remote != NULL)
				c->remote->stats.bytes_out += (uint64_t)got;
		}
		/* a short write: the socket is full; or TLS waits to read */
		if (got <= 0 || s->want != 0)
			break;
	}
	/* a TLS handshake waiting for the peer is no full socket */
	wait = (c->out.len > 0 && s->want == EV_WRITE) ||
	    (stream_pending(s) & STREAM_HAS_OUTPUT);
	if (wait && !c->write_waiting) {
		/* in whole microseconds: {0, 0} would time out at once */
		double s = c->node->monitor_timeout;
		struct timeval wt;
		if (!(s >= 1e-6))
			s = 1e-6;
		if (s > 1e9)
			s = 1e9;
		wt.tv_sec = (time_t)s;
		wt.tv_usec = (suseconds_t)((s - (double)wt.tv_sec) * 1e6);
		if (wt.tv_sec == 0 && wt.tv_usec == 0)
			wt.tv_usec = 1;
		event_add(c->write_ev, &wt);
		c->write_waiting = 1;
	} else if (!wait && c->write_waiting) {
		event_del(c->write_ev);
		c->write_waiting = 0;
	}
	return 0;
}

/*
 * Runs once in each loop turn that queued packets, after the callbacks
 * that queued them, so a turn's packets leave in one write.
 */
static void
conn_flush(evutil_socket_t fd, short what, void *arg)
{
	struct aemp_conn *c = arg;

	(void)fd; (void)what;
	if (c->state == CONN_UP && !c->write_waiting)
		flush_out(c);
}

/* The socket has room again, or made no progress for monitor_timeout. */
static void
conn_write(evutil_socket_t fd, short what, void *arg)
{
	struct aemp_conn *c = arg;

	(void)fd;
	if (c->state == CONN_CONNECTING)
		connect_done(c);
	else if (what & EV_TIMEOUT)
		ae_transport_close(c, "peer stopped reading (write timeout)");
	else
		flush_out(c);
}

/* Packets were added to c->out, which held before bytes. */
static void
conn_queued(struct aemp_conn *c, size_t before)
{
	c->listener_less_keepalive = 1;
	if (before == 0 && c->out.len > 0 && !c->reading)
		event_active(c->flush_ev, EV_TIMEOUT, 1);
	if (c->node->max_queue > 0 && c->out.len > c->node->max_queue) {
		ae_transport_close(c, "send queue overflow");
		return;
	}
	/*
	 * A long queue is written now rather than at the end of the turn:
	 * its bytes are still in the cache, and the queue stays short. The
	 * program hears of a drained queue, or of an error, from the flush
	 * event, never from inside the send that wrote it.
	 */
	if (c->out.len >= WRITE_EARLY && !c->write_waiting &&
	    (flush_write(c, 1) < 0 || (c->remote != NULL &&
	    c->remote->wm_above)))
		event_active(c->flush_ev, EV_TIMEOUT, 1);
}

/* The caller appended packets to c->out, which held before bytes. */
void
ae_transport_queued(struct aemp_conn *c, size_t before)
{
	conn_queued(c, before);
}

/* Queues pkt for this loop turn's write (see conn_flush). */
int
ae_transport_write(struct aemp_conn *c, json_t *pkt)
{
	size_t before = c->out.len;

	if (ae_json_dump_packet(pkt, &c->out) < 0)
		return -1;
	conn_queued(c, before);
	return 0;
}

/* Queues ["NAME",MSG...]; name is len plain bytes (ae_codec_plain_name). */
int
ae_transport_write_named(struct aemp_conn *c, const char *name, size_t len,
    json_t *msg)
{
	size_t before = c->out.len;

	if (ae_json_dump_named(name, len, msg, &c->out) < 0)
		return -1;
	conn_queued(c, before);
	return 0;
}

void
ae_transport_write_buffer(struct aemp_conn *c, struct bytes *queue)
{
	size_t before = c->out.len;

	ae_bytes_move(&c->out, queue);
	if (before == 0 && c->out.len > 0)
		event_active(c->flush_ev, EV_TIMEOUT, 1);
}

void
ae_transport_free_all(aemp_node *n)
{
	size_t i;

	while (!LIST_EMPTY(&n->conns))
		ae_transport_close(LIST_FIRST(&n->conns), "node shutting down");
	for (i = 0; i < n->nlisteners; i++)
		evconnlistener_free(n->listeners[i]);
	if (n->listen_retry_ev != NULL)
		ae_ntimer_free(n, n->listen_retry_ev);
	n->listen_retry_ev = NULL;
	free(n->listeners);
	n->listeners = NULL;
	n->nlisteners = 0;
}

/* --- data connections (dataconn.c) ---------------------------------------- */

/* Hands c to the data connection layer, which takes it or does not know it. */
static void
data_ready(struct aemp_conn *c)
{
	aemp_node *n = c->node;

	if (n->upcall.data_ready == NULL ||
	    n->upcall.data_ready(n, c, c->dc_id, c->rnodeid, c->dc_out) < 0) {
		c->dc_out = 0;
		ae_transport_close(c, "unknown dataconn_id, closing");
	}
}

/* Our data connection attempts for id still in their handshake go. */
void
ae_transport_close_data(aemp_node *n, const char *id, const char *why)
{
	struct aemp_conn *c, *next;

	for (c = LIST_FIRST(&n->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (c->dc_out && strcmp(c->dc_id, id) == 0) {
			c->dc_out = 0;
			ae_transport_close(c, why);
		}
	}
}

struct aemp_conn *
ae_transport_connect_data(aemp_node *n, const char *addr, const char *nodeid,
    const char *id)
{
	struct aemp_conn *c = ae_transport_connect(n, addr, nodeid);

	if (c != NULL) {
		c->dc_id = strdup(id);
		c->dc_out = 1;
	}
	return c;
}

/*
 * The connection goes (no node event: it never was the node's), its
 * stream stays. Our bytes not yet sent get one more try first.
 */
struct aemp_stream *
ae_transport_detach(struct aemp_conn *c, struct bytes *in, struct bytes *out)
{
	aemp_node *n = c->node;
	struct aemp_stream *s = c->stream;
	ssize_t got;

	while (c->out.len > 0) {
		got = stream_write(s, bytes_ptr(&c->out), c->out.len);
		if (got <= 0)
			break;
		ae_bytes_consume(&c->out, (size_t)got);
	}
	ae_bytes_move(out, &c->out);
	ae_bytes_move(in, &c->in);
	c->state = CONN_CLOSED;
	c->dc_out = 0;
	conn_unlink(c);
	c->stream = NULL;
	ae_node_free_later(n, conn_free, c);
	return s;
}

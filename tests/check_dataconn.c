/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_dataconn.c: data connections (AEMP-TLS-EXT.md section 11) between
 * C nodes in one process on 127.0.0.1: 64 MiB each way in both
 * directions, with and without TLS; a target without listeners that
 * connects back on _connect; the timeouts and refusals of 11.4 with their
 * kill reasons; an unknown dataconn_id and a wrong secret from a raw
 * peer; a thousand data connections that leave nothing behind.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "testutil.h"
#include "nodeutil.h"
#include "testcert.h"
#include "conn.h"
#include "global.h"
#include "md6.h"

#define MIB	(1024 * 1024)
#define SECRET	"testsecret"

static struct event_base *base;
static aemp_node *na, *nb;
static char *pem;

/* --- a transfer: each side sends total bytes and reads total bytes ---------- */

struct side {
	struct bufferevent *bev;
	size_t	 total, sent, got;
	unsigned seed_out, seed_in;	/* pattern of each direction */
	int	 bad, done, error;
	int	*count;			/* sides finished */
	int	*all;			/* set when both are */
};

static unsigned char
pattern(size_t i, unsigned seed)
{
	return (unsigned char)((i ^ (i >> 9) ^ (i >> 17)) + seed);
}

static void side_finish(struct side *);

static void
side_write(struct bufferevent *bev, void *arg)
{
	struct side *s = arg;
	unsigned char buf[65536];
	struct evbuffer *out = bufferevent_get_output(bev);

	while (s->sent < s->total && evbuffer_get_length(out) < 4 * MIB) {
		size_t n = s->total - s->sent, i;
		if (n > sizeof buf)
			n = sizeof buf;
		for (i = 0; i < n; i++)
			buf[i] = pattern(s->sent + i, s->seed_out);
		bufferevent_write(bev, buf, n);
		s->sent += n;
	}
	side_finish(s);
}

static void
side_read(struct bufferevent *bev, void *arg)
{
	struct side *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char buf[65536];
	size_t n, i;

	while ((n = evbuffer_remove(in, buf, sizeof buf)) > 0 &&
	    n != (size_t)-1) {
		for (i = 0; i < n; i++)
			if (buf[i] != pattern(s->got + i, s->seed_in))
				s->bad = 1;
		s->got += n;
	}
	side_finish(s);
}

static void
side_event(struct bufferevent *bev, short what, void *arg)
{
	struct side *s = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		s->error = 1;
		if (!s->done) {
			s->done = 1;
			if (++*s->count == 2)
				*s->all = 1;
		}
	}
}

static void
side_finish(struct side *s)
{
	if (s->done || s->sent < s->total || s->got < s->total ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
		return;
	s->done = 1;
	if (++*s->count == 2)
		*s->all = 1;
	bufferevent_free(s->bev);
	s->bev = NULL;
}

static void
side_start(struct side *s, struct bufferevent *bev)
{
	s->bev = bev;
	bufferevent_setcb(bev, side_read, side_write, side_event, s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	side_write(bev, s);
}

/* The initiator's and the target's sides of one transfer. */
struct xfer {
	struct side init, targ;
	int	 finished;
	int	 all;
	int	 failed;
	json_t	*reason;
};

static void
on_target(aemp_node *n, struct bufferevent *bev, json_t *args, void *ud)
{
	struct xfer *x = ud;

	(void)n;
	ck_assert_int_eq(json_array_size(args), 2);
	ck_assert_str_eq(json_string_value(json_array_get(args, 0)), "tag");
	side_start(&x->targ, bev);
}

static void
on_init(aemp_node *n, struct bufferevent *bev, json_t *args, void *ud)
{
	struct xfer *x = ud;

	(void)n;
	if (bev == NULL) {
		x->failed = 1;
		x->reason = json_incref(args);
		x->finished = 2;
		x->all = 1;
		return;
	}
	ck_assert_ptr_null(args);
	side_start(&x->init, bev);
}

static void
xfer_init(struct xfer *x, size_t total)
{
	memset(x, 0, sizeof *x);
	x->init.total = x->targ.total = total;
	x->init.seed_out = x->targ.seed_in = 11;
	x->targ.seed_out = x->init.seed_in = 77;
	x->init.count = x->targ.count = &x->finished;
	x->init.all = x->targ.all = &x->all;
}

/* --- set-up ------------------------------------------------------------------ */

static int
both_up(aemp_node *a, aemp_node *b)
{
	double end = test_now() + 20;

	while (test_now() < end) {
		if (aemp_node_is_up(a, aemp_nodeid(b)) &&
		    aemp_node_is_up(b, aemp_nodeid(a)) &&
		    json_object_get(a->global->addr, aemp_nodeid(b)) != NULL &&
		    json_object_get(b->global->addr, aemp_nodeid(a)) != NULL)
			return 1;
		tn_run_for(base, 0.05);
	}
	return 0;
}

/* Between transfers: a target that takes the stream and closes it. */
static void
close_target(aemp_node *n, struct bufferevent *bev, json_t *args, void *ud)
{
	(void)n; (void)args; (void)ud;
	bufferevent_free(bev);
}

/* Nodes A and B, B seeded to A (binds [] for B when nobind). */
static void
net_up(int tls, int nobind)
{
	json_t *ea = json_object(), *eb;

	base = event_base_new();
	tn_isolate();
	if (tls)
		json_object_set_new(ea, "cert", json_string(pem));
	na = tn_node(base, "A", ea);
	ck_assert_ptr_nonnull(na);
	eb = json_pack("{s[s]}", "seeds", tn_addr(na));
	if (tls)
		json_object_set_new(eb, "cert", json_string(pem));
	if (nobind)
		json_object_set_new(eb, "binds", json_array());
	nb = tn_node(base, "B", eb);
	ck_assert_ptr_nonnull(nb);
	aemp_register_dataconn(na, "Test::sink", close_target, NULL);
	aemp_register_dataconn(nb, "Test::sink", close_target, NULL);
	ck_assert(both_up(na, nb));
}

static void
net_down(void)
{
	aemp_free(na);
	aemp_free(nb);
	na = nb = NULL;
	event_base_free(base);
	base = NULL;
}

/* One certificate for every node (tests/util/testcert.h). */
static void
make_cert(void)
{
	pem = test_cert_pem("AnyEvent::MP");
}

static void
drop_cert(void)
{
	free(pem);
	pem = NULL;
}

/* Runs one transfer from a to b and checks both sides got every byte. */
static void
transfer(aemp_node *a, aemp_node *b, size_t total, double seconds)
{
	struct xfer x;
	const char *p;

	xfer_init(&x, total);
	ck_assert_int_eq(aemp_register_dataconn(b, "Test::sink", on_target,
	    &x), 0);
	p = aemp_port(a, NULL, NULL);
	ck_assert_int_eq(aemp_dataconn(a, p, aemp_nodeid(b), 10, "Test::sink",
	    json_pack("[si]", "tag", 1), on_init, &x), 0);
	tn_run_until(base, &x.all, seconds);
	ck_assert_msg(!x.failed, "failed: %s",
	    x.reason ? json_dumps(x.reason, 0) : "");
	ck_assert_int_eq(x.finished, 2);
	ck_assert(!x.init.bad && !x.targ.bad);
	ck_assert(!x.init.error && !x.targ.error);
	ck_assert_uint_eq(x.init.got, total);
	ck_assert_uint_eq(x.targ.got, total);
	aemp_kil(a, p, NULL);
	aemp_register_dataconn(b, "Test::sink", close_target, NULL);
}

/* The node connections stayed as they were. */
static void
still_connected(void)
{
	ck_assert(aemp_node_is_up(na, "B"));
	ck_assert(aemp_node_is_up(nb, "A"));
}

START_TEST(tcp_both_ways)
{
	net_up(0, 0);
	transfer(na, nb, 64 * MIB, 60);
	transfer(nb, na, 64 * MIB, 60);
	still_connected();
	net_down();
}
END_TEST

START_TEST(tls_both_ways)
{
	struct tn_log log = { 0 };

	make_cert();
	net_up(1, 0);
	tn_log_capture(nb, &log);
	nb->log_level = 9;
	transfer(na, nb, 64 * MIB, 120);
	ck_assert(tn_log_has(&log, "data connection 1@A with A, TLS"));
	transfer(nb, na, 64 * MIB, 120);
	still_connected();
	net_down();
	free(log.text);
	drop_cert();
}
END_TEST

/* B has no listener: A asks it with _connect to connect back (11.4, 2). */
START_TEST(target_without_listeners)
{
	struct tn_log log = { 0 };

	net_up(0, 1);
	ck_assert_uint_eq(json_array_size(json_object_get(na->global->addr,
	    "B")), 0);
	tn_log_capture(na, &log);
	na->log_level = 9;
	transfer(na, nb, 4 * MIB, 30);
	ck_assert(tn_log_has(&log, "data connection 1@A with B"));
	still_connected();
	/* and the other way: B connects as usual */
	transfer(nb, na, 4 * MIB, 30);
	net_down();
	free(log.text);
}
END_TEST

/* --- failures: the context port's kill reason ---------------------------------- */

struct died {
	int	 fired;
	json_t	*reason;
};

static void
on_died(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct died *d = ud;

	(void)n; (void)port;
	d->reason = json_incref(reason);
	d->fired = 1;
}

/* Opens a data connection from a fresh port of a; its kill reason. */
static char *
failing(aemp_node *a, const char *to, double timeout, const char *func,
    double seconds)
{
	struct died d = { 0 };
	struct xfer x;
	const char *p = aemp_port(a, NULL, NULL);
	char *text;

	xfer_init(&x, 0);
	aemp_mon_cb(a, p, on_died, &d);
	ck_assert_int_eq(aemp_dataconn(a, p, to, timeout, func,
	    json_pack("[si]", "tag", 1), on_init, &x), 0);
	ck_assert(tn_run_until(base, &d.fired, seconds));
	ck_assert_int_eq(x.failed, 1);
	ck_assert(json_equal(x.reason, d.reason));
	text = json_dumps(d.reason, JSON_COMPACT);
	json_decref(d.reason);
	json_decref(x.reason);
	return text;
}

static int
hang_listener(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
set_addr(aemp_node *n, const char *node, const char *addr)
{
	json_object_set_new(n->global->addr, node, addr ?
	    json_pack("[s]", addr) : json_array());
}

START_TEST(initiator_timeout)
{
	char addr[64], *r;
	int port, fd;

	net_up(0, 0);
	fd = hang_listener(&port);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	set_addr(na, "B", addr);
	r = failing(na, "B", 1, "Test::sink", 10);
	ck_assert_str_eq(r, "[\"AnyEvent::MP::DataConn\",\"B: unable to "
	    "establish connection within 1 seconds\"]");
	free(r);
	close(fd);
	still_connected();
	net_down();
}
END_TEST

START_TEST(connection_refused)
{
	char addr[64], *r;
	int port, fd;

	net_up(0, 0);
	fd = hang_listener(&port);
	close(fd);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	set_addr(na, "B", addr);
	r = failing(na, "B", 5, "Test::sink", 10);
	ck_assert_str_eq(r, "[\"AnyEvent::MP::DataConn\",\"Connection "
	    "refused\"]");
	free(r);
	still_connected();
	net_down();
}
END_TEST

START_TEST(unresolved_function)
{
	char *r;

	net_up(0, 0);
	r = failing(na, "B#whatever", 5, "Test::nosuch", 10);
	ck_assert_str_eq(r, "[\"AnyEvent::MP::DataConn\",\"unable to resolve "
	    "function 'Test::nosuch'\"]");
	free(r);
	/* a local one is a socketpair with the same refusal */
	r = failing(na, "A", 5, "Test::nosuch", 10);
	ck_assert_str_eq(r, "[\"AnyEvent::MP::DataConn\",\"unable to resolve "
	    "function 'Test::nosuch'\"]");
	free(r);
	still_connected();
	net_down();
}
END_TEST

/* Functions unregistered from the head, middle and end of the list go. */
START_TEST(unregistered_function)
{
	static const char *const names[] = { "Test::one", "Test::two",
	    "Test::three" };
	char *r, want[128];
	size_t i;

	net_up(0, 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(aemp_register_dataconn(nb, names[i],
		    close_target, NULL), 0);
	/* newest first: three, two, one; two is in the middle */
	ck_assert_int_eq(aemp_register_dataconn(nb, "Test::two", NULL, NULL),
	    0);
	r = failing(na, "B#whatever", 5, "Test::two", 10);
	ck_assert_str_eq(r, "[\"AnyEvent::MP::DataConn\",\"unable to resolve "
	    "function 'Test::two'\"]");
	free(r);
	transfer(na, nb, 1 * MIB, 30);	/* Test::sink at the head, then out */
	ck_assert_int_eq(aemp_register_dataconn(nb, "Test::one", NULL, NULL),
	    0);
	ck_assert_int_eq(aemp_register_dataconn(nb, "Test::three", NULL, NULL),
	    0);
	for (i = 0; i < 3; i++) {
		r = failing(na, "B#whatever", 5, names[i], 10);
		snprintf(want, sizeof want, "[\"AnyEvent::MP::DataConn\","
		    "\"unable to resolve function '%s'\"]", names[i]);
		ck_assert_str_eq(r, want);
		free(r);
	}
	still_connected();
	net_down();
}
END_TEST

START_TEST(local_socketpair)
{
	net_up(0, 0);
	transfer(na, na, 8 * MIB, 30);
	net_down();
}
END_TEST

/* B's _expect timer kills P with ["AnyEvent::MP::DataConn", null] (11.4, 3). */
START_TEST(target_timeout)
{
	struct died d = { 0 };
	const char *p;
	char *r;

	net_up(0, 0);
	p = aemp_port(na, NULL, NULL);
	aemp_mon_cb(na, p, on_died, &d);
	aemp_snd(na, "B#", json_pack("[sssis]",
	    "AnyEvent::MP::DataConn::_expect", "7@A", p, 1, "Test::sink"));
	ck_assert(tn_run_until(base, &d.fired, 10));
	r = json_dumps(d.reason, JSON_COMPACT);
	ck_assert_str_eq(r, "[\"AnyEvent::MP::DataConn\",null]");
	free(r);
	json_decref(d.reason);
	ck_assert_uint_eq(ae_dataconn_pending(nb), 0);
	net_down();
}
END_TEST

/* B is asked to connect back but knows no address of A (11.4, 4). */
START_TEST(no_listeners_found)
{
	struct died d = { 0 };
	const char *p;
	char *r;

	net_up(0, 0);
	set_addr(nb, "A", NULL);
	p = aemp_port(na, NULL, NULL);
	aemp_mon_cb(na, p, on_died, &d);
	aemp_snd(na, "B#", json_pack("[sssis]",
	    "AnyEvent::MP::DataConn::_expect", "7@A", p, 5, "Test::sink"));
	aemp_snd(na, "B#", json_pack("[sss]",
	    "AnyEvent::MP::DataConn::_connect", "7@A", "A"));
	ck_assert(tn_run_until(base, &d.fired, 10));
	r = json_dumps(d.reason, JSON_COMPACT);
	ck_assert_str_eq(r, "[\"AnyEvent::MP::DataConn\",\"A: no listeners "
	    "found\"]");
	free(r);
	json_decref(d.reason);
	net_down();
}
END_TEST

/* --- raw peers ------------------------------------------------------------------ */

struct events {
	int	 count;
};

static void
on_node(aemp_node *n, const char *node, int up, json_t *reason, void *ud)
{
	struct events *e = ud;

	(void)n; (void)node; (void)up; (void)reason;
	e->count++;
}

static int
raw_connect(const char *addr)
{
	struct sockaddr_in sin;
	const char *colon = strrchr(addr, ':');
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(atoi(colon + 1));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Reads what came (running the loop meanwhile); -1 once closed. */
static ssize_t
raw_gather(int fd, char *buf, size_t size, size_t *len, double seconds)
{
	double end = test_now() + seconds;

	while (test_now() < end) {
		ssize_t r = read(fd, buf + *len, size - 1 - *len);
		if (r == 0)
			return -1;
		if (r > 0) {
			*len += (size_t)r;
			buf[*len] = '\0';
		}
		tn_run_for(base, 0.02);
	}
	return (ssize_t)*len;
}

static void
raw_write(int fd, const char *s)
{
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/*
 * A raw peer greets B with aemp-dataconn and id, authenticates with
 * secret and reports whether B closed the connection after its own auth
 * line (1) or kept it open.
 */
static int
raw_dataconn_as(const char *as, const char *id, const char *secret,
    const char *extra, int *got_auth)
{
	char my1[256], buf[8192], g1[4096], g2[512], token[65], line[512];
	const char *nonce = "bm9uY2Vub25jZW5vbmNl";
	size_t len = 0;
	char *nl, *nl2;
	int fd = raw_connect(tn_addr(nb)), closed;

	snprintf(my1, sizeof my1, "aemp-dataconn;1;%s;hmac_md6_64_256;json;"
	    "dataconn_id=%s", as, id);
	raw_write(fd, my1);
	raw_write(fd, "\n");
	raw_write(fd, nonce);
	raw_write(fd, "\n");
	raw_gather(fd, buf, sizeof buf, &len, 0.5);
	nl = strchr(buf, '\n');
	ck_assert_ptr_nonnull(nl);
	nl2 = strchr(nl + 1, '\n');
	ck_assert_ptr_nonnull(nl2);
	snprintf(g1, sizeof g1, "%.*s", (int)(nl - buf), buf);
	snprintf(g2, sizeof g2, "%.*s", (int)(nl2 - nl - 1), nl + 1);
	ck_assert(strncmp(g1, "aemp;1;B;", 9) == 0);
	ae_auth_token(secret, my1, nonce, g1, g2, token);
	/* the auth line and the first application bytes in one write */
	snprintf(line, sizeof line, "hmac_md6_64_256;%s;json\n%s", token,
	    extra);
	raw_write(fd, line);
	closed = raw_gather(fd, buf, sizeof buf, &len, 1.0) < 0;
	*got_auth = strstr(buf, "hmac_md6_64_256;") != NULL;
	close(fd);
	return closed;
}

static int
raw_dataconn(const char *id, const char *secret, const char *extra,
    int *got_auth)
{
	return raw_dataconn_as("A", id, secret, extra, got_auth);
}

START_TEST(unknown_dataconn_id)
{
	struct events ea = { 0 }, eb = { 0 };
	int auth = 0;

	net_up(0, 0);
	aemp_mon_nodes(na, on_node, &ea);
	aemp_mon_nodes(nb, on_node, &eb);
	/* authenticates as A, which B is connected to already: no matter */
	ck_assert_int_eq(raw_dataconn("nosuch@A", SECRET, "", &auth), 1);
	ck_assert_int_eq(auth, 1);	/* B did authenticate it */
	tn_run_for(base, 0.3);
	ck_assert_int_eq(ea.count, 0);
	ck_assert_int_eq(eb.count, 0);
	still_connected();
	transfer(na, nb, MIB, 20);
	net_down();
}
END_TEST

START_TEST(wrong_secret)
{
	struct events eb = { 0 };
	struct tn_log log = { 0 };
	int auth = 0;

	net_up(0, 0);
	tn_log_capture(nb, &log);
	nb->log_level = 9;
	aemp_mon_nodes(nb, on_node, &eb);
	/* an ID that B expects: only the secret is wrong */
	aemp_snd(na, "B#", json_pack("[sssis]",
	    "AnyEvent::MP::DataConn::_expect", "9@A",
	    aemp_port(na, NULL, NULL), 5, "Test::sink"));
	tn_run_for(base, 0.2);
	ck_assert_uint_eq(ae_dataconn_pending(nb), 1);
	ck_assert_int_eq(raw_dataconn("9@A", "wrong", "", &auth), 1);
	ck_assert(tn_log_has(&log, "shared secret mismatch"));
	ck_assert_int_eq(eb.count, 0);
	ck_assert_uint_eq(ae_dataconn_pending(nb), 1);	/* still waiting */
	still_connected();
	net_down();
	free(log.text);
}
END_TEST

static void early_target(aemp_node *, struct bufferevent *, json_t *,
    void *);

/* An ID promised to A, taken by another node that knows the secret. */
START_TEST(id_from_another_node)
{
	struct bufferevent *bev = NULL;
	struct events eb = { 0 };
	int auth = 0;

	net_up(0, 0);
	aemp_mon_nodes(nb, on_node, &eb);
	aemp_register_dataconn(nb, "Test::early", early_target, &bev);
	aemp_snd(na, "B#", json_pack("[sssis]",
	    "AnyEvent::MP::DataConn::_expect", "6@A",
	    aemp_port(na, NULL, NULL), 5, "Test::early"));
	tn_run_for(base, 0.2);
	ck_assert_int_eq(raw_dataconn_as("Z", "6@A", SECRET, "stolen\n",
	    &auth), 1);
	ck_assert_int_eq(auth, 1);
	ck_assert_ptr_null(bev);
	ck_assert_int_eq(eb.count, 0);
	ck_assert_uint_eq(ae_dataconn_pending(nb), 1);	/* A may still come */
	still_connected();
	net_down();
}
END_TEST

/* What an early target read. */
static char early[256];

static void
early_read(struct bufferevent *bev, void *arg)
{
	size_t len = strlen(early);

	(void)arg;
	evbuffer_remove(bufferevent_get_input(bev), early + len,
	    sizeof early - 1 - len);
}

static void
early_target(aemp_node *n, struct bufferevent *bev, json_t *args, void *ud)
{
	(void)n; (void)args;
	*(struct bufferevent **)ud = bev;
	bufferevent_setcb(bev, early_read, NULL, NULL, NULL);
	bufferevent_enable(bev, EV_READ);
}

/* Bytes in the same read as the auth line reach the application first. */
START_TEST(bytes_behind_handshake)
{
	struct bufferevent *bev = NULL;
	int auth = 0;

	net_up(0, 0);
	aemp_register_dataconn(nb, "Test::early", early_target, &bev);
	aemp_snd(na, "B#", json_pack("[sssis]",
	    "AnyEvent::MP::DataConn::_expect", "5@A",
	    aemp_port(na, NULL, NULL), 5, "Test::early"));
	tn_run_for(base, 0.2);
	ck_assert_int_eq(raw_dataconn("5@A", SECRET, "early bytes\n", &auth),
	    0);
	ck_assert_int_eq(auth, 1);
	tn_run_for(base, 0.2);
	ck_assert_ptr_nonnull(bev);
	ck_assert_str_eq(early, "early bytes\n");
	bufferevent_free(bev);
	still_connected();
	net_down();
}
END_TEST

/* --- backpressure ------------------------------------------------------------ */

struct bp {
	struct bufferevent *in, *out;	/* the target's, the initiator's */
	size_t	 sent, got, limit;
	int	 bad, failed;
};

static void
bp_write(struct bufferevent *bev, void *arg)
{
	struct bp *b = arg;
	struct evbuffer *out = bufferevent_get_output(bev);
	unsigned char buf[65536];
	size_t i;

	/* 256 MiB at most: a writer never held back stops there */
	while (b->sent < b->limit && b->sent < 256 * MIB &&
	    evbuffer_get_length(out) < MIB) {
		for (i = 0; i < sizeof buf; i++)
			buf[i] = pattern(b->sent + i, 5);
		bufferevent_write(bev, buf, sizeof buf);
		b->sent += sizeof buf;
	}
}

static void
bp_read(struct bufferevent *bev, void *arg)
{
	struct bp *b = arg;
	unsigned char buf[65536];
	size_t n, i;

	while ((n = evbuffer_remove(bufferevent_get_input(bev), buf,
	    sizeof buf)) > 0 && n != (size_t)-1) {
		for (i = 0; i < n; i++)
			if (buf[i] != pattern(b->got + i, 5))
				b->bad = 1;
		b->got += n;
	}
}

/* The target takes the stream but does not read yet. */
static void
bp_target(aemp_node *n, struct bufferevent *bev, json_t *args, void *ud)
{
	struct bp *b = ud;

	(void)n; (void)args;
	b->in = bev;
	bufferevent_setcb(bev, bp_read, NULL, NULL, b);
	bufferevent_disable(bev, EV_READ);
}

static void
bp_init(aemp_node *n, struct bufferevent *bev, json_t *args, void *ud)
{
	struct bp *b = ud;

	(void)n; (void)args;
	if (bev == NULL) {
		b->failed = 1;
		return;
	}
	b->out = bev;
	bufferevent_setwatermark(bev, EV_WRITE, MIB / 2, 0);
	bufferevent_setcb(bev, NULL, bp_write, NULL, b);
	bufferevent_enable(bev, EV_WRITE);
	bp_write(bev, b);
}

/*
 * A writer whose reader does not read is held back once the buffers
 * between them are full (the pumps' PUMP_HIGH each way, the sockets'),
 * and every byte arrives, in order, once the reader reads.
 */
START_TEST(held_back_then_delivered)
{
	struct bp b;
	double end;
	size_t last = 0;
	int still = 0;

	memset(&b, 0, sizeof b);
	b.limit = (size_t)-1;
	net_up(0, 0);
	aemp_register_dataconn(nb, "Test::slow", bp_target, &b);
	ck_assert_int_eq(aemp_dataconn(na, aemp_port(na, NULL, NULL), "B", 10,
	    "Test::slow", NULL, bp_init, &b), 0);
	/* until nothing more goes for a second */
	for (end = test_now() + 30; still < 4 && test_now() < end &&
	    b.sent < 80 * MIB; ) {
		tn_run_for(base, 0.25);
		ck_assert(!b.failed);
		still = b.sent > 0 && b.sent == last ? still + 1 : 0;
		last = b.sent;
	}
	ck_assert_msg(still == 4, "the writer was never held back (%zu bytes)",
	    b.sent);
	ck_assert_ptr_nonnull(b.in);
	ck_assert_msg(b.sent < 80 * MIB, "%zu bytes buffered", b.sent);
	ck_assert_uint_eq(b.got, 0);
	/* the reader reads: the rest, and 4 MiB more */
	b.limit = b.sent + 4 * MIB;
	bufferevent_enable(b.in, EV_READ);
	bp_write(b.out, &b);
	for (end = test_now() + 60; b.got < b.limit && test_now() < end; )
		tn_run_for(base, 0.1);
	ck_assert_uint_eq(b.got, b.limit);
	ck_assert(!b.bad);
	bufferevent_free(b.out);
	bufferevent_free(b.in);
	still_connected();
	net_down();
}
END_TEST

/* --- leaks --------------------------------------------------------------------- */

static int
fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int count = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			count++;
	closedir(d);
	return count;
}

static int
conn_count(aemp_node *n)
{
	struct aemp_conn *c;
	int count = 0;

	LIST_FOREACH(c, &n->conns, entry)
		count++;
	return count;
}

START_TEST(thousand)
{
	int fds, i;
	size_t mem;

	net_up(0, 0);
	transfer(na, nb, 1024, 20);	/* buffers of the first one */
	tn_run_for(base, 0.2);
	fds = fd_count();
	mem = mallinfo2().uordblks;
	for (i = 0; i < 1000; i++)
		transfer(i % 2 ? nb : na, i % 2 ? na : nb, 1024, 20);
	tn_run_for(base, 0.5);
	ck_assert_int_eq(fd_count(), fds);
	ck_assert_uint_eq(ae_dataconn_pending(na), 0);
	ck_assert_uint_eq(ae_dataconn_pending(nb), 0);
	ck_assert_int_eq(conn_count(na), 1);
	ck_assert_int_eq(conn_count(nb), 1);
	/* ports and monitors are the test's; a leak per connection is more */
	ck_assert_msg(mallinfo2().uordblks < mem + 1000 * 512,
	    "%zu bytes more after 1000 data connections",
	    mallinfo2().uordblks - mem);
	still_connected();
	net_down();
}
END_TEST

/* examples/datacopy: a 20 MB file between two processes, byte for byte. */
START_TEST(datacopy_example)
{
	char *dir = test_tmpdir(), rc[512], in[512], out[512], bind[64];
	char seed[64], *aemp = test_bin("aemp"), *dc = test_example("datacopy");
	char *env[] = { rc, NULL, NULL };
	char *setup1[] = { aemp, "setsecret", "sekr1tsekr1t", "profile",
	    "recv", "nodeid", "recv", "binds", bind, NULL };
	char *setup2[] = { aemp, "profile", "send", "nodeid", "sender",
	    "seeds", seed, "binds", "[]", NULL };
	char *recv_argv[] = { dc, "receive", out, NULL };
	char *send_argv[] = { dc, "send", "recv", in, NULL };
	char *a, *b;
	FILE *f;
	pid_t pid;
	int port = test_free_port(), i;

	snprintf(rc, sizeof rc, "AEMP_RC=%s/aemp.db", dir);
	snprintf(in, sizeof in, "%s/in", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", port);
	snprintf(seed, sizeof seed, "127.0.0.1:%d", port);
	ck_assert_int_eq(test_run(setup1, env, NULL, NULL, NULL, 20), 0);
	ck_assert_int_eq(test_run(setup2, env, NULL, NULL, NULL, 20), 0);
	f = fopen(in, "w");
	for (i = 0; i < 20 * 1000 * 1000; i++)
		putc(pattern((size_t)i, 5) | 1, f);	/* no NUL: strlen */
	fclose(f);
	env[1] = "AEMP_PROFILE=recv";
	pid = test_spawn(recv_argv, env, NULL, -1);
	usleep(500000);
	env[1] = "AEMP_PROFILE=send";
	ck_assert_int_eq(test_run(send_argv, env, NULL, NULL, NULL, 60), 0);
	a = test_slurp(in);
	b = NULL;
	for (i = 0; i < 50; i++) {	/* the receiver may still write */
		free(b);
		b = test_slurp(out);
		if (b != NULL && strlen(b) == strlen(a))
			break;
		usleep(100000);
	}
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(strlen(b), strlen(a));
	ck_assert(memcmp(a, b, strlen(a)) == 0);
	test_stop(pid);
	free(a);
	free(b);
	test_rmtree(dir);
	free(dir);
	free(aemp);
	free(dc);
}
END_TEST

static Suite *
dataconn_suite(void)
{
	Suite *s = suite_create("dataconn");
	TCase *bulk = tcase_create("bulk"), *fail = tcase_create("failures");
	TCase *raw = tcase_create("raw"), *leak = tcase_create("leaks");
	TCase *bp = tcase_create("backpressure");

	tcase_set_timeout(bulk, 300);
	tcase_add_test(bulk, tcp_both_ways);
	tcase_add_test(bulk, tls_both_ways);
	tcase_add_test(bulk, target_without_listeners);
	tcase_add_test(bulk, local_socketpair);
	tcase_add_test(bulk, datacopy_example);
	tcase_set_timeout(bp, 120);
	tcase_add_test(bp, held_back_then_delivered);
	tcase_set_timeout(fail, 60);
	tcase_add_test(fail, initiator_timeout);
	tcase_add_test(fail, connection_refused);
	tcase_add_test(fail, unresolved_function);
	tcase_add_test(fail, unregistered_function);
	tcase_add_test(fail, target_timeout);
	tcase_add_test(fail, no_listeners_found);
	tcase_set_timeout(raw, 60);
	tcase_add_test(raw, unknown_dataconn_id);
	tcase_add_test(raw, wrong_secret);
	tcase_add_test(raw, bytes_behind_handshake);
	tcase_add_test(raw, id_from_another_node);
	tcase_set_timeout(leak, 300);
	tcase_add_test(leak, thousand);
	suite_add_tcase(s, bulk);
	suite_add_tcase(s, fail);
	suite_add_tcase(s, raw);
	suite_add_tcase(s, bp);
	suite_add_tcase(s, leak);
	return s;
}

AEMP_TEST_MAIN(dataconn_suite)

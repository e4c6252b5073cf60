/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_status.c: the node's counters (aemp_stats() and the node port
 * request), aempd's status endpoint (paths, methods, huge headers, bearer
 * token, 1,000 idle connections next to AEMP traffic, /metrics through a
 * strict parser of the exposition format) and "aemp top". Processes on
 * 127.0.0.1 only, killed by PID, every wait bounded.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "nodeutil.h"
#include "md6.h"
#include "wire.h"

#define SECRET	"statussecret"

static char *dir;
static char rc_env[PATH_MAX + 16];
static char *env[] = { rc_env, NULL };

static void
setup(void)
{
	dir = test_tmpdir();
	snprintf(rc_env, sizeof rc_env, "AEMP_RC=%s/aemp.db", dir);
	unsetenv("AEMP_PROFILE");
	signal(SIGPIPE, SIG_IGN);
	tn_isolate();
}

static void
teardown(void)
{
	test_rmtree(dir);
	free(dir);
}

/* --- counters ------------------------------------------------------------ */

struct sink {
	int	 got;
	json_t	*reply;
};

static int
count_rcv(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct sink *s = ud;

	(void)n; (void)self; (void)msg;
	s->got++;
	return 0;
}

static int
keep_reply(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct sink *s = ud;

	(void)n; (void)self;
	json_decref(s->reply);
	s->reply = json_incref(msg);
	s->got++;
	return 0;
}

/* The snapshot's entry for node in "connections" (borrowed from snap). */
static json_t *
conn_of(json_t *snap, const char *node)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(snap, "connections"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "node")),
		    node) == 0)
			return c;
	return NULL;
}

static json_int_t
field(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	if (b != NULL)
		v = json_object_get(v, b);
	ck_assert_msg(json_is_integer(v), "%s.%s is not an integer", a,
	    b ? b : "");
	return json_integer_value(v);
}

START_TEST(counters_follow_traffic)
{
	struct event_base *base = event_base_new();
	json_t *extra = json_pack("{s:i}", "monitor_timeout", 120);
	aemp_node *a = tn_node(base, "sa", json_copy(extra));
	aemp_node *b;
	json_t *sa0, *sb0, *sa1, *sb1, *ca0, *cb0, *ca1, *cb1;
	struct sink sink = { 0, NULL }, rep = { 0, NULL };
	const char *port;
	char *id, unknown[128];
	int i, N = 500;
	double t;

	json_object_set_new(extra, "seeds", json_pack("[s]", tn_addr(a)));
	b = tn_node(base, "sb", extra);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	port = aemp_port(b, count_rcv, &sink);
	id = strdup(port);
	/* connect, and let the global service finish its exchange */
	aemp_sndf(a, id, "s", "hello");
	ck_assert(tn_run_until(base, &sink.got, 20));
	tn_run_for(base, 1.0);
	sink.got = 0;

	sa0 = aemp_stats(a);
	sb0 = aemp_stats(b);
	ca0 = conn_of(sa0, "sb");
	cb0 = conn_of(sb0, "sa");
	ck_assert_ptr_nonnull(ca0);
	ck_assert_ptr_nonnull(cb0);
	ck_assert_str_eq(json_string_value(json_object_get(ca0, "state")), "up");
	ck_assert(json_is_false(json_object_get(ca0, "tls")));
	ck_assert_str_eq(json_string_value(json_object_get(sa0, "nodeid")),
	    "sa");

	for (i = 0; i < N; i++)
		aemp_sndf(a, id, "si", "n", i);
	t = test_now();
	while (sink.got < N && test_now() - t < 20)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_eq(sink.got, N);
	/* the last writes and reads of the counters' own bytes */
	tn_run_for(base, 0.3);

	sa1 = aemp_stats(a);
	sb1 = aemp_stats(b);
	ca1 = conn_of(sa1, "sb");
	cb1 = conn_of(sb1, "sa");
	ck_assert_int_eq(field(ca1, "messages_out", NULL) -
	    field(ca0, "messages_out", NULL), N);
	ck_assert_int_eq(field(cb1, "messages_in", NULL) -
	    field(cb0, "messages_in", NULL), N);
	ck_assert_int_eq(field(sb1, "messages", "delivered") -
	    field(sb0, "messages", "delivered"), N);
	/* what one side wrote, the other read */
	ck_assert_int_gt(field(ca1, "bytes_out", NULL) -
	    field(ca0, "bytes_out", NULL), N * 10);
	ck_assert_int_eq(field(ca1, "bytes_out", NULL) -
	    field(ca0, "bytes_out", NULL), field(cb1, "bytes_in", NULL) -
	    field(cb0, "bytes_in", NULL));
	/* and nothing moved the other way */
	ck_assert_int_eq(field(ca1, "messages_in", NULL),
	    field(ca0, "messages_in", NULL));
	ck_assert_int_eq(field(ca1, "queue_bytes", NULL), 0);
	ck_assert_int_eq(field(ca1, "transport_errors", NULL), 0);
	ck_assert_int_ge(field(sa1, "handshakes", "ok") +
	    field(sb1, "handshakes", "ok"), 2);
	json_decref(sa0);
	json_decref(sb0);
	json_decref(sa1);
	json_decref(sb1);

	/* a message to a port that does not exist is counted as dropped */
	sb0 = aemp_stats(b);
	snprintf(unknown, sizeof unknown, "sb#nosuchport");
	aemp_sndf(a, unknown, "s", "lost");
	aemp_sndf(a, id, "s", "after");	/* arrives after the lost one */
	ck_assert(tn_run_until(base, &sink.got, 10));
	tn_run_for(base, 0.1);
	sb1 = aemp_stats(b);
	ck_assert_int_eq(field(sb1, "messages", "unknown_port_dropped") -
	    field(sb0, "messages", "unknown_port_dropped"), 1);
	json_decref(sb0);
	json_decref(sb1);

	/* ports created and killed */
	sb0 = aemp_stats(b);
	{
		char *ports[10];
		for (i = 0; i < 10; i++)
			ports[i] = strdup(aemp_port(b, count_rcv, &sink));
		for (i = 0; i < 4; i++)
			aemp_kil(b, ports[i], NULL);
		tn_run_for(base, 0.1);
		for (i = 0; i < 10; i++)
			free(ports[i]);
	}
	sb1 = aemp_stats(b);
	ck_assert_int_eq(field(sb1, "ports", "created") -
	    field(sb0, "ports", "created"), 10);
	ck_assert_int_eq(field(sb1, "ports", "killed") -
	    field(sb0, "ports", "killed"), 4);
	ck_assert_int_eq(field(sb1, "ports", "alive") -
	    field(sb0, "ports", "alive"), 6);
	json_decref(sb0);
	json_decref(sb1);

	/* the node port request answers with the other node's snapshot */
	aemp_snd(a, "sb", json_pack("[ss]", AEMP_STATS_REQUEST,
	    aemp_port(a, keep_reply, &rep)));
	ck_assert(tn_run_until(base, &rep.got, 10));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    rep.reply, 0), "nodeid")), "sb");
	ck_assert_ptr_nonnull(conn_of(json_array_get(rep.reply, 0), "sa"));
	json_decref(rep.reply);

	/* the peer goes away: its entry says down, with an error counted */
	aemp_free(b);
	tn_run_for(base, 0.5);
	sa1 = aemp_stats(a);
	ca1 = conn_of(sa1, "sb");
	ck_assert_str_ne(json_string_value(json_object_get(ca1, "state")),
	    "up");
	ck_assert_int_ge(field(ca1, "transport_errors", NULL), 1);
	json_decref(sa1);
	free(id);
	aemp_free(a);
	event_base_free(base);
}
END_TEST

/* --- a strict parser of the Prometheus text format (0.0.4) --------------- */

static int
metric_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' ||
	    s[0] == ':'))
		return 0;
	for (i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return 0;
	return 1;
}

static int
label_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return len < 2 || s[0] != '_' || s[1] != '_';	/* __ is reserved */
}

static int
float_ok(const char *s, size_t len, double *v)
{
	char buf[64], *end;

	if (len == 0 || len >= sizeof buf)
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strcmp(buf, "NaN") == 0 || strcmp(buf, "+Inf") == 0 ||
	    strcmp(buf, "-Inf") == 0) {
		*v = strcmp(buf, "NaN") == 0 ? NAN : buf[0] == '+' ? INFINITY :
		    -INFINITY;
		return 1;
	}
	/* no hex, no blanks, no inf/nan spellings other than the above */
	for (end = buf; *end; end++)
		if (!(isdigit((unsigned char)*end) || strchr("+-.eE", *end)))
			return 0;
	errno = 0;
	*v = strtod(buf, &end);
	return errno == 0 && *end == '\0';
}

/*
 * Checks text; returns the number of samples, or -1 with why set. Beyond
 * the format: every name starts with aemp_, has HELP and TYPE before its
 * samples, its samples come together, counters end in _total and are not
 * negative, and no series appears twice.
 */
static int
metrics_parse(const char *text, char *why, size_t whylen)
{
	json_t *typed = json_object(), *helped = json_object();
	json_t *done = json_object(), *series = json_object();
	char current[256] = "";
	const char *p = text;
	int samples = 0, lineno = 0;

#define FAIL(...) do { snprintf(why, whylen, "line %d: ", lineno); \
	snprintf(why + strlen(why), whylen - strlen(why), __VA_ARGS__); \
	goto fail; } while (0)
	if (*text == '\0')
		FAIL("empty");
	while (*p != '\0') {
		const char *eol = strchr(p, '\n'), *q;
		char name[256], key[2048];
		size_t len, nlen;
		double v;

		lineno++;
		if (eol == NULL)
			FAIL("no newline at the end");
		len = (size_t)(eol - p);
		if (len == 0)
			FAIL("empty line");
		if (memchr(p, '\r', len) != NULL)
			FAIL("carriage return");
		if (strncmp(p, "# HELP ", 7) == 0 || strncmp(p, "# TYPE ", 7) ==
		    0) {
			int help = p[2] == 'H';
			const char *sp;
			q = p + 7;
			sp = memchr(q, ' ', (size_t)(eol - q));
			nlen = sp != NULL ? (size_t)(sp - q) : (size_t)(eol - q);
			if (!metric_name_ok(q, nlen) || nlen >= sizeof name)
				FAIL("bad metric name in %s", help ? "HELP" :
				    "TYPE");
			memcpy(name, q, nlen);
			name[nlen] = '\0';
			if (sp == NULL || sp + 1 >= eol)
				FAIL("%s of %s without text", help ? "HELP" :
				    "TYPE", name);
			if (json_object_get(done, name) != NULL)
				FAIL("%s of %s after its samples", help ?
				    "HELP" : "TYPE", name);
			if (help) {
				const char *h;
				if (json_object_get(helped, name) != NULL)
					FAIL("second HELP for %s", name);
				for (h = sp + 1; h < eol; h++)
					if (*h == '\\' && (h + 1 >= eol ||
					    (h[1] != '\\' && h[1] != 'n')))
						FAIL("bad escape in HELP");
					else if (*h == '\\')
						h++;
				json_object_set_new(helped, name, json_true());
			} else {
				size_t tlen = (size_t)(eol - sp - 1);
				char type[16];
				if (json_object_get(typed, name) != NULL)
					FAIL("second TYPE for %s", name);
				if (tlen >= sizeof type)
					FAIL("bad type");
				memcpy(type, sp + 1, tlen);
				type[tlen] = '\0';
				if (strcmp(type, "counter") != 0 &&
				    strcmp(type, "gauge") != 0 &&
				    strcmp(type, "histogram") != 0 &&
				    strcmp(type, "summary") != 0 &&
				    strcmp(type, "untyped") != 0)
					FAIL("unknown type '%s'", type);
				if (strcmp(type, "counter") == 0 && (nlen < 6 ||
				    strcmp(name + nlen - 6, "_total") != 0))
					FAIL("counter %s not named *_total",
					    name);
				json_object_set_new(typed, name,
				    json_string(type));
			}
			p = eol + 1;
			continue;
		}
		if (*p == '#') {	/* another comment */
			p = eol + 1;
			continue;
		}
		/* a sample: name[{labels}] value [timestamp] */
		for (q = p; q < eol && *q != '{' && *q != ' '; q++)
			;
		nlen = (size_t)(q - p);
		if (!metric_name_ok(p, nlen) || nlen >= sizeof name)
			FAIL("bad sample name");
		memcpy(name, p, nlen);
		name[nlen] = '\0';
		if (strncmp(name, "aemp_", 5) != 0)
			FAIL("%s is not an aemp_ metric", name);
		if (json_object_get(typed, name) == NULL ||
		    json_object_get(helped, name) == NULL)
			FAIL("sample of %s without HELP and TYPE", name);
		if (strcmp(current, name) != 0) {
			if (json_object_get(done, name) != NULL)
				FAIL("samples of %s are not together", name);
			if (*current)
				json_object_set_new(done, current, json_true());
			snprintf(current, sizeof current, "%s", name);
		}
		snprintf(key, sizeof key, "%s", name);
		if (*q == '{') {
			json_t *seen = json_object();
			q++;
			while (q < eol && *q != '}') {
				const char *ln = q;
				char lname[128];
				while (q < eol && *q != '=')
					q++;
				if (!label_name_ok(ln, (size_t)(q - ln)) ||
				    (size_t)(q - ln) >= sizeof lname) {
					json_decref(seen);
					FAIL("bad label name");
				}
				memcpy(lname, ln, (size_t)(q - ln));
				lname[q - ln] = '\0';
				if (json_object_get(seen, lname) != NULL) {
					json_decref(seen);
					FAIL("label %s twice", lname);
				}
				json_object_set_new(seen, lname, json_true());
				if (q + 1 >= eol || q[1] != '"') {
					json_decref(seen);
					FAIL("label value not quoted");
				}
				for (q += 2; q < eol && *q != '"'; q++)
					if (*q == '\\') {
						if (q + 1 >= eol || (q[1] != '\\' &&
						    q[1] != '"' && q[1] != 'n')) {
							json_decref(seen);
							FAIL("bad escape in label");
						}
						q++;
					}
				if (q >= eol) {
					json_decref(seen);
					FAIL("unterminated label value");
				}
				q++;
				if (q < eol && *q == ',')
					q++;
				else if (q >= eol || *q != '}') {
					json_decref(seen);
					FAIL("expected , or } after a label");
				}
			}
			json_decref(seen);
			if (q >= eol)
				FAIL("unterminated labels");
			snprintf(key + strlen(key), sizeof key - strlen(key),
			    "%.*s", (int)(q + 1 - p - nlen), p + nlen);
			q++;
		}
		if (json_object_get(series, key) != NULL)
			FAIL("series %s twice", key);
		json_object_set_new(series, key, json_true());
		if (q >= eol || *q != ' ')
			FAIL("no value");
		q++;
		{
			const char *ve = memchr(q, ' ', (size_t)(eol - q));
			if (ve == NULL)
				ve = eol;
			if (!float_ok(q, (size_t)(ve - q), &v))
				FAIL("bad value '%.*s'", (int)(ve - q), q);
			if (ve < eol) {
				const char *ts;
				for (ts = ve + 1; ts < eol; ts++)
					if (!isdigit((unsigned char)*ts) &&
					    !(ts == ve + 1 && *ts == '-'))
						FAIL("bad timestamp");
				if (ve + 1 == eol)
					FAIL("empty timestamp");
			}
		}
		if (strcmp(json_string_value(json_object_get(typed, name)),
		    "counter") == 0 && !(v >= 0))
			FAIL("counter %s is %g", name, v);
		samples++;
		p = eol + 1;
	}
#undef FAIL
	json_decref(typed);
	json_decref(helped);
	json_decref(done);
	json_decref(series);
	return samples;
fail:
	json_decref(typed);
	json_decref(helped);
	json_decref(done);
	json_decref(series);
	return -1;
}

/* The parser itself: it must refuse what is wrong, or it proves nothing. */
START_TEST(metrics_parser_is_strict)
{
	char why[256];
	static const char good[] =
	    "# HELP aemp_x_total X.\n# TYPE aemp_x_total counter\n"
	    "aemp_x_total{peer=\"a\\\"b\\\\c\\nd\"} 3\n"
	    "aemp_x_total{peer=\"e\"} 4 1700000000000\n"
	    "# HELP aemp_g G.\n# TYPE aemp_g gauge\naemp_g -1.5e3\n";
	static const char *const bad[] = {
		"",
		"# HELP aemp_g G.\n# TYPE aemp_g gauge\naemp_g 1",
		"aemp_g 1\n",
		"# HELP aemp_g G.\n# TYPE aemp_g gauge\naemp_g one\n",
		"# HELP aemp_g G.\n# TYPE aemp_g gauge\naemp_g{a=\"x} 1\n",
		"# HELP aemp_g G.\n# TYPE aemp_g gauge\naemp_g{a=\"\\x\"} 1\n",
		"# HELP aemp_g G.\n# TYPE aemp_g gauge\naemp_g{a=\"1\",a=\"2\"} 1\n",
		"# HELP aemp_g G.\n# TYPE aemp_g gauge\naemp_g 1\naemp_g 2\n",
		"# HELP aemp_c C.\n# TYPE aemp_c counter\naemp_c 1\n",
		"# HELP aemp_c_total C.\n# TYPE aemp_c_total counter\n"
		    "aemp_c_total -1\n",
		"# HELP aemp_g G.\n# TYPE aemp_g gauge\n# HELP aemp_h H.\n"
		    "# TYPE aemp_h gauge\naemp_g 1\naemp_h 1\naemp_g{a=\"b\"} 2\n",
		"# HELP aemp_g G.\n# TYPE aemp_g bogus\naemp_g 1\n",
		"# HELP aemp_g G.\n# TYPE aemp_g gauge\naemp_g 0x10\n",
		"# HELP other O.\n# TYPE other gauge\nother 1\n",
		"# HELP aemp_g G.\n# TYPE aemp_g gauge\naemp_g{1a=\"b\"} 1\n",
		"# HELP aemp_g G.\n# TYPE aemp_g gauge\naemp_g 1\r\n",
	};
	size_t i;

	why[0] = '\0';
	ck_assert_msg(metrics_parse(good, why, sizeof why) == 3, "%s", why);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(metrics_parse(bad[i], why, sizeof why) < 0,
		    "accepted bad input %zu", i);
}
END_TEST

/* --- HTTP ------------------------------------------------------------- */

struct http_reply {
	int	 code;		/* 0: no answer */
	char	*head;		/* status line and headers */
	char	*body;
};

static void
http_reply_free(struct http_reply *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof *r);
}

static int
tcp_connect(int port, int nonblock)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0),
	    0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends req as it is and reads the answer until the server closes. */
static void
http_raw(int port, const char *req, size_t reqlen, struct http_reply *r,
    double timeout)
{
	struct timeval tv = { (time_t)timeout, 0 };
	char *buf = NULL, *sep;
	size_t len = 0, cap = 0;
	int fd = tcp_connect(port, 0);
	ssize_t got;

	memset(r, 0, sizeof *r);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	while (reqlen > 0 && (got = write(fd, req, reqlen)) > 0) {
		req += got;
		reqlen -= (size_t)got;
	}
	for (;;) {
		if (len + 4097 > cap) {
			cap = cap ? 2 * cap : 8192;
			buf = realloc(buf, cap);
		}
		got = read(fd, buf + len, 4096);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (buf == NULL)
		return;
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &r->code) != 1)
		r->code = 0;
	if ((sep = strstr(buf, "\r\n\r\n")) != NULL) {
		r->head = strndup(buf, (size_t)(sep - buf));
		r->body = strdup(sep + 4);
	} else
		r->head = strdup(buf);
	free(buf);
}

static void
http_do(int port, const char *method, const char *path, const char *extra,
    struct http_reply *r)
{
	char req[2048];

	snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n%s\r\n", method, path, extra ? extra : "");
	http_raw(port, req, strlen(req), r, 20);
}

static int
head_has(struct http_reply *r, const char *needle)
{
	return r->head != NULL && strcasestr(r->head, needle) != NULL;
}

struct daemon {
	pid_t	 pid;
	int	 port;		/* AEMP */
	int	 hport;		/* HTTP, or 0 */
	char	 log[PATH_MAX];
};

/*
 * aempd as node id with a listener on 127.0.0.1 and seeds at seedport
 * (0: itself), the status page on hport unless 0, and more KEY VALUE
 * arguments (NULL-terminated).
 */
static void
daemon_start(struct daemon *d, const char *id, int seedport, int hport,
    char *const more[])
{
	char *bin = test_bin("aempd"), bind[64], seeds[64], hbind[64];
	char *argv[32];
	int n = 0, i;

	memset(d, 0, sizeof *d);
	d->port = test_free_port();
	d->hport = hport;
	snprintf(d->log, sizeof d->log, "%s/%s.log", dir, id);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", d->port);
	snprintf(seeds, sizeof seeds, "127.0.0.1:%d", seedport ? seedport :
	    d->port);
	snprintf(hbind, sizeof hbind, "127.0.0.1:%d", hport);
	argv[n++] = bin;
	argv[n++] = "nodeid";
	argv[n++] = (char *)id;
	argv[n++] = "secret";
	argv[n++] = SECRET;
	argv[n++] = "binds";
	argv[n++] = bind;
	argv[n++] = "seeds";
	argv[n++] = seeds;
	if (hport) {
		argv[n++] = "status_bind";
		argv[n++] = hbind;
	}
	for (i = 0; more != NULL && more[i] != NULL && n < 30; i++)
		argv[n++] = more[i];
	argv[n] = NULL;
	d->pid = test_spawn(argv, env, d->log, -1);
	ck_assert_msg(test_wait_for_text(d->log, "node listens on", 20),
	    "%s did not start", id);
	if (hport)
		ck_assert_msg(test_wait_for_text(d->log, "status page on", 10),
		    "%s: no status page", id);
	free(bin);
}

/*
 * Prometheus's own checker too, when there is one: $AEMP_PROMTOOL, else
 * promtool on the PATH. Debian's prometheus package ships it, but also
 * starts a server on every address, so make deps does not install it.
 */
static void
promtool_check(const char *text)
{
	const char *tool = getenv("AEMP_PROMTOOL");
	char *argv[] = { NULL, "check", "metrics", NULL }, *out = NULL;
	char *err = NULL, *found = NULL;
	int rc;

	if (tool == NULL || *tool == '\0') {
		char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
		char *save = NULL, *d;
		for (d = path ? strtok_r(path, ":", &save) : NULL; d != NULL;
		    d = strtok_r(NULL, ":", &save)) {
			if (asprintf(&found, "%s/promtool", d) < 0)
				abort();
			if (access(found, X_OK) == 0)
				break;
			free(found);
			found = NULL;
		}
		free(path);
		tool = found;
	}
	if (tool == NULL) {
		fprintf(stderr, "check_status: no promtool: /metrics is checked "
		    "by the strict parser only\n");
		return;
	}
	argv[0] = (char *)tool;
	rc = test_run(argv, NULL, text, &out, &err, 60);
	ck_assert_msg(rc == 0, "promtool check metrics: %d\n%s%s", rc,
	    out ? out : "", err ? err : "");
	fprintf(stderr, "check_status: /metrics passed %s check metrics "
	    "too\n", tool);
	free(out);
	free(err);
	free(found);
}

static json_t *
get_status(int hport, const char *auth)
{
	struct http_reply r;
	json_t *v;

	http_do(hport, "GET", "/status.json", auth, &r);
	ck_assert_msg(r.code == 200, "status.json: %d", r.code);
	v = json_loads(r.body, 0, NULL);
	ck_assert_msg(v != NULL, "status.json is not JSON: %s", r.body);
	http_reply_free(&r);
	return v;
}

START_TEST(http_paths)
{
	struct daemon a, b;
	struct http_reply r;
	char why[256], *big;
	json_t *s;
	int hport = test_free_port(), samples;
	double t;

	daemon_start(&a, "ha", 0, hport, NULL);
	/* a node ID that label values must escape */
	daemon_start(&b, "hb\"q\\s", a.port, 0, NULL);
	ck_assert(test_wait_for_text(a.log, "hb\"q\\s is up", 20));

	/* /status.json: the snapshot and the mesh */
	t = test_now();
	for (;;) {
		json_t *links;
		s = get_status(hport, NULL);
		links = json_object_get(json_object_get(s, "mesh"), "links");
		if (json_array_size(links) >= 1 || test_now() - t > 10)
			break;
		json_decref(s);
		usleep(200000);
	}
	ck_assert_str_eq(json_string_value(json_object_get(s, "nodeid")), "ha");
	ck_assert_ptr_nonnull(conn_of(s, "hb\"q\\s"));
	ck_assert_int_eq(json_array_size(json_object_get(json_object_get(s,
	    "mesh"), "nodes")), 2);
	ck_assert_int_eq(json_array_size(json_object_get(json_object_get(s,
	    "mesh"), "links")), 1);
	json_decref(s);

	/* /metrics: strictly the exposition format, with the peer labelled */
	http_do(hport, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.code, 200);
	ck_assert(head_has(&r, "Content-Type: text/plain; version=0.0.4"));
	samples = metrics_parse(r.body, why, sizeof why);
	ck_assert_msg(samples > 20, "metrics: %s\n%s", why, r.body);
	ck_assert_msg(strstr(r.body, "aemp_peer_up{peer=\"hb\\\"q\\\\s\"} 1\n")
	    != NULL, "%s", r.body);
	ck_assert_ptr_nonnull(strstr(r.body, "\naemp_ports "));
	ck_assert_ptr_nonnull(strstr(r.body,
	    "\naemp_peer_messages_received_total{peer=\"hb\\\"q\\\\s\"} "));
	promtool_check(r.body);
	http_reply_free(&r);

	/* /: the page, self-contained */
	http_do(hport, "GET", "/", NULL, &r);
	ck_assert_int_eq(r.code, 200);
	ck_assert(head_has(&r, "Content-Type: text/html"));
	ck_assert(head_has(&r, "Content-Security-Policy: default-src 'none'"));
	ck_assert_ptr_nonnull(strstr(r.body, "<svg"));
	ck_assert_ptr_nonnull(strstr(r.body, "status.json"));
	{
		/* nothing fetched from elsewhere: the one URL is SVG's name */
		const char *u = r.body;
		while ((u = strstr(u, "http")) != NULL) {
			ck_assert_msg(strncmp(u, "http://www.w3.org/2000/svg",
			    26) == 0, "external reference: %.60s", u);
			u += 4;
		}
	}
	ck_assert_ptr_null(strstr(r.body, "src="));
	ck_assert_ptr_null(strstr(r.body, "@import"));
	ck_assert_ptr_null(strstr(r.body, "url("));
	http_reply_free(&r);
	http_do(hport, "GET", "/?x=1", NULL, &r);
	ck_assert_int_eq(r.code, 200);
	http_reply_free(&r);
	http_do(hport, "HEAD", "/metrics", NULL, &r);
	ck_assert_int_eq(r.code, 200);
	http_reply_free(&r);

	/* unknown paths and methods */
	http_do(hport, "GET", "/nope", NULL, &r);
	ck_assert_int_eq(r.code, 404);
	http_reply_free(&r);
	http_do(hport, "GET", "/metrics/", NULL, &r);
	ck_assert_int_eq(r.code, 404);
	http_reply_free(&r);
	http_do(hport, "POST", "/metrics", "Content-Length: 0\r\n", &r);
	ck_assert_int_eq(r.code, 405);
	ck_assert(head_has(&r, "Allow: GET, HEAD"));
	http_reply_free(&r);
	http_do(hport, "DELETE", "/status.json", NULL, &r);
	ck_assert_int_eq(r.code, 405);
	http_reply_free(&r);
	http_do(hport, "PUT", "/", "Content-Length: 0\r\n", &r);
	ck_assert_int_eq(r.code, 405);
	http_reply_free(&r);

	/* a body too big, huge headers, garbage: refused, nothing served */
	http_do(hport, "POST", "/metrics", "Content-Length: 100000\r\n", &r);
	ck_assert_msg(r.code != 200, "big body served");
	http_reply_free(&r);
	big = malloc(200000);
	memset(big, 'a', 200000);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX-Big: ", 30);
	memcpy(big + 200000 - 4, "\r\n\r\n", 4);
	http_raw(hport, big, 200000, &r, 20);
	ck_assert_msg(r.code == 0 || (r.code >= 400 && r.code < 500),
	    "huge headers: %d", r.code);
	http_reply_free(&r);
	free(big);
	http_raw(hport, "\x01\x02garbage\r\n\r\n", 13, &r, 20);
	ck_assert_msg(r.code != 200, "garbage served");
	http_reply_free(&r);

	/* and it still serves */
	http_do(hport, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.code, 200);
	http_reply_free(&r);

	test_stop(b.pid);
	ck_assert_int_eq(test_stop(a.pid), 0);
}
END_TEST

START_TEST(http_token)
{
	char *more[] = { "status_token", "s3cr3t-t0ken", NULL };
	struct daemon a;
	struct http_reply r;
	json_t *s;
	int hport = test_free_port();
	char *log;

	daemon_start(&a, "ta", 0, hport, more);
	http_do(hport, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.code, 401);
	ck_assert(head_has(&r, "WWW-Authenticate: Bearer"));
	http_reply_free(&r);
	http_do(hport, "GET", "/status.json", "Authorization: Bearer wrong\r\n",
	    &r);
	ck_assert_int_eq(r.code, 401);
	http_reply_free(&r);
	http_do(hport, "GET", "/status.json",
	    "Authorization: Bearer s3cr3t-t0ke\r\n", &r);
	ck_assert_int_eq(r.code, 401);
	http_reply_free(&r);
	http_do(hport, "GET", "/status.json",
	    "Authorization: Bearer s3cr3t-t0kenX\r\n", &r);
	ck_assert_int_eq(r.code, 401);
	http_reply_free(&r);
	http_do(hport, "GET", "/metrics", "Authorization: Basic czNjcjN0\r\n",
	    &r);
	ck_assert_int_eq(r.code, 401);
	http_reply_free(&r);
	/* unknown paths say nothing more without the token either */
	http_do(hport, "GET", "/nope", NULL, &r);
	ck_assert_int_eq(r.code, 401);
	http_reply_free(&r);
	http_do(hport, "GET", "/metrics",
	    "Authorization: Bearer s3cr3t-t0ken\r\n", &r);
	ck_assert_int_eq(r.code, 200);
	http_reply_free(&r);
	s = get_status(hport, "Authorization: Bearer s3cr3t-t0ken\r\n");
	ck_assert_str_eq(json_string_value(json_object_get(s, "nodeid")), "ta");
	json_decref(s);
	/* the page holds no data: it loads, and sends the token itself */
	http_do(hport, "GET", "/", NULL, &r);
	ck_assert_int_eq(r.code, 200);
	http_reply_free(&r);
	ck_assert_int_eq(test_stop(a.pid), 0);
	/* the token never reaches the log */
	log = test_slurp(a.log);
	ck_assert_ptr_null(strstr(log, "s3cr3t"));
	free(log);
}
END_TEST

START_TEST(status_bind_refused)
{
	char *bin = test_bin("aempd"), *err = NULL;
	char *argv[] = { bin, "nodeid", "x", "secret", "s", "binds",
	    "127.0.0.1:*", "status_bind", "nonsense", NULL };
	char *argv2[] = { bin, "nodeid", "x", "secret", "s", "binds",
	    "127.0.0.1:*", "status_bind", "*:8080", NULL };

	ck_assert_int_eq(test_run(argv, env, NULL, NULL, &err, 10), 1);
	ck_assert_msg(strstr(err, "status_bind") != NULL, "%s", err);
	free(err);
	ck_assert_int_eq(test_run(argv2, env, NULL, NULL, &err, 10), 1);
	ck_assert_msg(strstr(err, "status_bind") != NULL, "%s", err);
	free(err);
	free(bin);
}
END_TEST

/* status_bind set with aemp in a profile turns the page on for aempd. */
START_TEST(status_bind_from_profile)
{
	char *aemp = test_bin("aemp"), *aempd = test_bin("aempd");
	char hbind[64], bind[64], log[PATH_MAX];
	struct http_reply r;
	int hport = test_free_port();
	pid_t pid;

	snprintf(hbind, sizeof hbind, "127.0.0.1:%d", hport);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
	snprintf(log, sizeof log, "%s/sp.log", dir);
	{
		char *argv[] = { aemp, "profile", "sp", "setstatus_bind", hbind,
		    "setstatus_token", "tok", "setsecret", SECRET, "binds",
		    bind, "nodeid", "sp", NULL };
		ck_assert_int_eq(test_run(argv, env, NULL, NULL, NULL, 10), 0);
	}
	{
		char *argv[] = { aempd, "--profile", "sp", NULL };
		pid = test_spawn(argv, env, log, -1);
	}
	ck_assert_msg(test_wait_for_text(log, "status page on", 20),
	    "no status page");
	http_do(hport, "GET", "/metrics", "Authorization: Bearer tok\r\n", &r);
	ck_assert_int_eq(r.code, 200);
	http_reply_free(&r);
	http_do(hport, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.code, 401);
	http_reply_free(&r);
	ck_assert_int_eq(test_stop(pid), 0);
	free(aemp);
	free(aempd);
}
END_TEST

static int
count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int count = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			count++;
	closedir(d);
	return count;
}

struct cal_wait {
	int	 got;
};

static void
cal_done(aemp_node *n, json_t *reply, void *ud)
{
	struct cal_wait *w = ud;

	(void)n;
	if (reply != NULL)
		w->got++;
}

/*
 * A node ID that is no printable text reaches /metrics as a peer label
 * when a peer asks aempd to send to a port on it (the greeting refuses
 * such IDs, but "snd" names any): the label shows it as \xNN, and the
 * page holds no control characters (a newline would end the sample, an
 * escape would talk to the terminal of whoever looks).
 */
START_TEST(metrics_labels_stay_printable)
{
	struct daemon a;
	struct event_base *base = event_base_new();
	struct http_reply r;
	aemp_node *n;
	int hport = test_free_port(), found = 0;
	char seed[64], why[256];
	const unsigned char *p;
	double t;

	daemon_start(&a, "ml", 0, hport, NULL);
	snprintf(seed, sizeof seed, "127.0.0.1:%d", a.port);
	n = tn_node(base, "mlclient", json_pack("{s:[s], s:s}", "seeds", seed,
	    "secret", SECRET));
	ck_assert_ptr_nonnull(n);
	t = test_now();
	while (!test_wait_for_text(a.log, "mlclient is up", 0) &&
	    test_now() - t < 20)
		tn_run_for(base, 0.1);
	aemp_snd(n, "ml", json_pack("[sss]", "snd",
	    "evil\x1b[2J\xc2\x85\nx#p", "hi"));
	tn_run_for(base, 0.5);
	t = test_now();
	do {
		http_do(hport, "GET", "/metrics", NULL, &r);
		found = r.body != NULL && strstr(r.body, "evil") != NULL;
		if (found || test_now() - t > 10)
			break;
		http_reply_free(&r);
		tn_run_for(base, 0.2);
	} while (1);
	ck_assert_msg(found, "no label for the odd node");
	ck_assert_msg(strstr(r.body, "peer=\"evil\\\\x1b[2J\\\\xc2\\\\x85"
	    "\\\\x0ax\"") != NULL, "label: %.200s", strstr(r.body, "evil"));
	for (p = (const unsigned char *)r.body; *p != '\0'; p++)
		ck_assert_msg((*p >= 0x20 && *p != 0x7f) || *p == '\n',
		    "byte 0x%02x in /metrics", *p);
	ck_assert_msg(metrics_parse(r.body, why, sizeof why) > 20,
	    "metrics: %s", why);
	http_reply_free(&r);
	aemp_free(n);
	event_base_free(base);
	ck_assert_int_eq(test_stop(a.pid), 0);
}
END_TEST

/* aempd's descriptors: its HTTP connections are bounded (256). */
static void
assert_http_bounded(pid_t pid, int before)
{
	int now = count_fds(pid);

	ck_assert_msg(now - before <= 256 + 8, "aempd holds %d descriptors "
	    "(%d before)", now, before);
}

/*
 * 1,000 idle HTTP connections (none sends a byte) next to a node that
 * talks to aempd: its round trips do not wait for them, aempd holds only
 * its bounded number of them, and the page answers again once they go.
 */
START_TEST(http_idle_connections_do_not_stall)
{
	struct daemon a;
	struct event_base *base = event_base_new();
	struct cal_wait w = { 0 };
	struct http_reply r;
	aemp_node *n;
	int hport = test_free_port(), fds[1000], i, rounds = 300, before;
	double t, took;
	char seed[64];

	daemon_start(&a, "ia", 0, hport, NULL);
	snprintf(seed, sizeof seed, "127.0.0.1:%d", a.port);
	n = tn_node(base, "iclient", json_pack("{s:[s], s:s}", "seeds", seed,
	    "secret", SECRET));
	ck_assert_ptr_nonnull(n);
	/* warm up: the connection exists before the flood */
	aemp_cal(n, "ia", json_pack("[s]", "info"), cal_done, &w, 10);
	t = test_now();
	while (w.got < 1 && test_now() - t < 20)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_eq(w.got, 1);
	before = count_fds(a.pid);

	for (i = 0; i < 1000; i++) {
		fds[i] = tcp_connect(hport, 1);
		ck_assert_int_ge(fds[i], 0);
	}
	tn_run_for(base, 1.0);	/* aempd accepts what it will */
	w.got = 0;
	t = test_now();
	for (i = 0; i < rounds; i++) {
		int want = i + 1;
		double t1 = test_now();
		aemp_cal(n, "ia", json_pack("[s]", "info"), cal_done, &w, 10);
		while (w.got < want && test_now() - t1 < 10)
			event_base_loop(base, EVLOOP_ONCE);
		ck_assert_msg(w.got == want, "round trip %d did not return", i);
	}
	took = test_now() - t;
	/* a few hundred microseconds each when idle: allow a loaded machine */
	ck_assert_msg(took < 15, "%d round trips took %.1f s", rounds, took);
	assert_http_bounded(a.pid, before);
	ck_assert(test_wait_for_text(a.log, "not accepting more", 5));

	for (i = 0; i < 1000; i++)
		close(fds[i]);
	/* the page answers again */
	t = test_now();
	do {
		http_do(hport, "GET", "/metrics", NULL, &r);
		if (r.code == 200)
			break;
		http_reply_free(&r);
		usleep(200000);
	} while (test_now() - t < 20);
	ck_assert_int_eq(r.code, 200);
	http_reply_free(&r);
	aemp_free(n);
	event_base_free(base);
	ck_assert_int_eq(test_stop(a.pid), 0);
}
END_TEST

/*
 * 300 clients that trickle their headers, a byte now and then (slowloris),
 * more than the status page holds at once: a legitimate client still gets
 * /metrics at once (the oldest slow one makes room), and aempd holds no
 * more than its bound.
 */
START_TEST(http_slow_clients_do_not_starve)
{
	struct daemon a;
	struct http_reply r;
	int hport = test_free_port(), fds[300], i, round, before;
	double t;

	daemon_start(&a, "sl", 0, hport, NULL);
	http_do(hport, "GET", "/metrics", NULL, &r);	/* it is up */
	ck_assert_int_eq(r.code, 200);
	http_reply_free(&r);
	before = count_fds(a.pid);
	for (i = 0; i < 300; i++) {
		fds[i] = tcp_connect(hport, 1);
		ck_assert_int_ge(fds[i], 0);
	}
	usleep(200000);
	for (i = 0; i < 300; i++)
		if (write(fds[i], "GET /metrics HTTP/1.1\r\n", 23) < 0)
			continue;	/* not accepted yet, or dropped */
	for (round = 0; round < 3; round++) {
		/* a byte each, well within the idle timeout */
		usleep(1200000);
		for (i = 0; i < 300; i++)
			if (write(fds[i], "X", 1) < 0)
				continue;
		t = test_now();
		http_raw(hport, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Connection: close\r\n\r\n", 61, &r, 5);
		t = test_now() - t;
		ck_assert_msg(r.code == 200, "round %d: no /metrics in %.1f s "
		    "next to 300 slow clients", round, t);
		ck_assert(r.body != NULL && strstr(r.body, "aemp_") != NULL);
		http_reply_free(&r);
	}
	assert_http_bounded(a.pid, before);
	ck_assert(test_wait_for_text(a.log, "dropped the oldest", 5));
	for (i = 0; i < 300; i++)
		close(fds[i]);
	ck_assert_int_eq(test_stop(a.pid), 0);
}
END_TEST

/* --- aemp top ------------------------------------------------------------ */

static int
aemp_cli(char **out, char **err, char *const args[], double timeout)
{
	char *bin = test_bin("aemp"), *argv[32];
	int n = 0, i, rc;

	argv[n++] = bin;
	for (i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	rc = test_run(argv, env, NULL, out, err, timeout);
	free(bin);
	return rc;
}

START_TEST(top_once_prints_json)
{
	struct daemon a;
	char seed[64], *out = NULL, *err = NULL;
	json_t *v;
	int rc;

	daemon_start(&a, "topa", 0, 0, NULL);
	snprintf(seed, sizeof seed, "127.0.0.1:%d", a.port);
	{
		char *args[] = { "setsecret", SECRET, "setseeds", seed, NULL };
		ck_assert_int_eq(aemp_cli(NULL, NULL, args, 10), 0);
	}
	{
		char *args[] = { "top", "topa", "--once", NULL };
		rc = aemp_cli(&out, &err, args, 30);
	}
	ck_assert_msg(rc == 0, "top: %d %s", rc, err);
	v = json_loads(out, 0, NULL);
	ck_assert_msg(v != NULL, "not JSON: %s", out);
	ck_assert_str_eq(json_string_value(json_object_get(v, "nodeid")),
	    "topa");
	ck_assert(json_is_array(json_object_get(v, "connections")));
	ck_assert(json_is_object(json_object_get(v, "ports")));
	json_decref(v);
	free(out);
	free(err);
	{
		char *args[] = { "top", "topa#port", "--once", NULL };
		ck_assert_int_eq(aemp_cli(NULL, &err, args, 30), 1);
		ck_assert_msg(strstr(err, "node ID") != NULL, "%s", err);
		free(err);
	}
	{
		char *args[] = { "top", "topa", "--bogus", NULL };
		ck_assert_int_ne(aemp_cli(NULL, NULL, args, 30), 0);
	}
	ck_assert_int_eq(test_stop(a.pid), 0);
}
END_TEST

/* A node that never comes up: top says it cannot reach it. */
START_TEST(top_unreachable_node)
{
	struct event_base *base = event_base_new();
	char seed[64], *out = NULL, *err = NULL;
	char *bin = test_bin("aemp");
	aemp_node *n;
	pid_t pid;
	int status = -1;
	double t;
	char outfile[PATH_MAX];

	n = tn_node(base, "quiet", json_pack("{s:s}", "secret", SECRET));
	ck_assert_ptr_nonnull(n);
	snprintf(seed, sizeof seed, "%s", tn_addr(n));
	{
		char *args[] = { "setsecret", SECRET, "setseeds", seed, NULL };
		ck_assert_int_eq(aemp_cli(NULL, NULL, args, 10), 0);
	}
	snprintf(outfile, sizeof outfile, "%s/top.out", dir);
	{
		char *argv[] = { bin, "top", "nosuchnode", "--once", NULL };
		pid = test_spawn(argv, env, outfile, -1);
	}
	t = test_now();
	while (test_now() - t < 30 && (status = test_wait(pid, 0.05)) == -1)
		event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_ne(status, -1);
	out = test_slurp(outfile);
	ck_assert_msg(strstr(out, "cannot reach node nosuchnode") != NULL,
	    "%s", out);
	free(out);
	(void)err;
	free(bin);
	aemp_free(n);
	event_base_free(base);
}
END_TEST

/*
 * A node that authenticates like any other and then answers nothing, as a
 * Perl node answers a request it does not know (it logs that it cannot
 * resolve the function): the handshake of AEMP.md section 3 and a read
 * loop, in a child process. Serves connections one after another.
 */
static int
read_line_fd(int fd, char *buf, size_t size)
{
	size_t len = 0;
	char ch;

	while (read(fd, &ch, 1) == 1) {
		if (ch == '\n') {
			if (len > 0 && buf[len - 1] == '\r')
				len--;
			buf[len] = '\0';
			return 0;
		}
		if (len + 1 < size)
			buf[len++] = ch;
	}
	return -1;
}

/*
 * Answers each statistics request on fd with ["PORT",answer] (the request
 * is ["","aemp_c_stats","NODE#PORT"]), until the peer goes.
 */
static void
answer_stats(int fd, const char *answer)
{
	static const char req[] = "\"" AEMP_STATS_REQUEST "\",\"";
	char buf[65536];
	size_t len = 0;
	ssize_t got;

	while ((got = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
		char *p, *hash, *end;
		len += (size_t)got;
		buf[len] = '\0';
		while ((p = strstr(buf, req)) != NULL &&
		    (end = strchr(p + sizeof req - 1, '"')) != NULL) {
			*end = '\0';
			hash = strchr(p + sizeof req - 1, '#');
			dprintf(fd, "[\"%s\",%s]", hash != NULL ? hash + 1 : "",
			    answer);
			len -= (size_t)(end + 1 - buf);
			memmove(buf, end + 1, len + 1);
		}
		if (len > sizeof buf / 2)
			len = 0;
	}
}

static void
answering_node(int lfd, const char *nodeid, const char *answer)
{
	const char *auths[] = { "hmac_md6_64_256", NULL };
	const char *framings[] = { "json", NULL };
	const char *kv[] = { "provider", "AE-silent", NULL };
	unsigned char nonce[66];
	char r1[4096], r2[1024], token[65], buf[4096];
	int fd;

	for (;;) {
		char *g1, *g2;
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			_exit(0);
		for (size_t i = 0; i < sizeof nonce; i++)
			nonce[i] = (unsigned char)random();
		g1 = ae_greeting_format(nodeid, auths, framings, kv);
		g2 = ae_base64(nonce, sizeof nonce);
		dprintf(fd, "%s\n%s\n", g1, g2);
		if (read_line_fd(fd, r1, sizeof r1) == 0 &&
		    read_line_fd(fd, r2, sizeof r2) == 0) {
			ae_auth_token(SECRET, g1, g2, r1, r2, token);
			dprintf(fd, "hmac_md6_64_256;%s;json\n", token);
			if (answer != NULL)
				answer_stats(fd, answer);
			while (read(fd, buf, sizeof buf) > 0)
				;	/* hears everything, says nothing */
		}
		free(g1);
		free(g2);
		close(fd);
	}
}

/*
 * Runs "aemp top NODEID [--once]" for at most secs seconds against a raw
 * node on a loopback port that answers the statistics request with answer
 * (NULL: says nothing); returns top's exit status (-1: killed when the
 * time was up), its output in *out and *err.
 */
static int
top_against(const char *nodeid, const char *answer, int once, int secs,
    char **out, char **err)
{
	char seed[64];
	int port, lfd, rc;
	struct sockaddr_in sa;
	socklen_t salen = sizeof sa;
	pid_t pid;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert(bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    listen(lfd, 8) == 0 &&
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) == 0);
	port = ntohs(sa.sin_port);
	if ((pid = fork()) == 0)
		answering_node(lfd, nodeid, answer);
	close(lfd);
	snprintf(seed, sizeof seed, "127.0.0.1:%d", port);
	{
		char *args[] = { "setsecret", SECRET, "setseeds", seed, NULL };
		ck_assert_int_eq(aemp_cli(NULL, NULL, args, 10), 0);
	}
	{
		char *args[] = { "top", (char *)nodeid, once ? "--once" : NULL,
		    NULL };
		rc = aemp_cli(out, err, args, secs);
	}
	kill(pid, SIGKILL);
	test_wait(pid, 5);
	return rc;
}

START_TEST(top_says_not_a_c_node)
{
	char *out = NULL, *err = NULL;
	int rc = top_against("perlish", NULL, 1, 30, &out, &err);

	ck_assert_int_eq(rc, 1);
	ck_assert_msg(strstr(err, "probably not a C node") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "perlish") != NULL, "%s", err);
	free(out);
	free(err);
}
END_TEST

/*
 * aemp top draws what a node answers, and an answer is a peer's input: a
 * statistics object without the fields a C node sends (strings missing,
 * absurd numbers) is drawn with placeholders, never a crash. top keeps
 * drawing until it is killed.
 */
START_TEST(top_survives_odd_answers)
{
	char *out = NULL, *err = NULL;
	int rc = top_against("liar", "{\"uptime\":1e300,\"time\":-1e300,"
	    "\"connections\":[{},{\"node\":1,\"since\":1e300,"
	    "\"last_activity_age\":-1e300}]}", 0, 8, &out, &err);

	/* -1: still running when the time was up, and killed */
	ck_assert_msg(rc == -1, "top ended with %d: %s", rc, err);
	ck_assert_msg(strstr(out, "NODE") != NULL, "nothing drawn: %s", out);
	free(out);
	free(err);
}
END_TEST

/* Node IDs in the answer that are no printable text: shown as \xNN. */
START_TEST(top_shows_odd_node_ids_visibly)
{
	char *out = NULL, *err = NULL;
	int rc = top_against("odd", "{\"nodeid\":"
	    "\"me\\u001b]0;x\\u0007\",\"connections\":[{\"node\":"
	    "\"evil\\u001b[2J\\u0085x\",\"state\":\"up\"}]}", 0, 4, &out,
	    &err);
	ck_assert_msg(rc == -1, "top ended with %d: %s", rc, err);
	ck_assert_msg(strstr(out, "evil\\x1b[2J\\xc2\\x85x") != NULL &&
	    strstr(out, "me\\x1b]0;x\\x07") != NULL, "not shown as \\xNN");
	ck_assert(strstr(out, "evil\x1b") == NULL &&
	    strstr(out, "me\x1b") == NULL);
	free(out);
	free(err);
}
END_TEST

static Suite *
status_suite(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("counters");
	TCase *th = tcase_create("http");
	TCase *tt = tcase_create("top");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, counters_follow_traffic);
	tcase_add_test(tc, metrics_parser_is_strict);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(th, setup, teardown);
	tcase_set_timeout(th, 120);
	tcase_add_test(th, http_paths);
	tcase_add_test(th, http_token);
	tcase_add_test(th, status_bind_refused);
	tcase_add_test(th, status_bind_from_profile);
	tcase_add_test(th, http_idle_connections_do_not_stall);
	tcase_add_test(th, http_slow_clients_do_not_starve);
	tcase_add_test(th, metrics_labels_stay_printable);
	suite_add_tcase(s, th);
	tcase_add_checked_fixture(tt, setup, teardown);
	tcase_set_timeout(tt, 90);
	tcase_add_test(tt, top_once_prints_json);
	tcase_add_test(tt, top_unreachable_node);
	tcase_add_test(tt, top_says_not_a_c_node);
	tcase_add_test(tt, top_survives_odd_answers);
	tcase_add_test(tt, top_shows_odd_node_ids_visibly);
	suite_add_tcase(s, tt);
	return s;
}

AEMP_TEST_MAIN(status_suite)

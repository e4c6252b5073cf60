/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_browser.c: aempd's status page in a real browser. Debian's
 * chromium, headless, opens "/" of a running 3-node network: --dump-dom
 * after the first refreshes (the table lists both peers, the SVG has three
 * node circles), --screenshot into the build directory, and then, driven
 * over the DevTools pipe in real time, a node is killed and the same page
 * must mark it down within 2 refreshes. A machine that cannot run
 * chromium fails here, loudly: the page is not tested otherwise.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "testutil.h"

#define SECRET	"browsersecret"

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
}

static void
teardown(void)
{
	test_rmtree(dir);
	free(dir);
}

/* The browser: $AEMP_CHROMIUM, else Debian's chromium. */
static const char *
chromium(void)
{
	const char *c = getenv("AEMP_CHROMIUM");

	return c != NULL && *c != '\0' ? c : "/usr/bin/chromium";
}

static void
require_chromium(void)
{
	ck_assert_msg(access(chromium(), X_OK) == 0,
	    "CANNOT TEST THE STATUS PAGE: %s is not installed (run make deps, "
	    "or apt-get install chromium; AEMP_CHROMIUM names another)",
	    chromium());
}

struct daemon {
	pid_t	 pid;
	int	 port;
	char	 log[PATH_MAX];
};

static void
daemon_start(struct daemon *d, const char *id, int seedport, int hport)
{
	char *bin = test_bin("aempd"), bind[64], seeds[64], hbind[64];
	char *argv[] = { bin, "nodeid", (char *)id, "secret", SECRET, "binds",
	    bind, "seeds", seeds, "status_bind", hbind, NULL };

	memset(d, 0, sizeof *d);
	d->port = test_free_port();
	snprintf(d->log, sizeof d->log, "%s/%s.log", dir, id);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", d->port);
	snprintf(seeds, sizeof seeds, "127.0.0.1:%d", seedport ? seedport :
	    d->port);
	snprintf(hbind, sizeof hbind, "127.0.0.1:%d", hport);
	if (hport == 0)
		argv[9] = NULL;
	d->pid = test_spawn(argv, env, d->log, -1);
	ck_assert_msg(test_wait_for_text(d->log, "node listens on", 20),
	    "%s did not start", id);
	free(bin);
}

/* Runs chromium headless with args (NULL-terminated) on url. */
static int
chromium_run(char **out, char **err, const char *url, char *const args[])
{
	char *argv[24], profile[PATH_MAX + 32];
	int n = 0, i, rc;

	snprintf(profile, sizeof profile, "--user-data-dir=%s/chromium", dir);
	argv[n++] = (char *)chromium();
	argv[n++] = "--headless";
	argv[n++] = "--no-sandbox";
	argv[n++] = "--disable-gpu";
	argv[n++] = "--no-first-run";
	argv[n++] = "--disable-extensions";
	argv[n++] = profile;
	for (i = 0; args[i] != NULL && n < 22; i++)
		argv[n++] = args[i];
	argv[n++] = (char *)url;
	argv[n] = NULL;
	rc = test_run(argv, env, NULL, out, err, 90);
	return rc;
}

static int
count(const char *s, const char *needle)
{
	int c = 0;

	while ((s = strstr(s, needle)) != NULL) {
		c++;
		s += strlen(needle);
	}
	return c;
}

/* --- the DevTools protocol over --remote-debugging-pipe ----------------- */

struct cdp {
	pid_t	 pid;
	int	 to;		/* the browser reads fd 3 */
	int	 from;		/* and writes fd 4 */
	char	*buf;
	size_t	 len, cap;
	int	 next_id;
	char	*session;
};

static void
cdp_start(struct cdp *c)
{
	int in[2], out[2];
	char profile[PATH_MAX + 32];

	memset(c, 0, sizeof *c);
	c->next_id = 1;
	snprintf(profile, sizeof profile, "--user-data-dir=%s/chromium-cdp",
	    dir);
	ck_assert(pipe(in) == 0 && pipe(out) == 0);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		/* fds 3 and 4 as the browser expects them, nothing else */
		dup2(in[0], 10);
		dup2(out[1], 11);
		dup2(10, 3);
		dup2(11, 4);
		close(10);
		close(11);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		for (int fd = 5; fd < 1024; fd++)
			close(fd);
		execl(chromium(), chromium(), "--headless", "--no-sandbox",
		    "--disable-gpu", "--no-first-run", "--disable-extensions",
		    "--remote-debugging-pipe", "--window-size=1280,900",
		    "--hide-scrollbars", profile, "about:blank", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->to = in[1];
	c->from = out[0];
}

/* The next message (a new reference), or NULL after timeout seconds. */
static json_t *
cdp_read(struct cdp *c, double timeout)
{
	double end = test_now() + timeout;

	for (;;) {
		char *nul = c->len > 0 ? memchr(c->buf, '\0', c->len) : NULL;
		struct pollfd p = { c->from, POLLIN, 0 };
		double left;
		ssize_t got;
		if (nul != NULL) {
			size_t mlen = (size_t)(nul - c->buf);
			json_t *m = json_loadb(c->buf, mlen, 0, NULL);
			memmove(c->buf, nul + 1, c->len - mlen - 1);
			c->len -= mlen + 1;
			if (m != NULL)
				return m;
			continue;
		}
		if ((left = end - test_now()) <= 0)
			return NULL;
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		if (c->len + 65536 > c->cap) {
			c->cap = c->cap ? 2 * c->cap : 1 << 20;
			c->buf = realloc(c->buf, c->cap);
		}
		got = read(c->from, c->buf + c->len, 65536);
		if (got <= 0)
			return NULL;
		c->len += (size_t)got;
	}
}

/* Sends method(params) and returns its "result" (new), skipping events. */
static json_t *
cdp_call(struct cdp *c, const char *method, json_t *params)
{
	json_t *msg = json_pack("{s:i, s:s, s:o}", "id", c->next_id, "method",
	    method, "params", params != NULL ? params : json_object());
	int id = c->next_id++;
	char *text;
	size_t len, done = 0;

	if (c->session != NULL)
		json_object_set_new(msg, "sessionId", json_string(c->session));
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	len = strlen(text) + 1;	/* with its NUL */
	while (done < len) {
		ssize_t got = write(c->to, text + done, len - done);
		ck_assert_msg(got > 0, "DevTools pipe: %s", strerror(errno));
		done += (size_t)got;
	}
	free(text);
	for (;;) {
		json_t *m = cdp_read(c, 30), *r;
		ck_assert_msg(m != NULL, "no answer to %s from chromium", method);
		if (json_integer_value(json_object_get(m, "id")) != id) {
			json_decref(m);
			continue;
		}
		ck_assert_msg(json_object_get(m, "error") == NULL,
		    "%s failed: %s", method, json_dumps(json_object_get(m,
		    "error"), 0));
		r = json_incref(json_object_get(m, "result"));
		json_decref(m);
		return r;
	}
}

static void
cdp_open(struct cdp *c, const char *url)
{
	json_t *r;

	r = cdp_call(c, "Target.createTarget", json_pack("{s:s}", "url", url));
	{
		json_t *a = cdp_call(c, "Target.attachToTarget",
		    json_pack("{s:s, s:b}", "targetId", json_string_value(
		    json_object_get(r, "targetId")), "flatten", 1));
		c->session = strdup(json_string_value(json_object_get(a,
		    "sessionId")));
		json_decref(a);
	}
	json_decref(r);
}

/* What the page shows, as the page's own script reads it (new object). */
static json_t *
page_state(struct cdp *c)
{
	static const char expr[] =
	    "JSON.stringify({refreshes: +((document.body && "
	    "document.body.dataset.refreshes) || 0),"
	    "rows: Array.from(document.querySelectorAll('tr.peer')).map("
	    "function (t) { return [t.dataset.node, t.dataset.state]; }),"
	    "circles: Array.from(document.querySelectorAll('#mesh circle'))"
	    ".map(function (e) { return [e.dataset.node, e.getAttribute("
	    "'class')]; })})";
	json_t *r = cdp_call(c, "Runtime.evaluate", json_pack("{s:s, s:b}",
	    "expression", expr, "returnByValue", 1)), *v;

	v = json_loads(json_string_value(json_object_get(json_object_get(r,
	    "result"), "value")), 0, NULL);
	json_decref(r);
	/* while the page is still loading there is nothing to read yet */
	return v != NULL ? v : json_pack("{s:i, s:[], s:[]}", "refreshes", 0,
	    "rows", "circles");
}

/* The state of node's row and circle: "up", "down", or NULL if absent. */
static const char *
shown(json_t *st, const char *node, const char **circle)
{
	json_t *e;
	size_t i;
	const char *row = NULL;

	*circle = NULL;
	json_array_foreach(json_object_get(st, "rows"), i, e)
		if (strcmp(json_string_value(json_array_get(e, 0)), node) == 0)
			row = json_string_value(json_array_get(e, 1));
	json_array_foreach(json_object_get(st, "circles"), i, e)
		if (strcmp(json_string_value(json_array_get(e, 0)), node) == 0)
			*circle = json_string_value(json_array_get(e, 1));
	return row;
}

static int
b64val(int ch)
{
	const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/";
	const char *p = ch ? strchr(t, ch) : NULL;

	return p != NULL ? (int)(p - t) : -1;
}

static void
cdp_screenshot(struct cdp *c, const char *path)
{
	json_t *r = cdp_call(c, "Page.captureScreenshot",
	    json_pack("{s:s}", "format", "png"));
	const char *d = json_string_value(json_object_get(r, "data"));
	FILE *f = fopen(path, "wb");
	unsigned acc = 0;
	int bits = 0, v;

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(f);
	for (; *d != '\0' && *d != '='; d++) {
		if ((v = b64val(*d)) < 0)
			continue;
		acc = acc << 6 | (unsigned)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			fputc((int)(acc >> bits) & 0xff, f);
		}
	}
	fclose(f);
	json_decref(r);
}

static void
cdp_stop(struct cdp *c)
{
	int status;

	free(c->session);
	c->session = NULL;
	/* Browser.close, then the PID we started if it lingers */
	{
		json_t *msg = json_pack("{s:i, s:s}", "id", c->next_id++,
		    "method", "Browser.close");
		char *text = json_dumps(msg, JSON_COMPACT);
		(void)!write(c->to, text, strlen(text) + 1);
		free(text);
		json_decref(msg);
	}
	close(c->to);
	close(c->from);
	if (test_wait(c->pid, 10) == -1) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &status, 0);
	}
	free(c->buf);
}

static char *
build_file(const char *name)
{
	const char *b = getenv("AEMP_BUILD");
	char *p;

	if (asprintf(&p, "%s/%s", b != NULL ? b : "build", name) < 0)
		abort();
	return p;
}

static int
is_png(const char *path, long min_size)
{
	FILE *f = fopen(path, "rb");
	unsigned char sig[8];
	long size;
	int ok;

	if (f == NULL)
		return 0;
	ok = fread(sig, 1, 8, f) == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) ==
	    0;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	return ok && size >= min_size;
}

START_TEST(status_page_in_chromium)
{
	struct daemon a, b, c;
	char url[64], shot[PATH_MAX], *out = NULL, *err = NULL;
	char *png = build_file("status-page.png");
	char *pngdown = build_file("status-page-down.png");
	struct cdp cdp;
	json_t *st;
	const char *row, *circle;
	int hport = test_free_port(), rc, r0 = 0, r1 = -1, status;
	double t, t_kill;

	require_chromium();
	daemon_start(&a, "alpha", 0, hport);
	daemon_start(&b, "bravo", a.port, 0);
	daemon_start(&c, "charlie", a.port, 0);
	ck_assert(test_wait_for_text(a.log, "bravo is up", 20));
	ck_assert(test_wait_for_text(a.log, "charlie is up", 20));
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", hport);

	/* the DOM after the first refreshes */
	{
		char *args[] = { "--virtual-time-budget=5000", "--dump-dom",
		    NULL };
		rc = chromium_run(&out, &err, url, args);
	}
	ck_assert_msg(rc == 0 && out != NULL && *out != '\0',
	    "CANNOT TEST THE STATUS PAGE: chromium failed (status %d): %s",
	    rc, err ? err : "");
	ck_assert_msg(count(out, "<tr class=\"peer\"") == 2, "rows: %s", out);
	ck_assert(strstr(out, "data-node=\"bravo\" data-state=\"up\"") != NULL);
	ck_assert(strstr(out, "data-node=\"charlie\" data-state=\"up\"") !=
	    NULL);
	ck_assert_msg(count(out, "<circle ") == 3, "circles: %s", out);
	ck_assert_int_eq(count(out, "class=\"node self\""), 1);
	ck_assert_int_eq(count(out, "class=\"node up\""), 2);
	ck_assert_msg(strstr(out, "<h1 id=\"nodeid\">alpha</h1>") != NULL,
	    "%s", out);
	ck_assert_msg(count(out, "<line ") >= 2, "lines: %s", out);
	{
		/* it refreshed itself, not only loaded */
		const char *r = strstr(out, "data-refreshes=\"");
		ck_assert_msg(r != NULL && atoi(r + 16) >= 2, "refreshes: %s",
		    r ? r : "none");
	}
	free(out);
	free(err);

	/* a screenshot for people */
	snprintf(shot, sizeof shot, "--screenshot=%s", png);
	unlink(png);
	{
		char *args[] = { "--virtual-time-budget=5000",
		    "--window-size=1280,900", "--hide-scrollbars", shot, NULL };
		rc = chromium_run(NULL, &err, url, args);
	}
	ck_assert_msg(rc == 0 && is_png(png, 10000), "no screenshot in %s: %s",
	    png, err ? err : "");
	free(err);

	/* one page, in real time: kill charlie, count the refreshes */
	cdp_start(&cdp);
	cdp_open(&cdp, url);
	t = test_now();
	for (;;) {
		st = page_state(&cdp);
		row = shown(st, "charlie", &circle);
		r0 = (int)json_integer_value(json_object_get(st, "refreshes"));
		if ((r0 >= 2 && row != NULL && strcmp(row, "up") == 0) ||
		    test_now() - t > 30)
			break;
		json_decref(st);
		usleep(100000);
	}
	ck_assert_msg(r0 >= 2 && row != NULL && strcmp(row, "up") == 0,
	    "the page never showed charlie up (%d refreshes)", r0);
	json_decref(st);
	t_kill = test_now();
	kill(c.pid, SIGKILL);
	waitpid(c.pid, &status, 0);
	for (;;) {
		int r;
		st = page_state(&cdp);
		row = shown(st, "charlie", &circle);
		r = (int)json_integer_value(json_object_get(st, "refreshes"));
		if (row != NULL && strcmp(row, "down") == 0 && circle != NULL &&
		    strstr(circle, "down") != NULL) {
			r1 = r;
			json_decref(st);
			break;
		}
		json_decref(st);
		if (test_now() - t_kill > 20)
			break;
		usleep(50000);
	}
	ck_assert_msg(r1 >= 0, "the page did not mark charlie down in 20 s");
	ck_assert_msg(r1 - r0 <= 2, "charlie was marked down after %d "
	    "refreshes (more than 2)", r1 - r0);
	cdp_screenshot(&cdp, pngdown);
	ck_assert(is_png(pngdown, 10000));
	/* bravo is still up on the same page */
	st = page_state(&cdp);
	row = shown(st, "bravo", &circle);
	ck_assert_str_eq(row, "up");
	json_decref(st);
	cdp_stop(&cdp);

	test_stop(b.pid);
	ck_assert_int_eq(test_stop(a.pid), 0);
	free(png);
	free(pngdown);
}
END_TEST

static Suite *
browser_suite(void)
{
	Suite *s = suite_create("browser");
	TCase *tc = tcase_create("chromium");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, status_page_in_chromium);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(browser_suite)

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_logcatcher.c: network-wide log collection (AEMP-TLS-EXT.md
 * section 12) between C nodes on 127.0.0.1: two catchers at different
 * levels on a 3-node network, a catcher port killed, a catcher node
 * SIGKILLed, logging from inside the log hook, the service form, and
 * `aemp log` seeing a node that started after it.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "nodeutil.h"
#include "node.h"
#include "logcatcher.h"

static struct event_base *base;
static aemp_node *na, *nb, *nc;

/* What a catcher got: "NODE <L> TEXT\n" per line of a probe. */
struct caught {
	char	 text[16384];
	int	 lines;
};

static void
on_caught(aemp_node *n, const char *node, int level, const char *text,
    void *ud)
{
	struct caught *c = ud;
	size_t len = strlen(c->text);

	(void)n;
	if (strncmp(text, "probe", 5) != 0)
		return;
	snprintf(c->text + len, sizeof c->text - len, "%s <%d> %s\n", node,
	    level, text);
	c->lines++;
}

static int
all_up(void)
{
	double end = test_now() + 20;

	while (test_now() < end) {
		if (aemp_node_is_up(na, "B") && aemp_node_is_up(na, "C") &&
		    aemp_node_is_up(nb, "C") && aemp_node_is_up(nb, "A") &&
		    aemp_node_is_up(nc, "A") && aemp_node_is_up(nc, "B"))
			return 1;
		tn_run_for(base, 0.05);
	}
	return 0;
}

static void
net3_up(void)
{
	base = event_base_new();
	tn_isolate();
	na = tn_node(base, "A", NULL);
	ck_assert_ptr_nonnull(na);
	nb = tn_node(base, "B", json_pack("{s[s]}", "seeds", tn_addr(na)));
	nc = tn_node(base, "C", json_pack("{s[s]}", "seeds", tn_addr(na)));
	ck_assert_ptr_nonnull(nb);
	ck_assert_ptr_nonnull(nc);
	ck_assert(all_up());
}

static void
net3_down(void)
{
	aemp_free(nc);
	aemp_free(nb);
	aemp_free(na);
	event_base_free(base);
}

/* Runs the loop until n forwards up to level (-1: to nobody). */
static int
hook_level(aemp_node *n, int level, double seconds)
{
	double end = test_now() + seconds;

	while (test_now() < end) {
		if (n->lc_level == level)
			return 1;
		tn_run_for(base, 0.02);
	}
	return n->lc_level == level;
}

static void
probes(aemp_node *n, const char *tag)
{
	int l;

	for (l = 0; l <= 9; l++)
		aemp_log(n, l, "probe %s %d", tag, l);
	tn_run_for(base, 0.5);
}

static void
quiet(aemp_node *n)
{
	n->log_level = 0;	/* forwarding must not depend on it */
}

/* A caught line is printed as one line, with no bytes a terminal obeys. */
START_TEST(caught_text_is_printed_visibly)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	ck_assert_ptr_nonnull(f);
	ae_logcatcher_print(NULL, "alpha", 3, "evil\x1b[2J\x07 k\xc3\xa4se"
	    "\nsecond line\n", f);
	fclose(f);
	ck_assert_msg(strstr(out, " [alpha] <3> evil\\x1b[2J\\x07 k\xc3\xa4se"
	    "\\x0asecond line\n") != NULL, "printed: %s", out);
	ck_assert_ptr_null(strchr(out, '\x1b'));
	ck_assert_ptr_eq(strchr(out, '\n'), out + size - 1);
	free(out);
}
END_TEST

START_TEST(two_levels)
{
	struct caught cb = { 0 }, cc = { 0 };
	char want[2048];
	int l;

	net3_up();
	quiet(na);
	aemp_log_catch(nb, 3, on_caught, &cb);
	aemp_log_catch(nc, 6, on_caught, &cc);
	ck_assert(hook_level(na, 6, 10));
	ck_assert(hook_level(nb, 6, 10));	/* C catches B */
	ck_assert(hook_level(nc, 3, 10));	/* B catches C */
	probes(na, "a");
	want[0] = '\0';
	for (l = 0; l <= 3; l++)
		snprintf(want + strlen(want), sizeof want - strlen(want),
		    "A <%d> probe a %d\n", l, l);
	ck_assert_str_eq(cb.text, want);
	for (; l <= 6; l++)
		snprintf(want + strlen(want), sizeof want - strlen(want),
		    "A <%d> probe a %d\n", l, l);
	ck_assert_str_eq(cc.text, want);
	/* a catcher does not catch its own node */
	cb.text[0] = '\0';
	probes(nb, "b");
	ck_assert_str_eq(cb.text, "");
	ck_assert(strstr(cc.text, "B <6> probe b 6\n") != NULL);
	ck_assert(strstr(cc.text, "B <7>") == NULL);
	net3_down();
}
END_TEST

/* B stops catching: its ports die, A drops the hook, B gets nothing. */
START_TEST(killed_port_stops)
{
	struct caught cb = { 0 }, cc = { 0 };

	net3_up();
	aemp_log_catch(nb, 9, on_caught, &cb);
	aemp_log_catch(nc, 4, on_caught, &cc);
	ck_assert(hook_level(na, 9, 10));
	probes(na, "one");
	ck_assert_int_eq(cb.lines, 10);
	aemp_log_catch(nb, -1, NULL, NULL);
	ck_assert(hook_level(na, 4, 10));
	cb.lines = 0;
	cc.lines = 0;
	probes(na, "two");
	ck_assert_int_eq(cb.lines, 0);
	ck_assert_int_eq(cc.lines, 5);
	net3_down();
}
END_TEST

/* A catcher in another process dies by SIGKILL: A's hook goes. */
START_TEST(catcher_sigkilled)
{
	char *dir = test_tmpdir(), log[512];
	pid_t pid;
	int st;

	base = event_base_new();
	tn_isolate();
	na = tn_node(base, "A", NULL);
	ck_assert_ptr_nonnull(na);
	snprintf(log, sizeof log, "%s/catcher.log", dir);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct event_base *b = event_base_new();
		aemp_node *k;
		FILE *f = freopen(log, "w", stderr);
		(void)f;
		signal(SIGTERM, SIG_DFL);
		setvbuf(stderr, NULL, _IONBF, 0);
		k = tn_node(b, "K", json_pack("{s[s]}", "seeds", tn_addr(na)));
		if (k == NULL)
			_exit(3);
		k->log_level = 0;
		aemp_log_catch(k, 5, NULL, NULL);	/* prints on stderr */
		event_base_dispatch(b);
		_exit(0);
	}
	ck_assert(hook_level(na, 5, 20));
	aemp_log(na, 2, "probe before the kill");
	{
		double end = test_now() + 10;
		char *text = NULL;
		while (test_now() < end) {
			tn_run_for(base, 0.05);
			free(text);
			text = test_slurp(log);
			if (text != NULL && strstr(text, "[A] <2> probe before "
			    "the kill") != NULL)
				break;
		}
		ck_assert_ptr_nonnull(text);
		ck_assert_ptr_nonnull(strstr(text, "[A] <2> probe before the "
		    "kill\n"));
		free(text);
	}
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(hook_level(na, -1, 20));
	aemp_log(na, 2, "probe after the kill");	/* goes nowhere */
	tn_run_for(base, 0.2);
	aemp_free(na);
	event_base_free(base);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* A logger that logs itself: every line it gets makes one more. */
static int inner_depth;

static void
logging_logger(aemp_node *n, int level, const char *msg, void *ud)
{
	(void)ud; (void)level;
	if (strncmp(msg, "probe", 5) != 0)
		return;
	inner_depth++;
	if (inner_depth < 100)
		aemp_log(n, 2, "probe inner: %s", msg);
	inner_depth--;
}

START_TEST(no_recursion)
{
	struct caught cb = { 0 };

	net3_up();
	aemp_set_logger(na, logging_logger, NULL);
	aemp_log_catch(nb, 9, on_caught, &cb);
	ck_assert(hook_level(na, 9, 10));
	/*
	 * The inner line is forwarded once, and not given to the logger
	 * again: without that, 100 lines (the logger's own limit).
	 */
	aemp_log(na, 2, "probe outer");
	tn_run_for(base, 0.5);
	ck_assert_str_eq(cb.text, "A <2> probe outer\nA <2> probe inner: "
	    "probe outer\n");
	net3_down();
}
END_TEST

/* The service form: ["AnyEvent::MP::LogCatcher::catch", LEVEL]. */
START_TEST(service_catch)
{
	net3_up();
	aemp_snd(nb, "B#", json_pack("[si]", "AnyEvent::MP::LogCatcher::catch",
	    4));
	ck_assert(hook_level(na, 4, 10));
	ck_assert(hook_level(nc, 4, 10));
	net3_down();
}
END_TEST

/* aemp log --follow prints the lines of a node that came up after it. */
START_TEST(aemp_log_follow)
{
	char *dir = test_tmpdir(), rc[512], out[512], *text = NULL;
	char *aemp = test_bin("aemp");
	char *setup[] = { aemp, "setsecret", "testsecret", "profile", "aemp",
	    "seeds", NULL, NULL };
	char *argv[] = { aemp, "log", "5", "--follow", NULL };
	char *env[] = { rc, NULL };
	aemp_node *late;
	double end;
	pid_t pid;
	int found = 0;

	base = event_base_new();
	tn_isolate();
	na = tn_node(base, "A", NULL);
	ck_assert_ptr_nonnull(na);
	snprintf(rc, sizeof rc, "AEMP_RC=%s/aemp.db", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	setup[6] = (char *)tn_addr(na);
	putenv(rc);
	ck_assert_int_eq(test_run(setup, env, NULL, NULL, NULL, 20), 0);
	pid = test_spawn(argv, env, out, -1);
	tn_run_for(base, 1.0);
	late = tn_node(base, "late", json_pack("{s[s]}", "seeds",
	    tn_addr(na)));
	ck_assert_ptr_nonnull(late);
	quiet(late);
	end = test_now() + 20;
	while (!found && test_now() < end) {
		aemp_log(late, 2, "hello from late");
		aemp_log(late, 6, "too detailed for the catcher");
		tn_run_for(base, 0.2);
		free(text);
		text = test_slurp(out);
		found = text != NULL && strstr(text, " [late] <2> hello from "
		    "late\n") != NULL;
	}
	ck_assert_msg(found, "aemp log printed: %s", text ? text : "");
	ck_assert(strstr(text, "too detailed") == NULL);
	/* the format: YYYY-MM-DD HH:MM:SS [NODE] <L> TEXT */
	{
		char *p = strstr(text, " [late] <2> hello");
		ck_assert_int_ge(p - text, 19);
		ck_assert_int_eq(p[-9], ' ');
		ck_assert_int_eq(p[-15], '-');
	}
	ck_assert_int_eq(test_stop(pid), 0);
	free(text);
	aemp_free(late);
	aemp_free(na);
	event_base_free(base);
	test_rmtree(dir);
	free(dir);
	free(aemp);
}
END_TEST

static Suite *
logcatcher_suite(void)
{
	Suite *s = suite_create("logcatcher");
	TCase *t = tcase_create("catch");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, caught_text_is_printed_visibly);
	tcase_add_test(t, two_levels);
	tcase_add_test(t, killed_port_stops);
	tcase_add_test(t, catcher_sigkilled);
	tcase_add_test(t, no_recursion);
	tcase_add_test(t, service_catch);
	tcase_add_test(t, aemp_log_follow);
	suite_add_tcase(s, t);
	return s;
}

AEMP_TEST_MAIN(logcatcher_suite)

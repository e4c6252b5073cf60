/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_readme.c: the README's tour, replayed from the README itself.
 *
 * The command lines of the section "A tour" (its indented lines, up to the
 * paragraph "Under systemd", which needs root and systemd) are read from
 * README and run one after the other with sh, from the source directory,
 * with a temporary HOME and AEMP_RC. Where the tour says "*:4040" (every
 * address) the test uses 127.0.0.1 and a free port, as the tour allows on
 * a machine without a network: tests never bind "*" (nor the default,
 * "*": the global binds are set to 127.0.0.1 first). Each line must be
 * one the table below knows, which says how it runs (to the end, or in the
 * background like the terminals of the tour) and what its output must
 * show (what the README's comment says it prints): a tour line changed or
 * added without the test knowing it fails the test. And the README's test
 * command is the one CI runs.
 */
#include <sys/wait.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define MAXBG	8

enum how {
	FG,		/* runs to its end, status 0 */
	BG,		/* keeps running (a terminal of its own) */
	ENV		/* export PATH=...: the build's bin first */
};

struct step {
	const char	*line;	/* the command as README has it */
	enum how	 how;
	const char	*expect;/* in its output ("%f": a time) */
	const char	*port;	/* what PORT stands for, if it appears */
};

static const struct step steps[] = {
	{ "export PATH=$PWD/build/bin:$PATH", ENV, NULL, NULL },
	{ "aemp gensecret", FG, NULL, NULL },
	{ "aemp profile seed binds \"*:4040\"", FG, NULL, NULL },
	{ "aemp profile seed setnodeid seed", FG, NULL, NULL },
	{ "aemp seeds \"*:4040\" nodeid anon/", FG, NULL, NULL },
	{ "aemp showconfig seed", FG, "\"nodeid\": \"seed\"", NULL },
	{ "aemp run profile seed", BG, "node listens on [127.0.0.1:", NULL },
	{ "aemp cal seed time", FG, "%f", NULL },
	{ "aemp trace seed", FG, "seed", NULL },
	{ "build/examples/receiver", BG, NULL, NULL },
	{ "build/examples/sender", BG, NULL, NULL },
	{ "build/examples/chat_server", BG, "server ready.", NULL },
	{ "build/examples/chat_client nick1", BG, "nick1 (joins)", NULL },
	{ "aemp profile chat addservice Chat::Server::start", FG, NULL, NULL },
	{ "AEMP_MODULE_PATH=build/lib/aemp aemp run profile chat", BG,
	    "loaded module Chat::Server", NULL },
	{ "aemp trace NODE", FG, "seed", NULL },
	{ "aemp cal NODE time", FG, "%f", NULL },
	{ "aemp cal --timeout 2 NODE up_nodes", FG, "\"anon/", NULL },
	{ "aemp snd PORT test 123", FG, "message sent successfully", "seed" },
	{ "aemp mon PORT", FG, "no_such_port", "seed#nonexistent" },
	{ "aemp shell seed < requests", FG, "seed does not evaluate Perl",
	    NULL },
};

static char *dir, build[PATH_MAX], seed[64], path_env[PATH_MAX + 64];
static char home_env[PATH_MAX], rc_env[PATH_MAX];
static pid_t bg[MAXBG];
static int nbg;

static void
setup(void)
{
	const char *b = getenv("AEMP_BUILD");

	dir = test_tmpdir();
	if (realpath(b != NULL ? b : "build", build) == NULL)
		snprintf(build, sizeof build, "%s", b != NULL ? b : "build");
	snprintf(seed, sizeof seed, "127.0.0.1:%d", test_free_port());
	snprintf(home_env, sizeof home_env, "HOME=%s", dir);
	snprintf(rc_env, sizeof rc_env, "AEMP_RC=%s/aemp.db", dir);
	snprintf(path_env, sizeof path_env, "PATH=%s",
	    getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	/* the tour's programs pick their profile themselves */
	unsetenv("AEMP_PROFILE");
	signal(SIGPIPE, SIG_IGN);
	nbg = 0;
}

static void
teardown(void)
{
	/* the background programs, by PID, the last started first */
	while (nbg > 0)
		test_stop(bg[--nbg]);
	test_rmtree(dir);
	free(dir);
}

/* s with every from replaced by to, malloc()ed. */
static char *
replace(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	const char *p;
	char *r, *o;

	for (p = s; (p = strstr(p, from)) != NULL; p += fl)
		n++;
	r = o = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1);
	ck_assert_ptr_nonnull(r);
	for (p = s; *p != '\0';) {
		if (strncmp(p, from, fl) == 0) {
			memcpy(o, to, tl);
			o += tl;
			p += fl;
		} else
			*o++ = *p++;
	}
	*o = '\0';
	return r;
}

static void
subst(char **s, const char *from, const char *to)
{
	char *r = replace(*s, from, to);

	free(*s);
	*s = r;
}

/* A source file's text ($AEMP_SRC, else the current directory). */
static char *
source_text(const char *name)
{
	char *path, *text;

	if (asprintf(&path, "%s/%s", getenv("AEMP_SRC") ? getenv("AEMP_SRC") :
	    ".", name) < 0)
		abort();
	text = test_slurp(path);
	ck_assert_msg(text != NULL, "%s not found", path);
	free(path);
	return text;
}

/* The tour's command lines from README, comments cut off; count set. */
static char **
tour_lines(int *count)
{
	char *text, *p, *end, **lines = NULL;
	int n = 0;

	text = source_text("README");
	p = strstr(text, "\nA tour\n------\n");
	ck_assert_msg(p != NULL, "README has no section 'A tour'");
	end = strstr(p, "\nUnder systemd");
	ck_assert_msg(end != NULL, "README's tour has no 'Under systemd'");
	*end = '\0';
	for (p = strtok(p, "\n"); p != NULL; p = strtok(NULL, "\n")) {
		char *c;
		if (strncmp(p, "    ", 4) != 0)
			continue;
		p += 4;
		if ((c = strstr(p, "  #")) != NULL)
			*c = '\0';
		for (c = p + strlen(p); c > p && c[-1] == ' '; )
			*--c = '\0';
		lines = realloc(lines, (n + 1) * sizeof *lines);
		lines[n++] = strdup(p);
	}
	free(text);
	*count = n;
	return lines;
}

static int
is_time(const char *s)
{
	char *end;
	double t = strtod(s, &end);

	return end != s && *end == '\n' && t > 1e9 && strchr(s, '.') != NULL;
}

static void
check_output(const struct step *st, const char *out)
{
	if (st->expect == NULL)
		return;
	if (strcmp(st->expect, "%f") == 0)
		ck_assert_msg(is_time(out), "'%s' printed '%s', not a time",
		    st->line, out);
	else
		ck_assert_msg(strstr(out, st->expect) != NULL, "'%s' printed "
		    "'%s', not '%s'", st->line, out, st->expect);
}

START_TEST(tour_works_as_written)
{
	char **lines, *env[] = { path_env, home_env, rc_env, NULL };
	char requests[PATH_MAX], log[PATH_MAX], *out, *err, *bdir;
	char recv_log[PATH_MAX] = "";
	int count, i, rc, seen[sizeof steps / sizeof steps[0]] = { 0 };
	size_t k;
	FILE *f;

	lines = tour_lines(&count);
	ck_assert_int_ge(count, 15);
	snprintf(requests, sizeof requests, "%s/requests", dir);
	ck_assert_ptr_nonnull(f = fopen(requests, "w"));
	fputs("time\nup_nodes\n", f);
	fclose(f);
	if (asprintf(&bdir, "%s/", build) < 0)
		abort();
	/*
	 * The tour's other nodes bind the default, "*" (every interface but
	 * loopback): here the global binds say loopback instead, before
	 * the tour begins.
	 */
	{
		char *a[] = { test_bin("aemp"), "setbinds", "127.0.0.1:*",
		    NULL };
		rc = test_run(a, env, NULL, NULL, &err, 30);
		ck_assert_msg(rc == 0, "aemp setbinds: %s", err);
		free(err);
		free(a[0]);
	}
	for (i = 0; i < count; i++) {
		const struct step *st = NULL;
		char *cmd, *sh[] = { "/bin/sh", "-c", NULL, NULL };

		for (k = 0; k < sizeof steps / sizeof steps[0]; k++)
			if (strcmp(lines[i], steps[k].line) == 0)
				st = &steps[k];
		ck_assert_msg(st != NULL, "README tour line '%s' is not known "
		    "to check_readme: add it to its table", lines[i]);
		seen[st - steps] = 1;
		if (st->how == ENV) {
			snprintf(path_env, sizeof path_env, "PATH=%s/bin:%s",
			    build, getenv("PATH") ? getenv("PATH") :
			    "/usr/bin:/bin");
			continue;
		}
		cmd = strdup(lines[i]);
		subst(&cmd, "*:4040", seed);
		subst(&cmd, "build/", bdir);
		subst(&cmd, "NODE", "seed");
		subst(&cmd, "< requests", "< @REQUESTS@");
		subst(&cmd, "@REQUESTS@", requests);
		if (st->port != NULL)
			subst(&cmd, "PORT", st->port);
		if (st->how == FG) {
			sh[2] = cmd;
			rc = test_run(sh, env, NULL, &out, &err, 30);
			ck_assert_msg(rc == 0, "'%s' (as '%s'): status %d: "
			    "%s%s", lines[i], cmd, rc, out ? out : "",
			    err ? err : "");
			check_output(st, out ? out : "");
			free(out);
			free(err);
		} else {
			char *c, *sp = strchr(cmd, ' ');
			/* exec, so that the PID is the program's */
			if (sp != NULL && memchr(cmd, '=', sp - cmd) != NULL)
				rc = asprintf(&c, "%.*s exec%s",
				    (int)(sp - cmd), cmd, sp);
			else
				rc = asprintf(&c, "exec %s", cmd);
			ck_assert(rc >= 0);
			free(cmd);
			cmd = c;
			ck_assert_int_lt(nbg, MAXBG);
			snprintf(log, sizeof log, "%s/bg%d.log", dir, nbg);
			sh[2] = cmd;
			bg[nbg++] = test_spawn(sh, env, log, -1);
			if (strstr(lines[i], "/receiver") != NULL)
				snprintf(recv_log, sizeof recv_log, "%s", log);
			if (st->expect != NULL)
				ck_assert_msg(test_wait_for_text(log,
				    st->expect, 20), "'%s' did not print '%s': "
				    "%s", lines[i], st->expect,
				    test_slurp(log));
			ck_assert_msg(waitpid(bg[nbg - 1], NULL, WNOHANG) == 0,
			    "'%s' ended: %s", lines[i], test_slurp(log));
		}
		free(cmd);
	}
	/* the receiver, given the sender's time ("Received data: ...") */
	ck_assert(recv_log[0] != '\0');
	ck_assert_msg(test_wait_for_text(recv_log, "Received data: 1", 20),
	    "receiver: %s", test_slurp(recv_log));
	/* and nothing listened anywhere but on loopback */
	for (i = 0; i < nbg; i++) {
		char *t, *l;
		snprintf(log, sizeof log, "%s/bg%d.log", dir, i);
		t = test_slurp(log);
		for (l = t; l != NULL && (l = strstr(l, "listens on [")) != NULL;
		    l += 12)
			ck_assert_msg(strncmp(l + 12, "127.0.0.1:", 10) == 0,
			    "bg%d: %.60s", i, l);
		free(t);
	}
	/* every step of the table is still in the README */
	for (k = 0; k < sizeof steps / sizeof steps[0]; k++)
		ck_assert_msg(seen[k], "check_readme's step '%s' is no longer "
		    "in the README's tour", steps[k].line);
	for (i = 0; i < count; i++)
		free(lines[i]);
	free(lines);
	free(bdir);
}
END_TEST

/* The README's test command is exactly what CI (.ci/run) runs. */
START_TEST(ci_runs_the_readme_test_command)
{
	char *readme = source_text("README"), *ci = source_text(".ci/run");
	char *cmd, *last, *end;

	cmd = strstr(readme, "\n    make deps && make check");
	ck_assert_msg(cmd != NULL, "README has no test command");
	cmd += 5;
	if ((end = strchr(cmd, '\n')) != NULL)
		*end = '\0';
	ck_assert_ptr_nonnull(strstr(cmd, "make check-package"));
	for (end = ci + strlen(ci); end > ci && end[-1] == '\n'; )
		*--end = '\0';
	last = strrchr(ci, '\n');
	ck_assert_str_eq(last != NULL ? last + 1 : ci, cmd);
	free(readme);
	free(ci);
}
END_TEST

static Suite *
readme_suite(void)
{
	Suite *s = suite_create("readme");
	TCase *tc = tcase_create("tour");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, tour_works_as_written);
	tcase_add_test(tc, ci_runs_the_readme_test_command);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(readme_suite)

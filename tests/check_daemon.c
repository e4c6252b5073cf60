/*
 * check_daemon.c: aempd and the examples as processes: start, serve,
 * clean exit on signals, refusal without a secret, and a valgrind-clean
 * start/stop cycle.
 */
#include <sys/stat.h>

#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <sqlite3.h>

#include "testutil.h"

static char *dir;
static char rc_env[512];

static void
setup(void)
{
	dir = test_tmpdir();
	snprintf(rc_env, sizeof rc_env, "AEMP_RC=%s/aemp.db", dir);
}

static void
teardown(void)
{
	test_rmtree(dir);
	free(dir);
}

START_TEST(simple_example_prints_123)
{
	char *bin = test_example("simple_example"), *out = NULL;
	char *argv[] = { bin, NULL }, *env[] = { rc_env, NULL };

	ck_assert_int_eq(test_run(argv, env, NULL, &out, NULL, 10), 0);
	ck_assert_str_eq(out, "Ending with: 123\n");
	free(out);
	free(bin);
}
END_TEST

START_TEST(aempd_refuses_without_secret)
{
	char *bin = test_bin("aempd"), *err = NULL;
	char *argv[] = { bin, "nodeid", "lonely", "binds", "127.0.0.1:*",
	    NULL };
	char *env[] = { rc_env, NULL };

	ck_assert_int_eq(test_run(argv, env, NULL, NULL, &err, 10), 1);
	ck_assert_ptr_nonnull(strstr(err, "no shared secret"));
	ck_assert_ptr_nonnull(strstr(err, "aemp gensecret"));
	free(err);
	free(bin);
}
END_TEST

START_TEST(aempd_bad_arguments)
{
	char *bin = test_bin("aempd"), *err = NULL;
	char *argv1[] = { bin, "--bogus", NULL };
	char *argv2[] = { bin, "monitor_timeout", "abc", NULL };
	char *argv3[] = { bin, "--profile", NULL };
	char *env[] = { rc_env, NULL };

	ck_assert_int_eq(test_run(argv1, env, NULL, NULL, &err, 10), 1);
	ck_assert_ptr_nonnull(strstr(err, "--bogus"));
	free(err);
	ck_assert_int_eq(test_run(argv2, env, NULL, NULL, &err, 10), 1);
	ck_assert_ptr_nonnull(strstr(err, "monitor_timeout"));
	free(err);
	ck_assert_int_eq(test_run(argv3, env, NULL, NULL, &err, 10), 1);
	ck_assert_ptr_nonnull(strstr(err, "missing"));
	free(err);
	/* a key without its value, not a profile named "profile" */
	{
		char *argv4[] = { bin, "profile", NULL };
		char *argv5[] = { bin, "profile", "X", "binds", NULL };
		char *argv6[] = { bin, "seed", "binds", "x:-1", NULL };
		ck_assert_int_eq(test_run(argv4, env, NULL, NULL, &err, 10), 1);
		ck_assert_msg(strstr(err, "profile has no value") != NULL, "%s",
		    err);
		free(err);
		ck_assert_int_eq(test_run(argv5, env, NULL, NULL, &err, 10), 1);
		ck_assert_msg(strstr(err, "binds has no value") != NULL, "%s",
		    err);
		free(err);
		ck_assert_int_eq(test_run(argv6, env, NULL, NULL, &err, 10), 1);
		ck_assert_msg(strstr(err, "'x:-1' is not a bind address") !=
		    NULL, "%s", err);
		free(err);
	}
	free(bin);
}
END_TEST

/* The port in log's "node listens on [127.0.0.1:PORT]." line, or 0. */
static int
logged_port(const char *log)
{
	char *text = test_slurp(log), *at;
	int port = 0;

	if (text != NULL && (at = strstr(text, "node listens on [")) != NULL)
		sscanf(at, "node listens on [127.0.0.1:%d].", &port);
	free(text);
	return port;
}

/*
 * "127.0.0.1:0" as a profile's bind and as a configure argument: the
 * kernel chooses the port, which aempd logs and serves on.
 */
START_TEST(aempd_ephemeral_bind)
{
	char *aemp = test_bin("aemp"), *aempd = test_bin("aempd");
	char *env[] = { rc_env, NULL }, log[600];
	char *set[] = { aemp, "setsecret", "s", "profile", "eph", "binds",
	    "127.0.0.1:0", NULL };
	char *byprofile[] = { aempd, "--profile", "eph", NULL };
	char *byargs[] = { aempd, "nodeid", "eph2", "binds", "127.0.0.1:0",
	    "secret", "s", NULL };
	char **argv[] = { byprofile, byargs };
	int i;

	ck_assert_int_eq(test_run(set, env, NULL, NULL, NULL, 10), 0);
	for (i = 0; i < 2; i++) {
		pid_t d;
		int port;
		snprintf(log, sizeof log, "%s/eph%d.log", dir, i);
		d = test_spawn(argv[i], env, log, -1);
		ck_assert_msg(test_wait_for_text(log, "node listens on", 20),
		    "%s", test_slurp(log));
		port = logged_port(log);
		ck_assert_int_gt(port, 0);
		ck_assert(test_wait_for_text(log, "starting global service", 5));
		test_stop(d);
	}
	free(aemp);
	free(aempd);
}
END_TEST

/* aempd serves a ping/echo exchange, then exits 0 on SIGTERM. */
static void
serve_and_stop(int under_valgrind)
{
	char *aempd = test_bin("aempd"), *echo = test_example("echo");
	char *ping = test_example("ping"), *out = NULL;
	char log[600], bind[64], seeds[80], echobind[80], echoseed[80];
	char *env[] = { rc_env, NULL };
	int port = test_free_port(), eport = test_free_port(), status;
	pid_t d, e;

	snprintf(log, sizeof log, "%s/aempd.log", dir);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", port);
	snprintf(seeds, sizeof seeds, "[\"127.0.0.1:%d\"]", port);
	snprintf(echobind, sizeof echobind, "[\"127.0.0.1:%d\"]", eport);
	snprintf(echoseed, sizeof echoseed, "127.0.0.1:%d", eport);
	{
		char *argv[] = { "/usr/bin/valgrind", "-q", "--leak-check=full",
		    "--errors-for-leak-kinds=definite,indirect",
		    "--error-exitcode=9", aempd, "nodeid", "seed", "binds",
		    bind, "secret", "s", NULL };
		d = test_spawn(under_valgrind ? argv : argv + 5, env, log, -1);
	}
	ck_assert(test_wait_for_text(log, "node listens on", 20));
	{
		char *argv[] = { echo, "nodeid", "echo", "binds", echobind,
		    "secret", "s", "seeds", seeds, NULL };
		e = test_spawn(argv, env, NULL, -1);
	}
	{
		/* ping knows echo's address directly: no global service needed */
		char *argv[] = { ping, "echo", "50", "nodeid", "anon/", "binds",
		    "[]", "secret", "s", "seeds", echoseed, NULL };
		ck_assert_int_eq(test_run(argv, env, NULL, &out, NULL, 30), 0);
		ck_assert_ptr_nonnull(strstr(out, "\"count\": 50"));
	}
	ck_assert(test_wait_for_text(log, "echo is up", 10));
	test_stop(e);
	kill(d, SIGTERM);
	status = test_wait(d, 20);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "aempd exit status %d", status);
	ck_assert(test_wait_for_text(log, "shutting down", 1));
	free(out);
	free(aempd);
	free(echo);
	free(ping);
}

START_TEST(aempd_serves_and_exits_cleanly)
{
	serve_and_stop(0);
}
END_TEST

START_TEST(aempd_valgrind_clean)
{
	const char *b = getenv("AEMP_BUILD");

	/* sanitizer builds check themselves and cannot run under valgrind */
	if (b != NULL && strstr(b, "asan") != NULL)
		return;
	ck_assert_msg(access("/usr/bin/valgrind", X_OK) == 0,
	    "valgrind is missing: make deps installs it");
	serve_and_stop(1);
}
END_TEST


START_TEST(secret_not_in_ps_or_log)
{
	char *aempd = test_bin("aempd"), log[600], bind[64], path[64];
	char *env[] = { rc_env, "AEMP_WARNLEVEL=9", NULL }, *cmdline, *text;
	const char *secret = "S3cr3tNeverShown";
	pid_t d;
	int fd;
	ssize_t len;

	snprintf(log, sizeof log, "%s/aempd.log", dir);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
	{
		char *argv[] = { aempd, "nodeid", "quiet", "binds", bind,
		    "secret", (char *)secret, NULL };
		d = test_spawn(argv, env, log, -1);
	}
	ck_assert(test_wait_for_text(log, "node listens on", 20));
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)d);
	cmdline = calloc(1, 4096);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	len = read(fd, cmdline, 4095);
	close(fd);
	ck_assert_int_gt(len, 0);
	for (ssize_t i = 0; i < len; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	ck_assert_ptr_null(strstr(cmdline, secret));
	ck_assert_ptr_nonnull(strstr(cmdline, "secret"));
	test_stop(d);
	text = test_slurp(log);
	ck_assert_ptr_null(strstr(text, secret));
	free(text);
	free(cmdline);
	free(aempd);
}
END_TEST

/*
 * While aempd waits for the store (this process holds an EXCLUSIVE lock
 * on it), its cmdline must already be scrubbed: 100 looks, none may find
 * the secret (before, it left only after reading the store).
 */
START_TEST(secret_scrubbed_before_store)
{
	char *aempd = test_bin("aempd"), *aemp = test_bin("aemp"), log[600];
	char bind[64], rc[560], *env[] = { rc_env, NULL };
	const char *secret = "Zq7Wd2Lx9Ka4Vr8Nt3Hs6Bm1";
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	char *setup[] = { aemp, "nodeid", "waiter", NULL };
	int i, seen = 0;
	sqlite3 *db;
	pid_t d;

	snprintf(log, sizeof log, "%s/aempd.log", dir);
	snprintf(rc, sizeof rc, "%s/aemp.db", dir);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
	ck_assert_int_eq(test_run(setup, env, NULL, NULL, NULL, 10), 0);
	ck_assert_int_eq(sqlite3_open(rc, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL,
	    NULL), SQLITE_OK);
	{
		char *argv[] = { aempd, "binds", bind, "secret",
		    (char *)secret, NULL };
		d = test_spawn(argv, env, log, -1);
	}
	/* past exec and the dynamic loader (long on a loaded machine) */
	for (i = 0; i < 500 && (test_cmdline_has(d, "bin/aempd") != 1 ||
	    test_cmdline_has(d, secret) != 0); i++)
		nanosleep(&ts, NULL);
	for (i = 0; i < 100; i++) {
		seen += test_cmdline_has(d, secret) == 1;
		ck_assert_int_eq(test_cmdline_has(d, "bin/aempd"), 1);
		nanosleep(&ts, NULL);
	}
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	ck_assert(test_wait_for_text(log, "node listens on", 20));
	test_stop(d);
	ck_assert_msg(seen == 0, "the secret was in cmdline %d of 100 times",
	    seen);
	free(aempd);
	free(aemp);
}
END_TEST

/*
 * aempd runs as nobody: /proc/PID files of a process that is not
 * dumpable belong to root, those of a dumpable one to its user.
 */
static uid_t
proc_owner_of_aempd(const char *dumpable)
{
	char *aempd = test_bin("aempd"), bind[64], path[64], log[600];
	char *argv[] = { aempd, "nodeid", "nobody", "binds", bind, "secret",
	    "Zq7Wd2Lx9Ka4Vr8Nt3Hs6Bm1", NULL };
	char *env[] = { "AEMP_RC=/nonexistent/aemp.db", "HOME=/nonexistent",
	    (char *)dumpable, NULL };
	struct stat sb;
	pid_t d;
	int fd;

	snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
	snprintf(log, sizeof log, "%s/nobody.log", dir);
	unlink(log);
	d = fork();
	ck_assert_int_ge(d, 0);
	if (d == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0666);
		dup2(fd, 1);
		dup2(fd, 2);
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(126);
		execve(aempd, argv, env);
		_exit(127);
	}
	ck_assert(test_wait_for_text(log, "node listens on", 20));
	snprintf(path, sizeof path, "/proc/%d/environ", (int)d);
	ck_assert_int_eq(stat(path, &sb), 0);
	test_stop(d);
	free(aempd);
	return sb.st_uid;
}

START_TEST(aempd_not_dumpable)
{
	if (getuid() != 0)
		return;		/* needs to run aempd as another user */
	ck_assert_int_eq(proc_owner_of_aempd("AEMP_DUMPABLE="), 0);
	ck_assert_int_eq(proc_owner_of_aempd("AEMP_DUMPABLE=1"), 65534);
}
END_TEST

/* aempd names a store that others can read, once, at start. */
START_TEST(aempd_warns_store_mode)
{
	char *aempd = test_bin("aempd"), *aemp = test_bin("aemp"), log[600];
	char rc[560], bind[64], *env[] = { rc_env, NULL }, *text, *p;
	char *setup[] = { aemp, "gensecret", NULL };
	pid_t d;

	snprintf(log, sizeof log, "%s/aempd.log", dir);
	snprintf(rc, sizeof rc, "%s/aemp.db", dir);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
	ck_assert_int_eq(test_run(setup, env, NULL, NULL, NULL, 10), 0);
	ck_assert_int_eq(chmod(rc, 0644), 0);
	{
		char *argv[] = { aempd, "binds", bind, NULL };
		d = test_spawn(argv, env, log, -1);
	}
	ck_assert(test_wait_for_text(log, "node listens on", 20));
	test_stop(d);
	text = test_slurp(log);
	p = strstr(text, "readable by everybody (mode 0644)");
	ck_assert_msg(p != NULL, "no warning: %s", text);
	ck_assert_ptr_nonnull(strstr(text, rc));
	ck_assert_ptr_null(strstr(p + 1, "readable by everybody"));
	free(text);
	free(aempd);
	free(aemp);
}
END_TEST

static Suite *
daemon_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc = tcase_create("aempd");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, simple_example_prints_123);
	tcase_add_test(tc, aempd_refuses_without_secret);
	tcase_add_test(tc, aempd_bad_arguments);
	tcase_add_test(tc, aempd_ephemeral_bind);
	tcase_add_test(tc, aempd_serves_and_exits_cleanly);
	tcase_add_test(tc, aempd_valgrind_clean);
	tcase_add_test(tc, secret_not_in_ps_or_log);
	tcase_add_test(tc, secret_scrubbed_before_store);
	tcase_add_test(tc, aempd_not_dumpable);
	tcase_add_test(tc, aempd_warns_store_mode);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(daemon_suite)

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_net.c: aempd with services, modules, readiness, reload and
 * restart, and aemp's network commands against running nodes: processes
 * on 127.0.0.1 only, killed by PID, every wait bounded.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "nodeutil.h"

#define MAXARGS		40
#define SECRET		"netsecret"

static char *dir;
static char rc_env[PATH_MAX + 16], mod_env[PATH_MAX + 32];
static char *env[] = { rc_env, mod_env, NULL };

static void
setup(void)
{
	char build[PATH_MAX];
	const char *b = getenv("AEMP_BUILD");

	dir = test_tmpdir();
	snprintf(rc_env, sizeof rc_env, "AEMP_RC=%s/aemp.db", dir);
	/* the module path must be absolute */
	if (realpath(b != NULL ? b : "build", build) == NULL)
		snprintf(build, sizeof build, "%s", b != NULL ? b : "build");
	snprintf(mod_env, sizeof mod_env, "AEMP_MODULE_PATH=%s/lib/aemp",
	    build);
	/* the profile is chosen by each test */
	unsetenv("AEMP_PROFILE");
	signal(SIGPIPE, SIG_IGN);
}

static void
teardown(void)
{
	test_rmtree(dir);
	free(dir);
}

/* Collects NULL-terminated arguments after prog into argv. */
static void
collect(char **argv, char *prog, va_list ap)
{
	int i = 0;
	char *a;

	argv[i++] = prog;
	while ((a = va_arg(ap, char *)) != NULL && i < MAXARGS - 1)
		argv[i++] = a;
	argv[i] = NULL;
}

/* Runs aemp ARGS... to completion with input; returns its exit status. */
static int
aemp_in(const char *input, char **out, char **err, double timeout, ...)
{
	char *argv[MAXARGS];
	va_list ap;
	int rc;

	va_start(ap, timeout);
	collect(argv, test_bin("aemp"), ap);
	va_end(ap);
	rc = test_run(argv, env, input, out, err, timeout);
	free(argv[0]);
	return rc;
}

#define AEMP(out, err, ...) aemp_in(NULL, out, err, 20, __VA_ARGS__, NULL)

/* Like AEMP, but it must succeed. */
#define AEMP_OK(...) do {						\
	char *e_ = NULL;						\
	int rc_ = aemp_in(NULL, NULL, &e_, 20, __VA_ARGS__, NULL);	\
	ck_assert_msg(rc_ == 0, "aemp failed (%d): %s", rc_, e_);	\
	free(e_);							\
} while (0)

/* Starts prog (a binary of the build) with args, output into log. */
static pid_t
start(const char *prog, const char *log, char **extra_env, ...)
{
	char *argv[MAXARGS], *menv[16];
	va_list ap;
	pid_t pid;
	int i = 0, j;

	for (j = 0; env[j] != NULL; j++) {
		size_t klen = strcspn(env[j], "=") + 1;
		int k;
		/* an extra entry replaces ours */
		for (k = 0; extra_env != NULL && extra_env[k] != NULL; k++)
			if (strncmp(extra_env[k], env[j], klen) == 0)
				break;
		if (extra_env == NULL || extra_env[k] == NULL)
			menv[i++] = env[j];
	}
	for (j = 0; extra_env != NULL && extra_env[j] != NULL; j++)
		menv[i++] = extra_env[j];
	menv[i] = NULL;
	va_start(ap, extra_env);
	collect(argv, strchr(prog, '/') ? strdup(prog) : test_bin(prog), ap);
	va_end(ap);
	pid = test_spawn(argv, menv, log, -1);
	free(argv[0]);
	return pid;
}

static void
logpath(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s.log", dir, name);
}

/* Stops pid with SIGTERM; it must exit with status 0. */
static void
stop_clean(pid_t pid, const char *what)
{
	int status;

	kill(pid, SIGTERM);
	status = test_wait(pid, 20);
	if (status == -1) {
		kill(pid, SIGKILL);
		test_wait(pid, 5);
	}
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "%s: exit status %d", what, status);
}

/* How often needle occurs in the file at path. */
static int
count_text(const char *path, const char *needle)
{
	char *text = test_slurp(path), *p;
	int n = 0;

	for (p = text; p != NULL && (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(text);
	return n;
}

static int
wait_count(const char *path, const char *needle, int count, double timeout)
{
	double end = test_now() + timeout;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	while (test_now() < end) {
		if (count_text(path, needle) >= count)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* A source file: $AEMP_SRC/path, ./path or ../../path (malloc()ed). */
static char *
source_file(const char *path)
{
	const char *src = getenv("AEMP_SRC");
	char *p;

	if (src != NULL) {
		if (asprintf(&p, "%s/%s", src, path) < 0)
			abort();
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	if (access(path, R_OK) == 0)
		return strdup(path);
	if (asprintf(&p, "../../%s", path) < 0)
		abort();
	return p;
}

/* --- bad input ----------------------------------------------------------- */

START_TEST(bad_input)
{
	char *out = NULL, *err = NULL;

	ck_assert_int_eq(AEMP(NULL, &err, "snd"), 2);
	ck_assert_ptr_nonnull(strstr(err, "missing argument PORT"));
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "snd", "a#b#c", "x"), 1);
	ck_assert_ptr_nonnull(strstr(err, "'a#b#c' is not a port ID"));
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "cal", "#x"), 1);
	ck_assert_ptr_nonnull(strstr(err, "not a port ID"));
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "cal", ""), 1);
	ck_assert_ptr_nonnull(strstr(err, "not a port ID"));
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "mon", "a b"), 1);
	ck_assert_ptr_nonnull(strstr(err, "white space"));
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "mon", "p", "setsecret", "x"), 1);
	ck_assert_ptr_nonnull(strstr(err, "unexpected argument 'setsecret'"));
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "eval", "node"), 2);
	ck_assert_ptr_nonnull(strstr(err, "missing argument EXPR"));
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "trace"), 2);
	ck_assert_ptr_nonnull(strstr(err, "missing argument NODE"));
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "trace", "a", "b"), 1);
	ck_assert_ptr_nonnull(strstr(err, "unexpected argument 'b'"));
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "restart"), 2);
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "snd", "p", "[1,"), 1);
	ck_assert_ptr_nonnull(strstr(err, "invalid JSON"));
	free(err);
	/* run checks its arguments before it commits the chain */
	ck_assert_int_eq(AEMP(NULL, &err, "profile", "x", "binds",
	    "127.0.0.1:1", "run", "nosuchkey", "v"), 1);
	ck_assert_ptr_nonnull(strstr(err, "unknown configuration key"));
	ck_assert_ptr_nonnull(strstr(err, "nothing was changed"));
	free(err);
	ck_assert_int_eq(AEMP(&out, NULL, "showprofile", "x"), 0);
	ck_assert_str_eq(out, "{}\n");
	free(out);
	ck_assert_int_eq(AEMP(NULL, &err, "run", "--bogus"), 1);
	ck_assert_ptr_nonnull(strstr(err, "unknown aempd option --bogus"));
	free(err);
	/* and every new command is documented in --help */
	ck_assert_int_eq(AEMP(&out, NULL, "help", "shell"), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: aemp shell [--timeout "
	    "SECONDS] [NODE]"));
	free(out);
}
END_TEST

/* --- nothing answers ------------------------------------------------------ */

START_TEST(no_answer_times_out)
{
	char seed[64], *err = NULL;
	double t0;
	int rc;

	/* nobody listens there: the node is never reached */
	snprintf(seed, sizeof seed, "127.0.0.1:%d", test_free_port());
	AEMP_OK("setsecret", SECRET, "seeds", seed);
	t0 = test_now();
	rc = AEMP(NULL, &err, "cal", "nobody", "time");
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(test_now() - t0 > 4.5 && test_now() - t0 < 9, "took %.1f s",
	    test_now() - t0);
	ck_assert_msg(strstr(err, "aemp: cal: cannot reach node nobody within "
	    "5 seconds") != NULL, "stderr: %s", err);
	free(err);
	/* --timeout: the deadline is the one given */
	t0 = test_now();
	rc = AEMP(NULL, &err, "cal", "--timeout", "1.5", "nobody", "time");
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(test_now() - t0 > 1.4 && test_now() - t0 < 4.4, "took %.1f s",
	    test_now() - t0);
	ck_assert_msg(strstr(err, "within 1.5 seconds") != NULL, "stderr: %s",
	    err);
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "cal", "--timeout", "0", "x"), 1);
	ck_assert_msg(strstr(err, "--timeout: '0'") != NULL, "stderr: %s", err);
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "mon", "--timeout", "2"), 1);
	ck_assert_msg(strstr(err, "missing argument") != NULL, "stderr: %s",
	    err);
	free(err);
	/* without seeds, the message says so, at once */
	AEMP_OK("delseeds");
	t0 = test_now();
	ck_assert_int_eq(AEMP(NULL, &err, "mon", "nobody#x"), 1);
	ck_assert_msg(test_now() - t0 < 3, "took %.1f s", test_now() - t0);
	ck_assert_msg(strstr(err, "no seeds are configured") != NULL,
	    "stderr: %s", err);
	free(err);
	ck_assert_int_eq(AEMP(NULL, &err, "shell"), 1);
	ck_assert_msg(test_now() - t0 < 5, "took %.1f s", test_now() - t0);
	ck_assert_msg(strstr(err, "no seeds are configured") != NULL,
	    "stderr: %s", err);
	free(err);
}
END_TEST

/* --- an in-process node as the network ------------------------------------ */

struct got {
	json_t	*msg;		/* the last message */
	char	*text;		/* every first element, each then "|" */
	int	 count;
};

static int
record(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct got *g = ud;
	const char *first = json_string_value(json_array_get(msg, 0));
	char *t;

	(void)n; (void)self;
	json_decref(g->msg);
	g->msg = json_incref(msg);
	if (asprintf(&t, "%s%s|", g->text ? g->text : "", first ? first :
	    "?") < 0)
		abort();
	free(g->text);
	g->text = t;
	g->count++;
	return 0;
}

/* [x, reply]: replies ["pong", x, 1.5] */
static int
ponger(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	const char *reply = json_string_value(json_array_get(msg, 1));

	(void)self; (void)ud;
	/* "sur": a string as Perl holds U+D800 (ED A0 80) */
	if (json_string_value(json_array_get(msg, 0)) != NULL &&
	    strcmp(json_string_value(json_array_get(msg, 0)), "sur") == 0)
		return aemp_snd(n, reply, json_pack("[so]", "pong",
		    json_stringn_nocheck("\xed\xa0\x80", 3)));
	return aemp_snd(n, reply, json_pack("[sOf]", "pong",
	    json_array_get(msg, 0), 1.5));
}

static int
dier(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	(void)self; (void)msg; (void)ud;
	return aemp_die(n, "nope");
}

static void
saw_up(aemp_node *n, const char *nodeid, int up, json_t *reason, void *ud)
{
	(void)n; (void)reason;
	if (up && strncmp(nodeid, "anon/", 5) == 0)
		*(int *)ud = 1;
}

/* Waits for pid while running base; returns its exit status or -1. */
static int
run_wait(struct event_base *base, pid_t pid, double timeout)
{
	double end = test_now() + timeout;
	int status;

	while (test_now() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		tn_run_for(base, 0.05);
	}
	kill(pid, SIGKILL);
	test_wait(pid, 2);
	return -1;
}

/* The test's own nodes keep quiet: the processes' logs are what counts. */
static void
quiet(aemp_node *n, int level, const char *msg, void *ud)
{
	(void)n; (void)level; (void)msg; (void)ud;
}

/* The node the aemp profile's seeds point at, in this test process. */
static aemp_node *
test_network(struct event_base *base)
{
	aemp_node *n = tn_node(base, "tnode", json_pack("{sbss}", "norc", 1,
	    "secret", SECRET));
	char *err = NULL;
	int rc;

	ck_assert_ptr_nonnull(n);
	aemp_set_logger(n, quiet, NULL);
	rc = aemp_in(NULL, NULL, &err, 20, "setsecret", SECRET, "profile",
	    "aemp", "seeds", tn_addr(n), NULL);
	ck_assert_msg(rc == 0, "%s", err);
	free(err);
	return n;
}

START_TEST(snd_cal_mon_against_a_node)
{
	struct event_base *base = event_base_new();
	aemp_node *n = test_network(base);
	struct got got = { NULL, NULL, 0 };
	const char *recv = aemp_port(n, record, &got);
	const char *pong = aemp_port(n, ponger, NULL);
	const char *doomed = aemp_port(n, NULL, NULL);
	const char *die = aemp_port(n, dier, NULL);
	char out[PATH_MAX], *text, missing[64];
	int up = 0;
	pid_t pid;

	logpath(out, sizeof out, "out");
	/* snd: delivered before the confirmation is printed */
	pid = start("aemp", out, NULL, "snd", recv, "test", "123", "[1,2]",
	    NULL);
	ck_assert_int_eq(run_wait(base, pid, 15), 0);
	ck_assert_int_eq(got.count, 1);
	text = json_dumps(got.msg, JSON_COMPACT);
	ck_assert_str_eq(text, "[\"test\",\"123\",[1,2]]");
	free(text);
	text = test_slurp(out);
	ck_assert_str_eq(text, "message sent successfully \n");
	free(text);
	unlink(out);

	/* cal: the reply as JSON without brackets */
	pid = start("aemp", out, NULL, "cal", pong, "ping", NULL);
	ck_assert_int_eq(run_wait(base, pid, 15), 0);
	text = test_slurp(out);
	ck_assert_str_eq(text, "\"pong\",\"ping\",1.5\n");
	free(text);
	unlink(out);

	/* a lone surrogate goes out, and is printed, as JSON::XS does */
	pid = start("aemp", out, NULL, "cal", pong, "sur", NULL);
	ck_assert_int_eq(run_wait(base, pid, 15), 0);
	text = test_slurp(out);
	ck_assert_str_eq(text, "\"pong\",\"\xed\xa0\x80\"\n");
	free(text);
	unlink(out);

	/* cal: the port dies instead of replying */
	pid = start("aemp", out, NULL, "cal", die, "x", NULL);
	ck_assert_int_eq(run_wait(base, pid, 15), 1);
	text = test_slurp(out);
	ck_assert_msg(strstr(text, "die nope") != NULL, "output: %s", text);
	free(text);
	unlink(out);

	/* mon: prints the kill reason once the port is killed */
	aemp_mon_nodes(n, saw_up, &up);
	pid = start("aemp", out, NULL, "mon", doomed, NULL);
	ck_assert(tn_run_until(base, &up, 10));
	tn_run_for(base, 1.0);	/* its mon1 arrives right after */
	ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
	aemp_kil(n, doomed, json_pack("[ss]", "die", "goodbye"));
	ck_assert_int_eq(run_wait(base, pid, 10), 0);
	text = test_slurp(out);
	ck_assert_str_eq(text, "die goodbye \n");
	free(text);
	unlink(out);

	/* mon on a port that does not exist */
	snprintf(missing, sizeof missing, "tnode#nonexistent");
	pid = start("aemp", out, NULL, "mon", missing, NULL);
	ck_assert_int_eq(run_wait(base, pid, 15), 0);
	text = test_slurp(out);
	ck_assert_str_eq(text, "no_such_port cannot monitor nonexistent port "
	    "tnode#nonexistent \n");
	free(text);
	unlink(out);

	/* snd to a port that does not exist is an error */
	pid = start("aemp", out, NULL, "snd", missing, "x", NULL);
	ck_assert_int_eq(run_wait(base, pid, 15), 1);
	text = test_slurp(out);
	ck_assert_msg(strstr(text, "no_such_port") != NULL, "output: %s",
	    text);
	free(text);

	json_decref(got.msg);
	free(got.text);
	aemp_free(n);
	event_base_free(base);
}
END_TEST

/* --- a seed run by aemp run, a second node, and the commands ----------- */

static int
is_float_line(const char *s)
{
	char *end;
	double t = strtod(s, &end);

	return end != s && *end == '\n' && end[1] == '\0' &&
	    strchr(s, '.') != NULL && t > 1e9;
}

/*
 * aemp shell seed with standard input from a regular file holding input
 * (NULL: from /dev/null); it must end by itself, with status 0.
 */
static void
shell_from_file(const char *input, char **out, char **err)
{
	char in[PATH_MAX], log[PATH_MAX], *argv[] = { NULL, "shell", "seed",
	    NULL };
	pid_t pid;
	int fd, status;

	snprintf(in, sizeof in, "%s/shell.in", dir);
	logpath(log, sizeof log, "shell");
	if (input != NULL) {
		FILE *f = fopen(in, "w");
		ck_assert_ptr_nonnull(f);
		fputs(input, f);
		fclose(f);
		fd = open(in, O_RDONLY);
	} else
		fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	argv[0] = test_bin("aemp");
	pid = test_spawn(argv, env, log, fd);
	close(fd);
	free(argv[0]);
	status = test_wait(pid, 20);
	if (status == -1) {
		kill(pid, SIGKILL);
		test_wait(pid, 5);
	}
	*out = test_slurp(log);
	*err = strdup("");
	ck_assert_msg(status != -1, "shell did not end: %s", *out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "shell: status %d: %s", status, *out);
}

START_TEST(seed_network)
{
	char seed[64], log[PATH_MAX], log2[PATH_MAX], *out = NULL,
	    *err = NULL;
	int port = test_free_port(), rc;
	double t0;
	pid_t s, t;

	snprintf(seed, sizeof seed, "127.0.0.1:%d", port);
	logpath(log, sizeof log, "seed");
	logpath(log2, sizeof log2, "second");
	AEMP_OK("gensecret", "profile", "seed", "binds", seed);
	AEMP_OK("seeds", seed, "profile", "second", "binds", "127.0.0.1:*");
	/* aemp run becomes aempd: the same process */
	s = start("aemp", log, NULL, "run", "profile", "seed", NULL);
	ck_assert_msg(test_wait_for_text(log, "node listens on [" "127.0.0.1",
	    20), "seed did not start");
	t = start("aemp", log2, NULL, "run", "second", NULL);
	ck_assert_msg(test_wait_for_text(log, "second is up", 20),
	    "second did not join");

	/* cal NODE time prints a float */
	rc = AEMP(&out, &err, "cal", "seed", "time");
	ck_assert_msg(rc == 0, "cal: %d %s", rc, err);
	ck_assert_msg(is_float_line(out), "not a time: '%s'", out);
	free(out);
	free(err);

	/* up_nodes of the seed includes the second node */
	ck_assert_int_eq(AEMP(&out, NULL, "cal", "seed", "up_nodes"), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"second\""));
	free(out);

	/* trace: one line per node */
	rc = AEMP(&out, &err, "trace", "seed");
	ck_assert_msg(rc == 0, "trace: %d %s", rc, err);
	ck_assert_msg(strncmp(out, "seed ", 5) == 0 &&
	    strstr(out, "\nsecond") != NULL, "trace: %s", out);
	ck_assert_msg(strstr(out, "anon/") == NULL, "trace: %s", out);
	free(out);
	free(err);
	rc = AEMP(&out, &err, "trace", "--dot", "seed");
	ck_assert_msg(rc == 0, "trace --dot: %d %s", rc, err);
	ck_assert_msg(strncmp(out, "graph aemp {\n", 13) == 0 &&
	    strstr(out, "\t\"second\" -- \"seed\";\n") != NULL, "dot: %s",
	    out);
	free(out);
	free(err);

	/* snd to the node port, eval refused by a C node */
	ck_assert_int_eq(AEMP(&out, NULL, "snd", "seed", "devnull"), 0);
	ck_assert_str_eq(out, "message sent successfully \n");
	free(out);
	ck_assert_int_eq(AEMP(NULL, &err, "eval", "seed", "1", "+", "1"), 1);
	ck_assert_msg(strstr(err, "aemp: eval: seed: eval is not supported "
	    "by this node") != NULL, "eval: %s", err);
	free(err);

	/* shell: a C node gets node port requests */
	rc = aemp_in("time\n=\nup_nodes\nsnd seed devnull\nnonsense::x\n",
	    &out, &err, 30, "shell", "seed", NULL);
	ck_assert_msg(rc == 0, "shell: %d %s", rc, err);
	ck_assert_msg(strstr(out, "seed does not evaluate Perl") != NULL &&
	    strstr(out, "* seed\n") != NULL && strstr(out, "\"second\"") &&
	    strstr(out, "message sent successfully") != NULL, "shell: %s",
	    out);
	ck_assert_msg(strstr(err, "aemp: shell: seed: unable to resolve "
	    "function 'nonsense::x'") != NULL, "shell: %s", err);
	free(out);
	free(err);

	/* an unknown request: aempd kills the reply port, cal says so at once */
	t0 = test_now();
	rc = AEMP(NULL, &err, "cal", "seed", "frobnicate");
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(test_now() - t0 < 3.5, "took %.1f s", test_now() - t0);
	ck_assert_msg(strstr(err, "aemp: cal: seed: unable to resolve "
	    "function 'frobnicate'") != NULL, "cal: %s", err);
	free(err);

	/* shell with a regular file and with /dev/null on standard input */
	shell_from_file("time\nup_nodes\n", &out, &err);
	ck_assert_msg(strstr(out, "seed does not evaluate Perl") != NULL &&
	    strstr(out, "\"second\"") != NULL, "shell < file: %s / %s", out,
	    err);
	free(out);
	free(err);
	shell_from_file(NULL, &out, &err);
	ck_assert_msg(strstr(out, "seed does not evaluate Perl") != NULL,
	    "shell < /dev/null: %s / %s", out, err);
	free(out);
	free(err);

	/* restart: the same process executes aempd anew and serves again */
	rc = AEMP(&out, &err, "restart", "seed");
	ck_assert_msg(rc == 0, "restart: %d %s", rc, err);
	ck_assert_str_eq(out, "\n");
	free(out);
	free(err);
	ck_assert(test_wait_for_text(log, "restart requested by anon/", 5));
	ck_assert_msg(wait_count(log, "node listens on", 2, 20),
	    "no second start");
	ck_assert_int_eq(waitpid(s, NULL, WNOHANG), 0);
	ck_assert(wait_count(log, "second is up", 2, 20));
	rc = AEMP(&out, &err, "cal", "seed", "time");
	ck_assert_msg(rc == 0 && is_float_line(out), "after restart: %d %s",
	    rc, err);
	free(out);
	free(err);

	stop_clean(t, "second");
	stop_clean(s, "seed");
	ck_assert(test_wait_for_text(log, "shutting down", 1));
	/*
	 * The shell's and restart's probes are not logged as refused evals
	 * (eval itself, above, is), and clients coming and going are not
	 * a seed's emergency.
	 */
	ck_assert_int_eq(count_text(log, "refusing eval request"), 1);
	ck_assert_int_eq(count_text(log, "<1> no contact"), 0);
}
END_TEST

/* --- the receiver example gets aemp snd's message ----------------------- */

struct member {
	char	*port;
	int	 got;
};

static void
on_group(aemp_node *n, const char *group, json_t *all, json_t *added,
    json_t *removed, void *ud)
{
	struct member *m = ud;

	(void)n; (void)group; (void)added; (void)removed;
	if (json_array_size(all) > 0 && m->port == NULL) {
		m->port = strdup(json_string_value(json_array_get(all, 0)));
		m->got = 1;
	}
}

START_TEST(snd_reaches_the_receiver_example)
{
	struct event_base *base = event_base_new();
	aemp_node *n;
	char log[PATH_MAX], out[PATH_MAX], *text;
	struct member m = { NULL, 0 };
	char *recv_env[] = { "AEMP_PROFILE=client", NULL };
	pid_t r, p;

	n = test_network(base);
	AEMP_OK("profile", "client", "nodeid", "anon/", "binds",
	    "127.0.0.1:*", "seeds", tn_addr(n));
	logpath(log, sizeof log, "receiver");
	logpath(out, sizeof out, "out");
	text = test_example("receiver");
	r = start(text, log, recv_env, NULL);
	free(text);
	aemp_grp_mon(n, "eg_receivers", on_group, &m);
	ck_assert_msg(tn_run_until(base, &m.got, 20), "the receiver did not "
	    "register");
	p = start("aemp", out, NULL, "snd", m.port, "test", "hello", NULL);
	ck_assert_int_eq(run_wait(base, p, 15), 0);
	text = test_slurp(out);
	ck_assert_str_eq(text, "message sent successfully \n");
	free(text);
	ck_assert(test_wait_for_text(log, "Received data: hello", 5));
	test_stop(r);
	free(m.port);
	aemp_free(n);
	event_base_free(base);
}
END_TEST

/* --- spawn reaches module functions, and nothing else -------------------- */

struct death {
	json_t	*reason;
	int	 got;
};

static void
died(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct death *d = ud;

	(void)n; (void)port;
	d->reason = json_incref(reason);
	d->got = 1;
}

START_TEST(spawn_through_modules)
{
	struct event_base *base = event_base_new();
	aemp_node *n;
	char seed[64], log[PATH_MAX], *port, *text, *sargs = NULL;
	struct death d1 = { NULL, 0 }, d2 = { NULL, 0 };
	struct got got = { NULL, NULL, 0 };
	const char *client;
	pid_t s;

	snprintf(seed, sizeof seed, "127.0.0.1:%d", test_free_port());
	logpath(log, sizeof log, "seed");
	AEMP_OK("setsecret", SECRET, "profile", "seed", "binds", seed);
	s = start("aempd", log, NULL, "--profile", "seed", NULL);
	ck_assert(test_wait_for_text(log, "node listens on", 20));
	if (asprintf(&sargs, "[\"%s\"]", seed) < 0)
		abort();
	n = tn_node(base, "spawner", json_pack("{sbssso}", "norc", 1,
	    "secret", SECRET, "seeds", json_loads(sargs, 0, NULL)));
	free(sargs);
	ck_assert_ptr_nonnull(n);
	aemp_set_logger(n, quiet, NULL);

	/*
	 * Unknown: logged, and as with the reference the port is never
	 * created, so our monitor request (sent right after the spawn)
	 * reports no_such_port.
	 */
	port = aemp_spawn(n, "seed", "Nope::nothing", NULL);
	aemp_mon_cb(n, port, died, &d1);
	ck_assert(tn_run_until(base, &d1.got, 15));
	ck_assert(test_wait_for_text(log, "unable to resolve function "
	    "Nope::nothing", 5));
	text = aemp_words(d1.reason);
	ck_assert_str_eq(json_string_value(json_array_get(d1.reason, 0)),
	    "no_such_port");
	ck_assert_str_eq(json_string_value(json_array_get(d1.reason, 2)),
	    port);
	free(text);
	free(port);
	/* a name that is not Pkg::func never maps to a file */
	port = aemp_spawn(n, "seed", "../../etc/passwd", NULL);
	aemp_mon_cb(n, port, died, &d2);
	free(port);
	ck_assert(tn_run_until(base, &d2.got, 15));
	ck_assert(test_wait_for_text(log, "unable to resolve function "
	    "../../etc/passwd", 5));
	ck_assert_str_eq(json_string_value(json_array_get(d2.reason, 0)),
	    "no_such_port");
	/* (the module resolver was not even asked) */
	ck_assert_int_eq(count_text(log, "etc/passwd: no module"), 0);

	/* a module function: loaded on demand, the port serves the chat */
	port = aemp_spawn(n, "seed", "Chat::Server::start", NULL);
	client = aemp_port(n, record, &got);
	aemp_sndf(n, port, "sss", "join", client, "tester");
	aemp_sndf(n, port, "sss", "privmsg", "tester", "hi");
	for (double end = test_now() + 15; got.count < 2 && test_now() < end;)
		tn_run_for(base, 0.05);
	ck_assert_msg(got.text != NULL && strcmp(got.text,
	    "tester (joins)|tester: hi|") == 0, "got %s", got.text);
	free(got.text);
	free(port);
	ck_assert(test_wait_for_text(log, "loaded module Chat::Server", 1));
	ck_assert(test_wait_for_text(log, "unable to resolve function "
	    "Nope::nothing", 1));

	json_decref(d1.reason);
	json_decref(d2.reason);
	json_decref(got.msg);
	aemp_free(n);
	event_base_free(base);
	stop_clean(s, "aempd");
}
END_TEST

/* --- requests for functions a node does not have ------------------------- */

/* A registered function that never replies (as a Perl node's unknown one). */
static int
silent(aemp_node *n, const char *self, json_t *args, void *ud)
{
	(void)n; (void)self; (void)args; (void)ud;
	return 0;
}

/* Replies its first argument to the reply port, its last argument. */
static int
echo_first(aemp_node *n, const char *self, json_t *args, void *ud)
{
	size_t last = json_array_size(args) - 1;

	(void)self; (void)ud;
	return aemp_snd(n, json_string_value(json_array_get(args, last)),
	    json_pack("[O]", json_array_get(args, 0)));
}

START_TEST(unknown_function_kills_the_reply_port)
{
	struct event_base *base = event_base_new();
	aemp_node *n = test_network(base);
	struct death d1 = { NULL, 0 }, d2 = { NULL, 0 }, d3 = { NULL, 0 };
	struct got got = { NULL, NULL, 0 };
	const char *p1, *p2, *p3, *done;
	char out[PATH_MAX], *text;
	double t0;
	pid_t pid;

	logpath(out, sizeof out, "out");
	aemp_register_func(n, "Silent::f", silent, NULL);
	aemp_register_func(n, "Echo::f", echo_first, NULL);

	/*
	 * aemp cal of a function the node does not have: the node kills the
	 * reply port, and cal says why at once (it waited its 5 s before).
	 */
	t0 = test_now();
	pid = start("aemp", out, NULL, "cal", "tnode", "frobnicate", NULL);
	ck_assert_int_eq(run_wait(base, pid, 15), 1);
	ck_assert_msg(test_now() - t0 < 3.5, "took %.1f s", test_now() - t0);
	text = test_slurp(out);
	ck_assert_msg(strstr(text, "aemp: cal: tnode: unable to resolve "
	    "function 'frobnicate'") != NULL, "output: %s", text);
	free(text);
	unlink(out);

	/* a registered function answers as before */
	pid = start("aemp", out, NULL, "cal", "tnode", "Echo::f", "hello",
	    NULL);
	ck_assert_int_eq(run_wait(base, pid, 15), 0);
	text = test_slurp(out);
	ck_assert_str_eq(text, "\"hello\"\n");
	free(text);
	unlink(out);

	/* a node that sends nothing (a Perl node): the timeout says why */
	pid = start("aemp", out, NULL, "cal", "--timeout", "1", "tnode",
	    "Silent::f", NULL);
	ck_assert_int_eq(run_wait(base, pid, 15), 1);
	text = test_slurp(out);
	ck_assert_msg(strstr(text, "no reply from tnode within 1 seconds "
	    "(tnode is up: 'Silent::f' is probably not a request or function "
	    "known there, or it does not reply") != NULL, "output: %s", text);
	free(text);
	unlink(out);

	/*
	 * The node's own side, from a local sender: the last argument is
	 * killed only when it is a port of the sender; another argument,
	 * or a third node's port, is left alone.
	 */
	p1 = aemp_port(n, NULL, NULL);
	p2 = aemp_port(n, NULL, NULL);
	p3 = aemp_port(n, NULL, NULL);
	done = aemp_port(n, record, &got);
	aemp_mon_cb(n, p1, died, &d1);
	aemp_mon_cb(n, p2, died, &d2);
	aemp_mon_cb(n, p3, died, &d3);
	aemp_snd(n, "tnode", json_pack("[ss]", "Nope::f", p1));
	aemp_snd(n, "tnode", json_pack("[sss]", "Nope::f", p2, "x"));
	aemp_snd(n, "tnode", json_pack("[sss]", "Nope::f", p3, "other#p"));
	aemp_snd(n, "tnode", json_pack("[sss]", "snd", done, "done"));
	ck_assert(tn_run_until(base, &got.count, 5));
	tn_run_for(base, 0.2);	/* local kills are delayed */
	ck_assert(d1.got);
	text = json_dumps(d1.reason, JSON_COMPACT);
	ck_assert_str_eq(text, "[\"die\",\"unable to resolve function "
	    "'Nope::f'\"]");
	free(text);
	ck_assert(!d2.got && !d3.got);
	ck_assert(aemp_port_exists(n, p2) && aemp_port_exists(n, p3));

	/*
	 * A name longer than the reason keeps is cut at a character, not
	 * inside one (a reason that is no UTF-8 is no JSON string): here the
	 * 200th byte is the first of a two-byte character.
	 */
	{
		char name[256];
		struct death d4 = { NULL, 0 };
		const char *p4 = aemp_port(n, NULL, NULL);

		memset(name, 'a', sizeof name);
		memcpy(name, "Nope::", 6);
		memcpy(name + 199, "\xc3\xa4", 2);
		name[201] = '\0';
		aemp_mon_cb(n, p4, died, &d4);
		aemp_snd(n, "tnode", json_pack("[ss]", name, p4));
		ck_assert(tn_run_until(base, &d4.got, 5));
		text = json_dumps(d4.reason, JSON_COMPACT);
		name[199] = '\0';
		ck_assert_msg(strstr(text, name) != NULL &&
		    strstr(text, "\xc3") == NULL, "reason %s", text);
		free(text);
		json_decref(d4.reason);

		/* and a cal of such a name from another node */
		memcpy(name + 199, "\xc3\xa4", 2);
		pid = start("aemp", out, NULL, "cal", "tnode", name, NULL);
		ck_assert_int_eq(run_wait(base, pid, 15), 1);
		text = test_slurp(out);
		ck_assert_msg(strstr(text, "unable to resolve function") !=
		    NULL, "output: %s", text);
		free(text);
		unlink(out);
	}
	{
		json_t *known = aemp_known_nodes(n);
		text = json_dumps(known, JSON_COMPACT);
		json_decref(known);
	}
	ck_assert_msg(strstr(text, "\"other\"") == NULL, "known: %s", text);
	free(text);

	json_decref(d1.reason);
	json_decref(got.msg);
	free(got.text);
	aemp_free(n);
	event_base_free(base);
}
END_TEST

/* --- the chat module as a service, with two chat_client processes ------- */

START_TEST(chat_service_serves_clients)
{
	char seed[64], log[PATH_MAX], c1[PATH_MAX], c2[PATH_MAX];
	char *client_env[] = { "AEMP_PROFILE=client", NULL };
	char *argv1[] = { test_example("chat_client"), "nick1", NULL };
	char *argv2[] = { argv1[0], "nick2", NULL };
	char *menv[8];
	int in1[2], in2[2], i = 0;
	pid_t s, p1, p2;

	snprintf(seed, sizeof seed, "127.0.0.1:%d", test_free_port());
	logpath(log, sizeof log, "chat");
	logpath(c1, sizeof c1, "nick1");
	logpath(c2, sizeof c2, "nick2");
	AEMP_OK("setsecret", SECRET, "profile", "chat", "binds", seed,
	    "addservice", "Chat::Server::start");
	AEMP_OK("profile", "client", "nodeid", "anon/", "binds",
	    "127.0.0.1:*", "seeds", seed);
	s = start("aemp", log, NULL, "run", "profile", "chat", NULL);
	ck_assert_msg(test_wait_for_text(log, "chat: server chat#", 20),
	    "the chat service did not start");

	for (; env[i] != NULL; i++)
		menv[i] = env[i];
	menv[i++] = client_env[0];
	menv[i] = NULL;
	ck_assert(pipe(in1) == 0 && pipe(in2) == 0);
	p1 = test_spawn(argv1, menv, c1, in1[0]);
	close(in1[0]);
	ck_assert_msg(test_wait_for_text(c1, "nick1 (joins)", 20),
	    "nick1 did not join");
	/* a line typed before the server is found waits for it */
	ck_assert(write(in2[1], "early bird\n", 11) == 11);
	p2 = test_spawn(argv2, menv, c2, in2[0]);
	close(in2[0]);
	ck_assert_msg(test_wait_for_text(c1, "nick2 (joins)", 20),
	    "nick1 did not see nick2 join");
	ck_assert_msg(test_wait_for_text(c1, "nick2: early bird", 10),
	    "the line typed before the server was found was lost");
	ck_assert(write(in1[1], "hello\n", 6) == 6);
	ck_assert(test_wait_for_text(c1, "nick1: hello", 10));
	ck_assert(test_wait_for_text(c2, "nick1: hello", 10));
	ck_assert(write(in2[1], "hi there\n", 9) == 9);
	ck_assert(test_wait_for_text(c1, "nick2: hi there", 10));
	/*
	 * Standard input from a regular file and from /dev/null (epoll
	 * refuses both): the file's lines, the last one without a line
	 * end too, reach the others; the client stays, listening.
	 */
	{
		char in[PATH_MAX], c3[PATH_MAX], c4[PATH_MAX], *text;
		char *argv3[] = { argv1[0], "nick3", NULL };
		char *argv4[] = { argv1[0], "nick4", NULL };
		FILE *f;
		int fd;
		pid_t p3, p4;

		snprintf(in, sizeof in, "%s/chat.in", dir);
		logpath(c3, sizeof c3, "nick3");
		logpath(c4, sizeof c4, "nick4");
		ck_assert_ptr_nonnull(f = fopen(in, "w"));
		fputs("from a file\nthe last line", f);
		fclose(f);
		ck_assert_int_ge(fd = open(in, O_RDONLY), 0);
		p3 = test_spawn(argv3, menv, c3, fd);
		close(fd);
		ck_assert_msg(test_wait_for_text(c1, "nick3: from a file", 20),
		    "the lines of a file on stdin were not sent");
		ck_assert(test_wait_for_text(c1, "nick3: the last line", 10));
		ck_assert_int_ge(fd = open("/dev/null", O_RDONLY), 0);
		p4 = test_spawn(argv4, menv, c4, fd);
		close(fd);
		ck_assert(test_wait_for_text(c1, "nick4 (joins)", 20));
		ck_assert(test_wait_for_text(c4, "nick4 (joins)", 10));
		ck_assert_int_eq(waitpid(p3, NULL, WNOHANG), 0);
		ck_assert_int_eq(waitpid(p4, NULL, WNOHANG), 0);
		text = test_slurp(c3);
		ck_assert_msg(strstr(text, "failed") == NULL, "nick3: %s",
		    text);
		free(text);
		test_stop(p3);
		test_stop(p4);
	}

	/* a client that goes away: the others are told */
	test_stop(p2);
	ck_assert(test_wait_for_text(c1, "nick2 (quits", 45));
	test_stop(p1);
	close(in1[1]);
	close(in2[1]);
	free(argv1[0]);
	stop_clean(s, "aempd");
}
END_TEST

/* A service listed twice runs twice: two instances, as in the reference. */
START_TEST(duplicate_services_are_instances)
{
	char bind[64], log[PATH_MAX];
	pid_t d;

	snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
	logpath(log, sizeof log, "twice");
	AEMP_OK("setsecret", SECRET, "profile", "twice", "binds", bind,
	    "addservice", "Chat::Server::start", "addservice",
	    "Chat::Server::start");
	d = start("aempd", log, NULL, "twice", NULL);
	ck_assert_msg(wait_count(log, "chat: server twice#", 2, 20),
	    "not two chat servers");
	ck_assert_int_eq(count_text(log, "starting service "
	    "Chat::Server::start."), 2);
	stop_clean(d, "aempd");
}
END_TEST

/* --- readiness --------------------------------------------------------- */

/* A datagram socket at path ("@name": abstract), as systemd would make. */
static int
notify_socket(const char *path)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, path, sizeof sun.sun_path - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	ck_assert_msg(bind(fd, (struct sockaddr *)&sun, len) == 0, "bind: %s",
	    strerror(errno));
	return fd;
}

/* The next datagram within timeout seconds (malloc()ed), or NULL. */
static char *
receive(int fd, double timeout)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char buf[4096];
	ssize_t r;

	if (poll(&p, 1, (int)(timeout * 1000)) <= 0)
		return NULL;
	if ((r = recv(fd, buf, sizeof buf - 1, 0)) < 0)
		return NULL;
	buf[r] = '\0';
	return strdup(buf);
}

static void
readiness(const char *sockname)
{
	char bind[64], log[PATH_MAX], nenv[PATH_MAX + 32], *msg;
	char *extra[] = { nenv, NULL };
	int fd = notify_socket(sockname);
	pid_t d;

	snprintf(nenv, sizeof nenv, "NOTIFY_SOCKET=%s", sockname);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
	logpath(log, sizeof log, "aempd");
	d = start("aempd", log, extra, "nodeid", "ready", "binds", bind,
	    "secret", SECRET, NULL);
	msg = receive(fd, 20);
	ck_assert_msg(msg != NULL, "no readiness datagram");
	ck_assert_msg(strncmp(msg, "READY=1\n", 8) == 0, "got '%s'", msg);
	ck_assert_msg(strstr(msg, "STATUS=node ready listening on ") != NULL,
	    "got '%s'", msg);
	/* the listeners are up by then */
	ck_assert(test_wait_for_text(log, "node listens on", 1));
	free(msg);
	kill(d, SIGTERM);
	msg = receive(fd, 10);
	ck_assert_msg(msg != NULL && strcmp(msg, "STOPPING=1") == 0,
	    "got '%s'", msg ? msg : "(nothing)");
	free(msg);
	ck_assert_int_eq(test_wait(d, 10), 0);
	close(fd);
}

/* WATCHDOG_USEC: aempd pings from its loop, at half the interval. */
START_TEST(watchdog_pings)
{
	char bind[64], log[PATH_MAX], nenv[PATH_MAX + 32], path[PATH_MAX];
	char *extra[] = { nenv, "WATCHDOG_USEC=600000", NULL }, *msg;
	int fd, pings = 0, i;
	double t0;
	pid_t d;

	snprintf(path, sizeof path, "%s/notify", dir);
	fd = notify_socket(path);
	snprintf(nenv, sizeof nenv, "NOTIFY_SOCKET=%s", path);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
	logpath(log, sizeof log, "aempd");
	d = start("aempd", log, extra, "nodeid", "wd", "binds", bind,
	    "secret", SECRET, NULL);
	t0 = test_now();
	for (i = 0; i < 40 && pings < 4; i++) {
		if ((msg = receive(fd, 10)) == NULL)
			break;
		if (strcmp(msg, "WATCHDOG=1") == 0)
			pings++;
		free(msg);
	}
	ck_assert_msg(pings == 4, "%d watchdog pings", pings);
	/* four at 0.3 s after the first: about 0.9 s, not much more */
	ck_assert_msg(test_now() - t0 < 8, "pings took %.1f s", test_now() - t0);
	stop_clean(d, "aempd");
	close(fd);
	unlink(path);
	/* for another process, WATCHDOG_PID says: no pings */
	extra[1] = "WATCHDOG_USEC=200000";
	{
		char *extra2[] = { nenv, extra[1], "WATCHDOG_PID=1", NULL };
		fd = notify_socket(path);
		d = start("aempd", log, extra2, "nodeid", "wd", "binds", bind,
		    "secret", SECRET, NULL);
		msg = receive(fd, 20);	/* READY=1 */
		ck_assert_msg(msg != NULL && strncmp(msg, "READY=1", 7) == 0,
		    "got %s", msg ? msg : "(nothing)");
		free(msg);
		msg = receive(fd, 1.5);
		ck_assert_msg(msg == NULL, "got %s", msg);
		stop_clean(d, "aempd");
		close(fd);
	}
}
END_TEST

/*
 * Under journald (JOURNAL_STREAM names stderr): "<PRIORITY>message" lines,
 * the AnyEvent level mapped to syslog's; anywhere else the usual format.
 */
START_TEST(journald_prefixes)
{
	char bind[64], log[PATH_MAX], jenv[128], *text;
	char *extra[] = { jenv, "AEMP_WARNLEVEL=9", NULL };
	struct stat st;
	FILE *f;
	pid_t d;

	logpath(log, sizeof log, "journal");
	f = fopen(log, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(stat(log, &st), 0);
	snprintf(jenv, sizeof jenv, "JOURNAL_STREAM=%ju:%ju",
	    (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
	d = start("aempd", log, extra, "nodeid", "jd", "binds", bind,
	    "secret", SECRET, "services", "[\"Missing::\"]", NULL);
	ck_assert(test_wait_for_text(log, "module Missing", 20));
	stop_clean(d, "aempd");
	text = test_slurp(log);
	/* level 8 is debug (7), level 2 (not found) err (3), 7 info (6) */
	ck_assert_msg(strncmp(text, "<7>node jd starting up.\n", 24) == 0,
	    "%s", text);
	ck_assert_msg(strstr(text, "\n<3>module Missing: not found") != NULL,
	    "%s", text);
	ck_assert_msg(strstr(text, "\n<6>received signal 15") != NULL, "%s",
	    text);
	ck_assert_msg(strstr(text, " <8> ") == NULL, "%s", text);
	free(text);
	/* another stream (not stderr's inode): the usual lines */
	logpath(log, sizeof log, "journal2");
	d = start("aempd", log, extra, "nodeid", "jd", "binds", bind,
	    "secret", SECRET, NULL);
	ck_assert(test_wait_for_text(log, "node listens on", 20));
	stop_clean(d, "aempd");
	ck_assert_int_eq(count_text(log, " <8> node jd starting up."), 1);
	ck_assert_int_eq(count_text(log, "\n<"), 0);
	/* the mapping itself */
	ck_assert_int_eq(aemp_syslog_priority(0), 5);
	ck_assert_int_eq(aemp_syslog_priority(1), 2);
	ck_assert_int_eq(aemp_syslog_priority(4), 3);
	ck_assert_int_eq(aemp_syslog_priority(5), 4);
	ck_assert_int_eq(aemp_syslog_priority(6), 5);
	ck_assert_int_eq(aemp_syslog_priority(9), 7);
}
END_TEST

START_TEST(readiness_to_a_path)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/notify", dir);
	readiness(path);
}
END_TEST

START_TEST(readiness_to_an_abstract_socket)
{
	char name[64];

	snprintf(name, sizeof name, "@aemp-check-net-%d", (int)getpid());
	readiness(name);
}
END_TEST

/* --- SIGHUP ------------------------------------------------------------- */

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(sighup_reloads)
{
	char bind[64], log[PATH_MAX], level[PATH_MAX];
	pid_t d;

	snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
	snprintf(level, sizeof level, "%s/level", dir);
	logpath(log, sizeof log, "aempd");
	write_file(level, "7\n");
	AEMP_OK("setsecret", SECRET, "profile", "r", "binds", bind);
	d = start("aempd", log, NULL, "--warnlevel-file", level, "r", NULL);
	ck_assert(test_wait_for_text(log, "starting global service", 20));
	AEMP_OK("profile", "r", "addservice", "Chat::Server::start",
	    "nodeid", "renamed");
	write_file(level, "8\n");
	kill(d, SIGHUP);
	ck_assert(test_wait_for_text(log, "SIGHUP: reloading.", 10));
	ck_assert(test_wait_for_text(log, "log level is now 8", 5));
	ck_assert(test_wait_for_text(log, "configuration key nodeid changed: "
	    "it takes effect when aempd restarts", 5));
	ck_assert(test_wait_for_text(log, "loaded module Chat::Server", 5));
	ck_assert(test_wait_for_text(log, "chat: server r#", 5));
	/* a bad level file keeps the level; services do not start twice */
	write_file(level, "loud\n");
	kill(d, SIGHUP);
	ck_assert(test_wait_for_text(log, "not a number from 0 to 9, the log "
	    "level stays 8", 10));
	ck_assert_int_eq(count_text(log, "chat: server r#"), 1);
	AEMP_OK("profile", "r", "delservices");
	kill(d, SIGHUP);
	ck_assert(test_wait_for_text(log, "service Chat::Server::start is no "
	    "longer configured", 10));
	stop_clean(d, "aempd");
}
END_TEST

/* --- module errors ------------------------------------------------------- */

START_TEST(module_errors)
{
	char bind[64], log[PATH_MAX], mods[PATH_MAX], bad[PATH_MAX + 16];
	char menv[PATH_MAX + 32], *err = NULL;
	char *extra[] = { menv, NULL };
	char *argv[] = { test_bin("aempd"), "nodeid", "m", "secret", SECRET,
	    NULL };
	char *relenv[] = { rc_env, "AEMP_MODULE_PATH=lib/aemp", NULL };
	pid_t d;

	/*
	 * A relative module path is taken from where aempd starts: the
	 * build's lib/aemp reached from this directory through "..".
	 */
	{
		char cwd[PATH_MAX], build[PATH_MAX], rel[3 * PATH_MAX];
		char relmenv[3 * PATH_MAX + 32];
		const char *p;
		size_t len = 0;
		const char *b = getenv("AEMP_BUILD");
		ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
		ck_assert_ptr_nonnull(realpath(b != NULL ? b : "build", build));
		for (p = cwd; *p != '\0'; p++)
			if (*p == '/' && p[1] != '\0')
				len += (size_t)snprintf(rel + len, sizeof rel - len,
				    "../");
		snprintf(rel + len, sizeof rel - len, "%s/lib/aemp", build + 1);
		snprintf(relmenv, sizeof relmenv, "AEMP_MODULE_PATH=%s", rel);
		relenv[1] = relmenv;
		snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
		logpath(log, sizeof log, "relative");
		{
			char *rargv[] = { argv[0], "nodeid", "r", "secret",
			    SECRET, "binds", bind, "services",
			    "[\"Chat::Server::\"]", NULL };
			d = test_spawn(rargv, relenv, log, -1);
		}
		ck_assert_msg(test_wait_for_text(log, "loaded module "
		    "Chat::Server from /", 20), "relative path: %s",
		    test_slurp(log));
		stop_clean(d, "aempd");
	}
	(void)err;
	free(argv[0]);

	snprintf(mods, sizeof mods, "%s/mods", dir);
	snprintf(bad, sizeof bad, "%s/Bad.so", mods);
	ck_assert_int_eq(mkdir(mods, 0700), 0);
	write_file(bad, "this is not a shared object\n");
	snprintf(menv, sizeof menv, "AEMP_MODULE_PATH=%s", mods);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", test_free_port());
	logpath(log, sizeof log, "aempd");
	/* a bad name is refused when typed, as aempd would ignore it */
	ck_assert_int_eq(AEMP(NULL, &err, "profile", "m", "addservice",
	    "notaname"), 1);
	ck_assert_msg(strstr(err, "\"notaname\" is not a service") != NULL,
	    "%s", err);
	free(err);
	AEMP_OK("setsecret", SECRET, "profile", "m", "binds", bind,
	    "services", "[\"Bad::\", \"Missing::\", \"Bad::f\", "
	    "\"Chat::Server::start\"]");
	d = start("aempd", log, extra, "m", NULL);
	ck_assert(test_wait_for_text(log, "starting service Chat::Server::"
	    "start", 20));
	ck_assert(test_wait_for_text(log, "module Bad: ", 5));
	ck_assert(test_wait_for_text(log, "module Missing: not found in ", 5));
	ck_assert(test_wait_for_text(log, "unable to resolve function Bad::f",
	    5));
	/* not in this module path */
	ck_assert(test_wait_for_text(log, "unable to resolve function "
	    "Chat::Server::start", 5));
	/* the node runs on regardless */
	stop_clean(d, "aempd");
}
END_TEST

/* --- the unit file ----------------------------------------------------- */

START_TEST(unit_file_verifies)
{
	char *unit = source_file("systemd/aempd@.service.in"), *text;
	char *out = NULL;
	char *err = NULL;
	char build[PATH_MAX], path[PATH_MAX], *p;
	const char *b = getenv("AEMP_BUILD");
	char *argv[] = { "systemd-analyze", "verify", "--man=no", path, NULL };
	FILE *f;
	int rc;

	text = test_slurp(unit);
	ck_assert_msg(text != NULL, "%s not found", unit);
	ck_assert_ptr_nonnull(strstr(text, "Type=notify"));
	ck_assert_ptr_nonnull(strstr(text, "Environment=AEMP_RC=/etc/aemp/"
	    "aemp.db"));
	ck_assert_ptr_nonnull(strstr(text, "Restart=on-failure"));
	ck_assert_ptr_nonnull(strstr(text,
	    "ExecStart=@PREFIX@/bin/aempd --profile %i"));
	/* its own user, a watchdog, and the sandbox of aempd(8) */
	ck_assert_ptr_nonnull(strstr(text, "\nUser=aemp\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nWatchdogSec="));
	ck_assert_ptr_nonnull(strstr(text, "\nLimitNOFILE="));
	ck_assert_ptr_nonnull(strstr(text, "\nProtectProc=invisible\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nSystemCallFilter=@system-service\n"
	    "SystemCallFilter=~@privileged @resources\n"));
	if (access("/usr/bin/systemd-analyze", X_OK) != 0 &&
	    access("/bin/systemd-analyze", X_OK) != 0) {
		printf("check_net: systemd-analyze is not installed: skipping "
		    "'systemd-analyze verify' of %s\n", unit);
		free(text);
		free(unit);
		return;
	}
	argv[0] = access("/usr/bin/systemd-analyze", X_OK) == 0 ?
	    "/usr/bin/systemd-analyze" : "/bin/systemd-analyze";
	/* as installed, with the prefix of this build (ExecStart must exist) */
	if (realpath(b != NULL ? b : "build", build) == NULL)
		ck_abort_msg("no build directory");
	snprintf(path, sizeof path, "%s/aempd@seed.service", dir);
	f = fopen(path, "w");
	for (p = text; *p != '\0'; p++) {
		if (strncmp(p, "@PREFIX@", 8) == 0) {
			fputs(build, f);
			p += 7;
		} else
			fputc(*p, f);
	}
	fclose(f);
	rc = test_run(argv, NULL, NULL, &out, &err, 30);
	ck_assert_msg(rc == 0, "systemd-analyze verify: %d: %s%s", rc, out,
	    err);
	/* warnings (unknown settings, ...) leave the status 0: none allowed */
	ck_assert_msg(strstr(out, "aempd@") == NULL &&
	    strstr(err, "aempd@") == NULL, "systemd-analyze verify: %s%s",
	    out, err);
	free(out);
	free(err);
	/* and its exposure stays "OK" (1.3 when written) or better */
	{
		char *sec[] = { argv[0], "security", "--offline=yes", path,
		    NULL };
		const char *lvl;
		double score;
		rc = test_run(sec, NULL, NULL, &out, &err, 60);
		lvl = strstr(out, "Overall exposure level for ");
		ck_assert_msg(rc == 0 && lvl != NULL, "security: %d %s%s", rc,
		    out, err);
		lvl = strstr(lvl, ": ");
		ck_assert_ptr_nonnull(lvl);
		score = strtod(lvl + 2, NULL);
		ck_assert_msg(score <= 4.0 && strstr(lvl, " OK") != NULL,
		    "exposure: %.40s", lvl);
		free(out);
		free(err);
	}
	free(text);
	free(unit);
}
END_TEST

static Suite *
net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("aemp and aempd");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, unit_file_verifies);
	tcase_add_test(tc, no_answer_times_out);
	tcase_add_test(tc, readiness_to_a_path);
	tcase_add_test(tc, watchdog_pings);
	tcase_add_test(tc, journald_prefixes);
	tcase_add_test(tc, readiness_to_an_abstract_socket);
	tcase_add_test(tc, module_errors);
	tcase_add_test(tc, sighup_reloads);
	tcase_add_test(tc, snd_cal_mon_against_a_node);
	tcase_add_test(tc, spawn_through_modules);
	tcase_add_test(tc, unknown_function_kills_the_reply_port);
	tcase_add_test(tc, seed_network);
	tcase_add_test(tc, snd_reaches_the_receiver_example);
	tcase_add_test(tc, chat_service_serves_clients);
	tcase_add_test(tc, duplicate_services_are_instances);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(net_suite)

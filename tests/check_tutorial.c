/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_tutorial.c: the tutorial's programs as processes on 127.0.0.1:
 * an aempd seed with the receiver and sender examples, the global
 * messages on the wire compared with the reference's transcripts, five
 * nodes forming a full mesh and sharing a group, and the chat server and
 * clients surviving a server restart.
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "nodeutil.h"
#include "store.h"

#define SECRET		"tutorial secret"
#define MAXCHILD	16

/*
 * Children are killed by PID when a test ends. When one fails half-way,
 * Check (fork mode) kills the test's process group, children included;
 * without fork mode this runs at exit.
 */
static pid_t children[MAXCHILD];

static void
kill_children(void)
{
	for (int i = 0; i < MAXCHILD; i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

static pid_t
track(pid_t pid)
{
	static int registered;

	if (!registered++)
		atexit(kill_children);
	for (int i = 0; i < MAXCHILD; i++)
		if (children[i] == 0) {
			children[i] = pid;
			break;
		}
	return pid;
}

static void
stop(pid_t pid)
{
	test_stop(pid);
	for (int i = 0; i < MAXCHILD; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static void
hard_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < MAXCHILD; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static void
sleep_for(double seconds)
{
	struct timespec ts;

	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* --- the profile store ---------------------------------------------------- */

struct net {
	char	*dir;
	char	 rc[512];
	char	 rcenv[600];
	int	 seedport;
	char	 seed[64];
};

static void
store_set(aemp_store *st, const char *profile, const char *key, json_t *v)
{
	char *err = NULL;

	if (ae_store_set(st, profile, key, v, &err) < 0)
		ck_abort_msg("store: %s", err);
	json_decref(v);
}

/*
 * A store like the tutorial's set-up: every node seeds from the seed
 * profile's address, binds to loopback only and gets a random node ID;
 * profiles are given as NAME, "nodeid", ID, "port", PORT (0: any).
 */
static void
net_init(struct net *net, const char *const *profiles)
{
	aemp_store *st;
	char *err = NULL, bind[64];

	memset(net, 0, sizeof *net);
	net->dir = test_tmpdir();
	snprintf(net->rc, sizeof net->rc, "%s/aemp.db", net->dir);
	snprintf(net->rcenv, sizeof net->rcenv, "AEMP_RC=%s", net->rc);
	net->seedport = test_free_port();
	snprintf(net->seed, sizeof net->seed, "127.0.0.1:%d", net->seedport);
	st = ae_store_open(net->rc, AEMP_STORE_WRITE, &err);
	ck_assert_msg(st != NULL, "store: %s", err);
	store_set(st, NULL, "secret", json_string(SECRET));
	store_set(st, NULL, "seeds", json_pack("[s]", net->seed));
	store_set(st, NULL, "binds", json_pack("[s]", "127.0.0.1:*"));
	store_set(st, NULL, "nodeid", json_string("anon/"));
	store_set(st, NULL, "monitor_timeout", json_integer(3));
	store_set(st, "seed", "nodeid", json_string("seed"));
	store_set(st, "seed", "binds", json_pack("[s]", net->seed));
	for (; profiles != NULL && *profiles != NULL; profiles += 3) {
		int port = atoi(profiles[2]);
		store_set(st, profiles[0], "nodeid", json_string(profiles[1]));
		if (port == -1)
			snprintf(bind, sizeof bind, "%s", net->seed);
		else
			snprintf(bind, sizeof bind, "127.0.0.1:%d",
			    port ? port : test_free_port());
		store_set(st, profiles[0], "binds", json_pack("[s]", bind));
	}
	ck_assert_msg(ae_store_commit(st, &err) == 0, "store: %s", err);
	ae_store_close(st);
	/* nothing of the caller's environment may leak into the nodes */
	unsetenv("AEMP_PROFILE");
	unsetenv("AEMP_TRACE");
	unsetenv("PERL_ANYEVENT_MP_TRACE");
	setenv("AEMP_WARNLEVEL", "9", 1);
}

static void
net_free(struct net *net)
{
	kill_children();
	/* AEMP_TEST_KEEP=1 keeps the logs for a look */
	if (getenv("AEMP_TEST_KEEP") != NULL)
		fprintf(stderr, "kept %s\n", net->dir);
	else
		test_rmtree(net->dir);
	free(net->dir);
}

static char *
path(struct net *net, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", net->dir, name) < 0)
		abort();
	return p;
}

/* aempd --profile NAME, output to DIR/NAME.log. */
static pid_t
start_aempd(struct net *net, const char *profile, int trace)
{
	char *bin = test_bin("aempd"), *log = path(net, profile), *file;
	char *argv[] = { bin, "--profile", (char *)profile, NULL };
	char *env[] = { net->rcenv, trace ? "AEMP_TRACE=1" : "AEMP_TRACE=0",
	    NULL };
	pid_t pid;

	if (asprintf(&file, "%s.log", log) < 0)
		abort();
	pid = track(test_spawn(argv, env, file, -1));
	ck_assert_msg(test_wait_for_text(file, "starting global service", 10),
	    "%s: aempd did not start", file);
	free(bin);
	free(log);
	free(file);
	return pid;
}

/* An example with AEMP_PROFILE=profile, output to DIR/out. */
static pid_t
start_example(struct net *net, const char *name, const char *arg,
    const char *profile, const char *out, int trace, int stdin_fd)
{
	char *bin = test_example(name), *file = path(net, out), penv[128];
	char *argv[] = { bin, (char *)arg, NULL };
	char *env[] = { net->rcenv, penv, trace ? "AEMP_TRACE=1" :
	    "AEMP_TRACE=0", NULL };
	pid_t pid;

	snprintf(penv, sizeof penv, "AEMP_PROFILE=%s", profile);
	pid = track(test_spawn(argv, env, file, stdin_fd));
	free(bin);
	free(file);
	return pid;
}

static int
wait_text(struct net *net, const char *file, const char *needle,
    double seconds)
{
	char *p = path(net, file);
	int found = test_wait_for_text(p, needle, seconds);

	if (!found)	/* the directory stays for a look */
		fprintf(stderr, "%s: no \"%s\"\n", p, needle);
	free(p);
	return found;
}

static int
count_text(const char *text, const char *needle)
{
	int count = 0;

	while (text != NULL && (text = strstr(text, needle)) != NULL) {
		count++;
		text += strlen(needle);
	}
	return count;
}

static int
wait_count(struct net *net, const char *file, const char *needle, int count,
    double seconds)
{
	char *p = path(net, file), *text = NULL;
	double end = test_now() + seconds;
	int have;

	for (;;) {
		free(text);
		text = test_slurp(p);
		have = count_text(text, needle);
		if (have >= count || test_now() > end)
			break;
		sleep_for(0.05);
	}
	if (have < count)
		fprintf(stderr, "%s: \"%s\" %d times, not %d\n", p, needle,
		    have, count);
	free(text);
	free(p);
	return have >= count;
}

/* --- receiver and sender -------------------------------------------------- */

START_TEST(receiver_gets_data_from_sender)
{
	struct net net;
	double t0;

	net_init(&net, NULL);
	start_aempd(&net, "seed", 0);
	t0 = test_now();
	/* a profile that does not exist: only the global config applies */
	start_example(&net, "receiver", NULL, "tutorial", "receiver.out", 0,
	    -1);
	start_example(&net, "sender", NULL, "tutorial", "sender.out", 0, -1);
	ck_assert(wait_text(&net, "receiver.out", "Received data: ", 10));
	ck_assert(test_now() - t0 < 10);
	net_free(&net);
}
END_TEST

/*
 * The global messages one node sent to peer, in order ("SND peer <- X"
 * trace lines whose message is one of the global service's), as one
 * string with a line per message.
 */
static char *
global_sends(const char *text, const char *peer)
{
	static const char *const tags[] = { "addr", "nodes", "set", "setup",
	    "seedme0", "seedme1", "reg0", "reg1", "find", NULL };
	char prefix[128], *out = calloc(1, 1);
	size_t len = 0;

	snprintf(prefix, sizeof prefix, "SND %s <- [\"", peer);
	while (text != NULL && *text != '\0') {
		const char *eol = strchr(text, '\n');
		size_t llen = eol ? (size_t)(eol - text) : strlen(text);
		size_t plen = strlen(prefix);
		if (llen > plen && strncmp(text, prefix, plen) == 0) {
			const char *tag = text + plen;
			for (int i = 0; tags[i] != NULL; i++) {
				size_t tlen = strlen(tags[i]);
				if (strncmp(tag, tags[i], tlen) == 0 &&
				    tag[tlen] == '"') {
					size_t mlen = llen - plen + 2;
					out = realloc(out, len + mlen + 2);
					memcpy(out + len, text + plen - 2,
					    mlen);
					len += mlen;
					out[len++] = '\n';
					out[len] = '\0';
					break;
				}
			}
		}
		text = eol ? eol + 1 : NULL;
	}
	return out;
}

static char *
log_of_maybe(struct net *net, const char *name)
{
	char *p = path(net, name), *text = test_slurp(p);

	free(p);
	return text;
}

static char *
log_of(struct net *net, const char *name)
{
	char *p = path(net, name), *text = test_slurp(p);

	free(p);
	ck_assert_msg(text != NULL, "no %s", name);
	return text;
}

/* Whether sends begins with the lines of expect (each a prefix match). */
static void
expect_sends(const char *who, const char *sends, const char *const *expect)
{
	const char *line = sends;

	for (int i = 0; expect[i] != NULL; i++) {
		ck_assert_msg(line != NULL && strncmp(line, expect[i],
		    strlen(expect[i])) == 0,
		    "%s: global message %d is not %s; sent:\n%s", who, i + 1,
		    expect[i], sends);
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
}

/*
 * Three nodes as in transcripts/three-nodes.*.log: refseed, then
 * receiver, then sender. What each sends to each peer when they meet is
 * deterministic and must be what the Perl nodes sent.
 */
START_TEST(wire_matches_transcripts)
{
	static const char *const profiles[] = {
		"refseed", "refseed", "-1",
		"receiver", "receiver", "0",
		"sender", "sender", "0",
		NULL
	};
	struct net net;
	pid_t seed, recv, send;
	char *slog, *rlog, *xlog, *sends, s_addr[128], r_addr[128];
	char x_addr[128], r_nodes[128];
	const char *rbind;
	json_t *cfg;
	char *err = NULL;

	net_init(&net, profiles);
	snprintf(s_addr, sizeof s_addr, "[\"addr\",[\"%s\"]]", net.seed);
	setenv("AEMP_RC", net.rc, 1);
	cfg = ae_store_effective("receiver", NULL, &err);
	ck_assert_ptr_nonnull(cfg);
	rbind = json_string_value(json_array_get(json_object_get(cfg, "binds"),
	    0));
	snprintf(r_addr, sizeof r_addr, "[\"addr\",[\"%s\"]]", rbind);
	snprintf(r_nodes, sizeof r_nodes, "[\"nodes\",{\"receiver\":[\"%s\"]}]",
	    rbind);
	json_decref(cfg);
	cfg = ae_store_effective("sender", NULL, &err);
	ck_assert_ptr_nonnull(cfg);
	snprintf(x_addr, sizeof x_addr, "[\"addr\",[\"%s\"]]",
	    json_string_value(json_array_get(json_object_get(cfg, "binds"),
	    0)));
	json_decref(cfg);

	seed = start_aempd(&net, "refseed", 1);
	recv = start_example(&net, "receiver", NULL, "receiver",
	    "receiver.log", 1, -1);
	ck_assert(wait_text(&net, "receiver.log",
	    "<7> selected new master: refseed.", 5));
	ck_assert(wait_text(&net, "receiver.log",
	    "<9> refseed told us it knows about {\"receiver\"", 5));
	send = start_example(&net, "sender", NULL, "sender", "sender.log", 1,
	    -1);
	ck_assert(wait_text(&net, "receiver.log", "Received data: ", 10));
	stop(send);
	ck_assert(wait_text(&net, "receiver.log", "sender is down", 5));
	ck_assert(wait_text(&net, "refseed.log",
	    "<9> receiver asked us to find sender.", 5));
	stop(recv);
	stop(seed);
	slog = log_of(&net, "refseed.log");
	rlog = log_of(&net, "receiver.log");
	xlog = log_of(&net, "sender.log");

	/* receiver <-> refseed: the receiver has a registration to tell */
	sends = global_sends(rlog, "refseed");
	expect_sends("receiver to refseed", sends, (const char *const[]){
	    r_addr, "[\"set\",{\"eg_receivers\":[\"receiver#", "[\"setup\"]",
	    "[\"seedme1\"]", NULL });
	ck_assert(strstr(sends, "[\"find\",\"sender\"]\n") != NULL);
	free(sends);
	sends = global_sends(slog, "receiver");
	expect_sends("refseed to receiver", sends, (const char *const[]){
	    s_addr, "[\"setup\"]", "[\"seedme1\"]", r_nodes, NULL });
	ck_assert(strstr(sends, "[\"find\",\"sender\"]\n") != NULL);
	free(sends);

	/* sender <-> refseed: refseed already knows the receiver */
	sends = global_sends(xlog, "refseed");
	expect_sends("sender to refseed", sends, (const char *const[]){
	    x_addr, "[\"setup\"]", "[\"seedme1\"]", NULL });
	free(sends);
	sends = global_sends(slog, "sender");
	expect_sends("refseed to sender", sends, (const char *const[]){
	    s_addr, "[\"nodes\",{\"receiver\":[", "[\"setup\"]",
	    "[\"nodes\",{\"receiver\":[", NULL });
	free(sends);

	/* sender <-> receiver, learned through refseed */
	sends = global_sends(xlog, "receiver");
	expect_sends("sender to receiver", sends, (const char *const[]){
	    x_addr, "[\"nodes\",{\"refseed\":[", "[\"setup\"]", NULL });
	free(sends);
	sends = global_sends(rlog, "sender");
	expect_sends("receiver to sender", sends, (const char *const[]){
	    r_addr, "[\"nodes\",{\"refseed\":[", "[\"set\",{\"eg_receivers\":[",
	    "[\"setup\"]", NULL });
	free(sends);

	/* the spawn that starts it all, and the log lines operators know */
	ck_assert(strstr(rlog, "RCV refseed -> [\"\",\"AnyEvent::MP::_spawn\","
	    ) != NULL);
	ck_assert(strstr(rlog, "\"AnyEvent::MP::Global::connect\",0,"
	    "\"refseed\"]") != NULL);
	ck_assert(strstr(rlog, "<9> refseed told us its addresses (") != NULL);
	ck_assert(strstr(slog, "<9> receiver asked us to seed it.") != NULL);
	ck_assert(strstr(slog, "<7> selected new master: receiver.") != NULL);
	ck_assert(strstr(xlog, "<9> connecting to receiver with [127.0.0.1:")
	    != NULL);
	free(slog);
	free(rlog);
	free(xlog);
	net_free(&net);
}
END_TEST

/* --- five nodes ----------------------------------------------------------- */

struct member {
	aemp_node	*n;
	const char	*state;
	struct event	*ev;
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The strings of a (new array of node IDs), sorted, comma-separated. */
static void
put_sorted(FILE *f, json_t *a, int nodes_of)
{
	size_t n = json_array_size(a), i;
	char **v = calloc(n + 1, sizeof *v);

	for (i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		v[i] = nodes_of ? aemp_node_of(s) : strdup(s);
	}
	qsort(v, n, sizeof *v, cmp_str);
	for (i = 0; i < n; i++) {
		fprintf(f, "%s%s", i ? "," : "", v[i]);
		free(v[i]);
	}
	free(v);
}

/* Writes "up:NODES\ngrp:NODES\n" (atomically) for the test to read. */
static void
member_report(evutil_socket_t fd, short what, void *arg)
{
	struct member *m = arg;
	char tmp[600];
	json_t *up = aemp_up_nodes(m->n), *grp = aemp_grp_get(m->n, "five");
	FILE *f;

	(void)fd; (void)what;
	snprintf(tmp, sizeof tmp, "%s.tmp", m->state);
	if ((f = fopen(tmp, "w")) != NULL) {
		fputs("up:", f);
		put_sorted(f, up, 0);
		fputs("\ngrp:", f);
		put_sorted(f, grp, 1);
		fputs("\n", f);
		fclose(f);
		rename(tmp, m->state);
	}
	json_decref(up);
	json_decref(grp);
}

/* Node "nI" in a child process: one port in group "five", until killed. */
static pid_t
start_member(struct net *net, int i, int port)
{
	char id[16], bind[64], *state, *logfile;
	pid_t pid;

	snprintf(id, sizeof id, "n%d", i);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", port);
	if (asprintf(&state, "%s/%s.state", net->dir, id) < 0 ||
	    asprintf(&logfile, "%s/%s.log", net->dir, id) < 0)
		abort();
	unlink(state);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct event_base *base;
		struct member m;
		struct timeval tv = { 0, 100000 };
		FILE *f;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		f = freopen(logfile, "a", stderr);
		(void)f;
		tn_isolate();
		base = event_base_new();
		m.state = state;
		m.n = tn_node(base, id, json_pack("{s[s]s[s]si}", "seeds",
		    net->seed, "binds", bind, "monitor_timeout", 3));
		if (m.n == NULL)
			_exit(1);
		aemp_grp_reg(m.n, "five", aemp_port(m.n, NULL, NULL));
		m.ev = event_new(base, -1, EV_PERSIST, member_report, &m);
		event_add(m.ev, &tv);
		event_base_dispatch(base);
		_exit(0);
	}
	free(state);
	free(logfile);
	return track(pid);
}

/* The state node i should report when the nodes in alive[] are up. */
static void
expected_state(char *buf, size_t len, int i, const int *alive, int count)
{
	size_t at = 0;
	int first = 1;

	at += snprintf(buf + at, len - at, "up:");
	for (int j = 0; j < count; j++)
		if (alive[j] && j != i) {
			at += snprintf(buf + at, len - at, "%sn%d",
			    first ? "" : ",", j);
			first = 0;
		}
	at += snprintf(buf + at, len - at, "\ngrp:");
	first = 1;
	for (int j = 0; j < count; j++)
		if (alive[j]) {
			at += snprintf(buf + at, len - at, "%sn%d",
			    first ? "" : ",", j);
			first = 0;
		}
	snprintf(buf + at, len - at, "\n");
}

/* Waits until every alive node reports what expected_state says. */
static int
wait_states(struct net *net, const int *alive, int count, double seconds,
    char **last)
{
	double end = test_now() + seconds;

	for (;;) {
		int ok = 1;
		for (int i = 0; i < count && ok; i++) {
			char want[256], file[64], *have;
			if (!alive[i])
				continue;
			expected_state(want, sizeof want, i, alive, count);
			snprintf(file, sizeof file, "n%d.state", i);
			have = log_of_maybe(net, file);
			ok = have != NULL && strcmp(have, want) == 0;
			if (!ok) {
				free(*last);
				if (asprintf(last, "n%d has %s, wants %s", i,
				    have ? have : "nothing", want) < 0)
					*last = NULL;
			}
			free(have);
		}
		if (ok)
			return 1;
		if (test_now() > end)
			return 0;
		sleep_for(0.05);
	}
}

START_TEST(five_nodes_mesh_and_group)
{
	struct net net;
	int ports[5], alive[5] = { 1, 1, 1, 1, 1 };
	pid_t pids[5];
	char *last = NULL;
	double t0;

	net_init(&net, NULL);
	for (int i = 0; i < 5; i++)
		ports[i] = i == 0 ? net.seedport : test_free_port();
	t0 = test_now();
	for (int i = 0; i < 5; i++)
		pids[i] = start_member(&net, i, ports[i]);
	/* full mesh, and the group complete on every node */
	ck_assert_msg(wait_states(&net, alive, 5, 10, &last), "%s", last);
	ck_assert(test_now() - t0 < 10);

	/* SIGKILL one: its member goes everywhere within monitor_timeout */
	hard_kill(pids[3]);
	alive[3] = 0;
	t0 = test_now();
	ck_assert_msg(wait_states(&net, alive, 5, 3, &last), "%s", last);

	/* restarting it restores everything */
	pids[3] = start_member(&net, 3, ports[3]);
	alive[3] = 1;
	ck_assert_msg(wait_states(&net, alive, 5, 10, &last), "%s", last);
	for (int i = 0; i < 5; i++)
		stop(pids[i]);
	free(last);
	net_free(&net);
}
END_TEST

/* --- chat ----------------------------------------------------------------- */

static void
say(int fd, const char *line)
{
	ck_assert_int_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
}

START_TEST(chat_survives_server_restart)
{
	struct net net;
	int alice_in[2], bob_in[2];
	pid_t server, bob;

	net_init(&net, NULL);
	ck_assert_int_eq(pipe(alice_in), 0);
	ck_assert_int_eq(pipe(bob_in), 0);
	start_aempd(&net, "seed", 0);
	server = start_example(&net, "chat_server", NULL, "chat", "server.out",
	    0, -1);
	ck_assert(wait_text(&net, "server.out", "server ready.", 5));
	start_example(&net, "chat_client", "alice", "chat", "alice.out", 0,
	    alice_in[0]);
	bob = start_example(&net, "chat_client", "bob", "chat", "bob.out", 0,
	    bob_in[0]);
	close(alice_in[0]);
	close(bob_in[0]);
	ck_assert(wait_text(&net, "server.out", "relaying: alice (joins)", 10));
	ck_assert(wait_text(&net, "server.out", "relaying: bob (joins)", 10));
	say(alice_in[1], "hello from alice\n");
	ck_assert(wait_text(&net, "bob.out", "alice: hello from alice", 5));
	ck_assert(wait_text(&net, "server.out",
	    "relaying: alice: hello from alice", 5));

	/* the server goes away: both clients notice, and find the new one */
	stop(server);
	ck_assert(wait_text(&net, "alice.out", "disconnected transport_error",
	    5));
	ck_assert(wait_text(&net, "bob.out", "disconnected transport_error",
	    5));
	server = start_example(&net, "chat_server", NULL, "chat",
	    "server2.out", 0, -1);
	ck_assert(wait_count(&net, "alice.out", "connecting...", 2, 10));
	ck_assert(wait_count(&net, "bob.out", "connecting...", 2, 10));
	ck_assert(wait_text(&net, "server2.out", "relaying: alice (joins)", 5));
	ck_assert(wait_text(&net, "server2.out", "relaying: bob (joins)", 5));
	say(bob_in[1], "hello again\n");
	ck_assert(wait_text(&net, "alice.out", "bob: hello again", 5));

	/* a client that quits is announced with its monitor's reason */
	stop(bob);
	ck_assert(wait_text(&net, "alice.out", "bob (quits, transport_error ",
	    5));
	close(alice_in[1]);
	close(bob_in[1]);
	stop(server);
	net_free(&net);
}
END_TEST

static Suite *
tutorial_suite(void)
{
	Suite *s = suite_create("tutorial");
	TCase *tc = tcase_create("processes");

	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, receiver_gets_data_from_sender);
	tcase_add_test(tc, wire_matches_transcripts);
	tcase_add_test(tc, five_nodes_mesh_and_group);
	tcase_add_test(tc, chat_survives_server_restart);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(tutorial_suite)

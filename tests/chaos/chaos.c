/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * chaos.c: the chaos test driver: a seed aempd and chaos_node processes on
 * 127.0.0.1, SIGKILLed, restarted and SIGSTOPped at random, then the AEMP
 * guarantee, monitor latency, false positives (monitors firing for nodes
 * neither killed nor stopped), stop detection, reconvergence, crashes and
 * the seed's memory checked from their logs and printed as figures.
 *
 * usage: chaos [--duration S] [--nodes N] [--monitor-timeout S] [--stop S]
 *              [--rate N] [--logs DIR] [--seed N] [--rss-bound KIB]
 *              [--calm-stop 1] [--inject-hole 1]
 * --calm-stop 1 pauses the kills while a node is stopped, to see how long
 * its peers take to notice; --inject-hole 1 makes n1 leave a number out
 * of its streams, to see the test fail.
 * Binaries come from $AEMP_BUILD (default build). Exit 0 when every
 * invariant holds, 1 when one fails, 2 on a usage or set-up error, 3
 * when the overall time bound ran out.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "testutil.h"

#define MAX_INCS	4096
#define MAX_NODES	32
/* Monitors must fire within monitor_timeout plus this. */
#define MON_SLACK	2.0
/* The mesh and group must be whole this soon after the last restart. */
#define RECONVERGE_MAX	10.0
/* How long the driver looks for reconvergence before it gives up. */
#define RECONVERGE_WAIT	20.0
/* How long converged has to last to count. */
#define STABLE_FOR	2.0

/* One process: a node's incarnation, with its own log. */
struct inc {
	int		 node;		/* 0 is the seed */
	int		 gen;
	pid_t		 pid;
	char		 log[512];
	double		 started;
	double		 ended;		/* 0 while running */
	int		 how;		/* how it ended, below */
	int		 status;	/* wait status */
	char		*sink;		/* from READY */
	json_t		*streams;	/* id: {target start fired sent} */
	json_t		*recv;		/* id -> count, from RECV */
	double		 quiet;		/* when it stopped sending */
	int		 bye;		/* said BYE: RECV is complete */
	int		 holes;		/* HOLE lines, or BYE's count */
};
#define END_RUNNING	0
#define END_KILLED	1	/* our SIGKILL */
#define END_FINAL	2	/* our SIGTERM at the end */
#define END_CRASHED	3	/* nobody asked it to */

struct kill_ev {
	int		 inc;
	double		 t;
};

static struct inc incs[MAX_INCS];
static int nincs;
static struct kill_ev kills[MAX_INCS];
static int nkills;

/* Node slots: the running incarnation, or -1 and when to restart it. */
static int cur[MAX_NODES];
static double restart_at[MAX_NODES];
static int gens[MAX_NODES];

static int nnodes = 7;
static double duration = 60, mtimeout = 3, stop_for = -1;
static int rate = 50;
static int inject_hole;		/* n1 leaves a number out: must fail */
static int calm_stop;		/* no kills while a node is stopped */
static char *logdir = "build/chaos";
static unsigned rng_seed;
static long rss_bound_kib;
static int seed_port;
static char rc_env[600];
static char *chaos_node_bin, *aempd_bin;

/* The stopped incarnation and its window. */
static int stop_inc = -1;
static double stop_t, cont_t;
static int stop_state;		/* 0 not yet, 1 stopped, 2 continued */

static int failed;

static void
sleep_for(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

static double
frand(double lo, double hi)
{
	return lo + (hi - lo) * (random() / (double)RAND_MAX);
}

/*
 * Out of time or interrupted: kill what we started (and only that) and
 * leave. Only async-signal-safe calls here.
 */
static void
bail(int sig)
{
	static const char msg[] = "chaos: time bound exceeded or interrupted; "
	    "killing our processes\n";
	ssize_t w;

	for (int i = 0; i < nincs; i++)
		if (incs[i].ended == 0 && incs[i].pid > 0)
			kill(incs[i].pid, SIGKILL);
	w = write(2, msg, sizeof msg - 1);
	(void)w;
	_exit(sig == SIGALRM ? 3 : 2);
}

/* --- processes ------------------------------------------------------------ */

static int
port_open(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static const char *
node_name(int node)
{
	static char names[MAX_NODES][16];

	if (node == 0)
		return "seed";
	snprintf(names[node], sizeof names[node], "n%d", node);
	return names[node];
}

static int
start_node(int node)
{
	struct inc *in = &incs[nincs];
	char bind[64], binds[80], seeds[80], mt[32], rt[32];
	char *env[] = { rc_env, "AEMP_WARNLEVEL=7", NULL };

	if (nincs == MAX_INCS) {
		fprintf(stderr, "chaos: too many processes\n");
		bail(SIGTERM);
	}
	memset(in, 0, sizeof *in);
	in->node = node;
	in->gen = gens[node]++;
	snprintf(in->log, sizeof in->log, "%s/%s.%d.log", logdir,
	    node_name(node), in->gen);
	snprintf(mt, sizeof mt, "%g", mtimeout);
	snprintf(rt, sizeof rt, "%d", rate);
	snprintf(seeds, sizeof seeds, "[\"127.0.0.1:%d\"]", seed_port);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", seed_port);
	snprintf(binds, sizeof binds, "[\"127.0.0.1:*\"]");
	if (node == 0) {
		char *argv[] = { aempd_bin, "nodeid", "seed", "binds", bind,
		    "secret", "chaos", "monitor_timeout", mt, NULL };
		in->pid = test_spawn(argv, env, in->log, -1);
	} else {
		char *argv[] = { chaos_node_bin, "--rate", rt, "--skip",
		    node == 1 && inject_hole ? "1000" : "-1", "nodeid",
		    (char *)node_name(node), "binds", binds, "seeds", seeds,
		    "secret", "chaos", "monitor_timeout", mt, NULL };
		in->pid = test_spawn(argv, env, in->log, -1);
	}
	in->started = test_now();
	cur[node] = nincs;
	return nincs++;
}

/*
 * Between reaping a PID and marking it ended, bail() must not run: the
 * PID could belong to someone else by then.
 */
static void
hold_signals(int hold)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* Reaps whatever of ours exited; what we did not kill is a crash. */
static void
reap(void)
{
	for (int i = 0; i < nincs; i++) {
		struct inc *in = &incs[i];
		pid_t r;
		int status;

		if (in->ended != 0)
			continue;
		hold_signals(1);
		if ((r = waitpid(in->pid, &status, WNOHANG)) == in->pid)
			in->ended = test_now();
		hold_signals(0);
		if (r != in->pid)
			continue;
		in->status = status;
		in->how = END_CRASHED;
		printf("chaos: %s (gen %d, pid %ld) exited by itself: %s %d\n",
		    node_name(in->node), in->gen, (long)in->pid,
		    WIFSIGNALED(status) ? "signal" : "status",
		    WIFSIGNALED(status) ? WTERMSIG(status) :
		    WEXITSTATUS(status));
		if (cur[in->node] == i) {
			cur[in->node] = -1;
			restart_at[in->node] = test_now() + 1;
		}
	}
}

static void
kill_node(int node)
{
	int i = cur[node];
	struct inc *in = &incs[i];

	kill(in->pid, SIGKILL);
	kills[nkills].inc = i;
	kills[nkills++].t = test_now();
	hold_signals(1);
	in->status = test_wait(in->pid, 5);
	in->ended = test_now();
	hold_signals(0);
	in->how = END_KILLED;
	cur[node] = -1;
}

static void
cont_node(double *last_change)
{
	kill(incs[stop_inc].pid, SIGCONT);
	cont_t = *last_change = test_now();
	stop_state = 2;
}

static long
rss_kib(pid_t pid)
{
	char path[64], *text, *p;
	long kib = -1;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((text = test_slurp(path)) == NULL)
		return -1;
	if ((p = strstr(text, "VmRSS:")) != NULL)
		kib = strtol(p + 6, NULL, 10);
	free(text);
	return kib;
}

/* --- reading the logs ----------------------------------------------------- */

/* The value of key= in line (up to a blank), copied into buf. */
static const char *
field(const char *line, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key), n;
	const char *p = line;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=')
			break;
		p += klen;
	}
	if (p == NULL)
		return NULL;
	p += klen + 1;
	n = strcspn(p, " \n");
	if (n >= size)
		n = size - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

static double
field_num(const char *line, const char *key)
{
	char buf[64];

	return field(line, key, buf, sizeof buf) ? atof(buf) : -1;
}

/* Notes the sink an incarnation announced in its READY line. */
static void
note_sink(struct inc *in)
{
	char *text, *p, buf[256];

	if (in->sink != NULL || (text = test_slurp(in->log)) == NULL)
		return;
	if ((p = strstr(text, "READY ")) != NULL &&
	    field(p, "sink", buf, sizeof buf) != NULL)
		in->sink = strdup(buf);
	free(text);
}

/*
 * The last STAT line of a running incarnation's log: t, up, members,
 * recv, and the group (malloc()ed, may be NULL).
 */
static int
last_stat(struct inc *in, double *t, int *up, int *members, double *recv,
    char **group)
{
	char *text = test_slurp(in->log), *p, *last = NULL;

	if (text == NULL)
		return 0;
	for (p = text; (p = strstr(p, "STAT t=")) != NULL; p++)
		if (p == text || p[-1] == '\n')
			last = p;
	if (last != NULL) {
		*t = field_num(last, "t");
		*up = (int)field_num(last, "up");
		*members = (int)field_num(last, "members");
		*recv = field_num(last, "recv");
		if (group != NULL) {
			size_t len = strcspn(last, "\n") + 1;
			char *line = strndup(last, len), *value = malloc(len);
			*group = field(line, "group", value, len) ? value :
			    NULL;
			if (*group == NULL)
				free(value);
			free(line);
		}
	}
	free(text);
	return last != NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sinks of the running chaos nodes, sorted and joined as in STAT. */
static char *
expected_group(void)
{
	const char *sinks[MAX_NODES];
	size_t n = 0, len = 1;
	char *s;

	for (int node = 1; node <= nnodes; node++) {
		if (cur[node] < 0)
			continue;
		note_sink(&incs[cur[node]]);
		if (incs[cur[node]].sink != NULL)
			sinks[n++] = incs[cur[node]].sink;
	}
	qsort(sinks, n, sizeof *sinks, cmp_str);
	for (size_t i = 0; i < n; i++)
		len += strlen(sinks[i]) + 1;
	s = calloc(1, len);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, sinks[i]);
	}
	return s;
}

/*
 * Whether every node runs and its latest STAT, newer than since, shows
 * all other nodes up and the group made of exactly the running sinks.
 */
static int
converged(double since, char *why, size_t size)
{
	char *want = NULL;
	int ok = 1;

	for (int node = 1; node <= nnodes && ok; node++) {
		double t, recv;
		int up, members;
		char *group = NULL;

		ok = 0;
		if (cur[node] < 0)
			snprintf(why, size, "%s is down", node_name(node));
		else if (!last_stat(&incs[cur[node]], &t, &up, &members, &recv,
		    &group) || t < since)
			snprintf(why, size, "%s has no STAT yet",
			    node_name(node));
		else if (up != nnodes || members != nnodes)
			snprintf(why, size, "%s sees up=%d members=%d",
			    node_name(node), up, members);
		else {
			if (want == NULL)
				want = expected_group();
			if (group == NULL || strcmp(group, want) != 0)
				snprintf(why, size, "%s sees stale group "
				    "members", node_name(node));
			else
				ok = 1;
		}
		free(group);
	}
	free(want);
	return ok;
}

/*
 * Waits up to wait seconds for convergence after since; returns the time
 * it took (to the first poll that saw it and stayed so for STABLE_FOR),
 * or -1 with the last reason in why.
 */
static double
wait_converged(double since, double wait, char *why, size_t size)
{
	double first = 0;

	while (test_now() < since + wait + STABLE_FOR) {
		reap();
		if (converged(since, why, size)) {
			if (first == 0)
				first = test_now();
			else if (test_now() - first >= STABLE_FOR)
				return first - since;
		} else {
			first = 0;
			if (test_now() >= since + wait)
				break;
		}
		sleep_for(0.1);
	}
	return -1;
}

/* What sanitizers, assert() and glibc's heap checks print. */
static const char *const crash_marks[] = {
	"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
	"SUMMARY: ", "Assertion `", "stack smashing", "double free",
	"malloc(): ", "free(): ", NULL
};

/* Reads a finished incarnation's log into its stream tables. */
static void
parse_log(struct inc *in, int *marks)
{
	char *text = test_slurp(in->log), *line, *save = NULL;
	char id[256], target[256], buf[64];

	in->streams = json_object();
	in->recv = json_object();
	if (text == NULL)
		return;
	for (int i = 0; crash_marks[i] != NULL; i++)
		if (strstr(text, crash_marks[i]) != NULL) {
			printf("chaos: %s: contains \"%s\"\n", in->log,
			    crash_marks[i]);
			(*marks)++;
		}
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "READY ", 6) == 0 && in->sink == NULL &&
		    field(line, "sink", target, sizeof target))
			in->sink = strdup(target);
		else if (strncmp(line, "START ", 6) == 0 &&
		    field(line, "stream", id, sizeof id) &&
		    field(line, "target", target, sizeof target))
			json_object_set_new(in->streams, id, json_pack(
			    "{sssfsfsi}", "target", target, "start",
			    field_num(line, "t"), "fired", -1.0, "sent", -1));
		else if (strncmp(line, "FIRED ", 6) == 0 &&
		    field(line, "stream", id, sizeof id)) {
			json_t *s = json_object_get(in->streams, id);
			if (s != NULL)
				json_object_set_new(s, "fired",
				    json_real(field_num(line, "t")));
		} else if (strncmp(line, "SENT ", 5) == 0 &&
		    field(line, "stream", id, sizeof id)) {
			json_t *s = json_object_get(in->streams, id);
			if (s != NULL)
				json_object_set_new(s, "sent", json_integer(
				    (json_int_t)field_num(line, "sent")));
		} else if (strncmp(line, "RECV ", 5) == 0 &&
		    field(line, "stream", id, sizeof id))
			json_object_set_new(in->recv, id, json_integer(
			    (json_int_t)field_num(line, "got")));
		else if (strncmp(line, "HOLE ", 5) == 0) {
			if (in->holes++ < 5)
				printf("chaos: %s: %s\n", in->log, line);
		} else if (strncmp(line, "QUIET ", 6) == 0)
			in->quiet = field_num(line, "t");
		else if (strncmp(line, "BYE ", 4) == 0) {
			in->bye = 1;
			/* HOLE lines are capped; the count is not */
			if (field(line, "holes", buf, sizeof buf) &&
			    atoi(buf) > in->holes)
				in->holes = atoi(buf);
		}
	}
	free(text);
}

static int
inc_of_sink(const char *sink)
{
	for (int i = 0; i < nincs; i++)
		if (incs[i].sink != NULL && strcmp(incs[i].sink, sink) == 0)
			return i;
	return -1;
}

/* Whether incarnation i was SIGSTOPped for part of [a, b]. */
static int
stopped_during(int i, double a, double b)
{
	return i == stop_inc && stop_t < b && cont_t > a;
}

/* --- the figures ---------------------------------------------------------- */

static void
figure(int ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
figure(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%-5s ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		failed = 1;
}

/*
 * Every stream to a killed incarnation's sink that was running at the
 * kill (or started after it) must see its monitor fire within
 * monitor_timeout + MON_SLACK, unless its sender was itself killed or
 * stopped before then.
 */
static void
check_monitors(void)
{
	double limit = mtimeout + MON_SLACK, worst = 0, sum = 0;
	int checked = 0, late = 0, excused = 0;

	for (int k = 0; k < nkills; k++) {
		struct inc *victim = &incs[kills[k].inc];
		double kt = kills[k].t;

		if (victim->sink == NULL)
			continue;
		for (int i = 0; i < nincs; i++) {
			struct inc *in = &incs[i];
			const char *id;
			json_t *s;

			/* senders gone before the kill had no say */
			if (i == kills[k].inc || in->node == 0 ||
			    (in->ended != 0 && in->ended <= kt))
				continue;
			json_object_foreach(in->streams, id, s) {
				const char *target = json_string_value(
				    json_object_get(s, "target"));
				double st = json_real_value(json_object_get(s,
				    "start"));
				double ft = json_real_value(json_object_get(s,
				    "fired"));
				double from = st > kt ? st : kt;
				double end = in->ended ? in->ended : test_now();

				if (strcmp(target, victim->sink) != 0 ||
				    (ft >= 0 && ft < kt))
					continue;
				/*
				 * A sender stopped before its monitor fired
				 * has its time counted from SIGCONT.
				 */
				if (stopped_during(i, from, from + limit) &&
				    (ft < 0 || ft > stop_t))
					from = cont_t > from ? cont_t : from;
				if (ft < 0 && end < from + limit) {
					excused++;
					continue;
				}
				checked++;
				if (ft < 0 || ft - from > limit) {
					late++;
					if (late <= 10)
						printf("chaos: stream %s (%s) "
						    "to killed %s: monitor "
						    "%s\n", id, in->log,
						    victim->log,
						    ft < 0 ? "never fired" :
						    "fired late");
				}
				if (ft >= 0) {
					sum += ft - from;
					if (ft - from > worst)
						worst = ft - from;
				}
			}
		}
	}
	figure(late == 0 && (checked > 0 || nkills == 0),
	    "monitor latency: %d monitors on killed nodes' sinks, %d late or "
	    "missing; max %.3f s, mean %.3f s (bound %.1f s; %d excused: "
	    "sender killed before it could tell)", checked, late, worst,
	    checked ? sum / checked : 0.0, limit, excused);
}

/*
 * Every monitor that fired must have had a cause: its target's process
 * killed (or crashed), the target or the sender SIGSTOPped (the sender's
 * own timers run late after SIGCONT), or the final shutdown. A monitor
 * firing for a node that was neither is a false positive: a healthy link
 * dropped (the liveness probe left unanswered once did that to most
 * links every monitor_timeout).
 */
static void
check_false_positives(double final_t)
{
	int fired = 0, bad = 0;
	double stop_end = cont_t + mtimeout + MON_SLACK;

	for (int i = 0; i < nincs; i++) {
		const char *id;
		json_t *s;

		json_object_foreach(incs[i].streams, id, s) {
			double ft = json_real_value(json_object_get(s,
			    "fired"));
			int t = inc_of_sink(json_string_value(json_object_get(s,
			    "target")));
			double killed = -1;

			if (ft < 0)
				continue;
			fired++;
			if (t < 0 || ft >= final_t)
				continue;
			for (int k = 0; k < nkills; k++)
				if (kills[k].inc == t)
					killed = kills[k].t;
			if (incs[t].how == END_CRASHED && incs[t].ended > 0)
				killed = incs[t].ended;
			/* the kill is timed just after kill(2) returned */
			if (killed >= 0 && ft >= killed - 0.1)
				continue;
			if (stop_inc >= 0 && (t == stop_inc || i == stop_inc) &&
			    ft >= stop_t - 0.1 && ft <= stop_end)
				continue;
			if (++bad <= 10)
				printf("chaos: stream %s (%s): monitor fired at "
				    "%.3f for %s, which was neither killed nor "
				    "stopped\n", id, incs[i].log, ft,
				    incs[t].log);
		}
	}
	figure(bad == 0, "false positives: %d of %d monitors that fired had "
	    "no kill, crash or SIGSTOP behind them", bad, fired);
}

/*
 * Streams to the stopped node: their monitors must notice. A stopped peer
 * is found by the liveness probe: one goes out within monitor_timeout / 3
 * of the stop, and a tick up to monitor_timeout / 3 after it has been
 * pending for monitor_timeout drops the node.
 */
#define STOP_BOUND	(mtimeout + 2 * mtimeout / 3 + MON_SLACK)

static void
report_stop(void)
{
	int streams = 0, fired = 0;
	double worst = 0;

	if (stop_inc < 0 || incs[stop_inc].sink == NULL) {
		printf("info  SIGSTOP: no node was stopped\n");
		return;
	}
	for (int i = 0; i < nincs; i++) {
		const char *id;
		json_t *s;

		/* only senders that lived through the stop */
		if (incs[i].ended != 0 && incs[i].ended <= cont_t)
			continue;
		json_object_foreach(incs[i].streams, id, s) {
			double st = json_real_value(json_object_get(s,
			    "start"));
			double ft = json_real_value(json_object_get(s,
			    "fired"));
			if (strcmp(json_string_value(json_object_get(s,
			    "target")), incs[stop_inc].sink) != 0 ||
			    st > stop_t || (ft >= 0 && ft < stop_t))
				continue;
			streams++;
			if (ft >= 0 && ft <= cont_t + 0.5) {
				fired++;
				if (ft - stop_t > worst)
					worst = ft - stop_t;
			}
		}
	}
	if (cont_t - stop_t < STOP_BOUND) {
		printf("info  SIGSTOP %s for %.1f s, shorter than the detection "
		    "bound %.1f s: %d of %d streams saw their monitor fire\n",
		    incs[stop_inc].log, cont_t - stop_t, STOP_BOUND, fired,
		    streams);
		return;
	}
	figure(fired == streams && worst <= STOP_BOUND, "stop detection: "
	    "SIGSTOP %s for %.1f s: %d of the %d streams to it whose senders "
	    "lived through the stop saw their monitor fire during it, the "
	    "last %.3f s after SIGSTOP (bound %.1f s)", incs[stop_inc].log,
	    cont_t - stop_t, fired, streams, worst, STOP_BOUND);
}

/*
 * Messages lost without a monitor firing: for each stream still running
 * when sending stopped, with both ends alive to the end, the sink must
 * have got every message sent. (Monitors fire again as the nodes are
 * stopped one by one, but only after the queues drained.)
 */
static void
check_lost(void)
{
	long long lost = 0, streams = 0, msgs = 0;
	int bad = 0;

	for (int i = 0; i < nincs; i++) {
		const char *id;
		json_t *s;

		if (incs[i].how != END_FINAL || incs[i].node == 0)
			continue;
		json_object_foreach(incs[i].streams, id, s) {
			json_int_t sent = json_integer_value(json_object_get(s,
			    "sent"));
			int t = inc_of_sink(json_string_value(json_object_get(s,
			    "target")));
			double ft = json_real_value(json_object_get(s,
			    "fired"));
			json_int_t got;

			if ((ft >= 0 && ft < incs[i].quiet) || sent < 0 ||
			    t < 0 || incs[t].how != END_FINAL || !incs[t].bye)
				continue;
			got = json_integer_value(json_object_get(incs[t].recv,
			    id));
			streams++;
			msgs += sent;
			if (got != sent) {
				lost += sent - got;
				if (++bad <= 10)
					printf("chaos: stream %s: sent %lld, "
					    "sink got %lld, monitor never "
					    "fired\n", id, (long long)sent,
					    (long long)got);
			}
		}
	}
	figure(bad == 0, "silent loss: %lld streams alive at the end, %lld "
	    "messages sent on them, %lld lost without a monitor firing",
	    streams, msgs, lost);
}

/* --- main ----------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: chaos [--duration S] [--nodes N] "
	    "[--monitor-timeout S] [--stop S] [--rate N] [--logs DIR] "
	    "[--seed N] [--rss-bound KIB] [--calm-stop 1] [--inject-hole 1]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv)
{
	rng_seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	for (int i = 1; i < argc; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			usage();
		if (strcmp(o, "--duration") == 0)
			duration = atof(v);
		else if (strcmp(o, "--nodes") == 0)
			nnodes = atoi(v);
		else if (strcmp(o, "--monitor-timeout") == 0)
			mtimeout = atof(v);
		else if (strcmp(o, "--stop") == 0)
			stop_for = atof(v);
		else if (strcmp(o, "--rate") == 0)
			rate = atoi(v);
		else if (strcmp(o, "--logs") == 0)
			logdir = (char *)v;
		else if (strcmp(o, "--seed") == 0)
			rng_seed = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(o, "--calm-stop") == 0)
			calm_stop = atoi(v);
		else if (strcmp(o, "--inject-hole") == 0)
			inject_hole = atoi(v);
		else if (strcmp(o, "--rss-bound") == 0)
			rss_bound_kib = atol(v);
		else
			usage();
	}
	if (stop_for < 0)
		stop_for = STOP_BOUND + 1;
	if (duration <= 0 || nnodes < 2 || nnodes >= MAX_NODES ||
	    mtimeout <= 0 || rate < 0)
		usage();
}

/* Empties logdir of old logs, so that a run reads only its own. */
static void
clean_logdir(void)
{
	char path[1024];
	struct dirent *de;
	DIR *d;

	mkdir(logdir, 0700);
	if ((d = opendir(logdir)) == NULL) {
		fprintf(stderr, "chaos: %s: %s\n", logdir, strerror(errno));
		exit(2);
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if ((len > 4 && strcmp(de->d_name + len - 4, ".log") == 0) ||
		    strncmp(de->d_name, "aemp.db", 7) == 0) {
			snprintf(path, sizeof path, "%s/%s", logdir,
			    de->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

/* $AEMP_BUILD/DIR/NAME (malloc()ed). */
static char *
build_file(const char *dir, const char *name)
{
	const char *b = getenv("AEMP_BUILD");
	char *path;

	if (asprintf(&path, "%s/%s/%s", b ? b : "build", dir, name) < 0)
		abort();
	return path;
}

int
main(int argc, char **argv)
{
	double t0, tend, last_change, next_kill, conv, seed_started, final_t;
	long rss_start, rss_mid = -1, rss_end, rss_max = 0;
	int holes = 0, marks = 0, unexpected = 0, badexit = 0, restarts = 0;
	char why[256];
	struct sigaction sa;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	srandom(rng_seed);
	clean_logdir();
	snprintf(rc_env, sizeof rc_env, "AEMP_RC=%s/aemp.db", logdir);
	chaos_node_bin = build_file("tests/chaos", "chaos_node");
	aempd_bin = build_file("bin", "aempd");
	if (access(chaos_node_bin, X_OK) < 0 || access(aempd_bin, X_OK) < 0) {
		fprintf(stderr, "chaos: %s or %s missing (make chaos builds "
		    "them)\n", chaos_node_bin, aempd_bin);
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = bail;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/*
	 * Start-up 30 s, the chaos (a stop may outlast it), reconvergence,
	 * draining 20 s, stopping up to 4 s a process, with room to spare.
	 */
	alarm((unsigned)(duration + stop_for + 30 + RECONVERGE_WAIT +
	    STABLE_FOR + 20 + 4 * (nnodes + 1) + 30));
	for (int i = 0; i < MAX_NODES; i++)
		cur[i] = -1;

	seed_port = test_free_port();
	printf("chaos: seed %u, %d chaos nodes + seed aempd on 127.0.0.1:%d, "
	    "monitor_timeout %g, %d messages per stream per 10 ms, %g s, "
	    "logs in %s\n", rng_seed, nnodes, seed_port, mtimeout, rate,
	    duration, logdir);
	start_node(0);
	seed_started = test_now();
	while (!port_open(seed_port)) {
		reap();
		if (incs[0].ended != 0 || test_now() > seed_started + 20) {
			fprintf(stderr, "chaos: the seed did not start; see "
			    "%s\n", incs[0].log);
			bail(SIGTERM);
		}
		sleep_for(0.05);
	}
	t0 = test_now();
	for (int node = 1; node <= nnodes; node++)
		start_node(node);
	conv = wait_converged(t0, 30, why, sizeof why);
	figure(conv >= 0, "initial convergence: %s%.1f s (%s)",
	    conv >= 0 ? "" : "not within ", conv >= 0 ? conv : 30.0,
	    conv >= 0 ? "every node sees the full mesh and group" : why);
	rss_start = rss_kib(incs[0].pid);

	/*
	 * The chaos: a kill (sometimes two) every 0.5 to 2.5 s, each node
	 * restarted 0 to 1.5 s later, and one SIGSTOP (STOP_BOUND + 1 s, long
	 * enough for detection to be checked, unless --stop says otherwise)
	 * a third of the way through.
	 */
	t0 = test_now();
	tend = t0 + duration;
	last_change = t0;
	next_kill = t0 + frand(0.5, 2.5);
	stop_t = t0 + duration / 3;
	while (test_now() < tend || stop_state == 1) {
		double t = test_now();
		long rss;

		reap();
		if (incs[0].ended != 0) {
			printf("chaos: the seed is gone; stopping early\n");
			break;
		}
		if ((rss = rss_kib(incs[0].pid)) > rss_max)
			rss_max = rss;
		if (rss_mid < 0 && t >= t0 + duration / 2)
			rss_mid = rss;
		for (int node = 1; node <= nnodes; node++)
			if (cur[node] < 0 && t >= restart_at[node]) {
				start_node(node);
				restarts++;
				last_change = test_now();
			}
		if (stop_state == 0 && t >= stop_t) {
			int node = 1 + (int)(random() % nnodes);
			if (cur[node] >= 0) {
				stop_inc = cur[node];
				kill(incs[stop_inc].pid, SIGSTOP);
				stop_t = test_now();
				cont_t = stop_t + stop_for;
				stop_state = 1;
				printf("chaos: SIGSTOP %s at +%.1f s for %.1f "
				    "s\n", node_name(node), stop_t - t0,
				    cont_t - stop_t);
			}
		}
		if (stop_state == 1 && t >= cont_t)
			cont_node(&last_change);
		if (t >= next_kill && t < tend && !(calm_stop &&
		    stop_state == 1)) {
			int victims = random() % 5 == 0 ? 2 : 1;
			for (int v = 0; v < victims; v++) {
				int node = 1 + (int)(random() % nnodes);
				if (cur[node] < 0 || cur[node] == stop_inc)
					continue;
				kill_node(node);
				restart_at[node] = test_now() + frand(0, 1.5);
			}
			next_kill = test_now() + frand(0.5, 2.5);
		}
		sleep_for(0.02);
	}
	/* everyone back up and running */
	if (stop_state == 1)
		cont_node(&last_change);
	for (int node = 1; node <= nnodes; node++)
		if (cur[node] < 0) {
			start_node(node);
			restarts++;
			last_change = test_now();
		}
	printf("chaos: %d kills, %d restarts in %.1f s; last restart or "
	    "SIGCONT at +%.1f s\n", nkills, restarts, test_now() - t0,
	    last_change - t0);

	conv = wait_converged(last_change, RECONVERGE_WAIT, why, sizeof why);
	figure(conv >= 0 && conv <= RECONVERGE_MAX, "reconvergence: %s%.1f s "
	    "after the last restart (bound %.0f s; %s)", conv >= 0 ? "" :
	    "not within ", conv >= 0 ? conv : RECONVERGE_WAIT, RECONVERGE_MAX,
	    conv >= 0 ? "full mesh and group on every node" : why);
	rss_end = rss_kib(incs[0].pid);

	/* stop sending, let the queues drain, then stop everything */
	for (int node = 1; node <= nnodes; node++)
		if (cur[node] >= 0)
			kill(incs[cur[node]].pid, SIGUSR1);
	{
		double drained = test_now(), last[MAX_NODES] = { 0 };
		int same = 0;
		sleep_for(0.5);
		while (same < 4 && test_now() < drained + 20) {
			int changed = 0;
			for (int node = 1; node <= nnodes; node++) {
				double t, recv;
				int up, members;
				if (cur[node] >= 0 && last_stat(
				    &incs[cur[node]], &t, &up, &members, &recv,
				    NULL) &&
				    recv != last[node]) {
					last[node] = recv;
					changed = 1;
				}
			}
			same = changed ? 0 : same + 1;
			sleep_for(0.3);
		}
	}
	reap();
	final_t = test_now();
	/* newest first: the seed goes last, after the churn of the others */
	for (int i = nincs - 1; i >= 0; i--) {
		struct inc *in = &incs[i];
		if (in->ended != 0)
			continue;
		hold_signals(1);
		in->status = test_stop(in->pid);
		in->ended = test_now();
		hold_signals(0);
		in->how = END_FINAL;
		if (in->status == -1 || !WIFEXITED(in->status) ||
		    WEXITSTATUS(in->status) != 0) {
			badexit++;
			printf("chaos: %s did not exit cleanly on SIGTERM "
			    "(wait status %d)\n", in->log, in->status);
		}
	}

	for (int i = 0; i < nincs; i++) {
		parse_log(&incs[i], &marks);
		holes += incs[i].holes;
		unexpected += incs[i].how == END_CRASHED;
	}
	figure(holes == 0, "holes: %d (every stream a gap-free prefix)", holes);
	check_lost();
	check_monitors();
	check_false_positives(final_t);
	report_stop();
	figure(unexpected + badexit + marks == 0, "crashes: %d processes "
	    "exited unasked, %d exited uncleanly on SIGTERM, %d logs with "
	    "sanitizer or abort output (%d processes in all)", unexpected,
	    badexit, marks, nincs);
	{
		/*
		 * The seed holds a few KiB per node and group member; churn
		 * must not add to that. ASan's quarantine and shadow memory
		 * grow by themselves, so a sanitizer build gets more room.
		 */
		const char *b = getenv("AEMP_BUILD");
		long bound = rss_bound_kib > 0 ? rss_bound_kib :
		    b != NULL && strstr(b, "asan") != NULL ? 64 * 1024 :
		    8 * 1024;
		figure(rss_start > 0 && rss_end > 0 &&
		    rss_end - rss_start <= bound, "seed memory: VmRSS %ld KiB "
		    "at the start of chaos, %ld KiB halfway, %ld KiB at the "
		    "end, %ld KiB at most; growth %ld KiB (bound %ld KiB)",
		    rss_start, rss_mid, rss_end, rss_max, rss_end - rss_start,
		    bound);
	}
	printf("chaos: %s (logs in %s)\n", failed ? "FAILED" : "passed",
	    logdir);
	for (int i = 0; i < nincs; i++) {
		json_decref(incs[i].streams);
		json_decref(incs[i].recv);
		free(incs[i].sink);
	}
	free(chaos_node_bin);
	free(aempd_bin);
	return failed ? 1 : 0;
}

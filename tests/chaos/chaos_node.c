/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * chaos_node.c: a node for the chaos test that streams sequence numbers
 * to every other member of group "chaos" and checks that what its own
 * sink receives on each stream is a gap-free prefix (the AEMP guarantee).
 *
 * usage: chaos_node [--rate N] [--tick S] [--stat S] [--restream S]
 *                   [--skip N] [KEY VALUE ...]
 * (KEY VALUE: configure arguments, as for echo; --skip N leaves number N
 * out of every stream, to see the checks fail).
 *
 * Everything goes to stdout, one line per event, each with t= the
 * CLOCK_MONOTONIC time (shared by every process on the host, so the
 * driver can compare it with the times it killed nodes at):
 *   READY node=ID sink=PORT pid=PID t=T
 *   START stream=S target=PORT t=T
 *   FIRED stream=S target=PORT t=T sent=N reason=JSON
 *   HOLE stream=S sink=PORT got=N want=M t=T
 *   STAT t=T up=K members=M streams=A recv=R group=PORT,PORT,...
 *   QUIET t=T                     (SIGUSR1: sending stopped)
 *   SENT stream=S target=PORT sent=N fired=0|1
 *   RECV stream=S got=N           (SIGTERM: the prefix 0..N-1 arrived)
 *   BYE t=T holes=H recv=R        (then the node exits)
 *   LOG level message             (the node's own log)
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aemp.h"
#include "../../examples/example_args.h"
#include "testutil.h"

#define GROUP		"chaos"
/* HOLE lines past this many are only counted: one bug must not flood. */
#define MAX_HOLE_LINES	50

struct stream {
	char		*id;
	char		*target;
	aemp_mon	*mon;		/* NULL once fired */
	uint64_t	 sent;
	double		 ended;		/* when its monitor fired */
	struct stream	*next;
};

struct chaos {
	aemp_node	*node;
	const char	*sink;
	char		*nodeid;
	struct stream	*streams;	/* newest first, ended ones too */
	json_t		*recv;		/* stream id: next number expected */
	uint64_t	 counter;	/* for stream ids */
	uint64_t	 received;
	uint64_t	 holes;
	int		 rate;		/* messages a stream a tick */
	double		 tick;
	double		 stat_every;
	/* the pause before a new stream to a target */
	double		 restream;
	/* a number never sent, to see the checks fail */
	long long	 skip;
	double		 next_stat;
	int		 quiet;
	struct event	*sigs[3];
};

static void
log_line(aemp_node *n, int level, const char *msg, void *ud)
{
	(void)n; (void)ud;
	printf("LOG %d %s\n", level, msg);
}

/* --- the sink ------------------------------------------------------------ */

static int
on_seq(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct chaos *c = ud;
	const char *id = json_string_value(json_array_get(msg, 0));
	json_t *num = json_array_get(msg, 1), *want;
	json_int_t got, expect;

	(void)n;
	if (id == NULL || !json_is_integer(num)) {
		c->holes++;
		printf("HOLE stream=? sink=%s got=malformed want=? t=%.3f\n",
		    self, test_now());
		return 0;
	}
	got = json_integer_value(num);
	want = json_object_get(c->recv, id);
	expect = want != NULL ? json_integer_value(want) : 0;
	if (got != expect) {
		/* a gap, a repeat or a stream not starting at 0 */
		if (++c->holes <= MAX_HOLE_LINES)
			printf("HOLE stream=%s sink=%s got=%lld want=%lld "
			    "t=%.3f\n", id, self, (long long)got,
			    (long long)expect, test_now());
	}
	c->received++;
	/* resynchronise so that one gap is one HOLE, not a cascade */
	json_object_set_new(c->recv, id, json_integer(got + 1));
	return 0;
}

/* --- the streams --------------------------------------------------------- */

static void
on_fire(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct stream *s = ud;
	char *why = json_dumps(reason, JSON_COMPACT | JSON_ENCODE_ANY);

	(void)n; (void)port;
	s->mon = NULL;
	s->ended = test_now();
	printf("FIRED stream=%s target=%s t=%.3f sent=%llu reason=%s\n",
	    s->id, s->target, s->ended, (unsigned long long)s->sent,
	    why ? why : "?");
	free(why);
}

/* The stream to target that is still running, else the latest one. */
static struct stream *
stream_for(struct chaos *c, const char *target)
{
	struct stream *s;

	for (s = c->streams; s != NULL; s = s->next)
		if (strcmp(s->target, target) == 0)
			return s;
	return NULL;
}

static void
stream_start(struct chaos *c, const char *target)
{
	struct stream *s = calloc(1, sizeof *s);

	if (s == NULL || asprintf(&s->id, "%s:%llu", c->sink,
	    (unsigned long long)++c->counter) < 0)
		abort();
	s->target = strdup(target);
	s->next = c->streams;
	c->streams = s;
	/* the monitor comes first: the guarantee holds from then on */
	s->mon = aemp_mon_cb(c->node, target, on_fire, s);
	printf("START stream=%s target=%s t=%.3f\n", s->id, target, test_now());
}

static int
ae_is_local(struct chaos *c, const char *port)
{
	size_t len = strlen(c->nodeid);

	return strncmp(port, c->nodeid, len) == 0 && port[len] == '#';
}

static void
stream_send(struct chaos *c, struct stream *s)
{
	for (int i = 0; i < c->rate && s->mon != NULL; i++) {
		if ((long long)s->sent != c->skip)
			aemp_snd(c->node, s->target, json_pack("[ssI]", "seq",
			    s->id, (json_int_t)s->sent));
		s->sent++;
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* STAT, with the group as a sorted list so that stale members show. */
static void
stat_line(struct chaos *c, double t, json_t *members)
{
	json_t *up = aemp_up_nodes(c->node);
	size_t i, n = json_array_size(members);
	const char **sorted = calloc(n + 1, sizeof *sorted);
	struct stream *s;
	int active = 0;

	for (s = c->streams; s != NULL; s = s->next)
		active += s->mon != NULL;
	for (i = 0; i < n; i++)
		sorted[i] = json_string_value(json_array_get(members, i));
	qsort(sorted, n, sizeof *sorted, cmp_str);
	printf("STAT t=%.3f up=%zu members=%zu streams=%d recv=%llu group=",
	    t, json_array_size(up), n, active,
	    (unsigned long long)c->received);
	for (i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", sorted[i] ? sorted[i] : "?");
	printf("\n");
	free(sorted);
	json_decref(up);
}

/*
 * Each tick: a stream for every remote member that has none (a target
 * whose last stream ended gets a new one after a pause), and a burst on
 * every running stream whose target is still a member; a stream whose
 * target left the group pauses until its monitor says why.
 */
static void
tick(aemp_node *n, void *ud)
{
	struct chaos *c = ud;
	json_t *members = aemp_grp_get(n, GROUP), *v;
	double t = test_now();
	struct stream *s;
	size_t i;

	if (!c->quiet) {
		json_array_foreach(members, i, v) {
			const char *p = json_string_value(v);
			if (p == NULL || ae_is_local(c, p))
				continue;
			s = stream_for(c, p);
			if (s == NULL || (s->mon == NULL &&
			    t - s->ended >= c->restream))
				stream_start(c, p);
		}
		for (s = c->streams; s != NULL; s = s->next) {
			if (s->mon == NULL)
				continue;
			json_array_foreach(members, i, v)
				if (strcmp(json_string_value(v),
				    s->target) == 0)
					break;
			if (i < json_array_size(members))
				stream_send(c, s);
		}
	}
	if (t >= c->next_stat) {
		stat_line(c, t, members);
		c->next_stat = t + c->stat_every;
	}
	json_decref(members);
	aemp_after(n, c->tick, tick, c);
}

/* --- signals ------------------------------------------------------------- */

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct chaos *c = arg;
	struct stream *s;
	const char *key;
	json_t *v;

	(void)what;
	if (sig == SIGUSR1 && !c->quiet) {
		c->quiet = 1;
		printf("QUIET t=%.3f\n", test_now());
		for (s = c->streams; s != NULL; s = s->next)
			printf("SENT stream=%s target=%s sent=%llu fired=%d\n",
			    s->id, s->target, (unsigned long long)s->sent,
			    s->mon == NULL);
		return;
	}
	if (sig != SIGTERM && sig != SIGINT)
		return;
	json_object_foreach(c->recv, key, v)
		printf("RECV stream=%s got=%lld\n", key,
		    (long long)json_integer_value(v));
	printf("BYE t=%.3f holes=%llu recv=%llu\n", test_now(),
	    (unsigned long long)c->holes, (unsigned long long)c->received);
	aemp_loopexit(c->node);
}

/* --- main ---------------------------------------------------------------- */

static int
option(struct chaos *c, const char *name, const char *value)
{
	char *end;
	double d = strtod(value, &end);

	if (*value == '\0' || *end != '\0' ||
	    (d < 0 && strcmp(name, "--skip") != 0))
		return -1;
	if (strcmp(name, "--rate") == 0)
		c->rate = (int)d;
	else if (strcmp(name, "--tick") == 0 && d > 0)
		c->tick = d;
	else if (strcmp(name, "--stat") == 0 && d > 0)
		c->stat_every = d;
	else if (strcmp(name, "--restream") == 0)
		c->restream = d;
	else if (strcmp(name, "--skip") == 0)
		c->skip = (long long)d;
	else
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct chaos c = { .rate = 50, .tick = 0.01, .stat_every = 0.25,
	    .restream = 1.0, .skip = -1 };
	const int signals[3] = { SIGTERM, SIGINT, SIGUSR1 };
	char *err = NULL;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2)
		if (option(&c, argv[i], argv[i + 1]) < 0) {
			fprintf(stderr, "chaos_node: bad option %s %s\n",
			    argv[i], argv[i + 1]);
			return 1;
		}
	c.node = aemp_configure(NULL, example_args(argc - i, argv + i), &err);
	if (c.node == NULL) {
		fprintf(stderr, "chaos_node: %s\n", err);
		free(err);
		return 1;
	}
	aemp_set_logger(c.node, log_line, NULL);
	c.nodeid = strdup(aemp_nodeid(c.node));
	c.recv = json_object();
	c.sink = aemp_port(c.node, NULL, NULL);
	if (c.sink == NULL || aemp_rcv(c.node, c.sink, "seq", on_seq, &c) < 0 ||
	    aemp_grp_reg(c.node, GROUP, c.sink) == NULL) {
		fprintf(stderr, "chaos_node: %s\n", aemp_error(c.node));
		return 1;
	}
	for (i = 0; i < 3; i++) {
		c.sigs[i] = evsignal_new(aemp_base(c.node), signals[i],
		    on_signal, &c);
		evsignal_add(c.sigs[i], NULL);
	}
	printf("READY node=%s sink=%s pid=%ld t=%.3f\n", c.nodeid, c.sink,
	    (long)getpid(), test_now());
	aemp_after(c.node, c.tick, tick, &c);
	aemp_loop(c.node);
	for (i = 0; i < 3; i++)
		event_free(c.sigs[i]);
	aemp_free(c.node);
	while (c.streams != NULL) {
		struct stream *s = c.streams;
		c.streams = s->next;
		free(s->id);
		free(s->target);
		free(s);
	}
	json_decref(c.recv);
	free(c.nodeid);
	return 0;
}

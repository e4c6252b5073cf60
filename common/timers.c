/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * timers.c: a node's timers, kept in a heap of its own behind one
 * timerfd. Timers in libevent's own heap made every poll carry a timeout,
 * and the kernel then set up and cancelled a high-resolution timer on
 * each sleep: a few percent of every message's round trip. The timerfd is
 * set only when the earliest deadline moves earlier, so polls wait
 * without a timeout and a timer costs a syscall now and then. Timers due
 * at once go through a zero libevent timeout instead, which runs them
 * after the next poll as libevent would have, and the timerfd is polled
 * only while there are timers, so that a loop with nothing else left to
 * wait for ends.
 */
#include <sys/timerfd.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node.h"
#include "xmalloc.h"

#define TIMER_MAX	1e9	/* seconds (31 years): "never", as a time_t */

struct ntimer {
	double		 when;		/* CLOCK_MONOTONIC seconds */
	double		 every;		/* persistent: the interval, else 0 */
	size_t		 slot;		/* heap index + 1; 0 when not pending */
	int		 persist;
	void		(*fn)(evutil_socket_t, short, void *);
	void		*arg;
};

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the heap ------------------------------------------------------------ */

static void
heap_place(aemp_node *n, size_t i, struct ntimer *t)
{
	n->theap[i] = t;
	t->slot = i + 1;
}

static void
heap_up(aemp_node *n, size_t i)
{
	struct ntimer *t = n->theap[i];

	while (i > 0 && n->theap[(i - 1) / 2]->when > t->when) {
		heap_place(n, i, n->theap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_place(n, i, t);
}

static void
heap_down(aemp_node *n, size_t i)
{
	struct ntimer *t = n->theap[i];
	size_t c;

	while ((c = 2 * i + 1) < n->ntheap) {
		if (c + 1 < n->ntheap && n->theap[c + 1]->when < n->theap[c]->when)
			c++;
		if (n->theap[c]->when >= t->when)
			break;
		heap_place(n, i, n->theap[c]);
		i = c;
	}
	heap_place(n, i, t);
}

static void
heap_remove(aemp_node *n, struct ntimer *t)
{
	size_t i = t->slot - 1;
	struct ntimer *last = n->theap[--n->ntheap];

	t->slot = 0;
	if (last == t)
		return;
	heap_place(n, i, last);
	heap_up(n, i);
	heap_down(n, last->slot - 1);
}

static void
heap_insert(aemp_node *n, struct ntimer *t)
{
	if (n->ntheap == n->theap_cap) {
		size_t cap = n->theap_cap ? n->theap_cap * 2 : 16;
		struct ntimer **h = ae_xreallocarray(n->theap, cap, sizeof *h);
		n->theap = h;
		n->theap_cap = cap;
	}
	heap_place(n, n->ntheap++, t);
	heap_up(n, n->ntheap - 1);
}

/* --- the timerfd ----------------------------------------------------------- */

static void timers_fire(evutil_socket_t, short, void *);

/* Polls the timerfd while there are timers (see the top). */
static void
timers_watch(aemp_node *n)
{
	if (n->ntheap > 0 && !n->tfd_polled) {
		event_add(n->tfd_ev, NULL);
		n->tfd_polled = 1;
	} else if (n->ntheap == 0 && n->tfd_polled) {
		event_del(n->tfd_ev);
		n->tfd_polled = 0;
	}
}

/* Makes the timerfd go off by the earliest deadline. */
static void
timers_arm(aemp_node *n)
{
	struct itimerspec its;
	double when;

	if (n->ntheap == 0)
		return;		/* a stale expiry finds nothing due */
	when = n->theap[0]->when;
	if (n->tfd_armed != 0 && n->tfd_armed <= when)
		return;
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = (time_t)when;
	its.it_value.tv_nsec = (long)((when - (double)its.it_value.tv_sec) *
	    1e9);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;	/* zero would disarm it */
	timerfd_settime(n->tfd, TFD_TIMER_ABSTIME, &its, NULL);
	n->tfd_armed = when;
}

/*
 * Runs the timers that are due, each once: one that a callback sets to
 * go off at once waits for the next pass of the loop, as with libevent,
 * and so do the rest when a callback breaks the loop. A callback that
 * frees the node has that done when the last callback returned.
 */
static void
timers_fire(evutil_socket_t fd, short what, void *arg)
{
	aemp_node *n = arg;
	uint64_t expired;
	double now = mono_now();
	size_t left = n->ntheap;

	(void)fd; (void)what;
	if (read(n->tfd, &expired, sizeof expired) == sizeof expired)
		n->tfd_armed = 0;
	n->timers_firing++;
	while (left-- > 0 && n->ntheap > 0 && n->theap[0]->when <= now &&
	    !n->free_asked && !event_base_got_break(n->base)) {
		struct ntimer *t = n->theap[0];
		heap_remove(n, t);
		if (t->persist) {
			t->when += t->every;
			if (t->when <= now)
				t->when = now + t->every;
			heap_insert(n, t);
		}
		/* the callback may free t, or the node's other timers */
		t->fn(-1, EV_TIMEOUT, t->arg);
	}
	if (--n->timers_firing == 0 && n->free_asked) {
		aemp_free(n);
		return;
	}
	timers_arm(n);
	timers_watch(n);
}

/* --- the interface --------------------------------------------------------- */

struct ntimer *
ae_ntimer_new(aemp_node *n, int persist, void (*fn)(evutil_socket_t, short,
    void *), void *arg)
{
	struct ntimer *t = ae_xcalloc(1, sizeof *t);

	(void)n;
	t->persist = persist;
	t->fn = fn;
	t->arg = arg;
	return t;
}

/* (Re)starts t to go off in seconds (a persistent one: every seconds). */
void
ae_ntimer_add(aemp_node *n, struct ntimer *t, double seconds)
{
	if (!(seconds >= 0))
		seconds = 0;	/* negative or NaN: at once */
	if (seconds > TIMER_MAX)
		seconds = TIMER_MAX;
	t->every = seconds > 0 ? seconds : 1e-3;
	t->when = mono_now() + seconds;
	if (t->slot != 0) {
		heap_up(n, t->slot - 1);
		heap_down(n, t->slot - 1);
	} else
		heap_insert(n, t);
	if (seconds == 0) {
		struct timeval zero = { 0, 0 };
		if (!evtimer_pending(n->due_ev, NULL))
			evtimer_add(n->due_ev, &zero);
	} else if (n->theap[0] == t)
		timers_arm(n);
	timers_watch(n);
}

void
ae_ntimer_del(aemp_node *n, struct ntimer *t)
{
	if (t != NULL && t->slot != 0) {
		heap_remove(n, t);
		timers_watch(n);
	}
}

int
ae_ntimer_pending(const struct ntimer *t)
{
	return t != NULL && t->slot != 0;
}

void
ae_ntimer_free(aemp_node *n, struct ntimer *t)
{
	ae_ntimer_del(n, t);
	free(t);
}

/* The timerfd, made when the node is: timers must not fail later. */
int
ae_timers_init(aemp_node *n)
{
	n->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (n->tfd < 0)
		return -1;
	n->tfd_ev = event_new(n->base, n->tfd, EV_READ | EV_PERSIST,
	    timers_fire, n);
	n->due_ev = evtimer_new(n->base, timers_fire, n);
	return 0;
}

/* After every timer is freed: the heap and the timerfd. */
void
ae_timers_free(aemp_node *n)
{
	if (n->tfd_ev != NULL)
		event_free(n->tfd_ev);
	if (n->due_ev != NULL)
		event_free(n->due_ev);
	n->due_ev = NULL;
	if (n->tfd >= 0)
		close(n->tfd);
	free(n->theap);
	n->tfd_ev = NULL;
	n->tfd = -1;
	n->theap = NULL;
	n->ntheap = n->theap_cap = 0;
}

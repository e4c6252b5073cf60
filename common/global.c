/*
 * global.c: the global service (AEMP.md section 7): seeds, and (to come)
 * the full mesh and global groups.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void
seed_timer_set(aemp_node *n, double seconds)
{
	struct timeval tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(n->seed_ev, &tv);
}

static size_t
up_count(aemp_node *n)
{
	struct dict_entry *e;
	size_t pos = 0, up = 0;

	while ((e = dict_next(&n->remotes, &pos)) != NULL)
		up += ((struct aemp_remote *)e->value)->conn != NULL;
	return up;
}

static int
seed_usable(aemp_node *n, struct seed *s)
{
	struct aemp_remote *r;

	if (s->self || s->conn != NULL)
		return 0;
	r = s->nodeid ? dict_get(&n->remotes, s->nodeid) : NULL;
	return r == NULL || r->conn == NULL;
}

/*
 * Tries one usable seed, then sleeps about connect_interval times the
 * number of known nodes (randomised, so that a network restarting at once
 * does not connect in lockstep), and much less while no node is up.
 */
static void
seed_tick(evutil_socket_t fd, short what, void *arg)
{
	aemp_node *n = arg;
	size_t i, tries = 0, up = up_count(n);
	double iv;

	(void)fd; (void)what;
	for (i = 0; i < n->nseeds; i++) {
		struct seed *s = &n->seeds[i];
		if (!seed_usable(n, s))
			continue;
		aemp_log(n, 9, "trying connect to seed node %s.", s->addr);
		s->conn = transport_connect(n, s->addr, NULL);
		if (s->conn != NULL)
			s->conn->seed = (int)i + 1;
		if (++tries >= 1 && up > 0)
			break;
	}
	iv = n->connect_interval * (double)(n->remotes.count + 1);
	if (up == 0)
		iv = n->connect_interval / 2;
	iv *= 0.5 + (double)random() / RAND_MAX;
	seed_timer_set(n, iv);
}

void
global_seed_result(aemp_node *n, struct aemp_conn *c, const char *nodeid,
    const char *why)
{
	struct seed *s;

	if (c->seed == 0 || (size_t)c->seed > n->nseeds)
		return;
	s = &n->seeds[c->seed - 1];
	s->conn = NULL;
	c->seed = 0;
	if (nodeid != NULL) {
		free(s->nodeid);
		s->nodeid = strdup(nodeid);
	}
	if (why != NULL && strcmp(why, "I refuse to talk to myself") == 0)
		s->self = 1;
}

void
global_start(aemp_node *n)
{
	json_t *seeds = json_object_get(n->config, "seeds");
	size_t i;
	json_t *v;

	aemp_log(n, 7, "starting global service.");
	n->seed_ev = evtimer_new(n->base, seed_tick, n);
	json_array_foreach(seeds, i, v) {
		if (!json_is_string(v))
			continue;
		n->seeds = realloc(n->seeds, (n->nseeds + 1) * sizeof *n->seeds);
		memset(&n->seeds[n->nseeds], 0, sizeof *n->seeds);
		n->seeds[n->nseeds++].addr = strdup(json_string_value(v));
	}
	if (n->nseeds > 0)
		seed_timer_set(n, 0.001 + 0.099 * (double)random() / RAND_MAX);
}

void
global_node_up(aemp_node *n, struct aemp_remote *r)
{
	(void)n; (void)r;
}

void
global_node_down(aemp_node *n, struct aemp_remote *r)
{
	(void)r;
	if (n->nseeds > 0 && up_count(n) == 0) {
		aemp_log(n, 1, "no contact to any other node, cannot seed.");
		evtimer_del(n->seed_ev);
		seed_timer_set(n, 0);
	}
}

void
global_free(aemp_node *n)
{
	size_t i;

	if (n->seed_ev != NULL)
		event_free(n->seed_ev);
	n->seed_ev = NULL;
	for (i = 0; i < n->nseeds; i++) {
		free(n->seeds[i].addr);
		free(n->seeds[i].nodeid);
	}
	free(n->seeds);
	n->seeds = NULL;
	n->nseeds = 0;
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * seed.c: seeds (AEMP.md section 7): the host:port addresses a node
 * connects to, one at a time, to stay in touch with the network.
 */
#include <stdlib.h>
#include <string.h>

#include "global.h"
#include "xmalloc.h"

static int
seed_usable(aemp_node *n, struct seed *s)
{
	if (s->self || s->conn != NULL)
		return 0;
	return s->nodeid == NULL || !aemp_node_is_up(n, s->nodeid);
}

static void
seed_try(aemp_node *n, size_t i)
{
	struct seed *s = &n->seeds[i];

	aemp_log(n, 9, "trying connect to seed node %s.", s->addr);
	s->conn = ae_transport_connect(n, s->addr, NULL);
	if (s->conn != NULL)
		ae_transport_set_tag(s->conn, (int)i + 1);
}

/*
 * One seeding round. The first tries every seed (it runs within 100 ms
 * of start), later ones the next usable seed in turn. The next round
 * comes after about connect_interval times the number of known nodes,
 * but after 1 to 2 seconds (connect_interval, less up to a second) while
 * no node is up, randomised so that a network restarting at once does
 * not connect in lockstep.
 */
void
ae_seed_more(aemp_node *n)
{
	struct aemp_global *g = n->global;
	size_t i, up = ae_global_up_count(n);
	double iv;

	if (n->nseeds == 0)
		return;
	iv = n->connect_interval * (up > 0 ? (double)(n->remotes.count + 1) :
	    1) - ae_global_random(n);
	ae_ntimer_add(n, n->seed_ev, iv < 1 ? 1 : iv);
	if (!g->seeded) {
		g->seeded = 1;
		for (i = 0; i < n->nseeds; i++)
			if (seed_usable(n, &n->seeds[i]))
				seed_try(n, i);
		return;
	}
	for (i = 0; i < n->nseeds; i++) {
		size_t k = g->seed_next++ % n->nseeds;
		if (seed_usable(n, &n->seeds[k])) {
			seed_try(n, k);
			break;
		}
	}
}

static void
seed_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	ae_seed_more(arg);
}

/*
 * The attempt at seed number tag ended its handshake (upcall.attempt;
 * nodeid is who answered, when we know): remember who is behind the
 * address, and drop a seed that turned out to be ourselves.
 */
static void
seed_result(aemp_node *n, int tag, const char *nodeid, const char *why)
{
	struct seed *s;

	if (tag == 0 || (size_t)tag > n->nseeds)
		return;
	s = &n->seeds[tag - 1];
	s->conn = NULL;
	if (nodeid != NULL) {
		free(s->nodeid);
		s->nodeid = ae_xstrdup(nodeid);
	}
	if ((why != NULL && strcmp(why, "I refuse to talk to myself") == 0) ||
	    (nodeid != NULL && strcmp(nodeid, n->id) == 0))
		s->self = 1;
}

static void
seeds_init(aemp_node *n)
{
	json_t *seeds = json_object_get(n->config, "seeds"), *v;
	size_t i;

	json_array_foreach(seeds, i, v) {
		const char *addr = json_string_value(v);
		if (addr == NULL || !ae_hostport_seed_valid(addr)) {
			aemp_log(n, 2, "%s: unparsable seed address, ignored.",
			    addr ? addr : "(not a string)");
			continue;
		}
		n->seeds = ae_xreallocarray(n->seeds, n->nseeds + 1,
		    sizeof *n->seeds);
		memset(&n->seeds[n->nseeds], 0, sizeof *n->seeds);
		n->seeds[n->nseeds++].addr = ae_xstrdup(addr);
	}
}

void
ae_seed_start(aemp_node *n)
{
	n->seed_ev = ae_ntimer_new(n, 0, seed_tick, n);
	n->upcall.attempt = seed_result;
	seeds_init(n);
	if (n->nseeds > 0) {
		n->global->seed_next = (size_t)(ae_global_random(n) *
		    (double)n->nseeds);
		ae_ntimer_add(n, n->seed_ev, 0.1 * ae_global_random(n));
	}
}

void
ae_seed_free(aemp_node *n)
{
	size_t i;

	if (n->seed_ev != NULL)
		ae_ntimer_free(n, n->seed_ev);
	n->seed_ev = NULL;
	for (i = 0; i < n->nseeds; i++) {
		free(n->seeds[i].addr);
		free(n->seeds[i].nodeid);
	}
	free(n->seeds);
	n->seeds = NULL;
	n->nseeds = 0;
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * services.c: runs the profile's services in the order listed: "Pkg::"
 * loads a module, "Pkg::func" calls a function, ["Pkg::func", args...]
 * calls it with arguments.
 *
 * A function is called through the node's own node port, as a request
 * from a peer would be, so that it resolves (and loads modules) exactly
 * as a remote call does. That call is deferred; a message to a private
 * port, queued behind it, says when it has run and the next entry may go.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aempd.h"
#include "names.h"
#include "xmalloc.h"

/* Packages that are part of every node and need no module. */
#define BUILTIN_PREFIX	"AnyEvent::MP::"

static void	step(struct aempd *);

static char *
describe(json_t *entry)
{
	if (json_is_string(entry))
		return ae_xstrdup(json_string_value(entry));
	return json_dumps(entry, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int
on_next(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	(void)n; (void)self; (void)msg;
	step(ud);
	return 0;
}

/* Runs one entry; returns 1 if it is a call whose end must be awaited. */
static int
run_entry(struct aempd *d, json_t *entry)
{
	aemp_node *n = d->d_node;
	const char *name = json_is_array(entry) ?
	    json_string_value(json_array_get(entry, 0)) :
	    json_string_value(entry);
	char *text = describe(entry);
	size_t len = name != NULL ? strlen(name) : 0;
	json_t *req;

	/* the rule aemp applies when the entry is set (ae_service_valid) */
	if (!ae_service_valid(entry)) {
		aemp_log(n, 2, "service %s: not a Pkg:: or Pkg::func name, "
		    "ignored", text ? text : "?");
		free(text);
		return 0;
	}
	aemp_log(n, 7, "starting service %s.", text);
	free(text);
	if (name[len - 1] == ':') {
		char *pkg = ae_xstrndup(name, len - 2);
		if (strncmp(name, BUILTIN_PREFIX, strlen(BUILTIN_PREFIX)) == 0)
			aemp_log(n, 8, "%s is built in.", pkg);
		else
			modules_load(&d->d_mods, n, pkg);
		free(pkg);
		return 0;
	}
	if (json_is_array(entry))
		req = json_copy(entry);
	else
		req = json_pack("[s]", name);
	aemp_snd(n, aemp_nodeid(n), req);
	return 1;
}

static void
step(struct aempd *d)
{
	struct services *sv = &d->d_svc;
	json_t *entry;
	int wait;

	while (json_array_size(sv->sv_queue) > 0) {
		entry = json_incref(json_array_get(sv->sv_queue, 0));
		json_array_remove(sv->sv_queue, 0);
		json_array_append(sv->sv_started, entry);
		wait = run_entry(d, entry);
		json_decref(entry);
		if (wait) {
			aemp_sndf(d->d_node, sv->sv_port, "s", "next");
			return;
		}
	}
	if (sv->sv_port != NULL) {
		aemp_kil(d->d_node, sv->sv_port, NULL);
		sv->sv_port = NULL;
	}
	if (sv->sv_done != NULL)
		sv->sv_done(sv->sv_done_ud);
}

/* Queues the entries of list (borrowed) and runs them in order. */
int
services_start(struct aempd *d, json_t *list)
{
	struct services *sv = &d->d_svc;
	size_t i;
	json_t *e;

	if (sv->sv_queue == NULL) {
		sv->sv_queue = json_array();
		sv->sv_started = json_array();
	}
	json_array_foreach(list, i, e)
		json_array_append(sv->sv_queue, e);
	if (sv->sv_port != NULL)
		return 0;	/* the running queue takes them along */
	sv->sv_port = aemp_port(d->d_node, on_next, d);
	step(d);
	return 0;
}

/*
 * After a reload: entries list has more often than were started are
 * started; entries no longer listed keep running (code cannot be
 * unloaded), which is logged.
 */
void
services_reload(struct aempd *d, json_t *list)
{
	struct services *sv = &d->d_svc;
	json_t *left = json_copy(sv->sv_started), *add = json_array(), *e, *l;
	size_t i, j;

	json_array_extend(left, sv->sv_queue);
	json_array_foreach(list, i, e) {
		json_array_foreach(left, j, l)
			if (json_equal(e, l))
				break;
		if (j < json_array_size(left))
			json_array_remove(left, j);
		else
			json_array_append(add, e);
	}
	json_array_foreach(left, i, e) {
		char *text = describe(e);
		aemp_log(d->d_node, 2, "service %s is no longer configured: it "
		    "stays until aempd restarts.", text ? text : "?");
		free(text);
	}
	if (json_array_size(add) > 0)
		services_start(d, add);
	json_decref(add);
	json_decref(left);
}

void
services_free(struct services *sv)
{
	json_decref(sv->sv_queue);
	json_decref(sv->sv_started);
	memset(sv, 0, sizeof *sv);
}

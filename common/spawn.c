/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * spawn.c: the function registry, the resolver and spawn (AEMP.md
 * section 5).
 */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "names.h"
#include "xmalloc.h"

/* --- spawn and functions ------------------------------------------------- */

int
aemp_register_func(aemp_node *n, const char *name, aemp_func_fn fn, void *ud)
{
	struct func *f;

	if (!pkg_name_valid(name, 0))
		return node_error(n, "invalid function name '%s'", name);
	f = dict_get(&n->funcs, name);
	if (f == NULL) {
		f = xcalloc(1, sizeof *f);
		f->name = xstrdup(name);
		dict_put(&n->funcs, f->name, f);
	}
	f->fn = fn;
	f->ud = ud;
	return 0;
}

void
aemp_set_resolver(aemp_node *n, aemp_resolve_fn fn, void *ud)
{
	n->resolve = fn;
	n->resolve_ud = ud;
}

/* The registered function name, after asking the resolver if need be. */
struct func *
func_lookup(aemp_node *n, const char *name)
{
	struct func *f = NULL;

	while (pkg_name_valid(name, 0) &&
	    (f = dict_get(&n->funcs, name)) == NULL && n->resolve != NULL &&
	    n->resolve(n, name, n->resolve_ud) == 0)
		;
	return f;
}

struct spawn_call {
	struct func	*f;
	json_t		*args;
};

static int
call_func(aemp_node *n, struct aemp_port *p, void *arg)
{
	struct spawn_call *c = arg;

	return c->f->fn(n, p->id, c->args, c->f->ud);
}

/* Creates port name and runs func(args) as it; args is borrowed. */
void
spawn_run(aemp_node *n, const char *name, const char *func, json_t *args)
{
	struct spawn_call c;
	struct aemp_port *p;

	if (*name == '\0' || strchr(name, '#') != NULL ||
	    dict_get(&n->ports, name) != NULL) {
		node_log_limited(n, 2, "spawn: refused port names", NULL,
		    "spawn: refusing port name '%s'", name);
		return;
	}
	/*
	 * As with the reference, the port exists only once the function
	 * resolves: otherwise it never did, and a monitor of it (the mon1
	 * that follows a spawn, in the same read or not) always reports
	 * no_such_port rather than racing a delayed kill.
	 */
	c.f = func_lookup(n, func);
	c.args = args;
	if (c.f == NULL) {
		node_log_limited(n, 2, "spawn: unknown functions", NULL,
		    "spawn: unable to resolve function %s", func);
		return;
	}
	p = port_new(n, name);
	run_as(n, p, call_func, &c);
}

char *
aemp_spawn(aemp_node *n, const char *node, const char *func, json_t *args)
{
	char *name = kernel_port_name(n, 1), *id;
	const char *dummy;

	if (args == NULL)
		args = json_array();
	id = xasprintf("%s#%s", node, name);
	if (is_local(n, node, &dummy)) {
		struct defer *d = node_defer(n, DEFER_SPAWN);
		d->port = name;
		d->func = xstrdup(func);
		d->msg = args;
		return id;
	}
	{
		struct aemp_remote *r = remote_get(n, node, 1);
		json_t *pkt = json_pack("[sss]", "AnyEvent::MP::_spawn", name,
		    func);
		json_array_extend(pkt, args);
		json_decref(args);
		remote_send_name(r, "", pkt);
	}
	free(name);
	return id;
}

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

	if (!ae_pkg_name_valid(name, 0))
		return ae_node_error(n, "invalid function name '%s'", name);
	f = ae_dict_get(&n->funcs, name);
	if (f == NULL) {
		f = ae_xcalloc(1, sizeof *f);
		f->name = ae_xstrdup(name);
		ae_dict_put(&n->funcs, f->name, f);
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
ae_func_lookup(aemp_node *n, const char *name)
{
	struct func *f = NULL;

	while (ae_pkg_name_valid(name, 0) &&
	    (f = ae_dict_get(&n->funcs, name)) == NULL && n->resolve != NULL &&
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
ae_spawn_run(aemp_node *n, const char *name, const char *func, json_t *args)
{
	struct spawn_call c;
	struct aemp_port *p;

	if (*name == '\0' || strchr(name, '#') != NULL ||
	    ae_dict_get(&n->ports, name) != NULL) {
		ae_node_log_limited(n, 2, "spawn: refused port names", NULL,
		    "spawn: refusing port name '%s'", name);
		return;
	}
	/*
	 * As with the reference, the port exists only once the function
	 * resolves: otherwise it never did, and a monitor of it (the mon1
	 * that follows a spawn, in the same read or not) always reports
	 * no_such_port rather than racing a delayed kill.
	 */
	c.f = ae_func_lookup(n, func);
	c.args = args;
	if (c.f == NULL) {
		ae_node_log_limited(n, 2, "spawn: unknown functions", NULL,
		    "spawn: unable to resolve function %s", func);
		return;
	}
	p = ae_port_new(n, name);
	ae_run_as(n, p, call_func, &c);
}

char *
aemp_spawn(aemp_node *n, const char *node, const char *func, json_t *args)
{
	char *name = ae_kernel_port_name(n, 1), *id;
	const char *dummy;

	if (args == NULL)
		args = json_array();
	id = ae_xasprintf("%s#%s", node, name);
	if (ae_is_local(n, node, &dummy)) {
		struct defer *d = ae_node_defer(n, DEFER_SPAWN);
		d->port = name;
		d->func = ae_xstrdup(func);
		d->msg = args;
		return id;
	}
	{
		struct aemp_remote *r = ae_remote_get(n, node, 1);
		json_t *pkt = json_pack("[sss]", "AnyEvent::MP::_spawn", name,
		    func);
		json_array_extend(pkt, args);
		json_decref(args);
		ae_remote_send_name(r, "", pkt);
	}
	free(name);
	return id;
}

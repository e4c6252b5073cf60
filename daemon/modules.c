/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * modules.c: loads service modules (shared objects) from the module path
 * and resolves function names such as Chat::Server::start through them.
 *
 * A name maps to a file only through validated parts ([A-Za-z0-9_]+
 * joined by "::"), so no name, whoever sends it, can reach a file
 * outside the module directories.
 */
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aempd.h"
#include "names.h"
#include "xmalloc.h"

#ifndef AEMP_PREFIX
#define AEMP_PREFIX "/usr/local"
#endif
#define DEFAULT_MODULE_PATH	AEMP_PREFIX "/lib/aemp"

typedef int (*module_init_fn)(aemp_node *);
typedef void (*module_fini_fn)(aemp_node *);

int
modules_init(struct modules *ms, char **err)
{
	const char *env = getenv("AEMP_MODULE_PATH");
	char *copy, *dir, *save, *abs, cwd[PATH_MAX];
	size_t len = 0;

	memset(ms, 0, sizeof *ms);
	copy = ae_xstrdup(env != NULL && *env != '\0' ? env : DEFAULT_MODULE_PATH);
	ms->ms_path = ae_xcalloc(1, 1);
	for (dir = strtok_r(copy, ":", &save); dir != NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		/*
		 * A relative directory is taken from where aempd starts,
		 * once: loading later, or after a restart, finds the same.
		 */
		if (dir[0] == '/')
			abs = ae_xstrdup(dir);
		else if (getcwd(cwd, sizeof cwd) == NULL ||
		    asprintf(&abs, "%s/%s", cwd, dir) < 0) {
			if (asprintf(err, "AEMP_MODULE_PATH: '%s': cannot make "
			    "it absolute: %s", dir, strerror(errno)) < 0)
				*err = NULL;
			free(copy);
			modules_free(ms);
			return -1;
		}
		ms->ms_dirs = ae_xreallocarray(ms->ms_dirs, ms->ms_ndirs + 1,
		    sizeof *ms->ms_dirs);
		ms->ms_dirs[ms->ms_ndirs++] = abs;
		ms->ms_path = ae_xreallocarray(ms->ms_path, len + strlen(abs) + 2, 1);
		len += (size_t)sprintf(ms->ms_path + len, "%s%s",
		    len > 0 ? ":" : "", abs);
	}
	free(copy);
	return 0;
}

static struct module *
module_find(struct modules *ms, const char *name)
{
	struct module *m;

	for (m = ms->ms_list; m != NULL; m = m->m_next)
		if (strcmp(m->m_name, name) == 0)
			return m;
	return NULL;
}

/* The file of module pkg ("Chat::Server" -> DIR/Chat/Server.so), or NULL. */
static char *
module_file(struct modules *ms, const char *pkg)
{
	struct stat st;
	char *rel, *q, *path;
	const char *p;
	size_t i;

	rel = ae_xmalloc(strlen(pkg) + 4);
	for (p = pkg, q = rel; *p != '\0'; p++) {
		if (p[0] == ':' && p[1] == ':') {
			*q++ = '/';
			p++;
		} else
			*q++ = *p;
	}
	strcpy(q, ".so");
	for (i = 0; i < ms->ms_ndirs; i++) {
		path = ae_xasprintf("%s/%s", ms->ms_dirs[i], rel);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			free(rel);
			return path;
		}
		free(path);
	}
	free(rel);
	return NULL;
}

/*
 * Loads module pkg unless that was done (or failed) before. Returns 0 if
 * the module is loaded, -1 if there is no such module or it failed; a
 * module whose file is missing is looked for again next time, one that
 * failed to load is not (restart aempd after fixing it).
 */
int
modules_load(struct modules *ms, aemp_node *n, const char *pkg)
{
	struct module *m = module_find(ms, pkg);
	module_init_fn init;
	char *path;

	if (m != NULL)
		return m->m_handle != NULL ? 0 : -1;
	if (!ae_pkg_name_valid(pkg, 0)) {
		aemp_log(n, 2, "invalid module name '%s'", pkg);
		return -1;
	}
	if ((path = module_file(ms, pkg)) == NULL) {
		aemp_log(n, 2, "module %s: not found in %s", pkg,
		    ms->ms_path);
		return -1;
	}
	m = ae_xcalloc(1, sizeof *m);
	m->m_name = ae_xstrdup(pkg);
	m->m_path = path;
	m->m_next = ms->ms_list;
	ms->ms_list = m;
	/* RTLD_LOCAL: modules see libaemp (in aempd), not each other */
	if ((m->m_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		aemp_log(n, 1, "module %s: %s", pkg, dlerror());
		return -1;
	}
	*(void **)&init = dlsym(m->m_handle, "aemp_module_init");
	if (init == NULL) {
		aemp_log(n, 1, "module %s: %s has no aemp_module_init()", pkg,
		    path);
		dlclose(m->m_handle);
		m->m_handle = NULL;
		return -1;
	}
	/* what init registered may point into the module: it stays loaded */
	if (init(n) != 0) {
		aemp_log(n, 1, "module %s: aemp_module_init() failed: %s", pkg,
		    aemp_error(n));
		return -1;
	}
	aemp_log(n, 7, "loaded module %s from %s.", pkg, path);
	return 0;
}

/*
 * The resolver aempd gives the node (aemp_set_resolver): for
 * Chat::Server::start, load Chat::Server, else Chat, skipping modules
 * already loaded (they did not define the function). Each call loads at
 * most one module and returns 0 if it did, so the kernel looks again and
 * calls back until the function exists or nothing is left to try.
 */
int
modules_resolve(aemp_node *n, const char *func, void *ud)
{
	struct modules *ms = ud;
	char *pkg = ae_xstrdup(func), *cut, *file;
	int rc = -1;

	if (!ae_pkg_name_valid(func, 0)) {
		free(pkg);
		return -1;
	}
	while ((cut = strrchr(pkg, ':')) != NULL) {
		cut[-1] = '\0';	/* drop "::part" */
		if (module_find(ms, pkg) != NULL)
			continue;
		if ((file = module_file(ms, pkg)) == NULL)
			continue;
		free(file);
		modules_load(ms, n, pkg);
		rc = 0;
		break;
	}
	if (rc < 0)
		aemp_log(n, 2, "unable to resolve function %s: no module in %s "
		    "defines it", func, ms->ms_path);
	free(pkg);
	return rc;
}

/* Lets every module release what it holds, while the node still exists. */
void
modules_fini(struct modules *ms, aemp_node *n)
{
	struct module *m;
	module_fini_fn fini;

	for (m = ms->ms_list; m != NULL; m = m->m_next) {
		if (m->m_handle == NULL)
			continue;
		*(void **)&fini = dlsym(m->m_handle, "aemp_module_fini");
		if (fini != NULL)
			fini(n);
	}
}

/* Unloads everything: only once the node is freed, nothing calls in. */
void
modules_free(struct modules *ms)
{
	struct module *m, *next;
	size_t i;

	for (m = ms->ms_list; m != NULL; m = next) {
		next = m->m_next;
		if (m->m_handle != NULL)
			dlclose(m->m_handle);
		free(m->m_name);
		free(m->m_path);
		free(m);
	}
	for (i = 0; i < ms->ms_ndirs; i++)
		free(ms->ms_dirs[i]);
	free(ms->ms_dirs);
	free(ms->ms_path);
	memset(ms, 0, sizeof *ms);
}

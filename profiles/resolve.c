/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * resolve.c: the effective configuration of a profile (AEMP.md section
 * 8), layered from the defaults, the configure arguments, the global
 * default configuration and the profile's parent chain.
 */
#include <sys/utsname.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"
#include "xmalloc.h"


char *
ae_default_profile(void)
{
	const char *env = getenv("AEMP_PROFILE");
	struct utsname u;

	if (env != NULL && *env != '\0')
		return ae_xstrdup(env);
	if (uname(&u) != 0)
		return ae_xstrdup("localhost");
	return ae_xstrdup(u.nodename);
}

/* Later layers win: copy every key of the store's profile name over res. */
static int
overlay(aemp_store *st, json_t *res, const char *name, char **err)
{
	json_t *o;

	if ((o = ae_store_get(st, name, err)) == NULL)
		return -1;
	json_object_update(res, o);
	json_decref(o);
	return 0;
}

json_t *
ae_store_effective_in(aemp_store *st, const char *profile, json_t *args,
    char **err)
{
	json_t *res = NULL, *chain = NULL, *p;
	char *name;
	size_t i;

	p = args != NULL ? json_object_get(args, "profile") : NULL;
	if (profile != NULL)
		name = ae_xstrdup(profile);
	else if (json_is_string(p))
		name = ae_xstrdup(json_string_value(p));
	else
		name = ae_default_profile();
	if (name == NULL) {
		ae_store_seterr(err, "out of memory");
		return NULL;
	}
	if (*name == '\0') {
		ae_store_seterr(err, "empty profile name");
		goto fail;
	}
	res = ae_config_defaults();
	if (json_is_object(args))
		json_object_update(res, args);
	/*
	 * A missing profile contributes nothing, and neither does the global
	 * configuration's own "parent": the chain starts at the profile.
	 */
	if (overlay(st, res, NULL, err) != 0 ||
	    (chain = ae_store_chain(st, name, err)) == NULL)
		goto fail;
	for (i = json_array_size(chain); i-- > 0;)
		if (overlay(st, res, json_string_value(json_array_get(chain,
		    i)), err) != 0)
			goto fail;
	json_decref(chain);
	json_object_del(res, "parent");
	json_object_set_new(res, "profile", json_string(name));
	free(name);
	return res;
fail:
	json_decref(chain);
	json_decref(res);
	free(name);
	return NULL;
}

json_t *
ae_store_effective(const char *profile, json_t *args, char **err)
{
	aemp_store *st;
	json_t *res;

	if ((st = ae_store_open(NULL, AEMP_STORE_READ, err)) == NULL)
		return NULL;
	res = ae_store_effective_in(st, profile, args, err);
	ae_store_close(st);
	return res;
}

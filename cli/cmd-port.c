/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * cmd-port.c: moving configuration between the store and the reference
 * implementation's JSON file (~/.perl-anyevent-mp): global keys at the
 * top level, named profiles under "profile".
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "xmalloc.h"

/* The reference keeps its configuration here. */
static char *
perl_rc_path(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;
	char *path;

	if (home == NULL || *home == '\0') {
		if ((pw = getpwuid(getuid())) == NULL)
			return NULL;
		home = pw->pw_dir;
	}
	if (asprintf(&path, "%s/.perl-anyevent-mp", home) < 0)
		return NULL;
	return path;
}

/*
 * Copy the keys of obj into profile name (NULL: global). Unknown keys
 * are reported and skipped: the reference file may carry keys of its own.
 */
static int
import_keys(struct cli *cli, const char *cmd, const char *file,
    const char *name, json_t *obj)
{
	const char *key;
	char *err = NULL;
	json_t *v;

	if (name != NULL && ae_store_add_profile(cli->c_store, name,
	    &err) != 0)
		return cli_errstr(cmd, NULL, err);
	json_object_foreach(obj, key, v) {
		if (name == NULL && (strcmp(key, "profile") == 0 ||
		    strcmp(key, "version") == 0 || strcmp(key, "dirty") == 0))
			continue;	/* the file's own bookkeeping */
		if (ae_key_type(key) < 0 || strcmp(key, "profile") == 0 ||
		    (name == NULL && strcmp(key, "parent") == 0)) {
			fprintf(stderr, "aemp: %s: %s: %s%s%signoring key "
			    "'%s'\n", cmd, file, name ? "profile " : "",
			    name ? name : "", name ? ": " : "", key);
			continue;
		}
		if (ae_store_set(cli->c_store, name, key, v, &err) != 0) {
			cli_error(cmd, "%s: %s%s%s%s", file,
			    name ? "profile " : "", name ? name : "",
			    name ? ": " : "", err ? err : "out of memory");
			free(err);
			return -1;
		}
	}
	return 0;
}

static int
cmd_import_perl_exec(struct cli *cli, const struct aemp_cmd *self,
    int argc, char **argv)
{
	json_error_t je;
	json_t *rc, *profiles, *p;
	const char *name;
	char *path, *near;
	int status = -1;

	(void)self;
	path = argc > 1 ? ae_xstrdup(argv[1]) : perl_rc_path();
	if (path == NULL)
		return cli_error(argv[0], "no home directory: name the FILE");
	if ((rc = json_load_file(path, 0, &je)) == NULL) {
		/* The file holds the secret: never quote its contents. */
		if ((near = strstr(je.text, " near ")) != NULL)
			*near = '\0';
		if (je.line < 0)
			cli_error(argv[0], "%s: %s", path, je.text);
		else
			cli_error(argv[0], "%s: invalid JSON at line %d, column "
			    "%d, position %d: %s", path, je.line, je.column,
			    je.position, je.text);
		goto out;
	}
	if (!json_is_object(rc)) {
		cli_error(argv[0], "%s: not a JSON object", path);
		goto out;
	}
	profiles = json_object_get(rc, "profile");
	if (profiles != NULL && !json_is_object(profiles)) {
		cli_error(argv[0], "%s: \"profile\" is not an object", path);
		goto out;
	}
	if (import_keys(cli, argv[0], path, NULL, rc) != 0)
		goto out;
	json_object_foreach(profiles, name, p) {
		if (*name == '\0' || !json_is_object(p)) {
			cli_error(argv[0], "%s: profile '%s' is %s", path, name,
			    *name ? "not an object" : "unnamed");
			goto out;
		}
		if (import_keys(cli, argv[0], path, name, p) != 0)
			goto out;
	}
	status = 0;
out:
	json_decref(rc);
	free(path);
	return status;
}

static int
cmd_export_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	json_t *out = NULL, *names = NULL, *profiles, *p, *n;
	char *err = NULL;
	size_t i;
	int rc;

	(void)self; (void)argc;
	if ((out = ae_store_get(cli->c_store, NULL, &err)) == NULL ||
	    (names = ae_store_profiles(cli->c_store, &err)) == NULL)
		goto fail;
	profiles = json_object();
	json_object_set_new(out, "profile", profiles);
	/* The reference writes it into every file it creates. */
	json_object_set_new(out, "version", json_integer(1));
	json_array_foreach(names, i, n) {
		p = ae_store_get(cli->c_store, json_string_value(n), &err);
		if (p == NULL)
			goto fail;
		json_object_set_new(profiles, json_string_value(n), p);
	}
	rc = cli_print_json(argv[0], out);
	json_decref(names);
	json_decref(out);
	return rc;
fail:
	json_decref(names);
	json_decref(out);
	return cli_errstr(argv[0], NULL, err);
}

const struct aemp_cmd cmd_import_perl_entry = {
	"import-perl", NULL, 0, 1, "[FILE]",
	"merge the reference's JSON configuration (default "
	"~/.perl-anyevent-mp) into the store",
	CMD_WRITE, NULL, cmd_import_perl_exec
};
const struct aemp_cmd cmd_export_entry = {
	"export", NULL, 0, 0, "",
	"print the store in the reference's JSON format",
	CMD_READ, NULL, cmd_export_exec
};

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * cmd-profile.c: selecting, deleting, inheriting and showing profiles,
 * and showing the effective configuration a node would use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int
cmd_profile_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	char *err = NULL;

	(void)self; (void)argc;
	if (argv[1][0] == '\0')
		return cli_error(argv[0], "empty profile name");
	if (ae_store_add_profile(cli->c_store, argv[1], &err) != 0)
		return cli_errstr(argv[0], NULL, err);
	cli->c_profile = argv[1];
	return 0;
}

static int
cmd_setparent_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	char *err = NULL;
	json_t *v;
	int rc;

	(void)argc;
	if (argv[1][0] == '\0')
		return cli_error(argv[0], "empty profile name");
	if (cli->c_profile == NULL)
		return cli_error(argv[0], "the global default configuration "
		    "cannot have a parent (use: aemp profile NAME %s %s)",
		    argv[0], argv[1]);
	v = json_string(argv[1]);
	rc = ae_store_set(cli->c_store, cli->c_profile, self->key, v, &err);
	json_decref(v);
	return rc != 0 ? cli_errstr(argv[0], self->key, err) : 0;
}

static int
cmd_delprofile_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	char *err = NULL;

	(void)self; (void)argc;
	if (argv[1][0] == '\0')
		return cli_error(argv[0], "empty profile name");
	if (ae_store_del_profile(cli->c_store, argv[1], &err) != 0)
		return cli_errstr(argv[0], NULL, err);
	return 0;
}

static int
cmd_showprofile_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	char *err = NULL;
	json_t *o;
	int rc;

	(void)self; (void)argc;
	if (argv[1][0] == '\0')
		return cli_error(argv[0], "empty profile name");
	/* Like the reference, a missing profile shows as {}. */
	if ((o = ae_store_get(cli->c_store, argv[1], &err)) == NULL)
		return cli_errstr(argv[0], NULL, err);
	rc = cli_print_json(argv[0], o);
	json_decref(o);
	return rc;
}

static int
cmd_showconfig_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;
	json_t *args = NULL, *res;
	char *err = NULL;
	int rc;

	(void)self;
	if (name != NULL && *name == '\0')
		return cli_error(argv[0], "empty profile name");
	if (argc > 2) {
		if ((args = ae_config_args(argc - 2, argv + 2, &err)) == NULL)
			return cli_errstr(argv[0], NULL, err);
		/* NAME says which profile; "profile" here would be noise. */
		json_object_del(args, "profile");
	}
	res = ae_store_effective_in(cli->c_store, name, args, &err);
	json_decref(args);
	if (res == NULL)
		return cli_errstr(argv[0], NULL, err);
	/* What a node uses; which profile it came from is the question. */
	json_object_del(res, "profile");
	rc = cli_print_json(argv[0], res);
	json_decref(res);
	return rc;
}

const struct aemp_cmd cmd_profile_entry = {
	"profile", NULL, 1, 1, "NAME",
	"make the following commands act on profile NAME (created if needed)",
	CMD_WRITE, NULL, cmd_profile_exec
};
const struct aemp_cmd cmd_setparent_entry = {
	"setparent", "parent", 1, 1, "NAME",
	"inherit what the profile does not set from profile NAME",
	CMD_WRITE, "parent", cmd_setparent_exec
};
const struct aemp_cmd cmd_delparent_entry = {
	"delparent", NULL, 0, 0, "",
	"inherit from the global default configuration only",
	CMD_WRITE, "parent", cmd_del_exec
};
const struct aemp_cmd cmd_delprofile_entry = {
	"delprofile", NULL, 1, 1, "NAME",
	"delete profile NAME and everything in it",
	CMD_WRITE, NULL, cmd_delprofile_exec
};
const struct aemp_cmd cmd_showprofile_entry = {
	"showprofile", NULL, 1, 1, "NAME",
	"print the keys set in profile NAME itself (JSON)",
	CMD_READ, NULL, cmd_showprofile_exec
};
const struct aemp_cmd cmd_showconfig_entry = {
	"showconfig", NULL, 0, -1, "[NAME [KEY VALUE]...]",
	"print the effective configuration of NAME (JSON; default: "
	"$AEMP_PROFILE, else the host name); KEY VALUE pairs act as "
	"configure arguments",
	CMD_READ, NULL, cmd_showconfig_exec
};

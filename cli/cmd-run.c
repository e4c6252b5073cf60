/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * cmd-run.c: run a node: aemp becomes aempd (exec), which gets the
 * configure arguments.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "xmalloc.h"

/* aempd next to this aemp (so a build tree runs its own), or NULL. */
static char *
sibling_aempd(void)
{
	char buf[PATH_MAX], *slash, *path;
	ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);

	if (len <= 0)
		return NULL;
	buf[len] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return NULL;
	*slash = '\0';
	if (asprintf(&path, "%s/aempd", buf) < 0)
		return NULL;
	if (access(path, X_OK) == 0)
		return path;
	free(path);
	return NULL;
}

/*
 * The arguments as aempd will read them, checked now so that a typo is
 * reported before anything is committed: aempd options pass through, an
 * odd number of the rest starts with a profile name, and the pairs must
 * be configure arguments.
 */
static int
check_args(const char *cmd, int argc, char **argv)
{
	char **pairs = ae_xcalloc((size_t)argc + 2, sizeof *pairs), *err = NULL;
	int i, n = 0;
	json_t *args;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--insecure") == 0)
			continue;
		if (strcmp(argv[i], "--warnlevel-file") == 0 ||
		    strcmp(argv[i], "--profile") == 0) {
			if (i + 1 >= argc) {
				free(pairs);
				return cli_error(cmd, "%s: missing argument",
				    argv[i]);
			}
			if (argv[i][2] == 'p') {
				pairs[n++] = "profile";
				pairs[n++] = argv[i + 1];
			}
			i++;
			continue;
		}
		if (strncmp(argv[i], "--", 2) == 0) {
			free(pairs);
			return cli_error(cmd, "unknown aempd option %s",
			    argv[i]);
		}
		pairs[n++] = argv[i];
	}
	if (ae_config_odd_start(n, pairs, &err) < 0) {
		free(pairs);
		return cli_errstr(cmd, NULL, err);
	}
	if (n % 2 == 1) {
		memmove(pairs + 1, pairs, (size_t)n * sizeof *pairs);
		pairs[0] = "profile";
		n++;
	}
	args = ae_config_args(n, pairs, &err);
	free(pairs);
	if (args == NULL)
		return cli_errstr(cmd, NULL, err);
	json_decref(args);
	return 0;
}

/*
 * aempd reads the store itself, so what the commands before run changed
 * is committed first; after that, a failure cannot undo it, and says so.
 */
static int
cmd_run_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	char **av, *path, *err = NULL;
	int i;

	(void)self;
	if (check_args(argv[0], argc - 1, argv + 1) < 0)
		return -1;
	if (cli->c_store != NULL) {
		if (ae_store_commit(cli->c_store, &err) != 0)
			return cli_errstr(argv[0], NULL, err);
		ae_store_close(cli->c_store);
		cli->c_store = NULL;
	}
	av = ae_xcalloc((size_t)argc + 1, sizeof *av);
	av[0] = "aempd";
	for (i = 1; i < argc; i++)
		av[i] = argv[i];
	fflush(stdout);
	fflush(stderr);
	if ((path = sibling_aempd()) != NULL)
		execv(path, av);
	else
		execvp("aempd", av);
	cli_error(argv[0], "cannot execute %s: %s", path ? path : "aempd "
	    "(not next to aemp, nor on PATH)", strerror(errno));
	free(path);
	free(av);
	/* earlier commands were committed: "nothing was changed" would lie */
	exit(1);
}

const struct aemp_cmd cmd_run_entry = {
	"run", NULL, 0, -1, "[PROFILE] [KEY VALUE...]",
	"run a node: execute aempd with these configure arguments (e.g. "
	"'run profile seed'), after committing the commands before it",
	0, NULL, cmd_run_exec
};

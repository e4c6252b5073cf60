/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * aemp.c: the aemp command-line tool's main: the command table, the
 * dispatcher that chains commands into one store transaction, and help.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aemp.h"
#include "cli.h"
#include "xmalloc.h"

/* Exit statuses: see aemp(1). */
#define EXIT_FAILED	1	/* a command failed: nothing was written */
#define EXIT_USAGE	2	/* the command line could not be understood */

/* Where --help starts the description of each command. */
#define HELP_COL	30

static int cmd_help_exec(struct cli *, const struct aemp_cmd *, int,
    char **);

static const struct aemp_cmd cmd_help_entry = {
	"help", NULL, 0, 1, "[COMMAND]",
	"describe COMMAND, or list all commands", 0, NULL, cmd_help_exec
};

/*
 * The commands, in the order --help lists them. Adding one is a file
 * with its entry and two lines here.
 */
extern const struct aemp_cmd cmd_setnodeid_entry, cmd_delnodeid_entry;
extern const struct aemp_cmd cmd_gensecret_entry, cmd_setsecret_entry;
extern const struct aemp_cmd cmd_delsecret_entry;
extern const struct aemp_cmd cmd_gencert_entry, cmd_setcert_entry;
extern const struct aemp_cmd cmd_delcert_entry;
extern const struct aemp_cmd cmd_setseeds_entry, cmd_delseeds_entry;
extern const struct aemp_cmd cmd_addseed_entry, cmd_delseed_entry;
extern const struct aemp_cmd cmd_setbinds_entry, cmd_delbinds_entry;
extern const struct aemp_cmd cmd_addbind_entry, cmd_delbind_entry;
extern const struct aemp_cmd cmd_setservices_entry, cmd_delservices_entry;
extern const struct aemp_cmd cmd_addservice_entry, cmd_delservice_entry;
extern const struct aemp_cmd cmd_profile_entry, cmd_setparent_entry;
extern const struct aemp_cmd cmd_delparent_entry, cmd_delprofile_entry;
extern const struct aemp_cmd cmd_showprofile_entry, cmd_showconfig_entry;
extern const struct aemp_cmd cmd_setmonitor_timeout_entry;
extern const struct aemp_cmd cmd_delmonitor_timeout_entry;
extern const struct aemp_cmd cmd_setmax_packet_entry;
extern const struct aemp_cmd cmd_delmax_packet_entry;
extern const struct aemp_cmd cmd_setmax_queue_entry;
extern const struct aemp_cmd cmd_delmax_queue_entry;
extern const struct aemp_cmd cmd_setconnect_interval_entry;
extern const struct aemp_cmd cmd_delconnect_interval_entry;
extern const struct aemp_cmd cmd_setframing_format_entry;
extern const struct aemp_cmd cmd_delframing_format_entry;
extern const struct aemp_cmd cmd_setauth_offer_entry;
extern const struct aemp_cmd cmd_delauth_offer_entry;
extern const struct aemp_cmd cmd_setauth_accept_entry;
extern const struct aemp_cmd cmd_delauth_accept_entry;
extern const struct aemp_cmd cmd_setautocork_entry, cmd_delautocork_entry;
extern const struct aemp_cmd cmd_setnodelay_entry, cmd_delnodelay_entry;
extern const struct aemp_cmd cmd_setstatus_bind_entry;
extern const struct aemp_cmd cmd_delstatus_bind_entry;
extern const struct aemp_cmd cmd_setstatus_token_entry;
extern const struct aemp_cmd cmd_delstatus_token_entry;
extern const struct aemp_cmd cmd_top_entry;
extern const struct aemp_cmd cmd_import_perl_entry, cmd_export_entry;
extern const struct aemp_cmd cmd_snd_entry, cmd_cal_entry, cmd_mon_entry;
extern const struct aemp_cmd cmd_eval_entry, cmd_trace_entry;
extern const struct aemp_cmd cmd_shell_entry;
extern const struct aemp_cmd cmd_run_entry, cmd_restart_entry;
extern const struct aemp_cmd cmd_log_entry;

const struct aemp_cmd *const aemp_cmd_table[] = {
	&cmd_snd_entry,
	&cmd_cal_entry,
	&cmd_mon_entry,
	&cmd_eval_entry,
	&cmd_trace_entry,
	&cmd_top_entry,
	&cmd_shell_entry,
	&cmd_run_entry,
	&cmd_restart_entry,
	&cmd_log_entry,
	&cmd_setnodeid_entry,
	&cmd_delnodeid_entry,
	&cmd_gensecret_entry,
	&cmd_setsecret_entry,
	&cmd_delsecret_entry,
	&cmd_gencert_entry,
	&cmd_setcert_entry,
	&cmd_delcert_entry,
	&cmd_setseeds_entry,
	&cmd_delseeds_entry,
	&cmd_addseed_entry,
	&cmd_delseed_entry,
	&cmd_setbinds_entry,
	&cmd_delbinds_entry,
	&cmd_addbind_entry,
	&cmd_delbind_entry,
	&cmd_setservices_entry,
	&cmd_delservices_entry,
	&cmd_addservice_entry,
	&cmd_delservice_entry,
	&cmd_profile_entry,
	&cmd_setparent_entry,
	&cmd_delparent_entry,
	&cmd_delprofile_entry,
	&cmd_showprofile_entry,
	&cmd_showconfig_entry,
	&cmd_setmonitor_timeout_entry,
	&cmd_delmonitor_timeout_entry,
	&cmd_setmax_packet_entry,
	&cmd_delmax_packet_entry,
	&cmd_setmax_queue_entry,
	&cmd_delmax_queue_entry,
	&cmd_setconnect_interval_entry,
	&cmd_delconnect_interval_entry,
	&cmd_setframing_format_entry,
	&cmd_delframing_format_entry,
	&cmd_setauth_offer_entry,
	&cmd_delauth_offer_entry,
	&cmd_setauth_accept_entry,
	&cmd_delauth_accept_entry,
	&cmd_setautocork_entry,
	&cmd_delautocork_entry,
	&cmd_setnodelay_entry,
	&cmd_delnodelay_entry,
	&cmd_setstatus_bind_entry,
	&cmd_delstatus_bind_entry,
	&cmd_setstatus_token_entry,
	&cmd_delstatus_token_entry,
	&cmd_import_perl_entry,
	&cmd_export_entry,
	&cmd_help_entry,
	NULL
};

/* One command of the chain with its arguments (argv[0] is its name). */
struct call {
	const struct aemp_cmd	*cl_cmd;
	int			 cl_argc;
	char			**cl_argv;
};

const struct aemp_cmd *
cli_find(const char *name)
{
	const struct aemp_cmd *const *c;

	for (c = aemp_cmd_table; *c != NULL; c++)
		if (strcmp((*c)->name, name) == 0 ||
		    ((*c)->alias != NULL && strcmp((*c)->alias, name) == 0))
			return *c;
	return NULL;
}

int
cli_error(const char *name, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);		/* keep what was printed before in order */
	fprintf(stderr, "aemp: ");
	if (name != NULL)
		fprintf(stderr, "%s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

int
cli_errstr(const char *name, const char *key, char *err)
{
	const char *msg = err != NULL ? err : "out of memory";
	size_t len = key != NULL ? strlen(key) : 0;

	if (key != NULL && strncmp(msg, key, len) == 0 &&
	    strncmp(msg + len, ": ", 2) == 0 && name != NULL &&
	    strstr(name, key) != NULL)
		msg += len + 2;
	cli_error(name, "%s", msg);
	free(err);
	return -1;
}

int
cli_print_json(const char *name, json_t *v)
{
	/* Three-space indent: what the reference's JSON::XS pretty prints. */
	char *s = json_dumps(v, JSON_INDENT(3) | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));

	if (s == NULL)
		return cli_error(name, "out of memory");
	printf("%s\n", s);
	free(s);
	/* An export that did not reach its file must not look successful. */
	if (fflush(stdout) != 0 || ferror(stdout))
		return cli_error(name, "standard output: %s", strerror(errno));
	return 0;
}

/* The name of the first argument missing from usage: "NAME" of "NAME". */
static void
missing_arg(const struct aemp_cmd *cmd, int have)
{
	const char *p = cmd->usage;
	size_t len;
	int i;

	/* options such as "[--timeout SECONDS]" are not counted */
	while (strncmp(p, "[-", 2) == 0 && strchr(p, ']') != NULL)
		p = strchr(p, ']') + 1 + strspn(strchr(p, ']') + 1, " ");
	for (i = 0; *p != '\0'; i++) {
		p += strspn(p, " [");
		len = strcspn(p, " []");
		if (i == have) {
			cli_error(cmd->name, "missing argument %.*s", (int)len,
			    p);
			return;
		}
		p += len;
		p += strspn(p, "]");
	}
	cli_error(cmd->name, "missing argument");
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: aemp COMMAND [ARGUMENT...] [COMMAND [ARGUMENT...]]...\n"
	    "       aemp '[\"COMMAND\", \"ARGUMENT\", ...]'\n"
	    "       aemp --help | help COMMAND | --version\n");
}

/* Print text from column col, wrapped at 79 columns, indented to col. */
static void
print_wrapped(const char *text, int col)
{
	int at = col, len;

	while (*text != '\0') {
		len = (int)strcspn(text, " ");
		if (at > col && at + 1 + len > 79) {
			printf("\n%*s", col, "");
			at = col;
		} else if (at > col) {
			putchar(' ');
			at++;
		}
		printf("%.*s", len, text);
		at += len;
		text += len;
		text += strspn(text, " ");
	}
	putchar('\n');
}

static void
help_all(void)
{
	const struct aemp_cmd *const *c;
	char left[64], *text;
	int n;

	usage(stdout);
	printf("\n");
	print_wrapped("Commands chain: each takes its arguments, the next word "
	    "starts the next command, and all of them succeed or none changes "
	    "the store. Without a preceding \"profile NAME\" they act on the "
	    "global default configuration. Every setX is also callable as X. "
	    "Arguments starting with [, { or \" are JSON. The store is "
	    "$AEMP_RC, else $XDG_CONFIG_HOME/aemp/aemp.db, else "
	    "~/.config/aemp/aemp.db. See aemp(1) and aemp-profiles(5).", 0);
	printf("\n");
	for (c = aemp_cmd_table; *c != NULL; c++) {
		n = snprintf(left, sizeof left, "  %s%s%s", (*c)->name,
		    *(*c)->usage ? " " : "", (*c)->usage);
		printf("%-*s", HELP_COL, left);
		if (n >= HELP_COL)
			printf("\n%*s", HELP_COL, "");
		if ((*c)->alias != NULL) {
			if (asprintf(&text, "%s (also: %s)", (*c)->help,
			    (*c)->alias) < 0)
				text = NULL;
			print_wrapped(text ? text : (*c)->help, HELP_COL);
			free(text);
		} else
			print_wrapped((*c)->help, HELP_COL);
	}
}

static int
cmd_help_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	const struct aemp_cmd *cmd;

	(void)cli;
	if (argc < 2) {
		help_all();
		return 0;
	}
	if ((cmd = cli_find(argv[1])) == NULL)
		return cli_error(self->name, "unknown command '%s' (try "
		    "'aemp --help')", argv[1]);
	printf("usage: aemp %s%s%s\n  %s\n", cmd->name, *cmd->usage ? " " : "",
	    cmd->usage, cmd->help);
	if (cmd->alias != NULL)
		printf("  also callable as: %s\n", cmd->alias);
	if (cmd->flags & CMD_WRITE)
		printf("  changes the profile store\n");
	return 0;
}

/*
 * A first argument starting with '[' is the whole command line as a JSON
 * array of strings, which spares scripts a round of shell quoting.
 */
static char **
json_argv(const char *text, int *argc)
{
	json_error_t je;
	json_t *a, *e;
	char **argv;
	size_t i;

	if ((a = json_loads(text, 0, &je)) == NULL || !json_is_array(a)) {
		if (a == NULL)
			cli_error(NULL, "invalid JSON argument list at line %d, "
			    "column %d, position %d: %s", je.line, je.column,
			    je.position, je.text);
		else
			cli_error(NULL, "the JSON argument list must be an "
			    "array of strings");
		json_decref(a);
		return NULL;
	}
	argv = ae_xcalloc(json_array_size(a) + 1, sizeof *argv);
	json_array_foreach(a, i, e) {
		if (!json_is_string(e)) {
			cli_error(NULL, "the JSON argument list must be an "
			    "array of strings (element %zu is not)", i);
			while (i-- > 0)
				free(argv[i]);
			free(argv);
			json_decref(a);
			return NULL;
		}
		argv[i] = ae_xstrdup(json_string_value(e));
	}
	*argc = (int)json_array_size(a);
	json_decref(a);
	return argv;
}

/* Split the words into calls; on a usage error say so and return -1. */
static int
parse_chain(int argc, char **argv, struct call *calls, int *ncalls)
{
	const struct aemp_cmd *cmd;
	int i = 0, avail, take;

	*ncalls = 0;
	while (i < argc) {
		if ((cmd = cli_find(argv[i])) == NULL) {
			cli_error(NULL, "unknown command '%s' (try 'aemp "
			    "--help')", argv[i]);
			return -1;
		}
		avail = argc - i - 1;
		if (avail < cmd->min_args) {
			missing_arg(cmd, avail);
			return -1;
		}
		take = cmd->max_args < 0 || cmd->max_args > avail ? avail :
		    cmd->max_args;
		calls[*ncalls].cl_cmd = cmd;
		calls[*ncalls].cl_argc = take + 1;
		calls[*ncalls].cl_argv = argv + i;
		(*ncalls)++;
		i += take + 1;
	}
	return 0;
}

/* Run the chain in one store transaction; returns the exit status. */
static int
run_chain(struct call *calls, int ncalls)
{
	struct cli cli = { NULL, NULL, 0 };
	int i, flags = 0, status = 0;
	char *err = NULL;

	for (i = 0; i < ncalls; i++)
		flags |= calls[i].cl_cmd->flags;
	if (flags & (CMD_READ | CMD_WRITE)) {
		cli.c_store = ae_store_open(NULL, (flags & CMD_WRITE) ?
		    AEMP_STORE_WRITE : AEMP_STORE_READ, &err);
		if (cli.c_store == NULL) {
			cli_errstr(NULL, NULL, err);
			return EXIT_FAILED;
		}
		if ((err = ae_store_mode_warning(ae_store_file(
		    cli.c_store))) != NULL) {
			cli_error(NULL, "%s", err);
			free(err);
			err = NULL;
		}
	}
	for (i = 0; i < ncalls; i++) {
		if (calls[i].cl_cmd->exec(&cli, calls[i].cl_cmd,
		    calls[i].cl_argc, calls[i].cl_argv) != 0) {
			status = EXIT_FAILED;
			break;
		}
	}
	if (status == 0 && cli.c_store != NULL &&
	    ae_store_commit(cli.c_store, &err) != 0) {
		cli_errstr(NULL, NULL, err);
		status = EXIT_FAILED;
	}
	if (status != 0 && (flags & CMD_WRITE))
		cli_error(NULL, "nothing was changed");
	ae_store_close(cli.c_store);
	return status;
}

int
main(int argc, char **argv)
{
	struct call *calls;
	char **words = argv + 1, **owned = NULL;
	int nwords = argc - 1, ncalls, status, i;

	if (nwords < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(words[0], "--help") == 0 || strcmp(words[0], "-h") == 0) {
		help_all();
		return 0;
	}
	if (strcmp(words[0], "--version") == 0 || strcmp(words[0], "-V") == 0) {
		printf("aemp %s (AnyEvent::MP 1.30 compatible)\n",
		    AEMP_VERSION);
		return 0;
	}
	if (words[0][0] == '[') {
		if (nwords > 1) {
			cli_error(NULL, "a JSON argument list must be the only "
			    "argument");
			return EXIT_USAGE;
		}
		if ((owned = json_argv(words[0], &nwords)) == NULL)
			return EXIT_USAGE;
		/* the secret is somewhere in that text: all of it goes */
		if (ae_args_have_secret(nwords, owned))
			memset(argv[1], '*', strlen(argv[1]));
		words = owned;
		if (nwords < 1) {
			usage(stderr);
			free(owned);
			return EXIT_USAGE;
		}
	}
	if (owned == NULL) {
		/* our own copy, so that the secret can leave argv (ps) */
		owned = ae_xcalloc((size_t)nwords + 1, sizeof *owned);
		for (i = 0; i < nwords; i++)
			owned[i] = ae_xstrdup(words[i]);
		words = owned;
		ae_scrub_secret_args(argc, argv);
	}
	calls = calloc(nwords, sizeof *calls);
	if (calls == NULL || parse_chain(nwords, words, calls, &ncalls) != 0)
		status = calls == NULL ? EXIT_FAILED : EXIT_USAGE;
	else
		status = run_chain(calls, ncalls);
	free(calls);
	if (owned != NULL) {
		for (i = 0; i < nwords; i++)
			free(owned[i]);
		free(owned);
	}
	return status;
}

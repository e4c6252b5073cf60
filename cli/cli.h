/*
 * cli.h: what the aemp command files share: the command entry, the state
 * of one invocation, and the helpers for printing results and errors.
 */
#ifndef AEMP_CLI_H
#define AEMP_CLI_H

#include <jansson.h>

#include "store.h"

/* The state of one invocation, handed to every command in the chain. */
struct cli {
	aemp_store	*c_store;	/* NULL for commands without CMD_READ */
	const char	*c_profile;	/* NULL: the global default config */
	double		 c_timeout;	/* --timeout of a network command, or 0 */
};

struct aemp_cmd;
typedef int (*aemp_cmd_fn)(struct cli *, const struct aemp_cmd *, int,
    char **);

/*
 * One command. The dispatcher gives exec argv[0] (the name as typed) and
 * between min_args and max_args arguments, as many as are left, so that
 * commands chain: "aemp profile x binds 4040 nodeid anon/".
 * exec returns 0, or -1 after printing an error.
 */
struct aemp_cmd {
	const char	*name;
	const char	*alias;		/* "binds" for "setbinds", or NULL */
	int		 min_args;
	int		 max_args;	/* -1: everything that follows */
	const char	*usage;		/* the arguments: "NAME", "[FILE]" */
	const char	*help;		/* one line for --help */
	int		 flags;
#define CMD_READ	0x1		/* needs the profile store */
#define CMD_WRITE	0x2		/* changes it: one transaction */
	const char	*key;		/* the configuration key, or NULL */
	aemp_cmd_fn	 exec;
};

/* The command table (aemp.c), NULL-terminated. */
extern const struct aemp_cmd *const aemp_cmd_table[];

/* A command by name or alias, or NULL. */
const struct aemp_cmd *cli_find(const char *);

/* "aemp: NAME: message" on stderr; returns -1 for "return cli_error()". */
int	 cli_error(const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * The same with a message from the store (freed here). A leading "KEY: "
 * is dropped when NAME already says which key it is about.
 */
int	 cli_errstr(const char *name, const char *key, char *err);
/* The exec of every delX command: removes self->key. */
int	 cmd_del_exec(struct cli *, const struct aemp_cmd *, int, char **);
/* Pretty JSON with sorted keys and a newline on stdout. */
int	 cli_print_json(const char *name, json_t *);

#endif

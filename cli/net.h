/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * net.h: what the aemp commands that talk to a network share: an
 * anonymous node configured from the "aemp" profile, a deadline, message
 * arguments, and the reference's output formats.
 */
#ifndef AEMP_CLI_NET_H
#define AEMP_CLI_NET_H

#include "aemp.h"
#include "cli.h"

/* How long a network command waits for an answer (the reference's 5 s). */
#define NET_TIMEOUT	5.0
/* The profile network commands run as, and the node ID they default to. */
#define NET_PROFILE	"aemp"
#define NET_NODEID	"anon/"
/* What a C node answers to eval (AEMP.md section 5). */
#define NET_NO_EVAL	"eval is not supported by this node"
/*
 * The eval that asks whether a node evaluates Perl: a Perl node answers
 * ["", 1], a C node NET_NO_EVAL and logs it as a probe, not as a refused
 * eval (see kernel.c).
 */
#define NET_EVAL_PROBE	"1"

struct net {
	aemp_node	*nt_node;
	const char	*nt_cmd;	/* the command, for messages */
	char		*nt_target;	/* the node the command talks to */
	aemp_timer	*nt_timer;	/* the deadline */
	char		*nt_what;	/* what the deadline waits for */
	int		 nt_status;	/* exit status: 0 or 1 */
	int		 nt_done;
	int		 nt_seeds;	/* seeds configured */
	int		 nt_secret;	/* a shared secret is configured */
	double		 nt_timeout;	/* --timeout, else NET_TIMEOUT */
	char		*nt_hint;	/* what probably happened, for a timeout */
};

/*
 * A network command's "--timeout SECONDS" right after its name: taken out
 * of *argc / *argv (argv[0] stays the command name) into cli->c_timeout.
 * Then at least min_args arguments must be left. Prints an error and
 * returns -1 when not.
 */
int	 net_options(struct cli *, int *argc, char ***argv, int min_args);

/*
 * Becomes an anonymous node: the effective configuration of profile
 * "aemp" (seeds, secret, ...) from the open store, with the node ID and
 * binds that profile sets itself, else "anon/" and no listener. Prints
 * an error and returns -1 on failure, and at once when no seeds are
 * configured (no node could ever be reached).
 */
int	 net_open(struct net *, struct cli *, const char *cmd);
void	 net_close(struct net *);
/* Runs the node until net_finish(); returns the exit status. */
int	 net_run(struct net *);
void	 net_finish(struct net *, int status);
/*
 * (Re)arms the deadline: nt_timeout seconds from now the command fails
 * with "cannot reach node TARGET" if that node never came up, else with
 * "WHAT within N seconds" and the hint, if set. what NULL disarms it.
 */
void	 net_deadline(struct net *, const char *what, ...)
	    __attribute__((format(printf, 2, 3)));
/* The node the command talks to, for the deadline's message. */
void	 net_target(struct net *, const char *port);

/* Whether port looks like NODE or NODE#NAME; else prints why. */
int	 net_check_port(const char *cmd, const char *port);
/* Message elements from arguments: JSON if they look like it, else strings. */
json_t	*net_args(const char *cmd, int argc, char **argv);
/* The reference's "join ' ', @msg, \"\\n\"": used by snd and mon. */
void	 net_print_words(json_t *list);
/* The reference's JSON without the brackets: used by cal and eval. */
void	 net_print_json(json_t *list);
/*
 * A kill reason as a message: the text of ["die", TEXT] (how a node says
 * a request failed), else the elements joined by spaces. Free it.
 */
char	*net_reason(json_t *reason);

#endif

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * cmd-log.c: aemp log [LEVEL] [--follow]: an anonymous node catches the
 * log lines of every node of the network (AEMP-TLS-EXT.md 12.3), those
 * that come up later too, and prints them on stdout, one line each:
 * "YYYY-MM-DD HH:MM:SS [NODEID] <LEVEL> TEXT".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "logcatcher.h"
#include "net.h"

#define LOG_DEFAULT_LEVEL	7
#define LOG_WAIT		3.0	/* seconds without --follow */

static void
done_waiting(aemp_node *n, void *ud)
{
	(void)n;
	net_finish(ud, 0);
}

static void
interrupted(evutil_socket_t sig, short what, void *ud)
{
	(void)sig; (void)what;
	net_finish(ud, 0);
}

static int
cmd_log_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	struct net nt;
	struct event *sigint = NULL, *sigterm = NULL;
	int level = LOG_DEFAULT_LEVEL, follow = 0, i, rc;

	(void)self;
	for (i = 1; i < argc; i++) {
		char *end;
		long v;
		if (strcmp(argv[i], "--follow") == 0 ||
		    strcmp(argv[i], "-f") == 0) {
			follow = 1;
			continue;
		}
		v = strtol(argv[i], &end, 10);
		if (*argv[i] == '\0' || *end != '\0' || v < 0 || v > 9)
			return cli_error(argv[0], "'%s' is not a log level "
			    "(0..9) or --follow", argv[i]);
		level = (int)v;
	}
	if ((rc = net_open(&nt, cli, argv[0])) == 0) {
		struct event_base *base = aemp_base(nt.nt_node);
		aemp_log_catch(nt.nt_node, level, ae_logcatcher_print, stdout);
		if (follow) {
			sigint = evsignal_new(base, SIGINT, interrupted, &nt);
			sigterm = evsignal_new(base, SIGTERM, interrupted, &nt);
			event_add(sigint, NULL);
			event_add(sigterm, NULL);
		} else
			aemp_after(nt.nt_node, LOG_WAIT, done_waiting, &nt);
		rc = net_run(&nt);
		if (sigint != NULL)
			event_free(sigint);
		if (sigterm != NULL)
			event_free(sigterm);
	} else
		rc = 1;
	net_close(&nt);
	return rc == 0 ? 0 : -1;
}

const struct aemp_cmd cmd_log_entry = {
	"log", NULL, 0, 2, "[LEVEL] [--follow]",
	"print the log lines at or below LEVEL (default 7) of every node of "
	"the network as an anonymous node, for 3 seconds or with --follow "
	"until interrupted",
	CMD_READ, NULL, cmd_log_exec
};

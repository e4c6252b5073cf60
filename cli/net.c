/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * net.c: the anonymous node behind aemp's network commands, their
 * deadline, and the ways the reference prints what comes back.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "net.h"
#include "xmalloc.h"

/* The anonymous node's configuration, for aemp_configure() with norc. */
static json_t *
net_config(struct cli *cli, char **err)
{
	json_t *own, *eff;

	own = ae_store_get(cli->c_store, NET_PROFILE, err);
	if (own == NULL)
		return NULL;
	eff = ae_store_effective_in(cli->c_store, NET_PROFILE, NULL, err);
	if (eff == NULL) {
		json_decref(own);
		return NULL;
	}
	/*
	 * The global configuration usually names the host's own node and
	 * its listeners: inheriting them would clash with the node running
	 * there. Only what the "aemp" profile sets itself counts.
	 */
	if (json_object_get(own, "nodeid") == NULL)
		json_object_set_new(eff, "nodeid", json_string(NET_NODEID));
	if (json_object_get(own, "binds") == NULL)
		json_object_set_new(eff, "binds", json_array());
	json_object_set_new(eff, "norc", json_true());
	json_decref(own);
	return eff;
}

int
net_open(struct net *nt, struct cli *cli, const char *cmd)
{
	json_t *config;
	char *err = NULL;

	memset(nt, 0, sizeof *nt);
	nt->nt_cmd = cmd;
	if ((config = net_config(cli, &err)) == NULL)
		return cli_errstr(cmd, NULL, err);
	nt->nt_seeds = (int)json_array_size(json_object_get(config, "seeds"));
	nt->nt_secret = json_is_string(json_object_get(config, "secret"));
	nt->nt_timeout = cli->c_timeout > 0 ? cli->c_timeout : NET_TIMEOUT;
	if (nt->nt_seeds == 0) {
		/* an anonymous node finds other nodes only through seeds */
		json_decref(config);
		return cli_error(cmd, "no seeds are configured for profile "
		    NET_PROFILE ", so no node can be reached (see 'aemp "
		    "seeds')");
	}
	if ((nt->nt_node = aemp_configure(NULL, config, &err)) == NULL)
		return cli_errstr(cmd, NULL, err);
	return 0;
}

void
net_close(struct net *nt)
{
	aemp_timer_cancel(nt->nt_node, nt->nt_timer);
	nt->nt_timer = NULL;
	aemp_free(nt->nt_node);
	nt->nt_node = NULL;
	free(nt->nt_target);
	free(nt->nt_what);
	free(nt->nt_hint);
}

int
net_options(struct cli *cli, int *argc, char ***argv, int min_args)
{
	char **av = *argv, *end;
	double t;

	if (*argc >= 2 && strcmp(av[1], "--timeout") == 0) {
		if (*argc < 3)
			return cli_error(av[0], "--timeout: missing SECONDS");
		t = strtod(av[2], &end);
		if (!isdigit((unsigned char)av[2][0]) || *end != '\0' ||
		    !isfinite(t) || t <= 0 || t > 86400)
			return cli_error(av[0], "--timeout: '%s' is not a number "
			    "of seconds (more than 0, at most 86400)", av[2]);
		cli->c_timeout = t;
		/* swapped, not copied: every word stays owned once */
		end = av[2];
		av[2] = av[0];
		av[0] = end;
		*argv = av + 2;
		*argc -= 2;
		av = *argv;
	}
	if (*argc - 1 < min_args)
		return cli_error(av[0], "missing argument (see 'aemp %s "
		    "--help')", av[0]);
	return 0;
}

int
net_run(struct net *nt)
{
	aemp_loop(nt->nt_node);
	if (!nt->nt_done) {
		cli_error(nt->nt_cmd, "nothing left to wait for");
		return 1;
	}
	fflush(stdout);
	return nt->nt_status;
}

void
net_finish(struct net *nt, int status)
{
	if (nt->nt_done)
		return;
	nt->nt_done = 1;
	nt->nt_status = status;
	aemp_loopexit(nt->nt_node);
}

void
net_target(struct net *nt, const char *port)
{
	free(nt->nt_target);
	nt->nt_target = aemp_node_of(port);
}

static void
deadline_passed(aemp_node *n, void *ud)
{
	struct net *nt = ud;

	nt->nt_timer = NULL;
	if (nt->nt_done)
		return;
	if (nt->nt_target != NULL && !aemp_node_is_up(n, nt->nt_target))
		cli_error(nt->nt_cmd, "cannot reach node %s within %g "
		    "seconds%s", nt->nt_target, nt->nt_timeout,
		    !nt->nt_secret ? " (no shared secret is configured: see "
		    "'aemp gensecret')" : "");
	else
		cli_error(nt->nt_cmd, "%s within %g seconds%s%s", nt->nt_what ?
		    nt->nt_what : "no answer", nt->nt_timeout,
		    nt->nt_hint ? " " : "", nt->nt_hint ? nt->nt_hint : "");
	net_finish(nt, 1);
}

void
net_deadline(struct net *nt, const char *what, ...)
{
	va_list ap;

	aemp_timer_cancel(nt->nt_node, nt->nt_timer);
	nt->nt_timer = NULL;
	free(nt->nt_what);
	nt->nt_what = NULL;
	if (what == NULL)
		return;
	va_start(ap, what);
	if (vasprintf(&nt->nt_what, what, ap) < 0)
		nt->nt_what = NULL;
	va_end(ap);
	nt->nt_timer = aemp_after(nt->nt_node, nt->nt_timeout,
	    deadline_passed, nt);
}

int
net_check_port(const char *cmd, const char *port)
{
	const char *hash = strchr(port, '#'), *p;

	if (*port == '\0' || *port == '#' ||
	    (hash != NULL && strchr(hash + 1, '#') != NULL))
		return cli_error(cmd, "'%s' is not a port ID (NODE or "
		    "NODE#PORT)", port);
	for (p = port; *p != '\0'; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return cli_error(cmd, "'%s' is not a port ID (it "
			    "contains white space or control characters)",
			    port);
	return 0;
}

json_t *
net_args(const char *cmd, int argc, char **argv)
{
	json_t *list = json_array(), *v;
	char *err = NULL;
	int i;

	for (i = 0; i < argc; i++) {
		if ((v = ae_json_arg(NULL, argv[i], &err)) == NULL) {
			cli_errstr(cmd, NULL, err);
			json_decref(list);
			return NULL;
		}
		json_array_append_new(list, v);
	}
	return list;
}

/*
 * The reference prints join(" ", @msg, "\n"): the elements and the line
 * end separated by spaces, so a non-empty list ends in " \n".
 */
void
net_print_words(json_t *list)
{
	char *words = aemp_words(list);

	/* "@msg" and then " \n" after a non-empty list */
	printf("%s%s\n", words, json_array_size(list) > 0 ? " " : "");
	free(words);
}

/* JSON::XS's compact encoding of the list, without the [ and ]. */
void
net_print_json(json_t *list)
{
	char *text = json_dumps(list, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(15));
	size_t len = text != NULL ? strlen(text) : 0;
	struct bytes perl = { NULL, 0, 0, 0 };

	/* a Perl string with a lone surrogate: its bytes, as JSON::XS */
	if (text == NULL && ae_perl_dump(list, &perl, 0) == 0 && perl.len >= 2)
		printf("%.*s\n", (int)(perl.len - 2), bytes_ptr(&perl) + 1);
	else if (len >= 2)
		printf("%.*s\n", (int)(len - 2), text + 1);
	else
		printf("\n");
	ae_bytes_free(&perl);
	free(text);
}

char *
net_reason(json_t *reason)
{
	const char *kind = json_string_value(json_array_get(reason, 0));
	const char *text = json_string_value(json_array_get(reason, 1));

	if (kind != NULL && strcmp(kind, "die") == 0 && text != NULL &&
	    json_array_size(reason) == 2)
		return ae_xstrdup(text);
	return aemp_words(reason);
}

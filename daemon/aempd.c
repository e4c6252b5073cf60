/*
 * aempd.c: the node daemon: runs a node from a profile until SIGINT or
 * SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aemp.h"
#include "store.h"

struct aempd {
	aemp_node	*node;
	struct event_base *base;
	int		 insecure;
	json_t		*args;		/* configure arguments */
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: aempd [--insecure] [--profile NAME] [KEY VALUE ...]\n"
"\n"
"Run an AnyEvent::MP compatible node from profile NAME (default: $AEMP_PROFILE,\n"
"else the host name) of the configuration store ($AEMP_RC), with KEY VALUE\n"
"pairs as configure arguments (profile, nodeid, secret, binds, seeds,\n"
"services, monitor_timeout, connect_interval, framing_format, auth_offer,\n"
"auth_accept, autocork, nodelay). The node stays in the foreground, logs to\n"
"stderr and exits cleanly on SIGINT or SIGTERM.\n"
"\n"
"The log level is $AEMP_WARNLEVEL, default 8 (start-up, listeners, nodes\n"
"going up and down); AEMP_TRACE=1 prints every packet.\n"
"\n"
"  --insecure   start even without a shared secret (no peer can authenticate)\n"
"  --help       this text\n"
"  --version    print the version\n");
}

static int
parse_args(struct aempd *d, int argc, char **argv)
{
	char **rest = calloc((size_t)argc + 2, sizeof *rest);
	int i, nrest = 0;
	char *err = NULL;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("aempd %s\n", AEMP_VERSION);
			exit(0);
		} else if (strcmp(argv[i], "--insecure") == 0)
			d->insecure = 1;
		else if (strcmp(argv[i], "--profile") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "aempd: --profile: missing "
				    "argument NAME\n");
				free(rest);
				return -1;
			}
			rest[nrest++] = "profile";
			rest[nrest++] = argv[++i];
		} else if (strncmp(argv[i], "--", 2) == 0) {
			fprintf(stderr, "aempd: unknown option %s (see aempd "
			    "--help)\n", argv[i]);
			free(rest);
			return -1;
		} else
			rest[nrest++] = argv[i];
	}
	d->args = aemp_config_args(nrest, rest, &err);
	free(rest);
	if (d->args == NULL) {
		fprintf(stderr, "aempd: %s\n", err ? err : "bad arguments");
		free(err);
		return -1;
	}
	return 0;
}

/* Refuses to run a node that no peer could ever authenticate. */
static int
check_secret(struct aempd *d)
{
	const char *profile = json_string_value(json_object_get(d->args,
	    "profile"));
	char *err = NULL;
	json_t *eff = aemp_store_effective(profile, d->args, &err);
	int ok;

	if (eff == NULL) {
		fprintf(stderr, "aempd: %s\n", err ? err : "configuration error");
		free(err);
		return -1;
	}
	ok = json_is_string(json_object_get(eff, "secret")) || d->insecure;
	if (!ok)
		fprintf(stderr, "aempd: profile '%s' has no shared secret, so no "
		    "node could authenticate to this one.\nSet one with: aemp "
		    "gensecret   (or start with --insecure)\n",
		    json_string_value(json_object_get(eff, "profile")));
	json_decref(eff);
	return ok ? 0 : -1;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct aempd *d = arg;

	(void)what;
	aemp_log(d->node, 7, "received signal %d, shutting down.", (int)sig);
	event_base_loopbreak(d->base);
}

int
main(int argc, char **argv)
{
	struct aempd d;
	struct event *sigint, *sigterm;
	char *err = NULL;

	memset(&d, 0, sizeof d);
	signal(SIGPIPE, SIG_IGN);
	/* a daemon's log should say where it listens and who comes and goes */
	if (getenv("AEMP_WARNLEVEL") == NULL &&
	    getenv("PERL_ANYEVENT_MP_WARNLEVEL") == NULL)
		setenv("AEMP_WARNLEVEL", "8", 1);
	if (parse_args(&d, argc, argv) < 0 || check_secret(&d) < 0)
		return 1;
	d.base = event_base_new();
	d.node = aemp_configure(d.base, d.args, &err);
	if (d.node == NULL) {
		fprintf(stderr, "aempd: %s\n", err ? err : "unable to start");
		free(err);
		event_base_free(d.base);
		return 1;
	}
	sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
	sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);
	event_base_dispatch(d.base);
	event_free(sigint);
	event_free(sigterm);
	aemp_free(d.node);
	event_base_free(d.base);
	return 0;
}

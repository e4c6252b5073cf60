/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * cmd-config.c: the commands that set, add to, remove from and delete one
 * configuration key of the selected profile (or the global default).
 */
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The reference's secret is 64 characters; ours come from getrandom(). */
#define SECRET_LEN	64

static int
cmd_set_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	char *err = NULL;
	json_t *v;
	int rc;

	(void)argc;
	if ((v = ae_config_value(self->key, argv[1], &err)) == NULL)
		return cli_errstr(argv[0], self->key, err);
	rc = ae_store_set(cli->c_store, cli->c_profile, self->key, v, &err);
	json_decref(v);
	return rc != 0 ? cli_errstr(argv[0], self->key, err) : 0;
}

/* delX: remove the key from the profile (or global configuration). */
int
cmd_del_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	char *err = NULL;

	(void)argc;
	if (ae_store_del(cli->c_store, cli->c_profile, self->key, &err) != 0)
		return cli_errstr(argv[0], self->key, err);
	return 0;
}

/*
 * addX and delX edit the list stored in the profile itself (not an
 * inherited one), as the reference does: addseed and addbind move an
 * existing equal entry to the end and delseed and delbind remove every
 * equal entry, so those lists hold no duplicates; services are instances
 * (aempd starts each entry, duplicates too), so addservice appends and
 * delservice removes the first equal entry only. Removing a missing
 * entry, or from a missing list, changes nothing. An added entry is
 * checked as a node reads it; one to remove only needs to be JSON, so
 * that a bad entry (imported, say) can still be removed.
 */
static int
edit_list(struct cli *cli, const struct aemp_cmd *self, char **argv,
    int add)
{
	json_t *own = NULL, *list, *item;
	char *err = NULL;
	size_t i;
	int changed = add, rc = -1;
	int instances = ae_key_type(self->key) == AEMP_KEY_SERVICES;

	item = add ? ae_config_item(self->key, argv[1], &err) :
	    ae_json_arg(self->key, argv[1], &err);
	if (item == NULL)
		return cli_errstr(argv[0], self->key, err);
	if ((own = ae_store_get(cli->c_store, cli->c_profile, &err)) == NULL)
		goto out;
	list = json_object_get(own, self->key);
	if (!json_is_array(list)) {
		if (!add) {
			rc = 0;
			goto out;
		}
		json_object_set_new(own, self->key, json_array());
		list = json_object_get(own, self->key);
	}
	if (instances && !add) {
		for (i = 0; i < json_array_size(list); i++) {
			if (json_equal(json_array_get(list, i), item)) {
				json_array_remove(list, i);
				changed = 1;
				break;
			}
		}
	} else if (!instances) {
		for (i = json_array_size(list); i-- > 0;) {
			if (json_equal(json_array_get(list, i), item)) {
				json_array_remove(list, i);
				changed = 1;
			}
		}
	}
	if (add)
		json_array_append(list, item);
	rc = changed ? ae_store_set(cli->c_store, cli->c_profile, self->key,
	    list, &err) : 0;
out:
	json_decref(item);
	json_decref(own);
	return rc != 0 ? cli_errstr(argv[0], self->key, err) : 0;
}

static int
cmd_add_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	(void)argc;
	return edit_list(cli, self, argv, 1);
}

static int
cmd_remove_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	(void)argc;
	return edit_list(cli, self, argv, 0);
}

/* Unbiased alphanumerics: bytes >= 248 (4 * 62) are drawn again. */
static int
random_alnum(char *buf, size_t len)
{
	static const char set[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char rnd[128];
	size_t have = 0, i;
	ssize_t r;

	while (have < len) {
		r = getrandom(rnd, sizeof rnd, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (i = 0; i < (size_t)r && have < len; i++)
			if (rnd[i] < 248)
				buf[have++] = set[rnd[i] % 62];
	}
	buf[len] = '\0';
	explicit_bzero(rnd, sizeof rnd);
	return 0;
}

static int
cmd_gensecret_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	char secret[SECRET_LEN + 1], *err = NULL;
	json_t *v;
	int rc;

	(void)argc;
	if (random_alnum(secret, SECRET_LEN) != 0)
		return cli_error(argv[0], "getrandom: %s", strerror(errno));
	v = json_string(secret);
	explicit_bzero(secret, sizeof secret);
	rc = ae_store_set(cli->c_store, cli->c_profile, self->key, v, &err);
	json_decref(v);
	return rc != 0 ? cli_errstr(argv[0], self->key, err) : 0;
}

/*
 * As every setter, and a warning (exit status 0) for a secret that can
 * be guessed: one unauthenticated connection gives an attacker a token
 * to test guesses against offline, fast.
 */
static int
cmd_setsecret_exec(struct cli *cli, const struct aemp_cmd *self, int argc,
    char **argv)
{
	char *warning;

	if (cmd_set_exec(cli, self, argc, argv) != 0)
		return -1;
	if ((warning = ae_secret_weakness(argv[1])) != NULL) {
		cli_error(argv[0], "warning: %s", warning);
		free(warning);
	}
	return 0;
}

const struct aemp_cmd cmd_setnodeid_entry = {
	"setnodeid", "nodeid", 1, 1, "ID",
	"set the node ID (anon/ for a random one)",
	CMD_WRITE, "nodeid", cmd_set_exec
};
const struct aemp_cmd cmd_delnodeid_entry = {
	"delnodeid", NULL, 0, 0, "",
	"remove the node ID (inherit it again)",
	CMD_WRITE, "nodeid", cmd_del_exec
};

const struct aemp_cmd cmd_gensecret_entry = {
	"gensecret", NULL, 0, 0, "",
	"set a random 64-character shared secret",
	CMD_WRITE, "secret", cmd_gensecret_exec
};
const struct aemp_cmd cmd_setsecret_entry = {
	"setsecret", "secret", 1, 1, "SECRET",
	"set the shared secret",
	CMD_WRITE, "secret", cmd_setsecret_exec
};
const struct aemp_cmd cmd_delsecret_entry = {
	"delsecret", NULL, 0, 0, "",
	"remove the shared secret (inherit it again)",
	CMD_WRITE, "secret", cmd_del_exec
};

const struct aemp_cmd cmd_delcert_entry = {
	"delcert", NULL, 0, 0, "",
	"remove the certificate (inherit it again)",
	CMD_WRITE, "cert", cmd_del_exec
};

const struct aemp_cmd cmd_setseeds_entry = {
	"setseeds", "seeds", 1, 1, "H:P,...",
	"set the seed addresses (comma-separated or a JSON array)",
	CMD_WRITE, "seeds", cmd_set_exec
};
const struct aemp_cmd cmd_delseeds_entry = {
	"delseeds", NULL, 0, 0, "",
	"remove the seeds (inherit them again)",
	CMD_WRITE, "seeds", cmd_del_exec
};
const struct aemp_cmd cmd_addseed_entry = {
	"addseed", NULL, 1, 1, "H:P",
	"add a seed address",
	CMD_WRITE, "seeds", cmd_add_exec
};
const struct aemp_cmd cmd_delseed_entry = {
	"delseed", NULL, 1, 1, "H:P",
	"remove a seed address, if present",
	CMD_WRITE, "seeds", cmd_remove_exec
};

const struct aemp_cmd cmd_setbinds_entry = {
	"setbinds", "binds", 1, 1, "H:P,...",
	"set the addresses to listen on (comma-separated or a JSON array)",
	CMD_WRITE, "binds", cmd_set_exec
};
const struct aemp_cmd cmd_delbinds_entry = {
	"delbinds", NULL, 0, 0, "",
	"remove the binds (inherit them again)",
	CMD_WRITE, "binds", cmd_del_exec
};
const struct aemp_cmd cmd_addbind_entry = {
	"addbind", NULL, 1, 1, "H:P",
	"add a bind address",
	CMD_WRITE, "binds", cmd_add_exec
};
const struct aemp_cmd cmd_delbind_entry = {
	"delbind", NULL, 1, 1, "H:P",
	"remove a bind address, if present",
	CMD_WRITE, "binds", cmd_remove_exec
};

const struct aemp_cmd cmd_setservices_entry = {
	"setservices", "services", 1, 1, "SERVICE,...",
	"set the services to start (comma-separated or a JSON array)",
	CMD_WRITE, "services", cmd_set_exec
};
const struct aemp_cmd cmd_delservices_entry = {
	"delservices", NULL, 0, 0, "",
	"remove the services (inherit them again)",
	CMD_WRITE, "services", cmd_del_exec
};
const struct aemp_cmd cmd_addservice_entry = {
	"addservice", NULL, 1, 1, "SERVICE",
	"add a service instance (Pkg::, Pkg::func or a JSON [\"Pkg::func\", "
	"args...]); a service added twice runs twice",
	CMD_WRITE, "services", cmd_add_exec
};
const struct aemp_cmd cmd_delservice_entry = {
	"delservice", NULL, 1, 1, "SERVICE",
	"remove one instance of a service, if present",
	CMD_WRITE, "services", cmd_remove_exec
};

const struct aemp_cmd cmd_setmonitor_timeout_entry = {
	"setmonitor_timeout", "monitor_timeout", 1, 1, "SECONDS",
	"set how long to try reaching a node (default 30)",
	CMD_WRITE, "monitor_timeout", cmd_set_exec
};
const struct aemp_cmd cmd_delmonitor_timeout_entry = {
	"delmonitor_timeout", NULL, 0, 0, "",
	"remove monitor_timeout (inherit it again)",
	CMD_WRITE, "monitor_timeout", cmd_del_exec
};
const struct aemp_cmd cmd_setmax_packet_entry = {
	"setmax_packet", "max_packet", 1, 1, "BYTES",
	"set the largest packet accepted from a peer (default 64 MiB)",
	CMD_WRITE, "max_packet", cmd_set_exec
};
const struct aemp_cmd cmd_delmax_packet_entry = {
	"delmax_packet", NULL, 0, 0, "",
	"remove max_packet (inherit it again)",
	CMD_WRITE, "max_packet", cmd_del_exec
};
const struct aemp_cmd cmd_setmax_queue_entry = {
	"setmax_queue", "max_queue", 1, 1, "BYTES",
	"set the largest send queue per node (default 256 MiB)",
	CMD_WRITE, "max_queue", cmd_set_exec
};
const struct aemp_cmd cmd_delmax_queue_entry = {
	"delmax_queue", NULL, 0, 0, "",
	"remove max_queue (inherit it again)",
	CMD_WRITE, "max_queue", cmd_del_exec
};
const struct aemp_cmd cmd_setconnect_interval_entry = {
	"setconnect_interval", "connect_interval", 1, 1, "SECONDS",
	"set the pause between connection attempts (default 2)",
	CMD_WRITE, "connect_interval", cmd_set_exec
};
const struct aemp_cmd cmd_delconnect_interval_entry = {
	"delconnect_interval", NULL, 0, 0, "",
	"remove connect_interval (inherit it again)",
	CMD_WRITE, "connect_interval", cmd_del_exec
};
const struct aemp_cmd cmd_setframing_format_entry = {
	"setframing_format", "framing_format", 1, 1, "FORMAT,...",
	"set the framing formats, preferred first (default json)",
	CMD_WRITE, "framing_format", cmd_set_exec
};
const struct aemp_cmd cmd_delframing_format_entry = {
	"delframing_format", NULL, 0, 0, "",
	"remove framing_format (inherit it again)",
	CMD_WRITE, "framing_format", cmd_del_exec
};
const struct aemp_cmd cmd_setauth_offer_entry = {
	"setauth_offer", "auth_offer", 1, 1, "METHOD,...",
	"set the authentication methods offered, preferred first",
	CMD_WRITE, "auth_offer", cmd_set_exec
};
const struct aemp_cmd cmd_delauth_offer_entry = {
	"delauth_offer", NULL, 0, 0, "",
	"remove auth_offer (inherit it again)",
	CMD_WRITE, "auth_offer", cmd_del_exec
};
const struct aemp_cmd cmd_setauth_accept_entry = {
	"setauth_accept", "auth_accept", 1, 1, "METHOD,...",
	"set the authentication methods accepted",
	CMD_WRITE, "auth_accept", cmd_set_exec
};
const struct aemp_cmd cmd_delauth_accept_entry = {
	"delauth_accept", NULL, 0, 0, "",
	"remove auth_accept (inherit it again)",
	CMD_WRITE, "auth_accept", cmd_del_exec
};
const struct aemp_cmd cmd_setautocork_entry = {
	"setautocork", "autocork", 1, 1, "BOOL",
	"set whether to delay writes to batch them (0, 1, true, false)",
	CMD_WRITE, "autocork", cmd_set_exec
};
const struct aemp_cmd cmd_delautocork_entry = {
	"delautocork", NULL, 0, 0, "",
	"remove autocork (inherit it again)",
	CMD_WRITE, "autocork", cmd_del_exec
};
const struct aemp_cmd cmd_setnodelay_entry = {
	"setnodelay", "nodelay", 1, 1, "BOOL",
	"set whether to use TCP_NODELAY (0, 1, true, false)",
	CMD_WRITE, "nodelay", cmd_set_exec
};
const struct aemp_cmd cmd_delnodelay_entry = {
	"delnodelay", NULL, 0, 0, "",
	"remove nodelay (inherit it again)",
	CMD_WRITE, "nodelay", cmd_del_exec
};
const struct aemp_cmd cmd_setstatus_bind_entry = {
	"setstatus_bind", "status_bind", 1, 1, "HOST:PORT",
	"set where aempd serves its status page and /metrics (off if unset)",
	CMD_WRITE, "status_bind", cmd_set_exec
};
const struct aemp_cmd cmd_delstatus_bind_entry = {
	"delstatus_bind", NULL, 0, 0, "",
	"remove status_bind (inherit it again)",
	CMD_WRITE, "status_bind", cmd_del_exec
};
const struct aemp_cmd cmd_setstatus_token_entry = {
	"setstatus_token", "status_token", 1, 1, "TOKEN",
	"set the bearer token the status endpoint requires",
	CMD_WRITE, "status_token", cmd_set_exec
};
const struct aemp_cmd cmd_delstatus_token_entry = {
	"delstatus_token", NULL, 0, 0, "",
	"remove status_token (inherit it again)",
	CMD_WRITE, "status_token", cmd_del_exec
};

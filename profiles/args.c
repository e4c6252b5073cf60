/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * args.c: the configuration keys and how command-line arguments become
 * their JSON values, shared by aemp (setX, showconfig) and aempd
 * (configure-style "KEY VALUE ..." arguments).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "names.h"
#include "store.h"
#include "store_int.h"
#include "wire.h"

static const struct aemp_key {
	const char		*k_name;
	enum ae_key_type	 k_type;
} aemp_key_table[] = {
	{ "nodeid",		AEMP_KEY_STRING },
	{ "secret",		AEMP_KEY_STRING },
	{ "cert",		AEMP_KEY_STRING },
	{ "binds",		AEMP_KEY_LIST },
	{ "seeds",		AEMP_KEY_LIST },
	{ "services",		AEMP_KEY_SERVICES },
	{ "parent",		AEMP_KEY_STRING },
	{ "monitor_timeout",	AEMP_KEY_NUMBER },
	{ "connect_interval",	AEMP_KEY_NUMBER },
	{ "framing_format",	AEMP_KEY_LIST },
	{ "auth_offer",		AEMP_KEY_LIST },
	{ "auth_accept",	AEMP_KEY_LIST },
	{ "autocork",		AEMP_KEY_BOOL },
	{ "nodelay",		AEMP_KEY_BOOL },
	{ "max_packet",		AEMP_KEY_NUMBER },
	{ "max_queue",		AEMP_KEY_NUMBER },
	{ "status_bind",	AEMP_KEY_STRING },
	{ "status_token",	AEMP_KEY_STRING },
	{ "max_queue_total",	AEMP_KEY_NUMBER },
	{ "profile",		AEMP_KEY_STRING },
};
#define NKEYS (sizeof aemp_key_table / sizeof aemp_key_table[0])

static const char *const aemp_key_names[NKEYS + 1] = {
	"nodeid", "secret", "cert", "binds", "seeds", "services", "parent",
	"monitor_timeout", "connect_interval", "framing_format", "auth_offer",
	"auth_accept", "autocork", "nodelay", "max_packet", "max_queue",
	"status_bind", "status_token", "max_queue_total", "profile", NULL
};

/* Sets *err (when err is not NULL) to a formatted, malloc()ed message. */
void
ae_store_seterr(char **err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
}

int
ae_key_type(const char *key)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(aemp_key_table[i].k_name, key) == 0)
			return aemp_key_table[i].k_type;
	return -1;
}

const char *const *
ae_keys(void)
{
	return aemp_key_names;
}

int
ae_key_quotable(const char *key)
{
	/* The secret and the certificate's key must never reach a log. */
	return key == NULL ||
	    (strcmp(key, "secret") != 0 && strcmp(key, "cert") != 0 &&
	    strcmp(key, "status_token") != 0);
}

json_t *
ae_json_arg(const char *key, const char *arg, char **err)
{
	json_error_t je;
	json_t *v;
	char *near;

	if (arg[0] == '[' || arg[0] == '{' || arg[0] == '"') {
		v = json_loads(arg, JSON_DECODE_ANY, &je);
		if (v != NULL)
			return v;
		/* jansson quotes the offending token: not for secrets. */
		if (!ae_key_quotable(key) &&
		    (near = strstr(je.text, " near ")) != NULL)
			*near = '\0';
		ae_store_seterr(err, "%s%sinvalid JSON argument at line %d, column %d, "
		    "position %d: %s", key ? key : "", key ? ": " : "",
		    je.line, je.column, je.position, je.text);
		return NULL;
	}
	if ((v = json_string(arg)) == NULL)
		ae_store_seterr(err, "%s%sargument is not valid UTF-8", key ? key : "",
		    key ? ": " : "");
	return v;
}

/* A comma-separated list as an array of strings; empty fields are dropped. */
static json_t *
split_list(const char *key, const char *s, char **err)
{
	json_t *a = json_array(), *e;
	const char *p = s, *q;

	for (;;) {
		q = strchr(p, ',');
		if (q == NULL)
			q = p + strlen(p);
		if (q > p) {
			if ((e = json_stringn(p, q - p)) == NULL) {
				ae_store_seterr(err, "%s: argument is not valid UTF-8",
				    key);
				json_decref(a);
				return NULL;
			}
			json_array_append_new(a, e);
		}
		if (*q == '\0')
			break;
		p = q + 1;
	}
	return a;
}

/* Strictly a decimal number: no spaces, hex, inf or nan, as users type it. */
static json_t *
parse_number(const char *key, const char *s, char **err)
{
	const char *p = s;
	int digits = 0, integral = 1;
	long long ll;
	double d;

	if (*p == '-' || *p == '+')
		p++;
	while (isdigit((unsigned char)*p))
		p++, digits++;
	if (*p == '.') {
		integral = 0;
		for (p++; isdigit((unsigned char)*p); p++)
			digits++;
	}
	if (digits > 0 && (*p == 'e' || *p == 'E')) {
		integral = 0;
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			digits = 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (digits == 0 || *p != '\0')
		goto bad;
	errno = 0;
	if (integral) {
		ll = strtoll(s, NULL, 10);
		if (errno == 0 && ll >= 0)
			return json_integer(ll);
	}
	errno = 0;
	d = strtod(s, NULL);
	if (errno != 0 || !isfinite(d))
		goto bad;
	if (d < 0) {
		ae_store_seterr(err, "%s: '%s' is negative", key, s);
		return NULL;
	}
	return json_real(d);
bad:
	ae_store_seterr(err, "%s: '%s' is not a number", key, s);
	return NULL;
}

/* A string value as the reference reads a plain command-line argument. */
static json_t *
plain_value(const char *key, int type, const char *s, char **err)
{
	switch (type) {
	case AEMP_KEY_LIST:
	case AEMP_KEY_SERVICES:
		return split_list(key, s, err);
	case AEMP_KEY_NUMBER:
		return parse_number(key, s, err);
	case AEMP_KEY_BOOL:
		if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0)
			return json_true();
		if (strcmp(s, "0") == 0 || strcmp(s, "false") == 0)
			return json_false();
		ae_store_seterr(err, "%s: '%s' is not a boolean (0, 1, true or false)",
		    key, s);
		return NULL;
	default:
		if (*s == '\0' && (strcmp(key, "parent") == 0 ||
		    strcmp(key, "profile") == 0)) {
			ae_store_seterr(err, "%s: empty profile name", key);
			return NULL;
		}
		return json_string(s);
	}
}

/* Whether v may be one entry of key's list. */
static int
valid_item(int type, json_t *v)
{
	if (json_is_string(v))
		return 1;
	/* A service may be ["Pkg::func", args...]. */
	return type == AEMP_KEY_SERVICES && json_is_array(v) &&
	    json_is_string(json_array_get(v, 0));
}

/* --- what a node accepts in each key --------------------------------------- */

int
ae_service_valid(json_t *entry)
{
	const char *name = json_is_array(entry) ?
	    json_string_value(json_array_get(entry, 0)) :
	    json_string_value(entry);
	size_t len = name != NULL ? strlen(name) : 0;

	/* a function with arguments cannot be a module ("Pkg::") */
	return name != NULL && ae_pkg_name_valid(name, 1) &&
	    !(json_is_array(entry) && name[len - 1] == ':') &&
	    strchr(name, ':') != NULL &&
	    strcmp(name, "AnyEvent::MP::_spawn") != 0;
}

/* The authentication methods of AEMP.md section 3.3, and the framings. */
static const char *const auth_methods[] = {
	"tls_md6_64_256", "hmac_md6_64_256", "tls_anon", "cleartext", NULL
};
static const char *const framings[] = { "json", "storable", NULL };

static int
in_set(const char *const *set, const char *s)
{
	for (; *set != NULL; set++)
		if (strcmp(*set, s) == 0)
			return 1;
	return 0;
}

/* One entry of list key (type LIST or SERVICES), as a node reads it. */
static int
check_item(const char *key, json_t *v, char **err)
{
	const char *s = json_string_value(v);
	char *text;

	if (strcmp(key, "services") == 0) {
		if (ae_service_valid(v))
			return 0;
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		ae_store_seterr(err, "services: %s is not a service (Pkg:: to load "
		    "a module, Pkg::func or [\"Pkg::func\", args...] to call a "
		    "function; names are parts of A-Z a-z 0-9 _ joined by ::)",
		    text ? text : "?");
		free(text);
		return -1;
	}
	if (s == NULL)
		return 0;	/* the caller says it must be a string */
	if (strcmp(key, "seeds") == 0 && !ae_hostport_seed_valid(s)) {
		ae_store_seterr(err, "seeds: '%s' is not a seed address (HOST:PORT, "
		    "[IPv6]:PORT or PORT, with a port of 1 to 65535)", s);
		return -1;
	}
	if (strcmp(key, "binds") == 0 && !ae_bind_valid(s)) {
		ae_store_seterr(err, "binds: '%s' is not a bind address (HOST:PORT, "
		    "[IPv6]:PORT, *:PORT, HOST, * or PORT; a port of 0 to 65535 "
		    "or *)", s);
		return -1;
	}
	if ((strcmp(key, "auth_offer") == 0 ||
	    strcmp(key, "auth_accept") == 0) && !in_set(auth_methods, s)) {
		ae_store_seterr(err, "%s: '%s' is not an authentication method "
		    "(tls_md6_64_256, hmac_md6_64_256, tls_anon, cleartext)",
		    key, s);
		return -1;
	}
	if (strcmp(key, "framing_format") == 0 && !in_set(framings, s)) {
		ae_store_seterr(err, "framing_format: '%s' is not a framing format "
		    "(json, storable)", s);
		return -1;
	}
	return 0;
}

/* What a node needs of the whole value (v already has the key's type). */
static int
check_value(const char *key, int type, json_t *v, char **err)
{
	size_t i;
	json_t *e;
	double d;

	switch (type) {
	case AEMP_KEY_LIST:
	case AEMP_KEY_SERVICES:
		json_array_foreach(v, i, e)
			if (check_item(key, e, err) < 0)
				return -1;
		if (strcmp(key, "framing_format") == 0) {
			json_array_foreach(v, i, e)
				if (strcmp(json_string_value(e), "json") == 0)
					return 0;
			ae_store_seterr(err, "framing_format: json, the only format "
			    "aemp speaks, is not in the list");
			return -1;
		}
		return 0;
	case AEMP_KEY_NUMBER:
		d = json_number_value(v);
		if (d <= 0) {
			ae_store_seterr(err, "%s: %g is not greater than 0", key, d);
			return -1;
		}
		if ((strcmp(key, "max_packet") == 0 ||
		    strcmp(key, "max_queue") == 0) && (d != floor(d) ||
		    d > 9007199254740992.0)) {
			ae_store_seterr(err, "%s: %g is not a whole number of bytes",
			    key, d);
			return -1;
		}
		return 0;
	case AEMP_KEY_STRING:
		if (strcmp(key, "nodeid") == 0 &&
		    !ae_nodeid_valid(json_string_value(v))) {
			ae_store_seterr(err, "nodeid: '%s' is not a node ID (empty, "
			    "or contains '#', ';' or control characters)",
			    json_string_value(v));
			return -1;
		}
		return 0;
	}
	return 0;
}

static json_t *
config_check(const char *key, json_t *value, char **err);

json_t *
ae_config_check(const char *key, json_t *value, char **err)
{
	json_t *v = config_check(key, value, err);

	if (v != NULL && check_value(key, ae_key_type(key), v, err) < 0) {
		json_decref(v);
		return NULL;
	}
	return v;
}

static json_t *
config_check(const char *key, json_t *value, char **err)
{
	int type = ae_key_type(key);
	size_t i;
	json_t *e;

	if (type < 0) {
		ae_store_seterr(err, "unknown configuration key '%s'", key);
		return NULL;
	}
	if (value == NULL) {
		ae_store_seterr(err, "%s: missing value", key);
		return NULL;
	}
	if (json_is_string(value))
		return plain_value(key, type, json_string_value(value), err);
	switch (type) {
	case AEMP_KEY_STRING:
		ae_store_seterr(err, "%s: must be a string", key);
		return NULL;
	case AEMP_KEY_LIST:
	case AEMP_KEY_SERVICES:
		if (!json_is_array(value))
			break;
		json_array_foreach(value, i, e) {
			if (valid_item(type, e))
				continue;
			ae_store_seterr(err, type == AEMP_KEY_LIST ?
			    "%s: element %zu is not a string" :
			    "%s: element %zu is neither a string nor an array "
			    "starting with a function name", key, i);
			return NULL;
		}
		return json_deep_copy(value);
	case AEMP_KEY_NUMBER:
		if (!json_is_number(value) ||
		    !isfinite(json_number_value(value)))
			break;
		if (json_number_value(value) < 0) {
			ae_store_seterr(err, "%s: must not be negative", key);
			return NULL;
		}
		return json_copy(value);
	case AEMP_KEY_BOOL:
		if (json_is_boolean(value))
			return json_copy(value);
		/* Perl writes booleans as 0 and 1. */
		if (json_is_integer(value) && (json_integer_value(value) == 0 ||
		    json_integer_value(value) == 1))
			return json_boolean(json_integer_value(value));
		ae_store_seterr(err, "%s: must be a boolean (0, 1, true or false)", key);
		return NULL;
	}
	ae_store_seterr(err, "%s: must be %s", key, type == AEMP_KEY_NUMBER ?
	    "a number" : "a list");
	return NULL;
}

json_t *
ae_config_value(const char *key, const char *arg, char **err)
{
	json_t *v, *r;

	if (ae_key_type(key) < 0) {
		ae_store_seterr(err, "unknown configuration key '%s'", key);
		return NULL;
	}
	if ((v = ae_json_arg(key, arg, err)) == NULL)
		return NULL;
	r = ae_config_check(key, v, err);
	json_decref(v);
	return r;
}

json_t *
ae_config_item(const char *key, const char *arg, char **err)
{
	int type = ae_key_type(key);
	json_t *v;

	if (type != AEMP_KEY_LIST && type != AEMP_KEY_SERVICES) {
		ae_store_seterr(err, "%s: not a list", key);
		return NULL;
	}
	if ((v = ae_json_arg(key, arg, err)) == NULL)
		return NULL;
	if (!valid_item(type, v)) {
		ae_store_seterr(err, type == AEMP_KEY_LIST ?
		    "%s: an element must be a string" :
		    "%s: a service must be a string or an array starting with "
		    "a function name", key);
		json_decref(v);
		return NULL;
	}
	if (check_item(key, v, err) < 0) {
		json_decref(v);
		return NULL;
	}
	return v;
}

int
ae_config_odd_start(int argc, char *const *argv, char **err)
{
	if (argc % 2 == 0 || ae_key_type(argv[0]) < 0)
		return 0;
	if (argc == 1)
		ae_store_seterr(err, "%s has no value (to run a profile of that "
		    "name: --profile %s)", argv[0], argv[0]);
	else
		ae_store_seterr(err, "%s has no value", argv[argc - 1]);
	return -1;
}

json_t *
ae_config_args(int argc, char **argv, char **err)
{
	json_t *o = json_object(), *v;
	int i;

	for (i = 0; i < argc; i += 2) {
		if (ae_key_type(argv[i]) < 0) {
			ae_store_seterr(err, "unknown configuration key '%s'", argv[i]);
			goto fail;
		}
		if (i + 1 >= argc) {
			ae_store_seterr(err, "%s: missing value", argv[i]);
			goto fail;
		}
		if ((v = ae_config_value(argv[i], argv[i + 1], err)) == NULL)
			goto fail;
		json_object_set_new(o, argv[i], v);
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *
ae_config_defaults(void)
{
	return json_pack("{s:i, s:i, s:[s], s:[ss], s:[ssss]}",
	    "monitor_timeout", 30,
	    "connect_interval", 2,
	    "framing_format", "json",
	    "auth_offer", "tls_md6_64_256", "hmac_md6_64_256",
	    "auth_accept", "tls_md6_64_256", "hmac_md6_64_256", "tls_anon",
	    "cleartext");
}

void
ae_scrub_secret_args(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i - 1], "secret") == 0 ||
		    strcmp(argv[i - 1], "setsecret") == 0 ||
		    strcmp(argv[i - 1], "status_token") == 0 ||
		    strcmp(argv[i - 1], "setstatus_token") == 0)
			memset(argv[i], '*', strlen(argv[i]));
}

int
ae_args_have_secret(int argc, char *const *argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i - 1], "secret") == 0 ||
		    strcmp(argv[i - 1], "setsecret") == 0 ||
		    strcmp(argv[i - 1], "status_token") == 0 ||
		    strcmp(argv[i - 1], "setstatus_token") == 0)
			return 1;
	return 0;
}

/*
 * Short, few distinct characters, or fewer than 80 bits even if every
 * character were drawn at random from the classes it uses: "summer2024"
 * (52 bits at best) is what a guesser tries first. Secrets from aemp
 * gensecret have 381 bits.
 */
char *
ae_secret_weakness(const char *secret)
{
	int lower = 0, upper = 0, digit = 0, other = 0, distinct = 0;
	unsigned char seen[256] = { 0 };
	size_t len = strlen(secret), i;
	double pool, bits;
	char *msg;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)secret[i];
		if (!seen[ch]++)
			distinct++;
		if (ch >= 'a' && ch <= 'z')
			lower = 26;
		else if (ch >= 'A' && ch <= 'Z')
			upper = 26;
		else if (ch >= '0' && ch <= '9')
			digit = 10;
		else
			other = 33;
	}
	pool = lower + upper + digit + other;
	bits = pool > 1 ? (double)len * log2(pool) : 0;
	if (len >= 16 && distinct >= 8 && bits >= 80)
		return NULL;
	if (asprintf(&msg, "this secret is %s (%zu characters, at most %.0f "
	    "bits): anybody who can connect once can test guesses against it "
	    "offline; 'aemp gensecret' sets a random 64-character one", len < 16 ?
	    "short" : "guessable", len, bits) < 0)
		return NULL;
	return msg;
}

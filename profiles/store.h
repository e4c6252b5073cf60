/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * store.h: the profile store (SQLite) and effective-configuration
 * resolution (AEMP.md section 8). One API for aemp, aempd and libaemp.
 *
 * Conventions: a profile name of NULL means the global default
 * configuration; "" is never a valid profile name. Functions returning
 * json_t * return new references (json_decref() them); json_t arguments
 * are borrowed. On failure, functions return NULL or -1 and set *err to a
 * malloc()ed message (free() it). Messages never contain a secret.
 */
#ifndef AEMP_STORE_H
#define AEMP_STORE_H

#include <jansson.h>

typedef struct aemp_store aemp_store;

/* The schema version this code writes (PRAGMA user_version). */
#define AEMP_STORE_VERSION	1

/* --- configuration keys and argument parsing ----------------------------- */

enum ae_key_type {
	AEMP_KEY_STRING,	/* nodeid, secret, cert, parent, profile */
	AEMP_KEY_LIST,		/* array of strings: binds, seeds, ... */
	AEMP_KEY_SERVICES,	/* array of "Pkg::func" or ["Pkg::func", args...] */
	AEMP_KEY_NUMBER,	/* monitor_timeout, connect_interval */
	AEMP_KEY_BOOL		/* autocork, nodelay */
};

/* The type of a known key, or -1 for an unknown one. */
int	 ae_key_type(const char *key);
/* The known keys, NULL-terminated (includes "profile"). */
const char *const *ae_keys(void);
/* Whether errors may quote values of key (not for secret and cert). */
int	 ae_key_quotable(const char *key);

/*
 * One command-line argument as JSON: arguments starting with '[', '{' or
 * '"' are parsed as JSON (errors say where), anything else is a string.
 * key (may be NULL) only decides whether an error may quote the argument.
 */
json_t	*ae_json_arg(const char *key, const char *arg, char **err);
/*
 * The value of key given as a command-line argument, exactly as the
 * reference aemp stores it: JSON if it looks like JSON, else for list keys
 * the argument split at commas, numbers for numeric keys, booleans (0, 1,
 * true, false) for boolean keys, the string itself otherwise. Validated
 * as by ae_config_check().
 */
json_t	*ae_config_value(const char *key, const char *arg, char **err);
/*
 * Validate and normalise a JSON value for key: a JSON string is read as
 * if it had been a plain command-line argument (so "30" is the number 30
 * for monitor_timeout and "a,b" the list ["a","b"] for seeds); other types
 * must match the key's type.
 */
json_t	*ae_config_check(const char *key, json_t *value, char **err);
/*
 * One element of a list key (addseed, addservice, ...): not split, and
 * checked as ae_config_check() checks each element.
 */
json_t	*ae_config_item(const char *key, const char *arg, char **err);
/*
 * Configure-style arguments "KEY VALUE KEY VALUE ..." (keys as in
 * ae_keys(), "profile NAME" included) as a JSON object; later
 * duplicates win.
 */
json_t	*ae_config_args(int argc, char **argv, char **err);
/*
 * Configure words with an odd count start with a profile name, as in the
 * reference ("seed binds 1.2.3.4:4040"), unless the first word is a key
 * ("profile", "profile X binds"): then the last key has no value. Returns
 * 0 if the words may get a "profile" in front, else -1 with *err saying
 * which key lacks its value.
 */
int	 ae_config_odd_start(int argc, char *const *argv, char **err);
/*
 * What a node accepts, checked by ae_config_check() for every value: a
 * module or function name (parts of [A-Za-z0-9_] joined by "::"; with
 * allow_trailing "Pkg::" too), a service entry ("Pkg::", "Pkg::func" or
 * ["Pkg::func", args...]), a node ID (not empty, no '#' or ';', printable
 * UTF-8: no control characters, no bytes that are no UTF-8).
 */
int	 ae_service_valid(json_t *entry);
/*
 * Overwrites, in place, every argument that follows "secret" or
 * "setsecret", so that the shared secret does not stay visible to other
 * users in ps(1) and /proc/PID/cmdline. Call it after the arguments were
 * copied; the strings keep their length.
 */
void	 ae_scrub_secret_args(int argc, char **argv);
/* Whether some argument follows "secret", "status_token" or their set*. */
int	 ae_args_have_secret(int argc, char *const *argv);
/*
 * A warning (malloc()ed, naming the file) when secret is short or
 * guessable, else NULL.
 */
char	*ae_secret_weakness(const char *secret);
/* The built-in defaults (AEMP.md section 8), a fresh object. */
json_t	*ae_config_defaults(void);

/* --- the store ------------------------------------------------------------ */

/*
 * Where the store lives: $AEMP_RC, else $XDG_CONFIG_HOME/aemp/aemp.db,
 * else ~/.config/aemp/aemp.db (malloc()ed; NULL and *err if there is no
 * home directory to put it in).
 */
char	*ae_store_path(char **err);

#define AEMP_STORE_READ		0	/* a missing file reads as empty */
#define AEMP_STORE_WRITE	1	/* create it; one IMMEDIATE transaction */

/*
 * Open the store at path (NULL: ae_store_path()). READ never creates
 * anything: a missing file is an empty store. WRITE creates missing
 * directories (0700) and the file (0600), then holds a write transaction
 * (waiting up to 10 s for other writers) until ae_store_commit() or
 * ae_store_close(), which rolls back. A file that is not a readable
 * aemp store is an error naming it, and is not modified.
 */
aemp_store *ae_store_open(const char *path, int mode, char **err);
/* Commit the write transaction (no-op for READ). */
int	 ae_store_commit(aemp_store *, char **err);
/* Roll back whatever was not committed and close. NULL is fine. */
void	 ae_store_close(aemp_store *);
/* The file the store was opened from. */
const char *ae_store_file(aemp_store *);
/*
 * A warning (malloc()ed) when the store at path (NULL: ae_store_path())
 * exists and is readable by group or others, else NULL: it holds the
 * shared secret. aemp and aempd print it once, at start.
 */
char	*ae_store_mode_warning(const char *path);

/* Whether profile name exists: 1, 0, or -1 and *err. */
int	 ae_store_has_profile(aemp_store *, const char *name, char **err);
/* All profile names, sorted (array of strings). */
json_t	*ae_store_profiles(aemp_store *, char **err);
/* Create profile name if it does not exist yet. */
int	 ae_store_add_profile(aemp_store *, const char *name, char **err);
/* Delete profile name and all its keys (missing: nothing happens). */
int	 ae_store_del_profile(aemp_store *, const char *name, char **err);

/*
 * The keys stored in profile name itself (NULL: the global default
 * configuration), "parent" included, nothing inherited. A missing profile
 * is an empty object.
 */
json_t	*ae_store_get(aemp_store *, const char *name, char **err);
/*
 * Set key in profile name (NULL: global), creating the profile. value is
 * checked with ae_config_check() and stored normalised; "profile" is not
 * a storable key. Setting "parent" fails if it would close a cycle, and
 * the global configuration cannot have a parent.
 */
int	 ae_store_set(aemp_store *, const char *name, const char *key,
	    json_t *value, char **err);
/* Remove key from profile name (NULL: global); missing keys are fine. */
int	 ae_store_del(aemp_store *, const char *name, const char *key,
	    char **err);

/*
 * The parent chain of name, name first, then its parent, and so on
 * (array of strings); a cycle is an error naming it, e.g.
 * "profile parent cycle: a -> b -> a".
 */
json_t	*ae_store_chain(aemp_store *, const char *name, char **err);

/* --- effective configuration (AEMP.md section 8) -------------------------- */

/*
 * The profile name a node uses when none is given: $AEMP_PROFILE, else
 * the host's node name (malloc()ed).
 */
char	*ae_default_profile(void);

/*
 * The effective configuration of profile in an open store: defaults <
 * args (borrowed, may be NULL) < global < parents root-first < profile.
 * profile NULL: args' "profile", else ae_default_profile(). The result
 * has no "parent" key and always has "profile" (the name used).
 */
json_t	*ae_store_effective_in(aemp_store *, const char *profile,
	    json_t *args, char **err);

/*
 * The effective configuration of profile (NULL: args' "profile", else
 * $AEMP_PROFILE, else the host's node name) given configure arguments args
 * (borrowed, may be NULL): defaults < args < global < parents root-first <
 * profile. Reads the store at its default path if the file exists (a
 * missing file contributes nothing). The result has no "parent" key and
 * always has "profile" (the name used). NULL and *err (malloc()ed) on
 * failure.
 */
json_t	*ae_store_effective(const char *profile, json_t *args, char **err);

#endif

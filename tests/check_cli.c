/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_cli.c: the aemp command-line tool as users meet it, run as a
 * child process against a store in a fresh temp directory.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "testutil.h"
#include "store.h"

/* One test's world: a temp dir, the store in it, the environment. */
struct world {
	char	*dir;
	char	*rc;		/* $AEMP_RC */
	char	*env[5];
	char	*out;		/* of the last run */
	char	*err;
};

static void
world_init(struct world *w)
{
	memset(w, 0, sizeof *w);
	w->dir = test_tmpdir();
	if (asprintf(&w->rc, "%s/cfg/aemp.db", w->dir) < 0 ||
	    asprintf(&w->env[0], "AEMP_RC=%s", w->rc) < 0 ||
	    asprintf(&w->env[1], "HOME=%s", w->dir) < 0)
		abort();
	w->env[2] = strdup("AEMP_PROFILE=");
	w->env[3] = strdup("XDG_CONFIG_HOME=");
}

static void
world_free(struct world *w)
{
	int i;

	test_rmtree(w->dir);
	free(w->dir);
	free(w->rc);
	for (i = 0; w->env[i] != NULL; i++)
		free(w->env[i]);
	free(w->out);
	free(w->err);
}

/* Run aemp with the NULL-terminated arguments; returns the exit status. */
static int
aemp(struct world *w, ...)
{
	char *argv[64];
	va_list ap;
	int argc = 1, status;

	argv[0] = test_bin("aemp");
	va_start(ap, w);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	free(w->out);
	free(w->err);
	status = test_run(argv, w->env, NULL, &w->out, &w->err, 30);
	free(argv[0]);
	return status;
}

/* Run aemp and insist on success. */
#define AEMP_OK(w, ...) do {						\
	int st_ = aemp((w), __VA_ARGS__, (char *)NULL);			\
	ck_assert_msg(st_ == 0, "exit %d: %s", st_, (w)->err);		\
} while (0)

/* Run aemp and insist on exit status want and stderr holding needle. */
#define AEMP_FAILS(w, want, needle, ...) do {				\
	int st_ = aemp((w), __VA_ARGS__, (char *)NULL);			\
	ck_assert_msg(st_ == (want), "exit %d, not %d: %s", st_,	\
	    (want), (w)->err);						\
	ck_assert_msg(strstr((w)->err, (needle)) != NULL,		\
	    "stderr lacks '%s': %s", (needle), (w)->err);		\
} while (0)

static json_t *
parse_out(struct world *w)
{
	json_error_t je;
	json_t *v = json_loads(w->out, 0, &je);

	ck_assert_msg(v != NULL, "not JSON (%s): %s", je.text, w->out);
	return v;
}

/* Compact, sorted JSON text of v[key]. */
static char *
field(json_t *v, const char *key)
{
	json_t *f = json_object_get(v, key);

	return f == NULL ? strdup("(none)") : json_dumps(f, JSON_COMPACT |
	    JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

#define FIELD_EQ(v, key, want) do {					\
	char *f_ = field((v), (key));					\
	ck_assert_msg(strcmp(f_, (want)) == 0, "%s is %s, not %s",	\
	    (key), f_, (want));						\
	free(f_);							\
} while (0)

/* The bytes of a file (may hold NULs), or NULL. */
static char *
read_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL)
		return NULL;
	buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* Write len bytes of buf to path (len 0: buf is a string). */
static void
write_bytes(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (len == 0)
		len = strlen(buf);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* --- acceptance: the tutorial -------------------------------------------- */

START_TEST(test_tutorial)
{
	struct world w;
	struct stat sb;
	json_t *v;
	char *secret;
	size_t i;

	world_init(&w);
	umask(0);	/* the store must be 0600 whatever the umask */
	AEMP_OK(&w, "gensecret");
	AEMP_OK(&w, "profile", "seed", "binds", "*:4040");
	AEMP_OK(&w, "seeds", "*:4040", "nodeid", "anon/");
	ck_assert_int_eq(stat(w.rc, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0600);

	AEMP_OK(&w, "showconfig", "seed");
	v = parse_out(&w);
	FIELD_EQ(v, "binds", "[\"*:4040\"]");
	FIELD_EQ(v, "seeds", "[\"*:4040\"]");
	FIELD_EQ(v, "nodeid", "\"anon/\"");
	FIELD_EQ(v, "monitor_timeout", "30");
	FIELD_EQ(v, "connect_interval", "2");
	FIELD_EQ(v, "framing_format", "[\"json\"]");
	FIELD_EQ(v, "auth_offer", "[\"tls_md6_64_256\",\"hmac_md6_64_256\"]");
	FIELD_EQ(v, "auth_accept", "[\"tls_md6_64_256\",\"hmac_md6_64_256\","
	    "\"tls_anon\",\"cleartext\"]");
	FIELD_EQ(v, "parent", "(none)");
	ck_assert(json_is_string(json_object_get(v, "secret")));
	secret = strdup(json_string_value(json_object_get(v, "secret")));
	ck_assert_uint_ge(strlen(secret), 64);
	for (i = 0; secret[i] != '\0'; i++)
		ck_assert(isalnum((unsigned char)secret[i]));
	/* Pretty, with sorted keys. */
	ck_assert_ptr_nonnull(strstr(w.out, "{\n   \"auth_accept\": [\n"));
	json_decref(v);

	AEMP_OK(&w, "profile", "child", "setparent", "seed", "binds",
	    "127.0.0.1:5000");
	AEMP_OK(&w, "showconfig", "child");
	v = parse_out(&w);
	FIELD_EQ(v, "binds", "[\"127.0.0.1:5000\"]");
	FIELD_EQ(v, "seeds", "[\"*:4040\"]");
	FIELD_EQ(v, "nodeid", "\"anon/\"");
	FIELD_EQ(v, "parent", "(none)");
	ck_assert_str_eq(json_string_value(json_object_get(v, "secret")),
	    secret);
	json_decref(v);

	AEMP_OK(&w, "showprofile", "child");
	v = parse_out(&w);
	FIELD_EQ(v, "parent", "\"seed\"");
	FIELD_EQ(v, "seeds", "(none)");
	json_decref(v);
	free(secret);
	world_free(&w);
}
END_TEST

/* The reference's own example of chaining. */
START_TEST(test_chain)
{
	struct world w;
	json_t *v;

	world_init(&w);
	AEMP_OK(&w, "gensecret", "profile", "xyzzy", "binds", "4040,4041",
	    "nodeid", "anon/");
	AEMP_OK(&w, "showprofile", "xyzzy");
	v = parse_out(&w);
	FIELD_EQ(v, "binds", "[\"4040\",\"4041\"]");
	FIELD_EQ(v, "nodeid", "\"anon/\"");
	FIELD_EQ(v, "secret", "(none)");	/* gensecret came first: global */
	json_decref(v);
	/* showconfig's KEY VALUE pairs are configure arguments. */
	AEMP_OK(&w, "showconfig", "xyzzy", "monitor_timeout", "7",
	    "nodeid", "overridden");
	v = parse_out(&w);
	FIELD_EQ(v, "monitor_timeout", "7");
	FIELD_EQ(v, "nodeid", "\"anon/\"");	/* the profile wins */
	ck_assert(json_is_string(json_object_get(v, "secret")));
	json_decref(v);
	world_free(&w);
}
END_TEST

START_TEST(test_json_arguments)
{
	struct world w;
	json_t *v;

	world_init(&w);
	AEMP_OK(&w, "setbinds", "[\"127.0.0.1:4040\",\"[::1]:4040\"]");
	AEMP_OK(&w, "services", "[[\"Pkg::func\",1,\"a\"],\"Mod::\"]");
	AEMP_OK(&w, "monitor_timeout", "2.5", "autocork", "1", "nodelay",
	    "false", "framing_format", "json,storable");
	/* A first argument starting with [ is the whole command line. */
	AEMP_OK(&w, "[\"profile\",\"j\",\"seeds\",\"a:1,b:2\","
	    "\"auth_offer\",\"[\\\"hmac_md6_64_256\\\"]\"]");
	AEMP_OK(&w, "showconfig", "j");
	v = parse_out(&w);
	FIELD_EQ(v, "binds", "[\"127.0.0.1:4040\",\"[::1]:4040\"]");
	FIELD_EQ(v, "services", "[[\"Pkg::func\",1,\"a\"],\"Mod::\"]");
	FIELD_EQ(v, "monitor_timeout", "2.5");
	FIELD_EQ(v, "autocork", "true");
	FIELD_EQ(v, "nodelay", "false");
	FIELD_EQ(v, "framing_format", "[\"json\",\"storable\"]");
	FIELD_EQ(v, "seeds", "[\"a:1\",\"b:2\"]");
	FIELD_EQ(v, "auth_offer", "[\"hmac_md6_64_256\"]");
	json_decref(v);
	AEMP_FAILS(&w, 2, "array of strings", "[\"binds\", 1]");
	AEMP_FAILS(&w, 2, "only argument", "[\"binds\",\"1\"]", "nodeid");
	AEMP_FAILS(&w, 2, "line 1", "[\"binds\"");
	world_free(&w);
}
END_TEST

START_TEST(test_add_del)
{
	struct world w;
	json_t *v;

	world_init(&w);
	AEMP_OK(&w, "addseed", "a:1", "addseed", "b:2", "addseed", "a:1",
	    "addbind", "x:1", "addservice", "S::", "addservice", "S::");
	AEMP_OK(&w, "export");
	v = parse_out(&w);
	FIELD_EQ(v, "seeds", "[\"b:2\",\"a:1\"]");	/* moved, not doubled */
	/* services are instances, as in the reference */
	FIELD_EQ(v, "services", "[\"S::\",\"S::\"]");
	json_decref(v);
	AEMP_OK(&w, "delseed", "a:1", "delseed", "nope:1", "delbind", "y:1",
	    "delservice", "S::", "delservice", "S::", "profile", "p",
	    "delseed", "a:1");
	AEMP_OK(&w, "export");
	v = parse_out(&w);
	FIELD_EQ(v, "seeds", "[\"b:2\"]");
	FIELD_EQ(v, "binds", "[\"x:1\"]");
	FIELD_EQ(v, "services", "[]");
	/* delX on a profile without the list does not create one. */
	FIELD_EQ(json_object_get(v, "profile"), "p", "{}");
	json_decref(v);
	AEMP_OK(&w, "delseeds", "delbinds", "delservices", "delsecret",
	    "delnodeid", "delcert", "delmonitor_timeout",
	    "delconnect_interval", "delframing_format", "delauth_offer",
	    "delauth_accept", "delautocork", "delnodelay");
	AEMP_OK(&w, "export");
	ck_assert_str_eq(w.out, "{\n   \"profile\": {\n      \"p\": {}\n   },\n"
	    "   \"version\": 1\n}\n");
	world_free(&w);
}
END_TEST

/* delservice removes one instance per call, the first equal one. */
START_TEST(test_service_instances)
{
	struct world w;
	json_t *v;

	world_init(&w);
	AEMP_OK(&w, "setservices", "X::,X::,Y::f,X::");
	AEMP_OK(&w, "delservice", "X::");
	AEMP_OK(&w, "export");
	v = parse_out(&w);
	FIELD_EQ(v, "services", "[\"X::\",\"Y::f\",\"X::\"]");
	json_decref(v);
	AEMP_OK(&w, "delservice", "X::", "delservice", "X::", "delservice",
	    "X::", "addservice", "[\"Y::f\",1]", "addservice", "Y::f");
	AEMP_OK(&w, "export");
	v = parse_out(&w);
	FIELD_EQ(v, "services", "[\"Y::f\",[\"Y::f\",1],\"Y::f\"]");
	json_decref(v);
	world_free(&w);
}
END_TEST

/* Values a node would refuse are refused when typed, naming the item. */
START_TEST(test_refuse_bad_values)
{
	struct world w;

	world_init(&w);
	AEMP_FAILS(&w, 1, "'nocolon' is not a seed address", "setseeds",
	    "nocolon");
	AEMP_FAILS(&w, 1, "'host:99999'", "setseeds", "a:1,host:99999");
	AEMP_FAILS(&w, 1, "':1'", "setseeds", ":1");
	AEMP_FAILS(&w, 1, "'x:-1' is not a bind address", "setbinds", "x:-1");
	AEMP_FAILS(&w, 1, "'*:abc'", "addbind", "*:abc");
	AEMP_FAILS(&w, 1, "\"../../etc/passwd\" is not a service",
	    "addservice", "../../etc/passwd");
	AEMP_FAILS(&w, 1, "\"bad name\"", "setservices", "bad name");
	AEMP_FAILS(&w, 1, "'md5' is not an authentication method",
	    "setauth_offer", "md5");
	AEMP_FAILS(&w, 1, "'cbor' is not a framing format",
	    "setframing_format", "cbor");
	AEMP_FAILS(&w, 1, "0 is not greater than 0", "setmax_packet", "0");
	AEMP_FAILS(&w, 1, "1.5 is not a whole number", "setmax_packet", "1.5");
	AEMP_FAILS(&w, 1, "0 is not greater than 0", "setconnect_interval",
	    "0");
	ck_assert_ptr_nonnull(strstr(w.err, "nothing was changed"));
	/* what a node takes passes: an ephemeral bind, IPv6, bare ports */
	AEMP_OK(&w, "setbinds", "127.0.0.1:0,[::1]:*,4040", "setseeds",
	    "localhost:1,[::1]:4040", "addservice", "[\"A::b\",1]",
	    "setmax_packet", "65536");
	/* run: a key without its value, before anything is executed */
	AEMP_FAILS(&w, 1, "profile has no value", "run", "profile");
	AEMP_FAILS(&w, 1, "binds has no value", "run", "profile", "X",
	    "binds");
	AEMP_FAILS(&w, 1, "'x:-1' is not a bind", "run", "seed", "binds",
	    "x:-1");
	world_free(&w);
}
END_TEST

START_TEST(test_profiles)
{
	struct world w;
	json_t *v;

	world_init(&w);
	AEMP_OK(&w, "profile", "a", "nodeid", "na", "setparent", "b",
	    "profile", "b", "binds", "b:1");
	AEMP_OK(&w, "showconfig", "a");
	v = parse_out(&w);
	FIELD_EQ(v, "binds", "[\"b:1\"]");
	json_decref(v);
	AEMP_OK(&w, "profile", "a", "delparent");
	AEMP_OK(&w, "showconfig", "a");
	v = parse_out(&w);
	FIELD_EQ(v, "binds", "(none)");
	FIELD_EQ(v, "nodeid", "\"na\"");
	json_decref(v);
	AEMP_OK(&w, "delprofile", "a");
	AEMP_OK(&w, "showprofile", "a");
	ck_assert_str_eq(w.out, "{}\n");
	/* No name: $AEMP_PROFILE, else the host name. */
	free(w.env[2]);
	w.env[2] = strdup("AEMP_PROFILE=b");
	AEMP_OK(&w, "showconfig");
	v = parse_out(&w);
	FIELD_EQ(v, "binds", "[\"b:1\"]");
	json_decref(v);
	world_free(&w);
}
END_TEST

START_TEST(test_import_export)
{
	struct world w;
	char *file, *exported;
	json_t *v;

	world_init(&w);
	if (asprintf(&file, "%s/.perl-anyevent-mp", w.dir) < 0)
		abort();
	/* As the reference writes it: strings for numbers, 0/1 booleans. */
	write_bytes(file, "{\n   \"secret\" : \"perlsecret\",\n"
	    "   \"seeds\" : [\"s:4040\"],\n   \"version\" : 1,\n"
	    "   \"monitor_timeout\" : \"20\",\n   \"odd\" : 1,\n"
	    "   \"profile\" : {\n      \"seed\" : { \"binds\" : [\"*:4040\"],"
	    " \"nodelay\" : 0 },\n      \"kid\" : { \"parent\" : \"seed\" }\n"
	    "   }\n}\n", 0);
	AEMP_OK(&w, "import-perl");
	ck_assert_ptr_nonnull(strstr(w.err, "ignoring key 'odd'"));
	AEMP_OK(&w, "showconfig", "kid");
	v = parse_out(&w);
	FIELD_EQ(v, "secret", "\"perlsecret\"");
	FIELD_EQ(v, "binds", "[\"*:4040\"]");
	FIELD_EQ(v, "nodelay", "false");
	FIELD_EQ(v, "monitor_timeout", "20");
	json_decref(v);
	AEMP_OK(&w, "export");
	exported = strdup(w.out);
	v = parse_out(&w);
	FIELD_EQ(v, "version", "1");
	FIELD_EQ(json_object_get(v, "profile"), "kid", "{\"parent\":\"seed\"}");
	json_decref(v);
	/* Round trip: exporting an import of an export changes nothing. */
	write_bytes(file, exported, 0);
	AEMP_OK(&w, "delprofile", "seed", "delprofile", "kid", "delsecret");
	AEMP_OK(&w, "import-perl", file);
	AEMP_OK(&w, "export");
	ck_assert_str_eq(w.out, exported);
	/* Bad files: nothing imported, the reason given. */
	write_bytes(file, "{\"secret\": \"Zq9sEcret", 0);
	AEMP_FAILS(&w, 1, "line 1", "import-perl", file, "nodeid", "x");
	ck_assert_ptr_null(strstr(w.err, "Zq9sEcret"));
	write_bytes(file, "{\"monitor_timeout\": \"soon\"}", 0);
	AEMP_FAILS(&w, 1, "monitor_timeout", "import-perl", file);
	AEMP_FAILS(&w, 1, "No such file", "import-perl", "/nonexistent/x");
	AEMP_OK(&w, "export");
	ck_assert_str_eq(w.out, exported);
	free(exported);
	free(file);
	world_free(&w);
}
END_TEST

START_TEST(test_gensecret_tls)
{
	struct world w;
	json_t *v;
	char *first;

	world_init(&w);
	AEMP_OK(&w, "gensecret", "showconfig", "x");
	v = parse_out(&w);
	first = strdup(json_string_value(json_object_get(v, "secret")));
	ck_assert_uint_eq(strlen(first), 64);
	json_decref(v);
	AEMP_OK(&w, "gensecret", "showconfig", "x");
	v = parse_out(&w);
	ck_assert_str_ne(json_string_value(json_object_get(v, "secret")),
	    first);
	json_decref(v);
	free(first);
	AEMP_OK(&w, "--help");
	ck_assert_ptr_null(strstr(w.out, "not supported yet"));
	world_free(&w);
}
END_TEST

/*
 * gencert stores a certificate of the reference's shape (10.2), which a
 * node accepts; setcert stores a file verbatim but refuses one without a
 * certificate or without a key; delcert removes it; the store stays 0600.
 */
START_TEST(test_gencert_setcert_delcert)
{
	struct world w;
	char path[512], *cmd, *pem, *openssl_out = NULL;
	const char *cert;
	struct stat st;
	json_t *v;

	world_init(&w);
	AEMP_OK(&w, "gencert", "showconfig");
	v = parse_out(&w);
	cert = json_string_value(json_object_get(v, "cert"));
	ck_assert_ptr_nonnull(cert);
	/* certificate first, then the PKCS#8 key */
	ck_assert(strncmp(cert, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	ck_assert_ptr_nonnull(strstr(cert, "-----BEGIN PRIVATE KEY-----\n"));
	ck_assert(strstr(cert, "BEGIN PRIVATE KEY") > strstr(cert,
	    "END CERTIFICATE"));
	snprintf(path, sizeof path, "%s/gen.pem", w.dir);
	write_bytes(path, cert, 0);
	if (asprintf(&cmd, "openssl x509 -in '%s' -noout -text", path) < 0)
		abort();
	{
		char *argv[] = { "/bin/sh", "-c", cmd, NULL };
		ck_assert_int_eq(test_run(argv, NULL, NULL, &openssl_out, NULL,
		    30), 0);
	}
	ck_assert_ptr_nonnull(strstr(openssl_out, "Issuer: CN = AnyEvent::MP"));
	ck_assert_ptr_nonnull(strstr(openssl_out, "Subject: CN = AnyEvent::MP"));
	ck_assert_ptr_nonnull(strstr(openssl_out, "(2048 bit)"));
	ck_assert_ptr_nonnull(strstr(openssl_out, "sha256WithRSAEncryption"));
	ck_assert_ptr_nonnull(strstr(openssl_out, "CA:TRUE"));
	ck_assert_ptr_nonnull(strstr(openssl_out, "Version: 3"));
	free(openssl_out);
	free(cmd);
	/* what a node loads: setcert checks it the same way */
	AEMP_OK(&w, "profile", "q", "setcert", path);
	ck_assert_int_eq(stat(w.rc, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	pem = strdup(cert);
	json_decref(v);

	/* a second one differs; delcert removes it */
	AEMP_OK(&w, "profile", "p", "gencert", "showconfig", "p");
	v = parse_out(&w);
	ck_assert_str_ne(json_string_value(json_object_get(v, "cert")), pem);
	json_decref(v);
	AEMP_OK(&w, "profile", "p", "delcert", "showconfig", "p");
	v = parse_out(&w);
	/* p inherits the global default's again */
	ck_assert_str_eq(json_string_value(json_object_get(v, "cert")), pem);
	json_decref(v);
	AEMP_OK(&w, "delcert", "showconfig");
	v = parse_out(&w);
	ck_assert_ptr_null(json_object_get(v, "cert"));
	json_decref(v);

	/* setcert: verbatim, key first is fine (the CA layout) */
	snprintf(path, sizeof path, "%s/keyfirst.pem", w.dir);
	{
		const char *k = strstr(pem, "-----BEGIN PRIVATE KEY-----");
		char *text;
		if (asprintf(&text, "%s%.*s", k, (int)(k - pem), pem) < 0)
			abort();
		write_bytes(path, text, 0);
		AEMP_OK(&w, "setcert", path, "showconfig");
		v = parse_out(&w);
		ck_assert_str_eq(json_string_value(json_object_get(v, "cert")),
		    text);
		json_decref(v);
		free(text);
	}
	AEMP_OK(&w, "delcert");
	/* refusals, with nothing changed */
	snprintf(path, sizeof path, "%s/certonly.pem", w.dir);
	write_bytes(path, pem, (size_t)(strstr(pem, "-----BEGIN PRIVATE KEY")
	    - pem));
	AEMP_FAILS(&w, 1, "no private key", "setcert", path);
	snprintf(path, sizeof path, "%s/keyonly.pem", w.dir);
	write_bytes(path, strstr(pem, "-----BEGIN PRIVATE KEY"), 0);
	AEMP_FAILS(&w, 1, "no certificate", "cert", path);
	AEMP_FAILS(&w, 1, "/etc/passwd: no certificate", "setcert",
	    "/etc/passwd");
	AEMP_FAILS(&w, 1, "No such file", "setcert", "/nonexistent/x.pem");
	AEMP_OK(&w, "showconfig");
	v = parse_out(&w);
	ck_assert_ptr_null(json_object_get(v, "cert"));
	json_decref(v);
	free(pem);
	world_free(&w);
}
END_TEST

/* --- bad input ----------------------------------------------------------- */

START_TEST(test_unknown_command)
{
	struct world w;

	world_init(&w);
	AEMP_FAILS(&w, 2, "frobnicate", "frobnicate");
	ck_assert_ptr_nonnull(strstr(w.err, "aemp --help"));
	/* Found before anything runs: nothing is created or written. */
	AEMP_FAILS(&w, 2, "bogus", "nodeid", "x", "bogus");
	ck_assert_int_ne(access(w.rc, F_OK), 0);
	ck_assert_int_eq(aemp(&w, (char *)NULL), 2);
	ck_assert_ptr_nonnull(strstr(w.err, "usage"));
	world_free(&w);
}
END_TEST

START_TEST(test_missing_argument)
{
	struct world w;

	world_init(&w);
	AEMP_FAILS(&w, 2, "setparent: missing argument NAME", "setparent");
	AEMP_FAILS(&w, 2, "profile: missing argument NAME", "profile");
	AEMP_FAILS(&w, 2, "addseed: missing argument H:P", "binds", "1",
	    "addseed");
	AEMP_FAILS(&w, 2, "setsecret: missing argument SECRET", "secret");
	AEMP_FAILS(&w, 1, "missing value", "showconfig", "x", "binds");
	ck_assert_int_ne(access(w.rc, F_OK), 0);
	world_free(&w);
}
END_TEST

START_TEST(test_invalid_json)
{
	struct world w;

	world_init(&w);
	AEMP_FAILS(&w, 1, "line 1, column 10, position 10", "setbinds",
	    "[\"a:1\" \"b\"]");
	ck_assert_ptr_nonnull(strstr(w.err, "invalid JSON"));
	AEMP_FAILS(&w, 1, "binds: element 1 is not a string", "binds",
	    "[\"a\", 2]");
	/* The secret never appears in an error message. */
	AEMP_FAILS(&w, 1, "invalid JSON", "setsecret", "\"Sekr1t");
	ck_assert_ptr_null(strstr(w.err, "Sekr1t"));
	AEMP_FAILS(&w, 1, "invalid JSON", "setsecret", "{Sekr1t");
	ck_assert_ptr_null(strstr(w.err, "Sekr1t"));
	world_free(&w);
}
END_TEST

START_TEST(test_bad_numbers)
{
	struct world w;

	world_init(&w);
	AEMP_FAILS(&w, 1, "'abc'", "monitor_timeout", "abc");
	ck_assert_ptr_nonnull(strstr(w.err, "monitor_timeout"));
	AEMP_FAILS(&w, 1, "connect_interval", "setconnect_interval", "[1]");
	AEMP_FAILS(&w, 1, "boolean", "nodelay", "maybe");
	world_free(&w);
}
END_TEST

START_TEST(test_empty_profile_name)
{
	struct world w;

	world_init(&w);
	AEMP_FAILS(&w, 1, "empty profile name", "profile", "", "binds", "1");
	AEMP_FAILS(&w, 1, "empty profile name", "showprofile", "");
	AEMP_FAILS(&w, 1, "empty profile name", "showconfig", "");
	AEMP_FAILS(&w, 1, "empty profile name", "profile", "a", "setparent",
	    "");
	AEMP_FAILS(&w, 1, "empty profile name", "delprofile", "");
	world_free(&w);
}
END_TEST

START_TEST(test_parent_cycle)
{
	struct world w;

	world_init(&w);
	AEMP_OK(&w, "profile", "a", "setparent", "b", "profile", "b",
	    "setparent", "c");
	AEMP_FAILS(&w, 1, "profile parent cycle: c -> a -> b -> c", "profile",
	    "c", "parent", "a");
	AEMP_FAILS(&w, 1, "profile parent cycle: a -> a", "profile", "a",
	    "setparent", "a");
	AEMP_FAILS(&w, 1, "global default configuration cannot have a parent",
	    "setparent", "a");
	AEMP_OK(&w, "showconfig", "a");
	world_free(&w);
}
END_TEST

/* A later failure in the chain leaves nothing of the earlier commands. */
START_TEST(test_all_or_nothing)
{
	struct world w;
	char *before;

	world_init(&w);
	AEMP_OK(&w, "nodeid", "n1", "profile", "p", "binds", "1");
	AEMP_OK(&w, "export");
	before = strdup(w.out);
	AEMP_FAILS(&w, 1, "nothing was changed", "nodeid", "n2", "profile",
	    "q", "addseed", "s:1", "delprofile", "p", "monitor_timeout", "abc");
	AEMP_FAILS(&w, 1, "cycle", "profile", "z", "binds", "2", "setparent",
	    "z");
	AEMP_OK(&w, "export");
	ck_assert_str_eq(w.out, before);
	free(before);
	world_free(&w);
}
END_TEST

static void
corrupt_case(struct world *w, const char *bytes, size_t len)
{
	char *after;
	size_t alen;

	write_bytes(w->rc, bytes, len);
	AEMP_FAILS(w, 1, w->rc, "setbinds", "1");
	AEMP_FAILS(w, 1, w->rc, "showconfig", "x");
	AEMP_FAILS(w, 1, w->rc, "export");
	after = read_bytes(w->rc, &alen);
	ck_assert_uint_eq(alen, len);
	ck_assert_msg(memcmp(after, bytes, len) == 0, "the file was changed");
	free(after);
}

START_TEST(test_corrupt_store)
{
	struct world w;
	char garbage[5000], *good, *mid;
	size_t i, len = 0;

	world_init(&w);
	for (i = 0; i < sizeof garbage; i++)
		garbage[i] = (char)((i * 131 + 17) ^ (i >> 3));
	AEMP_OK(&w, "nodeid", "x");	/* makes the directory */
	corrupt_case(&w, garbage, sizeof garbage);
	/* A real store, truncated, or with its pages scrambled. */
	unlink(w.rc);
	AEMP_OK(&w, "gensecret", "profile", "p", "binds", "1,2,3");
	good = read_bytes(w.rc, &len);
	ck_assert_uint_gt(len, 4096);
	corrupt_case(&w, good, 4096 + 100);
	corrupt_case(&w, good, 50);
	mid = malloc(len);
	memcpy(mid, good, len);
	memset(mid + 4096, 0x5a, len - 4096);
	corrupt_case(&w, mid, len);
	free(mid);
	free(good);
	world_free(&w);
}
END_TEST

START_TEST(test_not_a_file)
{
	struct world w;
	char cfg[4096];

	world_init(&w);
	snprintf(cfg, sizeof cfg, "%s/cfg", w.dir);
	ck_assert_int_eq(mkdir(cfg, 0700), 0);
	ck_assert_int_eq(mkdir(w.rc, 0700), 0);
	AEMP_FAILS(&w, 1, w.rc, "nodeid", "x");
	AEMP_FAILS(&w, 1, w.rc, "showconfig", "x");
	world_free(&w);
}
END_TEST

/* Read-only commands never create the store. */
START_TEST(test_readonly_no_create)
{
	struct world w;
	json_t *v;

	world_init(&w);
	AEMP_OK(&w, "showconfig", "nothing");
	v = parse_out(&w);
	FIELD_EQ(v, "monitor_timeout", "30");
	json_decref(v);
	AEMP_OK(&w, "showprofile", "nothing", "export", "help", "export");
	AEMP_OK(&w, "help", "setbinds");
	AEMP_OK(&w, "--version");
	ck_assert_ptr_nonnull(strstr(w.out, "aemp "));
	ck_assert_int_ne(access(w.rc, F_OK), 0);
	world_free(&w);
}
END_TEST

/*
 * A writer waits for another one holding the store, then succeeds: this
 * process holds a write transaction for a second while aemp runs.
 */
START_TEST(test_locked_store)
{
	struct world w;
	char *argv[] = { NULL, "addseed", "s:1", NULL }, *log;
	int status;
	sqlite3 *db;
	pid_t pid;
	json_t *v;

	world_init(&w);
	AEMP_OK(&w, "nodeid", "before");
	ck_assert_int_eq(sqlite3_open(w.rc, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT OR REPLACE "
	    "INTO config VALUES ('', 'nodeid', '\"holder\"')", NULL, NULL,
	    NULL), SQLITE_OK);
	argv[0] = test_bin("aemp");
	if (asprintf(&log, "%s/aemp.log", w.dir) < 0)
		abort();
	pid = test_spawn(argv, w.env, log, -1);
	/* Still waiting after a second: it neither failed nor went ahead. */
	ck_assert_int_eq(test_wait(pid, 1.0), -1);
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	status = test_wait(pid, 10.0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "aemp failed: status %d", status);
	AEMP_OK(&w, "export");
	v = parse_out(&w);
	FIELD_EQ(v, "nodeid", "\"holder\"");
	FIELD_EQ(v, "seeds", "[\"s:1\"]");
	json_decref(v);
	free(argv[0]);
	free(log);
	world_free(&w);
}
END_TEST

#define RACE_N	200

/* Two processes, each running RACE_N addseed invocations at once. */
START_TEST(test_concurrent_writers)
{
	struct world w;
	pid_t pids[2];
	int i, k, status, fails;
	char seed[64];
	json_t *v, *seeds;

	world_init(&w);
	for (k = 0; k < 2; k++) {
		pids[k] = fork();
		ck_assert_int_ge(pids[k], 0);
		if (pids[k] != 0)
			continue;
		for (i = fails = 0; i < RACE_N; i++) {
			snprintf(seed, sizeof seed, "w%d-%d:4040", k, i);
			if (aemp(&w, "addseed", seed, (char *)NULL) != 0) {
				fprintf(stderr, "%s", w.err);
				fails++;
			}
		}
		_exit(fails != 0);
	}
	for (k = 0; k < 2; k++) {
		ck_assert_int_eq(waitpid(pids[k], &status, 0), pids[k]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "writer %d failed", k);
	}
	AEMP_OK(&w, "export");
	v = parse_out(&w);
	seeds = json_object_get(v, "seeds");
	ck_assert_uint_eq(json_array_size(seeds), 2 * RACE_N);
	for (k = 0; k < 2; k++)
		for (i = 0; i < RACE_N; i++) {
			snprintf(seed, sizeof seed, "w%d-%d:4040", k, i);
			ck_assert_msg(strstr(w.out, seed) != NULL, "lost %s",
			    seed);
		}
	json_decref(v);
	world_free(&w);
}
END_TEST

/* --- help and the man page agree with the command table ------------------ */

/* Every command the brief and the reference name. */
static const char *const commands[] = {
	"setnodeid", "nodeid", "delnodeid", "gensecret", "setsecret", "secret",
	"delsecret", "gencert", "setcert", "cert", "delcert", "setseeds",
	"seeds", "delseeds", "addseed", "delseed", "setbinds", "binds",
	"delbinds", "addbind", "delbind", "setservices", "services",
	"delservices", "addservice", "delservice", "profile", "setparent",
	"parent", "delparent", "delprofile", "showprofile", "showconfig",
	"setmonitor_timeout", "monitor_timeout", "delmonitor_timeout",
	"setconnect_interval", "connect_interval", "delconnect_interval",
	"setframing_format", "framing_format", "delframing_format",
	"setauth_offer", "auth_offer", "delauth_offer", "setauth_accept",
	"auth_accept", "delauth_accept", "setautocork", "autocork",
	"delautocork", "setnodelay", "nodelay", "delnodelay", "import-perl",
	"export", "help", NULL
};

static char *
man_page(const char *name)
{
	const char *src = getenv("AEMP_SRC");
	char path[4096], *text;

	if (src != NULL) {
		snprintf(path, sizeof path, "%s/man/%s", src, name);
		if ((text = test_slurp(path)) != NULL)
			return text;
	}
	snprintf(path, sizeof path, "man/%s", name);
	if ((text = test_slurp(path)) != NULL)
		return text;
	snprintf(path, sizeof path, "../../man/%s", name);
	return test_slurp(path);
}

/* Whether word occurs in text as a whole word (man: '-' written '\-'). */
static int
has_word(const char *text, const char *word, int man)
{
	char buf[128], *q = buf;
	const char *p, *w;
	size_t len;

	for (w = word; *w != '\0'; w++) {
		if (man && *w == '-')
			*q++ = '\\';
		*q++ = *w;
	}
	*q = '\0';
	len = strlen(buf);
	for (p = text; (p = strstr(p, buf)) != NULL; p++) {
		int before = p == text || !(isalnum((unsigned char)p[-1]) ||
		    p[-1] == '_' || p[-1] == '-');
		int after = !(isalnum((unsigned char)p[len]) ||
		    p[len] == '_' || (p[len] == '\\' && p[len + 1] == '-'));
		if (before && after)
			return 1;
	}
	return 0;
}

START_TEST(test_help_and_man)
{
	struct world w;
	const char *const *c;
	char *man, *line, *save, *help, name[128];
	int listed = 0;

	world_init(&w);
	AEMP_OK(&w, "--help");
	help = strdup(w.out);
	man = man_page("aemp.1");
	ck_assert_msg(man != NULL, "man/aemp.1 not found (run from the "
	    "source tree or set AEMP_SRC)");
	for (c = commands; *c != NULL; c++) {
		ck_assert_msg(has_word(help, *c, 0), "--help lacks %s", *c);
		ck_assert_msg(has_word(man, *c, 1), "aemp.1 lacks %s", *c);
		AEMP_OK(&w, "help", *c);
	}
	/* And every command --help lists (the table) is in the man page. */
	for (line = strtok_r(help, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "  ", 2) != 0 || !islower((unsigned char)
		    line[2]))
			continue;
		sscanf(line + 2, "%127s", name);
		ck_assert_msg(has_word(man, name, 1), "aemp.1 lacks %s", name);
		listed++;
	}
	ck_assert_int_ge(listed, 40);
	/* The keys, types and defaults are in aemp-profiles(5). */
	free(man);
	man = man_page("aemp-profiles.5");
	ck_assert_ptr_nonnull(man);
	for (c = (const char *const[]){ "nodeid", "secret", "cert", "binds",
	    "seeds", "services", "parent", "monitor_timeout",
	    "connect_interval", "framing_format", "auth_offer", "auth_accept",
	    "autocork", "nodelay", NULL }; *c != NULL; c++)
		ck_assert_msg(has_word(man, *c, 1), "aemp-profiles.5 lacks %s",
		    *c);
	free(man);
	free(help);
	world_free(&w);
}
END_TEST


START_TEST(test_valgrind_commands)
{
	struct world w;
	const char *b = getenv("AEMP_BUILD");
	char *bin = test_bin("aemp");
	char *ok[] = { "/usr/bin/valgrind", "-q", "--leak-check=full",
	    "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=9",
	    bin, "gensecret", "profile", "x", "binds", "127.0.0.1:1",
	    "seeds", "a:1,b:2", "addseed", "c:3", "delseed", "a:1",
	    "showconfig", "x", NULL };
	char *bad[] = { "/usr/bin/valgrind", "-q", "--leak-check=full",
	    "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=9",
	    bin, "profile", "x", "monitor_timeout", "abc", NULL };

	/* sanitizer builds check themselves and cannot run under valgrind */
	if (b != NULL && strstr(b, "asan") != NULL) {
		free(bin);
		return;
	}
	ck_assert_msg(access("/usr/bin/valgrind", X_OK) == 0,
	    "valgrind is missing: make deps installs it");
	world_init(&w);
	ck_assert_int_eq(test_run(ok, w.env, NULL, NULL, NULL, 60), 0);
	ck_assert_int_eq(test_run(bad, w.env, NULL, NULL, NULL, 60), 1);
	/* --timeout takes words out of the argument list: none freed twice */
	{
		char *net[] = { "/usr/bin/valgrind", "-q", "--leak-check=full",
		    "--errors-for-leak-kinds=definite,indirect",
		    "--error-exitcode=9", bin, "cal", "--timeout", "0.5",
		    "nobody", "time", NULL };
		ck_assert_int_eq(test_run(net, w.env, NULL, NULL, NULL, 60), 1);
	}
	world_free(&w);
	free(bin);
}
END_TEST

/*
 * SIGKILL in the middle of a long chain leaves the store as it was or
 * as the whole chain made it, never in between.
 */
START_TEST(test_sigkill_mid_chain)
{
	struct world w;
	char **argv = calloc(2 * 2000 + 2, sizeof *argv);
	int i, round;

	world_init(&w);
	AEMP_OK(&w, "profile", "p", "binds", "127.0.0.1:1");
	argv[0] = test_bin("aemp");
	for (i = 0; i < 2000; i++) {
		argv[1 + 2 * i] = "addseed";
		if (asprintf(&argv[2 + 2 * i], "h%d:1", i) < 0)
			abort();
	}
	for (round = 0; round < 6; round++) {
		pid_t pid = test_spawn(argv, w.env, NULL, -1);
		json_t *cfg, *seeds;
		size_t n;

		usleep((useconds_t)(2000 + round * 7000));
		kill(pid, SIGKILL);
		test_wait(pid, 10);
		AEMP_OK(&w, "showconfig");
		cfg = parse_out(&w);
		seeds = json_object_get(cfg, "seeds");
		n = json_array_size(seeds);
		ck_assert_msg(n == 0 || n == 2000, "round %d: %zu seeds", round,
		    n);
		json_decref(cfg);
		AEMP_OK(&w, "delseeds");
	}
	for (i = 0; i < 2000; i++)
		free(argv[2 + 2 * i]);
	free(argv[0]);
	free(argv);
	world_free(&w);
}
END_TEST

/* --- a writer killed mid-commit (issue 11, F4) ---------------------------- */

/*
 * Leaves a hot journal for certain: a child takes the write lock, changes
 * rows, pushes the changed pages into the file before committing (what a
 * big commit does on its own; unless !flush, for when another process
 * holds the store's SHARED lock: then only the journal is written), and
 * is SIGKILLed there.
 */
static void
make_hot_journal(struct world *w, int flush)
{
	char *journal, sql[256];
	struct stat sb;
	int status, i;
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		sqlite3 *db;
		if (sqlite3_open(w->rc, &db) != SQLITE_OK ||
		    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK)
			_exit(1);
		for (i = 0; i < 200; i++) {
			snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO config "
			    "VALUES ('', 'nodeid', '\"torn%d\"')", i);
			sqlite3_exec(db, sql, NULL, NULL, NULL);
			snprintf(sql, sizeof sql, "INSERT INTO profile VALUES "
			    "('torn-%d-%0100d')", i, i);
			sqlite3_exec(db, sql, NULL, NULL, NULL);
		}
		if (flush && sqlite3_db_cacheflush(db) != SQLITE_OK)
			_exit(1);
		raise(SIGKILL);
		_exit(1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	if (asprintf(&journal, "%s-journal", w->rc) < 0)
		abort();
	ck_assert_msg(stat(journal, &sb) == 0 && sb.st_size > 0,
	    "no hot journal left");
	free(journal);
}

/* showconfig reads what was committed last, whatever was left behind. */
static void
assert_reads_committed(struct world *w, const char *nodeid)
{
	json_t *v;

	AEMP_OK(w, "showconfig");
	v = parse_out(w);
	FIELD_EQ(v, "nodeid", nodeid);
	json_decref(v);
}

/* aempd starts (reads the store, listens) and stops again. */
static void
assert_aempd_starts(struct world *w, int port)
{
	char *argv[] = { NULL, "binds", NULL, NULL }, *log, bind[64];
	int status;
	pid_t pid;

	snprintf(bind, sizeof bind, "127.0.0.1:%d", port);
	argv[0] = test_bin("aempd");
	argv[2] = bind;
	if (asprintf(&log, "%s/aempd.log", w->dir) < 0)
		abort();
	unlink(log);
	pid = test_spawn(argv, w->env, log, -1);
	if (!test_wait_for_text(log, "node listens on", 20)) {
		char *text = test_slurp(log);
		status = test_stop(pid);
		ck_abort_msg("aempd did not start (status %d): %s", status,
		    text ? text : "");
	}
	test_stop(pid);
	free(log);
	free(argv[0]);
}

/* Runs aemp showconfig as nobody, who may not write the store's directory. */
static int
showconfig_as_nobody(struct world *w)
{
	char *argv[] = { NULL, "showconfig", NULL };
	int status;
	pid_t pid;

	argv[0] = test_bin("aemp");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(126);
		execve(argv[0], argv, w->env);
		_exit(127);
	}
	free(argv[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_hot_journal_readers)
{
	struct world w;
	char *cfg, *journal;
	int port = test_free_port();

	world_init(&w);
	AEMP_OK(&w, "gensecret", "nodeid", "kept");
	make_hot_journal(&w, 1);
	assert_aempd_starts(&w, port);
	make_hot_journal(&w, 1);
	assert_reads_committed(&w, "\"kept\"");
	/* showconfig rolled it back: the journal is gone */
	if (asprintf(&journal, "%s-journal", w.rc) < 0 ||
	    asprintf(&cfg, "%s/cfg", w.dir) < 0)
		abort();
	ck_assert_int_ne(access(journal, F_OK), 0);

	/* A reader that can write neither the file nor the directory. */
	if (getuid() == 0) {
		/* the journal gets the store's mode: readable by all too */
		ck_assert_int_eq(chmod(w.dir, 0755), 0);
		ck_assert_int_eq(chmod(cfg, 0755), 0);
		ck_assert_int_eq(chmod(w.rc, 0644), 0);
		make_hot_journal(&w, 1);
		ck_assert_int_eq(showconfig_as_nobody(&w), 0);
		/* it could not roll back: the journal is still there */
		ck_assert_int_eq(access(journal, F_OK), 0);
		assert_reads_committed(&w, "\"kept\"");
	}
	free(journal);
	free(cfg);
	world_free(&w);
}
END_TEST

/* Entries of dir other than . and .. */
static int
dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/*
 * As nobody: the store's nodeid through a reader that cannot write, and
 * while it has the store open, no file in tmp. 0 if all is well.
 */
static int
nobody_reads_kept(struct world *w, const char *tmp)
{
	char *err = NULL;
	aemp_store *st = ae_store_open(w->rc, AEMP_STORE_READ, &err);
	json_t *cfg;
	int rc = 0;

	if (st == NULL) {
		fprintf(stderr, "nobody: %s\n", err);
		return 1;
	}
	cfg = ae_store_get(st, NULL, &err);
	if (cfg == NULL || !json_is_string(json_object_get(cfg, "nodeid")) ||
	    strcmp(json_string_value(json_object_get(cfg, "nodeid")),
	    "kept") != 0)
		rc = 2;
	else if (dir_entries(tmp) != 0)
		rc = 3;		/* a copy of the store, while it is open */
	json_decref(cfg);
	ae_store_close(st);
	return rc;
}

/*
 * A reader that may write neither the store nor its directory plays the
 * hot journal back in memory: no copy of the store (it holds the secret)
 * in $TMPDIR, not even while it reads, so none is left if it is killed;
 * and no POSIX lock of its process on the store is dropped (closing any
 * descriptor of the file drops them all): a reader of the same process
 * keeps its SHARED lock, which a writer elsewhere relies on.
 */
START_TEST(test_hot_journal_private_copy)
{
	struct world w;
	char *cfg, *tmp, *journal, c;
	int status, toc[2], top[2], fd;
	struct flock lk;
	pid_t pid;

	if (getuid() != 0)
		return;		/* needs a second user */
	world_init(&w);
	AEMP_OK(&w, "gensecret", "nodeid", "kept");
	if (asprintf(&cfg, "%s/cfg", w.dir) < 0 ||
	    asprintf(&tmp, "%s/tmp", w.dir) < 0 ||
	    asprintf(&journal, "%s-journal", w.rc) < 0)
		abort();
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	ck_assert_int_eq(chmod(tmp, 01777), 0);
	ck_assert_int_eq(chmod(w.dir, 0755), 0);
	ck_assert_int_eq(chmod(cfg, 0755), 0);
	ck_assert_int_eq(chmod(w.rc, 0644), 0);
	setenv("TMPDIR", tmp, 1);

	/* the journal's pages are in the file: it must be played back */
	make_hot_journal(&w, 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(10);
		_exit(nobody_reads_kept(&w, tmp));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "reader status %d", status);
	ck_assert_int_eq(dir_entries(tmp), 0);
	ck_assert_int_eq(access(journal, F_OK), 0);
	assert_reads_committed(&w, "\"kept\"");	/* rolled back */

	/* a reader that holds SHARED, then a hot journal appears */
	ck_assert_int_eq(pipe(toc), 0);
	ck_assert_int_eq(pipe(top), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		aemp_store *held;
		char *err = NULL;
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(10);
		if ((held = ae_store_open(w.rc, AEMP_STORE_READ, &err)) ==
		    NULL)
			_exit(13);
		if (write(top[1], "1", 1) != 1 || read(toc[0], &c, 1) != 1)
			_exit(15);
		if ((status = nobody_reads_kept(&w, tmp)) != 0)
			_exit(20 + status);
		if (write(top[1], "2", 1) != 1 || read(toc[0], &c, 1) != 1)
			_exit(18);
		ae_store_close(held);
		_exit(0);
	}
	ck_assert_int_eq(read(top[0], &c, 1), 1);
	make_hot_journal(&w, 0);
	ck_assert_int_eq(access(journal, F_OK), 0);
	ck_assert_int_eq(write(toc[1], "g", 1), 1);
	ck_assert_msg(read(top[0], &c, 1) == 1, "the reader failed");
	/* the reader of that process still holds its SHARED lock */
	memset(&lk, 0, sizeof lk);
	lk.l_type = F_WRLCK;
	lk.l_whence = SEEK_SET;
	lk.l_start = 0x40000000 + 2;
	lk.l_len = 510;
	ck_assert_int_ge(fd = open(w.rc, O_RDONLY), 0);
	ck_assert_int_eq(fcntl(fd, F_GETLK, &lk), 0);
	close(fd);
	ck_assert_int_eq(write(toc[1], "d", 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "reader status %d", status);
	ck_assert_msg(lk.l_type == F_RDLCK && lk.l_pid == pid,
	    "the SHARED lock of the reader's process was dropped");
	unsetenv("TMPDIR");
	close(toc[0]);
	close(toc[1]);
	close(top[0]);
	close(top[1]);
	free(cfg);
	free(tmp);
	free(journal);
	world_free(&w);
}
END_TEST

/* A journal with its magic number and no writer: SQLite must roll it back. */
static int
hot_journal(const char *journal)
{
	static const unsigned char magic[8] = { 0xd9, 0xd5, 0x05, 0xf9, 0x20,
	    0xa1, 0x63, 0xd7 };
	unsigned char head[8];
	FILE *f = fopen(journal, "rb");
	int hot;

	if (f == NULL)
		return 0;
	hot = fread(head, 1, 8, f) == 8 && memcmp(head, magic, 8) == 0;
	fclose(f);
	return hot;
}

#ifndef KILL_ROUNDS
#define KILL_ROUNDS	100
#endif

/*
 * Writers SIGKILLed at random points of a big chain (300 profiles, each
 * round writing new values of 300 bytes), mostly late in it, where the
 * commit is; after each, readers and aempd still work. About one round
 * in five leaves a hot journal, which readers before could not read.
 */
START_TEST(test_sigkill_writers_readers)
{
	struct world w;
	char **argv = calloc(4 * 300 + 2, sizeof *argv), *journal, val[400];
	int i, round, hot = 0, port = test_free_port(), status, nobody;
	double t0, took;
	struct timespec ts;
	pid_t pid;

	world_init(&w);
	AEMP_OK(&w, "gensecret", "nodeid", "kept");
	if (asprintf(&journal, "%s-journal", w.rc) < 0)
		abort();
	if ((nobody = getuid() == 0)) {
		char *cfg;
		if (asprintf(&cfg, "%s/cfg", w.dir) < 0)
			abort();
		ck_assert_int_eq(chmod(w.dir, 0755), 0);
		ck_assert_int_eq(chmod(cfg, 0755), 0);
		ck_assert_int_eq(chmod(w.rc, 0644), 0);
		free(cfg);
	}
	argv[0] = test_bin("aemp");
	for (i = 0; i < 300; i++) {
		argv[1 + 4 * i] = "profile";
		if (asprintf(&argv[2 + 4 * i], "p%d", i) < 0)
			abort();
		argv[3 + 4 * i] = "nodeid";
	}
	/*
	 * How long one whole writer takes, to kill it anywhere in that: the
	 * fastest of three that change the values as the rounds do.
	 */
	for (round = 0, took = 1e9; round < 3; round++) {
		snprintf(val, sizeof val, "m%d-%0300d", round, round);
		for (i = 0; i < 300; i++)
			argv[4 + 4 * i] = val;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t0 = ts.tv_sec + ts.tv_nsec / 1e9;
		ck_assert_int_eq(test_run(argv, w.env, NULL, NULL, NULL, 30), 0);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (ts.tv_sec + ts.tv_nsec / 1e9 - t0 < took)
			took = ts.tv_sec + ts.tv_nsec / 1e9 - t0;
	}
	srandom((unsigned)getpid());
	for (round = 0; round < KILL_ROUNDS; round++) {
		snprintf(val, sizeof val, "r%d-%0300d", round, round);
		for (i = 0; i < 300; i++)
			argv[4 + 4 * i] = val;
		pid = test_spawn(argv, w.env, NULL, -1);
		usleep((useconds_t)(took * 0.3e6 + random() % (long)(took * 1.0e6 +
		    1)));
		kill(pid, SIGKILL);
		status = test_wait(pid, 10);
		ck_assert_int_ne(status, -1);
		hot += hot_journal(journal);
		/* first a reader that plays a hot journal back in memory */
		if (nobody)
			ck_assert_int_eq(showconfig_as_nobody(&w), 0);
		assert_reads_committed(&w, "\"kept\"");
		assert_aempd_starts(&w, port);
	}
	fprintf(stderr, "test_sigkill_writers_readers: %d rounds, writer %.0f ms, "
	    "%d left a hot journal\n", KILL_ROUNDS, took * 1e3, hot);
	for (i = 0; i < 300; i++)
		free(argv[2 + 4 * i]);
	free(argv[0]);
	free(argv);
	free(journal);
	world_free(&w);
}
END_TEST

/* --- the secret in ps(1), and the store's mode (issue 11) ----------------- */

/*
 * Holds the store with an EXCLUSIVE lock, so that aemp waits (in the busy
 * handler, up to 10 s) with its arguments as they are; meanwhile, after
 * at most 2.5 s for the loader, 100 looks at its /proc/PID/cmdline must
 * never find the secret.
 */
static void
assert_scrubbed_while_waiting(struct world *w, char **argv,
    const char *secret)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	int i, seen = 0, status;
	sqlite3 *db;
	pid_t pid;

	ck_assert_int_eq(sqlite3_open(w->rc, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL,
	    NULL), SQLITE_OK);
	pid = test_spawn(argv, w->env, NULL, -1);
	/* past exec and the dynamic loader (long on a loaded machine) */
	for (i = 0; i < 500 && (test_cmdline_has(pid, "bin/aemp") != 1 ||
	    test_cmdline_has(pid, secret) != 0); i++)
		nanosleep(&ts, NULL);
	for (i = 0; i < 100; i++) {
		seen += test_cmdline_has(pid, secret) == 1;
		ck_assert_int_eq(test_cmdline_has(pid, "bin/aemp"), 1);
		nanosleep(&ts, NULL);
	}
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	status = test_wait(pid, 20);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "aemp failed: %d", status);
	ck_assert_msg(seen == 0, "the secret was in cmdline %d of 100 times",
	    seen);
}

START_TEST(test_secret_not_in_cmdline)
{
	struct world w;
	const char *secret = "Ts8bq2LrWx4Ye9NcKv1Hm7Pd";
	char *plain[] = { NULL, "setsecret", (char *)secret, NULL };
	char *json[] = { NULL, NULL, NULL }, *text;
	json_t *v;

	world_init(&w);
	AEMP_OK(&w, "nodeid", "n");
	plain[0] = json[0] = test_bin("aemp");
	assert_scrubbed_while_waiting(&w, plain, secret);
	if (asprintf(&text, "[\"profile\",\"p\",\"setsecret\",\"%s\"]",
	    secret) < 0)
		abort();
	json[1] = text;
	assert_scrubbed_while_waiting(&w, json, secret);
	AEMP_OK(&w, "showprofile", "p");
	v = parse_out(&w);
	ck_assert_str_eq(json_string_value(json_object_get(v, "secret")),
	    secret);
	json_decref(v);
	free(text);
	/* the status page's bearer token is a secret too, in either form */
	plain[1] = "setstatus_token";
	assert_scrubbed_while_waiting(&w, plain, secret);
	if (asprintf(&text, "[\"profile\",\"q\",\"setstatus_token\",\"%s\"]",
	    secret) < 0)
		abort();
	json[1] = text;
	assert_scrubbed_while_waiting(&w, json, secret);
	free(text);
	free(plain[0]);
	world_free(&w);
}
END_TEST

START_TEST(test_store_mode_warning)
{
	struct world w;

	world_init(&w);
	AEMP_OK(&w, "gensecret");
	ck_assert_ptr_null(strstr(w.err, "warning"));
	AEMP_OK(&w, "showconfig");
	ck_assert_ptr_null(strstr(w.err, "warning"));
	ck_assert_int_eq(chmod(w.rc, 0640), 0);
	AEMP_OK(&w, "showconfig");
	ck_assert_ptr_nonnull(strstr(w.err, w.rc));
	ck_assert_ptr_nonnull(strstr(w.err, "readable by its group (mode 0640)"));
	ck_assert_int_eq(chmod(w.rc, 0604), 0);
	AEMP_OK(&w, "nodeid", "x");
	ck_assert_ptr_nonnull(strstr(w.err, "readable by everybody (mode 0604)"));
	ck_assert_ptr_nonnull(strstr(w.err, "chmod 600"));
	world_free(&w);
}
END_TEST

START_TEST(test_weak_secret_warning)
{
	static const char *const weak[] = { "s", "summer2024",
	    "aaaaaaaaaaaaaaaaaaaaaaaa", "abcdefghijklmnop",
	    "1234567890123456789012" };
	struct world w;
	size_t i;

	world_init(&w);
	for (i = 0; i < sizeof weak / sizeof *weak; i++) {
		AEMP_OK(&w, "setsecret", weak[i]);
		ck_assert_msg(strstr(w.err, "warning") != NULL &&
		    strstr(w.err, "aemp gensecret") != NULL,
		    "no warning for %s: %s", weak[i], w.err);
		if (i > 0)	/* the message never quotes the secret */
			ck_assert_ptr_null(strstr(w.err, weak[i]));
	}
	/* the store has it all the same */
	AEMP_OK(&w, "showconfig");
	ck_assert_ptr_nonnull(strstr(w.out, "1234567890123456789012"));
	AEMP_OK(&w, "secret", "Ts8bq2LrWx4Ye9NcKv1Hm7Pd");
	ck_assert_str_eq(w.err, "");
	AEMP_OK(&w, "gensecret");
	ck_assert_str_eq(w.err, "");
	world_free(&w);
}
END_TEST

static Suite *
cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("accept");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_tutorial);
	tcase_add_test(tc, test_chain);
	tcase_add_test(tc, test_json_arguments);
	tcase_add_test(tc, test_add_del);
	tcase_add_test(tc, test_profiles);
	tcase_add_test(tc, test_import_export);
	tcase_add_test(tc, test_gensecret_tls);
	tcase_add_test(tc, test_gencert_setcert_delcert);
	tcase_add_test(tc, test_locked_store);
	tcase_add_test(tc, test_concurrent_writers);
	tcase_add_test(tc, test_valgrind_commands);
	tcase_add_test(tc, test_sigkill_mid_chain);
	suite_add_tcase(s, tc);
	tc = tcase_create("crashed writers");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_hot_journal_readers);
	tcase_add_test(tc, test_hot_journal_private_copy);
	tcase_add_test(tc, test_sigkill_writers_readers);
	suite_add_tcase(s, tc);
	tc = tcase_create("secrets");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_secret_not_in_cmdline);
	tcase_add_test(tc, test_store_mode_warning);
	tcase_add_test(tc, test_weak_secret_warning);
	suite_add_tcase(s, tc);
	tc = tcase_create("bad input");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_unknown_command);
	tcase_add_test(tc, test_missing_argument);
	tcase_add_test(tc, test_invalid_json);
	tcase_add_test(tc, test_bad_numbers);
	tcase_add_test(tc, test_service_instances);
	tcase_add_test(tc, test_refuse_bad_values);
	tcase_add_test(tc, test_empty_profile_name);
	tcase_add_test(tc, test_parent_cycle);
	tcase_add_test(tc, test_all_or_nothing);
	tcase_add_test(tc, test_corrupt_store);
	tcase_add_test(tc, test_not_a_file);
	tcase_add_test(tc, test_readonly_no_create);
	suite_add_tcase(s, tc);
	tc = tcase_create("docs");
	tcase_add_test(tc, test_help_and_man);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(cli_suite)

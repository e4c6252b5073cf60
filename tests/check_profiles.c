/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_profiles.c: unit tests of the profile store API: argument
 * parsing, the SQLite file, transactions and effective configuration.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "testutil.h"

/* A temp dir per test; Check forks each test, so setenv() stays local. */
static char *
fresh_rc(char **dir)
{
	char *rc;

	*dir = test_tmpdir();
	if (asprintf(&rc, "%s/sub/dir/aemp.db", *dir) < 0)
		abort();
	setenv("AEMP_RC", rc, 1);
	return rc;
}

/* json_dumps of v, compact with sorted keys, for comparisons. */
static char *
dump(json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(15));
}

static void
assert_value(const char *key, const char *arg, const char *want)
{
	char *err = NULL, *got;
	json_t *v = ae_config_value(key, arg, &err);

	ck_assert_msg(v != NULL, "%s %s: %s", key, arg, err ? err : "?");
	got = dump(v);
	ck_assert_str_eq(got, want);
	free(got);
	json_decref(v);
}

/* The value must be refused with a message containing each of the needles. */
static void
assert_bad_value(const char *key, const char *arg, const char *needle,
    const char *needle2)
{
	char *err = NULL;
	json_t *v = ae_config_value(key, arg, &err);

	ck_assert_msg(v == NULL, "%s %s was accepted", key, arg);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, needle) != NULL, "'%s' lacks '%s'", err,
	    needle);
	if (needle2 != NULL)
		ck_assert_msg(strstr(err, needle2) != NULL, "'%s' lacks '%s'",
		    err, needle2);
	free(err);
}

START_TEST(test_values)
{
	assert_value("binds", "*:4040", "[\"*:4040\"]");
	assert_value("binds", "4040,4041", "[\"4040\",\"4041\"]");
	assert_value("seeds", "", "[]");
	assert_value("seeds", "a:1,,b:2,", "[\"a:1\",\"b:2\"]");
	assert_value("seeds", "[\"h:1\",\"h:2\"]", "[\"h:1\",\"h:2\"]");
	assert_value("seeds", "\"x:1,y:2\"", "[\"x:1\",\"y:2\"]");
	assert_value("services", "A::,B::f", "[\"A::\",\"B::f\"]");
	assert_value("services", "[[\"A::f\",1,2],\"B::\"]",
	    "[[\"A::f\",1,2],\"B::\"]");
	assert_value("framing_format", "json", "[\"json\"]");
	assert_value("auth_offer", "hmac_md6_64_256,cleartext",
	    "[\"hmac_md6_64_256\",\"cleartext\"]");
	assert_value("monitor_timeout", "30", "30");
	assert_value("monitor_timeout", "0.5", "0.5");
	assert_value("connect_interval", "2.5e1", "25.0");
	assert_value("connect_interval", "1", "1");
	assert_value("monitor_timeout", "\"7\"", "7");
	assert_value("autocork", "1", "true");
	assert_value("autocork", "false", "false");
	assert_value("nodelay", "0", "false");
	assert_value("nodelay", "true", "true");
	assert_value("nodeid", "anon/", "\"anon/\"");
	assert_value("nodeid", "\"quoted\"", "\"quoted\"");
	assert_value("secret", "s3cr3t", "\"s3cr3t\"");
	assert_value("parent", "seed", "\"seed\"");
}
END_TEST

START_TEST(test_bad_values)
{
	char *err = NULL;

	assert_bad_value("monitor_timeout", "abc", "monitor_timeout", "'abc'");
	assert_bad_value("monitor_timeout", "0x10", "not a number", NULL);
	assert_bad_value("monitor_timeout", "nan", "not a number", NULL);
	assert_bad_value("connect_interval", "-1", "negative", NULL);
	assert_bad_value("connect_interval", " 1", "not a number", NULL);
	assert_bad_value("connect_interval", "[1]", "must be a number", NULL);
	assert_bad_value("autocork", "yes", "autocork", "boolean");
	assert_bad_value("nodelay", "2", "boolean", NULL);
	assert_bad_value("binds", "[\"a\",1]", "element 1", NULL);
	assert_bad_value("binds", "{\"a\":1}", "must be a list", NULL);
	assert_bad_value("services", "[[1]]", "element 0", NULL);
	assert_bad_value("nodeid", "a#b", "nodeid", NULL);
	/* every element as the node reads it, named in the message */
	assert_bad_value("seeds", "a:1,nocolon", "'nocolon'", "seed address");
	assert_bad_value("seeds", "host:99999", "'host:99999'", NULL);
	assert_bad_value("seeds", ":1", "':1'", NULL);
	assert_bad_value("seeds", "h:0", "'h:0'", NULL);
	assert_bad_value("seeds", "h:*", "'h:*'", NULL);
	assert_bad_value("binds", "x:-1", "'x:-1'", "bind address");
	assert_bad_value("binds", "*:abc", "'*:abc'", NULL);
	assert_bad_value("services", "../../etc/passwd", "../../etc/passwd",
	    "not a service");
	assert_bad_value("services", "bad name", "\"bad name\"", NULL);
	assert_bad_value("services", "[[\"Pkg::\",1]]", "[\"Pkg::\",1]", NULL);
	assert_bad_value("auth_offer", "md5", "'md5'", "authentication");
	assert_bad_value("auth_accept", "cleartext,x", "'x'", NULL);
	assert_bad_value("framing_format", "cbor", "'cbor'", NULL);
	assert_bad_value("framing_format", "storable", "json", NULL);
	assert_bad_value("max_packet", "0", "max_packet", "greater than 0");
	assert_bad_value("max_packet", "1.5", "1.5", "whole number");
	assert_bad_value("max_queue", "0", "max_queue", NULL);
	assert_bad_value("connect_interval", "0", "connect_interval", NULL);
	assert_bad_value("monitor_timeout", "0", "monitor_timeout", NULL);
	assert_bad_value("nodeid", "a;b", "nodeid", NULL);
	assert_value("binds", "127.0.0.1:0,*,*:*,4040,[::1]:1,h",
	    "[\"127.0.0.1:0\",\"*\",\"*:*\",\"4040\",\"[::1]:1\",\"h\"]");
	assert_value("seeds", "4040,[::1]:1,h:65535",
	    "[\"4040\",\"[::1]:1\",\"h:65535\"]");
	assert_value("framing_format", "json,storable",
	    "[\"json\",\"storable\"]");
	assert_value("max_packet", "1e6", "1000000.0");
	assert_bad_value("nodeid", "[1]", "must be a string", NULL);
	assert_bad_value("parent", "", "empty profile name", NULL);
	assert_bad_value("bogus", "1", "unknown configuration key 'bogus'",
	    NULL);
	/* Invalid JSON says where: line, column, position, and why. */
	assert_bad_value("binds", "[\"a\",", "line 1, column 5, position 5",
	    "expected");
	assert_bad_value("binds", "[\"a\"] x", "line 1", "end of file");
	/* ... but never quotes a secret. */
	ck_assert_ptr_null(ae_config_value("secret", "\"s3cr3t", &err));
	ck_assert_ptr_nonnull(strstr(err, "line 1"));
	ck_assert_ptr_null(strstr(err, "s3cr3t"));
	free(err);
	ck_assert_int_eq(ae_key_quotable("secret"), 0);
	ck_assert_int_eq(ae_key_quotable("cert"), 0);
	ck_assert_int_eq(ae_key_quotable("binds"), 1);
}
END_TEST

START_TEST(test_items)
{
	char *err = NULL, *s;
	json_t *v;

	/* one item: never split, so "a:1,b:2" is one (bad) address */
	ck_assert_ptr_null(ae_config_item("seeds", "a:1,b:2", &err));
	ck_assert_ptr_nonnull(strstr(err, "'a:1,b:2' is not a seed address"));
	free(err);
	v = ae_config_item("seeds", "a:1", &err);
	ck_assert_str_eq(json_string_value(v), "a:1");
	json_decref(v);
	v = ae_config_item("services", "[\"A::f\",1]", &err);
	s = dump(v);
	ck_assert_str_eq(s, "[\"A::f\",1]");
	free(s);
	json_decref(v);
	ck_assert_ptr_null(ae_config_item("seeds", "[1]", &err));
	free(err);
	ck_assert_ptr_null(ae_config_item("nodeid", "x", &err));
	free(err);
}
END_TEST

START_TEST(test_config_args)
{
	char *argv[] = { "profile", "seed", "binds", "a:1,b:2", "nodelay", "0",
	    "monitor_timeout", "2.5", "binds", "c:3" };
	char *bad1[] = { "binds" }, *bad2[] = { "colour", "blue" };
	char *bad3[] = { "monitor_timeout", "abc" };
	char *err = NULL, *s;
	json_t *o;

	o = ae_config_args(10, argv, &err);
	ck_assert_ptr_nonnull(o);
	s = dump(o);
	ck_assert_str_eq(s, "{\"binds\":[\"c:3\"],\"monitor_timeout\":2.5,"
	    "\"nodelay\":false,\"profile\":\"seed\"}");
	free(s);
	json_decref(o);
	o = ae_config_args(0, argv, &err);
	ck_assert_int_eq(json_object_size(o), 0);
	json_decref(o);
	ck_assert_ptr_null(ae_config_args(1, bad1, &err));
	ck_assert_str_eq(err, "binds: missing value");
	free(err);
	ck_assert_ptr_null(ae_config_args(2, bad2, &err));
	ck_assert_str_eq(err, "unknown configuration key 'colour'");
	free(err);
	ck_assert_ptr_null(ae_config_args(2, bad3, &err));
	ck_assert_ptr_nonnull(strstr(err, "monitor_timeout"));
	free(err);
}
END_TEST

/* "run profile" and "run profile X binds": a key lacks its value. */
START_TEST(test_odd_start)
{
	char *one[] = { "profile" }, *three[] = { "profile", "X", "binds" };
	char *named[] = { "seed", "binds", "a:1" }, *err = NULL;

	ck_assert_int_eq(ae_config_odd_start(1, one, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "profile has no value"));
	free(err);
	ck_assert_int_eq(ae_config_odd_start(3, three, &err), -1);
	ck_assert_str_eq(err, "binds has no value");
	free(err);
	ck_assert_int_eq(ae_config_odd_start(3, named, &err), 0);
	ck_assert_int_eq(ae_config_odd_start(2, three, &err), 0);
}
END_TEST

START_TEST(test_keys)
{
	const char *const *k;
	int n = 0;

	for (k = ae_keys(); *k != NULL; k++, n++)
		ck_assert_int_ge(ae_key_type(*k), 0);
	ck_assert_int_eq(n, 20);
	ck_assert_int_eq(ae_key_type("max_queue_total"), AEMP_KEY_NUMBER);
	ck_assert_int_eq(ae_key_type("max_queue"), AEMP_KEY_NUMBER);
	ck_assert_int_eq(ae_key_type("status_bind"), AEMP_KEY_STRING);
	ck_assert_int_eq(ae_key_type("status_token"), AEMP_KEY_STRING);
	ck_assert(!ae_key_quotable("status_token"));
	{
		char a0[] = "aempd", a1[] = "status_token", a2[] = "tok",
		    a3[] = "setstatus_token", a4[] = "tok2";
		char *argv[] = { a0, a1, a2, a3, a4, NULL };
		ae_scrub_secret_args(5, argv);
		ck_assert_str_eq(a2, "***");
		ck_assert_str_eq(a4, "****");
	}
	ck_assert_int_eq(ae_key_type("nope"), -1);
	ck_assert_int_eq(ae_key_type("services"), AEMP_KEY_SERVICES);
}
END_TEST

START_TEST(test_path)
{
	char *err = NULL, *p;

	setenv("AEMP_RC", "/x/rc.db", 1);
	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	p = ae_store_path(&err);
	ck_assert_str_eq(p, "/x/rc.db");
	free(p);
	unsetenv("AEMP_RC");
	p = ae_store_path(&err);
	ck_assert_str_eq(p, "/xdg/aemp/aemp.db");
	free(p);
	setenv("XDG_CONFIG_HOME", "relative", 1);	/* ignored, per XDG */
	p = ae_store_path(&err);
	ck_assert_str_eq(p, "/home/u/.config/aemp/aemp.db");
	free(p);
	unsetenv("XDG_CONFIG_HOME");
	p = ae_store_path(&err);
	ck_assert_str_eq(p, "/home/u/.config/aemp/aemp.db");
	free(p);
}
END_TEST

START_TEST(test_create_mode)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL, sub[4096];
	struct stat sb;
	aemp_store *st;

	umask(0);	/* the file must be 0600 whatever the umask */
	st = ae_store_open(NULL, AEMP_STORE_WRITE, &err);
	ck_assert_msg(st != NULL, "%s", err ? err : "?");
	ck_assert_str_eq(ae_store_file(st), rc);
	ck_assert_int_eq(ae_store_commit(st, &err), 0);
	ae_store_close(st);
	ck_assert_int_eq(stat(rc, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0600);
	snprintf(sub, sizeof sub, "%s/sub", dir);
	ck_assert_int_eq(stat(sub, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0700);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

START_TEST(test_read_missing)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL;
	aemp_store *st;
	json_t *o;

	st = ae_store_open(NULL, AEMP_STORE_READ, &err);
	ck_assert_ptr_nonnull(st);
	o = ae_store_get(st, NULL, &err);
	ck_assert_int_eq(json_object_size(o), 0);
	json_decref(o);
	o = ae_store_profiles(st, &err);
	ck_assert_int_eq(json_array_size(o), 0);
	json_decref(o);
	/* A reader never writes. */
	o = json_string("x");
	ck_assert_int_ne(ae_store_set(st, NULL, "nodeid", o, &err), 0);
	free(err);
	json_decref(o);
	ae_store_close(st);
	ck_assert_int_ne(access(rc, F_OK), 0);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

static aemp_store *
open_write(void)
{
	char *err = NULL;
	aemp_store *st = ae_store_open(NULL, AEMP_STORE_WRITE, &err);

	ck_assert_msg(st != NULL, "%s", err ? err : "?");
	return st;
}

static void
set_arg(aemp_store *st, const char *name, const char *key, const char *arg)
{
	char *err = NULL;
	json_t *v = ae_config_value(key, arg, &err);

	ck_assert_msg(v != NULL, "%s", err ? err : "?");
	ck_assert_msg(ae_store_set(st, name, key, v, &err) == 0, "%s",
	    err ? err : "?");
	json_decref(v);
}

START_TEST(test_set_get_del)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL, *s;
	aemp_store *st = open_write();
	json_t *o;

	set_arg(st, NULL, "secret", "abc");
	set_arg(st, "seed", "binds", "*:4040");
	set_arg(st, "seed", "monitor_timeout", "0.1");
	ck_assert_int_eq(ae_store_add_profile(st, "empty", &err), 0);
	ck_assert_int_eq(ae_store_has_profile(st, "seed", &err), 1);
	ck_assert_int_eq(ae_store_has_profile(st, "nope", &err), 0);
	ck_assert_int_eq(ae_store_commit(st, &err), 0);
	ae_store_close(st);

	st = ae_store_open(NULL, AEMP_STORE_READ, &err);
	o = ae_store_get(st, "seed", &err);
	s = dump(o);
	/* Numbers read back exactly as they were given. */
	ck_assert_str_eq(s, "{\"binds\":[\"*:4040\"],\"monitor_timeout\":0.1}");
	free(s);
	json_decref(o);
	o = ae_store_get(st, NULL, &err);
	s = dump(o);
	ck_assert_str_eq(s, "{\"secret\":\"abc\"}");
	free(s);
	json_decref(o);
	o = ae_store_profiles(st, &err);
	s = dump(o);
	ck_assert_str_eq(s, "[\"empty\",\"seed\"]");
	free(s);
	json_decref(o);
	ae_store_close(st);

	st = open_write();
	ck_assert_int_eq(ae_store_del(st, "seed", "binds", &err), 0);
	ck_assert_int_eq(ae_store_del(st, "seed", "binds", &err), 0);
	ck_assert_int_eq(ae_store_del_profile(st, "empty", &err), 0);
	ck_assert_int_eq(ae_store_del_profile(st, "never", &err), 0);
	ck_assert_int_eq(ae_store_commit(st, &err), 0);
	ae_store_close(st);
	st = ae_store_open(NULL, AEMP_STORE_READ, &err);
	o = ae_store_get(st, "seed", &err);
	ck_assert_ptr_null(json_object_get(o, "binds"));
	json_decref(o);
	o = ae_store_profiles(st, &err);
	ck_assert_int_eq(json_array_size(o), 1);
	json_decref(o);
	ae_store_close(st);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

START_TEST(test_bad_names_and_keys)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL;
	aemp_store *st = open_write();
	json_t *v = json_string("x");

	ck_assert_int_ne(ae_store_set(st, "", "nodeid", v, &err), 0);
	ck_assert_str_eq(err, "empty profile name");
	free(err);
	ck_assert_int_ne(ae_store_add_profile(st, "", &err), 0);
	free(err);
	ck_assert_int_ne(ae_store_set(st, "p", "colour", v, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "colour"));
	free(err);
	ck_assert_int_ne(ae_store_set(st, "p", "profile", v, &err), 0);
	free(err);
	ck_assert_int_ne(ae_store_set(st, NULL, "parent", v, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "global"));
	free(err);
	json_decref(v);
	ae_store_close(st);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

START_TEST(test_rollback)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL;
	aemp_store *st = open_write();
	json_t *o;

	set_arg(st, NULL, "nodeid", "kept");
	ck_assert_int_eq(ae_store_commit(st, &err), 0);
	ae_store_close(st);
	st = open_write();
	set_arg(st, NULL, "nodeid", "dropped");
	set_arg(st, "p", "binds", "1");
	ae_store_close(st);	/* no commit: rolled back */
	st = ae_store_open(NULL, AEMP_STORE_READ, &err);
	o = ae_store_get(st, NULL, &err);
	ck_assert_str_eq(json_string_value(json_object_get(o, "nodeid")),
	    "kept");
	json_decref(o);
	ck_assert_int_eq(ae_store_has_profile(st, "p", &err), 0);
	ae_store_close(st);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

START_TEST(test_effective_layers)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL, *s;
	char *argv[] = { "monitor_timeout", "5", "nodeid", "from-args",
	    "connect_interval", "9", "parent", "ignored" };
	aemp_store *st = open_write();
	json_t *args, *e;

	set_arg(st, NULL, "nodeid", "global");
	set_arg(st, NULL, "connect_interval", "3");
	set_arg(st, NULL, "seeds", "g:1");
	set_arg(st, "root", "binds", "root:1");
	set_arg(st, "root", "secret", "rootsecret");
	set_arg(st, "mid", "parent", "root");
	set_arg(st, "mid", "binds", "mid:1");
	set_arg(st, "leaf", "parent", "mid");
	set_arg(st, "leaf", "nodeid", "leaf");
	ck_assert_int_eq(ae_store_commit(st, &err), 0);
	ae_store_close(st);

	args = ae_config_args(8, argv, &err);
	st = ae_store_open(NULL, AEMP_STORE_READ, &err);
	e = ae_store_effective_in(st, "leaf", args, &err);
	ck_assert_msg(e != NULL, "%s", err ? err : "?");
	s = dump(e);
	ck_assert_str_eq(s, "{\"auth_accept\":[\"tls_md6_64_256\","
	    "\"hmac_md6_64_256\",\"tls_anon\",\"cleartext\"],"
	    "\"auth_offer\":[\"tls_md6_64_256\",\"hmac_md6_64_256\"],"
	    "\"binds\":[\"mid:1\"],\"connect_interval\":3,"
	    "\"framing_format\":[\"json\"],\"monitor_timeout\":5,"
	    "\"nodeid\":\"leaf\",\"profile\":\"leaf\","
	    "\"secret\":\"rootsecret\",\"seeds\":[\"g:1\"]}");
	free(s);
	json_decref(e);
	/* A missing profile contributes nothing. */
	e = ae_store_effective_in(st, "missing", NULL, &err);
	ck_assert_str_eq(json_string_value(json_object_get(e, "nodeid")),
	    "global");
	ck_assert_int_eq(json_integer_value(json_object_get(e,
	    "monitor_timeout")), 30);
	ck_assert_str_eq(json_string_value(json_object_get(e, "profile")),
	    "missing");
	json_decref(e);
	/* A NULL profile comes from the arguments, then $AEMP_PROFILE. */
	json_object_set_new(args, "profile", json_string("mid"));
	e = ae_store_effective_in(st, NULL, args, &err);
	ck_assert_str_eq(json_string_value(json_object_get(e, "profile")),
	    "mid");
	ck_assert_str_eq(json_string_value(json_object_get(e, "nodeid")),
	    "global");
	ck_assert_ptr_null(json_object_get(e, "parent"));
	json_decref(e);
	setenv("AEMP_PROFILE", "root", 1);
	e = ae_store_effective_in(st, NULL, NULL, &err);
	ck_assert_str_eq(json_string_value(json_object_get(e, "profile")),
	    "root");
	json_decref(e);
	ae_store_close(st);

	/* The libaemp entry point reads the file named by $AEMP_RC. */
	e = ae_store_effective("leaf", NULL, &err);
	ck_assert_str_eq(json_string_value(json_object_get(e, "nodeid")),
	    "leaf");
	json_decref(e);
	e = ae_store_effective(NULL, NULL, &err);
	ck_assert_str_eq(json_string_value(json_object_get(e, "profile")),
	    "root");
	json_decref(e);
	json_decref(args);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

START_TEST(test_effective_no_file)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL, *s;
	json_t *e, *d;

	unsetenv("AEMP_PROFILE");
	e = ae_store_effective(NULL, NULL, &err);
	ck_assert_msg(e != NULL, "%s", err ? err : "?");
	ck_assert_ptr_nonnull(json_string_value(json_object_get(e,
	    "profile")));
	json_object_del(e, "profile");
	d = ae_config_defaults();
	s = dump(e);
	ck_assert_msg(json_equal(e, d), "%s", s);
	free(s);
	json_decref(d);
	json_decref(e);
	ck_assert_int_ne(access(rc, F_OK), 0);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

START_TEST(test_cycles)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL;
	aemp_store *st = open_write();
	sqlite3 *db;
	json_t *v;

	set_arg(st, "a", "parent", "b");
	set_arg(st, "b", "parent", "c");
	v = json_string("a");
	ck_assert_int_ne(ae_store_set(st, "c", "parent", v, &err), 0);
	ck_assert_str_eq(err, "profile parent cycle: c -> a -> b -> c");
	free(err);
	json_decref(v);
	v = json_string("x");
	ck_assert_int_ne(ae_store_set(st, "x", "parent", v, &err), 0);
	ck_assert_str_eq(err, "profile parent cycle: x -> x");
	free(err);
	json_decref(v);
	ck_assert_int_eq(ae_store_commit(st, &err), 0);
	ae_store_close(st);

	/* A cycle that got in anyway (another tool) is an error, not a hang. */
	ck_assert_int_eq(sqlite3_open(rc, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO profile VALUES ('c');"
	    "INSERT INTO config VALUES ('c', 'parent', '\"b\"')", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	st = ae_store_open(NULL, AEMP_STORE_READ, &err);
	ck_assert_ptr_null(ae_store_effective_in(st, "a", NULL, &err));
	ck_assert_str_eq(err, "profile parent cycle: b -> c -> b");
	free(err);
	v = ae_store_chain(st, "x", &err);
	ck_assert_int_eq(json_array_size(v), 1);
	json_decref(v);
	ae_store_close(st);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

/* The bytes of a file, which may contain NULs; *len set. */
static char *
read_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 16);

	ck_assert_ptr_nonnull(f);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

START_TEST(test_garbage_untouched)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL, *before, *after;
	char garbage[3000];
	size_t i, blen, alen;
	aemp_store *st;
	FILE *f;

	for (i = 0; i < sizeof garbage; i++)
		garbage[i] = (char)(i * 7 + 3);
	st = open_write();	/* makes the directories */
	ae_store_close(st);
	f = fopen(rc, "wb");
	fwrite(garbage, 1, sizeof garbage, f);
	fclose(f);
	before = read_bytes(rc, &blen);
	ck_assert_ptr_null(ae_store_open(NULL, AEMP_STORE_WRITE, &err));
	ck_assert_msg(strstr(err, rc) != NULL, "%s", err);
	free(err);
	ck_assert_ptr_null(ae_store_open(NULL, AEMP_STORE_READ, &err));
	ck_assert_msg(strstr(err, rc) != NULL, "%s", err);
	free(err);
	ck_assert_ptr_null(ae_store_effective("x", NULL, &err));
	free(err);
	after = read_bytes(rc, &alen);
	ck_assert_uint_eq(alen, blen);
	ck_assert(memcmp(before, after, blen) == 0);
	free(before);
	free(after);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

START_TEST(test_foreign_and_newer)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL;
	aemp_store *st = open_write();
	sqlite3 *db;

	ae_store_close(st);
	unlink(rc);
	/* Some other program's database: refused, not adopted. */
	ck_assert_int_eq(sqlite3_open(rc, &db), SQLITE_OK);
	sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL);
	sqlite3_close(db);
	ck_assert_ptr_null(ae_store_open(NULL, AEMP_STORE_WRITE, &err));
	ck_assert_ptr_nonnull(strstr(err, "not an aemp profile store"));
	free(err);
	unlink(rc);
	/* One written by a newer aemp: refused, not downgraded. */
	st = open_write();
	ae_store_commit(st, &err);
	ae_store_close(st);
	ck_assert_int_eq(sqlite3_open(rc, &db), SQLITE_OK);
	sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
	sqlite3_close(db);
	ck_assert_ptr_null(ae_store_open(NULL, AEMP_STORE_READ, &err));
	ck_assert_ptr_nonnull(strstr(err, "newer"));
	free(err);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

START_TEST(test_empty_file)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL;
	aemp_store *st = open_write();
	json_t *o;
	int fd;

	ae_store_close(st);
	/* A zero-length file is an empty store for readers and writers. */
	unlink(rc);
	fd = open(rc, O_CREAT | O_WRONLY, 0600);
	close(fd);
	st = ae_store_open(NULL, AEMP_STORE_READ, &err);
	ck_assert_msg(st != NULL, "%s", err ? err : "?");
	o = ae_store_get(st, NULL, &err);
	ck_assert_int_eq(json_object_size(o), 0);
	json_decref(o);
	ae_store_close(st);
	st = open_write();
	set_arg(st, NULL, "nodeid", "n");
	ck_assert_int_eq(ae_store_commit(st, &err), 0);
	ae_store_close(st);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

/*
 * A reader opened in the process of a writer leaves the writer's lock
 * alone: POSIX locks belong to the process and the file, so closing any
 * descriptor of the store (opening checked the file through one) drops
 * them all, and another process could then write under the writer.
 */
START_TEST(test_reader_keeps_writers_lock)
{
	char *dir, *rc = fresh_rc(&dir), *err = NULL;
	aemp_store *st = open_write(), *rd;
	int status;
	pid_t pid;

	set_arg(st, NULL, "nodeid", "w");
	rd = ae_store_open(NULL, AEMP_STORE_READ, &err);
	ck_assert_msg(rd != NULL, "%s", err ? err : "?");
	ae_store_close(rd);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* SQLite's RESERVED byte (os_unix.c): BEGIN IMMEDIATE's */
		struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
		    .l_start = 0x40000001, .l_len = 1 };
		int fd = open(rc, O_RDONLY);
		_exit(fd >= 0 && fcntl(fd, F_GETLK, &lk) == 0 &&
		    lk.l_type == F_WRLCK && lk.l_pid == getppid() ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the writer lost its RESERVED lock");
	ck_assert_int_eq(ae_store_commit(st, &err), 0);
	ae_store_close(st);
	test_rmtree(dir);
	free(dir);
	free(rc);
}
END_TEST

static Suite *
profiles_suite(void)
{
	Suite *s = suite_create("profiles");
	TCase *tc = tcase_create("args");

	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_items);
	tcase_add_test(tc, test_config_args);
	tcase_add_test(tc, test_odd_start);
	tcase_add_test(tc, test_keys);
	suite_add_tcase(s, tc);
	tc = tcase_create("store");
	tcase_add_test(tc, test_path);
	tcase_add_test(tc, test_create_mode);
	tcase_add_test(tc, test_read_missing);
	tcase_add_test(tc, test_set_get_del);
	tcase_add_test(tc, test_bad_names_and_keys);
	tcase_add_test(tc, test_rollback);
	tcase_add_test(tc, test_garbage_untouched);
	tcase_add_test(tc, test_foreign_and_newer);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_reader_keeps_writers_lock);
	suite_add_tcase(s, tc);
	tc = tcase_create("effective");
	tcase_add_test(tc, test_effective_layers);
	tcase_add_test(tc, test_effective_no_file);
	tcase_add_test(tc, test_cycles);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(profiles_suite)

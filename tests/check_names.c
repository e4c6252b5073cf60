/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_names.c: the one Pkg::Sub name rule (common/names.c) that spawn,
 * services and modules share, and the string-list joiner.
 */
#include <stdlib.h>
#include <string.h>

#include "util/testutil.h"
#include "internal.h"
#include "names.h"

START_TEST(pkg_names)
{
	static const char *const good[] = { "A", "Pkg::Sub", "a_1::B2::c",
	    "AnyEvent::MP::Global::connect", NULL };
	static const char *const bad[] = { "", "::", ":", "Pkg::", "::Pkg",
	    "Pkg:::x", "Pkg:x", "Pkg::::x", "../x", "a/b", "a b", "Pkg::Sub::",
	    "Pkg-x", "P\xc3\xa4" "ckage", NULL };
	const char *const *p;

	for (p = good; *p != NULL; p++) {
		ck_assert_msg(ae_pkg_name_valid(*p, 0), "%s rejected", *p);
		ck_assert_msg(ae_pkg_name_valid(*p, 1), "%s rejected", *p);
	}
	for (p = bad; *p != NULL; p++)
		ck_assert_msg(!ae_pkg_name_valid(*p, 0), "'%s' accepted", *p);
	/* a package with its trailing "::" only where that is asked for */
	ck_assert(ae_pkg_name_valid("Pkg::", 1));
	ck_assert(ae_pkg_name_valid("A::B::", 1));
	ck_assert(ae_pkg_name_valid("P::", 1));
	ck_assert(!ae_pkg_name_valid("::", 1));
	ck_assert(!ae_pkg_name_valid(":::", 1));
	ck_assert(!ae_pkg_name_valid("Pkg:", 1));
	ck_assert(!ae_pkg_name_valid("Pkg:::", 1));
	ck_assert(!ae_pkg_name_valid("../Pkg::", 1));
}
END_TEST

START_TEST(register_func_uses_the_rule)
{
	aemp_node *n;
	char *err = NULL;

	setenv("AEMP_RC", "/nonexistent/aemp-test/aemp.db", 1);
	n = aemp_configure(NULL, json_pack("{ss ss s[] sb}", "profile", "names",
	    "nodeid", "names", "binds", "norc", 1), &err);
	ck_assert_msg(n != NULL, "%s", err ? err : "?");
	ck_assert_int_eq(aemp_register_func(n, "Pkg::Sub::f", NULL, NULL), 0);
	ck_assert_int_eq(aemp_register_func(n, "Pkg::", NULL, NULL), -1);
	ck_assert_int_eq(aemp_register_func(n, "../x", NULL, NULL), -1);
	ck_assert_ptr_nonnull(strstr(aemp_error(n), "invalid function name"));
	aemp_free(n);
}
END_TEST

START_TEST(strlist_joins)
{
	json_t *l = json_pack("[s i s n s s]", "a", 5, "bc", "", "d");
	char *s;

	s = ae_strlist_join(l, ",", 0);
	ck_assert_str_eq(s, "a,bc,,d");
	free(s);
	s = ae_strlist_join(l, " ", 3);	/* past 3 bytes: "" and "d" left out */
	ck_assert_str_eq(s, "a bc");
	free(s);
	json_decref(l);
	l = json_array();
	s = ae_strlist_join(l, ",", 0);
	ck_assert_str_eq(s, "");
	free(s);
	json_decref(l);
}
END_TEST

static Suite *
names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, pkg_names);
	tcase_add_test(tc, register_func_uses_the_rule);
	tcase_add_test(tc, strlist_joins);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(names_suite)

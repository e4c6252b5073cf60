/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_symbols.c: libaemp.so exports the functions aemp.h declares and
 * nothing else, so a program's own names never replace the library's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/testutil.h"

#ifndef TEST_CC
#define TEST_CC		"cc"
#endif
#ifndef TEST_CFLAGS
#define TEST_CFLAGS	""
#endif
#ifndef TEST_LIBS
#define TEST_LIBS	"-levent -ljansson"
#endif
#ifndef TEST_SRCDIR
#define TEST_SRCDIR	"."
#endif

/* A list of names, each malloc()ed. */
struct names {
	char	**v;
	size_t	  n;
};

static void
names_add(struct names *l, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == len && memcmp(l->v[i], name, len) == 0)
			return;
	l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
	ck_assert_ptr_nonnull(l->v);
	l->v[l->n] = strndup(name, len);
	ck_assert_ptr_nonnull(l->v[l->n]);
	l->n++;
}

static int
names_has(const struct names *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], name) == 0)
			return 1;
	return 0;
}

static void
names_free(struct names *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static const char *
srcdir(void)
{
	const char *src = getenv("AEMP_SRC");

	return src != NULL && *src != '\0' ? src : TEST_SRCDIR;
}

static char *
build_path(const char *rel)
{
	const char *b = getenv("AEMP_BUILD");
	char *path;

	ck_assert_msg(b != NULL && *b != '\0', "AEMP_BUILD is not set");
	ck_assert_int_ge(asprintf(&path, "%s/%s", b, rel), 0);
	return path;
}

/* The header without comments and preprocessor lines. */
static char *
header_code(const char *text)
{
	char *out = malloc(strlen(text) + 1), *q = out;
	const char *p = text;
	int bol = 1;

	ck_assert_ptr_nonnull(out);
	while (*p != '\0') {
		if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			p = e != NULL ? e + 2 : p + strlen(p);
			*q++ = ' ';
		} else if (p[0] == '/' && p[1] == '/') {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (bol && (p[strspn(p, " \t")] == '#')) {
			/* a directive, with its continuation lines */
			while (*p != '\0' && !(*p == '\n' && p[-1] != '\\'))
				p++;
		} else {
			bol = *p == '\n';
			*q++ = *p++;
		}
	}
	*q = '\0';
	return out;
}

/* The identifier that ends right before e (*name); its length. */
static size_t
ident_before(const char *s, const char *e, const char **name)
{
	const char *b;

	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	for (b = e; b > s && (isalnum((unsigned char)b[-1]) || b[-1] == '_');
	    b--)
		;
	*name = b;
	return e - b;
}

/*
 * The functions aemp.h declares: each top-level declaration (up to a ';'
 * outside braces) that is not a typedef, a definition of a type or a
 * static function names its function before its first '(' that does not
 * open an attribute.
 */
static void
header_functions(struct names *out)
{
	char *path, *text, *code, *p, *start;
	int depth = 0;

	ck_assert_int_ge(asprintf(&path, "%s/common/aemp.h", srcdir()), 0);
	text = test_slurp(path);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	code = header_code(text);
	for (p = start = code; *p != '\0'; p++) {
		char *s, *e;
		int braces = 0, paren = 0;

		if (*p == '{')
			depth++;
		else if (*p == '}')
			depth--;
		if (*p != ';' || depth != 0)
			continue;
		*p = '\0';
		s = start;
		start = p + 1;
		while (isspace((unsigned char)*s))
			s++;
		if (strncmp(s, "typedef", 7) == 0 || strncmp(s, "static", 6) == 0)
			continue;
		for (e = s; *e != '\0'; e++)
			if (*e == '{')
				braces = 1;
		if (braces)
			continue;
		for (e = s; *e != '\0'; e++) {
			const char *name;
			size_t len;
			if (*e == ')')
				paren--;
			if (*e != '(' || paren++ > 0)
				continue;
			len = ident_before(s, e, &name);
			if (len == 13 && strncmp(name, "__attribute__", 13) == 0)
				continue;
			if (len > 0)	/* not "(*name)", a pointer */
				names_add(out, name, len);
			break;
		}
	}
	ck_assert_msg(out->n >= 40, "only %zu functions found in %s", out->n,
	    path);
	free(code);
	free(text);
	free(path);
}

/*
 * The names nm finds in file (nm's options in opts): only functions, or
 * every symbol.
 */
static void
nm_names(const char *opts, const char *file, int functions,
    struct names *out)
{
	char *cmd, *text = NULL, *err = NULL, *line, *save;
	char *argv[] = { "/bin/sh", "-c", NULL, NULL };
	int st;

	ck_assert_int_ge(asprintf(&cmd, "nm %s '%s'", opts, file), 0);
	argv[2] = cmd;
	st = test_run(argv, NULL, NULL, &text, &err, 60);
	ck_assert_msg(st == 0, "%s: %s", cmd, err);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char addr[64], type[8], name[256];
		if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3)
			continue;
		/* reserved names are the toolchain's (_init, __bss_start) */
		if (name[0] == '_' || (functions && type[0] != 'T'))
			continue;
		names_add(out, name, strlen(name));
	}
	free(text);
	free(err);
	free(cmd);
}

START_TEST(exports_are_the_header)
{
	struct names hdr = { 0 }, exp = { 0 };
	char *lib = build_path("lib/libaemp.so");
	char extra[2048] = "", missing[2048] = "";
	size_t i, nextra = 0, nmissing = 0;

	header_functions(&hdr);
	/* every defined dynamic symbol, functions or not */
	nm_names("-D --defined-only", lib, 0, &exp);
	for (i = 0; i < exp.n; i++)
		if (!names_has(&hdr, exp.v[i]) && nextra++ < 20) {
			strncat(extra, " ", sizeof extra - strlen(extra) - 1);
			strncat(extra, exp.v[i], sizeof extra - strlen(extra) - 1);
		}
	for (i = 0; i < hdr.n; i++)
		if (!names_has(&exp, hdr.v[i]) && nmissing++ < 20) {
			strncat(missing, " ", sizeof missing - strlen(missing) - 1);
			strncat(missing, hdr.v[i],
			    sizeof missing - strlen(missing) - 1);
		}
	ck_assert_msg(nextra == 0, "libaemp.so exports %zu names aemp.h does "
	    "not declare:%s", nextra, extra);
	ck_assert_msg(nmissing == 0, "%zu functions of aemp.h are not "
	    "exported (declare them AEMP_API):%s", nmissing, missing);
	names_free(&exp);
	names_free(&hdr);
	free(lib);
}
END_TEST

/*
 * Inside the library, a name with external linkage is a public one (what
 * libaemp.so exports) or has the one internal prefix: aemp_ is public.
 */
START_TEST(internal_names_have_the_internal_prefix)
{
	struct names exp = { 0 }, all = { 0 };
	char *so = build_path("lib/libaemp.so"),
	    *arch = build_path("lib/libaemp.a");
	char odd[2048] = "";
	size_t i, nodd = 0;

	nm_names("-D --defined-only", so, 0, &exp);
	nm_names("-g --defined-only", arch, 0, &all);
	ck_assert_uint_gt(all.n, exp.n);
	for (i = 0; i < all.n; i++)
		if (!names_has(&exp, all.v[i]) &&
		    strncmp(all.v[i], "ae_", 3) != 0 && nodd++ < 20) {
			strncat(odd, " ", sizeof odd - strlen(odd) - 1);
			strncat(odd, all.v[i], sizeof odd - strlen(odd) - 1);
		}
	ck_assert_msg(nodd == 0, "%zu internal names of libaemp.a lack the "
	    "prefix ae_ (sh tools/prefix-internal.sh):%s", nodd, odd);
	names_free(&all);
	names_free(&exp);
	free(arch);
	free(so);
}
END_TEST

/* Names the library uses inside, whatever nm finds besides. */
static const char *const known_internal[] = {
	"timers_init", "timers_free", "dict_get", "dict_put", "dict_init",
	"node_now", "node_error", "remote_get", "remote_send", "bytes_add",
	"bytes_free", "kernel_deliver", "kernel_split", "transport_write",
	"json_dump_named", "global_start", "ntimer_new", NULL
};

static const char program_main[] =
"\n"
"static int got;\n"
"\n"
"static int\n"
"rcv(aemp_node *n, const char *self, json_t *msg, void *ud)\n"
"{\n"
"	(void)self; (void)ud;\n"
"	if (json_array_size(msg) == 2 &&\n"
"	    strcmp(json_string_value(json_array_get(msg, 0)), \"hello\") == 0\n"
"	    && json_integer_value(json_array_get(msg, 1)) == 42)\n"
"		got = 1;\n"
"	aemp_loopexit(n);\n"
"	return 0;\n"
"}\n"
"\n"
"static void\n"
"give_up(aemp_node *n, void *ud)\n"
"{\n"
"	(void)ud;\n"
"	aemp_loopexit(n);\n"
"}\n"
"\n"
"int\n"
"main(void)\n"
"{\n"
"	char *err = NULL;\n"
"	aemp_node *n = aemp_configure(NULL, json_pack(\"{ss ss s[s] ss sb}\",\n"
"	    \"profile\", \"clash\", \"nodeid\", \"clash\", \"binds\",\n"
"	    \"127.0.0.1:*\", \"secret\", \"s\", \"norc\", 1), &err);\n"
"	const char *p;\n"
"\n"
"	if (n == NULL) {\n"
"		fprintf(stderr, \"aemp_configure: %s\\n\", err ? err : \"?\");\n"
"		return 1;\n"
"	}\n"
"	if ((p = aemp_port(n, rcv, NULL)) == NULL ||\n"
"	    aemp_sndf(n, p, \"si\", \"hello\", 42) < 0 ||\n"
"	    aemp_after(n, 20, give_up, NULL) == NULL) {\n"
"		fprintf(stderr, \"port/snd: %s\\n\", aemp_error(n));\n"
"		return 1;\n"
"	}\n"
"	aemp_loop(n);\n"
"	aemp_free(n);\n"
"	if (!got) {\n"
"		fprintf(stderr, \"the message did not arrive\\n\");\n"
"		return 2;\n"
"	}\n"
"	printf(\"received\\n\");\n"
"	return 0;\n"
"}\n";

START_TEST(program_names_do_not_replace_the_library)
{
	struct names hdr = { 0 }, internal = { 0 };
	char *dir = test_tmpdir(), *lib = build_path("lib"), *arch =
	    build_path("lib/libaemp.a"), *src, *prog, *cmd, *out = NULL,
	    *err = NULL;
	char *argv[] = { "/bin/sh", "-c", NULL, NULL };
	FILE *f;
	size_t i;
	int st;

	header_functions(&hdr);
	for (i = 0; known_internal[i] != NULL; i++)
		names_add(&internal, known_internal[i],
		    strlen(known_internal[i]));
	/* every other global function of the library too */
	nm_names("-g --defined-only", arch, 1, &internal);
	ck_assert_uint_gt(internal.n, 17);
	ck_assert_int_ge(asprintf(&src, "%s/clash.c", dir), 0);
	ck_assert_int_ge(asprintf(&prog, "%s/clash", dir), 0);
	ck_assert_ptr_nonnull(f = fopen(src, "w"));
	fprintf(f, "#include <stdio.h>\n#include <string.h>\n"
	    "#include <unistd.h>\n\n#include \"aemp.h\"\n\n"
	    "/* the library's internal names, defined by the program */\n");
	for (i = 0; i < internal.n; i++) {
		if (names_has(&hdr, internal.v[i]))
			continue;
		fprintf(f, "int %s(void *);\nint\n%s(void *p)\n{\n"
		    "\t(void)p;\n\tfprintf(stderr, \"the library called the "
		    "program's %s\\n\");\n\t_exit(3);\n}\n\n", internal.v[i],
		    internal.v[i], internal.v[i]);
	}
	fputs(program_main, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_ge(asprintf(&cmd, "%s %s -std=c11 -D_GNU_SOURCE "
	    "-Wall -I'%s/common' -o '%s' '%s' -L'%s' -Wl,-rpath,'%s' -laemp "
	    "%s", TEST_CC, TEST_CFLAGS, srcdir(), prog, src, lib, lib,
	    TEST_LIBS), 0);
	argv[2] = cmd;
	st = test_run(argv, NULL, NULL, &out, &err, 120);
	ck_assert_msg(st == 0, "%s failed (%d): %s", cmd, st, err);
	free(out);
	free(err);
	argv[0] = prog;
	argv[1] = NULL;
	st = test_run(argv, NULL, NULL, &out, &err, 60);
	ck_assert_msg(st == 0 && strcmp(out, "received\n") == 0,
	    "the program that defines the library's internal names failed "
	    "(%d): %s%s", st, out, err);
	free(out);
	free(err);
	test_rmtree(dir);
	free(cmd);
	free(prog);
	free(src);
	free(arch);
	free(lib);
	free(dir);
	names_free(&internal);
	names_free(&hdr);
}
END_TEST

START_TEST(soname_and_links)
{
	char *lib = build_path("lib/libaemp.so"), *cmd, *out = NULL,
	    *err = NULL, *real;
	char *argv[] = { "/bin/sh", "-c", NULL, NULL };
	int st;

	ck_assert_int_ge(asprintf(&cmd, "objdump -p '%s'", lib), 0);
	argv[2] = cmd;
	st = test_run(argv, NULL, NULL, &out, &err, 60);
	ck_assert_msg(st == 0, "%s: %s", cmd, err);
	ck_assert_msg(strstr(out, "SONAME               libaemp.so.0\n") !=
	    NULL, "libaemp.so has no SONAME libaemp.so.0");
	/* libaemp.so and libaemp.so.0 are links to one real file */
	real = realpath(lib, NULL);
	ck_assert_ptr_nonnull(real);
	ck_assert_ptr_nonnull(strstr(real, "/libaemp.so.0."));
	free(real);
	free(out);
	free(err);
	free(cmd);
	free(lib);
}
END_TEST

/* A plain "make" builds everything, not the first object rule it reads. */
START_TEST(plain_make_builds_all)
{
	char *cmd, *out = NULL, *err = NULL;
	char *argv[] = { "/bin/sh", "-c", NULL, NULL };

	/* -p prints make's database without building; -q stops it at once */
	ck_assert_int_ge(asprintf(&cmd, "make -s -p -q -C '%s' 2>/dev/null |"
	    " grep '^\\.DEFAULT_GOAL'", srcdir()), 0);
	argv[2] = cmd;
	test_run(argv, NULL, NULL, &out, &err, 60);
	ck_assert_msg(out != NULL && strcmp(out, ".DEFAULT_GOAL := all\n") == 0,
	    "make's default goal is '%s', not all", out ? out : "");
	free(out);
	free(err);
	free(cmd);
}
END_TEST

static Suite *
symbols_suite(void)
{
	Suite *s = suite_create("symbols");
	TCase *tc = tcase_create("exports");

	tcase_add_test(tc, exports_are_the_header);
	tcase_add_test(tc, program_names_do_not_replace_the_library);
	tcase_add_test(tc, soname_and_links);
	tcase_add_test(tc, plain_make_builds_all);
	tcase_add_test(tc, internal_names_have_the_internal_prefix);
	tcase_set_timeout(tc, 180);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(symbols_suite)

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_formats.c: the compiler checks printf formats, but not jansson's
 * json_pack() language (jansson declares no format attribute, and no
 * attribute knows its items). This reads every C file of the tree and,
 * for each json_pack()/json_pack_ex()/aemp_sndf() call with a literal
 * format, counts the arguments the format takes against those passed:
 * the liveness probe once had "[sssI]" for five values and read a
 * pointer as its sequence number. Runs from the top of the source tree (make check).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Arguments a json_pack format takes (jansson's pack language). */
static int
format_args(const char *f)
{
	int n = 0;

	while (*f != '\0') {
		switch (*f++) {
		case 's':
			n++;
			if (*f == '#' || *f == '%')
				n++, f++;
			while (*f == '+') {	/* concatenated strings */
				n++, f++;
				if (*f == '#' || *f == '%')
					n++, f++;
			}
			if (*f == '?' || *f == '*')
				f++;
			break;
		case 'o':
		case 'O':
			n++;
			if (*f == '?' || *f == '*')
				f++;
			break;
		case 'b':
		case 'i':
		case 'I':
		case 'f':
			n++;
			break;
		case 'n':
		case '[':
		case ']':
		case '{':
		case '}':
		case ':':
		case ',':
		case ' ':
		case '\t':
		case '\n':
			break;
		default:
			return -1;	/* not a format we understand */
		}
	}
	return n;
}

static const char *
skip_space_and_comments(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			p = e != NULL ? e + 2 : p + strlen(p);
		} else if (p[0] == '/' && p[1] == '/')
			p += strcspn(p, "\n");
		else
			return p;
	}
}

/* Past a string or character literal starting at p (at its quote). */
static const char *
skip_literal(const char *p)
{
	char q = *p++;

	while (*p != '\0' && *p != q) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		p++;
	}
	return *p == q ? p + 1 : p;
}

/*
 * Reads adjacent string literals at p into buf (escapes \n \t taken as
 * they are). Returns the end, or NULL when p holds no literal.
 */
static const char *
read_format(const char *p, char *buf, size_t size)
{
	size_t len = 0;
	int any = 0;

	for (;;) {
		p = skip_space_and_comments(p);
		if (*p != '"')
			return any ? p : NULL;
		any = 1;
		for (p++; *p != '\0' && *p != '"'; p++) {
			char c = *p;
			if (c == '\\' && p[1] != '\0') {
				p++;
				c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
			}
			if (len + 1 < size)
				buf[len++] = c;
		}
		buf[len] = '\0';
		if (*p == '"')
			p++;
	}
}

/*
 * Counts the arguments from p (just after a comma or the opening
 * parenthesis) to the call's closing parenthesis; *end is set past it.
 */
static int
count_args(const char *p, const char **end)
{
	int depth = 0, n = 0, empty = 1;

	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\'') {
			p = skip_literal(p) - 1;
			empty = 0;
		} else if (p[0] == '/' && (p[1] == '*' || p[1] == '/'))
			p = skip_space_and_comments(p) - 1;
		else if (*p == '(' || *p == '[' || *p == '{')
			depth++, empty = 0;
		else if ((*p == ')' || *p == ']' || *p == '}') && depth > 0)
			depth--;
		else if (*p == ')') {
			*end = p + 1;
			return n + !empty;
		} else if (*p == ',' && depth == 0) {
			n++;
			empty = 1;
		} else if (*p != ' ' && *p != '\t' && *p != '\n')
			empty = 0;
	}
	*end = p;
	return -1;
}

/* Past n top-level arguments from p; NULL when the call ends first. */
static const char *
skip_args(const char *p, int n)
{
	int depth = 0;

	for (; *p != '\0' && n > 0; p++) {
		if (*p == '"' || *p == '\'')
			p = skip_literal(p) - 1;
		else if (*p == '(' || *p == '[' || *p == '{')
			depth++;
		else if (*p == ')' && depth == 0)
			return NULL;
		else if (*p == ')' || *p == ']' || *p == '}')
			depth--;
		else if (*p == ',' && depth == 0)
			n--;
	}
	return n == 0 ? p : NULL;
}

static int
line_of(const char *text, const char *at)
{
	int line = 1;

	for (; text < at; text++)
		line += *text == '\n';
	return line;
}

/*
 * Checks the calls in text (named name in messages); returns how many
 * are wrong and adds the number checked to *checked.
 */
static int
check_text(const char *name, const char *text, int *checked)
{
	static const struct {
		const char	*fn;
		int		 before;	/* arguments before the format */
	} fns[] = { { "json_pack(", 0 }, { "json_pack_ex(", 2 },
	    { "aemp_sndf(", 2 } };	/* aemp_sndf: json_pack's items */
	int bad = 0;

	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		const char *p = text;
		size_t flen = strlen(fns[i].fn);

		while ((p = strstr(p, fns[i].fn)) != NULL) {
			const char *call = p, *q, *end;
			char fmt[1024];
			int want, got;

			p += flen;
			/* a longer name (my_json_pack() say) is not it */
			if (call > text && (call[-1] == '_' ||
			    (call[-1] >= 'a' && call[-1] <= 'z')))
				continue;
			if ((q = skip_args(p, fns[i].before)) == NULL)
				continue;
			if ((q = read_format(q, fmt, sizeof fmt)) == NULL)
				continue;	/* not a literal format */
			q = skip_space_and_comments(q);
			if (*q == ',')
				got = count_args(q + 1, &end);
			else if (*q == ')')
				got = 0, end = q + 1;
			else
				continue;	/* a macro's pieces */
			want = format_args(fmt);
			(*checked)++;
			if (want != got) {
				printf("%s:%d: json_pack format \"%s\" takes "
				    "%d arguments, %d given\n", name,
				    line_of(text, call), fmt, want, got);
				fflush(stdout);
				bad++;
			}
			p = end;
		}
	}
	return bad;
}

static int
check_tree(const char *dir, int *checked, int *files)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int bad = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char path[1024];
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR)
			bad += check_tree(path, checked, files);
		else if (len > 2 && (strcmp(de->d_name + len - 2, ".c") == 0 ||
		    strcmp(de->d_name + len - 2, ".h") == 0) &&
		    strcmp(de->d_name, "check_formats.c") != 0) {
			char *text = test_slurp(path);
			if (text != NULL) {
				bad += check_text(path, text, checked);
				(*files)++;
			}
			free(text);
		}
	}
	closedir(d);
	return bad;
}

START_TEST(counter_knows_the_pack_language)
{
	ck_assert_int_eq(format_args("[ssssI]"), 5);
	ck_assert_int_eq(format_args("{sfs[s]}"), 4);
	ck_assert_int_eq(format_args("[s#s%o?O*n]"), 6);
	ck_assert_int_eq(format_args("{s:s+#, s:b}"), 6);
	ck_assert_int_eq(format_args("[sssI]"), 4);
	ck_assert_int_eq(format_args("x"), -1);
}
END_TEST

START_TEST(counter_finds_the_old_probe_bug)
{
	const char *bad = "x = json_pack(\"[sssI]\", \"snd\", id, \"devnull\",\n"
	    "    \"aemp-probe\", (json_int_t)++r->probe_seq);\n";
	const char *good = "json_pack(\"[s{s:o}]\" /* c, d */, f(a, b),"
	    " \"k,)\", g[1]);\njson_pack_ex(&e, 0, \"[]\");\n";
	int checked = 0;

	ck_assert_int_eq(check_text("bad", bad, &checked), 1);
	ck_assert_int_eq(check_text("good", good, &checked), 0);
	ck_assert_int_eq(checked, 3);
}
END_TEST

START_TEST(json_pack_items_match_arguments)
{
	static const char *const dirs[] = { "common", "profiles", "cli",
	    "daemon", "examples", "tests", "bench", NULL };
	int bad = 0, checked = 0, files = 0;

	for (int i = 0; dirs[i] != NULL; i++)
		bad += check_tree(dirs[i], &checked, &files);
	ck_assert_msg(files > 20, "run from the top of the source tree "
	    "(%d files found)", files);
	ck_assert_int_gt(checked, 50);
	ck_assert_int_eq(bad, 0);
}
END_TEST

static Suite *
formats_suite(void)
{
	Suite *s = suite_create("formats");
	TCase *tc = tcase_create("json_pack");

	tcase_add_test(tc, counter_knows_the_pack_language);
	tcase_add_test(tc, counter_finds_the_old_probe_bug);
	tcase_add_test(tc, json_pack_items_match_arguments);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(formats_suite)

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_layers.c: the files of common/ keep to the layers drawn at the top
 * of common/internal.h. Each file has a layer; it includes only headers of
 * its own layer or below, calls only functions of its layer or below (by
 * their prefix, with or without the internal one), and the private headers
 * (conn.h: struct aemp_conn; global.h) stay with their owners. What goes
 * against it by design is listed in `allowed`, with the reason.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/testutil.h"

#ifndef TEST_SRCDIR
#define TEST_SRCDIR	"."
#endif

enum layer {
	BASE,		/* calls no layer */
	RECORD,		/* the node's record and its helpers */
	TRANSPORT,
	REMOTE,
	KERNEL,
	SERVICES,
	TOP,		/* node.c, stats.c: start, free and read them all */
	NLAYERS
};

static const char *const layer_names[NLAYERS] = {
	"base", "node record", "transport", "remote", "kernel", "services",
	"top"
};

/* Every file of common/, and the headers from elsewhere it may include. */
static const struct {
	const char	*file;
	enum layer	 layer;
} files[] = {
	{ "aemp.h", BASE }, { "internal.h", BASE }, { "stats.h", BASE },
	{ "dict.c", BASE }, { "dict.h", BASE }, { "bytes.c", BASE },
	{ "bytes.h", BASE }, { "words.c", BASE }, { "names.c", BASE },
	{ "names.h", BASE }, { "xmalloc.c", BASE }, { "xmalloc.h", BASE },
	{ "wire.c", BASE }, { "wire.h", BASE }, { "codec.c", BASE },
	{ "codec.h", BASE }, { "md6.c", BASE }, { "md6.h", BASE },
	{ "node.h", RECORD }, { "timers.c", RECORD }, { "loglimit.c", RECORD },
	{ "stream.h", TRANSPORT }, { "stream_tcp.c", TRANSPORT },
	{ "stream_tls.c", TRANSPORT }, { "tls13.c", TRANSPORT },
	{ "tls13.h", TRANSPORT }, { "transport.h", TRANSPORT },
	{ "conn.h", TRANSPORT }, { "transport.c", TRANSPORT },
	{ "authfail.c", TRANSPORT },
	{ "remote.h", REMOTE }, { "remote.c", REMOTE },
	{ "kernel.h", KERNEL }, { "port.c", KERNEL }, { "sndf.c", KERNEL },
	{ "mon.c", KERNEL }, { "spawn.c", KERNEL }, { "cal.c", KERNEL },
	{ "after.c", KERNEL }, { "defer.c", KERNEL }, { "watch.c", KERNEL },
	{ "nodeport.c", KERNEL }, { "kernel.c", KERNEL },
	{ "services.h", SERVICES }, { "global.h", SERVICES },
	{ "global.c", SERVICES }, { "seed.c", SERVICES },
	{ "group.c", SERVICES }, { "dataconn.c", SERVICES },
	{ "logcatcher.c", SERVICES }, { "logcatcher.h", SERVICES },
	{ "node.c", TOP }, { "stats.c", TOP },
	{ "store.h", TOP },		/* profiles/: the profile store */
};

/* Function name prefixes of each layer above the base. */
static const struct {
	const char	*prefix;
	enum layer	 layer;
} prefixes[] = {
	{ "transport_", TRANSPORT }, { "stream_", TRANSPORT },
	{ "authfail_", TRANSPORT }, { "tls_ctx_", TRANSPORT },
	{ "remote_", REMOTE },
	{ "kernel_", KERNEL }, { "mon_", KERNEL }, { "port_", KERNEL },
	{ "spawn_", KERNEL }, { "func_", KERNEL }, { "watch_", KERNEL },
	{ "node_request", KERNEL },
	{ "global_", SERVICES }, { "seed_", SERVICES }, { "group_", SERVICES },
	{ "dataconn_", SERVICES }, { "logcatcher_", SERVICES },
};

/* The one prefix of internal names (tools/prefix-internal.sh). */
#define INTERNAL_PREFIX	"ae_"

/* Headers only their owners include. */
static const struct {
	const char	*header;
	const char	*owners[4];
} private_headers[] = {
	{ "conn.h", { "transport.c", "authfail.c", NULL } },
	{ "global.h", { "global.c", "seed.c", "group.c", NULL } },
};

/* Upward by design: a file, and the header or function it may use. */
static const struct {
	const char	*file;
	const char	*what;
	const char	*why;
} allowed[] = {
	{ "conn.h", "remote.h", "the handshake reads the node's record (its "
	    "connection, a held challenger) and counts its traffic" },
	{ "transport.c", "ae_remote_get", "a finished handshake makes the "
	    "record of the node it named" },
	{ "remote.c", "kernel.h", "remote->lmon and rmon hold the kernel's "
	    "monitors: their dict keys (mon_list_key, mon_other_key)" },
};

static int
layer_of(const char *file)
{
	size_t i;

	for (i = 0; i < sizeof files / sizeof files[0]; i++)
		if (strcmp(files[i].file, file) == 0)
			return (int)files[i].layer;
	return -1;
}

#define NALLOWED	(sizeof allowed / sizeof allowed[0])
static int allowed_used[NALLOWED];

/* A function's name without the internal prefix. */
static const char *
unprefixed(const char *name)
{
	size_t len = strlen(INTERNAL_PREFIX);

	return strncmp(name, INTERNAL_PREFIX, len) == 0 ? name + len : name;
}

static int
is_allowed(const char *file, const char *what)
{
	size_t i;

	for (i = 0; i < NALLOWED; i++)
		if (strcmp(allowed[i].file, file) == 0 &&
		    strcmp(unprefixed(allowed[i].what),
		    unprefixed(what)) == 0) {
			allowed_used[i] = 1;
			return 1;
		}
	return 0;
}

/* The layer a function name belongs to by its prefix, or -1 (base). */
static int
layer_of_call(const char *name)
{
	size_t i;

	name = unprefixed(name);
	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(name, prefixes[i].prefix,
		    strlen(prefixes[i].prefix)) == 0)
			return (int)prefixes[i].layer;
	return -1;
}

/* What went wrong, one line each. */
struct report {
	char	*text;
	size_t	 len;
	int	 count;
};

static void
report_add(struct report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
report_add(struct report *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	n = strlen(line);
	r->text = realloc(r->text, r->len + n + 2);
	ck_assert_ptr_nonnull(r->text);
	memcpy(r->text + r->len, line, n);
	r->len += n;
	r->text[r->len++] = '\n';
	r->text[r->len] = '\0';
	r->count++;
}

/* src with comments, string and character literals blanked out. */
static char *
strip(const char *src)
{
	char *s = strdup(src), *p;

	ck_assert_ptr_nonnull(s);
	for (p = s; *p != '\0'; p++) {
		if (p[0] == '/' && p[1] == '*') {
			for (; *p != '\0' && !(p[0] == '*' && p[1] == '/'); p++)
				if (*p != '\n')
					*p = ' ';
			if (*p == '\0')
				break;
			p[0] = p[1] = ' ';
			p++;
		} else if (p[0] == '/' && p[1] == '/') {
			for (; *p != '\0' && *p != '\n'; p++)
				*p = ' ';
			if (*p == '\0')
				break;
		} else if (*p == '"' || *p == '\'') {
			char q = *p;
			for (p++; *p != '\0' && *p != q && *p != '\n'; p++) {
				if (*p == '\\' && p[1] != '\0')
					*p++ = ' ';
				*p = ' ';
			}
			if (*p == '\0')
				break;
		}
	}
	return s;
}

/*
 * Checks one file of common/ (its name and text) and adds what breaks
 * the rules to r.
 */
static void
check_file(const char *file, const char *text, struct report *r)
{
	int layer = layer_of(file), l;
	const char *p, *q;
	char *code, name[128];
	size_t i, j, len;

	if (layer < 0) {
		report_add(r, "%s: no layer: add it to check_layers.c's "
		    "files[] and to the drawing in common/internal.h", file);
		return;
	}
	/* includes, from the text itself (a quoted header is a literal) */
	for (p = text; (p = strstr(p, "#include \"")) != NULL; p = q) {
		p += strlen("#include \"");
		q = strchr(p, '"');
		if (q == NULL || (size_t)(q - p) >= sizeof name)
			break;
		memcpy(name, p, (size_t)(q - p));
		name[q - p] = '\0';
		for (i = 0; i < sizeof private_headers /
		    sizeof private_headers[0]; i++) {
			const char *const *o = private_headers[i].owners;
			if (strcmp(private_headers[i].header, name) != 0)
				continue;
			for (j = 0; o[j] != NULL && strcmp(o[j], file) != 0;
			    j++)
				;
			if (o[j] == NULL)
				report_add(r, "%s includes %s, private to its "
				    "owners", file, name);
		}
		l = layer_of(name);
		if (l < 0)
			report_add(r, "%s includes %s, which has no layer",
			    file, name);
		else if (l > layer && !is_allowed(file, name))
			report_add(r, "%s (%s) includes %s (%s): upward", file,
			    layer_names[layer], name, layer_names[l]);
	}
	/* calls: an identifier followed by "(", not a member's */
	code = strip(text);
	for (p = code; *p != '\0'; p++) {
		if (!(isalpha((unsigned char)*p) || *p == '_') ||
		    (p > code && (isalnum((unsigned char)p[-1]) ||
		    p[-1] == '_')))
			continue;
		for (q = p; isalnum((unsigned char)*q) || *q == '_'; q++)
			;
		len = (size_t)(q - p);
		if (len >= sizeof name) {
			p = q - 1;
			continue;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		{
			const char *after = q, *before = p;
			while (*after == ' ' || *after == '\t')
				after++;
			while (before > code && (before[-1] == ' ' ||
			    before[-1] == '\t'))
				before--;
			if (*after == '(' && !(before > code &&
			    (before[-1] == '.' || (before[-1] == '>' &&
			    before - 1 > code && before[-2] == '-')))) {
				l = layer_of_call(name);
				if (l > layer && !is_allowed(file, name))
					report_add(r, "%s (%s) calls %s (%s): "
					    "upward", file, layer_names[layer],
					    name, layer_names[l]);
			}
		}
		p = q - 1;
	}
	free(code);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long size;

	ck_assert_msg(f != NULL, "%s: cannot open", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_ge(size, 0);
	rewind(f);
	buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	return buf;
}

START_TEST(common_keeps_the_layers)
{
	DIR *d = opendir(TEST_SRCDIR "/common");
	struct dirent *e;
	struct report r = { 0 };
	int seen = 0;
	size_t i;

	memset(allowed_used, 0, sizeof allowed_used);
	ck_assert_msg(d != NULL, "%s/common: cannot open", TEST_SRCDIR);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		char path[4096];
		char *text;
		if (len < 3 || e->d_name[0] == '.' ||
		    (strcmp(e->d_name + len - 2, ".c") != 0 &&
		    strcmp(e->d_name + len - 2, ".h") != 0))
			continue;
		snprintf(path, sizeof path, "%s/common/%s", TEST_SRCDIR,
		    e->d_name);
		text = slurp(path);
		check_file(e->d_name, text, &r);
		free(text);
		seen++;
	}
	closedir(d);
	ck_assert_int_gt(seen, 40);
	/* an exception nothing needs any more goes */
	for (i = 0; i < NALLOWED; i++)
		if (!allowed_used[i])
			report_add(&r, "allowed[] has %s -> %s, which "
			    "common/ no longer does: remove it",
			    allowed[i].file, allowed[i].what);
	ck_assert_msg(r.count == 0, "%d breaks of the layers:\n%s", r.count,
	    r.text);
	free(r.text);
}
END_TEST

/* The checker itself catches what it is there for. */
START_TEST(checker_sees_violations)
{
	static const struct {
		const char	*file, *text;
		int		 breaks;
	} cases[] = {
		{ "transport.c", "#include \"conn.h\"\n#include \"global.h\"\n",
		    2 },	/* upward, and private */
		{ "stream_tcp.c", "#include \"kernel.h\"\n", 1 },
		{ "transport.c", "x(void) { global_seed_result(n, c); }\n", 1 },
		{ "transport.c", "x(void) { ae_kernel_deliver(n); }\n", 1 },
		{ "remote.c", "x(void) { ae_kernel_nodes_event(n, 1); }\n", 1 },
		{ "stats.c", "#include \"conn.h\"\n", 1 },
		{ "newfile.c", "", 1 },
		/* what is allowed, or not a call */
		{ "transport.c", "x(void) { n->upcall.up(r, c); "
		    "/* global_x() */ s = \"kernel_y(\"; ae_remote_get(n); }\n",
		    0 },
		{ "transport.c", "x(void) { ae_remote_get(n); }\n", 0 },
		{ "global.c", "#include \"global.h\"\n#include \"kernel.h\"\n"
		    "x(void) { ae_kernel_deliver(n); ae_transport_close(c); }\n", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct report r = { 0 };
		check_file(cases[i].file, cases[i].text, &r);
		ck_assert_msg(r.count == cases[i].breaks, "case %zu (%s): %d "
		    "breaks, not %d:\n%s", i, cases[i].file, r.count,
		    cases[i].breaks, r.text ? r.text : "");
		free(r.text);
	}
}
END_TEST

static Suite *
layers_suite(void)
{
	Suite *s = suite_create("layers");
	TCase *tc = tcase_create("includes");

	tcase_add_test(tc, checker_sees_violations);
	tcase_add_test(tc, common_keeps_the_layers);
	suite_add_tcase(s, tc);
	return s;
}

AEMP_TEST_MAIN(layers_suite)

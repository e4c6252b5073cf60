/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * names.c: the rules for names from the wire (see names.h).
 */
#include <string.h>

#include "codec.h"
#include "names.h"

int
ae_pkg_name_valid(const char *name, int allow_trailing)
{
	const char *p = name;

	for (;;) {
		const char *start = p;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_')
			p++;
		if (p == start)
			return allow_trailing && p > name + 2 && *p == '\0' &&
			    p[-1] == ':';
		if (*p == '\0')
			return 1;
		if (p[0] != ':' || p[1] != ':')
			return 0;
		p += 2;
	}
}

/* The reference's IDs look like b@nodeB; ours use [A-Za-z0-9@._:/-]. */
int
ae_dc_id_valid(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n <= 200 && strspn(id, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@._:/-") == n;
}

int
ae_nodeid_valid(const char *id)
{
	const char *p, *end;
	size_t len;

	/*
	 * '#' splits port IDs, ';' and control bytes would break greetings;
	 * IDs go into JSON, log lines, metrics labels and terminals, so they
	 * are printable UTF-8 (as every Perl node ID is that one can type).
	 */
	if (id == NULL || *id == '\0' || strpbrk(id, "#;") != NULL)
		return 0;
	for (p = id, end = id + strlen(id); p < end; p += len)
		if ((len = ae_utf8_printable_len(p, end)) == 0)
			return 0;
	return 1;
}

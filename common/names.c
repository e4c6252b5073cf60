/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * names.c: the Pkg::Sub name rule (see names.h).
 */
#include "names.h"

int
pkg_name_valid(const char *name, int allow_trailing)
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

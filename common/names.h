/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * names.h: the rules for names that arrive from the wire. The Pkg::Sub
 * rule: a function name picks code to run
 * (a registered function, a module file), so every name that arrives
 * from spawn, a service list or a module lookup passes this one check.
 * Internal to libaemp and aempd (which links it in).
 */
#ifndef AEMP_NAMES_H
#define AEMP_NAMES_H

#include <stddef.h>
#include <string.h>

/*
 * Whether name is parts of [A-Za-z0-9_]+ joined by "::" (Pkg::Sub::func);
 * with allow_trailing, a package name with its trailing "::" (Pkg::) is
 * valid too.
 */
int	 ae_pkg_name_valid(const char *name, int allow_trailing);

/* A dataconn_id (AEMP-TLS-EXT.md 11.3): 1 to 200 of [A-Za-z0-9@._:/-]. */
int	 ae_dc_id_valid(const char *id);

/*
 * A node ID as a node accepts it: not empty, no '#' or ';', printable
 * UTF-8 (no control characters, no bytes that are no UTF-8).
 */
int	 ae_nodeid_valid(const char *id);

/*
 * The port name part of a port ID ("" for a node port); *nodelen its
 * node part. Inline: every send asks it.
 */
static inline const char *
id_split(const char *id, size_t *nodelen)
{
	const char *hash = strchr(id, '#');

	if (hash == NULL) {
		*nodelen = strlen(id);
		return id + *nodelen;
	}
	*nodelen = (size_t)(hash - id);
	return hash + 1;
}

#endif

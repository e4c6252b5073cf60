/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * example_args.h: turns "KEY VALUE ..." command-line pairs into configure
 * arguments for the examples that take them (values that look like JSON
 * are parsed as JSON, the rest are strings).
 */
#ifndef EXAMPLE_ARGS_H
#define EXAMPLE_ARGS_H

#include <string.h>

#include "aemp.h"

static json_t *
example_args(int argc, char **argv)
{
	json_t *cfg = json_object();

	for (int i = 0; i + 1 < argc; i += 2) {
		const char *v = argv[i + 1];
		json_t *j = NULL;
		if (v[0] != '\0' && strchr("[{\"0123456789", v[0]) != NULL)
			j = json_loads(v, JSON_DECODE_ANY, NULL);
		json_object_set_new(cfg, argv[i], j ? j : json_string(v));
	}
	return cfg;
}

#endif

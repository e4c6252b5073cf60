/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fuzz_cliargs.c: libFuzzer target for the configuration argument parsers
 * shared by aemp and aempd: a value for any key, and KEY VALUE lists.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *const *keys = ae_keys();
	size_t nkeys = 0, i;
	char *arg, *err = NULL, *argv[3];
	json_t *v;

	if (size < 1)
		return 0;
	while (keys[nkeys] != NULL)
		nkeys++;
	arg = malloc(size);
	memcpy(arg, data + 1, size - 1);
	arg[size - 1] = '\0';
	i = data[0] % nkeys;
	v = ae_config_value(keys[i], arg, &err);
	if ((v == NULL) == (err == NULL))
		abort();	/* exactly one of value and message */
	json_decref(v);
	free(err);
	err = NULL;
	argv[0] = (char *)keys[i];
	argv[1] = arg;
	argv[2] = NULL;
	v = ae_config_args(2, argv, &err);
	json_decref(v);
	free(err);
	free(arg);
	return 0;
}

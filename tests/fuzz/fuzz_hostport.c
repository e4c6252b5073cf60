/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fuzz_hostport.c: libFuzzer target for host:port parsing, checking that
 * what parses formats back to the same host and port.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, *host, *port, *line, *h2, *p2, buf[16];
	long	 v;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* a seed is a bind too; both agree with the parser */
	if (ae_hostport_seed_valid(s) && !ae_bind_valid(s))
		abort();
	if (ae_hostport_parse(s, &host, &port) != 0) {
		if (host != NULL || port != NULL || ae_hostport_seed_valid(s))
			abort();
		free(s);
		return 0;
	}
	if (!ae_bind_valid(s) || ae_hostport_seed_valid(s) !=
	    aemp_port_connectable(port))
		abort();
	if (host == NULL && port == NULL)
		abort();
	if (host != NULL && (host[0] == '\0' || strpbrk(host, "[] \t\r\n")))
		abort();
	if (port != NULL && strcmp(port, "*") != 0) {
		v = strtol(port, NULL, 10);
		snprintf(buf, sizeof buf, "%ld", v);
		/* 0 binds any free port, like "*" (seeds refuse it) */
		if (v < 0 || v > 65535 || strcmp(buf, port) != 0)
			abort();
		if (host != NULL) {
			line = ae_hostport_format(host, (int)v);
			if (line == NULL ||
			    ae_hostport_parse(line, &h2, &p2) != 0 ||
			    h2 == NULL || p2 == NULL ||
			    strcmp(h2, host) != 0 || strcmp(p2, port) != 0)
				abort();
			free(h2);
			free(p2);
			free(line);
		}
	}
	free(host);
	free(port);
	free(s);
	return 0;
}

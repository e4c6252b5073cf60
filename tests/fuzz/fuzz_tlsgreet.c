/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fuzz_tlsgreet.c: libFuzzer target for the greeting-to-TLS transition
 * (AEMP-TLS-EXT.md 10.4): a node with a certificate gets a greeting that
 * announces tls=1.0 and, in the same write, the fuzzer's bytes where the
 * TLS stream begins, then the rest of them in a second write. The first
 * byte picks the node's TLS role. One node serves every input, over
 * 127.0.0.1.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aemp.h"
#include "../util/testcert.h"

static struct event_base *base;
static aemp_node *node;
static struct sockaddr_in addr;

static void
init(void)
{
	char *pem = test_cert_pem("fuzz"), *err = NULL;
	const char *a, *colon;
	json_t *cfg;

	setenv("AEMP_RC", "/nonexistent/aemp-fuzz/aemp.db", 1);
	setenv("AEMP_WARNLEVEL", "0", 1);
	base = event_base_new();
	cfg = json_pack("{ss ss s[s] ss ss sb sf}", "profile", "fuzz",
	    "nodeid", "victim", "binds", "127.0.0.1:*", "secret", "s",
	    "cert", pem, "norc", 1, "monitor_timeout", 5.0);
	free(pem);
	if ((node = aemp_configure(base, cfg, &err)) == NULL) {
		fprintf(stderr, "configure: %s\n", err);
		abort();
	}
	a = json_string_value(json_array_get(aemp_listeners(node), 0));
	colon = strrchr(a, ':');
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)atoi(colon + 1));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void
turns(int n)
{
	while (n-- > 0)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char greeting[256];
	size_t first, len;
	int fd;

	if (node == NULL)
		init();
	if (size < 1)
		return 0;
	/* '+' below every random nonce: the node is TLS server; 'z': client */
	len = (size_t)snprintf(greeting, sizeof greeting,
	    "aemp;1;fuzz;tls_anon,tls_md6_64_256;json;tls=1.0\n%.88s\n",
	    data[0] & 1 ? "++++++++++++++++++++++++++++++++++++++++++++"
	    "++++++++++++++++++++++++++++++++++++++++++++" :
	    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
	data++;
	size--;
	first = size / 2;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
		abort();
	{
		char *buf = malloc(len + first + 1);
		memcpy(buf, greeting, len);
		memcpy(buf + len, data, first);
		if (send(fd, buf, len + first, MSG_NOSIGNAL) < 0)
			;	/* the node may have closed already */
		free(buf);
	}
	turns(4);
	if (size > first)
		(void)!send(fd, data + first, size - first, MSG_NOSIGNAL);
	turns(4);
	close(fd);
	turns(3);
	return 0;
}

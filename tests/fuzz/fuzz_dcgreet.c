/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fuzz_dcgreet.c: libFuzzer target for the aemp-dataconn greeting
 * (AEMP-TLS-EXT.md 11.3). The input up to its first LF is greeting line
 * 1, sent with a nonce line to a node that expects data connection
 * 1@fuzz from node fuzz; the auth line with the right hmac token for
 * those lines follows, then the rest of the input as application bytes.
 * The line also goes through the parser directly, whose result must obey
 * the rules the transport relies on. One node serves every input.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>

#include "names.h"
#include "services.h"
#include "md6.h"

#define NONCE	"ZnV6emZ1enpmdXp6ZnV6emZ1enpmdXp6"

static struct event_base *base;
static aemp_node *node;
static struct sockaddr_in addr;

static void
sink(aemp_node *n, struct bufferevent *bev, json_t *args, void *ud)
{
	(void)n; (void)args; (void)ud;
	bufferevent_free(bev);
}

static void
init(void)
{
	char *err = NULL;
	const char *a, *colon;
	json_t *cfg;

	setenv("AEMP_RC", "/nonexistent/aemp-fuzz/aemp.db", 1);
	setenv("AEMP_WARNLEVEL", "0", 1);
	base = event_base_new();
	cfg = json_pack("{ss ss s[s] ss sb sf}", "profile", "fuzz",
	    "nodeid", "victim", "binds", "127.0.0.1:*", "secret", "s",
	    "norc", 1, "monitor_timeout", 5.0);
	if ((node = aemp_configure(base, cfg, &err)) == NULL) {
		fprintf(stderr, "configure: %s\n", err);
		abort();
	}
	aemp_register_dataconn(node, "Fuzz::sink", sink, NULL);
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

static void
check_parse(const char *line, size_t len)
{
	struct aemp_greeting g;
	const char *why;

	if (ae_greeting_parse(line, len, &g, &why) < 0)
		return;
	if (strncmp(g.protocol, "aemp", 4) != 0 || (g.protocol[4] != '\0' &&
	    g.protocol[4] != '-'))
		abort();
	if (g.dataconn_id != NULL && ae_dc_id_valid(g.dataconn_id) &&
	    strpbrk(g.dataconn_id, ";\n\r") != NULL)
		abort();
	ae_greeting_clear(&g);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *eol = memchr(data, '\n', size);
	size_t l1 = eol != NULL ? (size_t)(eol - data) : size;
	char *mine1, got[8192], token[65], *n1, *n2, *g1, *g2;
	ssize_t r;
	size_t have = 0;
	int fd;

	if (node == NULL)
		init();
	if (l1 > 2000)
		return 0;
	check_parse((const char *)data, l1);
	if (memchr(data, '\0', l1) != NULL)
		return 0;
	if (ae_dataconn_pending(node) == 0) {
		json_t *req = json_pack("[sssis]",
		    "AnyEvent::MP::DataConn::_expect", "1@fuzz", "fuzz#p", 5,
		    "Fuzz::sink");
		aemp_snd(node, "victim#", req);
		turns(2);
	}
	mine1 = strndup((const char *)data, l1);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
		abort();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	(void)!send(fd, data, l1, MSG_NOSIGNAL);
	(void)!send(fd, "\n" NONCE "\n", sizeof NONCE + 1, MSG_NOSIGNAL);
	turns(4);
	while (have < sizeof got - 1 &&
	    (r = read(fd, got + have, sizeof got - 1 - have)) > 0)
		have += (size_t)r;
	got[have] = '\0';
	g1 = got;
	if ((n1 = strchr(got, '\n')) != NULL && (n2 = strchr(n1 + 1, '\n'))) {
		char line[128];
		*n1 = *n2 = '\0';
		g2 = n1 + 1;
		ae_auth_token("s", mine1, NONCE, g1, g2, token);
		snprintf(line, sizeof line, "hmac_md6_64_256;%s;json\n", token);
		(void)!send(fd, line, strlen(line), MSG_NOSIGNAL);
		if (eol != NULL && size > l1 + 1)
			(void)!send(fd, eol + 1, size - l1 - 1, MSG_NOSIGNAL);
	}
	turns(4);
	close(fd);
	turns(3);
	free(mine1);
	return 0;
}

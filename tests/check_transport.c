/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_transport.c: a node under bad input on the wire: broken greetings,
 * failed authentication, stalled handshakes and malformed packets. Each
 * test talks raw TCP to a node running in a child process on 127.0.0.1
 * and then checks that the node still serves a legitimate peer.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <poll.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "nodeutil.h"
#include "rawpeer.h"
#include "md6.h"
#include "wire.h"
#include "transport.h"

#define SECRET RAW_SECRET
#define NONCE RAW_NONCE

static void
describe_bytes(FILE *f, const char *str, size_t len)
{
	size_t i;

	fputs("s\"", f);
	for (i = 0; i < len; i++) {
		unsigned char b = (unsigned char)str[i];
		if (b >= 0x20 && b < 0x7f && b != '\\')
			fputc(b, f);
		else
			fprintf(f, "\\x%02x", b);
	}
	fputc('"', f);
}

/* What a C program sees of a value: types, and every byte of strings. */
static void
describe(FILE *f, json_t *v)
{
	const char *key;
	size_t len, i = 0;
	json_t *e;

	switch (json_typeof(v)) {
	case JSON_STRING:
		describe_bytes(f, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		fprintf(f, "i%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		fprintf(f, "r%.17g", json_real_value(v));
		break;
	case JSON_ARRAY:
		fputc('[', f);
		json_array_foreach(v, i, e) {
			if (i > 0)
				fputc(' ', f);
			describe(f, e);
		}
		fputc(']', f);
		break;
	case JSON_OBJECT:
		fputc('{', f);
		json_object_keylen_foreach(v, key, len, e) {
			if (i++ > 0)
				fputc(' ', f);
			describe_bytes(f, key, len);
			fputc('=', f);
			describe(f, e);
		}
		fputc('}', f);
		break;
	default:
		fputs(json_is_true(v) ? "true" : json_is_false(v) ? "false" :
		    "null", f);
	}
}

/*
 * The recorder: a port that logs what it gets ("SAW ..."), and sends it
 * on to raw#back, the foreign peer's port, as a program would.
 */
static int
record_msg(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	(void)self; (void)ud;
	fputs("SAW ", stderr);
	describe(stderr, msg);
	fputs("\n", stderr);
	/* (jansson 2.14's json_deep_copy() cuts keys at a NUL byte) */
	aemp_snd(n, "raw#back", json_incref(msg));
	return 0;
}

static int
record_func(aemp_node *n, const char *self, json_t *args, void *ud)
{
	(void)args;
	return aemp_rcv(n, self, NULL, record_msg, ud);
}

/* Runs node "victim" (secret SECRET) in a child process until killed. */
static void
child_start(struct child *c, const char *extra_json)
{
	char bind[64];

	if (child_fork(c) == 0) {
		struct event_base *base = event_base_new();
		json_t *extra = extra_json ? json_loads(extra_json, 0, NULL) :
		    json_object();
		aemp_node *n;

		snprintf(bind, sizeof bind, "127.0.0.1:%d", c->port);
		if (json_is_integer(json_object_get(extra, "nofile"))) {
			struct rlimit rl;
			rl.rlim_cur = rl.rlim_max = (rlim_t)json_integer_value(
			    json_object_get(extra, "nofile"));
			setrlimit(RLIMIT_NOFILE, &rl);
			json_object_del(extra, "nofile");
		}
		if (json_is_true(json_object_get(extra, "nobind"))) {
			json_object_del(extra, "nobind");
			json_object_set_new(extra, "binds", json_array());
		} else
			json_object_set_new(extra, "binds", json_pack("[s]", bind));
		n = tn_node(base, "victim", extra);
		if (n == NULL)
			_exit(3);
		aemp_register_func(n, "Test::record", record_func, NULL);
		event_base_dispatch(base);
		_exit(0);
	}
	ck_assert(test_wait_for_text(c->log, "starting global service", 5));
}

static int
raw_authenticated(int port)
{
	return raw_authenticated_as(port, "raw");
}

/* The node still accepts and authenticates a legitimate peer. */
static void
still_serving(struct child *c)
{
	int fd = raw_authenticated(c->port);

	close(fd);
}

static void
expect_rejected(const char *greeting, const char *logtext)
{
	struct child c;
	int fd;

	child_start(&c, NULL);
	fd = raw_connect(c.port);
	raw_send(fd, greeting);
	ck_assert(raw_closed(fd));
	close(fd);
	ck_assert_msg(test_wait_for_text(c.log, logtext, 3),
	    "log lacks '%s'", logtext);
	still_serving(&c);
	child_stop(&c);
}

START_TEST(garbage_greeting)
{
	expect_rejected("GET / HTTP/1.0\r\n\r\n", "unparsable greeting");
}
END_TEST

START_TEST(wrong_protocol_name)
{
	expect_rejected("amqp;1;raw;hmac_md6_64_256;json\n" NONCE "\n",
	    "unparsable greeting");
}
END_TEST

START_TEST(version_two)
{
	expect_rejected("aemp;2;raw;hmac_md6_64_256;json\n" NONCE "\n",
	    "version mismatch");
}
END_TEST

START_TEST(our_own_node_id)
{
	expect_rejected("aemp;1;victim;hmac_md6_64_256;json\n" NONCE "\n",
	    "I refuse to talk to myself");
}
END_TEST

START_TEST(no_common_auth)
{
	expect_rejected("aemp;1;raw;tls_anon;json\n" NONCE "\n",
	    "no common auth type supported");
}
END_TEST

START_TEST(no_common_framing)
{
	expect_rejected("aemp;1;raw;hmac_md6_64_256;storable\n" NONCE "\n",
	    "no common framing method supported");
}
END_TEST

START_TEST(greeting_line_too_long)
{
	char *big = malloc(5000);

	memset(big, 'x', 4999);
	big[4999] = '\0';
	memcpy(big, "aemp;1;", 7);
	expect_rejected(big, "line too long");
	free(big);
}
END_TEST

START_TEST(echoed_greeting)
{
	struct child c;
	char g1[4096], g2[4096], out[8200];
	int fd;

	child_start(&c, NULL);
	fd = raw_connect(c.port);
	ck_assert_int_gt(raw_line(fd, g1, sizeof g1), 0);
	ck_assert_int_gt(raw_line(fd, g2, sizeof g2), 0);
	snprintf(out, sizeof out, "%s\n%s\n", g1, g2);
	raw_send(fd, out);
	ck_assert(raw_closed(fd));
	close(fd);
	ck_assert(test_wait_for_text(c.log, "echo attack", 3));
	still_serving(&c);
	child_stop(&c);
}
END_TEST

START_TEST(wrong_token)
{
	struct child c;
	char g1[4096], g2[4096];
	int fd;

	child_start(&c, NULL);
	fd = raw_connect(c.port);
	raw_send(fd, "aemp;1;raw;hmac_md6_64_256;json\n" NONCE "\n");
	ck_assert_int_gt(raw_line(fd, g1, sizeof g1), 0);
	ck_assert_int_gt(raw_line(fd, g2, sizeof g2), 0);
	raw_send(fd, "hmac_md6_64_256;0000000000000000000000000000000000000000"
	    "000000000000000000000000;json\n");
	ck_assert(raw_closed(fd));
	close(fd);
	ck_assert(test_wait_for_text(c.log,
	    "authentication failure/shared secret mismatch", 3));
	still_serving(&c);
	child_stop(&c);
}
END_TEST

START_TEST(cleartext_accepted_when_configured)
{
	struct child c;
	char g1[4096], g2[4096], hex[2 * sizeof SECRET + 1], line[512];
	int fd;

	child_start(&c, NULL);
	fd = raw_connect(c.port);
	raw_send(fd, "aemp;1;raw;hmac_md6_64_256;json\n" NONCE "\n");
	ck_assert_int_gt(raw_line(fd, g1, sizeof g1), 0);
	ck_assert_int_gt(raw_line(fd, g2, sizeof g2), 0);
	ae_hex((const unsigned char *)SECRET, strlen(SECRET), hex);
	snprintf(line, sizeof line, "cleartext;%s;json\n", hex);
	raw_send(fd, line);
	ck_assert_int_gt(raw_line(fd, line, sizeof line), 0);	/* its auth */
	ck_assert(test_wait_for_text(c.log, "connected as raw", 3));
	close(fd);
	child_stop(&c);
}
END_TEST

START_TEST(cleartext_refused_when_not_accepted)
{
	struct child c;
	char g1[4096], g2[4096], hex[2 * sizeof SECRET + 1], line[512];
	int fd;

	child_start(&c, "{\"auth_accept\": [\"hmac_md6_64_256\"]}");
	fd = raw_connect(c.port);
	raw_send(fd, "aemp;1;raw;hmac_md6_64_256;json\n" NONCE "\n");
	ck_assert_int_gt(raw_line(fd, g1, sizeof g1), 0);
	ck_assert_int_gt(raw_line(fd, g2, sizeof g2), 0);
	ae_hex((const unsigned char *)SECRET, strlen(SECRET), hex);
	snprintf(line, sizeof line, "cleartext;%s;json\n", hex);
	raw_send(fd, line);
	ck_assert(raw_closed(fd));
	close(fd);
	ck_assert(test_wait_for_text(c.log, "not accepted", 3));
	still_serving(&c);
	child_stop(&c);
}
END_TEST

START_TEST(handshake_timeout)
{
	struct child c;
	int fd;

	child_start(&c, "{\"monitor_timeout\": 0.5}");
	fd = raw_connect(c.port);
	raw_send(fd, "aemp;1;raw;hmac_md6_64_256;json\n");	/* no nonce */
	ck_assert(raw_closed(fd));
	close(fd);
	ck_assert(test_wait_for_text(c.log, "handshake timeout", 3));
	still_serving(&c);
	child_stop(&c);
}
END_TEST

static void
expect_packet_error(const char *packets, const char *logtext,
    const char *extra)
{
	struct child c;
	int fd;

	child_start(&c, extra);
	fd = raw_authenticated(c.port);
	raw_send(fd, packets);
	ck_assert(raw_closed(fd));
	close(fd);
	ck_assert_msg(test_wait_for_text(c.log, logtext, 3),
	    "log lacks '%s'", logtext);
	ck_assert(test_wait_for_text(c.log, "raw is down", 3));
	still_serving(&c);
	child_stop(&c);
}

START_TEST(invalid_json)
{
	expect_packet_error("[\"\",\"devnull\"][\"x\",tru]", "invalid JSON",
	    NULL);
}
END_TEST

/*
 * Values that Perl's JSON::XS sends and jansson refuses: each reaches the
 * C port (what the program sees is in its log), goes back to Perl as the
 * bytes it came as, and the link stays; a value that truly cannot be kept
 * costs that one message, and the sender's monitor of that one port.
 */
START_TEST(perl_values_keep_the_link)
{
	static const struct {
		const char	*send, *saw, *back;
	} t[] = {
		{ "[\"rec\",\"big\",18446744073709551615,9223372036854775808,"
		  "-9223372036854775809,9223372036854775807]",
		  "SAW [s\"big\" s\"18446744073709551615\" "
		  "s\"9223372036854775808\" s\"-9223372036854775809\" "
		  "i9223372036854775807]",
		  "[\"back\",\"big\",\"18446744073709551615\","
		  "\"9223372036854775808\",\"-9223372036854775809\","
		  "9223372036854775807]" },
		{ "[\"rec\",\"nulkey\",{\"a\\u0000b\":1,\"\\u0000\":[2]}]",
		  "SAW [s\"nulkey\" {s\"a\\x00b\"=i1 s\"\\x00\"=[i2]}]",
		  "[\"back\",\"nulkey\",{\"a\\u0000b\":1,\"\\u0000\":[2]}]" },
		{ "[\"rec\",\"sur\",\"\\ud800\",\"x\\udfffy\",\"\xed\xa0\x80\","
		  "{\"\\ud800\":0}]",
		  "SAW [s\"sur\" s\"\\xed\\xa0\\x80\" s\"x\\xed\\xbf\\xbfy\" "
		  "s\"\\xed\\xa0\\x80\" {s\"\\xed\\xa0\\x80\"=i0}]",
		  "[\"back\",\"sur\",\"\xed\xa0\x80\",\"x\xed\xbf\xbfy\","
		  "\"\xed\xa0\x80\",{\"\xed\xa0\x80\":0}]" },
		{ "[\"rec\",\"dbl\",1.7976931348623157e308,"
		  "1.79769313486232e+308,-1e999,4.9e-324]",
		  "SAW [s\"dbl\" r1.7976931348623157e+308 "
		  "r1.7976931348623157e+308 r-1.7976931348623157e+308 "
		  "r4.9406564584124654e-324]",
		  "[\"back\",\"dbl\",1.7976931348623157e308,"
		  "1.7976931348623157e308,-1.7976931348623157e308,"
		  "4.9406564584124654e-324]" },
	};
	struct child c;
	char buf[65536];
	size_t i;
	int fd;

	child_start(&c, NULL);
	fd = raw_authenticated(c.port);
	raw_send(fd, "[\"\",\"AnyEvent::MP::_spawn\",\"rec\",\"Test::record\"]"
	    "[\"\",\"mon1\",\"rec\"]"
	    "[\"\",\"AnyEvent::MP::_spawn\",\"rec2\",\"Test::record\"]"
	    "[\"\",\"mon1\",\"rec2\"]");
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		raw_send(fd, t[i].send);
		ck_assert_msg(raw_read_into(fd, t[i].back, buf, sizeof buf),
		    "no %s in %s", t[i].back, buf);
		ck_assert_msg(test_wait_for_text(c.log, t[i].saw, 3),
		    "log lacks %s", t[i].saw);
	}
	/* no UTF-8: lost, and the monitor of "rec" tells us so */
	raw_send(fd, "[\"rec\",\"bad\",\"\xff\"]");
	ck_assert(raw_read_into(fd, "[\"\",\"kil0\",\"rec\",\"transport_error\","
	    "\"victim\",\"message dropped: a string that is not UTF-8\"]", buf,
	    sizeof buf));
	ck_assert_ptr_null(strstr(buf, "\"kil0\",\"rec2\""));
	ck_assert(test_wait_for_text(c.log, "raw sent port rec a message that "
	    "cannot be represented here (a string that is not UTF-8): "
	    "dropped it, and fired its monitor of that port.", 3));
	/* the link, and the port, carry on; nothing else fired */
	raw_send(fd, "[\"rec\",\"after\",1][\"rec2\",\"other\",2]"
	    "[\"\",\"snd\",\"raw#done\",2]");
	ck_assert(raw_read_into(fd, "[\"done\",2]", buf, sizeof buf));
	ck_assert_ptr_nonnull(strstr(buf, "[\"back\",\"after\",1]"));
	ck_assert_ptr_nonnull(strstr(buf, "[\"back\",\"other\",2]"));
	ck_assert_ptr_null(strstr(buf, "kil0"));
	ck_assert(test_wait_for_text(c.log, "SAW [s\"after\" i1]", 3));
	buf[0] = '\0';
	{
		char *log = test_slurp(c.log);
		ck_assert_ptr_null(strstr(log, "raw is down"));
		ck_assert_ptr_null(strstr(log, "protocol error"));
		ck_assert_ptr_null(strstr(log, "SAW [s\"bad\""));
		free(log);
	}
	close(fd);
	child_stop(&c);
}
END_TEST

/*
 * Spawning a function that does not resolve and monitoring the new port
 * at once: the reference creates the port only once the function
 * resolved, so the monitor always reports no_such_port. Both requests in
 * one write (what raced a delayed kill before) and in two, many times.
 */
START_TEST(spawn_unknown_then_monitor_is_no_such_port)
{
	struct child c;
	char pkt[512], want[512], buf[65536];
	int fd, i;

	child_start(&c, NULL);
	fd = raw_authenticated(c.port);
	for (i = 0; i < 40; i++) {
		snprintf(pkt, sizeof pkt, "[\"\",\"AnyEvent::MP::_spawn\","
		    "\"sp.%d\",\"No::Such::func\"]", i);
		raw_send(fd, pkt);
		if (i % 4 == 3)
			usleep(20000);
		snprintf(pkt, sizeof pkt, "[\"\",\"mon1\",\"sp.%d\"]", i);
		raw_send(fd, pkt);
		snprintf(want, sizeof want, "[\"\",\"kil0\",\"sp.%d\","
		    "\"no_such_port\",\"cannot monitor nonexistent port\","
		    "\"victim#sp.%d\"]", i, i);
		ck_assert_msg(raw_read_into(fd, "\"kil0\"", buf, sizeof buf),
		    "try %d: no kil0", i);
		ck_assert_msg(strstr(buf, want) != NULL, "try %d: %s", i, buf);
	}
	ck_assert(test_wait_for_text(c.log, "spawn: unable to resolve "
	    "function No::Such::func", 3));
	close(fd);
	child_stop(&c);
}
END_TEST

START_TEST(packet_not_array)
{
	expect_packet_error("{\"a\":1}", "malformed packet stream", NULL);
}
END_TEST

START_TEST(first_element_not_string)
{
	expect_packet_error("[1,2,3]", "port name is not a string", NULL);
}
END_TEST

START_TEST(packet_over_cap)
{
	char *big = malloc(70000);

	memset(big, ' ', 69999);
	big[69999] = '\0';
	big[0] = '[';
	big[1] = '"';
	expect_packet_error(big, "packet too large",
	    "{\"max_packet\": 65536}");
	free(big);
}
END_TEST

/*
 * A packet of exactly len bytes, ["","devnull","xx..."], to a node with
 * max_packet 65536, in pieces: taken at and under the cap (the node then
 * answers an info request on the same connection), "packet too large"
 * over it.
 */
static void
packet_of(size_t len, int fits)
{
	static const char head[] = "[\"\",\"devnull\",\"";
	struct child c;
	char *p = malloc(len + 1);
	int fd;

	memcpy(p, head, sizeof head - 1);
	memset(p + sizeof head - 1, 'x', len - (sizeof head - 1) - 2);
	memcpy(p + len - 2, "\"]", 3);
	if (!fits) {
		expect_packet_error(p, "packet too large",
		    "{\"max_packet\": 65536}");
		free(p);
		return;
	}
	child_start(&c, "{\"max_packet\": 65536}");
	fd = raw_authenticated(c.port);
	raw_send(fd, p);
	raw_send(fd, "[\"\",\"info\",\"raw#r1\"]");
	ck_assert(raw_read_until(fd, "[\"r1\",\"victim\"]"));
	close(fd);
	child_stop(&c);
	free(p);
}

START_TEST(packet_one_under_cap)
{
	packet_of(65535, 1);
}
END_TEST

START_TEST(packet_at_cap)
{
	packet_of(65536, 1);
}
END_TEST

START_TEST(packet_one_over_cap)
{
	packet_of(65537, 0);
}
END_TEST

START_TEST(unknown_ports_and_bad_requests_are_harmless)
{
	struct child c;
	int fd;

	child_start(&c, NULL);
	fd = raw_authenticated(c.port);
	raw_send(fd, "[][\"nosuchport.a\",\"hello\"][\"\",\"mon1\"]"
	    "[\"\",\"snd\",42][\"\",\"kil\"][\"\",\"No::such\",1]"
	    "[\"\",\"AnyEvent::MP::_spawn\",\"x.a\"]");
	ck_assert(test_wait_for_text(c.log, "malformed node port request", 3));
	ck_assert(test_wait_for_text(c.log, "not a registered function", 3));
	/* still up: the node answers an info request on this connection */
	raw_send(fd, "[\"\",\"info\",\"raw#r1\"]");
	ck_assert(raw_read_until(fd, "[\"r1\",\"victim\"]"));
	/* bytes after our close do not matter to it */
	shutdown(fd, SHUT_WR);
	close(fd);
	ck_assert(test_wait_for_text(c.log, "raw is down", 3));
	still_serving(&c);
	child_stop(&c);
}
END_TEST

START_TEST(many_packets_in_one_write_and_split_packets)
{
	struct child c;
	int fd, i;
	char buf[65536];
	size_t len = 0;

	child_start(&c, NULL);
	fd = raw_authenticated(c.port);
	for (i = 0; i < 500; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len,
		    "[\"\",\"snd\",\"raw#r\",%d] ", i);
	raw_send(fd, buf);
	/* and one packet in three pieces */
	raw_send(fd, "[\"\",\"in");
	usleep(50000);
	raw_send(fd, "fo\",\"raw#pi");
	usleep(50000);
	raw_send(fd, "eces\"]");
	raw_read_into(fd, "[\"pieces\",\"victim\"]", buf, sizeof buf);
	ck_assert_ptr_nonnull(strstr(buf, "[\"r\",0]"));
	ck_assert_ptr_nonnull(strstr(buf, "[\"r\",499]"));
	ck_assert_ptr_nonnull(strstr(buf, "[\"pieces\",\"victim\"]"));
	close(fd);
	child_stop(&c);
}
END_TEST

/*
 * Perl's JSON writes NUL bytes in strings as "\u0000": such data passes
 * through, while a NUL in a name never addresses what the name before it
 * would (C strings end there).
 */
START_TEST(nul_bytes_in_strings)
{
	struct child c;
	char buf[4096];
	int fd;

	child_start(&c, NULL);
	fd = raw_authenticated(c.port);
	raw_send(fd, "[\"\",\"snd\",\"raw#r\",\"a\\u0000b\"]"
	    "[\"\",\"info\",\"raw#bad\\u0000x\"]"
	    "[\"\",\"info\",\"raw#ok\"]");
	raw_read_into(fd, "[\"ok\",\"victim\"]", buf, sizeof buf);
	ck_assert_ptr_nonnull(strstr(buf, "[\"r\",\"a\\u0000b\"]"));
	ck_assert_ptr_nonnull(strstr(buf, "[\"ok\",\"victim\"]"));
	ck_assert_ptr_null(strstr(buf, "bad"));
	close(fd);
	child_stop(&c);
}
END_TEST

START_TEST(no_secret_refuses_handshake)
{
	struct child c;
	int fd;

	child_start(&c, "{\"secret\": null}");
	fd = raw_connect(c.port);
	raw_send(fd, "aemp;1;raw;hmac_md6_64_256;json\n" NONCE "\n");
	ck_assert(raw_closed(fd));
	close(fd);
	ck_assert(test_wait_for_text(c.log, "no shared secret configured", 3));
	ck_assert(test_wait_for_text(c.log, "aemp gensecret", 1));
	child_stop(&c);
}
END_TEST


/* A listener on 127.0.0.1 for the node to connect to; returns the fd. */
static int
raw_listen(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return fd;
}

START_TEST(listener_less_node_sends_keepalive)
{
	struct child c;
	int lfd, lport, fd;
	char extra[256], g1[4096], g2[4096], line[4096], token[65];
	const char *my1 = "aemp;1;raw;hmac_md6_64_256;json;provider=test";
	struct timeval tv = { 3, 0 };
	char buf[4096];
	size_t len = 0;

	lfd = raw_listen(&lport);
	snprintf(extra, sizeof extra, "{\"monitor_timeout\": 0.5, "
	    "\"seeds\": [\"127.0.0.1:%d\"], \"nobind\": true}", lport);
	child_start(&c, extra);
	fd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	raw_send(fd, my1);
	raw_send(fd, "\n" NONCE "\n");
	ck_assert_int_gt(raw_line(fd, g1, sizeof g1), 0);
	ck_assert_int_gt(raw_line(fd, g2, sizeof g2), 0);
	ae_auth_token(SECRET, my1, NONCE, g1, g2, token);
	snprintf(line, sizeof line, "hmac_md6_64_256;%s;json\n", token);
	raw_send(fd, line);
	ck_assert_int_gt(raw_line(fd, line, sizeof line), 0);
	/* after the start-up traffic, silence must be broken by [] */
	while (len < sizeof buf - 1) {
		ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
		ck_assert_int_gt(r, 0);
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, "[]") != NULL)
			break;
	}
	ck_assert_ptr_nonnull(strstr(buf, "[]"));
	close(fd);
	close(lfd);
	child_stop(&c);
}
END_TEST

/*
 * The reference's 1.29 keepalive case: a node without listeners (binds
 * []) and monitor_timeout 1, talking to a peer that answers as AEMP says
 * (relays "snd" requests, so the liveness probe comes back). The link
 * must hold while traffic flows; it was lost every 1-2 s while the probe
 * was malformed (common/remote.c before a6d59c1).
 */
#define PROBE "[\"\",\"snd\",\"victim\",\"devnull\",\"aemp-probe\","

START_TEST(listener_less_short_monitor_timeout_holds)
{
	struct child c;
	int lfd, lport, fd, probes = 0;
	char extra[256], g1[4096], g2[4096], line[4096], token[65];
	const char *my1 = "aemp;1;raw;hmac_md6_64_256;json;provider=test";
	struct timeval tv = { 3, 0 };
	char buf[65536], reply[128];
	size_t len = 0;
	struct timespec ts;
	double start, t;
	unsigned n = 0;

	lfd = raw_listen(&lport);
	snprintf(extra, sizeof extra, "{\"monitor_timeout\": 1, "
	    "\"seeds\": [\"127.0.0.1:%d\"], \"nobind\": true}", lport);
	child_start(&c, extra);
	fd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	raw_send(fd, my1);
	raw_send(fd, "\n" NONCE "\n");
	ck_assert_int_gt(raw_line(fd, g1, sizeof g1), 0);
	ck_assert_int_gt(raw_line(fd, g2, sizeof g2), 0);
	ae_auth_token(SECRET, my1, NONCE, g1, g2, token);
	snprintf(line, sizeof line, "hmac_md6_64_256;%s;json\n", token);
	raw_send(fd, line);
	ck_assert_int_gt(raw_line(fd, line, sizeof line), 0);
	ck_assert(test_wait_for_text(c.log, "connected as raw", 3));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	start = ts.tv_sec + ts.tv_nsec / 1e9;
	/* 5 s of traffic: requests every 100 ms, probes answered */
	for (t = start; t - start < 5; t = ts.tv_sec + ts.tv_nsec / 1e9) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char *at, *probe;
		snprintf(reply, sizeof reply, "[\"\",\"info\",\"raw#r%u\"]",
		    n++);
		raw_send(fd, reply);
		if (poll(&pfd, 1, 100) > 0) {
			ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
			ck_assert_msg(r > 0, "the node closed the link after "
			    "%.1f s", t - start);
			len += (size_t)r;
			buf[len] = '\0';
			at = buf;
			while ((probe = strstr(at, PROBE)) != NULL &&
			    strchr(probe, ']') != NULL) {
				long seq = atol(probe + strlen(PROBE));
				snprintf(reply, sizeof reply, "[\"\",\"devnull\","
				    "\"aemp-probe\",%ld]", seq);
				raw_send(fd, reply);
				probes++;
				at = strchr(probe, ']') + 1;
			}
			/* keep an unfinished end for the next read */
			if (len > sizeof buf / 2) {
				size_t keep = 64;
				memmove(buf, buf + len - keep, keep);
				len = keep;
			} else if (at != buf) {
				len -= (size_t)(at - buf);
				memmove(buf, at, len + 1);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
	}
	ck_assert_int_gt(probes, 1);
	{
		char *log = test_slurp(c.log);
		ck_assert_msg(strstr(log, "raw is down") == NULL &&
		    strstr(log, "not responding") == NULL, "%s", log);
		free(log);
	}
	close(fd);
	close(lfd);
	child_stop(&c);
}
END_TEST

START_TEST(trace_prints_packets)
{
	struct child c;
	int fd;

	setenv("AEMP_TRACE", "1", 1);
	child_start(&c, NULL);
	unsetenv("AEMP_TRACE");
	fd = raw_authenticated(c.port);
	raw_send(fd, "[\"\",\"info\",\"raw#r1\"]");
	ck_assert(test_wait_for_text(c.log,
	    "RCV raw -> [\"\",\"info\",\"raw#r1\"]", 3));
	ck_assert(test_wait_for_text(c.log, "SND raw <- [\"victim\"]", 3));
	close(fd);
	child_stop(&c);
}
END_TEST


START_TEST(preauth_flood_does_not_lock_out)
{
	struct child c;
	int fds[1000], i;

	child_start(&c, NULL);
	for (i = 0; i < 1000; i++)
		fds[i] = raw_connect(c.port);
	ck_assert(test_wait_for_text(c.log, "too many connections in handshake",
	    5));
	still_serving(&c);
	for (i = 0; i < 1000; i++)
		close(fds[i]);
	child_stop(&c);
}
END_TEST

START_TEST(node_port_flood_keeps_others_served)
{
	struct child c;
	int flood, fd, i;
	pid_t writer;
	double start;
	struct timespec ts;

	child_start(&c, NULL);
	flood = raw_authenticated(c.port);
	fflush(NULL);
	writer = fork();
	if (writer == 0) {
		static char chunk[32 * 1024];
		size_t len = 0;
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		while (len + 20 < sizeof chunk)
			len += (size_t)snprintf(chunk + len, sizeof chunk - len,
			    "[\"\",\"devnull\"]");
		for (i = 0; i < 1000000 / 100; i++)	/* 1,000,000 requests */
			if (write(flood, chunk, len) < 0)
				break;
		_exit(0);
	}
	usleep(200000);		/* the flood is on */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	start = ts.tv_sec + ts.tv_nsec / 1e9;
	fd = raw_authenticated_as(c.port, "other");
	raw_send(fd, "[\"\",\"info\",\"other#r1\"]");
	ck_assert(raw_read_until(fd, "[\"r1\",\"victim\"]"));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ck_assert_double_lt(ts.tv_sec + ts.tv_nsec / 1e9 - start, 2.0);
	close(fd);
	test_stop(writer);
	close(flood);
	child_stop(&c);
}
END_TEST

/*
 * Answers the node's liveness probes without reading them: their numbers
 * count up from 1 (remote.c), so the answers to the first PROBE_ANSWERS
 * go out blind, and the one that is pending is answered at once.
 */
#define PROBE_ANSWERS	100
static void
answer_probes_blind(int fd)
{
	char buf[PROBE_ANSWERS * 40];
	size_t len = 0;
	int seq;

	for (seq = 1; seq <= PROBE_ANSWERS; seq++)
		len += (size_t)snprintf(buf + len, sizeof buf - len,
		    "[\"\",\"devnull\",\"aemp-probe\",%d]", seq);
	if (write(fd, buf, len) < 0)
		return;		/* dropped already */
}

/*
 * A peer that sends but never reads is dropped by the write timeout. It
 * answers the liveness probe (blind), which would otherwise drop it too,
 * and first when the machine is loaded (stopped_peer_is_detected checks
 * the probe).
 */
START_TEST(hung_peer_is_dropped)
{
	struct child c;
	int fd, i;
	char *pkt;
	size_t len;
	double t0;

	signal(SIGPIPE, SIG_IGN);
	child_start(&c, "{\"monitor_timeout\": 1}");
	fd = raw_authenticated(c.port);
	{
		struct timeval tv = { 5, 0 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	}
	/* ask it to send us megabytes, and never read them */
	pkt = malloc(70000);
	len = (size_t)snprintf(pkt, 70000, "[\"\",\"snd\",\"raw#x\",\"");
	memset(pkt + len, 'y', 65000);
	len += 65000;
	len += (size_t)snprintf(pkt + len, 70000 - len, "\"]");
	for (i = 0; i < 400; i++) {
		if (write(fd, pkt, len) < 0)
			break;
		answer_probes_blind(fd);
	}
	free(pkt);
	t0 = test_now();
	while (!test_wait_for_text(c.log, "write timeout", 0.1) &&
	    test_now() - t0 < 10)
		answer_probes_blind(fd);
	ck_assert(test_wait_for_text(c.log, "write timeout", 0.1));
	ck_assert(test_wait_for_text(c.log, "raw is down", 2));
	ck_assert(!test_wait_for_text(c.log, "peer not responding", 0));
	close(fd);
	still_serving(&c);
	child_stop(&c);
}
END_TEST

struct stopped {
	int	 up, fired;
	char	*why;
};

static void
stopped_up(aemp_node *n, const char *id, int up, json_t *reason, void *ud)
{
	(void)n; (void)id; (void)reason;
	if (up)
		((struct stopped *)ud)->up = 1;
}

static void
stopped_fired(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct stopped *s = ud;

	(void)n; (void)port;
	s->why = strdup(json_string_value(json_array_get(reason, 2)));
	s->fired = 1;
}

static void
keep_sending(aemp_node *n, void *ud)
{
	struct stopped *s = ud;

	if (s->fired)
		return;
	aemp_snd(n, "victim", json_pack("[s]", "devnull"));
	aemp_after(n, 0.01, keep_sending, s);
}

START_TEST(stopped_peer_is_detected)
{
	struct child c;
	struct event_base *base;
	aemp_node *n;
	struct stopped st = { 0, 0, NULL };
	char seed[64];

	child_start(&c, "{\"monitor_timeout\": 1}");
	snprintf(seed, sizeof seed, "127.0.0.1:%d", c.port);
	base = event_base_new();
	n = tn_node(base, "watcher", json_pack("{sfs[s]}", "monitor_timeout",
	    1.0, "seeds", seed));
	aemp_mon_nodes(n, stopped_up, &st);
	ck_assert(tn_run_until(base, &st.up, 5));
	aemp_mon_cb(n, "victim", stopped_fired, &st);
	keep_sending(n, &st);
	tn_run_for(base, 0.3);
	ck_assert_int_eq(st.fired, 0);
	kill(c.pid, SIGSTOP);
	/* monitor_timeout plus one probe interval, with some slack */
	ck_assert(tn_run_until(base, &st.fired, 3));
	ck_assert_ptr_nonnull(strstr(st.why, "not responding"));
	kill(c.pid, SIGCONT);
	free(st.why);
	aemp_free(n);
	event_base_free(base);
	child_stop(&c);
}
END_TEST

START_TEST(replayed_handshake_fails)
{
	struct child c;
	char g1[4096], g2[4096], line[4096], token[65], capture[8192];
	const char *my1 = "aemp;1;raw;hmac_md6_64_256;json;provider=test";
	int fd;

	child_start(&c, NULL);
	/* a genuine handshake, captured */
	fd = raw_connect(c.port);
	ck_assert_int_gt(raw_line(fd, g1, sizeof g1), 0);
	ck_assert_int_gt(raw_line(fd, g2, sizeof g2), 0);
	ae_auth_token(SECRET, my1, NONCE, g1, g2, token);
	snprintf(capture, sizeof capture, "%s\n%s\nhmac_md6_64_256;%s;json\n",
	    my1, NONCE, token);
	raw_send(fd, capture);
	ck_assert_int_gt(raw_line(fd, line, sizeof line), 0);
	ck_assert(test_wait_for_text(c.log, "connected as raw", 3));
	close(fd);
	ck_assert(test_wait_for_text(c.log, "raw is down", 3));
	/* the same bytes again: the node's fresh nonce makes them wrong */
	fd = raw_connect(c.port);
	raw_send(fd, capture);
	ck_assert(raw_closed(fd));
	close(fd);
	ck_assert(test_wait_for_text(c.log,
	    "authentication failure/shared secret mismatch", 3));
	child_stop(&c);
}
END_TEST

/* utime + stime of pid, in clock ticks */
static long
cpu_ticks(pid_t pid)
{
	char path[64], *text, *p;
	long utime = 0, stime = 0;
	int field;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	text = test_slurp(path);
	ck_assert_ptr_nonnull(text);
	p = strrchr(text, ')');	/* the command may hold spaces */
	for (field = 2; p != NULL && field < 14; field++)
		p = strchr(p + 1, ' ');
	ck_assert_ptr_nonnull(p);
	sscanf(p + 1, "%ld %ld", &utime, &stime);
	free(text);
	return utime + stime;
}

START_TEST(out_of_descriptors_does_not_spin)
{
	struct child c;
	int fds[40], i;
	long before;

	child_start(&c, "{\"nofile\": 24}");
	for (i = 0; i < 40; i++)
		fds[i] = raw_connect(c.port);
	ck_assert(test_wait_for_text(c.log, "not accepting for a second", 3));
	before = cpu_ticks(c.pid);
	sleep(1);
	/* a spinning listener would burn about a whole second */
	ck_assert_int_lt(cpu_ticks(c.pid) - before, sysconf(_SC_CLK_TCK) / 3);
	for (i = 0; i < 40; i++)
		close(fds[i]);
	child_stop(&c);
}
END_TEST

/* --- brute force and floods (issue 11, F7 and Also) ----------------------- */

/* raw_connect with a receive timeout long enough for a throttled greeting */
static int
raw_connect_patient(int port)
{
	struct timeval tv = { 10, 0 };
	int fd = raw_connect(port);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

/* One guess of the secret: greeting, wrong token, closed. 1 if it ran. */
static int
wrong_secret_try(int port)
{
	char g1[4096], g2[4096];
	int fd = raw_connect_patient(port), ok;

	raw_send(fd, "aemp;1;guesser;hmac_md6_64_256;json\n" NONCE "\n");
	ok = raw_line(fd, g1, sizeof g1) > 0 && raw_line(fd, g2, sizeof g2) > 0;
	if (ok) {
		raw_send(fd, "hmac_md6_64_256;000000000000000000000000000000000"
		    "0000000000000000000000000000000;json\n");
		ok = raw_closed(fd);
	}
	close(fd);
	return ok;
}

/* The sum of the counts in lines holding what, after "more" lines too. */
static long
logged_count(const char *log, const char *line_has, const char *summary_has)
{
	char *text = test_slurp(log), *p, *eol;
	long n = 0;

	for (p = text; p != NULL && *p != '\0'; p = eol + 1) {
		if ((eol = strchr(p, '\n')) == NULL)
			break;
		*eol = '\0';
		if (strstr(p, summary_has) != NULL &&
		    strstr(p, " more like this") != NULL)
			n += strtol(strrchr(strstr(p, summary_has), ':') + 2,
			    NULL, 10);
		else if (strstr(p, line_has) != NULL)
			n++;
	}
	free(text);
	return n;
}

/*
 * A wrong-secret guesser on 127.0.0.1, one try after another for 4 s:
 * its failures are logged at level 5 with a count, it is slowed down to
 * a few tries, and a legitimate peer from the same address still gets in
 * afterwards (within the 5 s cap) and then is not slowed down any more.
 */
START_TEST(brute_force_is_logged_and_throttled)
{
	struct child c;
	double t0, took;
	int tries = 0, fd;
	char *text;

	child_start(&c, NULL);
	t0 = test_now();
	while (test_now() - t0 < 4.0)
		if (wrong_secret_try(c.port))
			tries++;
	took = test_now() - t0;
	fprintf(stderr, "brute_force_is_logged_and_throttled: %d wrong-secret "
	    "tries in %.1f s (%.1f/s)\n", tries, took, tries / took);
	text = test_slurp(c.log);
	ck_assert_msg(strstr(text, "<5> 127.0.0.1:") != NULL &&
	    strstr(text, ": authentication failed: authentication "
	    "failure/shared secret mismatch") != NULL, "not logged: %.2000s",
	    text);
	free(text);
	ck_assert_msg(tries <= 30, "%d tries in 4 s: not throttled", tries);
	/* every failure is accounted for: logged lines plus counts */
	t0 = test_now();
	while (logged_count(c.log, ": authentication failed: ",
	    "127.0.0.1: authentication failed") < tries && test_now() - t0 < 15)
		usleep(100 * 1000);
	ck_assert_int_eq(logged_count(c.log, ": authentication failed: ",
	    "127.0.0.1: authentication failed"), tries);
	ck_assert(test_wait_for_text(c.log, "more like this", 1));
	/* in parallel it gets no further: AUTHFAIL_WAITING wait, the rest go */
	{
		struct timeval tv = { 2, 0 };	/* the delay is 5 s by now */
		int fds[5], closed = 0;
		for (fd = 0; fd < 5; fd++) {
			fds[fd] = raw_connect(c.port);
			setsockopt(fds[fd], SOL_SOCKET, SO_RCVTIMEO, &tv,
			    sizeof tv);
		}
		for (fd = 0; fd < 5; fd++) {
			closed += raw_closed(fds[fd]);
			close(fds[fd]);
		}
		ck_assert_int_eq(closed, 5 - AUTHFAIL_WAITING);
		/* the two waiting ones are dropped once they are greeted */
		sleep(6);
	}
	/* the legitimate peer: delayed, not refused */
	t0 = test_now();
	fd = raw_connect_patient(c.port);
	close(fd);
	{
		char g1[4096], g2[4096], line[4096], token[65], my1[256];
		snprintf(my1, sizeof my1, "aemp;1;legit;hmac_md6_64_256;json;"
		    "provider=test");
		fd = raw_connect_patient(c.port);
		raw_send(fd, my1);
		raw_send(fd, "\n" NONCE "\n");
		ck_assert_int_gt(raw_line(fd, g1, sizeof g1), 0);
		ck_assert_int_gt(raw_line(fd, g2, sizeof g2), 0);
		ae_auth_token(SECRET, my1, NONCE, g1, g2, token);
		snprintf(line, sizeof line, "hmac_md6_64_256;%s;json\n", token);
		raw_send(fd, line);
		ck_assert_int_gt(raw_line(fd, line, sizeof line), 0);
		ck_assert(strncmp(line, "hmac_md6_64_256;", 16) == 0);
		close(fd);
	}
	took = test_now() - t0;
	ck_assert_msg(took < 12, "legitimate peer took %.1f s", took);
	/* its success cleared the address: the next one is served at once */
	t0 = test_now();
	still_serving(&c);
	ck_assert_msg(test_now() - t0 < 3, "still slowed down: %.1f s",
	    test_now() - t0);
	child_stop(&c);
}
END_TEST

/*
 * 10,000 requests for a function that does not exist and 1,000 spawns of
 * one: a bounded number of log lines, and counts that add up to all.
 */
START_TEST(bad_request_flood_log_is_bounded)
{
	struct child c;
	char buf[128];
	int fd, i;
	double t0;
	long lines;

	child_start(&c, NULL);
	fd = raw_authenticated(c.port);
	for (i = 0; i < 10000; i++)
		raw_send(fd, "[\"\",\"No::such\",1]");
	for (i = 0; i < 1000; i++) {
		snprintf(buf, sizeof buf, "[\"\",\"AnyEvent::MP::_spawn\","
		    "\"s%d\",\"No::func\"]", i);
		raw_send(fd, buf);
	}
	raw_send(fd, "[\"\",\"info\",\"raw#r1\"]");
	ck_assert(raw_read_until(fd, "[\"r1\",\"victim\"]"));
	t0 = test_now();
	while ((logged_count(c.log, "is not a registered function",
	    "node port requests for unregistered functions") < 10000 ||
	    logged_count(c.log, "spawn: unable to resolve function",
	    "spawn: unknown functions") < 1000) && test_now() - t0 < 20)
		usleep(100 * 1000);
	ck_assert_int_eq(logged_count(c.log, "is not a registered function",
	    "node port requests for unregistered functions"), 10000);
	ck_assert_int_eq(logged_count(c.log, "spawn: unable to resolve function",
	    "spawn: unknown functions"), 1000);
	/* spawns of unknown functions make no port (no deaths to log) */
	ck_assert(!test_wait_for_text(c.log, "unmonitored ports died", 0.5));
	{
		char *text = test_slurp(c.log), *p;
		for (lines = 0, p = text; (p = strchr(p, '\n')) != NULL; p++)
			lines++;
		free(text);
	}
	/* 22,000 lines before */
	fprintf(stderr, "bad_request_flood_log_is_bounded: 11,000 bad requests, "
	    "%ld log lines in all\n", lines);
	ck_assert_msg(lines < 100, "%ld log lines", lines);
	close(fd);
	child_stop(&c);
}
END_TEST

/* A node ID with '#' could never be addressed: refused at the greeting. */
START_TEST(node_id_with_hash_refused)
{
	expect_rejected("aemp;1;evil#port;hmac_md6_64_256;json\n" NONCE "\n",
	    "refusing node ID 'evil#port' in its greeting: it contains '#'");
}
END_TEST

/*
 * Node IDs with control characters (C0, DEL, C1) or bytes that are no
 * UTF-8 are refused at the greeting, logged visibly (\\xNN); printable
 * UTF-8 (a Perl node's "käse/ß") is fine.
 */
START_TEST(node_id_unprintable_refused)
{
	expect_rejected("aemp;1;evil\x1b[31mred;hmac_md6_64_256;json\n"
	    NONCE "\n", "refusing node ID 'evil\\x1b[31mred' in its greeting: "
	    "it has control characters");
	expect_rejected("aemp;1;bad\xff\xfeid;hmac_md6_64_256;json\n"
	    NONCE "\n", "refusing node ID 'bad\\xff\\xfeid' in its greeting");
	expect_rejected("aemp;1;c1\xc2\x9bid;hmac_md6_64_256;json\n"
	    NONCE "\n", "refusing node ID 'c1\\xc2\\x9bid' in its greeting");
	expect_rejected("aemp;1;tab\tid;hmac_md6_64_256;json\n"
	    NONCE "\n", "refusing node ID 'tab\\x09id' in its greeting");
}
END_TEST

START_TEST(node_id_printable_utf8_accepted)
{
	struct child c;
	int fd;

	child_start(&c, NULL);
	fd = raw_authenticated_as(c.port, "k\xc3\xa4se/\xc3\x9f\xe2\x82\xac");
	raw_send(fd, "[\"\",\"info\",\"k\xc3\xa4se/\xc3\x9f\xe2\x82\xac#r1\"]");
	ck_assert(raw_read_until(fd, "\"r1\""));
	close(fd);
	child_stop(&c);
}
END_TEST

/* The table of failing addresses: bounded, exponential, cleared. */
START_TEST(authfail_table_is_bounded)
{
	struct event_base *base = event_base_new();
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct tn_log log = { NULL, 0 };
	aemp_node *n;
	int i;

	tn_isolate();
	n = tn_node(base, "table", NULL);
	ck_assert_ptr_nonnull(n);
	tn_log_capture(n, &log);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	for (i = 0; i < 1000; i++) {
		sin.sin_addr.s_addr = htonl(0x0a000000 + (uint32_t)i);
		ae_authfail_record(n, (struct sockaddr *)&sin, "x", "wrong");
	}
	ck_assert_uint_eq(n->nauthfail, AUTHFAIL_SLOTS);
	/* the newest are kept, and once failing is no delay yet */
	ck_assert(ae_authfail_delay(n, (struct sockaddr *)&sin) == 0);
	for (i = 0; i < 3; i++)
		ae_authfail_record(n, (struct sockaddr *)&sin, "x", "wrong");
	ck_assert(ae_authfail_delay(n, (struct sockaddr *)&sin) > 0.09);
	for (i = 0; i < 3; i++)
		ae_authfail_record(n, (struct sockaddr *)&sin, "x", "wrong");
	ck_assert(ae_authfail_delay(n, (struct sockaddr *)&sin) > 0.7);
	for (i = 0; i < 100; i++)
		ae_authfail_record(n, (struct sockaddr *)&sin, "x", "wrong");
	ck_assert(ae_authfail_delay(n, (struct sockaddr *)&sin) == 5.0);
	ck_assert_uint_eq(n->nauthfail, AUTHFAIL_SLOTS);
	ae_authfail_record(n, (struct sockaddr *)&sin, "x", NULL);
	ck_assert(ae_authfail_delay(n, (struct sockaddr *)&sin) == 0);
	ck_assert_uint_eq(n->nauthfail, AUTHFAIL_SLOTS - 1);
	/* one IPv6 /64 is one entry, whatever its lower half */
	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr.s6_addr[0] = 0x20;
	for (i = 0; i < 10; i++) {
		sin6.sin6_addr.s6_addr[15] = (uint8_t)i;
		ae_authfail_record(n, (struct sockaddr *)&sin6, "x", "wrong");
	}
	ck_assert_uint_eq(n->nauthfail, AUTHFAIL_SLOTS);
	ck_assert(ae_authfail_delay(n, (struct sockaddr *)&sin6) > 1.5);
	/* 1,116 failures, a few lines: the rest counted when it goes */
	aemp_free(n);
	ck_assert_msg(log.len < 64 * 1024, "%zu bytes of log", log.len);
	ck_assert(tn_log_has(&log, "more like this"));
	/*
	 * 1,000 addresses: the first 12 lines one by one, then the kind's
	 * count of all the rest (loglimit.c), so that many addresses cannot
	 * log a line each
	 */
	ck_assert_msg(tn_log_has(&log, "authentication failed: 1104 more like "
	    "this"), "%s", log.text);
	free(log.text);
	event_base_free(base);
}
END_TEST

/* handshakes.failed.REASON of n's stats. */
static json_int_t
hs_failed(aemp_node *n, const char *reason)
{
	json_t *s = aemp_stats(n);
	json_int_t v = json_integer_value(json_object_get(json_object_get(
	    json_object_get(s, "handshakes"), "failed"), reason));

	json_decref(s);
	return v;
}

/*
 * An accepted connection refused before its greeting (its address failed
 * to authenticate before and has AUTHFAIL_WAITING waiting) is the
 * accepting side's failure, "refused", not a failed TCP connect.
 */
START_TEST(refused_inbound_is_not_a_connect_failure)
{
	struct event_base *base = event_base_new();
	struct sockaddr_in sin;
	int fds[AUTHFAIL_WAITING + 1], i, port;
	aemp_node *n;
	double t0;

	tn_isolate();
	n = tn_node(base, "refuser", NULL);
	ck_assert_ptr_nonnull(n);
	port = atoi(strrchr(tn_addr(n), ':') + 1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 10; i++)
		ae_authfail_record(n, (struct sockaddr *)&sin, "x", "wrong");
	ck_assert(ae_authfail_delay(n, (struct sockaddr *)&sin) > 0);
	for (i = 0; i < AUTHFAIL_WAITING + 1; i++)
		fds[i] = raw_connect(port);
	t0 = test_now();
	while (hs_failed(n, "refused") + hs_failed(n, "connect") < 1 &&
	    test_now() - t0 < 10)
		tn_run_for(base, 0.05);
	ck_assert_int_eq(hs_failed(n, "connect"), 0);
	ck_assert_int_eq(hs_failed(n, "refused"), 1);
	for (i = 0; i < AUTHFAIL_WAITING + 1; i++)
		close(fds[i]);
	aemp_free(n);
	event_base_free(base);
}
END_TEST

/*
 * A subject longer than the limiter keeps (a peer's node ID can be any
 * length) still finds its slot: 200 lines about one long subject log
 * LOGLIM_BURST of them, and the count when the node goes.
 */
START_TEST(log_limit_long_subject)
{
	struct event_base *base = event_base_new();
	struct tn_log log = { NULL, 0 };
	char subject[201];
	aemp_node *n;
	size_t lines = 0;
	char *p;
	int i;

	tn_isolate();
	n = tn_node(base, "limited", NULL);
	ck_assert_ptr_nonnull(n);
	tn_log_capture(n, &log);
	memset(subject, 'x', sizeof subject - 1);
	subject[sizeof subject - 1] = '\0';
	for (i = 0; i < 200; i++)
		ae_node_log_limited(n, 2, "long subjects", subject,
		    "line %d about a long subject", i);
	for (p = log.text; p != NULL && (p = strstr(p, "about a long "
	    "subject")) != NULL; p++)
		lines++;
	ck_assert_msg(lines == LOGLIM_BURST, "%zu lines logged", lines);
	aemp_free(n);
	ck_assert(tn_log_has(&log, "long subjects: 197 more like this"));
	free(log.text);
	event_base_free(base);
}
END_TEST

/*
 * Many subjects of one kind (failed authentication from 1,000 IPv6 /64s,
 * which one host can have): the kind as a whole logs a bounded number of
 * lines, and the count of the rest.
 */
START_TEST(log_limit_many_subjects)
{
	struct event_base *base = event_base_new();
	struct tn_log log = { NULL, 0 };
	struct sockaddr_in6 sin6;
	aemp_node *n;
	size_t lines = 0;
	char *p;
	int i;

	tn_isolate();
	n = tn_node(base, "subjects", NULL);
	ck_assert_ptr_nonnull(n);
	tn_log_capture(n, &log);
	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr.s6_addr[0] = 0x20;
	for (i = 0; i < 1000; i++) {
		sin6.sin6_addr.s6_addr[6] = (uint8_t)(i >> 8);
		sin6.sin6_addr.s6_addr[7] = (uint8_t)i;
		ae_authfail_record(n, (struct sockaddr *)&sin6, "x", "wrong");
	}
	aemp_free(n);
	for (p = log.text; p != NULL && (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	ck_assert_msg(lines < 50, "%zu lines for 1,000 failures", lines);
	ck_assert_msg(tn_log_has(&log, "authentication failed: "),
	    "%s", log.text);
	ck_assert_msg(tn_log_has(&log, "more like this"), "%s", log.text);
	free(log.text);
	event_base_free(base);
}
END_TEST

/*
 * A flood of packets whose values cannot be kept (no UTF-8): each costs
 * its message only, and a bounded number of log lines, counts included.
 */
START_TEST(undecodable_flood_log_is_bounded)
{
	struct child c;
	char buf[256];
	int fd, i;
	long lines;

	child_start(&c, NULL);
	fd = raw_authenticated(c.port);
	for (i = 0; i < 2000; i++) {
		snprintf(buf, sizeof buf, "[\"p%d\\n\",\"\xff\"]", i);
		raw_send(fd, buf);
	}
	raw_send(fd, "[\"\",\"info\",\"raw#r1\"]");
	ck_assert(raw_read_until(fd, "[\"r1\",\"victim\"]"));
	{
		char *text = test_slurp(c.log), *p;
		for (lines = 0, p = text; (p = strchr(p, '\n')) != NULL; p++)
			lines++;
		ck_assert_ptr_null(strstr(text, "raw is down"));
		free(text);
	}
	ck_assert_msg(lines < 100, "%ld log lines", lines);
	close(fd);
	child_stop(&c);
}
END_TEST

static Suite *
transport_suite(void)
{
	Suite *s = suite_create("transport");
	TCase *hs = tcase_create("handshake"), *data = tcase_create("data");

	tcase_set_timeout(hs, 20);
	tcase_set_timeout(data, 20);
	{
		TCase *fl = tcase_create("floods");
		tcase_set_timeout(fl, 60);
		tcase_add_test(fl, brute_force_is_logged_and_throttled);
		tcase_add_test(fl, authfail_table_is_bounded);
		tcase_add_test(fl, refused_inbound_is_not_a_connect_failure);
		tcase_add_test(fl, bad_request_flood_log_is_bounded);
		tcase_add_test(fl, log_limit_long_subject);
		tcase_add_test(fl, log_limit_many_subjects);
		tcase_add_test(fl, undecodable_flood_log_is_bounded);
		suite_add_tcase(s, fl);
	}
	tcase_add_test(hs, garbage_greeting);
	tcase_add_test(hs, wrong_protocol_name);
	tcase_add_test(hs, version_two);
	tcase_add_test(hs, our_own_node_id);
	tcase_add_test(hs, no_common_auth);
	tcase_add_test(hs, no_common_framing);
	tcase_add_test(hs, greeting_line_too_long);
	tcase_add_test(hs, echoed_greeting);
	tcase_add_test(hs, wrong_token);
	tcase_add_test(hs, replayed_handshake_fails);
	tcase_add_test(hs, cleartext_accepted_when_configured);
	tcase_add_test(hs, cleartext_refused_when_not_accepted);
	tcase_add_test(hs, handshake_timeout);
	tcase_add_test(hs, no_secret_refuses_handshake);
	tcase_add_test(hs, node_id_with_hash_refused);
	tcase_add_test(hs, node_id_unprintable_refused);
	tcase_add_test(hs, node_id_printable_utf8_accepted);
	tcase_add_test(data, invalid_json);
	tcase_add_test(data, perl_values_keep_the_link);
	tcase_add_test(data, spawn_unknown_then_monitor_is_no_such_port);
	tcase_add_test(data, packet_not_array);
	tcase_add_test(data, first_element_not_string);
	tcase_add_test(data, packet_over_cap);
	tcase_add_test(data, packet_one_under_cap);
	tcase_add_test(data, packet_at_cap);
	tcase_add_test(data, packet_one_over_cap);
	tcase_add_test(data, unknown_ports_and_bad_requests_are_harmless);
	tcase_add_test(data, many_packets_in_one_write_and_split_packets);
	tcase_add_test(data, nul_bytes_in_strings);
	tcase_add_test(data, listener_less_node_sends_keepalive);
	tcase_add_test(data, listener_less_short_monitor_timeout_holds);
	tcase_add_test(data, trace_prints_packets);
	tcase_add_test(data, preauth_flood_does_not_lock_out);
	tcase_add_test(data, node_port_flood_keeps_others_served);
	tcase_add_test(data, hung_peer_is_dropped);
	tcase_add_test(data, stopped_peer_is_detected);
	tcase_add_test(data, out_of_descriptors_does_not_spin);
	suite_add_tcase(s, hs);
	suite_add_tcase(s, data);
	return s;
}

AEMP_TEST_MAIN(transport_suite)

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * check_tls.c: TLS between nodes (AEMP-TLS-EXT.md section 10): the token
 * vector, the cert key, C node against C node with a shared certificate
 * and with certificates from one CA, both TLS roles, messages, monitors
 * and a long ordered stream inside TLS, every refusal of 10.7 followed by
 * a peer that still gets in, and the stream layer's SIGPIPE behaviour.
 * Certificates are made at test time with the openssl command into a temp
 * directory; all sockets are on 127.0.0.1.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "testutil.h"
#include "nodeutil.h"
#include "md6.h"
#include "node.h"
#include "stream.h"
#include "tls13.h"
#include "bytes.h"

static struct event_base *base;
static char *certdir;

/* The PEM texts the fixture made (see make_certs). */
enum pem {
	SELF1, SELF2, CA_A, CA_B, CA_C, NOCHAIN_B, EKU_A, EKU_B, RSA_TRAD,
	CERT_ONLY, KEY_ONLY, WRONG_KEY, NPEM
};
static const char *pem_files[NPEM] = {
	"self1.pem", "self2.pem", "caA.pem", "caB.pem", "caC.pem",
	"nochainB.pem", "ekuA.pem", "ekuB.pem", "rsa.pem", "certonly.pem",
	"keyonly.pem", "wrongkey.pem"
};

static const char make_certs_sh[] =
    "set -e\n"
    "cd \"$1\"\n"
    "ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1'\n"
    "self() { openssl req -x509 -new -nodes $ec -keyout $1.key -out $1.crt "
    "  -subj /CN=AnyEvent::MP -days 30 -batch; cat $1.crt $1.key > $1.pem; }\n"
    "self self1; self self2\n"
    "openssl req -x509 -new -nodes $ec -keyout ca.key -out ca.crt "
    "  -subj '/CN=test aemp CA' -days 30 -batch\n"
    "printf 'basicConstraints=CA:FALSE\\n' > leaf.ext\n"
    "printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' "
    "  > eku.ext\n"
    "for n in A B C; do\n"
    "  openssl req -new -nodes $ec -keyout $n.key -out $n.csr -subj /CN=node$n "
    "    -batch\n"
    "  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
    "    -out $n.crt -days 30 -extfile leaf.ext\n"
    "  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
    "    -out eku$n.crt -days 30 -extfile eku.ext\n"
    "  cat $n.key $n.crt ca.crt > ca$n.pem\n"
    "  cat $n.key $n.crt > nochain$n.pem\n"
    "  cat $n.key eku$n.crt ca.crt > eku$n.pem\n"
    "done\n"
    "openssl req -x509 -new -nodes -newkey rsa:2048 -keyout r.key -out r.crt "
    "  -subj /CN=AnyEvent::MP -days 30 -batch\n"
    "openssl rsa -in r.key -traditional -out r.rsa 2>/dev/null\n"
    "grep -q 'BEGIN RSA PRIVATE KEY' r.rsa\n"
    "cat r.crt r.rsa > rsa.pem\n"
    "cp self1.crt certonly.pem; cp self1.key keyonly.pem\n"
    "cat self1.crt self2.key > wrongkey.pem\n";

static char *pems[NPEM];

static void
make_certs(void)
{
	char *argv[] = { "/bin/sh", "-c", (char *)make_certs_sh, "sh", NULL,
	    NULL };
	char *err = NULL, path[512];
	int i, st;

	certdir = test_tmpdir();
	argv[4] = certdir;
	st = test_run(argv, NULL, NULL, NULL, &err, 60);
	if (st != 0) {
		fprintf(stderr, "making certificates failed (%d): %s\n", st,
		    err ? err : "");
		abort();
	}
	free(err);
	for (i = 0; i < NPEM; i++) {
		snprintf(path, sizeof path, "%s/%s", certdir, pem_files[i]);
		if ((pems[i] = test_slurp(path)) == NULL)
			abort();
	}
}

static void
drop_certs(void)
{
	int i;

	for (i = 0; i < NPEM; i++) {
		free(pems[i]);
		pems[i] = NULL;
	}
	test_rmtree(certdir);	/* the private keys go with it */
	free(certdir);
	certdir = NULL;
}

static void
setup(void)
{
	tn_isolate();
	setenv("AEMP_WARNLEVEL", "9", 1);
	base = event_base_new();
}

static void
teardown(void)
{
	event_base_free(base);
}

struct box {
	int	 got;
	int	 count;
	json_t	*msg;
	json_t	*reason;
	long	 next;		/* ordered stream: the next number expected */
	int	 disorder;
};

static void
box_clear(struct box *b)
{
	json_decref(b->msg);
	json_decref(b->reason);
	memset(b, 0, sizeof *b);
}

static int
keep_msg(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct box *b = ud;

	(void)n; (void)self;
	json_decref(b->msg);
	b->msg = json_incref(msg);
	b->got = 1;
	b->count++;
	return 0;
}

static void
keep_reason(aemp_node *n, const char *port, json_t *reason, void *ud)
{
	struct box *b = ud;

	(void)n; (void)port;
	json_decref(b->reason);
	b->reason = json_incref(reason);
	b->got = 1;
	b->count++;
}

static void
keep_reply(aemp_node *n, json_t *reply, void *ud)
{
	struct box *b = ud;

	(void)n;
	json_decref(b->msg);
	b->msg = json_incref(reply);
	b->got = 1;
}

static void
note_up(aemp_node *n, const char *id, int up, json_t *reason, void *ud)
{
	struct box *b = ud;

	(void)n; (void)id; (void)reason;
	if (up) {
		b->got = 1;
		b->count++;
	}
}

/* A node with extra config (JSON text, may be NULL) and PEM p (or -1). */
static aemp_node *
node_with(const char *id, int p, const char *extra_json, aemp_node *seed,
    struct tn_log *log)
{
	json_t *extra = extra_json ? json_loads(extra_json, 0, NULL) :
	    json_object();
	aemp_node *n;

	ck_assert_ptr_nonnull(extra);
	if (p >= 0)
		json_object_set_new(extra, "cert", json_string(pems[p]));
	if (seed != NULL)
		json_object_set_new(extra, "seeds", json_pack("[s]",
		    tn_addr(seed)));
	n = tn_node(base, id, extra);
	ck_assert_ptr_nonnull(n);
	if (log != NULL)
		tn_log_capture(n, log);
	return n;
}

/* b, seeded with a, comes up on both sides within the bound. */
static void
comes_up(aemp_node *a, aemp_node *b)
{
	struct box up = { 0 };
	aemp_watch *w = aemp_mon_nodes(b, note_up, &up);

	ck_assert_msg(tn_run_until(base, &up.got, 10), "%s never came up",
	    aemp_nodeid(a));
	tn_run_for(base, 0.1);	/* a verifies b's auth line last */
	ck_assert(aemp_node_is_up(a, aemp_nodeid(b)));
	aemp_watch_cancel(b, w);
	box_clear(&up);
}

/* b, seeded with a, does not come up within seconds. */
static void
stays_apart(aemp_node *a, aemp_node *b, double seconds)
{
	struct box up = { 0 };
	aemp_watch *w = aemp_mon_nodes(b, note_up, &up);

	tn_run_until(base, &up.got, seconds);
	ck_assert_int_eq(up.got, 0);
	ck_assert(!aemp_node_is_up(a, aemp_nodeid(b)));
	aemp_watch_cancel(b, w);
	box_clear(&up);
}

/* Polls the loop until log has needle. */
static int
log_gets(struct tn_log *log, const char *needle, double seconds)
{
	double step = 0.05;

	for (; seconds > 0; seconds -= step) {
		if (tn_log_has(log, needle))
			return 1;
		tn_run_for(base, step);
	}
	return tn_log_has(log, needle);
}

static void
log_free(struct tn_log *log)
{
	free(log->text);
	memset(log, 0, sizeof *log);
}

/* --- tokens and the cert key ---------------------------------------------- */

/* transcripts/tls-md6.log: nodeA's and nodeB's lines and tokens (10.4). */
START_TEST(token_vector_of_the_capture)
{
	const char *b1 = "aemp;1;nodeB;tls_md6_64_256,hmac_md6_64_256,"
	    "tls_anon,cleartext;json,storable;tls=1.0;peeraddr=127.0.0.1:26670;"
	    "provider=AE-1.30";
	const char *b2 = "c8AYdKn6SizL30c2Ozdf08H1r2HLRuPBQAZ1sxxWAMFiEAppMzgbM"
	    "x+L3hkzQtEGtR6OuZHofPOD6uP5UaJMTz+2";
	const char *a1 = "aemp;1;nodeA;tls_md6_64_256,hmac_md6_64_256,"
	    "tls_anon,cleartext;json,storable;provider=AE-1.30;tls=1.0;"
	    "peeraddr=127.0.0.1:45694";
	const char *a2 = "8m1DnYDwSaIOoTRa++nEMOBZcED0034ngwEMoFSPzQg97QUuaEeS8"
	    "WVAaXOCm+U2fHaTwS/b/Tr5lbD+Jo2d2UYP";
	char tok[65];

	ae_tls_token(a1, a2, b1, b2, tok);
	ck_assert_str_eq(tok, "122dccf0eeffa904360d46f96a3c8f3c7f398418f82edad"
	    "3e19ca11fb7927c86");
	ae_tls_token(b1, b2, a1, a2, tok);
	ck_assert_str_eq(tok, "4aece7704072d3e5ed1921032027014bbc413684489a86c"
	    "3a450d037713c5c37");
	/* nodeA's nonce line is the smaller: it was the TLS client */
	ck_assert_int_lt(strcmp(a2, b2), 0);
}
END_TEST

static char *
configure_error(const char *pem)
{
	json_t *cfg = json_pack("{ss ss s[] ss ss}", "profile", "x", "nodeid",
	    "x", "binds", "secret", "s", "cert", pem);
	char *err = NULL;
	aemp_node *n = aemp_configure(base, cfg, &err);

	if (n != NULL)
		aemp_free(n);
	return err;
}

/* Key blocks in both formats, blocks in any order; clear errors. */
/* --- tls13.c: the records of the data phase ------------------------------- */

static void
dir_pair(struct tls13_dir *tx, struct tls13_dir *rx, int rx_small)
{
	unsigned char secret[48];
	int i;

	for (i = 0; i < 48; i++)
		secret[i] = (unsigned char)(i * 7 + 1);
	ck_assert_int_eq(ae_tls13_dir_init(tx, EVP_aes_256_gcm(),
	    EVP_sha384(), secret, sizeof secret, 1), 0);
	ck_assert_int_eq(ae_tls13_dir_init(rx, EVP_aes_256_gcm(),
	    EVP_sha384(), secret, sizeof secret, 0), 0);
	rx->has_small &= rx_small;
}

/* Seals one record, opens it, and says what came out (-1: did not). */
static ssize_t
round_trip(struct tls13_dir *tx, struct tls13_dir *rx, const char *p,
    size_t n, unsigned char *out, int *type)
{
	struct bytes b = { 0 };
	ssize_t len, got;

	ck_assert_int_eq(ae_tls13_seal(tx, &b, TLS13_APPDATA, p, n), 0);
	len = ae_tls13_record_len((unsigned char *)bytes_ptr(&b), b.len);
	ck_assert_int_eq(len, (ssize_t)b.len);
	ck_assert_int_eq(len, (ssize_t)(n + TLS13_HEADER + 1 + TLS13_TAG));
	got = ae_tls13_open(rx, (unsigned char *)bytes_ptr(&b), b.len, out,
	    type);
	ae_bytes_free(&b);
	return got;
}

/*
 * Small records (libsodium) and large ones (EVP) open with either
 * implementation, in order; every changed byte, a replay, a record
 * under the wrong key, all-zero content and a header beyond 2^14 + 256
 * are refused; padding is no content.
 */
START_TEST(records_seal_open_and_refuse)
{
	static unsigned char out[TLS13_MAX_BODY];
	static char big[TLS13_MAX_PLAIN + 1];
	struct tls13_dir tx, rx;
	struct bytes b = { 0 };
	unsigned char hdr[5] = { 23, 3, 3, 0x40, 0x11 }, *rec;
	size_t sizes[] = { 0, 1, 40, 511, 512, 513, 4000, TLS13_MAX_PLAIN };
	size_t i, k;
	int type, small;

	memset(big, 'x', sizeof big);
	for (small = 0; small <= 1; small++) {
		dir_pair(&tx, &rx, small);
		ck_assert(tx.has_small);	/* AES-NI on this machine */
		for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			big[0] = (char)('a' + i);
			ck_assert_int_eq(round_trip(&tx, &rx, big, sizes[i],
			    out, &type), (ssize_t)sizes[i]);
			ck_assert_int_eq(type, TLS13_APPDATA);
			ck_assert(memcmp(out, big, sizes[i]) == 0);
		}
		ck_assert_int_eq(ae_tls13_seal(&tx, &b, TLS13_APPDATA, big,
		    TLS13_MAX_PLAIN + 1), -1);
		ae_tls13_dir_clear(&tx);
		ae_tls13_dir_clear(&rx);
	}
	/* every byte of a small record, header included, is authenticated */
	dir_pair(&tx, &rx, 1);
	ck_assert_int_eq(ae_tls13_seal(&tx, &b, TLS13_APPDATA, "ping", 4), 0);
	rec = (unsigned char *)bytes_ptr(&b);
	for (k = 0; k < b.len; k++) {
		rec[k] ^= 0x20;
		rx.seq = 0;
		ck_assert_int_lt(ae_tls13_open(&rx, rec, b.len, out, &type), 0);
		rec[k] ^= 0x20;
	}
	rx.seq = 0;
	ck_assert_int_eq(ae_tls13_open(&rx, rec, b.len, out, &type), 4);
	/* the same record again is under the next nonce: refused */
	ck_assert_int_lt(ae_tls13_open(&rx, rec, b.len, out, &type), 0);
	ae_bytes_free(&b);
	/* padding is not content; a record of zeros has no type */
	ck_assert_int_eq(ae_tls13_seal(&tx, &b, TLS13_APPDATA, "ab\0\0", 4),
	    0);
	rx.seq = tx.seq - 1;
	ck_assert_int_eq(ae_tls13_open(&rx, (unsigned char *)bytes_ptr(&b),
	    b.len, out, &type), 4);
	ae_bytes_free(&b);
	ck_assert_int_eq(ae_tls13_seal(&tx, &b, 0, "\0\0", 2), 0);
	rx.seq = tx.seq - 1;
	ck_assert_int_lt(ae_tls13_open(&rx, (unsigned char *)bytes_ptr(&b),
	    b.len, out, &type), 0);
	ae_bytes_free(&b);
	/* after a KeyUpdate on one side only, nothing opens */
	ck_assert_int_eq(ae_tls13_dir_next(&tx), 0);
	rx.seq = 0;
	ck_assert_int_lt(round_trip(&tx, &rx, "ping", 4, out, &type), 0);
	ck_assert_int_eq(ae_tls13_dir_next(&rx), 0);
	rx.seq = 0;
	tx.seq = 0;
	ck_assert_int_eq(round_trip(&tx, &rx, "ping", 4, out, &type), 4);
	ae_tls13_dir_clear(&tx);
	ae_tls13_dir_clear(&rx);
	/* a body of 2^14 + 1 + 16 is the most; not application_data: no */
	ck_assert_int_eq(ae_tls13_record_len(hdr, 4), 0);
	ck_assert_int_eq(ae_tls13_record_len(hdr, 5), 0);	/* 16,401 */
	hdr[4] = 0x12;
	ck_assert_int_eq(ae_tls13_record_len(hdr, 5), -1);
	hdr[3] = 0;
	hdr[4] = 16;
	ck_assert_int_eq(ae_tls13_record_len(hdr, 5), -1);	/* no type */
	hdr[4] = 17;
	ck_assert_int_eq(ae_tls13_record_len(hdr, 5), 0);
	hdr[0] = 22;
	hdr[4] = 40;
	ck_assert_int_eq(ae_tls13_record_len(hdr, 5), -1);
}
END_TEST

/* The post-handshake messages a peer may send, and what is refused. */
START_TEST(post_handshake_messages)
{
	static const unsigned char ticket_and_update[] = {
		4, 0, 0, 3, 'a', 'b', 'c', 24, 0, 0, 1, 1 };
	static const unsigned char update_not_last[] = {
		24, 0, 0, 1, 0, 4, 0, 0, 0 };
	static const unsigned char split[] = { 4, 0, 0, 9, 'a' };
	static const unsigned char finished[] = { 20, 0, 0, 1, 0 };
	static const unsigned char bad_update[] = { 24, 0, 0, 1, 2 };
	const char *why;

	ck_assert_int_eq(ae_tls13_post_handshake(ticket_and_update, 7, 1,
	    &why), 0);
	/* a server gets no ticket */
	ck_assert_int_eq(ae_tls13_post_handshake(ticket_and_update, 7, 0,
	    &why), -1);
	ck_assert_int_eq(ae_tls13_post_handshake(ticket_and_update,
	    sizeof ticket_and_update, 1, &why), 2);
	ck_assert_int_eq(ae_tls13_post_handshake(ticket_and_update + 7, 5, 0,
	    &why), 2);
	ck_assert_int_eq(ae_tls13_post_handshake(update_not_last,
	    sizeof update_not_last, 1, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(ae_tls13_post_handshake(split, sizeof split, 1,
	    &why), -1);
	ck_assert_int_eq(ae_tls13_post_handshake(finished, sizeof finished, 1,
	    &why), -1);
	ck_assert_int_eq(ae_tls13_post_handshake(bad_update,
	    sizeof bad_update, 1, &why), -1);
	ck_assert_int_eq(ae_tls13_post_handshake(split, 0, 1, &why), -1);
}
END_TEST

START_TEST(cert_key_is_checked_at_configure)
{
	char *err;

	ck_assert_ptr_null(configure_error(pems[SELF1]));	/* cert, key */
	ck_assert_ptr_null(configure_error(pems[CA_A]));	/* key first */
	ck_assert_ptr_null(configure_error(pems[RSA_TRAD]));
	err = configure_error(pems[CERT_ONLY]);
	ck_assert_ptr_nonnull(strstr(err, "no private key"));
	free(err);
	err = configure_error(pems[KEY_ONLY]);
	ck_assert_ptr_nonnull(strstr(err, "no certificate"));
	free(err);
	err = configure_error(pems[WRONG_KEY]);
	ck_assert_ptr_nonnull(strstr(err, "does not belong"));
	free(err);
	err = configure_error("garbage");
	ck_assert_ptr_nonnull(strstr(err, "no certificate"));
	free(err);
}
END_TEST

/* --- C node against C node ------------------------------------------------ */

START_TEST(shared_cert_messages_monitors_kill)
{
	struct tn_log la = { 0 }, lb = { 0 };
	aemp_node *a = node_with("alpha", SELF1, NULL, NULL, &la);
	aemp_node *b = node_with("beta", SELF1, NULL, a, &lb);
	struct box msg = { 0 }, m1 = { 0 }, m2 = { 0 }, rep = { 0 };
	const char *pa, *pa2;

	comes_up(a, b);
	ck_assert(tn_log_has(&la, "TLS "));
	ck_assert(tn_log_has(&lb, "TLS "));
	ck_assert(tn_log_has(&la, "TLSv1.3"));
	{
		/* the statistics say the connection is encrypted */
		json_t *st = aemp_stats(b), *conn;
		size_t i;
		int seen = 0;
		json_array_foreach(json_object_get(st, "connections"), i, conn)
			if (strcmp(json_string_value(json_object_get(conn,
			    "node")), "alpha") == 0) {
				ck_assert(json_is_true(json_object_get(conn,
				    "tls")));
				seen = 1;
			}
		ck_assert(seen);
		json_decref(st);
	}
	pa = aemp_port(a, keep_msg, &msg);
	aemp_sndf(b, pa, "sis", "test", 42, "inside TLS");
	ck_assert(tn_run_until(base, &msg.got, 5));
	ck_assert_int_eq(json_integer_value(json_array_get(msg.msg, 1)), 42);
	aemp_cal(b, "alpha", json_pack("[s]", "info"), keep_reply, &rep, 5);
	ck_assert(tn_run_until(base, &rep.got, 5));
	ck_assert_str_eq(json_string_value(json_array_get(rep.msg, 0)), "alpha");
	pa2 = aemp_port(a, NULL, NULL);
	aemp_mon_cb(b, pa, keep_reason, &m1);
	aemp_mon_cb(b, pa2, keep_reason, &m2);
	tn_run_for(base, 0.2);
	aemp_kil(a, pa, json_pack("[ss]", "done", "enough"));
	ck_assert(tn_run_until(base, &m1.got, 5));
	ck_assert_str_eq(json_string_value(json_array_get(m1.reason, 1)),
	    "enough");
	aemp_kil(b, pa2, json_pack("[s]", "remote"));
	ck_assert(tn_run_until(base, &m2.got, 5));
	ck_assert_str_eq(json_string_value(json_array_get(m2.reason, 0)),
	    "remote");
	box_clear(&msg);
	box_clear(&m1);
	box_clear(&m2);
	box_clear(&rep);
	aemp_free(b);
	aemp_free(a);
	log_free(&la);
	log_free(&lb);
}
END_TEST

/*
 * The nonce lines pick the roles (10.4): over repeated connections the
 * TCP connector is TLS client and TLS server, each with messages flowing.
 */
START_TEST(both_tls_roles_as_connector)
{
	struct tn_log la = { 0 };
	aemp_node *a = node_with("alpha", SELF1, NULL, NULL, &la);
	int client = 0, server = 0, i;

	for (i = 0; i < 40 && !(client && server); i++) {
		struct tn_log lb = { 0 };
		aemp_node *b = node_with("beta", SELF1, NULL, a, &lb);
		struct box msg = { 0 };
		const char *pa = aemp_port(a, keep_msg, &msg);

		comes_up(a, b);
		aemp_sndf(b, pa, "i", i);
		ck_assert(tn_run_until(base, &msg.got, 5));
		client |= tn_log_has(&lb, "TLS client,");
		server |= tn_log_has(&lb, "TLS server,");
		ck_assert(tn_log_has(&lb, "TLS client,") !=
		    tn_log_has(&lb, "TLS server,"));
		aemp_free(b);
		aemp_kil(a, pa, NULL);
		tn_run_for(base, 0.05);
		box_clear(&msg);
		log_free(&lb);
	}
	ck_assert(client && server);
	aemp_free(a);
	log_free(&la);
}
END_TEST

/*
 * A node whose records tls13.c protects and one that keeps OpenSSL's
 * record layer understand each other in each suite tls13.c takes, in
 * both TLS roles: small records (libsodium's AES-256-GCM where that is
 * the suite) and large ones (OpenSSL's EVP), both ways.
 */
START_TEST(own_records_meet_openssl_records)
{
	static const char *suites[] = { "TLS_AES_256_GCM_SHA384",
	    "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256" };
	char *big = malloc(100001);
	size_t s;
	int i, k;

	ck_assert_ptr_nonnull(big);
	memset(big, 'z', 100000);
	big[100000] = '\0';
	for (s = 0; s < sizeof suites / sizeof suites[0]; s++) {
		struct tn_log la = { 0 };
		aemp_node *a = node_with("alpha", SELF1, NULL, NULL, &la);
		int client = 0, server = 0;

		ck_assert_int_eq(SSL_CTX_set_ciphersuites(a->tls_ctx,
		    suites[s]), 1);
		for (i = 0; i < 40 && !(client && server); i++) {
			struct tn_log lb = { 0 };
			aemp_node *b = node_with("beta", SELF1, NULL, a, &lb);
			struct box ma = { 0 }, mb = { 0 };
			const char *pa = aemp_port(a, keep_msg, &ma);
			const char *pb = aemp_port(b, keep_msg, &mb);

			ae_tls_ctx_openssl_records(b->tls_ctx);
			ck_assert_int_eq(SSL_CTX_set_ciphersuites(b->tls_ctx,
			    suites[s]), 1);
			comes_up(a, b);
			ck_assert(tn_log_has(&lb, suites[s]));
			ck_assert(tn_log_has(&lb, "records by OpenSSL"));
			aemp_sndf(b, pa, "s", "small");
			aemp_sndf(b, pa, "s", big);
			aemp_sndf(a, pb, "s", "small");
			aemp_sndf(a, pb, "s", big);
			for (k = 0; k < 250 && (ma.count < 2 || mb.count < 2);
			    k++)
				tn_run_for(base, 0.02);
			ck_assert_int_eq(ma.count, 2);
			ck_assert_int_eq(mb.count, 2);
			ck_assert_str_eq(json_string_value(json_array_get(
			    ma.msg, 0)), big);
			ck_assert_str_eq(json_string_value(json_array_get(
			    mb.msg, 0)), big);
			client |= tn_log_has(&lb, "TLS client,");
			server |= tn_log_has(&lb, "TLS server,");
			aemp_free(b);
			aemp_kil(a, pa, NULL);
			tn_run_for(base, 0.05);
			box_clear(&ma);
			box_clear(&mb);
			log_free(&lb);
		}
		ck_assert(client && server);
		ck_assert(tn_log_has(&la, "records by aemp"));
		ck_assert(!tn_log_has(&la, "records by OpenSSL"));
		aemp_free(a);
		log_free(&la);
	}
	free(big);
}
END_TEST

/* Per-node certificates from one CA: key, own cert, CA cert (10.1). */
START_TEST(ca_issued_certificates)
{
	struct tn_log la = { 0 }, lb = { 0 };
	aemp_node *a = node_with("alpha", CA_A, "{\"secret\":null}", NULL, &la);
	aemp_node *b = node_with("beta", CA_B, "{\"secret\":null}", a, &lb);
	struct box msg = { 0 };
	const char *pa;

	comes_up(a, b);
	ck_assert(tn_log_has(&la, "TLS "));
	pa = aemp_port(a, keep_msg, &msg);
	aemp_sndf(b, pa, "s", "ca");
	ck_assert(tn_run_until(base, &msg.got, 5));
	box_clear(&msg);
	aemp_free(b);
	aemp_free(a);
	log_free(&la);
	log_free(&lb);
}
END_TEST

#define STREAM_COUNT	100000

static int
ordered(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct box *b = ud;

	(void)n; (void)self;
	if (json_integer_value(json_array_get(msg, 0)) != b->next)
		b->disorder++;
	b->next++;
	if (b->next == STREAM_COUNT)
		b->got = 1;
	return 0;
}

/* 100,000 messages arrive complete and in order through TLS. */
START_TEST(ordered_stream_inside_tls)
{
	aemp_node *a = node_with("alpha", SELF1, NULL, NULL, NULL);
	aemp_node *b = node_with("beta", SELF1, NULL, a, NULL);
	struct box box = { 0 };
	const char *pa = aemp_port(a, ordered, &box);
	long i;

	comes_up(a, b);
	for (i = 0; i < STREAM_COUNT; i++) {
		aemp_sndf(b, pa, "is", (int)i, "some payload to encrypt");
		if (i % 1000 == 999)
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	ck_assert(tn_run_until(base, &box.got, 60));
	ck_assert_int_eq(box.next, STREAM_COUNT);
	ck_assert_int_eq(box.disorder, 0);
	box_clear(&box);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/*
 * An OpenSSL error that something else in the program left in this
 * thread's queue is no failure of a TLS connection: not in the
 * handshake, not in the data phase (the stream reads "would block" and
 * close_notify from the SSL object, not from the error queue).
 */
START_TEST(stale_openssl_error_is_no_tls_failure)
{
	aemp_node *a = node_with("alpha", SELF1, NULL, NULL, NULL);
	aemp_node *b = node_with("beta", SELF1, NULL, a, NULL);
	struct box box = { 0 };
	const char *pa = aemp_port(a, keep_msg, &box);
	char *big;
	int i;

	ERR_raise(ERR_LIB_USER, 1);
	comes_up(a, b);
	/* 200 KB messages: records split across reads, "would block" inside */
	big = malloc(200000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 199999);
	big[199999] = '\0';
	for (i = 0; i < 20; i++) {
		ERR_raise(ERR_LIB_USER, 2);
		aemp_sndf(b, pa, "is", i, i % 2 ? big : "small");
		ck_assert(tn_run_until(base, &box.got, 10));
		ck_assert_int_eq(json_integer_value(json_array_get(box.msg, 0)),
		    i);
		box.got = 0;
	}
	free(big);
	ck_assert(aemp_node_is_up(a, "beta"));
	ck_assert(aemp_node_is_up(b, "alpha"));
	ERR_clear_error();
	box_clear(&box);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/* Three nodes through one seed: the global service meshes them and a
   group registered on one is found on another, all inside TLS. */
START_TEST(global_mesh_inside_tls)
{
	aemp_node *s = node_with("seed", CA_A, NULL, NULL, NULL);
	aemp_node *x = node_with("xray", CA_B, NULL, s, NULL);
	aemp_node *y = node_with("yankee", CA_C, NULL, s, NULL);
	const char *px = aemp_port(x, NULL, NULL);
	json_t *members = NULL;
	int i;

	aemp_grp_reg(x, "tls_group", px);
	for (i = 0; i < 500; i++) {
		tn_run_for(base, 0.02);
		json_decref(members);
		members = aemp_grp_get(y, "tls_group");
		if (aemp_node_is_up(x, "yankee") && aemp_node_is_up(y, "xray") &&
		    json_array_size(members) == 1)
			break;
	}
	ck_assert(aemp_node_is_up(x, "yankee"));
	ck_assert(aemp_node_is_up(y, "xray"));
	ck_assert_int_eq(json_array_size(members), 1);
	ck_assert_str_eq(json_string_value(json_array_get(members, 0)), px);
	json_decref(members);
	aemp_free(y);
	aemp_free(x);
	aemp_free(s);
}
END_TEST

/* --- refusals (10.7), each followed by a peer that gets in ----------------- */

/* A legitimate peer with PEM p still gets into a. */
static void
still_admits(aemp_node *a, int p, const char *extra)
{
	aemp_node *c = node_with("gamma", p, extra, a, NULL);

	comes_up(a, c);
	aemp_free(c);
	tn_run_for(base, 0.05);
}

START_TEST(different_self_signed_certs_refused)
{
	struct tn_log la = { 0 }, lb = { 0 };
	aemp_node *a = node_with("alpha", SELF1, NULL, NULL, &la);
	aemp_node *b = node_with("beta", SELF2, NULL, a, &lb);

	stays_apart(a, b, 2);
	/* the TLS client rejects the server's certificate */
	ck_assert(tn_log_has(&la, "certificate verify failed") ||
	    tn_log_has(&lb, "certificate verify failed"));
	ck_assert(!tn_log_has(&la, "connected as"));
	aemp_free(b);
	still_admits(a, SELF1, NULL);
	aemp_free(a);
	log_free(&la);
	log_free(&lb);
}
END_TEST

START_TEST(pem_without_ca_refused)
{
	struct tn_log la = { 0 }, lb = { 0 };
	aemp_node *a = node_with("alpha", CA_A, NULL, NULL, &la);
	aemp_node *b = node_with("beta", NOCHAIN_B, NULL, a, &lb);

	stays_apart(a, b, 2);
	/* the side lacking the CA, in either role */
	ck_assert(log_gets(&lb, "certificate verify failed", 3));
	aemp_free(b);
	still_admits(a, CA_C, NULL);
	aemp_free(a);
	log_free(&la);
	log_free(&lb);
}
END_TEST

START_TEST(server_auth_only_cert_refused_as_client)
{
	struct tn_log la = { 0 }, lb = { 0 };
	aemp_node *a = node_with("alpha", EKU_A, NULL, NULL, &la);
	aemp_node *b = node_with("beta", EKU_B, NULL, a, &lb);

	stays_apart(a, b, 2);
	/* the TLS server rejects the client's certificate */
	ck_assert(tn_log_has(&la, "certificate verify failed") ||
	    tn_log_has(&lb, "certificate verify failed"));
	aemp_free(b);
	aemp_free(a);
	/* a node with a usable CA-issued cert still gets into one with one */
	a = node_with("alpha", CA_A, NULL, NULL, NULL);
	still_admits(a, CA_C, NULL);
	aemp_free(a);
	log_free(&la);
	log_free(&lb);
}
END_TEST

/* Cert on one side only: hmac over plain TCP (tls-mismatch-fallback). */
START_TEST(cert_on_one_side_falls_back_to_hmac)
{
	struct tn_log la = { 0 }, lb = { 0 };
	aemp_node *a = node_with("alpha", SELF1, NULL, NULL, &la);
	aemp_node *b = node_with("beta", -1, NULL, a, &lb);

	comes_up(a, b);
	ck_assert(!tn_log_has(&la, "TLS "));
	ck_assert(!tn_log_has(&lb, "TLS "));
	aemp_free(b);
	aemp_free(a);
	log_free(&la);
	log_free(&lb);
}
END_TEST

/* Only tls_* methods accepted: a node without cert is refused at both
   ends (tls-mismatch-required), one with the cert gets in. */
START_TEST(required_tls_refuses_peer_without_cert)
{
	struct tn_log la = { 0 }, lb = { 0 };
	aemp_node *a = node_with("alpha", SELF1, "{\"auth_accept\":"
	    "[\"tls_md6_64_256\",\"tls_anon\"]}", NULL, &la);
	aemp_node *b = node_with("beta", -1, NULL, a, &lb);

	stays_apart(a, b, 2);
	ck_assert(log_gets(&lb, "tls_md6_64_256,tls_anon: no common auth type "
	    "supported", 3));
	aemp_free(b);
	still_admits(a, SELF1, NULL);
	aemp_free(a);
	log_free(&la);
	log_free(&lb);
}
END_TEST

/* tls-mismatch-nosecret, then tls-nosecret: a cert without a secret. */
START_TEST(cert_without_secret)
{
	struct tn_log la = { 0 }, lb = { 0 };
	aemp_node *a = node_with("alpha", SELF1, "{\"secret\":null}", NULL,
	    &la);
	aemp_node *b = node_with("beta", -1, NULL, a, &lb);

	stays_apart(a, b, 2);
	ck_assert(log_gets(&la, "unable to handshake TLS and no shared secret "
	    "configured", 3));
	aemp_free(b);
	still_admits(a, SELF1, "{\"secret\":null}");
	aemp_free(a);
	log_free(&la);
	log_free(&lb);
}
END_TEST

/* tls-secretdiff: under TLS the secret is not used. */
START_TEST(different_secrets_under_tls)
{
	aemp_node *a = node_with("alpha", SELF1, "{\"secret\":\"S\"}", NULL,
	    NULL);
	aemp_node *b = node_with("beta", SELF1, "{\"secret\":\"T\"}", a, NULL);

	comes_up(a, b);
	aemp_free(b);
	aemp_free(a);
}
END_TEST

/* tls-anon; and hmac listed first (tls-mismatch-hmacfirst) connects,
   since a C node picks a tls_* method under TLS (10.6). */
START_TEST(tls_anon_and_hmac_first)
{
	struct tn_log la = { 0 };
	aemp_node *a = node_with("alpha", SELF1, "{\"auth_accept\":"
	    "[\"hmac_md6_64_256\",\"tls_md6_64_256\",\"tls_anon\"]}", NULL,
	    &la);
	aemp_node *b = node_with("beta", SELF1, "{\"auth_offer\":"
	    "[\"tls_anon\"]}", a, NULL);

	comes_up(a, b);
	aemp_free(b);
	b = node_with("beta", SELF1, NULL, a, NULL);
	comes_up(a, b);
	aemp_free(b);
	aemp_free(a);
	log_free(&la);
}
END_TEST

/* --- a foreign peer (tests/tls_peer.py) and hostile input ---------------- */

struct foreign {
	pid_t	 pid;
	char	 out[512];
	int	 status;
	int	 exited;
};

static void
foreign_start(struct foreign *f, aemp_node *n, const char *role,
    const char *mode, const char *target)
{
	const char *src = getenv("AEMP_SRC");
	char script[512], port[16], pem[512];
	char *argv[] = { "/usr/bin/env", "python3", script, port, pem,
	    (char *)role, (char *)mode, (char *)target, NULL };
	const char *addr = tn_addr(n);

	snprintf(script, sizeof script, "%s/tests/tls_peer.py",
	    src ? src : ".");
	snprintf(port, sizeof port, "%s", strrchr(addr, ':') + 1);
	snprintf(pem, sizeof pem, "%s/%s", certdir, pem_files[SELF1]);
	snprintf(f->out, sizeof f->out, "%s/py-%s-%s.out", certdir, role, mode);
	f->exited = 0;
	f->pid = test_spawn(argv, NULL, f->out, -1);
	ck_assert_int_gt(f->pid, 0);
}

/* Runs the loop until the peer exits or *flag is set (NULL: exit only). */
static void
foreign_run(struct foreign *f, volatile int *flag, double seconds)
{
	double step = 0.02;

	for (; seconds > 0 && (flag == NULL || !*flag); seconds -= step) {
		if (!f->exited && waitpid(f->pid, &f->status, WNOHANG) ==
		    f->pid) {
			f->exited = 1;
			if (flag == NULL)
				return;
		}
		tn_run_for(base, step);
	}
}

static void
foreign_stop(struct foreign *f)
{
	if (!f->exited)
		test_stop(f->pid);
	f->exited = 1;
}

/* The lines the peer printed: its two, the node's two, the auth line. */
static int
foreign_lines(struct foreign *f, char lines[5][4200])
{
	char *text = test_slurp(f->out), *p, *save = NULL;
	int i = 0;

	ck_assert_ptr_nonnull(text);
	for (p = strtok_r(text, "\n", &save); p != NULL && i < 5;
	    p = strtok_r(NULL, "\n", &save))
		snprintf(lines[i++], 4200, "%s", p);
	free(text);
	return i;
}

static void
foreign_talks(const char *role)
{
	struct tn_log la = { 0 };
	aemp_node *a = node_with("alpha", SELF1, NULL, NULL, &la);
	struct box msg = { 0 };
	const char *pa = aemp_port(a, keep_msg, &msg);
	struct foreign f;
	char lines[5][4200], token[65];
	const char *semi;

	foreign_start(&f, a, role, "ok", strchr(pa, '#') + 1);
	foreign_run(&f, &msg.got, 20);
	ck_assert_msg(msg.got, "no message from the foreign peer");
	ck_assert_str_eq(json_string_value(json_array_get(msg.msg, 0)),
	    "hello from python");
	ck_assert(tn_log_has(&la, "connected as pyc"));
	ck_assert(tn_log_has(&la, strcmp(role, "client") == 0 ?
	    "TLS server," : "TLS client,"));
	foreign_stop(&f);
	/* the node's tls_md6_64_256 token over the four lines, own first */
	ck_assert_int_eq(foreign_lines(&f, lines), 5);
	ae_tls_token(lines[2], lines[3], lines[0], lines[1], token);
	ck_assert(strncmp(lines[4], "tls_md6_64_256;", 15) == 0);
	semi = lines[4] + 15;
	ck_assert(strncmp(semi, token, 64) == 0);
	ck_assert_str_eq(semi + 64, ";json");
	box_clear(&msg);
	aemp_free(a);
	log_free(&la);
}

/* The peer is TLS client and sends its greeting and ClientHello at once. */
START_TEST(foreign_peer_as_tls_client_in_one_write)
{
	foreign_talks("client");
}
END_TEST

START_TEST(foreign_peer_as_tls_server)
{
	foreign_talks("server");
}
END_TEST

static int
watch_sender(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct box *b = ud;

	keep_msg(n, self, msg, ud);
	/* b + 1 is the box of the monitor */
	aemp_mon_cb(n, "pyc#p", keep_reason, b + 1);
	return 0;
}

/* TCP closed without close_notify: an ordinary loss (10.4). */
START_TEST(foreign_peer_drops_without_close_notify)
{
	aemp_node *a = node_with("alpha", SELF1, NULL, NULL, NULL);
	struct box b[2];
	const char *pa;
	struct foreign f;

	memset(b, 0, sizeof b);
	pa = aemp_port(a, watch_sender, b);
	foreign_start(&f, a, "client", "drop", strchr(pa, '#') + 1);
	foreign_run(&f, &b[1].got, 20);
	ck_assert_msg(b[0].got, "no message from the foreign peer");
	ck_assert_msg(b[1].got, "the monitor did not fire");
	ck_assert_str_eq(json_string_value(json_array_get(b[1].reason, 0)),
	    "transport_error");
	foreign_stop(&f);
	box_clear(&b[0]);
	box_clear(&b[1]);
	aemp_free(a);
}
END_TEST

static void
hostile(const char *mode, const char *extra, const char *logtext)
{
	struct tn_log la = { 0 };
	aemp_node *a = node_with("alpha", SELF1, extra, NULL, &la);
	struct foreign f;

	foreign_start(&f, a, "client", mode, "");
	foreign_run(&f, NULL, 15);
	ck_assert_msg(log_gets(&la, logtext, 5), "log lacks '%s': %s",
	    logtext, la.text ? la.text : "");
	ck_assert(!tn_log_has(&la, "connected as pyc"));
	foreign_stop(&f);
	still_admits(a, SELF1, NULL);
	aemp_free(a);
	log_free(&la);
}

START_TEST(hostile_garbage_records)
{
	hostile("garbage", NULL, "SSL routines");
}
END_TEST

START_TEST(hostile_tls_handshake_never_finishes)
{
	hostile("stall", "{\"monitor_timeout\":1}", "handshake timeout");
}
END_TEST

START_TEST(hostile_long_auth_line_inside_tls)
{
	hostile("longauth", NULL, "line too long in handshake");
}
END_TEST

/* Under TLS there is no hmac key: the reference rejects it (10.6). */
START_TEST(hmac_inside_tls_rejected)
{
	hostile("hmac", NULL, "authentication failure/shared secret mismatch");
}
END_TEST

/*
 * A foreign TLS client in a child process: it reads the node's greeting
 * byte by byte and then runs blocking OpenSSL on the socket (the other
 * way 10.4 allows), authenticates with tls_anon and sends "before"; then
 * KEYUPDATE: 20 key updates (each asking for the node's), "after"
 * behind every one; RENEGOTIATE (TLS 1.2): a renegotiation the node must
 * refuse, then "after"; ALERT: with another certificate, it rejects the
 * node's and says so in a fatal alert.
 */
enum cpeer_mode { KEYUPDATE, RENEGOTIATE, ALERT };

static void
cpeer(const char *addr, const char *target, enum cpeer_mode mode)
{
	char g[512], line[4200], pkt[256];
	struct sockaddr_in sin;
	struct ssl_ctx_st *ctx;
	char *err = NULL;
	int fd, lfs = 0, i;
	size_t len = 0;
	SSL *ssl;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(strrchr(addr, ':') + 1));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
		_exit(10);
	snprintf(g, sizeof g, "aemp;1;cpeer;tls_md6_64_256,tls_anon;json;tls=1.0\n%.88s\n",
	    "++++++++++++++++++++++++++++++++++++++++++++"
	    "++++++++++++++++++++++++++++++++++++++++++++");
	if (write(fd, g, strlen(g)) < 0)
		_exit(11);
	while (lfs < 2 && read(fd, g, 1) == 1)
		lfs += g[0] == '\n';
	i = mode == ALERT ? SELF2 : SELF1;
	if ((ctx = ae_tls_ctx_new(pems[i], strlen(pems[i]), &err)) == NULL)
		_exit(12);
	if (mode == RENEGOTIATE) {
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_clear_options(ctx, SSL_OP_NO_RENEGOTIATION);
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		_exit(mode == ALERT ? 0 : 13);
	SSL_write(ssl, "tls_anon;;json\n", 15);
	while (len < sizeof line - 1 && memchr(line, '\n', len) == NULL) {
		int r = SSL_read(ssl, line + len, (int)(sizeof line - 1 - len));
		if (r <= 0)
			_exit(14);
		len += (size_t)r;
	}
	snprintf(pkt, sizeof pkt, "[\"%s\",\"before\"]", target);
	SSL_write(ssl, pkt, (int)strlen(pkt));
	snprintf(pkt, sizeof pkt, "[\"%s\",\"after\"]", target);
	if (mode == KEYUPDATE) {
		for (i = 0; i < 20; i++) {
			if (SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) != 1)
				_exit(15);
			if (SSL_write(ssl, pkt, (int)strlen(pkt)) <= 0)
				_exit(16);
		}
	} else {
		SSL_renegotiate(ssl);
		SSL_do_handshake(ssl);	/* refused: it fails */
		SSL_write(ssl, pkt, (int)strlen(pkt));
	}
	/*
	 * Read until the node closes or 3 s pass; after the key updates,
	 * the node's "reply" must come through under its updated key.
	 */
	{
		struct timeval tv = { 3, 0 };
		int r;

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		while ((r = SSL_read(ssl, line, sizeof line)) > 0)
			if (mode == KEYUPDATE && memmem(line, (size_t)r,
			    "reply", 5) != NULL)
				_exit(0);
	}
	_exit(mode == KEYUPDATE ? 17 : 0);
}

static int
count_words(aemp_node *n, const char *self, json_t *msg, void *ud)
{
	struct box *b = ud;
	const char *w = json_string_value(json_array_get(msg, 0));

	(void)n; (void)self;
	if (w != NULL && strcmp(w, "before") == 0)
		b[0].count++;
	else if (w != NULL && strcmp(w, "after") == 0)
		b[1].count++;
	return 0;
}

static void
cpeer_case(enum cpeer_mode mode)
{
	struct tn_log la = { 0 };
	aemp_node *a = node_with("alpha", SELF1, NULL, NULL, &la);
	struct box b[2];
	const char *pa;
	pid_t pid;
	int st = 0, i;

	memset(b, 0, sizeof b);
	pa = aemp_port(a, count_words, b);
	fflush(NULL);
	if ((pid = fork()) == 0)
		cpeer(tn_addr(a), strchr(pa, '#') + 1, mode);
	ck_assert_int_gt(pid, 0);
	for (i = 0; i < 500 && waitpid(pid, &st, WNOHANG) != pid; i++) {
		tn_run_for(base, 0.02);
		if (mode == KEYUPDATE && b[1].count == 20)
			break;
	}
	tn_run_for(base, 0.1);
	ck_assert_msg(b[0].count == 1, "nothing from the peer (status %d): %s",
	    st, la.text ? la.text : "");
	if (mode == KEYUPDATE) {
		/* every message behind a key update arrived */
		ck_assert_int_eq(b[1].count, 20);
		/* and the peer reads ours behind the answers to them */
		aemp_sndf(a, "cpeer#done", "s", "reply");
		for (i = 0; i < 250 && waitpid(pid, &st, WNOHANG) != pid; i++)
			tn_run_for(base, 0.02);
		ck_assert_msg(i < 250 && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0, "the peer did not read the reply "
		    "(status %d)", st);
	} else {
		/* no renegotiation; the connection is closed or goes on */
		ck_assert_int_le(b[1].count, 1);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	still_admits(a, SELF1, NULL);
	aemp_free(a);
	log_free(&la);
}

START_TEST(hostile_key_updates)
{
	cpeer_case(KEYUPDATE);
}
END_TEST

START_TEST(hostile_renegotiation)
{
	cpeer_case(RENEGOTIATE);
}
END_TEST

/*
 * A fatal alert from the peer is a TLS failure, logged with the alert,
 * not an ordinary end of the stream (OpenSSL marks both alike in the
 * shutdown state).
 */
START_TEST(peer_fatal_alert_is_a_tls_failure)
{
	struct tn_log la = { 0 };
	aemp_node *a = node_with("alpha", SELF1, NULL, NULL, &la);
	pid_t pid;
	int st = 0, i;

	fflush(NULL);
	if ((pid = fork()) == 0)
		cpeer(tn_addr(a), "none", ALERT);
	ck_assert_int_gt(pid, 0);
	for (i = 0; i < 250 && !tn_log_has(&la, "alert unknown ca"); i++)
		tn_run_for(base, 0.02);
	ck_assert_msg(tn_log_has(&la, "alert unknown ca"), "log: %s",
	    la.text ? la.text : "");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	still_admits(a, SELF1, NULL);
	aemp_free(a);
	log_free(&la);
}
END_TEST

/* --- the stream layer ------------------------------------------------------ */

/*
 * With SIGPIPE at its default, writes to a stream whose peer closed fail
 * with EPIPE instead of killing the process (send(MSG_NOSIGNAL)), and
 * aemp_configure() leaves the disposition alone.
 */
/* Reads from s until want bytes came (or 200 tries): how many. */
static size_t
stream_read_all(struct aemp_stream *s, char *buf, size_t want)
{
	size_t got = 0;
	int i;

	for (i = 0; i < 200 && got < want; i++) {
		ssize_t r = stream_read(s, buf + got, want - got);

		if (r > 0)
			got += (size_t)r;
		else if (r == 0 || errno != EAGAIN)
			break;
	}
	return got;
}

/*
 * Our records update their key by themselves (every 2^23 records; every
 * 10 here), and a peer with aemp's records or with OpenSSL's reads on:
 * 100 records, each its own write, then the other way.
 */
START_TEST(own_records_update_their_key)
{
	int mode;

	for (mode = 0; mode < 2; mode++) {
		struct ssl_ctx_st *cs, *cc;
		struct aemp_stream *srv, *cli;
		char *err = NULL, buf[64], want[64], d1[160], d2[160];
		int fd[2], i;

		cs = ae_tls_ctx_new(pems[SELF1], strlen(pems[SELF1]), &err);
		cc = ae_tls_ctx_new(pems[SELF1], strlen(pems[SELF1]), &err);
		ck_assert(cs != NULL && cc != NULL);
		if (mode == 1)
			ae_tls_ctx_openssl_records(cc);
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
		ck_assert_int_eq(fcntl(fd[0], F_SETFL, O_NONBLOCK), 0);
		ck_assert_int_eq(fcntl(fd[1], F_SETFL, O_NONBLOCK), 0);
		srv = ae_stream_tls_new(ae_stream_tcp_new(fd[0], "s"), cs, 0,
		    NULL, 0);
		cli = ae_stream_tls_new(ae_stream_tcp_new(fd[1], "c"), cc, 1,
		    NULL, 0);
		for (i = 0; i < 20; i++) {
			(void)stream_read(cli, buf, sizeof buf);
			(void)stream_read(srv, buf, sizeof buf);
			ae_stream_tls_describe(srv, d1, sizeof d1);
			ae_stream_tls_describe(cli, d2, sizeof d2);
			if (strstr(d1, "by aemp") && strstr(d2, mode ?
			    "AES_256_GCM_SHA384, records by OpenSSL" :
			    "by aemp"))
				break;
		}
		ck_assert_msg(strstr(d1, "by aemp") != NULL, "%s", d1);
		ck_assert_msg(strstr(d2, mode ? "by OpenSSL" : "by aemp") !=
		    NULL, "%s", d2);
		ae_stream_tls_rekey_every(srv, 10);
		for (i = 0; i < 100; i++) {
			snprintf(want, sizeof want, "record %03d;", i);
			ck_assert_int_eq(stream_write(srv, want, strlen(want)),
			    (ssize_t)strlen(want));
			ck_assert_uint_eq(stream_read_all(cli, buf,
			    strlen(want)), strlen(want));
			ck_assert(memcmp(buf, want, strlen(want)) == 0);
		}
		ck_assert_uint_ge(ae_stream_tls_key_updates(srv), 9);
		ck_assert_int_eq(stream_write(cli, "back", 4), 4);
		ck_assert_uint_eq(stream_read_all(srv, buf, 4), 4);
		ck_assert(memcmp(buf, "back", 4) == 0);
		stream_close(srv);
		stream_close(cli);
		ae_tls_ctx_free(cs);
		ae_tls_ctx_free(cc);
	}
}
END_TEST

START_TEST(peer_closing_mid_write_does_not_kill)
{
	int sv[2], i, st;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct aemp_stream *s;
		struct sigaction sa;
		char buf[4096];
		ssize_t got = 0;
		aemp_node *n;

		signal(SIGPIPE, SIG_DFL);
		n = node_with("alpha", -1, NULL, NULL, NULL);
		sigaction(SIGPIPE, NULL, &sa);
		if (sa.sa_handler != SIG_DFL)
			_exit(2);
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			_exit(3);
		s = ae_stream_tcp_new(sv[0], "pair");
		memset(buf, 'x', sizeof buf);
		if (stream_write(s, buf, sizeof buf) != sizeof buf)
			_exit(4);
		close(sv[1]);
		for (i = 0; i < 3; i++)
			got = stream_write(s, buf, sizeof buf);
		if (got != -1 || errno != EPIPE)
			_exit(5);
		stream_close(s);
		aemp_free(n);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "killed by signal %d", WTERMSIG(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *unit = tcase_create("unit");
	TCase *nodes = tcase_create("nodes");
	TCase *refuse = tcase_create("refusals");
	TCase *stream = tcase_create("stream");
	TCase *foreign = tcase_create("foreign");

	tcase_add_unchecked_fixture(foreign, make_certs, drop_certs);
	tcase_add_checked_fixture(foreign, setup, teardown);
	tcase_set_timeout(foreign, 60);

	tcase_add_unchecked_fixture(unit, make_certs, drop_certs);
	tcase_add_unchecked_fixture(nodes, make_certs, drop_certs);
	tcase_add_unchecked_fixture(refuse, make_certs, drop_certs);
	tcase_add_unchecked_fixture(stream, make_certs, drop_certs);
	tcase_add_checked_fixture(unit, setup, teardown);
	tcase_add_checked_fixture(nodes, setup, teardown);
	tcase_add_checked_fixture(refuse, setup, teardown);
	tcase_add_checked_fixture(stream, setup, teardown);
	tcase_set_timeout(nodes, 120);
	tcase_set_timeout(refuse, 60);
	tcase_add_test(unit, token_vector_of_the_capture);
	tcase_add_test(unit, cert_key_is_checked_at_configure);
	tcase_add_test(nodes, shared_cert_messages_monitors_kill);
	tcase_add_test(nodes, both_tls_roles_as_connector);
	tcase_add_test(nodes, ca_issued_certificates);
	tcase_add_test(nodes, own_records_meet_openssl_records);
	tcase_add_test(unit, records_seal_open_and_refuse);
	tcase_add_test(unit, post_handshake_messages);
	tcase_add_test(nodes, ordered_stream_inside_tls);
	tcase_add_test(nodes, stale_openssl_error_is_no_tls_failure);
	tcase_add_test(refuse, different_self_signed_certs_refused);
	tcase_add_test(refuse, pem_without_ca_refused);
	tcase_add_test(refuse, server_auth_only_cert_refused_as_client);
	tcase_add_test(refuse, cert_on_one_side_falls_back_to_hmac);
	tcase_add_test(refuse, required_tls_refuses_peer_without_cert);
	tcase_add_test(refuse, cert_without_secret);
	tcase_add_test(refuse, different_secrets_under_tls);
	tcase_add_test(refuse, tls_anon_and_hmac_first);
	tcase_add_test(stream, peer_closing_mid_write_does_not_kill);
	tcase_add_test(stream, own_records_update_their_key);
	tcase_add_test(foreign, foreign_peer_as_tls_client_in_one_write);
	tcase_add_test(foreign, foreign_peer_as_tls_server);
	tcase_add_test(foreign, foreign_peer_drops_without_close_notify);
	tcase_add_test(foreign, hostile_garbage_records);
	tcase_add_test(foreign, hostile_tls_handshake_never_finishes);
	tcase_add_test(foreign, hostile_long_auth_line_inside_tls);
	tcase_add_test(foreign, hostile_key_updates);
	tcase_add_test(foreign, hmac_inside_tls_rejected);
	tcase_add_test(nodes, global_mesh_inside_tls);
	tcase_add_test(foreign, hostile_renegotiation);
	tcase_add_test(foreign, peer_fatal_alert_is_a_tls_failure);
	suite_add_tcase(s, foreign);
	suite_add_tcase(s, unit);
	suite_add_tcase(s, nodes);
	suite_add_tcase(s, refuse);
	suite_add_tcase(s, stream);
	return s;
}

AEMP_TEST_MAIN(tls_suite)

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * stream_tls.c: TLS over another stream (AEMP-TLS-EXT.md 10.4, 10.5),
 * with OpenSSL driven from our event loop through a BIO of our own, which
 * hands OpenSSL the ciphertext read from the lower stream and queues the
 * records it makes in cout (a memory BIO pair would copy both once more,
 * and OpenSSL calls into a BIO several times per record). Bytes the
 * transport read behind the peer's nonce line are handed over as the
 * start of the TLS stream, so nothing that came early is lost. Reads pull
 * ciphertext from the lower stream until it has no more or the caller's
 * buffer is full; a write turns what the caller has queued (a whole loop
 * turn's packets) into as few records as TLS allows: one per 16 KiB.
 *
 * Like the reference, a stream that failed (a certificate rejected, say)
 * sends nothing more, no alert included, and the end of the connection
 * is a plain close without close_notify; an end of the lower stream is an
 * ordinary end of stream, with or without close_notify.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bytes.h"
#include "stream.h"
#include "tls13.h"

#define TLS_SCRATCH	(32 * 1024)	/* ciphertext per lower read */
#define TLS_WRITE_MAX	(256 * 1024)	/* plaintext per SSL_write */

struct tls_stream {
	struct aemp_stream s;		/* first: what the transport sees */
	struct aemp_stream *lower;
	SSL		*ssl;
	BIO_METHOD	*meth;		/* of the BIO that ssl owns */
	struct bytes	 cout;		/* ciphertext the lower did not take */
	struct bytes	 cin;		/* ciphertext OpenSSL did not take */
	const char	*rp;		/* in tls_read(): the rest of a read */
	size_t		 rlen;
	int		 failed;	/* fatal: send nothing more */
	int		 unreported;	/* failed behind data: say so next */
	int		 eof;		/* the lower stream ended */
	int		 more;		/* the last read filled the buffer */
	/*
	 * Once a TLS 1.3 handshake is done the records are ours (tls13.c):
	 * the traffic secrets come from OpenSSL's key log callback, and
	 * OpenSSL is not asked to read or write again.
	 */
	int		 own;
	int		 update_due;	/* the peer asked for our KeyUpdate */
	uint64_t	 rekey_at;	/* records under one key of ours */
	uint64_t	 updates;	/* KeyUpdates we sent */
	struct tls13_dir tx, rx;
	struct bytes	 pin;		/* plaintext a read had no room for */
	unsigned char	 csecret[EVP_MAX_MD_SIZE], ssecret[EVP_MAX_MD_SIZE];
	size_t		 cslen, sslen;
};

/* --- the context ----------------------------------------------------------- */

static void keylog(const SSL *, const char *);

/* Encrypted keys are not supported: never prompt for a passphrase. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return 0;
}

static char *
ctx_error(SSL_CTX *ctx, const char *what)
{
	char *err;

	if (ctx != NULL)
		SSL_CTX_free(ctx);
	ERR_clear_error();
	if ((err = strdup(what)) == NULL)
		abort();
	return err;
}

/*
 * An RSA key sets up its blinding (a modular exponentiation and an
 * inverse, about what a signature costs) when it first signs: a node
 * would pay that in its first TLS handshake, while the peer waits. One
 * signature here pays it while the node starts. The key is the one the
 * context keeps, so every handshake after finds the blinding made.
 */
static void
key_warm_up(EVP_PKEY *key)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t len = sizeof sig;

	if (md != NULL && EVP_PKEY_get_size(key) <= (int)sizeof sig &&
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1)
		(void)EVP_DigestSign(md, sig, &len,
		    (const unsigned char *)"aemp", 4);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
}

/*
 * The first CERTIFICATE block is our own certificate, the others its
 * chain; every one of them is a trust anchor and nothing else is (no
 * system store). The first private key block is our key. The order of
 * the blocks does not matter (10.1).
 */
struct ssl_ctx_st *
ae_tls_ctx_new(const char *pem, size_t len, char **err)
{
	SSL_CTX *ctx;
	X509_STORE *store;
	X509 *x;
	EVP_PKEY *key;
	BIO *b;
	int n, ok = 1;

	*err = NULL;
	if (len > INT_MAX)
		return (*err = ctx_error(NULL, "cert: PEM text too large")),
		    NULL;
	if ((ctx = SSL_CTX_new(TLS_method())) == NULL)
		return (*err = ctx_error(NULL, "cert: TLS set-up failed")),
		    NULL;
	SSL_CTX_set_options(ctx, SSL_OP_ALL | SSL_OP_NO_SSLv2 |
	    SSL_OP_NO_SSLv3 | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* also what lets own_start() begin our records at number 0 */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/*
	 * No SSL_MODE_RELEASE_BUFFERS: giving the record buffers back when
	 * idle (~15 KB less per peer) frees and allocates both of them on
	 * every record of a ping-pong, ~1,350 instructions per round trip
	 * on each side (callgrind, bench/rtt echo); bench conn_mem_tls
	 * reports the memory.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* the traffic secrets of our own records (see struct tls_stream) */
	SSL_CTX_set_keylog_callback(ctx, keylog);
	store = SSL_CTX_get_cert_store(ctx);
	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return (*err = ctx_error(ctx, "cert: out of memory")), NULL;
	for (n = 0; (x = PEM_read_bio_X509(b, NULL, no_passphrase,
	    NULL)) != NULL; n++) {
		if (n == 0)
			ok &= SSL_CTX_use_certificate(ctx, x) == 1;
		else
			ok &= SSL_CTX_add1_chain_cert(ctx, x) == 1;
		/* the same certificate twice is no error */
		X509_STORE_add_cert(store, x);
		X509_free(x);
	}
	BIO_free(b);
	ERR_clear_error();
	if (n == 0)
		return (*err = ctx_error(ctx, "cert: no certificate in the "
		    "PEM text")), NULL;
	if (!ok)
		return (*err = ctx_error(ctx, "cert: unusable certificate")),
		    NULL;
	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return (*err = ctx_error(ctx, "cert: out of memory")), NULL;
	key = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (key == NULL)
		return (*err = ctx_error(ctx, "cert: no private key in the "
		    "PEM text (an unencrypted PRIVATE KEY or RSA PRIVATE KEY "
		    "block)")), NULL;
	ok = SSL_CTX_use_PrivateKey(ctx, key) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1;
	if (ok)
		key_warm_up(key);
	EVP_PKEY_free(key);
	if (!ok)
		return (*err = ctx_error(ctx, "cert: the private key does not "
		    "belong to the first certificate")), NULL;
	/* the peer's certificate is required in both roles (10.5) */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	ERR_clear_error();
	return ctx;
}

void
ae_tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

void
ae_tls_ctx_openssl_records(struct ssl_ctx_st *ctx)
{
	SSL_CTX_set_keylog_callback(ctx, NULL);
}

/* --- the stream ----------------------------------------------------------- */

/*
 * What an SSL_read() or SSL_write() that returned r <= 0 means, without
 * SSL_get_error(): that needs an empty error queue before the call, and
 * even looking at the queue costs ~200 instructions in OpenSSL 3 (the
 * thread's error state is looked up), twice per round trip. OpenSSL
 * says "would block" in the SSL object itself (SSL_want_read/_write):
 * an error that something else in this thread left queued changes
 * nothing there. Only at an end is the queue looked at: a fatal alert
 * from the peer marks the shutdown state as a close_notify does, but
 * queues its error.
 */
enum { TLS_WANT, TLS_CLOSED, TLS_FATAL };

static int
tls_result(SSL *ssl)
{
	if (SSL_want_read(ssl) || SSL_want_write(ssl))
		return TLS_WANT;
	if ((SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) &&
	    ERR_peek_error() == 0)
		return TLS_CLOSED;
	return TLS_FATAL;
}

/*
 * The same for an SSL_do_handshake() that returned r <= 0, which (unlike
 * SSL_read() and SSL_write()) leaves SSL_want() as an earlier call set it
 * when it fails: SSL_get_error(), with the error queue emptied before
 * the call (hs_step()). Once per flight, the cost does not matter.
 */
static int
hs_result(SSL *ssl, int r)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_CLOSED;
	default:
		return TLS_FATAL;
	}
}

static int
hs_step(SSL *ssl)
{
	ERR_clear_error();
	return SSL_do_handshake(ssl);
}

/* The first OpenSSL error, as the reference logs it (10.8). */
static void
tls_fail(struct tls_stream *t)
{
	unsigned long e = ERR_get_error();
	long vr = SSL_get_verify_result(t->ssl);

	t->failed = 1;
	if (e == 0)
		snprintf(t->s.err, sizeof t->s.err, "TLS protocol error");
	else
		ERR_error_string_n(e, t->s.err, sizeof t->s.err);
	if (vr != X509_V_OK && strstr(t->s.err, "certificate verify") != NULL) {
		size_t used = strlen(t->s.err);
		snprintf(t->s.err + used, sizeof t->s.err - used, " (%s)",
		    X509_verify_cert_error_string(vr));
	}
	ERR_clear_error();
	errno = EPROTO;
}

/* Moves the lower stream's failure text up. */
static void
lower_fail(struct tls_stream *t, int e)
{
	snprintf(t->s.err, sizeof t->s.err, "%s", ae_stream_error(t->lower, e));
	errno = e;
}

/*
 * The BIO under the SSL object: reads take what cin holds, then the rest
 * of the lower read that tls_read() is working through; nothing there is
 * "not yet" (retry), never an end. Writes queue in cout. OpenSSL's other
 * questions (flush, kTLS, ...) have trivial answers.
 */
static int
bio_read(BIO *b, char *buf, size_t size, size_t *done)
{
	struct tls_stream *t = BIO_get_data(b);
	size_t n;

	BIO_clear_retry_flags(b);
	if (t->cin.len > 0) {
		n = t->cin.len < size ? t->cin.len : size;
		memcpy(buf, bytes_ptr(&t->cin), n);
		ae_bytes_consume(&t->cin, n);
	} else if (t->rlen > 0) {
		n = t->rlen < size ? t->rlen : size;
		memcpy(buf, t->rp, n);
		t->rp += n;
		t->rlen -= n;
	} else {
		BIO_set_retry_read(b);
		*done = 0;
		return 0;
	}
	*done = n;
	return 1;
}

static int
bio_write(BIO *b, const char *data, size_t len, size_t *done)
{
	struct tls_stream *t = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	ae_bytes_add(&t->cout, data, len);
	*done = len;
	return 1;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_stream *t = BIO_get_data(b);

	(void)num; (void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_PENDING:
		return (long)(t->cin.len + t->rlen);
	case BIO_CTRL_WPENDING:
		return (long)t->cout.len;
	default:
		return 0;
	}
}

/*
 * What a lower read that returned n for a buffer of size says: the end
 * (t->eof), or *drained when the socket is empty for now: less than
 * asked for, or "would block" (a read that says so would be a syscall
 * per message; if more came meanwhile, the socket is readable). -1 when
 * it failed.
 */
static int
lower_read_done(struct tls_stream *t, ssize_t n, size_t size, int *drained)
{
	if (n > 0)
		*drained = (size_t)n < size;
	else if (n == 0)
		t->eof = 1;
	else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		*drained = 1;
	else {
		lower_fail(t, errno);
		return -1;
	}
	return 0;
}

/* What tls_read() has not handed OpenSSL yet outlives its buffer. */
static void
keep_rest(struct tls_stream *t)
{
	if (t->rlen > 0)
		ae_bytes_add(&t->cin, t->rp, t->rlen);
	t->rp = NULL;
	t->rlen = 0;
}

/* Sends the records OpenSSL made: 0 all sent, 1 some left, -1 failed. */
static int
tls_push(struct tls_stream *t)
{
	ssize_t got;

	if (t->failed)
		return 0;
	while (t->cout.len > 0) {
		got = stream_write(t->lower, bytes_ptr(&t->cout), t->cout.len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (got < 0) {
			lower_fail(t, errno);
			return -1;
		}
		ae_bytes_consume(&t->cout, (size_t)got);
	}
	return 0;
}

/* --- our own records after a TLS 1.3 handshake ------------------------------- */

/*
 * OpenSSL hands every secret of a handshake to the key log callback as
 * "LABEL CLIENT_RANDOM SECRET" in hex; the two application traffic
 * secrets are kept until the handshake is done (own_start()).
 */
static void
keylog(const SSL *ssl, const char *line)
{
	struct tls_stream *t = SSL_get_app_data(ssl);
	unsigned char *to;
	size_t *len;
	const char *hex;

	if (t == NULL)
		return;
	if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0) {
		to = t->csecret;
		len = &t->cslen;
	} else if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0) {
		to = t->ssecret;
		len = &t->sslen;
	} else
		return;
	/* inside the handshake: only what this adds leaves the error queue */
	ERR_set_mark();
	if ((hex = strchr(line + 24, ' ')) == NULL ||
	    OPENSSL_hexstr2buf_ex(to, EVP_MAX_MD_SIZE, len, hex + 1, '\0') != 1)
		*len = 0;
	ERR_pop_to_mark();
}

/*
 * Takes the records over from OpenSSL when the handshake that just
 * finished is TLS 1.3 with a suite tls13.c knows and OpenSSL holds no
 * record of the data phase: it reads a record at a time (no read-ahead)
 * and, with no session tickets, has written none. 1 when it did.
 */
static int
own_start(struct tls_stream *t)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(t->ssl);
	const EVP_CIPHER *aead = NULL;
	const EVP_MD *md = NULL;
	int client = !SSL_is_server(t->ssl);

	if (c != NULL) {
		aead = ae_tls13_aead(SSL_CIPHER_get_protocol_id(c));
		md = SSL_CIPHER_get_handshake_digest(c);
	}
	/* a server that sent tickets sealed them under our first numbers */
	if (SSL_version(t->ssl) == TLS1_3_VERSION && aead != NULL &&
	    md != NULL && t->cslen > 0 && t->sslen > 0 &&
	    !SSL_has_pending(t->ssl) &&
	    (client || SSL_get_num_tickets(t->ssl) == 0) &&
	    ae_tls13_dir_init(&t->tx, aead, md, client ? t->csecret :
	    t->ssecret, client ? t->cslen : t->sslen, 1) == 0 &&
	    ae_tls13_dir_init(&t->rx, aead, md, client ? t->ssecret :
	    t->csecret, client ? t->sslen : t->cslen, 0) == 0) {
		t->own = 1;
		/* OpenSSL's record buffers are not needed any more */
		SSL_free_buffers(t->ssl);
	} else {
		ae_tls13_dir_clear(&t->tx);
		ae_tls13_dir_clear(&t->rx);
	}
	OPENSSL_cleanse(t->csecret, sizeof t->csecret);
	OPENSSL_cleanse(t->ssecret, sizeof t->ssecret);
	t->cslen = t->sslen = 0;
	ERR_clear_error();
	return t->own;
}

static ssize_t
own_fail(struct tls_stream *t, const char *why)
{
	t->failed = 1;
	snprintf(t->s.err, sizeof t->s.err, "%s", why);
	errno = EPROTO;
	return -1;
}

/* Plaintext a read had no room for comes first. */
static size_t
take_pin(struct tls_stream *t, char *buf, size_t len)
{
	size_t n = t->pin.len < len ? t->pin.len : len;

	if (n > 0) {
		memcpy(buf, bytes_ptr(&t->pin), n);
		ae_bytes_consume(&t->pin, n);
	}
	return n;
}

/*
 * A KeyUpdate moves the peer's key on and, if it asks, ours: one answer
 * for any number of requests, before what we send next (4.6.3), so a
 * peer that asks and asks without reading queues nothing here.
 */
static int
own_handshake(struct tls_stream *t, const unsigned char *p, size_t n)
{
	const char *why;
	int asks = ae_tls13_post_handshake(p, n, !SSL_is_server(t->ssl),
	    &why);

	if (asks < 0)
		return (int)own_fail(t, why);
	if (asks > 0 && ae_tls13_dir_next(&t->rx) < 0)
		return (int)own_fail(t, "TLS: KeyUpdate failed");
	t->update_due |= asks == 2;
	return 0;
}

/*
 * Our KeyUpdate, under the old key: when the peer asked for one, and
 * before a key of ours has protected rekey_at records (RFC 8446 5.5:
 * about 2^24.5 full-size records for AES-GCM; OpenSSL 3.0 never updates
 * by itself).
 */
static int
own_update(struct tls_stream *t)
{
	static const unsigned char our_update[5] = { 24, 0, 0, 1, 0 };

	if (!t->update_due && t->tx.seq < t->rekey_at)
		return 0;
	t->update_due = 0;
	t->updates++;
	if (ae_tls13_seal(&t->tx, &t->cout, TLS13_HANDSHAKE, our_update,
	    sizeof our_update) < 0 || ae_tls13_dir_next(&t->tx) < 0)
		return (int)own_fail(t, "TLS: KeyUpdate failed");
	return 0;
}

static int
own_control(struct tls_stream *t, int type, const unsigned char *p,
    size_t n)
{
	char why[128];

	if (type == TLS13_HANDSHAKE)
		return own_handshake(t, p, n);
	if (type != TLS13_ALERT)
		return (int)own_fail(t, "TLS: unexpected record type");
	if (n != 2)
		return (int)own_fail(t, "TLS: malformed alert");
	if (p[1] == 0) {		/* close_notify */
		t->eof = 1;
		return 0;
	}
	if (p[1] == 90)			/* user_canceled: a close follows */
		return 0;
	snprintf(why, sizeof why, "TLS alert from the peer: %s",
	    SSL_alert_desc_string_long(p[1]));
	return (int)own_fail(t, why);
}

/*
 * Opens the next record, in cin or else in the rest of the lower read
 * (rp), its content straight into buf when it fits, else into pin: the
 * content bytes put into buf (0 for a control record), *starved when no
 * whole record is there, -1 failed.
 */
static ssize_t
own_record(struct tls_stream *t, char *buf, size_t room, int *starved)
{
	int in_cin = t->cin.len > 0, type;
	const unsigned char *rec = (const unsigned char *)(in_cin ?
	    bytes_ptr(&t->cin) : t->rp);
	ssize_t len = ae_tls13_record_len(rec, in_cin ? t->cin.len : t->rlen),
	    n;
	unsigned char *out;
	size_t plain;

	if (len < 0)
		return own_fail(t, "TLS: malformed record");
	if (len == 0) {
		*starved = 1;
		return 0;
	}
	plain = (size_t)len - TLS13_HEADER - TLS13_TAG;
	out = plain <= room ? (unsigned char *)buf :
	    (unsigned char *)ae_bytes_reserve(&t->pin, plain);
	n = ae_tls13_open(&t->rx, rec, (size_t)len, out, &type);
	if (in_cin)
		ae_bytes_consume(&t->cin, (size_t)len);
	else {
		t->rp += len;
		t->rlen -= (size_t)len;
	}
	if (n < 0)
		return own_fail(t, "TLS: decryption failed or bad record mac");
	if (type != TLS13_APPDATA)
		return own_control(t, type, out, (size_t)n) < 0 ? -1 : 0;
	if (out == (unsigned char *)buf)
		return n;
	ae_bytes_commit(&t->pin, (size_t)n);
	return (ssize_t)take_pin(t, buf, room);
}

/*
 * tls_read() once the records are ours. A lower read goes to the stack
 * when cin is empty (a connection at rest holds no buffer), or behind
 * the piece of a record that cin holds (no copy of a stream of large
 * records); records are opened where they lie.
 */
static ssize_t
own_read(struct tls_stream *t, char *buf, size_t len)
{
	char scratch[TLS_SCRATCH], *p;
	size_t got = take_pin(t, buf, len);
	int drained = 0;

	while (got < len && !t->eof) {
		int starved = 0;
		ssize_t n = own_record(t, buf + got, len - got, &starved);

		if (n < 0) {
			keep_rest(t);
			if (got == 0)
				return -1;
			t->unreported = 1;	/* what came before, first */
			return (ssize_t)got;
		}
		got += (size_t)n;
		if (!starved)
			continue;
		keep_rest(t);		/* a piece of a record */
		if (drained)
			break;
		p = t->cin.len > 0 ? ae_bytes_reserve(&t->cin, TLS_SCRATCH) :
		    scratch;
		n = stream_read(t->lower, p, TLS_SCRATCH);
		if (n > 0 && p != scratch)
			ae_bytes_commit(&t->cin, (size_t)n);
		else if (n > 0) {
			t->rp = scratch;
			t->rlen = (size_t)n;
		}
		if (lower_read_done(t, n, TLS_SCRATCH, &drained) < 0)
			return -1;
	}
	keep_rest(t);
	t->more = got == len || t->pin.len > 0;
	/* the client's Finished, our KeyUpdate */
	if ((!t->failed && own_update(t) < 0) || tls_push(t) < 0)
		return -1;
	if (got > 0)
		return (ssize_t)got;
	if (t->eof)
		return 0;
	t->s.want = EV_READ;
	errno = EAGAIN;
	return -1;
}

/* tls_write() once the records are ours: one record per 16 KiB. */
static ssize_t
own_write(struct tls_stream *t, const char *buf, size_t len)
{
	size_t n = len > TLS_WRITE_MAX ? TLS_WRITE_MAX : len, off, k;

	if (own_update(t) < 0)
		return -1;
	for (off = 0; off < n; off += k) {
		k = n - off > TLS13_MAX_PLAIN ? TLS13_MAX_PLAIN : n - off;
		if (ae_tls13_seal(&t->tx, &t->cout, TLS13_APPDATA, buf + off,
		    k) < 0)
			return own_fail(t, "TLS: record protection failed");
	}
	if (tls_push(t) < 0)
		return -1;
	t->s.want = t->cout.len > 0 ? EV_WRITE : 0;
	return (ssize_t)n;
}

/* --- the stream, either way ------------------------------------------------- */

static ssize_t
tls_read(struct aemp_stream *s, void *buf, size_t len)
{
	struct tls_stream *t = (struct tls_stream *)s;
	char scratch[TLS_SCRATCH];
	size_t got = 0;
	int drained = 0;

	if (t->failed) {
		t->unreported = 0;
		errno = EPROTO;
		return -1;
	}
	if (t->own)
		return own_read(t, buf, len);
	while (got < len) {
		size_t want = len - got > INT_MAX ? INT_MAX : len - got;
		int r, e;
		ssize_t n;

		/*
		 * Nothing for OpenSSL to work on once the handshake is done:
		 * an SSL_read() that only says so is left out.
		 */
		if (t->cin.len == 0 && t->rlen == 0 &&
		    SSL_is_init_finished(t->ssl) && !SSL_has_pending(t->ssl)) {
			if (drained || t->eof)
				break;
			goto lower;
		}
		if (!SSL_is_init_finished(t->ssl)) {
			/* no SSL_read(): it would read the first records */
			r = hs_step(t->ssl);
			if (r == 1 && own_start(t)) {
				keep_rest(t);	/* ciphertext of the data phase */
				return own_read(t, buf, len);
			}
			if (r == 1)
				continue;
			e = hs_result(t->ssl, r);
		} else {
			r = SSL_read(t->ssl, (char *)buf + got, (int)want);
			if (r > 0) {
				got += (size_t)r;
				continue;
			}
			e = tls_result(t->ssl);
		}
		if (e == TLS_CLOSED) {
			t->eof = 1;	/* close_notify */
			break;
		}
		if (e != TLS_WANT) {
			keep_rest(t);
			tls_fail(t);	/* errno last */
			if (got == 0)
				return -1;
			/* what came before the failure is delivered first */
			t->unreported = 1;
			return (ssize_t)got;
		}
		if (drained || t->eof)
			break;
lower:
		keep_rest(t);
		n = stream_read(t->lower, scratch, sizeof scratch);
		if (n > 0) {
			/* OpenSSL reads it from here (bio_read) */
			t->rp = scratch;
			t->rlen = (size_t)n;
		}
		if (lower_read_done(t, n, sizeof scratch, &drained) < 0)
			return -1;
	}
	keep_rest(t);
	t->more = got == len;
	/* handshake flights, alerts, key update answers */
	if (tls_push(t) < 0)
		return -1;
	if (got > 0)
		return (ssize_t)got;
	if (t->eof)
		return 0;
	s->want = EV_READ;
	errno = EAGAIN;
	return -1;
}

static ssize_t
tls_write(struct aemp_stream *s, const void *buf, size_t len)
{
	struct tls_stream *t = (struct tls_stream *)s;
	int r, e;

	if (t->failed) {
		errno = EPROTO;
		return -1;
	}
	/* records still waiting for the socket come first */
	if (t->cout.len > 0 && (r = tls_push(t)) != 0) {
		if (r > 0) {
			s->want = EV_WRITE;
			errno = EAGAIN;
		}
		return -1;
	}
	if (t->own)
		return own_write(t, buf, len);
	r = 1;
	e = TLS_WANT;
	if (!SSL_is_init_finished(t->ssl)) {
		r = hs_step(t->ssl);
		if (r == 1 && own_start(t)) {
			/* records of the peer's that came with its last flight */
			t->more |= t->cin.len > 0;
			return own_write(t, buf, len);
		}
		if (r <= 0)
			e = hs_result(t->ssl, r);
	}
	if (r == 1 && (r = SSL_write(t->ssl, buf, (int)(len > TLS_WRITE_MAX ?
	    TLS_WRITE_MAX : len))) <= 0)
		e = tls_result(t->ssl);
	if (r <= 0) {
		if (e != TLS_WANT) {
			tls_fail(t);
			return -1;
		}
		/* the handshake is not through yet: after the next read */
		if (tls_push(t) < 0)
			return -1;
		s->want = EV_READ;
		errno = EAGAIN;
		return -1;
	}
	if (tls_push(t) < 0)
		return -1;
	s->want = t->cout.len > 0 ? EV_WRITE : 0;
	return r;
}

static int
tls_flush(struct aemp_stream *s)
{
	return tls_push((struct tls_stream *)s);
}

static int
tls_pending(struct aemp_stream *s)
{
	struct tls_stream *t = (struct tls_stream *)s;

	if (t->failed)
		return t->unreported ? STREAM_HAS_INPUT : 0;
	return (t->more ? STREAM_HAS_INPUT : 0) |
	    (t->cout.len > 0 ? STREAM_HAS_OUTPUT : 0);
}

static void
tls_shutdown(struct aemp_stream *s)
{
	struct tls_stream *t = (struct tls_stream *)s;

	static const unsigned char close_notify[2] = { 1, 0 };

	if (!t->failed && t->own) {
		if (ae_tls13_seal(&t->tx, &t->cout, TLS13_ALERT, close_notify,
		    sizeof close_notify) == 0)
			tls_push(t);
	} else if (!t->failed) {
		ERR_clear_error();
		SSL_shutdown(t->ssl);
		ERR_clear_error();
		tls_push(t);
	}
	t->lower->ops->shutdown(t->lower);
}

static void
tls_close(struct aemp_stream *s)
{
	struct tls_stream *t = (struct tls_stream *)s;

	SSL_free(t->ssl);
	BIO_meth_free(t->meth);
	ERR_clear_error();
	ae_tls13_dir_clear(&t->tx);
	ae_tls13_dir_clear(&t->rx);
	OPENSSL_cleanse(t->csecret, sizeof t->csecret);
	OPENSSL_cleanse(t->ssecret, sizeof t->ssecret);
	ae_bytes_free(&t->cout);
	ae_bytes_free(&t->cin);
	ae_bytes_free(&t->pin);
	stream_close(t->lower);
	free(s->peer);
	free(t);
}

static const struct stream_ops tls_ops = {
	"tls", tls_read, tls_write, tls_flush, tls_pending, tls_shutdown,
	tls_close
};

struct aemp_stream *
ae_stream_tls_new(struct aemp_stream *lower, struct ssl_ctx_st *ctx, int client,
    const void *early, size_t early_len)
{
	struct tls_stream *t = calloc(1, sizeof *t);
	BIO *b;

	if (t == NULL || (t->s.peer = strdup(lower->peer)) == NULL)
		abort();
	t->s.ops = &tls_ops;
	t->s.fd = lower->fd;
	t->lower = lower;
	t->ssl = SSL_new(ctx);
	t->meth = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "aemp stream");
	if (t->ssl == NULL || t->meth == NULL ||
	    BIO_meth_set_read_ex(t->meth, bio_read) != 1 ||
	    BIO_meth_set_write_ex(t->meth, bio_write) != 1 ||
	    BIO_meth_set_ctrl(t->meth, bio_ctrl) != 1 ||
	    (b = BIO_new(t->meth)) == NULL)
		abort();
	BIO_set_data(b, t);
	BIO_set_init(b, 1);
	SSL_set_app_data(t->ssl, t);	/* for keylog() */
	/* one BIO both ways: SSL_set_bio() takes the one reference */
	SSL_set_bio(t->ssl, b, b);
	if (client)
		SSL_set_connect_state(t->ssl);
	else
		SSL_set_accept_state(t->ssl);
	ae_bytes_add(&t->cin, early, early_len);
	/* read at once: the early bytes, or the client's first flight */
	t->more = 1;
	t->rekey_at = TLS13_REKEY;
	return &t->s;
}

void
ae_stream_tls_rekey_every(struct aemp_stream *s, uint64_t records)
{
	((struct tls_stream *)s)->rekey_at = records;
}

uint64_t
ae_stream_tls_key_updates(struct aemp_stream *s)
{
	return ((struct tls_stream *)s)->updates;
}

void
ae_stream_tls_describe(struct aemp_stream *s, char *buf, size_t size)
{
	struct tls_stream *t = (struct tls_stream *)s;

	if (s->ops != &tls_ops) {
		snprintf(buf, size, "none");
		return;
	}
	snprintf(buf, size, "%s, %s %s, records by %s", SSL_is_server(t->ssl) ?
	    "server" : "client", SSL_get_version(t->ssl),
	    SSL_CIPHER_get_name(SSL_get_current_cipher(t->ssl)),
	    t->own ? "aemp" : "OpenSSL");
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * wire.h: the byte-level pieces of the AEMP transport (AEMP.md section 3),
 * as pure functions over memory so that they can be unit-tested and fuzzed
 * without sockets: greeting lines, auth lines, host:port strings and the
 * incremental JSON packet splitter.
 */
#ifndef AEMP_WIRE_H
#define AEMP_WIRE_H

#include <stddef.h>
#include <string.h>
#include <sys/types.h>

#define AEMP_MAX_LINE 4096	/* bytes, including LF, before auth */

/* A parsed greeting line 1: aemp;1;NODEID;AUTH_ACCEPT;FRAMINGS[;K=V...] */
struct aemp_greeting {
	int	  version;		/* field 2 as a number */
	char	 *nodeid;
	char	**auths;		/* NULL-terminated */
	char	**framings;		/* NULL-terminated */
	char	 *provider;		/* NULL when absent; values unescaped */
	char	 *peeraddr;
	char	 *tls;
	char	 *protocol;		/* "aemp" or "aemp-WORD" (11.3) */
	char	 *dataconn_id;		/* NULL when absent */
};

/*
 * Parse line 1 (without LF; a trailing CR is ignored). Returns 0, or -1
 * with *why set to a static reason: "unparsable greeting" for anything
 * that is not aemp;VERSION;... (the caller checks the version itself so
 * that it can say "version mismatch"), or "out of memory". g need not be
 * initialised; on failure it is left empty. Empty items of the comma lists
 * are dropped; of the KEY=VALUE fields only provider, peeraddr, tls and
 * dataconn_id are kept (the last one wins), fields without '=' are
 * ignored. The protocol field may be "aemp" or "aemp-" followed by word
 * characters (AEMP-TLS-EXT.md 11.3): the caller decides what it accepts.
 */
int	 ae_greeting_parse(const char *line, size_t len,
	    struct aemp_greeting *g, const char **why);
void	 ae_greeting_clear(struct aemp_greeting *g);
/*
 * Build line 1 without LF (malloc()ed). auths and framings are
 * NULL-terminated; kv is a NULL-terminated list of "key", "value" pairs
 * whose values are escaped (%3b, %25). NULL when malloc() fails or a
 * field cannot be represented: an empty node ID, method or key, a ';' in
 * the node ID, a ';' or ',' in a method, a '=' in a key, CR or LF anywhere.
 */
char	*ae_greeting_format(const char *nodeid, const char *const *auths,
	    const char *const *framings, const char *const *kv);

/*
 * Parse "METHOD;TOKEN;FRAMING" (without LF, trailing CR ignored): exactly
 * three fields, METHOD and FRAMING non-empty, TOKEN may be empty. Returns 0,
 * or -1 with *why "unparsable auth line" (or "out of memory") and a left
 * empty.
 */
struct aemp_authline {
	char	*method;
	char	*token;
	char	*framing;
};
int	 ae_authline_parse(const char *line, size_t len,
	    struct aemp_authline *a, const char **why);
void	 ae_authline_clear(struct aemp_authline *a);

/*
 * host:port parsing. "[v6]:port", "v4:port", "name:port", "*:port",
 * "*", "port" (bare number: host is NULL), "host" (no port: port is NULL).
 * Returns 0 with *host / *port malloc()ed (or NULL), -1 on syntax errors
 * (empty string, bad brackets, port not 0..65535 and not "*", NUL bytes).
 * More than one ':' without brackets is a bare IPv6 literal ("::1"): all
 * host, port NULL. A ':' inside brackets must be IPv6; blanks and control
 * bytes are refused. The port comes back in canonical decimal ("080": "80").
 */
int	 ae_hostport_parse(const char *s, char **host, char **port);
/*
 * Whether a parsed port can be connected to: "*" and "0" only mean "any
 * port" to bind (seeds and announced addresses need a real one).
 */
#define aemp_port_connectable(port)					\
	((port) != NULL && strcmp((port), "*") != 0 && strcmp((port), "0") != 0)
/*
 * What a node accepts in its binds (any host:port form above; port 0, like
 * "*" or none, is any free port) and in its seeds (a port 1..65535 is
 * needed: a seed must say where to connect). The aemp CLI checks values
 * with these, so it refuses what a node would.
 */
int	 ae_bind_valid(const char *s);
int	 ae_hostport_seed_valid(const char *s);
/* "host:port", with [] around IPv6 literals (malloc()ed); NULL host: NULL. */
char	*ae_hostport_format(const char *host, int port);

/*
 * The packet splitter: finds where each top-level JSON array ends in a
 * byte stream that arrives in pieces, without rescanning bytes it has seen
 * (a 64 MiB packet that arrives in 4 KiB reads costs linear time).
 *
 * Feed it the unconsumed bytes chunk by chunk. ae_scan_feed() returns
 * the number of bytes of this chunk it consumed; when it stops because a
 * packet ended (its closing ']' is the last consumed byte), s->done is 1,
 * s->skip is the count of whitespace bytes before the packet's '[' and
 * s->len the packet's length from '[' to ']' inclusive. Then the caller
 * takes skip + len bytes off its buffer and calls ae_scan_reset().
 * Returns -1 on a stream error: a byte outside whitespace before '[', a
 * structure that cannot be JSON (a '}' closing a '[', say, or a NUL byte
 * outside strings, which jansson would skip silently), or a packet
 * longer than s->max bytes (max 0: no cap). The cap also bounds skip, so
 * that a peer cannot grow the caller's buffer with endless whitespace. A
 * packet nested deeper than 2048 levels is an error too (jansson's limit).
 * Validity of the JSON itself (numbers, literals, UTF-8) is left to the
 * JSON parser. After -1 every feed returns -1 until ae_scan_reset(); after
 * a packet, feeds return 0 until then.
 */
struct aemp_scan {
	size_t		 max;		/* cap on len; 0 = none */
	/*
	 * Cap on the values in a packet (each ',' and each '[' or '{'), 0 =
	 * none: decoded, a value costs 25 times the two bytes it may take on
	 * the wire. too_many says that this cap made the error.
	 */
	size_t		 max_values;
	size_t		 values;
	int		 too_many;
	size_t		 skip, len;	/* see above */
	int		 done;
	/* private */
	int		 state;
	unsigned	 depth;
	size_t		 stack_len;
	unsigned char	*stack;		/* '[' or '{' per open level */
	size_t		 stack_cap;
	unsigned	 uescape;	/* unused: skipping the byte after a
					   backslash is enough, \uXXXX digits
					   are never '"' or '\\' */
};
void	 ae_scan_init(struct aemp_scan *s, size_t max);
void	 ae_scan_reset(struct aemp_scan *s);	/* after a packet */
void	 ae_scan_free(struct aemp_scan *s);
ssize_t	 ae_scan_feed(struct aemp_scan *s, const char *buf, size_t len);

/* Lowercase hex of n bytes into out (2n+1 bytes with NUL). */
void	 ae_hex(const unsigned char *in, size_t n, char *out);
/* Standard base64 with padding (malloc()ed). */
char	*ae_base64(const unsigned char *in, size_t n);

#endif

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * codec.h: JSON fast paths for packets (see codec.c).
 */
#ifndef AEMP_CODEC_H
#define AEMP_CODEC_H

#include <sys/types.h>

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <jansson.h>

#include "bytes.h"

#define FAST_NAME	256	/* longer port names take the general path */

/* Bytes that JSON strings hold as they are, and jansson writes so too. */
static inline int
plain_byte(unsigned char b)
{
	return b >= 0x20 && b <= 0x7e && b != '"' && b != '\\';
}

/*
 * The bytes of w that are not plain (0x20 to 0x7e, neither '"' nor '\\'),
 * as their high bits. A borrow or carry only runs upward, into bytes
 * above one that is flagged rightly: the lowest flag is exact.
 */
static inline uint64_t
plain_mask(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

	/*
	 * below 0x20; 0x7f and above; a '"'; a '\\'. No "& ~x" as in the
	 * usual zero-byte test: what it keeps out are bytes with the high
	 * bit set, flagged by "| w" anyway.
	 */
	return ((w - ones * 0x20) | w | (w + ones) | (q - ones) | (b - ones)) &
	    high;
}

size_t	 ae_plain_span_long(const char *p, size_t n);

/* ae_plain_span() of the last n - i bytes, fewer than 8, of p. */
size_t	 ae_plain_tail(const char *p, size_t i, size_t n);

/* ae_plain_span() eight bytes at a time: what is shorter than a vector. */
static inline size_t
ae_plain_span_words(const char *p, size_t n)
{
	size_t i = 0;
	uint64_t w, m;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		if ((m = plain_mask(w)) != 0) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return i + (size_t)__builtin_ctzll(m) / 8;
#else
			break;
#endif
		}
		if (i >= 24)
			return i + 8 + ae_plain_span_long(p + i + 8, n - i - 8);
	}
	return i == n ? n : ae_plain_tail(p, i, n);
}

#ifdef __SSE2__
/* The bytes of p[0..16) that are not plain, as bits (compared signed,
   0x80 and above are below 0x20). */
static inline unsigned
plain_mask16(const char *p)
{
	const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(
	    _mm_cmplt_epi8(a, _mm_set1_epi8(0x20)),
	    _mm_cmpeq_epi8(a, _mm_set1_epi8(0x7f))),
	    _mm_or_si128(_mm_cmpeq_epi8(a, _mm_set1_epi8('"')),
	    _mm_cmpeq_epi8(a, _mm_set1_epi8('\\')))));
}
#endif

/*
 * The length of the run of plain bytes at the start of p (n bytes), inline
 * for names, tags and short strings: a string in a packet, whose end is
 * further on, 16 bytes a test; fewer bytes eight at a time; longer runs
 * with the vectors of ae_plain_span_long().
 */
static inline size_t
ae_plain_span(const char *p, size_t n)
{
#ifdef __SSE2__
	unsigned v;

	if (n >= 16) {
		if ((v = plain_mask16(p)) != 0)
			return (size_t)__builtin_ctz(v);
		if (n < 32)
			return 16 + ae_plain_span_words(p + 16, n - 16);
		if ((v = plain_mask16(p + 16)) != 0)
			return 16 + (size_t)__builtin_ctz(v);
		return 32 + ae_plain_span_long(p + 32, n - 32);
	}
#endif
	return ae_plain_span_words(p, n);
}

/* json_string(s), faster for ASCII; NULL when s is not UTF-8. */
json_t	*ae_json_string_fast(const char *s);
/* Port names that go into JSON as they are: printable ASCII, no escapes. */
int	 ae_codec_plain_name(const char *name, size_t *len);
/*
 * The value of s if it is a string fit to name something (a port, a node,
 * a request): one without NUL bytes, which C would cut it at. NULL else.
 */
static inline const char *
json_id(json_t *s)
{
	const char *v = json_string_value(s);

	return v != NULL && strlen(v) == json_string_length(s) ? v : NULL;
}

#define FAST_INT	24	/* room ae_fast_int() may need */
/* Writes v in decimal as jansson does into p; returns the length. */
size_t	 ae_fast_int(json_int_t v, char *p);
/*
 * Writes v into p (size bytes) exactly as json_dumpb(v, JSON_COMPACT)
 * would; -1 when it does not fit or cannot be dumped.
 */
ssize_t	 ae_fast_dump(json_t *v, char *p, size_t size, int depth);
/*
 * Room that v (at nesting depth) takes as compact JSON, from its shape:
 * enough for what ae_fast_dump() writes itself.
 */
size_t	 ae_dump_estimate(json_t *v, int depth);
/* Appends ["NAME",MSG...] (name NULL: msg) to out; -1 on failure. */
int	 ae_json_dump_named(const char *name, size_t len, json_t *msg,
	    struct bytes *out);
int	 ae_json_dump_packet(json_t *pkt, struct bytes *out);
/*
 * Parses ["NAME",VALUE...] at p; returns the packet's length with name and
 * *msg set, or 0 when the packet is of another shape (the caller then
 * takes the general path). A first value that is a plain string is left
 * out of *msg and pointed to by *tag (*taglen bytes); *tag is NULL when
 * there is none. *msg is built in *spare when spare holds one (see
 * ae_fast_packet_done()).
 */
size_t	 ae_fast_packet(const char *p, size_t len, size_t max,
	    char name[FAST_NAME], const char **tag, size_t *taglen,
	    json_t **msg, json_t **spare);
/*
 * Releases a message that ae_fast_packet() made, or keeps it as *spare for
 * the next ae_fast_packet() to fill (spare NULL there: none is used).
 */
void	 ae_fast_packet_done(json_t **spare, json_t *msg);
/*
 * A message made as ae_fast_packet() makes it, value by value, in *spare
 * when that holds one: ae_refill_start(), then each value in order
 * (ae_refill_put() steals v; ae_refill_string() takes plain bytes and
 * returns -1 when out of memory), then ae_refill_end() returns it.
 * What a value of the spare that nothing else holds can take (an integer
 * the integer, a string the string) it takes in place; anything else is
 * made anew in its slot: a value that anything else holds never changes.
 * Inline: every packet received and every local aemp_sndf() calls them.
 */
struct refill {
	json_t	*msg;
	size_t	 i, n;		/* values filled; values the spare had */
};

static inline void
ae_refill_start(struct refill *r, json_t **spare)
{
	r->i = r->n = 0;
	if (spare != NULL && *spare != NULL) {
		r->msg = *spare;
		*spare = NULL;
		r->n = json_array_size(r->msg);
	} else
		r->msg = json_array();
}

/* The next value of the spare, when it may change in place; else NULL. */
static inline json_t *
ae_refill_old(const struct refill *r)
{
	json_t *old = r->i < r->n ? json_array_get(r->msg, r->i) : NULL;

	return old != NULL && old->refcount == 1 ? old : NULL;
}

static inline void
ae_refill_put(struct refill *r, json_t *v)
{
	if (r->i < r->n)
		json_array_set_new(r->msg, r->i, v);
	else
		json_array_append_new(r->msg, v);
	r->i++;
}

static inline void
ae_refill_int(struct refill *r, json_int_t v)
{
	json_t *old = ae_refill_old(r);

	if (old != NULL && json_is_integer(old)) {
		json_integer_set(old, v);
		r->i++;
	} else
		ae_refill_put(r, json_integer(v));
}

static inline int
ae_refill_string(struct refill *r, const char *s, size_t len)
{
	json_t *old = ae_refill_old(r);

	if (old != NULL && json_is_string(old)) {
		/* a reply port, a key: the same string comes again and again */
		if ((json_string_length(old) != len ||
		    memcmp(json_string_value(old), s, len) != 0) &&
		    json_string_setn_nocheck(old, s, len) != 0)
			return -1;
		r->i++;
		return 0;
	}
	ae_refill_put(r, json_stringn_nocheck(s, len));
	return 0;
}

static inline json_t *
ae_refill_end(struct refill *r)
{
	while (r->n > r->i)
		json_array_remove(r->msg, --r->n);
	return r->msg;
}

/*
 * What a Perl node sends that jansson refuses (libaemp(3), VALUES FROM
 * PERL NODES): ae_perl_load() reads one JSON text the way json_loadb() with
 * JSON_ALLOW_NUL does, and besides keeps integers beyond int64 as strings
 * of their digits, NUL bytes in object keys, lone surrogates as the bytes
 * Perl holds for them (ED A0 80 for U+D800) and reals beyond the doubles
 * as the largest double of their sign. NULL on a syntax error; *bad says
 * why a value read cannot be kept (bytes that are no UTF-8), or is NULL.
 */
json_t	*ae_perl_load(const char *p, size_t len, const char **bad);
/* UTF-8 with surrogates allowed, as Perl's strings hold it. */
int	 ae_perl_utf8_ok(const char *s, size_t n);
/*
 * The length of the printable character at p (UTF-8, before end), or 0
 * for a control character (C0, DEL, C1) or bytes that are no UTF-8.
 */
size_t	 ae_utf8_printable_len(const char *p, const char *end);
/*
 * s (n bytes) fit for a log line, a terminal or a metrics label:
 * printable characters as they are, every other byte as \xNN, at most
 * max bytes of s (then "..."). malloc()ed.
 */
char	*ae_text_visible(const char *s, size_t n, size_t max);
/* Appends v as JSON the way jansson writes it, lone surrogates raw. */
int	 ae_perl_dump(json_t *v, struct bytes *out, int depth);

/*
 * The decode and accept decision for one packet p (len bytes, delimited
 * by the splitter): PACKET_OK with *pkt set; PACKET_DROP when it is JSON
 * whose values cannot be kept (*why says why, *name is the port it was
 * for, malloc()ed, or NULL): the message is lost, the link stays;
 * PACKET_CLOSE (*why) when it is no JSON: a protocol error.
 */
enum { PACKET_OK, PACKET_DROP, PACKET_CLOSE };
int	 ae_packet_decode(const char *p, size_t len, json_t **pkt, char **name,
	    const char **why);

#endif

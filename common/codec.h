/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * codec.h: JSON fast paths for packets (see codec.c).
 */
#ifndef AEMP_CODEC_H
#define AEMP_CODEC_H

#include <sys/types.h>

#include <string.h>

#include <jansson.h>

#include "bytes.h"

#define FAST_NAME	256	/* longer port names take the general path */

/* Bytes that JSON strings hold as they are, and jansson writes so too. */
static inline int
plain_byte(unsigned char b)
{
	return b >= 0x20 && b <= 0x7e && b != '"' && b != '\\';
}

/* The length of the run of plain bytes at the start of p (n bytes). */
size_t	 plain_span(const char *p, size_t n);
/* json_string(s), faster for ASCII; NULL when s is not UTF-8. */
json_t	*json_string_fast(const char *s);
/* Port names that go into JSON as they are: printable ASCII, no escapes. */
int	 transport_plain_name(const char *name, size_t *len);
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

#define FAST_INT	24	/* room fast_int() may need */
/* Writes v in decimal as jansson does into p; returns the length. */
size_t	 fast_int(json_int_t v, char *p);
/*
 * Writes v into p (size bytes) exactly as json_dumpb(v, JSON_COMPACT)
 * would; -1 when it does not fit or cannot be dumped.
 */
ssize_t	 fast_dump(json_t *v, char *p, size_t size, int depth);
/* Appends ["NAME",MSG...] (name NULL: msg) to out; -1 on failure. */
int	 json_dump_named(const char *name, size_t len, json_t *msg,
	    struct bytes *out);
int	 json_dump_packet(json_t *pkt, struct bytes *out);
/*
 * Parses ["NAME",VALUE...] at p; returns the packet's length with name and
 * *msg set, or 0 when the packet is of another shape (the caller then
 * takes the general path). A first value that is a plain string is left
 * out of *msg and pointed to by *tag (*taglen bytes); *tag is NULL when
 * there is none.
 */
size_t	 fast_packet(const char *p, size_t len, size_t max,
	    char name[FAST_NAME], const char **tag, size_t *taglen,
	    json_t **msg);

/*
 * What a Perl node sends that jansson refuses (libaemp(3), VALUES FROM
 * PERL NODES): perl_load() reads one JSON text the way json_loadb() with
 * JSON_ALLOW_NUL does, and besides keeps integers beyond int64 as strings
 * of their digits, NUL bytes in object keys, lone surrogates as the bytes
 * Perl holds for them (ED A0 80 for U+D800) and reals beyond the doubles
 * as the largest double of their sign. NULL on a syntax error; *bad says
 * why a value read cannot be kept (bytes that are no UTF-8), or is NULL.
 */
json_t	*perl_load(const char *p, size_t len, const char **bad);
/* UTF-8 with surrogates allowed, as Perl's strings hold it. */
int	 perl_utf8_ok(const char *s, size_t n);
/*
 * The length of the printable character at p (UTF-8, before end), or 0
 * for a control character (C0, DEL, C1) or bytes that are no UTF-8.
 */
size_t	 utf8_printable_len(const char *p, const char *end);
/*
 * s (n bytes) fit for a log line, a terminal or a metrics label:
 * printable characters as they are, every other byte as \xNN, at most
 * max bytes of s (then "..."). malloc()ed.
 */
char	*text_visible(const char *s, size_t n, size_t max);
/* Appends v as JSON the way jansson writes it, lone surrogates raw. */
int	 perl_dump(json_t *v, struct bytes *out, int depth);

/*
 * The decode and accept decision for one packet p (len bytes, delimited
 * by the splitter): PACKET_OK with *pkt set; PACKET_DROP when it is JSON
 * whose values cannot be kept (*why says why, *name is the port it was
 * for, malloc()ed, or NULL): the message is lost, the link stays;
 * PACKET_CLOSE (*why) when it is no JSON: a protocol error.
 */
enum { PACKET_OK, PACKET_DROP, PACKET_CLOSE };
int	 packet_decode(const char *p, size_t len, json_t **pkt, char **name,
	    const char **why);

#endif

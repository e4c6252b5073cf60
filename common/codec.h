/*
 * codec.h: JSON fast paths for packets (see codec.c).
 */
#ifndef AEMP_CODEC_H
#define AEMP_CODEC_H

#include <sys/types.h>

#include <jansson.h>

#include "bytes.h"

#define FAST_NAME	256	/* longer port names take the general path */

/* Bytes that JSON strings hold as they are, and jansson writes so too. */
static inline int
plain_byte(unsigned char b)
{
	return b >= 0x20 && b <= 0x7e && b != '"' && b != '\\';
}

/* Port names that go into JSON as they are: printable ASCII, no escapes. */
int	 transport_plain_name(const char *name, size_t *len);
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
 * takes the general path).
 */
size_t	 fast_packet(const char *p, size_t len, size_t max,
	    char name[FAST_NAME], json_t **msg);

#endif

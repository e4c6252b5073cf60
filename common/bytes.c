/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * bytes.c: the data phase's byte queue (see bytes.h). It replaces
 * libevent's chained buffers there: a chained buffer frees its chunk each
 * time it drains and allocates a new one for the next packet, which in
 * request-response traffic meant a malloc and free per message on each
 * side, and a packet spanning chunks needed a copy to be parsed.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "xmalloc.h"

#define BYTES_MIN	256		/* first allocation */
#define BYTES_KEEP	(64 * 1024)	/* kept when empty; larger is freed */
#define BYTES_SHRINK	(4 * BYTES_KEEP) /* shrunk when little is left */

char *
ae_bytes_reserve_grow(struct bytes *b, size_t n)
{
	size_t cap;
	char *p;

	/*
	 * Moving what is left to the front may be enough; only when no more
	 * is moved than was consumed, or a long queue that is written from
	 * the front while packets are added would be moved again and again.
	 */
	if (b->start > 0 && b->start >= b->len) {
		memmove(b->data, b->data + b->start, b->len);
		b->start = 0;
		if (b->len + n <= b->cap)
			return b->data + b->len;
	}
	for (cap = b->cap ? b->cap : BYTES_MIN; cap < b->start + b->len + n;
	    cap *= 2)
		;
	p = ae_xreallocarray(b->data, cap, 1);
	b->data = p;
	b->cap = cap;
	return b->data + b->start + b->len;
}

void
ae_bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	memcpy(ae_bytes_reserve(b, n), p, n);
	b->len += n;
}

void
ae_bytes_move(struct bytes *to, struct bytes *from)
{
	if (to->len == 0 && to->cap <= from->cap) {
		struct bytes t = *to;
		*to = *from;
		*from = t;
	} else
		ae_bytes_add(to, bytes_ptr(from), from->len);
	ae_bytes_consume(from, from->len);
}

void
ae_bytes_consume(struct bytes *b, size_t n)
{
	b->start += n;
	b->len -= n;
	if (b->len > 0) {
		/* a big packet gone, a piece of the next left: give it back */
		if (b->cap >= BYTES_SHRINK && b->len <= BYTES_KEEP / 2) {
			char *p;
			memmove(b->data, b->data + b->start, b->len);
			b->start = 0;
			if ((p = realloc(b->data, 2 * BYTES_KEEP)) != NULL) {
				b->data = p;
				b->cap = 2 * BYTES_KEEP;
			}
		}
		return;
	}
	b->start = 0;
	if (b->cap > BYTES_KEEP) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
}

void
ae_bytes_free(struct bytes *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

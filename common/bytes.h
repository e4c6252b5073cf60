/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * bytes.h: a byte queue for the data phase: bytes are added at the end
 * and consumed from the front of one contiguous block, so a reader parses
 * packets in place and a writer hands the kernel one pointer.
 */
#ifndef AEMP_BYTES_H
#define AEMP_BYTES_H

#include <stddef.h>

struct bytes {
	char	*data;
	size_t	 start;		/* first byte not yet consumed */
	size_t	 len;		/* bytes from start */
	size_t	 cap;		/* allocated size of data */
};

#define bytes_ptr(b)	((b)->data + (b)->start)

/* ae_bytes_reserve() when the room is not there yet: moves or grows. */
char	*ae_bytes_reserve_grow(struct bytes *, size_t n);

/*
 * Room for n more bytes after the last; ae_bytes_commit() says how many.
 * Inline: every packet sent asks it, and mostly the room is there.
 */
static inline char *
ae_bytes_reserve(struct bytes *b, size_t n)
{
	if (b->start + b->len + n <= b->cap)
		return b->data + b->start + b->len;
	return ae_bytes_reserve_grow(b, n);
}

static inline void
ae_bytes_commit(struct bytes *b, size_t n)
{
	b->len += n;
}
void	 ae_bytes_add(struct bytes *, const void *, size_t);
/* Appends all of from to to, leaving from empty. */
void	 ae_bytes_move(struct bytes *to, struct bytes *from);
/* Drops n bytes from the front; an empty queue gives large blocks back. */
void	 ae_bytes_consume(struct bytes *, size_t n);
void	 ae_bytes_free(struct bytes *);

#endif

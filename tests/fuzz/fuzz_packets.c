/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fuzz_packets.c: libFuzzer target holding the packet splitter to jansson's
 * idea of where a top-level array ends, in any chunking of the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wire.h"

#define MAXPKT	4096

struct result {
	size_t	offs[MAXPKT], lens[MAXPKT];
	size_t	n;
	int	error;
	size_t	pending;	/* bytes taken after the last packet; on an
				   error, how far earlier feeds got */
};

/* Chunk sizes come from the input, so that a crash replays exactly. */
static size_t
next_chunk(uint32_t *x, size_t left)
{
	size_t	c;

	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	switch (*x & 3) {
	case 0:
		c = 1;
		break;
	case 1:
		c = (*x >> 8) % 8 + 1;
		break;
	case 2:
		c = (*x >> 8) % 512 + 1;
		break;
	default:
		c = left;
		break;
	}
	return c < left ? c : left;
}

/* Feed data as it would arrive (seed 0: all at once), recording packets. */
static void
run(const uint8_t *data, size_t size, size_t max, uint32_t seed,
    struct result *r)
{
	struct aemp_scan	 s;
	size_t			 arrived = 0, pos = 0, base = 0, i;
	ssize_t			 k;

	memset(r, 0, sizeof *r);
	ae_scan_init(&s, max);
	while (arrived < size && !r->error) {
		arrived += seed ? next_chunk(&seed, size - arrived) :
		    size - arrived;
		while (pos < arrived) {
			k = ae_scan_feed(&s, (const char *)data + pos,
			    arrived - pos);
			if (k < 0) {
				r->error = 1;
				break;
			}
			pos += k;
			if (!s.done) {
				if (pos != arrived)
					abort();	/* must take it all */
				break;
			}
			if (base + s.skip + s.len != pos || s.len < 2 ||
			    data[pos - s.len] != '[' || data[pos - 1] != ']')
				abort();
			if (max != 0 && (s.len > max || s.skip > max))
				abort();
			for (i = base; i < base + s.skip; i++)
				if (strchr(" \t\r\n", data[i]) == NULL ||
				    data[i] == '\0')
					abort();
			if (r->n == MAXPKT)
				abort();
			r->offs[r->n] = base + s.skip;
			r->lens[r->n++] = s.len;
			base = pos;
			ae_scan_reset(&s);
		}
	}
	r->pending = pos - base;
	ae_scan_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct result	 whole, chunked;	/* too big for a stack */
	json_error_t		 e;
	json_t			*j;
	const uint8_t		*nul;
	size_t			 max = 0, i, b, first, clean;
	uint32_t		 seed;

	if (size < 2)
		return 0;
	seed = data[0] | 0x100;
	if (data[1] & 0x80)
		max = (size_t)(data[1] & 0x7f) * 3 + 2;
	data += 2;
	size -= 2;
	if (size / 2 > MAXPKT)
		return 0;

	/* The chunking must not change anything. */
	run(data, size, max, 0, &whole);
	run(data, size, max, seed, &chunked);
	if (whole.n != chunked.n || whole.error != chunked.error ||
	    (!whole.error && whole.pending != chunked.pending))
		abort();
	for (i = 0; i < whole.n; i++)
		if (whole.offs[i] != chunked.offs[i] ||
		    whole.lens[i] != chunked.lens[i])
			abort();

	/* A packet jansson can read must end exactly where jansson stops. */
	for (i = 0; i < whole.n; i++) {
		j = json_loadb((const char *)data + whole.offs[i],
		    whole.lens[i], 0, &e);
		if (j != NULL && !json_is_array(j))
			abort();
		json_decref(j);
		j = json_loadb((const char *)data + whole.offs[i],
		    size - whole.offs[i], JSON_DISABLE_EOF_CHECK, &e);
		if (j != NULL && (size_t)e.position != whole.lens[i])
			abort();
		json_decref(j);
	}

	/*
	 * And the other way: wherever a packet may start, an array jansson
	 * reads there must have been found, with the same length (unless the
	 * cap forbade it).
	 */
	for (i = 0; i <= whole.n; i++) {
		b = i == 0 ? 0 : whole.offs[i - 1] + whole.lens[i - 1];
		for (first = b; first < size &&
		    strchr(" \t\r\n", data[first]) != NULL &&
		    data[first] != '\0'; first++)
			;
		if (first == size || data[first] != '[')
			continue;
		/*
		 * jansson skips a NUL after a scalar ("[2\0]" is [2]), which
		 * the splitter refuses: stop jansson at the first NUL.
		 */
		nul = memchr(data + first, '\0', size - first);
		clean = nul != NULL ? (size_t)(nul - data) : size;
		j = json_loadb((const char *)data + first, clean - first,
		    JSON_DISABLE_EOF_CHECK, &e);
		if (j != NULL && json_is_array(j) && (max == 0 ||
		    (first - b <= max && (size_t)e.position <= max))) {
			if (i == whole.n || whole.offs[i] != first ||
			    whole.lens[i] != (size_t)e.position)
				abort();
		}
		json_decref(j);
	}
	return 0;
}

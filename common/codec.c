/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * codec.c: the JSON fast paths of the data phase: reading and writing
 * packets of the shapes nearly all traffic has without jansson's lexer
 * and per-token callbacks, falling back to jansson for everything else.
 * Whatever these accept or write, jansson would read or write the same.
 */
#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "xmalloc.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#define FAST_DEPTH	32	/* nesting the fast paths handle */
#define DUMP_GUESS	2048	/* room a packet is first formatted into */
#define SPARE_VALUES	16	/* values a spare message may hold */
#define SPARE_STRING	1024	/* bytes a string in it may hold */

static char	*perl_dump_into(json_t *, struct bytes *, size_t, size_t *);

/* Port names that go into JSON as they are: printable ASCII, no escapes. */
int
ae_codec_plain_name(const char *name, size_t *len)
{
	size_t n = strlen(name);

	if (ae_plain_span(name, n) != n)
		return 0;
	*len = n;
	return 1;
}

/*
 * Writes v in decimal as jansson does into p (FAST_INT bytes at least):
 * the digits are counted first and then written in place, two a
 * division, with no copy.
 */
size_t
ae_fast_int(json_int_t v, char *p)
{
	static const char pairs[] =
	    "00010203040506070809101112131415161718192021222324"
	    "25262728293031323334353637383940414243444546474849"
	    "50515253545556575859606162636465666768697071727374"
	    "75767778798081828384858687888990919293949596979899";
	static const unsigned long long pow10[20] = {
		1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
		10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
		100000000000ULL, 1000000000000ULL, 10000000000000ULL,
		100000000000000ULL, 1000000000000000ULL,
		10000000000000000ULL, 100000000000000000ULL,
		1000000000000000000ULL, 10000000000000000000ULL
	};
	unsigned long long u = (unsigned long long)v;
	size_t neg = 0, n, i;

	if (v < 0) {
		u = 0 - u;
		p[0] = '-';
		neg = 1;
	}
	/*
	 * The digits from the bits: 1233 / 4096 is just under log10(2), so
	 * n is the count or one short of it (1 to 20 digits).
	 */
	n = (size_t)(64 - __builtin_clzll(u | 1)) * 1233 >> 12;
	n += u >= pow10[n];
	if (n == 0)
		n = 1;
	i = neg + n;
	while (u >= 100) {
		memcpy(p + (i -= 2), pairs + 2 * (u % 100), 2);
		u /= 100;
	}
	if (u >= 10)
		memcpy(p + i - 2, pairs + 2 * u, 2);
	else
		p[i - 1] = (char)('0' + u);
	return neg + n;
}

/*
 * A string of plain bytes or an integer, what messages are mostly made
 * of, written as ae_fast_dump() writes it, inline where an array's
 * elements are written: -1 when it does not fit, -2 when it is another
 * value (ae_fast_dump() then takes it).
 */
static inline ssize_t
dump_scalar(json_t *v, char *p, size_t size)
{
	const char *str;
	char digits[FAST_INT];
	size_t n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		str = json_string_value(v);
		n = json_string_length(v);
		/* too long even as it is: no need to look at its bytes */
		if (n + 2 > size)
			return -1;
		if (ae_plain_span(str, n) < n)
			return -2;
		p[0] = '"';
		memcpy(p + 1, str, n);
		p[n + 1] = '"';
		return (ssize_t)(n + 2);
	case JSON_INTEGER:
		if (size >= FAST_INT)
			return (ssize_t)ae_fast_int(json_integer_value(v), p);
		n = ae_fast_int(json_integer_value(v), digits);
		if (n > size)
			return -1;
		memcpy(p, digits, n);
		return (ssize_t)n;
	default:
		return -2;
	}
}

/*
 * Writes v into p (size bytes) exactly as json_dumpb(v, JSON_COMPACT)
 * would, for what messages are mostly made of: jansson formats every
 * integer with snprintf() and pays a callback per token, which made
 * formatting the larger part of sending. Values it does not handle
 * itself (objects, reals, strings with escapes or non-ASCII bytes, deep
 * nesting) are dumped by jansson in place. Returns the length, or -1
 * when v does not fit or cannot be dumped.
 */
ssize_t
ae_fast_dump(json_t *v, char *p, size_t size, int depth)
{
	size_t len = 0, i, n;
	ssize_t got;
	const char *str;

	switch (json_typeof(v)) {
	case JSON_ARRAY:
		if (depth >= FAST_DEPTH)
			break;
		n = json_array_size(v);
		if (size < 2)
			return -1;
		p[len++] = '[';
		for (i = 0; i < n; i++) {
			json_t *e = json_array_get(v, i);
			if (i > 0) {
				if (len >= size)
					return -1;
				p[len++] = ',';
			}
			if ((got = dump_scalar(e, p + len, size - len)) == -2)
				got = ae_fast_dump(e, p + len, size - len,
				    depth + 1);
			if (got < 0)
				return -1;
			len += (size_t)got;
		}
		if (len >= size)
			return -1;
		p[len++] = ']';
		return (ssize_t)len;
	case JSON_STRING:
	case JSON_INTEGER:
		/* a string that needs escapes is jansson's, below */
		if ((got = dump_scalar(v, p, size)) != -2)
			return got;
		break;
	case JSON_TRUE:
		str = "true";
		goto literal;
	case JSON_FALSE:
		str = "false";
		goto literal;
	case JSON_NULL:
		str = "null";
	literal:
		n = strlen(str);
		if (n > size)
			return -1;
		memcpy(p, str, n);
		return (ssize_t)n;
	default:
		break;
	}
	n = json_dumpb(v, p, size, JSON_COMPACT | JSON_ENCODE_ANY);
	return n == 0 || n > size ? -1 : (ssize_t)n;
}

/*
 * ae_plain_span() past its first 32 bytes, many at a time: large string
 * payloads spent most of their time in a byte-by-byte test. With SSE2,
 * bytes below 0x20 and above 0x7f are those below 0x20 as signed bytes.
 */
#if defined(__x86_64__) && defined(__GNUC__)
/* 64 bytes a step where the CPU has AVX2, twice what SSE2 does. */
__attribute__((target("avx2"))) static size_t
plain_span_avx2(const char *p, size_t n)
{
	const __m256i space = _mm256_set1_epi8(0x20);
	const __m256i del = _mm256_set1_epi8(0x7f);
	const __m256i quote = _mm256_set1_epi8('"');
	const __m256i bsl = _mm256_set1_epi8('\\');
	__m256i a, b, bad;
	size_t i = 0;

	for (; i + 64 <= n; i += 64) {
		a = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));
		b = _mm256_loadu_si256((const __m256i *)(const void *)(p + i +
		    32));
		bad = _mm256_or_si256(_mm256_or_si256(_mm256_cmpgt_epi8(space,
		    a), _mm256_cmpeq_epi8(a, del)), _mm256_or_si256(
		    _mm256_cmpeq_epi8(a, quote), _mm256_cmpeq_epi8(a, bsl)));
		bad = _mm256_or_si256(bad, _mm256_or_si256(_mm256_or_si256(
		    _mm256_cmpgt_epi8(space, b), _mm256_cmpeq_epi8(b, del)),
		    _mm256_or_si256(_mm256_cmpeq_epi8(b, quote),
		    _mm256_cmpeq_epi8(b, bsl))));
		if (_mm256_movemask_epi8(bad) != 0)
			break;
	}
	return i;
}
#endif

size_t
ae_plain_span_long(const char *p, size_t n)
{
	size_t i = 0;

#if defined(__x86_64__) && defined(__GNUC__)
	if (n >= 256 && __builtin_cpu_supports("avx2"))
		i += plain_span_avx2(p + i, n - i);
#endif
#ifdef __SSE2__
	const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
	const __m128i quote = _mm_set1_epi8('"'), bsl = _mm_set1_epi8('\\');
	__m128i a, b, bad;

	for (; i + 32 <= n; i += 32) {
		a = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		b = _mm_loadu_si128((const __m128i *)(const void *)(p + i +
		    16));
		bad = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(a, space),
		    _mm_cmpeq_epi8(a, del)), _mm_or_si128(_mm_cmpeq_epi8(a,
		    quote), _mm_cmpeq_epi8(a, bsl)));
		bad = _mm_or_si128(bad, _mm_or_si128(_mm_or_si128(
		    _mm_cmplt_epi8(b, space), _mm_cmpeq_epi8(b, del)),
		    _mm_or_si128(_mm_cmpeq_epi8(b, quote), _mm_cmpeq_epi8(b,
		    bsl))));
		if (_mm_movemask_epi8(bad) != 0)
			break;
	}
#else
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (plain_mask(w) != 0)
			break;
	}
#endif
	while (i < n && plain_byte((unsigned char)p[i]))
		i++;
	return i;
}

size_t
ae_plain_tail(const char *p, size_t i, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t w, m;
	uint32_t a, b;
	size_t k;

	/* the last 8 bytes, or 4 and 4, overlapping what is known plain */
	if (n >= 8) {
		memcpy(&w, p + n - 8, 8);
		m = plain_mask(w);
		return m == 0 ? n : n - 8 + (size_t)__builtin_ctzll(m) / 8;
	}
	if (n - i >= 4) {
		/* a flag in the high half has none below it: exact too */
		memcpy(&a, p + i, 4);
		memcpy(&b, p + n - 4, 4);
		w = (uint64_t)a | (uint64_t)b << 32;
		if ((m = plain_mask(w)) == 0)
			return n;
		k = (size_t)__builtin_ctzll(m) / 8;
		return k < 4 ? i + k : n - 8 + k;
	}
#endif
	while (i < n && plain_byte((unsigned char)p[i]))
		i++;
	return i;
}

/*
 * json_string(s), without jansson's byte-by-byte UTF-8 check when s is
 * ASCII (tested eight bytes at a time), which is most of the cost of a
 * large string: NULL when s is not UTF-8, as json_string().
 */
json_t *
ae_json_string_fast(const char *s)
{
	const uint64_t high = 0x8080808080808080ULL;
	size_t len = strlen(s), i;
	uint64_t w, any = 0;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		any |= w;
	}
	for (; i < len; i++)
		any |= (unsigned char)s[i];
	if (any & high)
		return json_stringn(s, len);
	return json_stringn_nocheck(s, len);
}

/*
 * Room that v takes as compact JSON, guessed from its shape without
 * looking at string bytes: exact for what ae_fast_dump() writes itself, with
 * some slack for escapes. Values it does not know count DUMP_GUESS.
 */
size_t
ae_dump_estimate(json_t *v, int depth)
{
	size_t i, n, sum;

	switch (json_typeof(v)) {
	case JSON_ARRAY:
		if (depth >= FAST_DEPTH)
			return DUMP_GUESS;
		n = json_array_size(v);
		for (sum = 2, i = 0; i < n; i++)
			sum += ae_dump_estimate(json_array_get(v, i),
			    depth + 1) + 1;
		return sum;
	case JSON_STRING:
		n = json_string_length(v);
		return n + n / 8 + 2;
	case JSON_INTEGER:
		return 20;
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		return 5;
	default:
		return DUMP_GUESS;
	}
}

static int
dump_to_bytes(const char *buf, size_t size, void *data)
{
	ae_bytes_add(data, buf, size);
	return 0;
}

/*
 * Appends ["NAME",MSG...] to out (name NULL: msg as it is), msg untouched:
 * the name goes in front of msg's own elements, so that a packet needs no
 * new array. The packet is formatted once, straight into out's free space:
 * by ae_fast_dump() into room guessed from msg's shape, else (escapes beyond
 * the guess, objects, reals) by jansson's callback dump appending to out.
 * Nothing is appended when msg cannot be dumped.
 */
int
ae_json_dump_named(const char *name, size_t len, json_t *msg, struct bytes *out)
{
	size_t pre = name != NULL ? len + 3 : 0, room = pre + DUMP_GUESS, need;
	size_t at = out->len, est;
	char *p = ae_bytes_reserve(out, room);
	ssize_t got = ae_fast_dump(msg, p + pre, room - pre, 0);

	if (got < 0 && (est = ae_dump_estimate(msg, 0)) > DUMP_GUESS) {
		room = pre + est;
		p = ae_bytes_reserve(out, room);
		got = ae_fast_dump(msg, p + pre, room - pre, 0);
	}
	if (got >= 0)
		need = (size_t)got;
	else {
		/* pre bytes held for the name, then jansson appends */
		ae_bytes_commit(out, pre);
		need = json_dump_callback(msg, dump_to_bytes, out,
		    JSON_COMPACT) == 0 ? out->len - at - pre : 0;
		out->len = at;
		p = bytes_ptr(out) + at;
	}
	/* jansson refuses lone surrogates (Perl's bytes): written as Perl does */
	if (need == 0 && (p = perl_dump_into(msg, out, pre, &need)) == NULL)
		return -1;
	if (need < 2)
		return -1;
	if (name != NULL) {
		p[0] = '[';
		p[1] = '"';
		memcpy(p + 2, name, len);
		p[len + 2] = '"';
		/* msg's '[' becomes the separator, or its "[]" the end */
		if (need == 2)
			p[pre] = ']', need = 1;
		else
			p[pre] = ',';
	}
	ae_bytes_commit(out, pre + need);
	return 0;
}

int
ae_json_dump_packet(json_t *pkt, struct bytes *out)
{
	return ae_json_dump_named(NULL, 0, pkt, out);
}

/*
 * An integer of up to 18 digits at p, ended by ',' or ']' before end,
 * into *num: returns its end, or NULL for anything else (leading zeros,
 * fractions and exponents, which are reals, too). p is a value inside a
 * packet that ae_fast_packet() reads (4 bytes past its start at least).
 */
static const char *
read_int(const char *p, const char *end, json_int_t *num)
{
	const char *q = p, *first;
	uint64_t v = 0;
	unsigned d;
	int neg = 0;

	if (q < end && *q == '-') {
		neg = 1;
		q++;
	}
	first = q;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/*
	 * Up to 7 digits (counters, IDs, sizes) from one word: the 8 bytes
	 * at q, or at the end of a packet the last 8, shifted down (the
	 * upper bytes zero: no digits). A value starts 4 bytes into its
	 * packet at least ('[', the name's quotes, ','), so with 4 left those
	 * are the packet's. Counted and converted without a step per digit;
	 * more digits, or fewer than 4 bytes, take the loop.
	 */
	if (end - q >= 4) {
		uint64_t w, x, nd;
		unsigned cnt, have = 8;

		if (end - q >= 8)
			memcpy(&w, q, 8);
		else {
			have = (unsigned)(end - q);
			memcpy(&w, end - 8, 8);
			w >>= 8 * (8 - have);
		}
		/* a digit is 0 to 9 here; the lowest flag is exact */
		x = w ^ 0x3030303030303030ULL;
		nd = (x | (x + 0x7676767676767676ULL)) & 0x8080808080808080ULL;
		cnt = nd == 0 ? 8 : (unsigned)__builtin_ctzll(nd) / 8;
		/* what ends the digits is among the bytes read */
		if (cnt < have) {
			if (cnt > 0) {
				/* the digits to the top, zeros below them */
				x <<= 8 * (8 - cnt);
				x = x * 10 + (x >> 8);
				v = ((x & 0x000000FF000000FFULL) *
				    (100 + (1000000ULL << 32)) +
				    ((x >> 16) & 0x000000FF000000FFULL) *
				    (1 + (10000ULL << 32))) >> 32;
			}
			q += cnt;
			goto read;
		}
	}
#endif
	/* v wraps past 19 digits: those are refused below */
	for (; q < end && (d = (unsigned char)*q - '0') <= 9; q++)
		v = v * 10 + d;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
read:
#endif
	if (q == first || q - first > 18 || q >= end ||
	    (*q != ',' && *q != ']') || (q - first > 1 && *first == '0'))
		return NULL;
	*num = neg ? -(json_int_t)v : (json_int_t)v;
	return q;
}

/*
 * One value of a packet in the shapes nearly all traffic has: strings of
 * plain bytes, integers of up to 18 digits, true, false, null and arrays
 * of those, in compact form. Returns the end of the value with *out set,
 * or NULL for anything else or a value that runs past end.
 */
static const char *
fast_value(const char *p, const char *end, json_t **out, int depth)
{
	const char *q;
	json_t *v;
	json_int_t num;
	int digits;

	if (p >= end)
		return NULL;
	switch (*p) {
	case '"':
		q = p + 1 + ae_plain_span(p + 1, (size_t)(end - p - 1));
		if (q >= end || *q != '"')
			return NULL;
		*out = json_stringn_nocheck(p + 1, (size_t)(q - p - 1));
		return q + 1;
	case '[':
		if (depth >= FAST_DEPTH)
			return NULL;
		*out = json_array();
		if (++p < end && *p == ']')
			return p + 1;
		for (;;) {
			if ((p = fast_value(p, end, &v, depth + 1)) == NULL)
				break;
			json_array_append_new(*out, v);
			if (p >= end)
				break;
			if (*p == ']')
				return p + 1;
			if (*p++ != ',')
				break;
		}
		json_decref(*out);
		return NULL;
	case 't':
		q = "true";
		goto literal;
	case 'f':
		q = "false";
		goto literal;
	case 'n':
		q = "null";
	literal:
		digits = (int)strlen(q);
		/* what follows must end it: "truex" is not a literal */
		if (end - p <= digits || memcmp(p, q, (size_t)digits) != 0 ||
		    (p[digits] != ',' && p[digits] != ']'))
			return NULL;
		*out = *q == 't' ? json_true() : *q == 'f' ? json_false() :
		    json_null();
		return p + digits;
	default:
		break;
	}
	if ((q = read_int(p, end, &num)) == NULL)
		return NULL;
	*out = json_integer(num);
	return q;
}

/*
 * fast_value() into r's next value: a string or an integer goes where
 * ae_refill_string() and ae_refill_int() put it.
 */
static const char *
refill_value(const char *p, const char *end, struct refill *r)
{
	const char *q;
	json_int_t num;
	json_t *v;

	if (p >= end)
		return NULL;
	if (*p == '"') {
		q = p + 1 + ae_plain_span(p + 1, (size_t)(end - p - 1));
		if (q >= end || *q != '"' ||
		    ae_refill_string(r, p + 1, (size_t)(q - p - 1)) != 0)
			return NULL;
		return q + 1;
	}
	if ((*p >= '0' && *p <= '9') || *p == '-') {
		if ((q = read_int(p, end, &num)) == NULL)
			return NULL;
		ae_refill_int(r, num);
		return q;
	}
	if ((q = fast_value(p, end, &v, 1)) != NULL)
		ae_refill_put(r, v);
	return q;
}

/*
 * Parses ["NAME",VALUE...] at p straight into a message, without the
 * splitter's pass and jansson's lexer: the shapes fast_value() accepts are
 * read by jansson the same way. Returns the packet's length with name
 * (NUL-terminated) and *msg set, or 0 when the packet is of another shape,
 * longer than max, or runs past len: the general path then takes it.
 * A first value that is a string of plain bytes, the tag most messages
 * start with, is not put into *msg: *tag points to it in p (*taglen
 * bytes), so that a tag receiver needs no string made and removed again.
 * *tag is NULL when there is none.
 */
size_t
ae_fast_packet(const char *p, size_t len, size_t max, char name[FAST_NAME],
    const char **tag, size_t *taglen, json_t **msg, json_t **spare)
{
	const char *end = p + len, *q, *at;
	struct refill r;

	if (len < 4 || p[0] != '[' || p[1] != '"')
		return 0;
	q = p + 2 + ae_plain_span(p + 2, len - 2);
	if (q + 1 >= end || *q != '"' || q - p - 2 >= FAST_NAME)
		return 0;
	memcpy(name, p + 2, (size_t)(q - p - 2));
	name[q - p - 2] = '\0';
	at = q + 1;
	*tag = NULL;
	*taglen = 0;
	if (at + 1 < end && at[0] == ',' && at[1] == '"') {
		q = at + 2 + ae_plain_span(at + 2, (size_t)(end - at - 2));
		if (q + 1 >= end || *q != '"')
			return 0;
		*tag = at + 2;
		*taglen = (size_t)(q - at - 2);
		at = q + 1;
	}
	ae_refill_start(&r, spare);
	while (*at == ',')
		if ((at = refill_value(at + 1, end, &r)) == NULL || at >= end) {
			json_decref(r.msg);
			return 0;
		}
	if (*at != ']' || (max != 0 && (size_t)(at + 1 - p) > max)) {
		json_decref(r.msg);
		return 0;
	}
	*msg = ae_refill_end(&r);
	return (size_t)(at + 1 - p);
}

/*
 * Keeps msg, which a receiver is done with, as the spare that the next
 * ae_fast_packet() fills rather than building a message: its array, and the
 * strings and integers in it that nothing else holds, are used again
 * (jansson allocates five blocks for ["test",1,"payload"], which with
 * their freeing were most of what a small message cost to receive). A
 * message that anything else still holds, or that holds large strings,
 * is released as before.
 */
void
ae_fast_packet_done(json_t **spare, json_t *msg)
{
	size_t i, n;
	json_t *v;

	if (*spare != NULL || msg->refcount != 1 || !json_is_array(msg) ||
	    (n = json_array_size(msg)) > SPARE_VALUES) {
		json_decref(msg);
		return;
	}
	for (i = 0; i < n; i++) {
		v = json_array_get(msg, i);
		if (json_is_string(v) && json_string_length(v) > SPARE_STRING) {
			json_decref(msg);
			return;
		}
	}
	*spare = msg;
}

/* --- what Perl sends that jansson refuses ---------------------------------- */

#define PERL_DEPTH	2048	/* jansson's JSON_PARSER_MAX_DEPTH */

/* The lenient parser's state: input left, and a buffer for strings. */
struct perl_lex {
	const char	*p, *end;
	const char	*bad;		/* why a value cannot be kept, or NULL */
	char		*buf;
	size_t		 len, cap;
	int		 depth;
};

static void
lex_put(struct perl_lex *lx, const void *s, size_t n)
{
	if (lx->len + n > lx->cap) {
		size_t cap = lx->cap ? lx->cap : 64;
		while (cap < lx->len + n)
			cap *= 2;
		if ((lx->buf = realloc(lx->buf, cap)) == NULL)
			abort();
		lx->cap = cap;
	}
	memcpy(lx->buf + lx->len, s, n);
	lx->len += n;
}

/* Code point c (up to 0x10ffff, surrogates too) as (generalised) UTF-8. */
static void
lex_put_utf8(struct perl_lex *lx, unsigned long c)
{
	unsigned char u[4];
	size_t n;

	if (c < 0x80) {
		u[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (unsigned char)(0xc0 | c >> 6);
		u[1] = (unsigned char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		u[0] = (unsigned char)(0xe0 | c >> 12);
		u[1] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | c >> 18);
		u[1] = (unsigned char)(0x80 | (c >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (c & 0x3f));
		n = 4;
	}
	lex_put(lx, u, n);
}

static void
lex_ws(struct perl_lex *lx)
{
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' ||
	    *lx->p == '\n' || *lx->p == '\r'))
		lx->p++;
}

static long
lex_hex4(const char *p, const char *end)
{
	long v = 0;
	int i;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * Length of the UTF-8 sequence at p, Perl's way: a surrogate (ED A0..BF
 * xx, which JSON::XS writes for a string holding one) counts as a
 * character. 0 for bytes that are no character at all.
 */
static size_t
perl_utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (*p < 0x80)
		return 1;
	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef) {
		n = 3;
		if (*p == 0xe0)
			lo = 0xa0;
	} else if (*p >= 0xf0 && *p <= 0xf4) {
		n = 4;
		if (*p == 0xf0)
			lo = 0x90;
		else if (*p == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Whether s (n bytes) is UTF-8, surrogates included (see above). */
int
ae_perl_utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	size_t len;

	for (; p < end; p += len)
		if ((len = perl_utf8_len(p, end)) == 0)
			return 0;
	return 1;
}

size_t
ae_utf8_printable_len(const char *s, const char *end)
{
	const unsigned char *p = (const unsigned char *)s;

	if (p >= (const unsigned char *)end || *p < 0x20 || *p == 0x7f ||
	    (*p == 0xc2 && end - s >= 2 && p[1] < 0xa0))
		return 0;
	return perl_utf8_len(p, (const unsigned char *)end);
}

char *
ae_text_visible(const char *s, size_t n, size_t max)
{
	const char *end = s + (n < max ? n : max);
	char *out = ae_xmalloc(4 * (size_t)(end - s) + 4), *q = out;
	size_t len;

	while (s < end) {
		if ((len = ae_utf8_printable_len(s, end)) == 0) {
			q += sprintf(q, "\\x%02x", (unsigned char)*s++);
			continue;
		}
		memcpy(q, s, len);
		q += len;
		s += len;
	}
	if (n > max)
		q = stpcpy(q, "...");
	*q = '\0';
	return out;
}

/*
 * The string at lx->p (its opening quote) into lx->buf. Lone surrogate
 * escapes become the three bytes Perl holds for them; bytes that are no
 * UTF-8 are kept but mark the value as one that cannot be represented.
 * Returns -1 on a syntax error.
 */
static int
lex_string(struct perl_lex *lx)
{
	const char *p = lx->p + 1;
	long c, lo;
	size_t n;

	lx->len = 0;
	for (;;) {
		if (p >= lx->end)
			return -1;
		if (*p == '"')
			break;
		if ((unsigned char)*p < 0x20)
			return -1;
		if (*p != '\\') {
			n = perl_utf8_len((const unsigned char *)p,
			    (const unsigned char *)lx->end);
			if (n == 0) {
				lx->bad = "a string that is not UTF-8";
				n = 1;
			}
			lex_put(lx, p, n);
			p += n;
			continue;
		}
		if (++p >= lx->end)
			return -1;
		switch (*p++) {
		case '"': lex_put(lx, "\"", 1); break;
		case '\\': lex_put(lx, "\\", 1); break;
		case '/': lex_put(lx, "/", 1); break;
		case 'b': lex_put(lx, "\b", 1); break;
		case 'f': lex_put(lx, "\f", 1); break;
		case 'n': lex_put(lx, "\n", 1); break;
		case 'r': lex_put(lx, "\r", 1); break;
		case 't': lex_put(lx, "\t", 1); break;
		case 'u':
			if ((c = lex_hex4(p, lx->end)) < 0)
				return -1;
			p += 4;
			/* a pair is one character, as jansson reads it */
			if (c >= 0xd800 && c <= 0xdbff && lx->end - p >= 6 &&
			    p[0] == '\\' && p[1] == 'u' &&
			    (lo = lex_hex4(p + 2, lx->end)) >= 0xdc00 &&
			    lo <= 0xdfff) {
				c = 0x10000 + ((c - 0xd800) << 10) +
				    (lo - 0xdc00);
				p += 6;
			}
			lex_put_utf8(lx, (unsigned long)c);
			break;
		default:
			return -1;
		}
	}
	lx->p = p + 1;
	return 0;
}

/*
 * A number: integers beyond int64 become strings of their exact digits
 * (what JSON::XS makes of numbers it cannot hold), reals beyond the
 * doubles the largest double of that sign.
 */
static json_t *
lex_number(struct perl_lex *lx)
{
	const char *p = lx->p, *start = p;
	char text[64], *copy = text, *dot;
	size_t n;
	int real = 0;
	json_t *v;

	if (p < lx->end && *p == '-')
		p++;
	if (p >= lx->end || *p < '0' || *p > '9')
		return NULL;
	if (*p == '0')
		p++;
	else
		while (p < lx->end && *p >= '0' && *p <= '9')
			p++;
	if (p < lx->end && *p == '.') {
		real = 1;
		if (++p >= lx->end || *p < '0' || *p > '9')
			return NULL;
		while (p < lx->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < lx->end && (*p == 'e' || *p == 'E')) {
		real = 1;
		if (++p < lx->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= lx->end || *p < '0' || *p > '9')
			return NULL;
		while (p < lx->end && *p >= '0' && *p <= '9')
			p++;
	}
	n = (size_t)(p - start);
	if (n >= sizeof text && (copy = malloc(n + 1)) == NULL)
		abort();
	memcpy(copy, start, n);
	copy[n] = '\0';
	errno = 0;
	if (!real) {
		long long i = strtoll(copy, NULL, 10);
		v = errno == ERANGE ? json_stringn(start, n) : json_integer(i);
	} else {
		double d;
		/* strtod reads the locale's decimal point, as jansson allows */
		if ((dot = strchr(copy, '.')) != NULL)
			*dot = *localeconv()->decimal_point;
		d = strtod(copy, NULL);
		if (errno == ERANGE && isinf(d))
			d = copysign(DBL_MAX, d);
		v = json_real(d);
	}
	if (copy != text)
		free(copy);
	lx->p = p;
	return v;
}

static json_t *lex_value(struct perl_lex *);

static json_t *
lex_container(struct perl_lex *lx, int object)
{
	json_t *c = object ? json_object() : json_array(), *v;
	char *key = NULL;
	size_t keylen = 0;
	char close = object ? '}' : ']';

	if (++lx->depth > PERL_DEPTH)
		goto fail;
	lx->p++;
	lex_ws(lx);
	if (lx->p < lx->end && *lx->p == close) {
		lx->p++;
		lx->depth--;
		return c;
	}
	for (;;) {
		if (object) {
			if (lx->p >= lx->end || *lx->p != '"' ||
			    lex_string(lx) < 0)
				goto fail;
			if ((key = malloc(lx->len + 1)) == NULL)
				abort();
			if ((keylen = lx->len) > 0)
				memcpy(key, lx->buf, keylen);
			lex_ws(lx);
			if (lx->p >= lx->end || *lx->p++ != ':')
				goto fail;
			lex_ws(lx);
		}
		if ((v = lex_value(lx)) == NULL)
			goto fail;
		if (object) {
			/* keys may hold NUL bytes: jansson's length-taking call */
			json_object_setn_new_nocheck(c, key, keylen, v);
			free(key);
			key = NULL;
		} else
			json_array_append_new(c, v);
		lex_ws(lx);
		if (lx->p >= lx->end)
			goto fail;
		if (*lx->p == close) {
			lx->p++;
			break;
		}
		if (*lx->p++ != ',')
			goto fail;
		lex_ws(lx);
	}
	lx->depth--;
	return c;
fail:
	free(key);
	json_decref(c);
	return NULL;
}

static json_t *
lex_literal(struct perl_lex *lx, const char *word, json_t *v)
{
	size_t n = strlen(word);

	if ((size_t)(lx->end - lx->p) < n || memcmp(lx->p, word, n) != 0)
		return NULL;
	lx->p += n;
	return v;
}

static json_t *
lex_value(struct perl_lex *lx)
{
	if (lx->p >= lx->end)
		return NULL;
	switch (*lx->p) {
	case '[':
		return lex_container(lx, 0);
	case '{':
		return lex_container(lx, 1);
	case '"':
		if (lex_string(lx) < 0)
			return NULL;
		return json_stringn_nocheck(lx->len ? lx->buf : "", lx->len);
	case 't':
		return lex_literal(lx, "true", json_true());
	case 'f':
		return lex_literal(lx, "false", json_false());
	case 'n':
		return lex_literal(lx, "null", json_null());
	default:
		return lex_number(lx);
	}
}

json_t *
ae_perl_load(const char *p, size_t len, const char **bad)
{
	struct perl_lex lx;
	json_t *v;

	memset(&lx, 0, sizeof lx);
	lx.p = p;
	lx.end = p + len;
	lex_ws(&lx);
	v = lex_value(&lx);
	lex_ws(&lx);
	free(lx.buf);
	if (v != NULL && lx.p != lx.end) {
		json_decref(v);
		v = NULL;
	}
	*bad = lx.bad;
	return v;
}

int
ae_packet_decode(const char *p, size_t len, json_t **pkt, char **name,
    const char **why)
{
	json_t *first;
	const char *bad;

	*name = NULL;
	*why = NULL;
	/* jansson first: it reads nearly everything, and is the reference */
	if ((*pkt = json_loadb(p, len, JSON_ALLOW_NUL, NULL)) != NULL)
		return PACKET_OK;
	if ((*pkt = ae_perl_load(p, len, &bad)) == NULL) {
		*why = "protocol error: invalid JSON";
		return PACKET_CLOSE;
	}
	if (bad == NULL)
		return PACKET_OK;
	first = json_array_get(*pkt, 0);
	if (!json_is_array(*pkt) || !json_is_string(first)) {
		json_decref(*pkt);
		*pkt = NULL;
		*why = "protocol error: invalid JSON";
		return PACKET_CLOSE;
	}
	if (json_id(first) != NULL && ae_perl_utf8_ok(json_string_value(first),
	    json_string_length(first)))
		*name = strdup(json_id(first));
	json_decref(*pkt);
	*pkt = NULL;
	*why = bad;
	return PACKET_DROP;
}

/*
 * A string as jansson writes it, but its bytes checked Perl's way: a lone
 * surrogate goes out as the bytes JSON::XS writes for it and reads back
 * (it refuses a lone "\ud800" escape). -1 for bytes that are no UTF-8.
 */
static int
perl_dump_string(const char *s, size_t n, struct bytes *out)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	size_t len;
	char esc[8];

	if (!ae_perl_utf8_ok(s, n))
		return -1;
	ae_bytes_add(out, "\"", 1);
	for (; p < end; p += len) {
		const unsigned char *q = p;
		while (q < end && plain_byte(*q))
			q++;
		if (q > p) {
			ae_bytes_add(out, p, (size_t)(q - p));
			len = (size_t)(q - p);
			continue;
		}
		len = perl_utf8_len(p, end);
		if (len > 1 || *p == 0x7f) {
			ae_bytes_add(out, p, len);
			continue;
		}
		switch (*p) {
		case '"': ae_bytes_add(out, "\\\"", 2); break;
		case '\\': ae_bytes_add(out, "\\\\", 2); break;
		case '\b': ae_bytes_add(out, "\\b", 2); break;
		case '\f': ae_bytes_add(out, "\\f", 2); break;
		case '\n': ae_bytes_add(out, "\\n", 2); break;
		case '\r': ae_bytes_add(out, "\\r", 2); break;
		case '\t': ae_bytes_add(out, "\\t", 2); break;
		default:
			snprintf(esc, sizeof esc, "\\u%04X", *p);
			ae_bytes_add(out, esc, 6);
			break;
		}
	}
	ae_bytes_add(out, "\"", 1);
	return 0;
}

int
ae_perl_dump(json_t *v, struct bytes *out, int depth)
{
	const char *key;
	size_t i, keylen;
	json_t *e;
	char buf[64];
	size_t n;

	if (depth > PERL_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_ARRAY:
		ae_bytes_add(out, "[", 1);
		json_array_foreach(v, i, e) {
			if (i > 0)
				ae_bytes_add(out, ",", 1);
			if (ae_perl_dump(e, out, depth + 1) < 0)
				return -1;
		}
		ae_bytes_add(out, "]", 1);
		return 0;
	case JSON_OBJECT:
		ae_bytes_add(out, "{", 1);
		i = 0;
		json_object_keylen_foreach(v, key, keylen, e) {
			if (i++ > 0)
				ae_bytes_add(out, ",", 1);
			if (perl_dump_string(key, keylen, out) < 0)
				return -1;
			ae_bytes_add(out, ":", 1);
			if (ae_perl_dump(e, out, depth + 1) < 0)
				return -1;
		}
		ae_bytes_add(out, "}", 1);
		return 0;
	case JSON_STRING:
		return perl_dump_string(json_string_value(v),
		    json_string_length(v), out);
	default:
		n = json_dumpb(v, buf, sizeof buf, JSON_COMPACT |
		    JSON_ENCODE_ANY);
		if (n == 0 || n > sizeof buf)
			return -1;
		ae_bytes_add(out, buf, n);
		return 0;
	}
}

/*
 * What jansson cannot dump (lone surrogates in strings) dumped by
 * ae_perl_dump() into out's free space after pre bytes: returns that space
 * with *need set, or NULL.
 */
static char *
perl_dump_into(json_t *msg, struct bytes *out, size_t pre, size_t *need)
{
	struct bytes tmp = { NULL, 0, 0, 0 };
	char *p = NULL;

	if (ae_perl_dump(msg, &tmp, 0) == 0) {
		p = ae_bytes_reserve(out, pre + tmp.len);
		memcpy(p + pre, bytes_ptr(&tmp), tmp.len);
		*need = tmp.len;
	}
	ae_bytes_free(&tmp);
	return p;
}

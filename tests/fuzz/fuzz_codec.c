/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * fuzz_codec.c: libFuzzer target for the JSON fast paths: whatever
 * ae_fast_packet() accepts, jansson must read as the same packet (its
 * name, the tag it set apart, the message), and
 * ae_fast_dump() must write exactly what jansson writes.
 *
 * And for what Perl nodes send: whatever jansson reads, ae_perl_load() reads
 * identically (NUL bytes in keys compared too, which json_equal() does
 * not), and ae_perl_dump() writes what jansson writes; a packet made from
 * the input the way JSON::XS writes one (integers beyond int64, lone
 * surrogates raw and escaped, NUL bytes in keys, reals at and beyond the
 * limits in Perl's 15 digits) is never a reason to close a link: it is
 * delivered, and written back it reads as the same values.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* json_equal() with keys compared by their length and bytes. */
static int
same(json_t *a, json_t *b)
{
	const char *key;
	size_t len, i;
	json_t *v;

	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		json_array_foreach(a, i, v)
			if (!same(v, json_array_get(b, i)))
				return 0;
		return 1;
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_keylen_foreach(a, key, len, v) {
			json_t *w = json_object_getn(b, key, len);
			if (w == NULL || !same(v, w))
				return 0;
		}
		return 1;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b),
		    json_string_length(a)) == 0;
	case JSON_INTEGER:
		return json_integer_value(a) == json_integer_value(b);
	case JSON_REAL:
		return json_real_value(a) == json_real_value(b);
	default:
		return 1;
	}
}

/*
 * The packet ae_fast_packet() read from data (len bytes) against jansson's
 * reading of them.
 */
static void
check_read(const char *data, size_t len, const char *name, const char *tag,
    size_t taglen, json_t *msg)
{
	json_t *ref = json_loadb(data, len, 0, NULL), *mine;

	if (ref == NULL)
		abort();	/* accepted what jansson rejects */
	mine = json_pack("[s]", name);
	if (tag != NULL)
		json_array_append_new(mine, json_stringn(tag, taglen));
	json_array_extend(mine, msg);
	if (!json_equal(ref, mine))
		abort();
	json_decref(ref);
	json_decref(mine);
}

/*
 * Read once into a new message, and again into spare messages: the one
 * just read, and one of other shapes (values shared, a nested array, a
 * string too long to keep, one of each kind) that the packet's values
 * must replace or drop.
 */
static void
check_packet(const char *data, size_t size)
{
	char name[FAST_NAME];
	json_t *msg = NULL, *spare = NULL, *other = NULL;
	const char *tag;
	size_t taglen, len = ae_fast_packet(data, size, 0, name, &tag, &taglen,
	    &msg, NULL), again;
	int round;

	if (len == 0)
		return;
	if (len > size)
		abort();
	check_read(data, len, name, tag, taglen, msg);
	for (round = 0; round < 2; round++) {
		ae_fast_packet_done(&spare, msg);
		if (round == 1) {
			json_decref(spare);
			other = json_string("shared");
			spare = json_pack("[iOs[i]bnIsss]", 7, other, "x", 1,
			    1, (json_int_t)-3, "y", "z", "w");
		}
		msg = NULL;
		again = ae_fast_packet(data, size, 0, name, &tag, &taglen, &msg,
		    &spare);
		if (again != len || spare != NULL)
			abort();
		check_read(data, len, name, tag, taglen, msg);
	}
	/* the value the spare shared is untouched */
	if (strcmp(json_string_value(other), "shared") != 0)
		abort();
	json_decref(other);
	json_decref(msg);
}

static void
check_dump(const char *data, size_t size)
{
	json_t *v = json_loadb(data, size, JSON_DECODE_ANY, NULL);
	char mine[4096], *ref;
	ssize_t n;

	if (v == NULL)
		return;
	ref = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	n = ae_fast_dump(v, mine, sizeof mine, 0);
	if (n >= 0 && (ref == NULL || strlen(ref) != (size_t)n ||
	    memcmp(ref, mine, (size_t)n) != 0))
		abort();	/* wrote other bytes than jansson */
	/* the whole packet, whichever way it is formatted, and the name */
	if (json_is_array(v)) {
		struct bytes out = { 0 };
		json_t *named = json_pack("[s]", "nm");
		char *want;
		ae_bytes_add(&out, "x", 1);	/* something queued before */
		json_array_extend(named, v);
		want = json_dumps(named, JSON_COMPACT);
		if (ae_json_dump_named("nm", 2, v, &out) == 0 ? want == NULL ||
		    out.len != strlen(want) + 1 ||
		    memcmp(bytes_ptr(&out) + 1, want, out.len - 1) != 0 :
		    want != NULL || out.len != 1)
			abort();
		free(want);
		json_decref(named);
		ae_bytes_free(&out);
	}
	free(ref);
	json_decref(v);
}

/*
 * ae_perl_load() against jansson on the raw input. A NUL byte outside
 * strings is left out: jansson 2.14 reads "[2\0]" as [2], and the
 * splitter refuses such streams before either parser sees them.
 */
static void
check_lenient(const char *data, size_t size)
{
	json_t *ref, *mine;
	const char *bad;
	struct bytes out = { NULL, 0, 0, 0 };
	char *text;

	mine = ae_perl_load(data, size, &bad);
	if (memchr(data, '\0', size) != NULL) {
		json_decref(mine);
		return;
	}
	ref = json_loadb(data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (ref != NULL) {
		if (mine == NULL || bad != NULL || !same(ref, mine))
			abort();	/* read otherwise than jansson */
		text = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
		if (ae_perl_dump(mine, &out, 0) < 0 || text == NULL ||
		    strlen(text) != out.len ||
		    memcmp(text, bytes_ptr(&out), out.len) != 0)
			abort();	/* wrote otherwise than jansson */
		free(text);
	}
	ae_bytes_free(&out);
	json_decref(ref);
	json_decref(mine);
}

/* --- packets as JSON::XS writes them ------------------------------------- */

struct gen {
	const uint8_t	*p, *end;
	struct bytes	 out;
};

static unsigned
take(struct gen *g)
{
	return g->p < g->end ? *g->p++ : 0;
}

static void
put(struct gen *g, const char *s)
{
	ae_bytes_add(&g->out, s, strlen(s));
}

/* A string's body: the characters JSON::XS writes raw or escaped. */
static void
gen_chars(struct gen *g)
{
	unsigned n = take(g) % 6, i, c;
	char buf[16];

	for (i = 0; i < n; i++) {
		switch (take(g) % 9) {
		case 0:		/* a lone surrogate, raw: Perl's bytes */
			c = 0xd800 + (take(g) << 8 | take(g)) % 0x800;
			buf[0] = (char)(0xe0 | c >> 12);
			buf[1] = (char)(0x80 | (c >> 6 & 0x3f));
			buf[2] = (char)(0x80 | (c & 0x3f));
			ae_bytes_add(&g->out, buf, 3);
			break;
		case 1:		/* escaped, as an ascii encoder writes it */
			snprintf(buf, sizeof buf, "\\u%04x", 0xd800 +
			    (take(g) << 8 | take(g)) % 0x800);
			put(g, buf);
			break;
		case 2:
			put(g, "\\u0000");
			break;
		case 3:		/* controls, quote, backslash */
			c = take(g) % 0x22;
			if (c == 0x20)
				put(g, "\\\"");
			else if (c == 0x21)
				put(g, "\\\\");
			else {
				snprintf(buf, sizeof buf, "\\u%04x", c);
				put(g, buf);
			}
			break;
		case 4:		/* U+0080..U+07FF */
			c = 0x80 + take(g) * 7;
			buf[0] = (char)(0xc0 | c >> 6);
			buf[1] = (char)(0x80 | (c & 0x3f));
			ae_bytes_add(&g->out, buf, 2);
			break;
		case 5:		/* beyond the BMP */
			c = 0x10000 + (take(g) << 12 | take(g) << 4);
			buf[0] = (char)(0xf0 | c >> 18);
			buf[1] = (char)(0x80 | (c >> 12 & 0x3f));
			buf[2] = (char)(0x80 | (c >> 6 & 0x3f));
			buf[3] = (char)(0x80 | (c & 0x3f));
			ae_bytes_add(&g->out, buf, 4);
			break;
		default:
			buf[0] = (char)(0x20 + take(g) % 0x5f);
			if (buf[0] == '"' || buf[0] == '\\')
				buf[0] = 'q';
			ae_bytes_add(&g->out, buf, 1);
			break;
		}
	}
}

static void
gen_value(struct gen *g, int depth)
{
	static const double reals[] = { DBL_MAX, -DBL_MAX, DBL_MIN,
	    4.9406564584124654e-324, 1e308, 0.1, -0.0, 1e-320 };
	unsigned n, i;
	char buf[64];
	double d;

	switch (take(g) % (depth < 4 ? 9 : 7)) {
	case 0:		/* integers, beyond int64 too (JSON::XS: UV, string) */
		n = 1 + take(g) % 40;
		if (take(g) & 1)
			put(g, "-");
		buf[0] = (char)('1' + take(g) % 9);
		ae_bytes_add(&g->out, buf, 1);
		for (i = 1; i < n; i++) {
			buf[0] = (char)('0' + take(g) % 10);
			ae_bytes_add(&g->out, buf, 1);
		}
		break;
	case 1:		/* reals as Perl's %.15g writes them */
		if (take(g) & 1)
			d = reals[take(g) % (sizeof reals / sizeof reals[0])];
		else {
			uint64_t bits = 0;
			for (i = 0; i < 8; i++)
				bits = bits << 8 | take(g);
			memcpy(&d, &bits, sizeof d);
			if (!isfinite(d))
				d = DBL_MAX;
		}
		snprintf(buf, sizeof buf, "%.15g", d);
		/* Perl writes "1e+20" too: a JSON number either way */
		put(g, buf);
		break;
	case 2:
	case 3:
		put(g, "\"");
		gen_chars(g);
		put(g, "\"");
		break;
	case 4:
		put(g, "true");
		break;
	case 5:
		put(g, "false");
		break;
	case 6:
		put(g, "null");
		break;
	case 7:
		put(g, "[");
		n = take(g) % 4;
		for (i = 0; i < n; i++) {
			if (i > 0)
				put(g, ",");
			gen_value(g, depth + 1);
		}
		put(g, "]");
		break;
	default:
		put(g, "{");
		n = take(g) % 4;
		for (i = 0; i < n; i++) {
			if (i > 0)
				put(g, ",");
			put(g, "\"");
			gen_chars(g);
			put(g, "\":");
			gen_value(g, depth + 1);
		}
		put(g, "}");
		break;
	}
}

static void
check_perl_packet(const uint8_t *data, size_t size)
{
	struct gen g = { data, data + size, { NULL, 0, 0, 0 } };
	struct bytes again = { NULL, 0, 0, 0 };
	json_t *pkt, *back;
	char *name;
	const char *why, *bad;
	int verdict;

	put(&g, "[\"port\"");
	while (g.p < g.end) {
		put(&g, ",");
		gen_value(&g, 0);
	}
	put(&g, "]");
	verdict = ae_packet_decode(bytes_ptr(&g.out), g.out.len, &pkt, &name,
	    &why);
	if (verdict != PACKET_OK)
		abort();	/* JSON::XS wrote it: it must arrive */
	/* written back toward Perl, it reads as the same values */
	if (ae_perl_dump(pkt, &again, 0) < 0)
		abort();
	back = ae_perl_load(bytes_ptr(&again), again.len, &bad);
	if (back == NULL || bad != NULL || !same(pkt, back))
		abort();
	json_decref(back);
	json_decref(pkt);
	ae_bytes_free(&again);
	ae_bytes_free(&g.out);
}

/* The decision itself, on anything: no crash, consistent results. */
static void
check_decide(const char *data, size_t size)
{
	json_t *pkt;
	char *name;
	const char *why;
	int verdict = ae_packet_decode(data, size, &pkt, &name, &why);

	if ((verdict == PACKET_OK) != (pkt != NULL) ||
	    (verdict != PACKET_OK && why == NULL))
		abort();
	json_decref(pkt);
	free(name);
}

/* ae_plain_span() counts what plain_byte() accepts, ae_json_string_fast() too. */
static void
check_plain(const char *data, size_t size)
{
	size_t i = 0;
	char *s;
	json_t *a, *b;

	while (i < size && plain_byte((unsigned char)data[i]))
		i++;
	if (ae_plain_span(data, size) != i)
		abort();
	s = strndup(data, size);
	a = json_string(s);
	b = ae_json_string_fast(s);
	if ((a == NULL) != (b == NULL) || (a != NULL && !json_equal(a, b)))
		abort();
	json_decref(a);
	json_decref(b);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_packet((const char *)data, size);
	check_dump((const char *)data, size);
	check_lenient((const char *)data, size);
	check_decide((const char *)data, size);
	check_perl_packet(data, size);
	check_plain((const char *)data, size);
	return 0;
}

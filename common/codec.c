/*
 * codec.c: the JSON fast paths of the data phase: reading and writing
 * packets of the shapes nearly all traffic has without jansson's lexer
 * and per-token callbacks, falling back to jansson for everything else.
 * Whatever these accept or write, jansson would read or write the same.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define FAST_DEPTH	32	/* nesting the fast paths handle */
#define DUMP_GUESS	2048	/* room a packet is first formatted into */

/* Port names that go into JSON as they are: printable ASCII, no escapes. */
int
transport_plain_name(const char *name, size_t *len)
{
	const unsigned char *p = (const unsigned char *)name;

	for (; *p != '\0'; p++)
		if (!plain_byte(*p))
			return 0;
	*len = (size_t)(p - (const unsigned char *)name);
	return 1;
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
fast_dump(json_t *v, char *p, size_t size, int depth)
{
	size_t len = 0, i, n;
	ssize_t got;
	const char *str;
	char digits[24];
	unsigned long long u;

	switch (json_typeof(v)) {
	case JSON_ARRAY:
		if (depth >= FAST_DEPTH)
			break;
		n = json_array_size(v);
		if (size < 2)
			return -1;
		p[len++] = '[';
		for (i = 0; i < n; i++) {
			if (i > 0) {
				if (len >= size)
					return -1;
				p[len++] = ',';
			}
			got = fast_dump(json_array_get(v, i), p + len,
			    size - len, depth + 1);
			if (got < 0)
				return -1;
			len += (size_t)got;
		}
		if (len >= size)
			return -1;
		p[len++] = ']';
		return (ssize_t)len;
	case JSON_STRING:
		str = json_string_value(v);
		n = json_string_length(v);
		for (i = 0; i < n; i++)
			if (!plain_byte((unsigned char)str[i]))
				break;
		if (i < n)
			break;
		if (n + 2 > size)
			return -1;
		p[0] = '"';
		memcpy(p + 1, str, n);
		p[n + 1] = '"';
		return (ssize_t)(n + 2);
	case JSON_INTEGER:
		u = (unsigned long long)json_integer_value(v);
		if (json_integer_value(v) < 0)
			u = 0 - u;
		i = sizeof digits;
		do {
			digits[--i] = (char)('0' + u % 10);
			u /= 10;
		} while (u > 0);
		if (json_integer_value(v) < 0)
			digits[--i] = '-';
		n = sizeof digits - i;
		if (n > size)
			return -1;
		memcpy(p, digits + i, n);
		return (ssize_t)n;
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
 * Appends ["NAME",MSG...] to out (name NULL: msg as it is), msg untouched:
 * the name goes in front of msg's own elements, so that a packet needs no
 * new array. The packet is formatted straight into out's free space; a
 * large one is measured first. Nothing is appended when msg cannot be
 * dumped.
 */
int
json_dump_named(const char *name, size_t len, json_t *msg, struct bytes *out)
{
	size_t pre = name != NULL ? len + 3 : 0, room = pre + DUMP_GUESS, need;
	char *p = bytes_reserve(out, room);
	ssize_t got = fast_dump(msg, p + pre, room - pre, 0);

	if (got >= 0)
		need = (size_t)got;
	else {
		need = json_dumpb(msg, p + pre, room - pre, JSON_COMPACT);
		if (need > room - pre) {
			p = bytes_reserve(out, pre + need);
			if (json_dumpb(msg, p + pre, need, JSON_COMPACT) != need)
				return -1;
		}
	}
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
	bytes_commit(out, pre + need);
	return 0;
}

int
json_dump_packet(json_t *pkt, struct bytes *out)
{
	return json_dump_named(NULL, 0, pkt, out);
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
	json_int_t num = 0;
	int neg = 0, digits;

	if (p >= end)
		return NULL;
	switch (*p) {
	case '"':
		for (q = p + 1; q < end && plain_byte((unsigned char)*q); q++)
			;
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
	q = p;
	if (*q == '-') {
		neg = 1;
		q++;
	}
	/* no leading zeros, no fraction or exponent (those are reals) */
	for (digits = 0; q < end && *q >= '0' && *q <= '9'; q++)
		if (++digits <= 18)
			num = num * 10 + (*q - '0');
	if (digits == 0 || digits > 18 || q >= end || (*q != ',' && *q != ']') ||
	    (digits > 1 && p[neg] == '0'))
		return NULL;
	*out = json_integer(neg ? -num : num);
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
fast_packet(const char *p, size_t len, size_t max, char name[FAST_NAME],
    const char **tag, size_t *taglen, json_t **msg)
{
	const char *end = p + len, *q, *at;
	json_t *v;

	if (len < 4 || p[0] != '[' || p[1] != '"')
		return 0;
	for (q = p + 2; q < end && plain_byte((unsigned char)*q); q++)
		;
	if (q + 1 >= end || *q != '"' || q - p - 2 >= FAST_NAME)
		return 0;
	memcpy(name, p + 2, (size_t)(q - p - 2));
	name[q - p - 2] = '\0';
	at = q + 1;
	*tag = NULL;
	*taglen = 0;
	if (at + 1 < end && at[0] == ',' && at[1] == '"') {
		for (q = at + 2; q < end && plain_byte((unsigned char)*q); q++)
			;
		if (q + 1 >= end || *q != '"')
			return 0;
		*tag = at + 2;
		*taglen = (size_t)(q - at - 2);
		at = q + 1;
	}
	*msg = json_array();
	while (*at == ',') {
		if ((at = fast_value(at + 1, end, &v, 1)) == NULL ||
		    at >= end) {
			if (at != NULL)
				json_decref(v);
			json_decref(*msg);
			return 0;
		}
		json_array_append_new(*msg, v);
	}
	if (*at != ']' || (max != 0 && (size_t)(at + 1 - p) > max)) {
		json_decref(*msg);
		return 0;
	}
	return (size_t)(at + 1 - p);
}

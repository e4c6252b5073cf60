/*
 * fuzz_codec.c: libFuzzer target for the JSON fast paths: whatever
 * fast_packet() accepts, jansson must read as the same packet (its
 * name, the tag it set apart, the message), and
 * fast_dump() must write exactly what jansson writes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static void
check_packet(const char *data, size_t size)
{
	char name[FAST_NAME];
	json_t *msg = NULL, *ref, *mine;
	const char *tag;
	size_t taglen, len = fast_packet(data, size, 0, name, &tag, &taglen,
	    &msg);

	if (len == 0)
		return;
	if (len > size)
		abort();
	ref = json_loadb(data, len, 0, NULL);
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
	n = fast_dump(v, mine, sizeof mine, 0);
	if (n >= 0 && (ref == NULL || strlen(ref) != (size_t)n ||
	    memcmp(ref, mine, (size_t)n) != 0))
		abort();	/* wrote other bytes than jansson */
	/* the whole packet, whichever way it is formatted, and the name */
	if (json_is_array(v)) {
		struct bytes out = { 0 };
		json_t *named = json_pack("[s]", "nm");
		char *want;
		bytes_add(&out, "x", 1);	/* something queued before */
		json_array_extend(named, v);
		want = json_dumps(named, JSON_COMPACT);
		if (json_dump_named("nm", 2, v, &out) == 0 ? want == NULL ||
		    out.len != strlen(want) + 1 ||
		    memcmp(bytes_ptr(&out) + 1, want, out.len - 1) != 0 :
		    want != NULL || out.len != 1)
			abort();
		free(want);
		json_decref(named);
		bytes_free(&out);
	}
	free(ref);
	json_decref(v);
}

/* plain_span() counts what plain_byte() accepts, json_string_fast() too. */
static void
check_plain(const char *data, size_t size)
{
	size_t i = 0;
	char *s;
	json_t *a, *b;

	while (i < size && plain_byte((unsigned char)data[i]))
		i++;
	if (plain_span(data, size) != i)
		abort();
	s = strndup(data, size);
	a = json_string(s);
	b = json_string_fast(s);
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
	check_plain((const char *)data, size);
	return 0;
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * words.c: a list as Perl interpolates it ("@_"), which is how the
 * reference and its users print kill reasons and messages, and the one
 * joiner of string lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xmalloc.h"

/* One value as Perl would interpolate it (structures as JSON). */
static void
word(FILE *f, json_t *v)
{
	char *text;

	switch (json_typeof(v)) {
	case JSON_STRING:
		fputs(json_string_value(v), f);
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		fprintf(f, "%.15g", json_real_value(v));
		break;
	case JSON_TRUE:
		fputc('1', f);
		break;
	case JSON_FALSE:
		fputc('0', f);
		break;
	case JSON_NULL:
		break;
	default:
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		fputs(text ? text : "", f);
		free(text);
	}
}

char *
ae_strlist_join(json_t *list, const char *sep, size_t max)
{
	size_t i, len = 0, seplen = strlen(sep);
	char *s = ae_xstrdup("");
	json_t *v;

	json_array_foreach(list, i, v) {
		const char *item = json_string_value(v);
		size_t ilen = item != NULL ? strlen(item) : 0;
		if (item == NULL || (max > 0 && len + ilen > max))
			continue;
		s = ae_xreallocarray(s, len + seplen + ilen + 1, 1);
		if (len > 0) {
			memcpy(s + len, sep, seplen);
			len += seplen;
		}
		memcpy(s + len, item, ilen + 1);
		len += ilen;
	}
	return s;
}

char *
aemp_words(json_t *list)
{
	char *s = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&s, &len);
	json_t *v;

	if (f == NULL)
		abort();
	json_array_foreach(list, i, v) {
		if (i > 0)
			fputc(' ', f);
		word(f, v);
	}
	fclose(f);
	return s;
}

/*
 * sndf.c: aemp_sndf(), a message built from a json_pack() format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "xmalloc.h"

/*
 * json_pack()'s plain items, one value each, and what its format skips;
 * modifiers ("s#", "o?", ...) and nesting are not among them.
 */
static int
plain_format(const char *fmt)
{
	for (; *fmt != '\0'; fmt++)
		if (strchr("siIfbnoO \t\n,:", *fmt) == NULL)
			return 0;
	return 1;
}

/*
 * Builds the message of a plain format as json_pack() would, without its
 * format parser, which cost more than the message itself. Every argument
 * is taken, so that "o" values are released on error too, as jansson
 * does. Returns NULL with *why set on error.
 */
static json_t *
pack_plain(const char *fmt, va_list ap, const char **why)
{
	json_t *msg = json_array(), *v;
	const char *s;

	*why = NULL;
	for (; *fmt != '\0'; fmt++) {
		switch (*fmt) {
		case 's':
			s = va_arg(ap, const char *);
			if ((v = s != NULL ? json_string(s) : NULL) == NULL &&
			    *why == NULL)
				*why = s == NULL ? "NULL string" :
				    "Invalid UTF-8 string";
			break;
		case 'i':
			v = json_integer(va_arg(ap, int));
			break;
		case 'I':
			v = json_integer(va_arg(ap, json_int_t));
			break;
		case 'f':
			if ((v = json_real(va_arg(ap, double))) == NULL &&
			    *why == NULL)
				*why = "Invalid floating point value";
			break;
		case 'b':
			v = json_boolean(va_arg(ap, int));
			break;
		case 'n':
			v = json_null();
			break;
		case 'o':
		case 'O':
			v = va_arg(ap, json_t *);
			if (v == NULL && *why == NULL)
				*why = "NULL object";
			else if (*fmt == 'O')
				json_incref(v);
			break;
		default:
			continue;	/* what the format skips */
		}
		if (*why != NULL)
			json_decref(v);
		else
			json_array_append_new(msg, v);
	}
	if (*why != NULL) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

int
aemp_sndf(aemp_node *n, const char *port, const char *fmt, ...)
{
	va_list ap;
	char *afmt;
	json_t *msg;
	json_error_t jerr;
	const char *why;
	char buf[128];
	size_t len = strlen(fmt);

	va_start(ap, fmt);
	if (plain_format(fmt)) {
		msg = pack_plain(fmt, ap, &why);
		va_end(ap);
		if (msg == NULL)
			return node_error(n, "sndf: %s", why);
		return aemp_snd(n, port, msg);
	}
	/* formats are short: build "[fmt]" without a malloc() */
	if (len + 3 <= sizeof buf) {
		buf[0] = '[';
		memcpy(buf + 1, fmt, len);
		buf[len + 1] = ']';
		buf[len + 2] = '\0';
		afmt = buf;
	} else
		afmt = xasprintf("[%s]", fmt);
	msg = json_vpack_ex(&jerr, 0, afmt, ap);
	va_end(ap);
	if (afmt != buf)
		free(afmt);
	if (msg == NULL)
		return node_error(n, "sndf: %s", jerr.text);
	return aemp_snd(n, port, msg);
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * sndf.c: aemp_sndf(), a message built from a json_pack() format.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "transport.h"
#include "xmalloc.h"

/*
 * json_pack()'s plain items, one value each, and what its format skips;
 * modifiers ("s#", "o?", ...) and nesting are not among them.
 */
static int
plain_format(const char *fmt)
{
	for (; *fmt != '\0'; fmt++)
		switch (*fmt) {
		case 's': case 'i': case 'I': case 'f': case 'b': case 'n':
		case 'o': case 'O': case ' ': case '\t': case '\n': case ',':
		case ':':
			break;
		default:
			return 0;
		}
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
			v = s != NULL ? ae_json_string_fast(s) : NULL;
			if (v == NULL && *why == NULL)
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

/*
 * A plain format that starts with the tag, what sndf_local() takes: looked
 * at only for a local port.
 */
static int
tagged_format(const char *fmt)
{
	return fmt[0] == 's' && plain_format(fmt);
}

/* Appends lead and s, len plain bytes, as a JSON string. */
static inline void
put_plain(struct bytes *out, char lead, const char *s, size_t len)
{
	char *p = ae_bytes_reserve(out, len + 3);

	p[0] = lead;
	p[1] = '"';
	memcpy(p + 2, s, len);
	p[len + 2] = '"';
	ae_bytes_commit(out, len + 3);
}

/*
 * aemp_sndf() to a port on a connected node, with a format of s, i, I, b,
 * n, o and O items whose strings are plain bytes (what a tag and most
 * payloads are): the packet is written straight into the connection's
 * queue, the bytes the message would have been dumped as, without a
 * message built and freed again, which was most of the cost of sending.
 * One pass over the format: each item is written as it is read, and an
 * item the general path must take drops what was written (the queue is
 * cut back to where it was; nothing is sent before the packet is whole).
 * Returns 1 when sent; 0, with ap untouched, when the general path takes
 * it (tracing, other items, strings that need escapes or may not be
 * UTF-8, values that ae_fast_dump() cannot write in the room guessed, a node
 * not connected, a name that needs escapes).
 */
static int
sndf_direct(aemp_node *n, struct aemp_remote *r, const char *port,
    const char *name, size_t nodelen, const char *fmt, va_list ap)
{
	struct bytes *out;
	const char *f, *s;
	size_t len, before, room;
	ssize_t got;
	char *p;
	json_t *v;
	va_list aq;
	int steals = 0;

	if (n->trace)
		return 0;
	/* the caller split port and found it remote (r: the last one) */
	len = strlen(name);
	if (ae_plain_span(name, len) != len)
		return 0;
	if (r == NULL)
		r = ae_remote_of(n, port, nodelen);
	if (r->conn == NULL)
		return 0;
	out = ae_transport_out(r->conn);
	before = out->len;
	put_plain(out, '[', name, len);
	/* ap is left as it was until the packet is whole */
	va_copy(aq, ap);
	for (f = fmt; *f != '\0'; f++) {
		switch (*f) {
		case 's':
			s = va_arg(aq, const char *);
			if (s == NULL)
				goto general;
			len = strlen(s);
			if (ae_plain_span(s, len) != len)
				goto general;
			put_plain(out, ',', s, len);
			break;
		case 'i':
			p = ae_bytes_reserve(out, FAST_INT + 1);
			p[0] = ',';
			ae_bytes_commit(out, 1 + ae_fast_int(va_arg(aq, int),
			    p + 1));
			break;
		case 'I':
			p = ae_bytes_reserve(out, FAST_INT + 1);
			p[0] = ',';
			ae_bytes_commit(out, 1 +
			    ae_fast_int(va_arg(aq, json_int_t), p + 1));
			break;
		case 'b':
			p = ae_bytes_reserve(out, 6);
			if (va_arg(aq, int)) {
				memcpy(p, ",true", 5);
				ae_bytes_commit(out, 5);
			} else {
				memcpy(p, ",false", 6);
				ae_bytes_commit(out, 6);
			}
			break;
		case 'n':
			memcpy(ae_bytes_reserve(out, 5), ",null", 5);
			ae_bytes_commit(out, 5);
			break;
		case 'o':
			steals = 1;
			/* FALLTHROUGH */
		case 'O':
			if ((v = va_arg(aq, json_t *)) == NULL)
				goto general;
			/* an integer (a counter, an ID) is written here */
			if (json_is_integer(v)) {
				p = ae_bytes_reserve(out, FAST_INT + 1);
				p[0] = ',';
				ae_bytes_commit(out, 1 +
				    ae_fast_int(json_integer_value(v), p + 1));
				break;
			}
			room = ae_dump_estimate(v, 1);
			p = ae_bytes_reserve(out, room + 1);
			p[0] = ',';
			if ((got = ae_fast_dump(v, p + 1, room, 1)) < 0)
				goto general;
			ae_bytes_commit(out, 1 + (size_t)got);
			break;
		case ' ': case '\t': case '\n': case ',': case ':':
			break;
		default:
			goto general;
		}
	}
	va_end(aq);
	*ae_bytes_reserve(out, 1) = ']';
	ae_bytes_commit(out, 1);
	if (steals) {
		/* sent: what "o" gave us is released, as json_pack() would */
		va_copy(aq, ap);
		for (f = fmt; *f != '\0'; f++) {
			switch (*f) {
			case 's':
				(void)va_arg(aq, const char *);
				break;
			case 'i':
			case 'b':
				(void)va_arg(aq, int);
				break;
			case 'I':
				(void)va_arg(aq, json_int_t);
				break;
			case 'o':
				json_decref(va_arg(aq, json_t *));
				break;
			case 'O':
				(void)va_arg(aq, json_t *);
				break;
			}
		}
		va_end(aq);
	}
	ae_remote_sent_bytes(r, before);
	return 1;
general:
	va_end(aq);
	out->len = before;	/* nothing of it was sent */
	return 0;
}

/* --- local messages as records ---------------------------------------------- */

/*
 * aemp_sndf() to a live local port queues the values of a plain format as
 * a record in n->local_pkts, and the message is made at delivery, in the
 * message the last receiver let go if nothing holds it any more
 * (ae_refill_start(), as for a packet from the network): no message is
 * built and freed per send (four blocks for ["test",1]), which was most
 * of what sending locally cost. A record is the format's items in
 * order, each its letter and then its value: s a size_t length and the
 * bytes; i, b and I a json_int_t; f a double; o and O a json_t * that the
 * record holds (8 bytes each); n nothing.
 */

/*
 * Appends the record of fmt's values to out, what record_take() takes:
 * strings of plain bytes (which are UTF-8: they need no check), reals
 * that are finite, values that are not NULL, plain items. Returns its
 * length; 0, with out and ap as they were, when it does not take them.
 * "O" values are not held yet: record_hold() does that once all is well.
 */
static size_t
record_add(struct bytes *out, const char *fmt, va_list ap, int *holds)
{
	size_t before = out->len, len;
	const char *s;
	json_int_t num;
	double f;
	json_t *v;
	char *p;
	va_list aq;

	va_copy(aq, ap);
	for (; *fmt != '\0'; fmt++) {
		switch (*fmt) {
		case 's':
			if ((s = va_arg(aq, const char *)) == NULL)
				goto refused;
			len = strlen(s);
			if (ae_plain_span(s, len) != len)
				goto refused;
			p = ae_bytes_reserve(out, 1 + sizeof len + len);
			p[0] = 's';
			memcpy(p + 1, &len, sizeof len);
			memcpy(p + 1 + sizeof len, s, len);
			ae_bytes_commit(out, 1 + sizeof len + len);
			continue;
		case 'i':
		case 'b':
			num = va_arg(aq, int);
			break;
		case 'I':
			num = va_arg(aq, json_int_t);
			break;
		case 'f':
			if (!isfinite(f = va_arg(aq, double)))
				goto refused;
			memcpy(&num, &f, 8);
			break;
		case 'o':
		case 'O':
			if ((v = va_arg(aq, json_t *)) == NULL)
				goto refused;
			*holds |= *fmt == 'O';
			num = (json_int_t)(intptr_t)v;
			break;
		case 'n':
			*ae_bytes_reserve(out, 1) = 'n';
			ae_bytes_commit(out, 1);
			continue;
		case ' ': case '\t': case '\n': case ',': case ':':
			continue;
		default:
			goto refused;
		}
		/* json_int_t, double and pointer alike: 8 bytes */
		p = ae_bytes_reserve(out, 1 + 8);
		p[0] = *fmt;
		memcpy(p + 1, &num, 8);
		ae_bytes_commit(out, 1 + 8);
	}
	va_end(aq);
	return out->len - before;
refused:
	va_end(aq);
	out->len = before;
	return 0;
}

/* Takes the reference to each "O" value of the record at rec (len bytes). */
static void
record_hold(const char *rec, size_t len)
{
	const char *end = rec + len;
	json_int_t num;
	size_t slen;

	while (rec < end)
		switch (*rec++) {
		case 's':
			memcpy(&slen, rec, sizeof slen);
			rec += sizeof slen + slen;
			break;
		case 'n':
			break;
		case 'O':
			memcpy(&num, rec, 8);
			json_incref((json_t *)(intptr_t)num);
			/* FALLTHROUGH */
		default:
			rec += 8;
			break;
		}
}

/*
 * aemp_sndf() to p, a live local port, as a record (see record_add()
 * for what it takes). Returns 1 when queued; 0 with ap untouched when
 * another path takes it.
 */
static int
sndf_record(aemp_node *n, struct aemp_port *p, const char *fmt, va_list ap)
{
	struct bytes *out = &n->local_pkts;
	struct defer *d;
	size_t len;
	int holds = 0;

	_Static_assert(sizeof(json_int_t) == 8 && sizeof(double) == 8 &&
	    sizeof(intptr_t) <= 8, "record values take 8 bytes");
	if ((len = record_add(out, fmt, ap, &holds)) == 0)
		return 0;
	if (holds)
		record_hold(bytes_ptr(out) + out->len - len, len);
	d = ae_node_defer(n, DEFER_PACKET);
	d->to = n->last_port = p;
	d->pktlen = len;
	return 1;
}

/*
 * Delivers the message of the record at rec (len bytes) to p, which may be
 * dead or NULL, or only releases what it holds (drop).
 */
void
ae_sndf_deliver(aemp_node *n, struct aemp_port *p, const char *rec,
    size_t len, int drop)
{
	const char *end = rec + len, *tag = NULL;
	size_t taglen = 0, slen;
	struct refill r;
	json_int_t num;
	double f;

	/* the tag goes as ae_fast_packet()'s goes: made only when needed */
	if (!drop && rec < end && *rec == 's') {
		memcpy(&taglen, rec + 1, sizeof taglen);
		tag = rec + 1 + sizeof taglen;
		rec = tag + taglen;
	}
	ae_refill_start(&r, drop ? NULL : &n->spare_msg);
	while (rec < end)
		switch (*rec++) {
		case 's':
			memcpy(&slen, rec, sizeof slen);
			rec += sizeof slen;
			if (ae_refill_string(&r, rec, slen) != 0)
				abort();	/* out of memory */
			rec += slen;
			break;
		case 'i':
		case 'I':
			memcpy(&num, rec, sizeof num);
			rec += sizeof num;
			ae_refill_int(&r, num);
			break;
		case 'b':
			memcpy(&num, rec, sizeof num);
			rec += sizeof num;
			ae_refill_put(&r, json_boolean(num));
			break;
		case 'f':
			memcpy(&f, rec, sizeof f);
			rec += sizeof f;
			ae_refill_put(&r, json_real(f));
			break;
		case 'o':
		case 'O':
			memcpy(&num, rec, 8);
			rec += 8;
			ae_refill_put(&r, (json_t *)(intptr_t)num);
			break;
		default:
			ae_refill_put(&r, json_null());
			break;
		}
	if (drop)
		json_decref(ae_refill_end(&r));
	else
		ae_port_deliver_fast(n, p, tag, taglen, ae_refill_end(&r));
}

/*
 * aemp_sndf() of a plain format that starts with the tag, to a live local
 * port with a receiver for it: the message is made without the tag, and
 * delivered as it is (ae_port_deliver_tag()), which saves making the tag's
 * string and taking it out again. Returns 1 when sent, -1 on error (ap
 * used), 0 with ap untouched when the general path takes it.
 */
static int
sndf_local(aemp_node *n, struct aemp_port *p, const char *fmt, va_list ap)
{
	const struct tagname *tag;
	const char *s, *why;
	struct defer *d;
	json_t *msg;
	va_list aq;

	va_copy(aq, ap);
	s = va_arg(aq, const char *);
	va_end(aq);
	if (s == NULL || (tag = ae_port_tag_for(n, p, s)) == NULL)
		return 0;
	(void)va_arg(ap, const char *);
	if ((msg = pack_plain(fmt + 1, ap, &why)) == NULL) {
		ae_tagname_put(n, tag);
		return ae_node_error(n, "sndf: %s", why);
	}
	d = ae_node_defer(n, DEFER_DELIVER);
	d->to = n->last_port = p;
	d->msg = msg;
	d->tag = tag;
	return 1;
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
	size_t len;
	int rc;

	va_start(ap, fmt);
	/*
	 * The port ID is split once: a live local port (the one used last
	 * is known by its pointer, as ae_port_live() knows it) takes
	 * sndf_record() or else sndf_local(), a remote one sndf_direct().
	 */
	if (port != NULL && *port != '\0') {
		struct aemp_port *p = n->last_port;
		struct aemp_remote *r;
		const char *name;
		size_t nodelen;

		if (p != NULL && port == p->id && !p->dead) {
			if ((rc = sndf_record(n, p, fmt, ap)) != 0 ||
			    (tagged_format(fmt) &&
			    (rc = sndf_local(n, p, fmt, ap)) != 0))
				goto sent;
		} else {
			name = id_split(port, &nodelen);
			r = ae_remote_last(n, port, nodelen);
			if (r != NULL || nodelen != n->idlen ||
			    memcmp(port, n->id, nodelen) != 0) {
				if ((rc = sndf_direct(n, r, port, name,
				    nodelen, fmt, ap)) != 0) {
					rc = 0;
					goto sent;
				}
			} else if (*name != '\0' &&
			    (p = ae_dict_get(&n->ports, name)) != NULL &&
			    !p->dead && ((rc = sndf_record(n, p, fmt, ap)) !=
			    0 || (tagged_format(fmt) &&
			    (rc = sndf_local(n, p, fmt, ap)) != 0)))
				goto sent;
		}
	}
	if (plain_format(fmt)) {
		msg = pack_plain(fmt, ap, &why);
		va_end(ap);
		if (msg == NULL)
			return ae_node_error(n, "sndf: %s", why);
		return aemp_snd(n, port, msg);
	}
	/* formats are short: build "[fmt]" without a malloc() */
	len = strlen(fmt);
	if (len + 3 <= sizeof buf) {
		buf[0] = '[';
		memcpy(buf + 1, fmt, len);
		buf[len + 1] = ']';
		buf[len + 2] = '\0';
		afmt = buf;
	} else
		afmt = ae_xasprintf("[%s]", fmt);
	msg = json_vpack_ex(&jerr, 0, afmt, ap);
	va_end(ap);
	if (afmt != buf)
		free(afmt);
	if (msg == NULL)
		return ae_node_error(n, "sndf: %s", jerr.text);
	return aemp_snd(n, port, msg);
sent:
	va_end(ap);
	return rc < 0 ? -1 : 0;
}

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * dict.c: the string-keyed hash table behind ports, nodes and functions.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "xmalloc.h"

static size_t
dict_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	while (*key != '\0') {
		h ^= (unsigned char)*key++;
		h *= 1099511628211ULL;
	}
	/*
	 * The table uses the low bits, which FNV leaves weak: keys that
	 * differ only at the end (port names NAME.a, NAME.b, ...) would
	 * cluster into long probe runs. A finaliser (MurmurHash3's fmix64)
	 * spreads every input bit over them.
	 */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (size_t)h;
}

void
ae_dict_init(struct dict *d, dict_key_fn key)
{
	d->slots = NULL;
	d->cap = 0;
	d->count = 0;
	d->key = key;
}

void
ae_dict_clear(struct dict *d)
{
	free(d->slots);
	ae_dict_init(d, d->key);
}

static struct dict_entry *
dict_find(const struct dict *d, const char *key, size_t hash)
{
	size_t mask = d->cap - 1, i;

	if (d->cap == 0)
		return NULL;
	for (i = hash & mask;; i = (i + 1) & mask) {
		struct dict_entry *e = &d->slots[i];
		if (e->value == NULL)
			return e;
		if (e->hash == hash && strcmp(d->key(e->value), key) == 0)
			return e;
	}
}

/* The first free slot of hash's run: for entries known not to be there. */
static struct dict_entry *
dict_find_free(const struct dict *d, size_t hash)
{
	size_t mask = d->cap - 1, i;

	for (i = hash & mask; d->slots[i].value != NULL; i = (i + 1) & mask)
		;
	return &d->slots[i];
}

/*
 * A zeroed table. A big one (a node with a million ports has a 48 MiB
 * table) asks for huge pages: every insert lands on a random page, so
 * 4 KiB pages would cost a TLB miss per lookup and a fault per page.
 */
static struct dict_entry *
table_new(size_t cap)
{
	size_t size = cap * sizeof(struct dict_entry);
#ifdef MADV_HUGEPAGE
	void *p;

	if (size >= (8u << 20) && posix_memalign(&p, 2u << 20, size) == 0) {
		madvise(p, size, MADV_HUGEPAGE);
		memset(p, 0, size);
		return p;
	}
#endif
	(void)size;
	return ae_xcalloc(cap, sizeof(struct dict_entry));
}

static void
dict_grow(struct dict *d)
{
	struct dict_entry *old = d->slots;
	size_t oldcap = d->cap, i;

	d->cap = oldcap ? oldcap * 2 : 16;
	d->slots = table_new(d->cap);
	for (i = 0; i < oldcap; i++) {
		/* big tables miss the cache on every insert: ask ahead */
		if (i + 8 < oldcap && old[i + 8].value != NULL)
			__builtin_prefetch(&d->slots[old[i + 8].hash &
			    (d->cap - 1)], 1);
		if (old[i].value != NULL)
			*dict_find_free(d, old[i].hash) = old[i];
	}
	free(old);
}

void *
ae_dict_get(const struct dict *d, const char *key)
{
	struct dict_entry *e = dict_find(d, key, dict_hash(key));

	return e != NULL ? e->value : NULL;
}

size_t
ae_dict_prefetch(const struct dict *d, const char *key)
{
	size_t hash = dict_hash(key);

	if (d->cap > 0)
		__builtin_prefetch(&d->slots[hash & (d->cap - 1)], 1);
	return hash;
}

void *
ae_dict_put(struct dict *d, const char *key, void *value)
{
	return ae_dict_put_hashed(d, key, dict_hash(key), value);
}

void *
ae_dict_put_hashed(struct dict *d, const char *key, size_t hash, void *value)
{
	struct dict_entry *e;
	void *prev;

	/* Keep the load factor under 3/4 so probe runs stay short. */
	if ((d->count + 1) * 4 > d->cap * 3)
		dict_grow(d);
	e = dict_find(d, key, hash);
	if (e->value != NULL) {
		prev = e->value;
		e->value = value;
		return prev;
	}
	e->value = value;
	e->hash = hash;
	d->count++;
	return NULL;
}

void *
ae_dict_del(struct dict *d, const char *key)
{
	struct dict_entry *e = dict_find(d, key, dict_hash(key));
	size_t mask = d->cap - 1, i, j;
	void *value;

	if (e == NULL || e->value == NULL)
		return NULL;
	value = e->value;
	/* Backward-shift: pull later entries of the run into the hole. */
	i = (size_t)(e - d->slots);
	for (j = (i + 1) & mask; d->slots[j].value != NULL; j = (j + 1) & mask) {
		size_t home = d->slots[j].hash & mask;
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			d->slots[i] = d->slots[j];
			i = j;
		}
	}
	d->slots[i].value = NULL;
	d->count--;
	return value;
}

struct dict_entry *
ae_dict_next(const struct dict *d, size_t *pos)
{
	while (*pos < d->cap) {
		struct dict_entry *e = &d->slots[(*pos)++];
		if (e->value != NULL)
			return e;
	}
	return NULL;
}

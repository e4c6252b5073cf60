/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * dict.h: a string-keyed hash table (open addressing, linear probing,
 * backward-shift deletion). Every key is a string inside its value, which
 * the table's key function finds: an entry is then a value and a hash,
 * 16 bytes, which with a million ports is 16 MiB less than a key pointer
 * besides. Values are never NULL.
 */
#ifndef AEMP_DICT_H
#define AEMP_DICT_H

#include <stddef.h>

struct dict_entry {
	void		*value;		/* NULL: the slot is free */
	size_t		 hash;
};

typedef const char *(*dict_key_fn)(const void *value);

struct dict {
	struct dict_entry *slots;
	size_t		 cap;		/* power of two, or 0 */
	size_t		 count;
	dict_key_fn	 key;		/* the key inside a value */
};

void	 ae_dict_init(struct dict *, dict_key_fn);
void	 ae_dict_clear(struct dict *);	/* frees the table, not the values */
void	*ae_dict_get(const struct dict *, const char *key);
/* Insert or replace; key is value's. Returns the previous value or NULL. */
void	*ae_dict_put(struct dict *, const char *key, void *value);
/*
 * Start loading key's slot into the cache, for a ae_dict_put_hashed() soon
 * after with the hash this returns.
 */
size_t	 ae_dict_prefetch(const struct dict *, const char *key);
void	*ae_dict_put_hashed(struct dict *, const char *key, size_t hash,
	    void *value);
/* Remove; returns the removed value or NULL. */
void	*ae_dict_del(struct dict *, const char *key);
/* Iterate: *pos starts at 0; returns the next entry or NULL. */
struct dict_entry *ae_dict_next(const struct dict *, size_t *pos);
#define dict_key(d, e)	((d)->key((e)->value))

#endif

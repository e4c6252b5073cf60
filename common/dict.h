/*
 * dict.h: a string-keyed hash table (open addressing, linear probing,
 * backward-shift deletion). Keys are borrowed: each key must live as long
 * as its entry, which is natural when the key is a field of the value.
 */
#ifndef AEMP_DICT_H
#define AEMP_DICT_H

#include <stddef.h>

struct dict_entry {
	const char	*key;
	void		*value;
	size_t		 hash;
};

struct dict {
	struct dict_entry *slots;
	size_t		 cap;		/* power of two, or 0 */
	size_t		 count;
};

void	 dict_init(struct dict *);
void	 dict_clear(struct dict *);	/* frees the table, not the values */
void	*dict_get(const struct dict *, const char *key);
/* Insert or replace; returns the previous value or NULL. */
void	*dict_put(struct dict *, const char *key, void *value);
/* Start loading key's slot into the cache, for a dict_put() soon after. */
void	 dict_prefetch(const struct dict *, const char *key);
/* Remove; returns the removed value or NULL. */
void	*dict_del(struct dict *, const char *key);
/* Iterate: *pos starts at 0; returns the next entry or NULL. */
struct dict_entry *dict_next(const struct dict *, size_t *pos);

#endif

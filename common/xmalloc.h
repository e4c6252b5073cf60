/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * xmalloc.h: allocation where running out of memory aborts. That is
 * libaemp's policy for its own bookkeeping (ports, monitors, queues,
 * timers, IDs; see libaemp(3)): a node that lost a monitor or a queued
 * message to a failed allocation would break its guarantees silently, so
 * it stops instead. The parsers of remote input (wire.c) are the
 * exception: they fail the input instead.
 * Internal to libaemp and the programs that link it in.
 */
#ifndef AEMP_XMALLOC_H
#define AEMP_XMALLOC_H

#include <stddef.h>

void	*ae_xmalloc(size_t);
void	*ae_xcalloc(size_t nmemb, size_t size);
/* realloc() of nmemb * size bytes; the product overflowing aborts too. */
void	*ae_xreallocarray(void *, size_t nmemb, size_t size);
char	*ae_xstrdup(const char *);
char	*ae_xstrndup(const char *, size_t);
char	*ae_xasprintf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif

/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * store_int.h: what the files of profiles/ share and nobody else needs.
 */
#ifndef AEMP_STORE_INT_H
#define AEMP_STORE_INT_H

void	 ae_store_seterr(char **err, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif

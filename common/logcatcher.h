/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * logcatcher.h: the one format of a caught log line (AEMP-TLS-EXT.md 12),
 * for the node's default catcher (stderr) and "aemp log" (stdout).
 */
#ifndef AEMP_LOGCATCHER_H
#define AEMP_LOGCATCHER_H

#include "aemp.h"

/*
 * An aemp_caught_fn that prints "YYYY-MM-DD HH:MM:SS [NODE] <LEVEL> TEXT"
 * and a newline on file (a FILE *: one trailing LF of TEXT belongs to the
 * message, not the output line), and flushes it. TEXT is another node's:
 * its control characters and bytes that are no UTF-8 are printed as \xNN
 * (a line feed inside it too), so that it is one line and a terminal
 * obeys none of it.
 */
void	 ae_logcatcher_print(aemp_node *, const char *node, int level,
	    const char *text, void *file);

#endif

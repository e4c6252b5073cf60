/*
 * store.h: the profile store (SQLite) and effective-configuration
 * resolution (AEMP.md section 8). One API for aemp, aempd and libaemp.
 */
#ifndef AEMP_STORE_H
#define AEMP_STORE_H

#include <jansson.h>

typedef struct aemp_store aemp_store;

/*
 * The effective configuration of profile (NULL: $AEMP_PROFILE, else the
 * host's node name) given configure arguments args (borrowed, may be
 * NULL): defaults < args < global < parents root-first < profile. Reads
 * the store at its default path if the file exists (a missing file
 * contributes nothing). The result has no "parent" key and always has
 * "profile" (the name used). NULL and *err (malloc()ed) on failure.
 */
json_t	*aemp_store_effective(const char *profile, json_t *args, char **err);

#endif

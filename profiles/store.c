/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * store.c: the profile store, an SQLite file holding the global default
 * configuration and named profiles as key -> JSON value rows.
 *
 * Schema (version 1, PRAGMA user_version; PRAGMA application_id 'aemp'):
 *
 *	profile(name TEXT PRIMARY KEY)		-- '' is the global default
 *	config(profile TEXT, key TEXT, value TEXT,	-- value: JSON text
 *	    PRIMARY KEY (profile, key))
 *
 * The global default configuration is the profile row named '' (a name
 * no user profile can have), so every key lives in one table and one
 * query shape serves both. A profile exists (aemp profile NAME creates
 * it) even when it has no keys, which is why it has a table of its own.
 *
 * Concurrency: writers take the write lock first (BEGIN IMMEDIATE) and
 * wait for each other through the busy timeout, so a read-modify-write
 * such as addseed can never lose another writer's update.
 *
 * Crashes: a writer killed mid-commit leaves a hot journal (FILE-journal),
 * and only a connection that may write can roll it back; a read-only one
 * fails "attempt to write a readonly database" until a writer comes along,
 * which for aempd under systemd is a restart loop. So readers open the
 * file read-write (never creating it, and writing nothing but such a
 * rollback), and a reader that may not write the file or its directory
 * (ProtectSystem=strict, another user's store) plays the journal back
 * into a private copy of the file in memory (read_rolled_back()): no
 * file holds the secret, no lock of the process is dropped. WAL mode
 * was the alternative and is worse here: its readers need write access
 * to FILE-shm or to the directory, so the second kind of reader would
 * still fail; FILE-wal and FILE-shm would stay next to the store;
 * existing stores would need a migration that every older aemp would
 * then have to understand.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "store_int.h"
#include "xmalloc.h"

/* How long a writer waits for another one before giving up. */
#define STORE_BUSY_MS		10000
/* 'aemp' in ASCII: tells our files from other SQLite databases. */
#define STORE_APPID		0x61656d70

struct aemp_store {
	sqlite3		*st_db;
	char		*st_path;
	int		 st_mode;
	int		 st_txn;	/* a transaction is open */
};

/*
 * migrations[v] takes a store from schema version v to v + 1. Each runs
 * inside the writer's transaction, so a failed migration leaves nothing.
 */
static const char *const migrations[AEMP_STORE_VERSION] = {
	/* 0 -> 1: the first schema. */
	"CREATE TABLE profile (\n"
	"	name TEXT PRIMARY KEY NOT NULL\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE config (\n"
	"	profile TEXT NOT NULL REFERENCES profile(name)\n"
	"	    ON DELETE CASCADE,\n"
	"	key TEXT NOT NULL,\n"
	"	value TEXT NOT NULL,\n"
	"	PRIMARY KEY (profile, key)\n"
	") WITHOUT ROWID;\n"
	"INSERT INTO profile (name) VALUES ('');\n"
	"PRAGMA application_id = 1634037104;\n"
	"PRAGMA user_version = 1;\n",
};


/* "FILE: what sqlite says", the form of every database error. */
static void
dberr(aemp_store *st, char **err)
{
	int code = sqlite3_errcode(st->st_db);

	ae_store_seterr(err, "%s: %s%s", st->st_path, sqlite3_errmsg(st->st_db),
	    code == SQLITE_NOTADB || code == SQLITE_CORRUPT ?
	    " (not a readable aemp profile store; left as it is)" :
	    code == SQLITE_BUSY ? " (another writer held it for 10 s)" : "");
}

char *
ae_store_path(char **err)
{
	const char *rc = getenv("AEMP_RC"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	struct passwd pw, *pwp = NULL;
	char buf[4096], *path;

	if (rc != NULL && *rc != '\0')
		path = strdup(rc);
	else if (xdg != NULL && *xdg == '/') {
		/* The XDG spec says relative values are to be ignored. */
		if (asprintf(&path, "%s/aemp/aemp.db", xdg) < 0)
			path = NULL;
	} else {
		if (home == NULL || *home == '\0') {
			if (getpwuid_r(getuid(), &pw, buf, sizeof buf,
			    &pwp) != 0 || pwp == NULL) {
				ae_store_seterr(err, "no home directory to keep the "
				    "profile store in: set AEMP_RC");
				return NULL;
			}
			home = pw.pw_dir;
		}
		if (asprintf(&path, "%s/.config/aemp/aemp.db", home) < 0)
			path = NULL;
	}
	if (path == NULL)
		ae_store_seterr(err, "out of memory");
	return path;
}

/* mkdir -p of path's directory, 0700 for what we create. */
static int
make_dirs(const char *path, char **err)
{
	char *dir = strdup(path), *p;

	if (dir == NULL) {
		ae_store_seterr(err, "out of memory");
		return -1;
	}
	for (p = dir + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			ae_store_seterr(err, "%s: %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
		*p = '/';
	}
	free(dir);
	return 0;
}

/*
 * Make sure the file exists (WRITE) and is a regular file we can open,
 * before SQLite sees it: a new file gets mode 0600 whatever the umask,
 * because it will hold the shared secret (no other connection can hold
 * a lock on a file just created, so its descriptor may be closed); an
 * existing one is not touched, nor opened.
 * Also gives errno-precise messages where SQLite would only say "unable
 * to open database file". Returns 0, 1 if the file is missing (READ), -1.
 */
static int
check_file(const char *path, int mode, char **err)
{
	struct stat sb;
	int fd;

	if (mode == AEMP_STORE_WRITE) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (fchmod(fd, 0600) != 0) {
				ae_store_seterr(err, "%s: %s", path, strerror(errno));
				close(fd);
				return -1;
			}
			close(fd);
			return 0;
		}
		if (errno != EEXIST) {
			ae_store_seterr(err, "%s: %s", path, strerror(errno));
			return -1;
		}
	}
	/*
	 * Not by opening it: closing a descriptor of the file would drop
	 * every POSIX lock this process holds on it (another connection's).
	 */
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT && mode == AEMP_STORE_READ)
			return 1;
		ae_store_seterr(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		ae_store_seterr(err, "%s: not a regular file", path);
		return -1;
	}
	if (faccessat(AT_FDCWD, path, mode == AEMP_STORE_WRITE ? R_OK | W_OK :
	    R_OK, AT_EACCESS) != 0) {
		ae_store_seterr(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
exec_sql(aemp_store *st, const char *sql, char **err)
{
	if (sqlite3_exec(st->st_db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		dberr(st, err);
		return -1;
	}
	return 0;
}

/* The integer result of a one-value query such as a PRAGMA. */
static int
query_int(aemp_store *st, const char *sql, long long *out, char **err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->st_db, sql, -1, &s, NULL) != SQLITE_OK) {
		dberr(st, err);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (rc == SQLITE_DONE)
		*out = 0;
	else
		dberr(st, err);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* PRAGMA quick_check: refuse to work on (and so to write) a damaged file. */
static int
check_integrity(aemp_store *st, char **err)
{
	sqlite3_stmt *s;
	const char *r;
	int rc, ok = -1;

	if (sqlite3_prepare_v2(st->st_db, "PRAGMA quick_check(1)", -1, &s,
	    NULL) != SQLITE_OK) {
		dberr(st, err);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		r = (const char *)sqlite3_column_text(s, 0);
		if (r != NULL && strcmp(r, "ok") == 0)
			ok = 0;
		else
			ae_store_seterr(err, "%s: database is corrupt (%s); left as "
			    "it is", st->st_path, r ? r : "?");
	} else
		dberr(st, err);
	sqlite3_finalize(s);
	return ok;
}

/*
 * Bring the schema to AEMP_STORE_VERSION (WRITE), or tell whether the
 * file is still empty (READ: *empty = 1). Refuses files of other
 * programs and of newer versions of aemp.
 */
static int
check_schema(aemp_store *st, int *empty, char **err)
{
	long long version, appid, objects;

	*empty = 0;
	if (query_int(st, "PRAGMA application_id", &appid, err) != 0 ||
	    query_int(st, "PRAGMA user_version", &version, err) != 0 ||
	    query_int(st, "SELECT count(*) FROM sqlite_master", &objects,
	    err) != 0)
		return -1;
	if ((appid != 0 && appid != STORE_APPID) ||
	    (version == 0 && objects != 0)) {
		ae_store_seterr(err, "%s: not an aemp profile store (an SQLite database "
		    "of another program)", st->st_path);
		return -1;
	}
	if (version > AEMP_STORE_VERSION) {
		ae_store_seterr(err, "%s: written by a newer aemp (schema version %lld, "
		    "this aemp knows up to %d)", st->st_path, version,
		    AEMP_STORE_VERSION);
		return -1;
	}
	if (version == AEMP_STORE_VERSION)
		return 0;
	if (st->st_mode == AEMP_STORE_READ) {
		/*
		 * A reader cannot migrate. Version 0 is an empty file; older
		 * schemas will need a read path of their own once there are
		 * any.
		 */
		if (version == 0) {
			*empty = 1;
			return 0;
		}
		ae_store_seterr(err, "%s: schema version %lld is too old to read; any "
		    "writing aemp command upgrades it", st->st_path, version);
		return -1;
	}
	for (; version < AEMP_STORE_VERSION; version++)
		if (exec_sql(st, migrations[version], err) != 0)
			return -1;
	return 0;
}

/* An empty store in memory: what a reader sees when there is no file. */
static int
open_empty(aemp_store *st, char **err)
{
	int i;

	if (sqlite3_open_v2(":memory:", &st->st_db, SQLITE_OPEN_READWRITE,
	    NULL) != SQLITE_OK) {
		dberr(st, err);
		return -1;
	}
	for (i = 0; i < AEMP_STORE_VERSION; i++)
		if (exec_sql(st, migrations[i], err) != 0)
			return -1;
	return 0;
}

/*
 * Take the snapshot of the store just opened (or of its private copy):
 * readers take one too, so that a chain of reading commands sees one
 * state of the store. The first read rolls back a hot journal.
 */
static int
begin_snapshot(aemp_store *st, int *empty, char **err)
{
	sqlite3_busy_timeout(st->st_db, STORE_BUSY_MS);
	if (exec_sql(st, st->st_mode == AEMP_STORE_WRITE ? "BEGIN IMMEDIATE" :
	    "BEGIN", err) != 0)
		return -1;
	st->st_txn = 1;
	if (check_integrity(st, err) != 0 ||
	    check_schema(st, empty, err) != 0)
		return -1;
	return 0;
}

static int
open_db(aemp_store *st, int *empty, char **err)
{
	if (sqlite3_open_v2(st->st_path, &st->st_db, SQLITE_OPEN_READWRITE,
	    NULL) != SQLITE_OK) {
		dberr(st, err);
		return -1;
	}
	return begin_snapshot(st, empty, err);
}

static void
close_db(aemp_store *st)
{
	if (st->st_db != NULL) {
		if (st->st_txn)
			sqlite3_exec(st->st_db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(st->st_db);
	}
	st->st_db = NULL;
	st->st_txn = 0;
}

static char *
journal_name(const char *file)
{
	char *j;

	return asprintf(&j, "%s-journal", file) < 0 ? NULL : j;
}

/* Whether FILE-journal exists and is not empty (it may be hot). */
static int
has_journal(const char *file)
{
	char *j = journal_name(file);
	struct stat sb;
	int has;

	has = j != NULL && stat(j, &sb) == 0 && sb.st_size > 0;
	free(j);
	return has;
}

/* --- a reader's private copy, rolled back in memory -------------------- */

/* The rollback journal's format (sqlite.org/fileformat.html, 4.1). */
static const unsigned char journal_magic[8] = {
	0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7
};
/* SQLite's largest page and sector sizes; the page of the lock bytes. */
#define JOURNAL_MAX_PAGE	65536
#define JOURNAL_MAX_SECTOR	65536
#define STORE_PENDING_BYTE	0x40000000

struct image {
	unsigned char	*buf;		/* sqlite3_malloc64()ed */
	sqlite3_int64	 len;
};

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Sets img to len bytes, zeroes after the old end (SQLite's truncate). */
static int
image_resize(struct image *img, sqlite3_int64 len)
{
	unsigned char *b;

	if (len > img->len) {
		if ((b = sqlite3_realloc64(img->buf, (sqlite3_uint64)len)) ==
		    NULL)
			return -1;
		memset(b + img->len, 0, (size_t)(len - img->len));
		img->buf = b;
	}
	img->len = len;
	return 0;
}

/*
 * Plays the hot journal j (jlen bytes) back into img, as SQLite's pager
 * does it for a hot journal (pager_playback()): each header (at sector
 * boundaries) is followed by nRec records of page number, page, checksum;
 * the first header's database size truncates the image; a record whose
 * checksum is wrong, or a header without its magic, ends the journal.
 */
static int
journal_playback(struct image *img, const unsigned char *j, size_t jlen)
{
	uint32_t nrec, nonce, dbpages, sector = 0, psize = 0, pgno, sum, i;
	size_t off = 0, rec, k;
	int first = 1;

	/* a journal of a multi-database transaction ends with the magic */
	if (jlen >= 16 && memcmp(j + jlen - 8, journal_magic, 8) == 0)
		return -1;
	for (;;) {
		if (!first)
			off = (off + sector - 1) / sector * sector;
		if (off + (first ? 28 : sector) > jlen ||
		    memcmp(j + off, journal_magic, 8) != 0)
			return 0;
		nrec = get32(j + off + 8);
		nonce = get32(j + off + 12);
		dbpages = get32(j + off + 16);
		if (first) {
			sector = get32(j + off + 20);
			psize = get32(j + off + 24);
			if (psize < 512 || psize > JOURNAL_MAX_PAGE ||
			    (psize & (psize - 1)) != 0 || sector < 32 ||
			    sector > JOURNAL_MAX_SECTOR ||
			    (sector & (sector - 1)) != 0)
				return 0;	/* a header never synced */
			if (jlen < sector)
				return 0;	/* header never written */
			if (image_resize(img, (sqlite3_int64)dbpages *
			    psize) != 0)
				return -1;
			first = 0;
		}
		off += sector;
		rec = 4 + (size_t)psize + 4;
		if (nrec == 0xffffffff)		/* no-sync mode: all pages */
			nrec = (uint32_t)((jlen - off) / rec);
		for (i = 0; i < nrec; i++, off += rec) {
			if (off + rec > jlen)
				return 0;	/* cut short: never synced */
			pgno = get32(j + off);
			if (pgno == 0 ||
			    pgno == STORE_PENDING_BYTE / psize + 1)
				return 0;
			for (sum = nonce, k = psize - 200; k > 0 && k < psize;
			    k -= 200)
				sum += j[off + 4 + k];
			if (sum != get32(j + off + 4 + psize))
				return 0;
			if ((sqlite3_int64)pgno * psize <= img->len)
				memcpy(img->buf + (size_t)(pgno - 1) * psize,
				    j + off + 4, psize);
		}
	}
}

/* All of the file name into *buf (malloc()ed); 1 if there is none. */
static int
read_journal(const char *name, unsigned char **buf, size_t *len, char **err)
{
	struct stat sb;
	ssize_t got;
	size_t have = 0;
	int fd;

	*buf = NULL;
	*len = 0;
	if ((fd = open(name, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 1;	/* rolled back meanwhile */
		ae_store_seterr(err, "%s: a writer was killed mid-commit, and its "
		    "journal cannot be read to undo that: %s (any writing aemp "
		    "command by its owner repairs it)", name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || (*buf = malloc((size_t)sb.st_size + 1)) ==
	    NULL) {
		ae_store_seterr(err, "%s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	while (have < (size_t)sb.st_size && (got = read(fd, *buf + have,
	    (size_t)sb.st_size - have)) > 0)
		have += (size_t)got;
	close(fd);
	*len = have;
	return 0;
}

/*
 * The store as a reader that may not write it sees it: the file with its
 * hot journal played back, in memory. The bytes are read through an
 * SQLite connection of the file, under the SHARED lock SQLite's readers
 * hold (so that no writer, nor another reader's rollback, changes it
 * meanwhile), and never through a descriptor of our own: closing any
 * descriptor of the file would drop every POSIX lock this process holds
 * on it (a writer's, say), and SQLite keeps its descriptors open while a
 * connection of the process has a lock. Nothing is written anywhere, so
 * nothing holding the secret is left behind, whatever kills the reader.
 */
static int
read_rolled_back(aemp_store *st, struct image *img, char **err)
{
	sqlite3 *db = NULL;
	sqlite3_file *f = NULL;
	sqlite3_int64 size;
	char *jname = journal_name(st->st_path);
	unsigned char *j = NULL;
	size_t jlen = 0;
	int tries, locked = 0, reserved = 0, rc = -1, has;

	img->buf = NULL;
	img->len = 0;
	if (jname == NULL) {
		ae_store_seterr(err, "out of memory");
		goto out;
	}
	if (sqlite3_open_v2(st->st_path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_file_control(db, "main",
	    SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || f == NULL ||
	    f->pMethods == NULL) {
		ae_store_seterr(err, "%s: %s", st->st_path, db != NULL ?
		    sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	for (tries = 0; f->pMethods->xLock(f, SQLITE_LOCK_SHARED) !=
	    SQLITE_OK; tries++) {
		if (tries * 10 >= STORE_BUSY_MS) {
			ae_store_seterr(err, "%s: cannot lock it for reading",
			    st->st_path);
			goto out;
		}
		usleep(10000);
	}
	locked = 1;
	/* a writer that holds RESERVED is writing its journal: not hot */
	if (f->pMethods->xCheckReservedLock(f, &reserved) != SQLITE_OK)
		reserved = 0;
	if (f->pMethods->xFileSize(f, &size) != SQLITE_OK || size < 0 ||
	    (img->buf = sqlite3_malloc64((sqlite3_uint64)size + 1)) == NULL ||
	    (size > 0 && f->pMethods->xRead(f, img->buf, (int)size, 0) !=
	    SQLITE_OK)) {
		ae_store_seterr(err, "%s: cannot read it", st->st_path);
		goto out;
	}
	img->len = size;
	if (!reserved && size > 0) {
		if ((has = read_journal(jname, &j, &jlen, err)) < 0)
			goto out;
		if (has == 0 && jlen > 0 && j[0] != 0 &&
		    journal_playback(img, j, jlen) != 0) {
			ae_store_seterr(err, "%s: its hot journal cannot be played "
			    "back here (any writing aemp command by its owner "
			    "repairs it)", st->st_path);
			goto out;
		}
	}
	rc = 0;
out:
	if (locked)
		f->pMethods->xUnlock(f, SQLITE_LOCK_NONE);
	sqlite3_close(db);	/* SQLite closes its descriptor when it may */
	if (j != NULL) {
		explicit_bzero(j, jlen);
		free(j);
	}
	free(jname);
	if (rc != 0) {
		sqlite3_free(img->buf);
		img->buf = NULL;
	}
	return rc;
}

/* Opens the private copy: img, deserialized into a connection in memory. */
static int
open_private(aemp_store *st, int *empty, char **err)
{
	struct image img;

	if (read_rolled_back(st, &img, err) != 0)
		return -1;
	if (sqlite3_open_v2(":memory:", &st->st_db, SQLITE_OPEN_READWRITE,
	    NULL) != SQLITE_OK) {
		sqlite3_free(img.buf);
		dberr(st, err);
		return -1;
	}
	/* (the connection frees img.buf, also when this fails) */
	if (sqlite3_deserialize(st->st_db, "main", img.buf, img.len, img.len,
	    SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) !=
	    SQLITE_OK) {
		dberr(st, err);
		return -1;
	}
	return begin_snapshot(st, empty, err);
}

aemp_store *
ae_store_open(const char *path, int mode, char **err)
{
	aemp_store *st;
	int missing, empty;

	if ((st = calloc(1, sizeof *st)) == NULL) {
		ae_store_seterr(err, "out of memory");
		return NULL;
	}
	st->st_mode = mode;
	st->st_path = path != NULL ? strdup(path) : ae_store_path(err);
	if (st->st_path == NULL)
		goto fail;
	if (mode == AEMP_STORE_WRITE && make_dirs(st->st_path, err) != 0)
		goto fail;
	if ((missing = check_file(st->st_path, mode, err)) < 0)
		goto fail;
	if (missing) {
		if (open_empty(st, err) != 0)
			goto fail;
		return st;
	}
	if (open_db(st, &empty, err) != 0) {
		/* A reader that could not roll back a hot journal itself. */
		if (mode != AEMP_STORE_READ || !has_journal(st->st_path))
			goto fail;
		close_db(st);
		if (err != NULL) {
			free(*err);
			*err = NULL;
		}
		if (open_private(st, &empty, err) != 0)
			goto fail;
	}
	if (empty) {
		close_db(st);
		if (open_empty(st, err) != 0)
			goto fail;
	}
	return st;
fail:
	ae_store_close(st);
	return NULL;
}

int
ae_store_commit(aemp_store *st, char **err)
{
	if (!st->st_txn)
		return 0;
	if (exec_sql(st, st->st_mode == AEMP_STORE_WRITE ? "COMMIT" :
	    "ROLLBACK", err) != 0)
		return -1;
	st->st_txn = 0;
	return 0;
}

void
ae_store_close(aemp_store *st)
{
	if (st == NULL)
		return;
	close_db(st);
	free(st->st_path);
	free(st);
}

const char *
ae_store_file(aemp_store *st)
{
	return st->st_path;
}

char *
ae_store_mode_warning(const char *path)
{
	char *own = NULL, *msg = NULL;
	struct stat sb;

	if (path == NULL && (path = own = ae_store_path(NULL)) == NULL)
		return NULL;
	if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (sb.st_mode & (S_IRGRP | S_IROTH)) != 0 &&
	    asprintf(&msg, "warning: %s is readable by %s (mode %04o), but it "
	    "holds the shared secret: chmod 600 %s", path,
	    (sb.st_mode & S_IROTH) ? "everybody" : "its group",
	    (unsigned)(sb.st_mode & 07777), path) < 0)
		msg = NULL;
	free(own);
	return msg;
}

/* NULL names the global default configuration, stored as ''. */
static int
row_name(const char *name, const char **row, char **err)
{
	if (name != NULL && *name == '\0') {
		ae_store_seterr(err, "empty profile name");
		return -1;
	}
	*row = name != NULL ? name : "";
	return 0;
}

static int
check_writable(aemp_store *st, char **err)
{
	if (st->st_mode == AEMP_STORE_WRITE && st->st_txn)
		return 0;
	ae_store_seterr(err, "%s: the store is not open for writing", st->st_path);
	return -1;
}

/* Prepare sql and bind the given strings to ?1, ?2, ... */
static sqlite3_stmt *
prepare(aemp_store *st, const char *sql, char **err, int n, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int i;

	if (sqlite3_prepare_v2(st->st_db, sql, -1, &s, NULL) != SQLITE_OK) {
		dberr(st, err);
		return NULL;
	}
	va_start(ap, n);
	for (i = 1; i <= n; i++)
		sqlite3_bind_text(s, i, va_arg(ap, const char *), -1,
		    SQLITE_TRANSIENT);
	va_end(ap);
	return s;
}

/* Run a statement that returns no rows, then finalize it. */
static int
run(aemp_store *st, sqlite3_stmt *s, char **err)
{
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		dberr(st, err);
		return -1;
	}
	return 0;
}

int
ae_store_has_profile(aemp_store *st, const char *name, char **err)
{
	sqlite3_stmt *s;
	const char *row;
	int rc;

	if (row_name(name, &row, err) != 0)
		return -1;
	s = prepare(st, "SELECT 1 FROM profile WHERE name = ?1", err, 1, row);
	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		dberr(st, err);
		return -1;
	}
	return rc == SQLITE_ROW;
}

json_t *
ae_store_profiles(aemp_store *st, char **err)
{
	sqlite3_stmt *s;
	json_t *a;
	int rc;

	s = prepare(st, "SELECT name FROM profile WHERE name <> '' "
	    "ORDER BY name", err, 0);
	if (s == NULL)
		return NULL;
	a = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(a, json_string((const char *)
		    sqlite3_column_text(s, 0)));
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		dberr(st, err);
		json_decref(a);
		return NULL;
	}
	return a;
}

int
ae_store_add_profile(aemp_store *st, const char *name, char **err)
{
	const char *row;

	if (row_name(name, &row, err) != 0 || check_writable(st, err) != 0)
		return -1;
	return run(st, prepare(st, "INSERT OR IGNORE INTO profile (name) "
	    "VALUES (?1)", err, 1, row), err);
}

int
ae_store_del_profile(aemp_store *st, const char *name, char **err)
{
	if (name == NULL || *name == '\0') {
		ae_store_seterr(err, "empty profile name");
		return -1;
	}
	if (check_writable(st, err) != 0)
		return -1;
	/* Explicitly, not by ON DELETE CASCADE: foreign keys may be off. */
	if (run(st, prepare(st, "DELETE FROM config WHERE profile = ?1", err,
	    1, name), err) != 0)
		return -1;
	return run(st, prepare(st, "DELETE FROM profile WHERE name = ?1", err,
	    1, name), err);
}

json_t *
ae_store_get(aemp_store *st, const char *name, char **err)
{
	sqlite3_stmt *s;
	const char *row, *key;
	json_t *o, *v;
	int rc;

	if (row_name(name, &row, err) != 0)
		return NULL;
	s = prepare(st, "SELECT key, value FROM config WHERE profile = ?1",
	    err, 1, row);
	if (s == NULL)
		return NULL;
	o = json_object();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		key = (const char *)sqlite3_column_text(s, 0);
		v = json_loads((const char *)sqlite3_column_text(s, 1),
		    JSON_DECODE_ANY, NULL);
		if (key == NULL || v == NULL) {
			ae_store_seterr(err, "%s: the stored value of %s in %s%s is "
			    "not JSON", st->st_path, key ? key : "?",
			    name ? "profile " : "the global configuration",
			    name ? name : "");
			sqlite3_finalize(s);
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, key, v);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		dberr(st, err);
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The stored parent of name, or NULL (none, or error: *failed set). */
static char *
get_parent(aemp_store *st, const char *name, int *failed, char **err)
{
	json_t *o, *p;
	char *parent = NULL;

	*failed = 0;
	if ((o = ae_store_get(st, name, err)) == NULL) {
		*failed = 1;
		return NULL;
	}
	p = json_object_get(o, "parent");
	if (p != NULL && !json_is_string(p)) {
		ae_store_seterr(err, "%s: profile %s: parent is not a string",
		    st->st_path, name);
		*failed = 1;
	} else if (p != NULL && json_string_length(p) > 0)
		parent = ae_xstrdup(json_string_value(p));
	json_decref(o);
	return parent;
}

/* "a -> b -> a": the cycle from chain[from] back to chain[from]. */
static void
cycle_error(json_t *chain, size_t from, char **err)
{
	size_t i, len = 64;
	char *msg, *p;

	for (i = from; i < json_array_size(chain); i++)
		len += json_string_length(json_array_get(chain, i)) + 4;
	len += json_string_length(json_array_get(chain, from));
	if ((msg = malloc(len)) == NULL) {
		ae_store_seterr(err, "profile parent cycle");
		return;
	}
	p = msg + sprintf(msg, "profile parent cycle: ");
	for (i = from; i < json_array_size(chain); i++)
		p += sprintf(p, "%s -> ", json_string_value(
		    json_array_get(chain, i)));
	sprintf(p, "%s", json_string_value(json_array_get(chain, from)));
	if (err != NULL)
		*err = msg;
	else
		free(msg);
}

static ssize_t
chain_index(json_t *chain, const char *name)
{
	size_t i;

	for (i = 0; i < json_array_size(chain); i++)
		if (strcmp(json_string_value(json_array_get(chain, i)),
		    name) == 0)
			return (ssize_t)i;
	return -1;
}

json_t *
ae_store_chain(aemp_store *st, const char *name, char **err)
{
	json_t *chain;
	char *cur, *parent;
	ssize_t at;
	int failed;

	if (name == NULL || *name == '\0') {
		ae_store_seterr(err, "empty profile name");
		return NULL;
	}
	chain = json_array();
	json_array_append_new(chain, json_string(name));
	cur = ae_xstrdup(name);
	for (;;) {
		parent = get_parent(st, cur, &failed, err);
		free(cur);
		if (failed) {
			json_decref(chain);
			return NULL;
		}
		if (parent == NULL)
			return chain;
		if ((at = chain_index(chain, parent)) >= 0) {
			free(parent);
			cycle_error(chain, (size_t)at, err);
			json_decref(chain);
			return NULL;
		}
		json_array_append_new(chain, json_string(parent));
		cur = parent;
	}
}

/* Setting name's parent to parent must not close a cycle. */
static int
check_new_parent(aemp_store *st, const char *name, const char *parent,
    char **err)
{
	json_t *chain, *cyc;
	ssize_t at;

	if ((chain = ae_store_chain(st, parent, err)) == NULL)
		return -1;
	if ((at = chain_index(chain, name)) >= 0) {
		cyc = json_array();
		json_array_append_new(cyc, json_string(name));
		json_array_extend(cyc, chain);
		/* Keep N, P, ... up to (not including) N's second visit. */
		while (json_array_size(cyc) > (size_t)at + 1)
			json_array_remove(cyc, json_array_size(cyc) - 1);
		cycle_error(cyc, 0, err);
		json_decref(cyc);
		json_decref(chain);
		return -1;
	}
	json_decref(chain);
	return 0;
}

int
ae_store_set(aemp_store *st, const char *name, const char *key,
    json_t *value, char **err)
{
	const char *row;
	json_t *v;
	char *text;
	int rc;

	if (row_name(name, &row, err) != 0 || check_writable(st, err) != 0)
		return -1;
	if (strcmp(key, "profile") == 0) {
		ae_store_seterr(err, "profile: not a key a profile can store");
		return -1;
	}
	if ((v = ae_config_check(key, value, err)) == NULL)
		return -1;
	if (strcmp(key, "parent") == 0) {
		if (name == NULL) {
			ae_store_seterr(err, "the global default configuration cannot "
			    "have a parent");
			json_decref(v);
			return -1;
		}
		if (check_new_parent(st, name, json_string_value(v), err)
		    != 0) {
			json_decref(v);
			return -1;
		}
	}
	/* 17 digits: a stored number reads back as the same double. */
	text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT |
	    JSON_REAL_PRECISION(17));
	json_decref(v);
	if (text == NULL) {
		ae_store_seterr(err, "out of memory");
		return -1;
	}
	rc = ae_store_add_profile(st, name, err);
	if (rc == 0)
		rc = run(st, prepare(st, "INSERT OR REPLACE INTO config "
		    "(profile, key, value) VALUES (?1, ?2, ?3)", err, 3, row,
		    key, text), err);
	free(text);
	return rc;
}

int
ae_store_del(aemp_store *st, const char *name, const char *key,
    char **err)
{
	const char *row;

	if (row_name(name, &row, err) != 0 || check_writable(st, err) != 0)
		return -1;
	return run(st, prepare(st, "DELETE FROM config WHERE profile = ?1 "
	    "AND key = ?2", err, 2, row, key), err);
}

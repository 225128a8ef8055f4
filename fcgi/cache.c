/* cache.c -- the SQLite cache of rendered models, shared by every FastCGI process */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <xxhash.h>

#include "cache.h"
#include "log.h"
#include "metrics.h"
#include "mirror.h"
#include "text.h"

#define ATIME_SLACK 60          /* seconds: access times are updated at most this often */
#define INLINE_MAX 16384        /* bytes: blobs up to this come with their row */
#define SCHEMA_VERSION 3        /* PRAGMA user_version of the layout below */
#define BUSY_MS 5000            /* how long a statement waits for another process's lock */
#define WAL_LIMIT 4194304       /* bytes: a WAL left larger by a write is truncated */
#define WAL_WAIT_MS 250         /* how long that truncation waits for readers to move on */
#define TEXT_(x) #x
#define TEXT(x) TEXT_(x)        /* a number macro as an SQL literal */

enum stmt {
	ST_GET,
	ST_TOUCH,
	ST_DEL,
	ST_PUT,
	ST_TOTAL,
	ST_OLDEST,
	ST_DEL_ID,
	ST_TOUCH_ID,
	ST_STATS,
	ST_HAS,
	ST__MAX
};

static const char *const stmt_sql[ST__MAX] = {
	/* The data itself only when small: a large blob is read by read_blob. */
	[ST_GET] =   "SELECT content_type, checksum, atime, id, length(data), log, "
	             "CASE WHEN length(data) <= " TEXT(INLINE_MAX) " THEN data END "
	             "FROM blobs WHERE key = ?1",
	[ST_TOUCH] = "UPDATE blobs SET atime = ?2 WHERE key = ?1",
	[ST_DEL] =   "DELETE FROM blobs WHERE key = ?1",
	[ST_PUT] =   "INSERT OR REPLACE INTO blobs (key, content_type, size, checksum, renderer, "
	             "created, atime, data, log) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)",
	[ST_TOTAL] = "SELECT total(size) FROM blobs",
	[ST_OLDEST] = "SELECT id, key, content_type, atime FROM blobs WHERE key != ?1 "
	             "ORDER BY atime, id LIMIT 1",
	[ST_DEL_ID] = "DELETE FROM blobs WHERE id = ?1",
	[ST_TOUCH_ID] = "UPDATE blobs SET atime = ?2 WHERE id = ?1",
	[ST_STATS] = "SELECT count(*), total(size) FROM blobs",
	[ST_HAS] =   "SELECT 1 FROM blobs WHERE key = ?1",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS blobs ("
	" id INTEGER PRIMARY KEY,"
	" key TEXT NOT NULL UNIQUE,"          /* the request key, 64 hex */
	" content_type TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" checksum TEXT NOT NULL,"            /* XXH3-128 of data, checked on every read */
	" renderer TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" atime INTEGER NOT NULL,"
	" data BLOB NOT NULL,"
	" log TEXT NOT NULL DEFAULT '');"      /* OpenSCAD's messages: echo, warnings */
	"CREATE INDEX IF NOT EXISTS blobs_atime ON blobs (atime, size);";

struct cache {
	char *path;
	char *wal;                     /* path-wal */
	char *lock;                    /* path.lock: taken to open, and to discard, the files */
	uint64_t max_bytes;
	uint64_t entry_max;            /* largest entry stored */
	char *mirror;                  /* folder of the entries as files, for nginx (mirror.h) */
	sqlite3 *db;                   /* NULL while closed */
	sqlite3_stmt *st[ST__MAX];
	dev_t dev;                     /* identity of the file we have open */
	ino_t ino;
};

/*
 * The checksum of a blob: XXH3-128 in hex. It guards against corruption, not attack (the
 * file is ours), and is ~20 times cheaper than SHA-256 on the hit path.
 */
static void
checksum(const void *data, size_t size, char out[33])
{
	XXH128_hash_t h = XXH3_128bits(data, size);
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	text_hex(c.digest, sizeof(c.digest), out);
}

static void
db_close(struct cache *c)
{
	int i;

	for (i = 0; i < ST__MAX; i++) {
		sqlite3_finalize(c->st[i]);
		c->st[i] = NULL;
	}
	sqlite3_close(c->db);
	c->db = NULL;
}

/* Opens the lock file and takes it (LOCK_SH or LOCK_EX), waiting. Its descriptor, or -1. */
static int
lock_take(const struct cache *c, int how)
{
	int fd;

	if ((fd = open(c->lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return -1;
	while (flock(fd, how) != 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

/*
 * Removes the database and its WAL files: they are corrupt. Another process may have found
 * that first, removed them and started a new cache at the same path, whose -wal and -shm
 * removing by name would wreck. So: under the exclusive lock (processes open the cache under
 * the shared one, so no file is made meanwhile), and only if the file at path is still the
 * one we have open. Open: while our connection holds it, its inode number cannot be given
 * to a new file, so the same number means the same file.
 */
static void
db_discard(struct cache *c)
{
	struct stat st;
	int lock, same;

	log_msg(LOG_WARN, NULL, "cache %s is corrupt: starting a new one", c->path);
	metrics_add(M_CACHE_CORRUPT, 1);
	if (c->db == NULL)
		return;
	if ((lock = lock_take(c, LOCK_EX)) < 0)
		log_msg(LOG_WARN, NULL, "cache lock %s: %s", c->lock, strerror(errno));
	same = stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino;
	db_close(c);
	if (same) {
		unlink(c->path);
		unlink(c->wal);
		/* c->wal is path-wal: path-shm is as long. */
		memcpy(c->wal + strlen(c->wal) - 3, "shm", 3);
		unlink(c->wal);
		memcpy(c->wal + strlen(c->wal) - 3, "wal", 3);
		/* Its entries' files too: nginx would serve keys the new cache does not hold. */
		mirror_clear(c->mirror);
	} else
		log_msg(LOG_INFO, NULL, "cache %s was already replaced: keeping the new one",
		    c->path);
	if (lock >= 0)
		close(lock);
}

/* Handles a failed SQLite call: drops a corrupt file, logs the rest. Always returns -1. */
static int
db_fail(struct cache *c, int rc, const char *what)
{
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
		db_discard(c);
		return -1;
	}
	metrics_add(M_CACHE_ERRORS, 1);
	log_msg(LOG_WARN, NULL, "cache %s: %s: %s", c->path, what,
	    c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
	if (rc == SQLITE_IOERR || rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN)
		db_close(c);	/* the file may have gone: reopen next time */
	return -1;
}

/*
 * Creates the schema, or replaces one of another version (a cache holds nothing that
 * cannot be rendered again). In one BEGIN IMMEDIATE, so processes starting together agree.
 * *created is 1 if this call made the table (the cache is new and empty).
 */
static int
schema_ready(sqlite3 *db, int *created)
{
	sqlite3_stmt *st = NULL;
	int rc, version = -1;

	*created = 0;
	if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		version = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_OK && version != SCHEMA_VERSION) {
		if (version != 0)
			log_msg(LOG_WARN, NULL, "cache schema %d is not %d: starting afresh",
			    version, SCHEMA_VERSION);
		rc = sqlite3_exec(db, "DROP TABLE IF EXISTS blobs;", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "PRAGMA user_version = " TEXT(SCHEMA_VERSION), NULL,
			    NULL, NULL);
		*created = rc == SQLITE_OK;
	}
	if (rc == SQLITE_OK)
		return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Opens the database if it is closed, or reopens it if the file was deleted or replaced. */
static int
db_ready(struct cache *c)
{
	struct stat st;
	int rc, i, lock, created = 0;

	if (c->db != NULL) {
		if (stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
			return 0;
		log_msg(LOG_WARN, NULL, "cache %s was removed or replaced: reopening", c->path);
		metrics_add(M_CACHE_REOPENS, 1);
		db_close(c);
	}
	/*
	 * Opened under the shared lock: a process discarding a corrupt cache holds it
	 * exclusively while it removes the files, so none is opened (or made) half way
	 * through, and the identity taken here is that of the file SQLite opened.
	 */
	lock = lock_take(c, LOCK_SH);
	rc = sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK && stat(c->path, &st) != 0)
		rc = SQLITE_CANTOPEN;
	if (rc == SQLITE_OK) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
		sqlite3_busy_timeout(c->db, BUSY_MS);
		/*
		 * mmap: a hit reads its blob's overflow pages without a pread() each. The WAL
		 * is reused, not shrunk, after a checkpoint: journal_size_limit truncates it
		 * when it starts over, and wal_bound right after a large write.
		 */
		sqlite3_wal_autocheckpoint(c->db, WAL_LIMIT / 4096);
		rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
		    "PRAGMA mmap_size=268435456; PRAGMA journal_size_limit=" TEXT(WAL_LIMIT) ";",
		    NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rc = schema_ready(c->db, &created);
	/* A new cache (the old one deleted, replaced or of another schema): no file is ours. */
	if (rc == SQLITE_OK && created)
		mirror_clear(c->mirror);
	for (i = 0; rc == SQLITE_OK && i < ST__MAX; i++)
		rc = sqlite3_prepare_v3(c->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &c->st[i], NULL);
	if (lock >= 0)
		close(lock);	/* before db_fail: a discard takes it exclusively */
	if (rc == SQLITE_OK)
		return 0;
	db_fail(c, rc, "open");
	db_close(c);	/* half open is not open: try again on the next call */
	return -1;
}

struct cache *
cache_open(const char *path, uint64_t max_bytes, uint64_t entry_max)
{
	struct cache *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->path = strdup(path)) == NULL || (c->wal = malloc(strlen(path) + 5)) == NULL ||
	    (c->lock = malloc(strlen(path) + 6)) == NULL || (c->mirror = mirror_dir(path)) == NULL) {
		free(c->path);
		free(c->wal);
		free(c->lock);
		free(c);
		return NULL;
	}
	memcpy(c->wal, path, strlen(path));
	memcpy(c->wal + strlen(path), "-wal", 5);
	memcpy(c->lock, path, strlen(path));
	memcpy(c->lock + strlen(path), ".lock", 6);
	c->max_bytes = max_bytes;
	c->entry_max = entry_max < max_bytes ? entry_max : max_bytes;
	mirror_boot_check(c->mirror);
	db_ready(c);
	return c;
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	db_close(c);
	free(c->path);
	free(c->wal);
	free(c->lock);
	free(c->mirror);
	free(c);
}

/* Binds the optional int ?2, runs the one-step write st (its ?1 bound) and resets it. */
static int
step_write(struct cache *c, sqlite3_stmt *st, sqlite3_int64 arg)
{
	int rc;

	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, arg);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : db_fail(c, rc, "write");
}

/* Runs a one-step statement with key bound as ?1 (and optional int ?2). */
static int
exec_key(struct cache *c, enum stmt s, const char *key, sqlite3_int64 arg)
{
	sqlite3_stmt *st = c->st[s];

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	return step_write(c, st, arg);
}

/* Runs a one-step statement with the row id bound as ?1 (and optional int ?2). */
static int
exec_id(struct cache *c, enum stmt s, sqlite3_int64 id, sqlite3_int64 arg)
{
	sqlite3_stmt *st = c->st[s];

	sqlite3_bind_int64(st, 1, id);
	return step_write(c, st, arg);
}

/*
 * Copies the data of the row st stands on (ST_GET) into a new buffer of size bytes (*out,
 * owned by the caller), in the read transaction st holds open. A large blob is copied once,
 * straight from SQLite's pages: sqlite3_column_blob would first assemble it from its overflow
 * pages in a buffer of its own. SQLITE_OK, or an SQLite error code.
 */
static int
read_blob(struct cache *c, sqlite3_stmt *st, size_t size, unsigned char **out)
{
	sqlite3_blob *b = NULL;
	int rc;

	*out = NULL;
	if (size > INT_MAX)
		return SQLITE_TOOBIG;
	if ((*out = malloc(size ? size : 1)) == NULL)
		return SQLITE_NOMEM;
	if (size == 0)
		return SQLITE_OK;
	if (size <= INLINE_MAX) {
		/* Small: it came with the row, from its own page. */
		const void *p = sqlite3_column_blob(st, 6);
		if (p == NULL || (size_t)sqlite3_column_bytes(st, 6) != size) {
			rc = SQLITE_CORRUPT;
			goto out;
		}
		memcpy(*out, p, size);
		return SQLITE_OK;
	}
	rc = sqlite3_blob_open(c->db, "main", "blobs", "data", sqlite3_column_int64(st, 3), 0, &b);
	if (rc != SQLITE_OK)
		goto out;
	if ((size_t)sqlite3_blob_bytes(b) != size)
		rc = SQLITE_CORRUPT;
	else
		rc = sqlite3_blob_read(b, *out, (int)size, 0);
out:
	sqlite3_blob_close(b);
	if (rc != SQLITE_OK) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/*
 * Keeps the WAL small after a write. Left alone, it holds the largest transaction ever
 * written (a write's pages go to the WAL first) and grows without end while readers keep
 * a checkpoint from reaching its end. When the write left it over WAL_LIMIT: a PASSIVE
 * checkpoint (never waits), and if that copied every page back, a TRUNCATE one that waits
 * at most WAL_WAIT_MS for readers of older pages and empties the file. Else the next
 * write tries again; journal_size_limit trims it whenever it starts over meanwhile.
 */
static void
wal_bound(struct cache *c)
{
	struct stat st;
	int rc, frames = 0, copied = 0;

	if (c->db == NULL || stat(c->wal, &st) != 0 || st.st_size <= WAL_LIMIT)
		return;
	rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
	if (rc == SQLITE_OK && copied == frames) {
		sqlite3_busy_timeout(c->db, WAL_WAIT_MS);
		rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
		    NULL);
		sqlite3_busy_timeout(c->db, BUSY_MS);
	}
	if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		log_msg(LOG_DEBUG, NULL, "cache WAL was %lld bytes: %s", (long long)st.st_size,
		    rc == SQLITE_OK && copied == frames ? "truncated" : "readers hold it");
	else
		db_fail(c, rc, "checkpoint");
}

int
cache_get(struct cache *c, const char *key, struct cache_entry *e)
{
	sqlite3_stmt *st;
	unsigned char *data = NULL;
	char sum[33];
	const char *want, *ctype, *log, *ext = NULL;
	sqlite3_int64 atime, now = (sqlite3_int64)time(NULL);
	int rc, hit = 0, bad = 0, touch = 0;

	memset(e, 0, sizeof(*e));
	if (db_ready(c))
		return 0;
	st = c->st[ST_GET];
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ctype = (const char *)sqlite3_column_text(st, 0);
		want = (const char *)sqlite3_column_text(st, 1);
		atime = sqlite3_column_int64(st, 2);
		ext = mirror_ext(ctype);	/* static: outlives the row */
		e->size = (size_t)sqlite3_column_int64(st, 4);
		/* The statement stays on its row, so the blob is read in the same snapshot. */
		rc = read_blob(c, st, e->size, &data);
		if (rc == SQLITE_NOMEM || rc == SQLITE_TOOBIG)
			;	/* a miss: render it again rather than fail */
		else if (rc != SQLITE_OK || ctype == NULL || want == NULL)
			bad = 1;
		else if (checksum(data, e->size, sum), strcmp(sum, want) != 0)
			bad = 1;
		else {
			e->data = data;
			data = NULL;
			snprintf(e->content_type, sizeof(e->content_type), "%s", ctype);
			log = (const char *)sqlite3_column_text(st, 5);
			snprintf(e->log, sizeof(e->log), "%s", log ? log : "");
			hit = 1;
			touch = now - atime > ATIME_SLACK;
		}
	} else if (rc != SQLITE_DONE) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		db_fail(c, rc, "read");
		return 0;
	}
	free(data);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (bad == 1) {
		log_msg(LOG_WARN, NULL, "cache entry %s failed its checksum: dropped", key);
		metrics_add(M_CACHE_CORRUPT, 1);
		/* Its file was written from the bytes stored: it may be good, but it goes too. */
		mirror_remove(c->mirror, key, ext);
		if (exec_key(c, ST_DEL, key, 0) == 0)
			wal_bound(c);
	} else if (touch && exec_key(c, ST_TOUCH, key, now) == 0) {
		wal_bound(c);
		/*
		 * A hit the program answers means nginx found no file: one lost (a process
		 * that stopped between its commit and its write, a reboot) or never written
		 * (a cache older than the mirror). At most once a minute a key, from the
		 * bytes just verified.
		 */
		if (ext != NULL && !mirror_has(c->mirror, key, ext))
			mirror_write(c->mirror, key, ext, e->data, e->size);
	}
	if (!hit)
		e->size = 0;
	return hit;
}

/* The entries a transaction evicted, whose files go once it commits. */
struct gone {
	struct gone_one {
		char key[65];
		const char *ext;       /* static (mirror_ext); NULL: whatever it is */
	} *at;
	size_t n, cap;
};

/* Removes the files of the entries in g, then empties g. */
static void
gone_remove(struct cache *c, struct gone *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		mirror_remove(c->mirror, g->at[i].key, g->at[i].ext);
	free(g->at);
	memset(g, 0, sizeof(*g));
}

/*
 * Records key (evicted) in g. Out of memory, its file goes at once instead: before the
 * commit, so if that fails the entry stays without a file, and the program answers for it.
 */
static void
gone_add(struct cache *c, struct gone *g, const char *key, const char *ext)
{
	struct gone_one *at;

	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 8;
		if ((at = realloc(g->at, cap * sizeof(*at))) == NULL) {
			mirror_remove(c->mirror, key, ext);
			return;
		}
		g->at = at;
		g->cap = cap;
	}
	snprintf(g->at[g->n].key, sizeof(g->at[g->n].key), "%s", key);
	g->at[g->n].ext = ext;
	g->n++;
}

/*
 * Evicts least recently used entries, one at a time, until the total fits the cap; never
 * the entry just stored (keep). Inside a transaction; the keys evicted go to g (their files
 * are removed after the commit, by the caller).
 *
 * nginx answers most GET /api/models/{key} itself, so those reads never reach the row's
 * access time. The file's does, roughly: under relatime, the first read after the file was
 * written and then one a day. So the oldest entry is first checked against its file: read
 * since (by more than ATIME_SLACK), it takes the file's access time and the next oldest is
 * looked at. Each entry moves at most once a call (its time is then the file's).
 */
static int
evict(struct cache *c, const char *keep, struct gone *g)
{
	sqlite3_stmt *st;
	sqlite3_int64 id, atime;
	double total;
	const char *ext;
	char key[65];
	time_t used;
	int rc;

	for (;;) {
		st = c->st[ST_TOTAL];
		if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
			sqlite3_reset(st);
			return db_fail(c, rc, "total");
		}
		total = sqlite3_column_double(st, 0);
		sqlite3_reset(st);
		if (total <= (double)c->max_bytes)
			return 0;
		st = c->st[ST_OLDEST];
		sqlite3_bind_text(st, 1, keep, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			id = sqlite3_column_int64(st, 0);
			snprintf(key, sizeof(key), "%s", (const char *)sqlite3_column_text(st, 1) ?
			    (const char *)sqlite3_column_text(st, 1) : "");
			ext = mirror_ext((const char *)sqlite3_column_text(st, 2));
			atime = sqlite3_column_int64(st, 3);
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc == SQLITE_DONE)
			return 0;	/* only the new entry is left, and it fits (checked by the caller) */
		if (rc != SQLITE_ROW)
			return db_fail(c, rc, "evict");
		if (mirror_read_since(c->mirror, key, ext, &used) &&
		    (sqlite3_int64)used > atime + ATIME_SLACK) {
			if (exec_id(c, ST_TOUCH_ID, id, (sqlite3_int64)used))
				return -1;
			continue;
		}
		if (exec_id(c, ST_DEL_ID, id, 0))
			return -1;
		metrics_add(M_CACHE_EVICTIONS, 1);
		gone_add(c, g, key, ext);
	}
}

enum cache_store
cache_put(struct cache *c, const char *key, const char *content_type, const void *data,
    size_t size, const char *renderer, const char *log)
{
	sqlite3_stmt *st;
	struct gone g;
	char sum[33];
	int rc;

	memset(&g, 0, sizeof(g));
	if (size > c->entry_max || size > 0x7fffffff)
		return CACHE_TOO_LARGE;	/* would evict too much (or all, and still not fit) */
	if (db_ready(c))
		return CACHE_FAILED;
	checksum(size ? data : "", size, sum);
	if ((rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK) {
		db_fail(c, rc, "begin");
		return CACHE_FAILED;
	}
	st = c->st[ST_PUT];
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, content_type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)size);
	sqlite3_bind_text(st, 4, sum, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, renderer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	sqlite3_bind_blob(st, 7, size ? data : "", (int)size, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, log ? log : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		goto fail;
	if (evict(c, key, &g))
		goto fail_closed;
	if ((rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	gone_remove(c, &g);
	wal_bound(c);
	/*
	 * The file after the row, from the bytes just stored and checksummed. Another process
	 * may have evicted the entry between our commit and our rename, and removed a file
	 * that was not there yet: if the row is gone now, so is the file. (Either order that
	 * other process's removal comes in, no file outlives its row.)
	 */
	if (mirror_write(c->mirror, key, mirror_ext(content_type), size ? data : "", size) == 0 &&
	    !cache_has(c, key))
		mirror_remove(c->mirror, key, mirror_ext(content_type));
	return CACHE_STORED;
fail:
	if (c->db != NULL)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	db_fail(c, rc, "store");
	free(g.at);
	return CACHE_FAILED;
fail_closed:
	if (c->db != NULL)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	free(g.at);
	return CACHE_FAILED;
}

int
cache_has(struct cache *c, const char *key)
{
	sqlite3_stmt *st;
	int rc;

	if (db_ready(c))
		return 0;
	st = c->st[ST_HAS];
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		db_fail(c, rc, "read");
	return 0;
}

int
cache_stats(struct cache *c, int64_t *entries, int64_t *bytes)
{
	sqlite3_stmt *st;
	int rc;

	*entries = *bytes = 0;
	if (db_ready(c))
		return -1;
	st = c->st[ST_STATS];
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return db_fail(c, rc, "stats");
	}
	*entries = sqlite3_column_int64(st, 0);
	*bytes = (int64_t)sqlite3_column_double(st, 1);
	sqlite3_reset(st);
	return 0;
}

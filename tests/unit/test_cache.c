/* test_cache.c -- tests for fcgi/cache.c: round trips, checksums, LRU, a lost or broken file,
 * the mirror of files nginx serves */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cache.h"
#include "key.h"
#include "log.h"
#include "mirror.h"
#include "unit.h"

static const char renderer[] = "openscad 2021.01 cgal";

/* A fresh temporary directory per test, and the cache path in it. */
static char dir[256];
static char path[300];
static char models[300];	/* the mirror: "models" beside the cache */

static void
setup(void)
{
	log_set_level(LOG_ERROR);	/* the warnings are what these tests provoke */
	snprintf(dir, sizeof(dir), "%s/scadserve-cache-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/cache.sqlite", dir);
	snprintf(models, sizeof(models), "%s/models", dir);
}

static void
remove_db_files(void)
{
	char side[320];

	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-journal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s.lock", path);
	unlink(side);
}

/* Removes the mirror folder and what the cache put in it. */
static void
remove_mirror(void)
{
	char boot[320];

	mirror_clear(models);
	snprintf(boot, sizeof(boot), "%s/.boot", models);
	unlink(boot);
	rmdir(models);
}

static void
teardown(void)
{
	remove_db_files();
	remove_mirror();
	rmdir(dir);
}

/* 1 if the mirror holds k as a file of extension ext with exactly data[0..len). */
static int
mirrored(const char *k, const char *ext, const void *data, size_t len)
{
	char p[500], buf[4096];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s.%s", models, k, ext);
	if ((fd = open(p, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n >= 0 && (size_t)n == len && memcmp(buf, data, len) == 0;
}

/* Sets the access and modification times of k's mirror file. */
static int
file_times(const char *k, const char *ext, time_t atime, time_t mtime)
{
	struct timespec ts[2] = { { atime, 0 }, { mtime, 0 } };
	char p[500];

	snprintf(p, sizeof(p), "%s/%s.%s", models, k, ext);
	return utimensat(AT_FDCWD, p, ts, 0);
}

/* The key of a short name, as the server's keys look (64 hex). */
static const char *
key(const char *name)
{
	static char k[8][65];
	static int i;

	i = (i + 1) % 8;
	key_sha256_hex(name, strlen(name), k[i]);
	return k[i];
}

/* Fills buf with len bytes that depend on seed (NULs included). */
static void
fill(unsigned char *buf, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)((i * 31 + seed * 7) % 251);
}

/* 1 if k is in the cache with exactly data[0..len). */
static int
holds(struct cache *c, const char *k, const void *data, size_t len)
{
	struct cache_entry e;
	int ok;

	if (cache_get(c, k, &e) != 1)
		return 0;
	ok = e.size == len && (len == 0 || memcmp(e.data, data, len) == 0);
	free(e.data);
	return ok;
}

/* Runs one SQL statement on the cache file through its own connection. */
static int
sql(const char *stmt)
{
	sqlite3 *db = NULL;
	int rc;

	if (sqlite3_open(path, &db) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, stmt, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		printf("#   sql: %s: %s\n", stmt, sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* The number of rows for k, read through its own connection; -1 on failure. */
static int
rows(const char *k)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM blobs WHERE key = ?1", -1, &st,
	    NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void
set_atime(const char *k, long long atime)
{
	char stmt[200];

	snprintf(stmt, sizeof(stmt), "UPDATE blobs SET atime = %lld WHERE key = '%s'", atime,
	    k);
	CHECK_INT(sql(stmt), 0);
}

TEST(round_trip)
{
	unsigned char data[5000];
	struct cache_entry e;
	struct cache *c;

	setup();
	fill(data, sizeof(data), 1);
	data[0] = 0;
	c = cache_open(path, 1 << 20, 1 << 20);
	if (!CHECK(c != NULL))
		goto out;
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, sizeof(data), renderer,
	    "ECHO: 1\nWARNING: w\n"), 0);
	if (CHECK_INT(cache_get(c, key("a"), &e), 1)) {
		CHECK_STR(e.log, "ECHO: 1\nWARNING: w\n");
		CHECK_INT(e.size, sizeof(data));
		CHECK(e.data != NULL && memcmp(e.data, data, sizeof(data)) == 0);
		CHECK_STR(e.content_type, "model/stl");
		free(e.data);
	}
	/* And again, from a new handle: it is on disk. */
	cache_free(c);
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK(holds(c, key("a"), data, sizeof(data)));
	if (CHECK_INT(cache_get(c, key("a"), &e), 1)) {
		CHECK_STR(e.content_type, "model/stl");
		free(e.data);
	}
	CHECK_INT(rows(key("a")), 1);
out:
	cache_free(c);
	teardown();
}

TEST(content_types)
{
	struct cache_entry e;
	struct cache *c;

	setup();
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_put(c, key("svg"), "image/svg+xml", "<svg/>", 6, renderer, ""), 0);
	CHECK_INT(cache_put(c, key("off"), "text/plain; charset=utf-8", "OFF\n", 4, renderer, ""),
	    0);
	if (CHECK_INT(cache_get(c, key("svg"), &e), 1)) {
		CHECK_STR(e.content_type, "image/svg+xml");
		free(e.data);
	}
	if (CHECK_INT(cache_get(c, key("off"), &e), 1)) {
		CHECK_STR(e.content_type, "text/plain; charset=utf-8");
		free(e.data);
	}
	cache_free(c);
	teardown();
}

TEST(empty_blob)
{
	struct cache_entry e;
	struct cache *c;

	/* cache_put takes size 0; such an entry must read back as a hit of 0 bytes. */
	setup();
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_put(c, key("empty"), "text/plain", "", 0, renderer, ""), 0);
	if (CHECK_INT(cache_get(c, key("empty"), &e), 1)) {
		CHECK_INT(e.size, 0);
		CHECK_STR(e.content_type, "text/plain");
		free(e.data);
	}
	cache_free(c);
	teardown();
}

TEST(miss)
{
	struct cache_entry e;
	struct cache *c;

	setup();
	c = cache_open(path, 1 << 20, 1 << 20);
	memset(&e, 0x5a, sizeof(e));
	CHECK_INT(cache_get(c, key("nothing"), &e), 0);
	CHECK(e.data == NULL);
	CHECK_INT(e.size, 0);
	CHECK_INT(cache_put(c, key("a"), "model/stl", "abc", 3, renderer, ""), 0);
	CHECK_INT(cache_get(c, key("b"), &e), 0);
	CHECK(e.data == NULL);
	cache_free(c);
	teardown();
}

TEST(overwrite)
{
	struct cache_entry e;
	struct cache *c;
	int64_t n, bytes;

	setup();
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_put(c, key("a"), "model/stl", "first", 5, renderer, ""), 0);
	CHECK_INT(cache_put(c, key("a"), "model/3mf", "second!", 7, renderer, ""), 0);
	if (CHECK_INT(cache_get(c, key("a"), &e), 1)) {
		CHECK_INT(e.size, 7);
		CHECK_MEM(e.data, "second!", 7);
		CHECK_STR(e.content_type, "model/3mf");
		free(e.data);
	}
	CHECK_INT(cache_stats(c, &n, &bytes), 0);
	CHECK_INT(n, 1);
	CHECK_INT(bytes, 7);
	CHECK_INT(rows(key("a")), 1);
	cache_free(c);
	teardown();
}

TEST(checksum_failure_zeroed)
{
	unsigned char data[1000];
	struct cache_entry e;
	struct cache *c;
	int64_t n, bytes;
	char stmt[200];

	setup();
	fill(data, sizeof(data), 2);
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, sizeof(data), renderer, ""), 0);
	CHECK_INT(cache_put(c, key("b"), "model/stl", data, 10, renderer, ""), 0);
	snprintf(stmt, sizeof(stmt), "UPDATE blobs SET data = zeroblob(size) WHERE key = '%s'",
	    key("a"));
	CHECK_INT(sql(stmt), 0);
	memset(&e, 0x5a, sizeof(e));
	CHECK_INT(cache_get(c, key("a"), &e), 0);
	CHECK(e.data == NULL);
	CHECK_INT(e.size, 0);
	CHECK_INT(rows(key("a")), 0);		/* dropped */
	CHECK_INT(cache_get(c, key("a"), &e), 0);
	CHECK(holds(c, key("b"), data, 10));	/* the others stay */
	CHECK_INT(cache_stats(c, &n, &bytes), 0);
	CHECK_INT(n, 1);
	CHECK_INT(bytes, 10);
	/* It can be stored again. */
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, sizeof(data), renderer, ""), 0);
	CHECK(holds(c, key("a"), data, sizeof(data)));
	cache_free(c);
	teardown();
}

TEST(checksum_failure_one_byte)
{
	unsigned char data[1000];
	struct cache_entry e;
	struct cache *c;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	setup();
	fill(data, sizeof(data), 3);
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, sizeof(data), renderer, ""), 0);
	/* Change one byte in the middle, keeping the size. */
	data[500] ^= 1;
	if (CHECK_INT(sqlite3_open(path, &db), SQLITE_OK) &&
	    CHECK_INT(sqlite3_prepare_v2(db, "UPDATE blobs SET data = ?1 WHERE key = ?2", -1,
	    &st, NULL), SQLITE_OK)) {
		sqlite3_bind_blob(st, 1, data, sizeof(data), SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key("a"), -1, SQLITE_TRANSIENT);
		CHECK_INT(sqlite3_step(st), SQLITE_DONE);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	CHECK_INT(cache_get(c, key("a"), &e), 0);
	CHECK_INT(rows(key("a")), 0);
	/* A changed checksum column is caught the same way. */
	data[500] ^= 1;
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, sizeof(data), renderer, ""), 0);
	CHECK_INT(sql("UPDATE blobs SET checksum = 'x'"), 0);
	CHECK_INT(cache_get(c, key("a"), &e), 0);
	CHECK_INT(rows(key("a")), 0);
	cache_free(c);
	teardown();
}

TEST(lru_evicts_oldest_first)
{
	unsigned char data[300];
	struct cache *c;
	long long now = (long long)time(NULL);
	int64_t n, bytes;

	setup();
	fill(data, sizeof(data), 4);
	c = cache_open(path, 1000, 1000);	/* room for three of 300 bytes */
	CHECK_INT(cache_put(c, key("k1"), "model/stl", data, 300, renderer, ""), 0);
	CHECK_INT(cache_put(c, key("k2"), "model/stl", data, 300, renderer, ""), 0);
	CHECK_INT(cache_put(c, key("k3"), "model/stl", data, 300, renderer, ""), 0);
	set_atime(key("k1"), now - 1000);
	set_atime(key("k2"), now - 3000);	/* the least recently used */
	set_atime(key("k3"), now - 2000);
	CHECK_INT(cache_put(c, key("k4"), "model/stl", data, 300, renderer, ""), 0);
	/* Just enough is evicted, oldest first: k2 only. */
	CHECK_INT(rows(key("k2")), 0);
	CHECK_INT(rows(key("k1")), 1);
	CHECK_INT(rows(key("k3")), 1);
	CHECK_INT(rows(key("k4")), 1);
	CHECK(holds(c, key("k4"), data, 300));	/* what was just stored is there */
	CHECK_INT(cache_stats(c, &n, &bytes), 0);
	CHECK_INT(n, 3);
	CHECK_INT(bytes, 900);
	cache_free(c);
	teardown();
}

TEST(lru_get_refreshes)
{
	unsigned char data[300];
	struct cache *c;
	long long now = (long long)time(NULL);

	setup();
	fill(data, sizeof(data), 5);
	c = cache_open(path, 1000, 1000);
	CHECK_INT(cache_put(c, key("k1"), "model/stl", data, 300, renderer, ""), 0);
	CHECK_INT(cache_put(c, key("k2"), "model/stl", data, 300, renderer, ""), 0);
	CHECK_INT(cache_put(c, key("k3"), "model/stl", data, 300, renderer, ""), 0);
	set_atime(key("k1"), now - 3000);
	set_atime(key("k2"), now - 2000);
	set_atime(key("k3"), now - 1000);
	/* Reading k1 makes it recent: k2 is the one to go. */
	CHECK(holds(c, key("k1"), data, 300));
	CHECK_INT(cache_put(c, key("k4"), "model/stl", data, 300, renderer, ""), 0);
	CHECK_INT(rows(key("k1")), 1);
	CHECK_INT(rows(key("k2")), 0);
	CHECK_INT(rows(key("k3")), 1);
	CHECK_INT(rows(key("k4")), 1);
	cache_free(c);
	teardown();
}

TEST(lru_many_small)
{
	unsigned char data[100];
	struct cache *c;
	char name[16];
	int i, kept = 0;
	int64_t n, bytes;

	setup();
	fill(data, sizeof(data), 6);
	c = cache_open(path, 2000, 2000);	/* room for 20 */
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		CHECK_INT(cache_put(c, key(name), "model/stl", data, sizeof(data), renderer, ""), 0);
		set_atime(key(name), 1000 + i);	/* stored in order of use */
	}
	CHECK_INT(cache_stats(c, &n, &bytes), 0);
	CHECK(bytes <= 2000);
	/* The most recent ones are the ones kept, and the cap is used, not wasted. */
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		if (rows(key(name)) == 1) {
			kept++;
			CHECK(i >= 20);
		}
	}
	CHECK_INT(kept, 20);
	CHECK_INT(n, 20);
	cache_free(c);
	teardown();
}

TEST(larger_than_cap)
{
	unsigned char data[200];
	struct cache *c;
	int64_t n, bytes;

	setup();
	fill(data, sizeof(data), 7);
	c = cache_open(path, 150, 150);
	CHECK_INT(cache_put(c, key("small"), "model/stl", data, 100, renderer, ""), 0);
	CHECK_INT(cache_put(c, key("big"), "model/stl", data, 151, renderer, ""),
	    CACHE_TOO_LARGE);
	CHECK_INT(cache_get(c, key("big"), &(struct cache_entry){ 0 }), 0);
	/* Refusing it evicted nothing. */
	CHECK(holds(c, key("small"), data, 100));
	CHECK_INT(cache_stats(c, &n, &bytes), 0);
	CHECK_INT(n, 1);
	/* Exactly the cap fits (evicting the rest). */
	CHECK_INT(cache_put(c, key("cap"), "model/stl", data, 150, renderer, ""), 0);
	CHECK(holds(c, key("cap"), data, 150));
	cache_free(c);
	teardown();
}

TEST(file_deleted_while_open)
{
	unsigned char data[100];
	struct cache *c;

	setup();
	fill(data, sizeof(data), 8);
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, 100, renderer, ""), 0);
	remove_db_files();
	CHECK_INT(cache_get(c, key("a"), &(struct cache_entry){ 0 }), 0);
	CHECK_INT(cache_put(c, key("b"), "model/stl", data, 50, renderer, ""), 0);
	CHECK(holds(c, key("b"), data, 50));
	CHECK(access(path, F_OK) == 0);		/* a fresh file */
	CHECK_INT(rows(key("b")), 1);
	/* Deleted again, and the first call after is a put. */
	remove_db_files();
	CHECK_INT(cache_put(c, key("c"), "model/stl", data, 60, renderer, ""), 0);
	CHECK(holds(c, key("c"), data, 60));
	CHECK_INT(rows(key("c")), 1);
	cache_free(c);
	teardown();
}

/* Overwrites the file at p in place (same inode) with garbage. */
static void
scribble(const char *p)
{
	unsigned char junk[16384];
	int fd;

	fill(junk, sizeof(junk), 99);
	if ((fd = open(p, O_WRONLY)) < 0)
		return;
	CHECK((size_t)write(fd, junk, sizeof(junk)) == sizeof(junk));
	close(fd);
}

TEST(file_garbage_while_open)
{
	unsigned char data[100];
	struct cache_entry e;
	struct cache *c;
	char side[320];

	setup();
	fill(data, sizeof(data), 9);
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, 100, renderer, ""), 0);
	/* Another connection checkpoints, so the garbage hits the data, not just a header. */
	CHECK_INT(sql("PRAGMA wal_checkpoint(TRUNCATE)"), 0);
	scribble(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	scribble(side);
	memset(&e, 0x5a, sizeof(e));
	CHECK_INT(cache_get(c, key("a"), &e), 0);
	CHECK(e.data == NULL);
	free(e.data);
	/* Still serving: a later put works and reads back. */
	CHECK_INT(cache_put(c, key("b"), "model/stl", data, 40, renderer, ""), 0);
	CHECK(holds(c, key("b"), data, 40));
	cache_free(c);
	teardown();
}

TEST(file_garbage_before_open)
{
	unsigned char data[100];
	struct cache *c;
	int fd;

	setup();
	fill(data, sizeof(data), 10);
	if ((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0) {
		CHECK(write(fd, "this is not a database, not at all, no......", 44) == 44);
		close(fd);
	}
	c = cache_open(path, 1 << 20, 1 << 20);
	if (!CHECK(c != NULL))
		goto out;
	CHECK_INT(cache_get(c, key("a"), &(struct cache_entry){ 0 }), 0);
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, 100, renderer, ""), 0);
	CHECK(holds(c, key("a"), data, 100));
out:
	cache_free(c);
	teardown();
}

TEST(two_handles)
{
	unsigned char data[256];
	struct cache *a, *b;
	int64_t n, bytes;

	setup();
	fill(data, sizeof(data), 11);
	a = cache_open(path, 1 << 20, 1 << 20);
	b = cache_open(path, 1 << 20, 1 << 20);
	CHECK(a != NULL && b != NULL);
	CHECK_INT(cache_put(a, key("x"), "model/stl", data, 256, renderer, ""), 0);
	CHECK(holds(b, key("x"), data, 256));
	CHECK_INT(cache_put(b, key("y"), "image/svg+xml", data, 128, renderer, ""), 0);
	CHECK(holds(a, key("y"), data, 128));
	/* An overwrite through one is what the other reads. */
	CHECK_INT(cache_put(b, key("x"), "model/stl", data + 1, 200, renderer, ""), 0);
	CHECK(holds(a, key("x"), data + 1, 200));
	CHECK_INT(cache_stats(a, &n, &bytes), 0);
	CHECK_INT(n, 2);
	CHECK_INT(bytes, 328);
	/* A corrupt entry dropped through one is gone for the other. */
	CHECK_INT(sql("UPDATE blobs SET data = zeroblob(size)"), 0);
	CHECK_INT(cache_get(a, key("y"), &(struct cache_entry){ 0 }), 0);
	CHECK_INT(cache_get(b, key("y"), &(struct cache_entry){ 0 }), 0);
	CHECK_INT(rows(key("y")), 0);
	cache_free(a);
	cache_free(b);
	teardown();
}

TEST(stats)
{
	unsigned char data[30];
	struct cache *c;
	int64_t n = -1, bytes = -1;

	setup();
	fill(data, sizeof(data), 12);
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_stats(c, &n, &bytes), 0);
	CHECK_INT(n, 0);
	CHECK_INT(bytes, 0);
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, 10, renderer, ""), 0);
	CHECK_INT(cache_put(c, key("b"), "model/stl", data, 20, renderer, ""), 0);
	CHECK_INT(cache_put(c, key("c"), "model/stl", data, 30, renderer, ""), 0);
	CHECK_INT(cache_stats(c, &n, &bytes), 0);
	CHECK_INT(n, 3);
	CHECK_INT(bytes, 60);
	cache_free(c);
	teardown();
}

TEST(unusable_path_then_usable)
{
	unsigned char data[10];
	struct cache *c;
	int64_t n = -1, bytes = -1;
	char sub[300];

	setup();
	fill(data, sizeof(data), 13);
	cache_free(NULL);	/* does nothing */
	snprintf(sub, sizeof(sub), "%s/later", dir);
	snprintf(path, sizeof(path), "%s/later/cache.sqlite", dir);
	c = cache_open(path, 1 << 20, 1 << 20);	/* the folder is not there yet */
	if (!CHECK(c != NULL))
		goto out;
	CHECK_INT(cache_get(c, key("a"), &(struct cache_entry){ 0 }), 0);
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, 10, renderer, ""), CACHE_FAILED);
	CHECK_INT(cache_stats(c, &n, &bytes), -1);
	/* Once it can be opened, it is. */
	CHECK_INT(mkdir(sub, 0700), 0);
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, 10, renderer, ""), 0);
	CHECK(holds(c, key("a"), data, 10));
out:
	cache_free(c);
	remove_db_files();
	rmdir(sub);
	snprintf(path, sizeof(path), "%s/cache.sqlite", dir);
	teardown();
}

/*
 * Blobs around the size where the cache stops taking the data with the row and reads it by
 * itself (16 KiB), and a large one over many overflow pages: each reads back whole, and a
 * one-byte change near its end is caught.
 */
TEST(large_blobs)
{
	static const size_t sizes[] = { 16383, 16384, 16385, 700000 };
	unsigned char *data;
	struct cache *c;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t i, n;

	setup();
	data = malloc(700000);
	c = cache_open(path, 64 << 20, 64 << 20);
	if (!CHECK(data != NULL && c != NULL))
		goto out;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = sizes[i];
		fill(data, n, (unsigned)i + 20);
		CHECK_INT(cache_put(c, key("a"), "model/stl", data, n, renderer, ""), 0);
		CHECK(holds(c, key("a"), data, n));
		data[n - 2] ^= 0x40;
		if (CHECK_INT(sqlite3_open(path, &db), SQLITE_OK) &&
		    CHECK_INT(sqlite3_prepare_v2(db, "UPDATE blobs SET data = ?1 WHERE key = ?2",
		    -1, &st, NULL), SQLITE_OK)) {
			sqlite3_bind_blob(st, 1, data, (int)n, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, key("a"), -1, SQLITE_TRANSIENT);
			CHECK_INT(sqlite3_step(st), SQLITE_DONE);
		}
		sqlite3_finalize(st);
		sqlite3_close(db);
		st = NULL;
		db = NULL;
		CHECK_INT(cache_get(c, key("a"), &(struct cache_entry){ 0 }), 0);
		CHECK_INT(rows(key("a")), 0);
	}
out:
	cache_free(c);
	free(data);
	teardown();
}

TEST(has)
{
	unsigned char data[20000];
	struct cache *c;

	setup();
	fill(data, sizeof(data), 30);
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_has(c, key("a")), 0);
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, sizeof(data), renderer, ""), 0);
	CHECK_INT(cache_has(c, key("a")), 1);
	CHECK_INT(cache_has(c, key("b")), 0);
	/* Gone once evicted or dropped. */
	CHECK_INT(sql("DELETE FROM blobs"), 0);
	CHECK_INT(cache_has(c, key("a")), 0);
	/* A cache that cannot be opened has nothing. */
	remove_db_files();
	remove_mirror();
	CHECK_INT(rmdir(dir), 0);
	CHECK_INT(cache_has(c, key("a")), 0);
	CHECK_INT(mkdir(dir, 0700), 0);
	cache_free(c);
	teardown();
}

TEST(largest_entry)
{
	unsigned char data[1000];
	struct cache *c;
	int64_t n, bytes;
	char name[16];
	int i;

	setup();
	fill(data, sizeof(data), 31);
	/* A cap of 1000 bytes, entries of at most 250: a large result cannot flush the rest. */
	c = cache_open(path, 1000, 250);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		CHECK_INT(cache_put(c, key(name), "model/stl", data, 200, renderer, ""),
		    CACHE_STORED);
	}
	CHECK_INT(cache_put(c, key("big"), "text/plain", data, 251, renderer, ""),
	    CACHE_TOO_LARGE);
	CHECK_INT(cache_put(c, key("huge"), "text/plain", data, 1000, renderer, ""),
	    CACHE_TOO_LARGE);
	CHECK_INT(cache_has(c, key("big")), 0);
	CHECK_INT(cache_stats(c, &n, &bytes), 0);
	CHECK_INT(n, 4);		/* nothing was evicted for them */
	CHECK_INT(bytes, 800);
	/* Exactly the largest entry is stored, evicting just enough. */
	CHECK_INT(cache_put(c, key("edge"), "text/plain", data, 250, renderer, ""),
	    CACHE_STORED);
	CHECK(holds(c, key("edge"), data, 250));
	CHECK_INT(cache_stats(c, &n, &bytes), 0);
	CHECK_INT(n, 4);
	cache_free(c);
	/* An entry limit above the cap is the cap. */
	c = cache_open(path, 300, 5000);
	CHECK_INT(cache_put(c, key("over"), "text/plain", data, 301, renderer, ""),
	    CACHE_TOO_LARGE);
	CHECK_INT(cache_put(c, key("cap"), "text/plain", data, 300, renderer, ""),
	    CACHE_STORED);
	cache_free(c);
	teardown();
}

#define WAL_LIMIT (4 << 20)	/* cache.c's bound on the WAL between writes */

/* The size of the cache's WAL file, 0 if there is none. */
static long long
wal_size(void)
{
	struct stat st;
	char wal[320];

	snprintf(wal, sizeof(wal), "%s-wal", path);
	return stat(wal, &st) == 0 ? (long long)st.st_size : 0;
}

TEST(wal_shrinks_after_a_large_write)
{
	unsigned char *data = malloc(10 << 20);
	struct cache *c;
	int i;

	setup();
	c = cache_open(path, 64 << 20, 16 << 20);
	if (!CHECK(data != NULL && c != NULL))
		goto out;
	fill(data, 10 << 20, 32);
	/* 10 MiB go through the WAL; it must not stay that size once they are in. */
	CHECK_INT(cache_put(c, key("big"), "text/plain", data, 10 << 20, renderer, ""),
	    CACHE_STORED);
	CHECK(wal_size() <= WAL_LIMIT);
	for (i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", i);
		CHECK_INT(cache_put(c, key(name), "model/stl", data, 1000, renderer, ""),
		    CACHE_STORED);
	}
	CHECK(wal_size() <= WAL_LIMIT);
	CHECK(holds(c, key("big"), data, 10 << 20));
out:
	cache_free(c);
	free(data);
	teardown();
}

TEST(wal_bounded_through_stores_and_evictions)
{
	unsigned char data[100000];
	struct cache *c;
	sqlite3 *reader = NULL;
	sqlite3_stmt *st = NULL;
	long long most = 0, held;
	int64_t n, bytes;
	char name[16];
	int i;

	setup();
	fill(data, sizeof(data), 33);
	/* 1 MB of cache, 100 KB entries: every store from the tenth on evicts. */
	c = cache_open(path, 1000000, 100000);
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		data[0] = (unsigned char)i;
		CHECK_INT(cache_put(c, key(name), "model/stl", data, sizeof(data), renderer, ""),
		    CACHE_STORED);
		if (wal_size() > most)
			most = wal_size();
	}
	/* 30 MB written in all; the WAL never held much more than its bound and one entry. */
	printf("#   WAL at most %lld bytes over 300 stores of 100 KB\n", most);
	CHECK(most <= WAL_LIMIT + 2 * (long long)sizeof(data));
	CHECK_INT(cache_stats(c, &n, &bytes), 0);
	CHECK(bytes <= 1000000);
	/*
	 * A reader that keeps a snapshot open holds every later page in the WAL (this is
	 * how it grew to the size of the cache): it grows while the reader stays...
	 */
	if (!CHECK_INT(sqlite3_open(path, &reader), SQLITE_OK) ||
	    !CHECK_INT(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK) ||
	    !CHECK_INT(sqlite3_prepare_v2(reader, "SELECT count(*) FROM blobs", -1, &st, NULL),
	    SQLITE_OK) || !CHECK_INT(sqlite3_step(st), SQLITE_ROW))
		goto out;
	for (i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		data[0] = (unsigned char)i;
		CHECK_INT(cache_put(c, key(name), "model/stl", data, sizeof(data), renderer, ""),
		    CACHE_STORED);
	}
	held = wal_size();
	printf("#   WAL %lld bytes after 60 stores behind a reader\n", held);
	CHECK(held > WAL_LIMIT);
	/* ...and is cut back by the first write after it has gone. */
	sqlite3_finalize(st);
	st = NULL;
	sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
	CHECK_INT(cache_put(c, key("after"), "model/stl", data, 1000, renderer, ""),
	    CACHE_STORED);
	printf("#   WAL %lld bytes after the reader left and one more store\n", wal_size());
	CHECK(wal_size() <= WAL_LIMIT);
out:
	sqlite3_finalize(st);
	sqlite3_close(reader);
	cache_free(c);
	teardown();
}

/* 1 if a process waits in /proc/locks for a flock on the file with inode ino. */
static int
flock_waiter(unsigned long ino)
{
	char line[256], want[40];
	FILE *f = fopen("/proc/locks", "r");
	int found = 0;

	if (f == NULL)
		return 0;
	snprintf(want, sizeof(want), ":%lu ", ino);
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, "-> FLOCK") != NULL && strstr(line, want) != NULL;
	fclose(f);
	return found;
}

/*
 * A process finds the cache corrupt and goes to remove it, while another has already done
 * so and started a new cache at the same path (its -wal and -shm open). The first must
 * leave the new files alone: it waits for the lock, sees another file, and keeps it.
 */
TEST(discard_leaves_a_recreated_cache)
{
	unsigned char data[100];
	char lockpath[320], wal[320], b;
	int ready[2], go[2], lock = -1, status = -1, i;
	struct stat st, lst, before, wal_before;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	pid_t pid;

	setup();
	fill(data, sizeof(data), 34);
	snprintf(lockpath, sizeof(lockpath), "%s.lock", path);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (!CHECK(pipe(ready) == 0 && pipe(go) == 0))
		goto out;
	if ((pid = fork()) == 0) {
		struct cache *c = cache_open(path, 1 << 20, 1 << 20);
		int rc;

		rc = cache_put(c, key("old"), "model/stl", data, 100, renderer, "") == CACHE_STORED &&
		    sql("PRAGMA wal_checkpoint(TRUNCATE)") == 0 ? 0 : 2;
		scribble(path);		/* corrupt, in place: this process still trusts it */
		(void)!write(ready[1], "r", 1);
		(void)!read(go[0], &b, 1);
		/* Finds it corrupt, and waits for the lock the test holds. */
		if (rc == 0 && cache_get(c, key("old"), &(struct cache_entry){ 0 }) != 0)
			rc = 3;
		cache_free(c);
		_exit(rc);
	}
	if (!CHECK(pid > 0) || !CHECK(read(ready[0], &b, 1) == 1))
		goto out;
	lock = open(lockpath, O_RDWR | O_CREAT, 0600);
	if (!CHECK(lock >= 0 && flock(lock, LOCK_EX) == 0 && fstat(lock, &lst) == 0))
		goto out;
	CHECK(write(go[1], "g", 1) == 1);
	for (i = 0; i < 500 && !flock_waiter((unsigned long)lst.st_ino); i++)
		usleep(10000);
	if (!CHECK(flock_waiter((unsigned long)lst.st_ino)))
		goto out;
	/* Meanwhile "another process" removed the files and made a new cache, still open. */
	remove_db_files();
	if (!CHECK_INT(sqlite3_open(path, &db), SQLITE_OK) ||
	    !CHECK_INT(sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t (x);"
	    "INSERT INTO t VALUES (42);", NULL, NULL, NULL), SQLITE_OK))
		goto out;
	if (!CHECK(stat(path, &before) == 0 && stat(wal, &wal_before) == 0))
		goto out;
	flock(lock, LOCK_UN);
	for (i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The new cache and its WAL are the ones made, with what was written. */
	CHECK(stat(path, &st) == 0 && st.st_ino == before.st_ino);
	CHECK(stat(wal, &st) == 0 && st.st_ino == wal_before.st_ino);
	if (CHECK_INT(sqlite3_prepare_v2(db, "SELECT x FROM t", -1, &q, NULL), SQLITE_OK) &&
	    CHECK_INT(sqlite3_step(q), SQLITE_ROW))
		CHECK_INT(sqlite3_column_int(q, 0), 42);
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	if (lock >= 0)
		close(lock);
	teardown();
}

TEST(discard_removes_what_it_opened)
{
	unsigned char data[100];
	struct cache *c;

	setup();
	fill(data, sizeof(data), 35);
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, 100, renderer, ""), CACHE_STORED);
	CHECK_INT(sql("PRAGMA wal_checkpoint(TRUNCATE)"), 0);
	scribble(path);
	/* Found corrupt: the file it opened is removed, and a fresh one serves. */
	CHECK_INT(cache_get(c, key("a"), &(struct cache_entry){ 0 }), 0);
	CHECK_INT(cache_put(c, key("b"), "model/stl", data, 50, renderer, ""), CACHE_STORED);
	CHECK(holds(c, key("b"), data, 50));
	CHECK_INT(rows(key("a")), 0);
	CHECK_INT(rows(key("b")), 1);
	cache_free(c);
	teardown();
}

TEST(mirror_follows_entries)
{
	unsigned char data[300];
	char stmt[200];
	struct cache *c;

	setup();
	fill(data, sizeof(data), 40);
	c = cache_open(path, 900, 400);
	/* Stored: a file with the same bytes, its extension from the content type. */
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, 300, renderer, ""), CACHE_STORED);
	CHECK(mirrored(key("a"), "stl", data, 300));
	CHECK_INT(cache_put(c, key("e"), "text/plain; charset=utf-8", data, 20, renderer, ""),
	    CACHE_STORED);
	CHECK(mirrored(key("e"), "txt", data, 20));
	CHECK_INT(cache_put(c, key("s"), "image/svg+xml", data, 30, renderer, ""), CACHE_STORED);
	CHECK(mirrored(key("s"), "svg", data, 30));
	/* Not stored: no file. */
	CHECK_INT(cache_put(c, key("big"), "model/stl", data, 401, renderer, ""), CACHE_TOO_LARGE);
	CHECK_INT(mirror_has(models, key("big"), "stl"), 0);
	/* Evicted: the file goes with the row. */
	set_atime(key("a"), (long long)time(NULL) - 1000);
	CHECK_INT(cache_put(c, key("b"), "model/stl", data, 300, renderer, ""), CACHE_STORED);
	CHECK_INT(cache_put(c, key("c"), "model/stl", data, 300, renderer, ""), CACHE_STORED);
	CHECK_INT(rows(key("a")), 0);
	CHECK_INT(mirror_has(models, key("a"), "stl"), 0);
	CHECK(mirrored(key("b"), "stl", data, 300));
	CHECK(mirrored(key("c"), "stl", data, 300));
	/* Dropped for a bad checksum: the file goes too. */
	snprintf(stmt, sizeof(stmt), "UPDATE blobs SET data = zeroblob(size) WHERE key = '%s'",
	    key("b"));
	CHECK_INT(sql(stmt), 0);
	CHECK_INT(cache_get(c, key("b"), &(struct cache_entry){ 0 }), 0);
	CHECK_INT(mirror_has(models, key("b"), "stl"), 0);
	CHECK(mirrored(key("c"), "stl", data, 300));
	cache_free(c);
	teardown();
}

TEST(mirror_restored_by_a_hit)
{
	unsigned char data[100];
	struct cache *c;

	setup();
	fill(data, sizeof(data), 41);
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_put(c, key("a"), "model/3mf", data, 100, renderer, ""), CACHE_STORED);
	/* Its file lost (or never written: a cache from before the mirror). */
	mirror_remove(models, key("a"), NULL);
	/* A hit within the minute leaves it so (a hit costs no file check)... */
	CHECK(holds(c, key("a"), data, 100));
	CHECK_INT(mirror_has(models, key("a"), "3mf"), 0);
	/* ... the first one that updates the access time writes it again. */
	set_atime(key("a"), (long long)time(NULL) - 1000);
	CHECK(holds(c, key("a"), data, 100));
	CHECK(mirrored(key("a"), "3mf", data, 100));
	cache_free(c);
	teardown();
}

TEST(mirror_cleared_with_the_cache)
{
	unsigned char data[100];
	struct cache *c;

	setup();
	fill(data, sizeof(data), 42);
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK_INT(cache_put(c, key("a"), "model/stl", data, 100, renderer, ""), CACHE_STORED);
	CHECK(mirrored(key("a"), "stl", data, 100));
	/* The cache file deleted: the new cache clears the files of the old one. */
	remove_db_files();
	CHECK_INT(cache_put(c, key("b"), "model/stl", data, 50, renderer, ""), CACHE_STORED);
	CHECK_INT(mirror_has(models, key("a"), "stl"), 0);
	CHECK(mirrored(key("b"), "stl", data, 50));
	/* Found corrupt: discarded, and its files with it. */
	CHECK_INT(sql("PRAGMA wal_checkpoint(TRUNCATE)"), 0);
	scribble(path);
	CHECK_INT(cache_get(c, key("b"), &(struct cache_entry){ 0 }), 0);
	CHECK_INT(mirror_has(models, key("b"), "stl"), 0);
	CHECK_INT(cache_put(c, key("c"), "model/stl", data, 60, renderer, ""), CACHE_STORED);
	CHECK(mirrored(key("c"), "stl", data, 60));
	cache_free(c);
	/* Reopened, same boot: the files stay. */
	c = cache_open(path, 1 << 20, 1 << 20);
	CHECK(mirrored(key("c"), "stl", data, 60));
	cache_free(c);
	teardown();
}

TEST(lru_counts_reads_of_the_mirror)
{
	unsigned char data[300];
	struct cache *c;
	time_t now = time(NULL);

	setup();
	fill(data, sizeof(data), 43);
	c = cache_open(path, 1000, 1000);	/* room for three of 300 bytes */
	CHECK_INT(cache_put(c, key("k1"), "model/stl", data, 300, renderer, ""), 0);
	CHECK_INT(cache_put(c, key("k2"), "model/stl", data, 300, renderer, ""), 0);
	CHECK_INT(cache_put(c, key("k3"), "model/stl", data, 300, renderer, ""), 0);
	set_atime(key("k1"), now - 3000);	/* the oldest by its row... */
	set_atime(key("k2"), now - 2000);
	set_atime(key("k3"), now - 1000);
	/* ... but nginx read its file 100 s ago (the file written 3000 s ago). */
	CHECK_INT(file_times(key("k1"), "stl", now - 100, now - 3000), 0);
	/* k2 was read before it was last written: no use since. */
	CHECK_INT(file_times(key("k2"), "stl", now - 2500, now - 2000), 0);
	CHECK_INT(cache_put(c, key("k4"), "model/stl", data, 300, renderer, ""), 0);
	CHECK_INT(rows(key("k1")), 1);
	CHECK_INT(rows(key("k2")), 0);
	CHECK_INT(mirror_has(models, key("k2"), "stl"), 0);
	CHECK_INT(rows(key("k3")), 1);
	/* k1 now has its file's time: next, k3 is the oldest. */
	CHECK_INT(cache_put(c, key("k5"), "model/stl", data, 300, renderer, ""), 0);
	CHECK_INT(rows(key("k3")), 0);
	CHECK_INT(rows(key("k1")), 1);
	/* A read within ATIME_SLACK of the row's time changes nothing: k1 goes next. */
	set_atime(key("k1"), now - 5000);
	CHECK_INT(file_times(key("k1"), "stl", now - 4970, now - 6000), 0);
	CHECK_INT(cache_put(c, key("k6"), "model/stl", data, 300, renderer, ""), 0);
	CHECK_INT(rows(key("k1")), 0);
	CHECK_INT(mirror_has(models, key("k1"), "stl"), 0);
	cache_free(c);
	teardown();
}

UNIT_MAIN(round_trip, content_types, empty_blob, miss, overwrite, checksum_failure_zeroed,
    checksum_failure_one_byte, lru_evicts_oldest_first, lru_get_refreshes, lru_many_small,
    larger_than_cap, file_deleted_while_open, file_garbage_while_open,
    file_garbage_before_open, two_handles, stats, unusable_path_then_usable,
    large_blobs, has, largest_entry, wal_shrinks_after_a_large_write,
    wal_bounded_through_stores_and_evictions, discard_leaves_a_recreated_cache,
    discard_removes_what_it_opened, mirror_follows_entries, mirror_restored_by_a_hit,
    mirror_cleared_with_the_cache, lru_counts_reads_of_the_mirror)

/* cache.h -- the SQLite cache of rendered models, shared by every FastCGI process */
#ifndef SCADSERVE_CACHE_H
#define SCADSERVE_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cache;

/* One cached model, as cache_get hands it out. */
struct cache_entry {
	unsigned char *data;       /* owned by the caller after cache_get: free() it */
	size_t size;
	char content_type[64];
	char log[4096];            /* OpenSCAD's messages for it (classify_log_summary) */
};

/* What cache_put did. */
enum cache_store {
	CACHE_STORED,              /* stored; least recently used entries evicted to fit */
	CACHE_TOO_LARGE,           /* over the largest entry: not stored, nothing evicted */
	CACHE_FAILED,              /* the database failed (logged): not stored */
	CACHE_STORE__MAX
};

/*
 * Opens (creating if needed) the cache at path with a size cap of max_bytes, storing no
 * entry larger than entry_max (so that one result cannot flush the cache).
 * Never fails for a bad file: a cache that cannot be opened now is retried on the next
 * call. Returns NULL only on out of memory. Free with cache_free.
 */
struct cache *cache_open(const char *path, uint64_t max_bytes, uint64_t entry_max);

/* Closes the database and frees c. cache_free(NULL) does nothing. */
void cache_free(struct cache *c);

/*
 * Looks key up. Returns 1 and fills e (caller frees e->data) on a hit whose checksum
 * verifies; 0 on a miss, a bad checksum (the entry is dropped) or any database failure.
 */
int cache_get(struct cache *c, const char *key, struct cache_entry *e);

/*
 * Stores data under key in one BEGIN IMMEDIATE transaction, then evicts least recently
 * used entries beyond the cap. Borrowed arguments. Data over the largest entry (or the
 * cap) is refused before anything is touched.
 */
enum cache_store cache_put(struct cache *c, const char *key, const char *content_type,
    const void *data, size_t size, const char *renderer, const char *log);

/*
 * 1 if key is in the cache (its data unread: no checksum check), 0 if not or if the
 * database cannot answer.
 */
int cache_has(struct cache *c, const char *key);

/* Number of entries and their total size. 0, or -1 if the database cannot answer. */
int cache_stats(struct cache *c, int64_t *entries, int64_t *bytes);

#endif

/* spool.h -- results too big for the cache, kept as files a while for the requests that wait on them */
#ifndef SCADSERVE_SPOOL_H
#define SCADSERVE_SPOOL_H

#include <stddef.h>

/*
 * A job runner that renders a result the cache will not take (over SCADSERVE_CACHE_ENTRY_MAX)
 * writes it to <state>/spool/<key>.<ext> instead (whole, under a temporary name, then
 * renamed: mirror_write), and the requests waiting on that render read it from there. The
 * runners delete spooled files after SPOOL_KEEP_SECONDS.
 */
#define SPOOL_KEEP_SECONDS 600

/* Writes data as dir/key.ext. 0, or -1 (logged, nothing left). */
int spool_write(const char *dir, const char *key, const char *ext, const void *data,
    size_t len);

/* Reads dir/key.ext into *data (malloc'd, the caller frees) and *len. 0, or -1 (none). */
int spool_read(const char *dir, const char *key, const char *ext, unsigned char **data,
    size_t *len);

/* Deletes the files in dir last written more than seconds ago. */
void spool_prune(const char *dir, double seconds);

#endif

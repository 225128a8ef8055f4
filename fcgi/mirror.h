/* mirror.h -- cached models mirrored as files, so nginx serves GET /api/models/{key} itself */
#ifndef SCADSERVE_MIRROR_H
#define SCADSERVE_MIRROR_H

#include <stddef.h>
#include <time.h>

/*
 * The mirror is a folder of <key>.<ext> files, one per cache entry, that nginx serves with
 * try_files (nginx/scadserve.conf.in). The cache (cache.c) writes a file after committing its
 * row and removes it when the row goes. A file never holds bytes other than its key's result:
 * it is written in full under a temporary name and renamed into place.
 */

/* The file extension nginx maps back to content_type ("stl" for model/stl), or NULL. Pure. */
const char *mirror_ext(const char *content_type);

/*
 * The mirror folder of the cache file at cache_path: "models" beside it. New string, freed
 * by the caller; NULL on out of memory. Pure.
 */
char *mirror_dir(const char *cache_path);

/*
 * Writes data as dir/key.ext: a temporary file in dir (0640: nginx's workers run as the
 * same user, or in the same group), then rename. Makes dir (0750) if missing. A NULL ext
 * (a content type nginx does not know) writes nothing. 0, or -1 (logged, nothing left).
 */
int mirror_write(const char *dir, const char *key, const char *ext, const void *data,
    size_t size);

/* Removes dir/key.ext; with a NULL ext, key's file whatever its extension. */
void mirror_remove(const char *dir, const char *key, const char *ext);

/* 1 if dir/key.ext exists; 0 if not (or ext is NULL). */
int mirror_has(const char *dir, const char *key, const char *ext);

/*
 * When nginx last read dir/key.ext: 1 and *when if the file was read after it was written
 * (its atime past its mtime: under relatime the first read after a write, then at most once
 * a day), 0 if not, or if there is no such file.
 */
int mirror_read_since(const char *dir, const char *key, const char *ext, time_t *when);

/* Removes every mirrored file (and leftover temporary file) in dir; the folder stays. */
void mirror_clear(const char *dir);

/*
 * Clears dir if the machine has restarted since its files were written (the kernel's boot
 * id differs from the one recorded in dir/.boot): a file renamed into place just before a
 * power loss may have lost its data, and nginx would serve it. Then records this boot.
 */
void mirror_boot_check(const char *dir);

#endif

/* scratch.h -- the renderer's private working directory: made fresh for each render, removed after */
#ifndef SCADSERVE_SCRATCH_H
#define SCADSERVE_SCRATCH_H

#include <stddef.h>

#include <jansson.h>

struct scratch {
	char dir[1200];            /* <tmp>/r-XXXXXX, "" when none */
	char lock[1210];           /* <dir>.lock, flock()ed while dir is in use; "" when none */
	char src[1300];            /* <dir>/src: the model and its files; the renderer's cwd */
	char out[1300];            /* <dir>/out: where the renderer writes its result */
	int lock_fd;               /* holds lock; meaningful only while lock is set */
};

/*
 * Makes a fresh scratch directory under root (created if missing), and holds its lock
 * until scratch_remove: first <tmp>/r-XXXXXX.lock is made and locked, then the directory,
 * so no directory in use is ever without a held lock. 0 or -1 (logged).
 */
int scratch_new(struct scratch *s, const char *root);

/*
 * Writes data as src/<name>, creating folders on the way; name must have passed
 * req_file_name_ok. Refuses to follow or replace anything. 0 or -1 (logged).
 */
int scratch_write(const struct scratch *s, const char *name, const void *data, size_t len);

/*
 * Writes OpenSCAD's customizer parameter file <dir>/params.json holding one set named
 * "scadserve" with the values of params (borrowed), in the string forms OpenSCAD reads.
 * 0 or -1.
 */
int scratch_write_params(const struct scratch *s, json_t *params);

/*
 * Reads the file at path if it is a regular file of at most max bytes.
 * Returns its size and sets *data (caller frees); -1 if absent; -2 if over max (nothing
 * read); -3 on other failure.
 */
long long scratch_read(const char *path, size_t max, unsigned char **data);

/*
 * Removes the directory and everything in it, without following links, then its lock file,
 * then lets the lock go.
 */
void scratch_remove(struct scratch *s);

/*
 * Removes the scratch directories under root that no live process uses: those of workers
 * killed mid-render (their lock is free: the kernel dropped it), and any without a lock
 * file. A directory whose lock is held is never touched. For the start of a worker.
 * Returns the number of directories removed (each logged), or -1 if root cannot be read.
 */
int scratch_sweep(const char *root);

#endif

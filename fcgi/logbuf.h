/* logbuf.h -- keeps the head and the tail of a stream of unknown length in bounded memory */
#ifndef SCADSERVE_LOGBUF_H
#define SCADSERVE_LOGBUF_H

#include <stddef.h>

/* Keeps the first head_max bytes and the last tail_max bytes of a stream. */
struct logbuf {
	char *head;
	size_t head_len, head_max;
	char *tail;                /* ring */
	size_t tail_pos, tail_len, tail_max;
	size_t dropped;            /* bytes between head and tail that were not kept */
	int watched;               /* 1: what is added also goes to the watcher (logbuf_watch) */
};

/* Makes lb keep at most max bytes (at least 64): a quarter head, the rest tail. 0 or -1. */
int logbuf_init(struct logbuf *lb, size_t max);

/*
 * The watcher: every byte added to a watched log (a render's OpenSCAD log: the engines mark
 * theirs) is also passed to fn as it comes, in chunks. NULL: none. One per process.
 */
void logbuf_watch(void (*fn)(void *ctx, const char *p, size_t n), void *ctx);

/* Adds n bytes at p. */
void logbuf_add(struct logbuf *lb, const char *p, size_t n);

/*
 * Joins head and tail into one NUL-terminated string, with a note of the bytes dropped
 * between them. Caller frees; *len gets its length. NULL on out of memory.
 */
char *logbuf_join(const struct logbuf *lb, size_t *len);

/* Frees what lb owns; lb may be zeroed. */
void logbuf_free(struct logbuf *lb);

#endif

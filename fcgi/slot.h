/* slot.h -- render slots shared by every FastCGI process: one lock file each, so a crash frees its slot */
#ifndef SCADSERVE_SLOT_H
#define SCADSERVE_SLOT_H

#include <signal.h>
#include <stdint.h>

#include "err.h"

/*
 * Takes one of n render slots whose lock files live in dir, waiting up to wait_seconds in
 * one of queue_max places, and no longer once *stop (when not NULL) is set: a worker asked
 * to stop answers instead of waiting on. Returns the slot's descriptor (give it back with
 * slot_release), or -1 with e filled: overloaded (with retry_after) or internal.
 */
int slot_acquire(const char *dir, int n, double wait_seconds, uint64_t queue_max,
    const volatile sig_atomic_t *stop, struct err *e);

/* Frees a slot taken with slot_acquire. slot_release(-1) does nothing. */
void slot_release(int fd);

/* Number of the n slots in dir held right now by any process. */
int slot_busy(const char *dir, int n);

/*
 * Number of requests waiting for a slot right now, in any process: the places of the queue
 * held (a process that died holds none). Takes no place itself.
 */
int slot_queued(const char *dir, uint64_t queue_max);

#endif

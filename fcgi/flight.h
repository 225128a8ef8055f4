/* flight.h -- single-flight: one render per key at a time across every process, the others wait for its result */
#ifndef SCADSERVE_FLIGHT_H
#define SCADSERVE_FLIGHT_H

#include <signal.h>

#include "err.h"

/*
 * Becomes the one request that renders key: takes the lock file dir/<key>, waiting (at most
 * wait_seconds) while another process holds it, which means that process renders the same
 * key. Stops waiting when watch_fd (the client's connection, -1 for none) hangs up or *stop
 * is set. Returns the lock's descriptor (give it back with flight_leave once the result is
 * stored), with *waited 1 if another request held it first (so the result may be in the
 * cache now: look before rendering); or -1 with e filled (overloaded when the wait ran out;
 * internal for a failure or a client gone, *gone then 1).
 */
int flight_join(const char *dir, const char *key, double wait_seconds, int watch_fd,
    const volatile sig_atomic_t *stop, int *waited, int *gone, struct err *e);

/* Removes dir/<key> and lets the lock go. flight_leave(dir, key, -1) does nothing. */
void flight_leave(const char *dir, const char *key, int fd);

#endif

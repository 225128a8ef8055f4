/* metrics.h -- counters shared by every FastCGI process through one mapped file, and their Prometheus text */
#ifndef SCADSERVE_METRICS_H
#define SCADSERVE_METRICS_H

#include <stdint.h>

#include "err.h"
#include "req.h"

enum metric {
	M_CACHE_HITS,
	M_CACHE_MISSES,
	M_NOT_MODIFIED,
	M_RENDERS,              /* renderer runs, whatever their outcome */
	M_RENDER_USEC,          /* their wall time, summed */
	M_CACHE_STORES,
	M_CACHE_CORRUPT,
	M_CACHE_EVICTIONS,
	M_CACHE_REOPENS,
	M_CACHE_ERRORS,
	M_RENDER_WARNINGS,      /* OpenSCAD's WARNING lines in renders that succeeded */
	M_ENGINE_WASM,          /* renders answered by the WASM engine (result or model error) */
	M_ENGINE_CLI,           /* renders answered by the CLI engine */
	M_ENGINE_FALLBACKS,     /* renders the WASM engine handed to the CLI */
	M_WASM_STARTS,          /* WASM helpers started */
	M_WASM_START_FAILURES,  /* WASM helpers that did not get ready */
	M_WASM_REPLACED,        /* WASM helpers killed and replaced (timeout, crash, memory) */
	M_SINGLE_FLIGHT_JOINS,  /* requests answered by an identical request's render */
	M_CLIENT_GONE,          /* renders stopped (or waits given up) because the client went away */
	M_JOBS_SUBMITTED,       /* renders queued (and jobs cancelled): runners look when it moves */
	M_JOBS_ENDED,           /* renders ended: requests waiting on one look when it moves */
	M__MAX
};

/* Figures the metrics text needs that live elsewhere. */
struct metrics_gauges {
	int64_t cache_entries;
	int64_t cache_bytes;
	int slots_total;
	int slots_busy;
	int64_t queued;            /* renders waiting for a runner (the jobs database) */
	int jobs_known;            /* 1: jobs[] holds the jobs by state */
	int64_t jobs[5];           /* queued, running, done, failed, cancelled */
};

/*
 * Maps the shared counters file at path (created if missing). Without it (NULL path or
 * failure) counters are kept per process. 0 or -1 (then still usable, per process).
 */
int metrics_open(const char *path);

void metrics_add(enum metric m, uint64_t n);
uint64_t metrics_get(enum metric m);

/*
 * Waits until counter m is no longer seen (as metrics_get gave it), at most ms milliseconds
 * (less if a signal comes), across processes (a futex on the shared file). Returns the counter.
 */
uint64_t metrics_wait(enum metric m, uint64_t seen, int ms);

/* Adds 1 to counter m and wakes every process waiting on it (metrics_wait). */
void metrics_bump(enum metric m);
void metrics_request(enum route r);
void metrics_error(enum err_type t);
void metrics_render(double seconds);

/* Prometheus text exposition of everything. Caller frees. NULL on out of memory. */
char *metrics_text(const struct metrics_gauges *g);

#endif

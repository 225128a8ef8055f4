/* metrics.c -- counters shared by every FastCGI process through one mapped file, and their Prometheus text */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/futex.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"


static const double buckets[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define NBUCKETS ((int)(sizeof(buckets) / sizeof(buckets[0])))

/* "SCAD" and the sizes of the layout below: a file another build laid out never matches. */
#define METRICS_MAGIC (0x5343414400000000ULL | ((uint64_t)M__MAX << 24) | \
                       ((uint64_t)ROUTE__MAX << 16) | ((uint64_t)ERR__MAX << 8) | NBUCKETS)

/* The shared layout. Only ever grows zero-filled, so a fresh file is a valid one. */
struct shared {
	uint64_t magic;
	uint64_t counter[M__MAX];
	uint64_t requests[ROUTE__MAX];
	uint64_t errors[ERR__MAX];
	uint64_t bucket[NBUCKETS];     /* renders with seconds <= buckets[i] (not cumulative) */
};

static struct shared local;
static struct shared *sh = &local;

static const char *const route_names[ROUTE__MAX] = {
	[ROUTE_NONE] = "other",
	[ROUTE_RENDER] = "render",
	[ROUTE_MODEL] = "models",
	[ROUTE_HEALTH] = "health",
	[ROUTE_METRICS] = "metrics",
	[ROUTE_JOBS] = "jobs",
	[ROUTE_JOB] = "job",
	[ROUTE_WAIT] = "wait",
};

int
metrics_open(const char *path)
{
	struct stat st;
	void *p;
	int fd = -1, rc = -1;

	if (path == NULL)
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX) ||
	    fstat(fd, &st)) {
		log_msg(LOG_WARN, NULL, "metrics file %s: %s; counting per process", path,
		    strerror(errno));
		goto out;
	}
	/* Left by a build with another layout (counters added): its figures mean nothing now. */
	{
		uint64_t magic = 0;
		if (pread(fd, &magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) && magic != 0 &&
		    magic != METRICS_MAGIC) {
			log_msg(LOG_WARN, NULL, "metrics file %s has another layout: starting it "
			    "afresh", path);
			if (ftruncate(fd, 0) == 0)
				st.st_size = 0;
		}
	}
	if ((size_t)st.st_size < sizeof(struct shared) &&
	    ftruncate(fd, (off_t)sizeof(struct shared))) {
		log_msg(LOG_WARN, NULL, "metrics file %s: %s; counting per process", path,
		    strerror(errno));
		goto out;
	}
	p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		log_msg(LOG_WARN, NULL, "metrics file %s: mmap: %s; counting per process",
		    path, strerror(errno));
		goto out;
	}
	sh = p;
	{
		uint64_t zero = 0;
		__atomic_compare_exchange_n(&sh->magic, &zero, METRICS_MAGIC, 0,
		    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
	rc = 0;
out:
	if (fd >= 0) {
		flock(fd, LOCK_UN);	/* explicitly: the mapping keeps the file open */
		close(fd);
	}
	return rc;
}

void
metrics_add(enum metric m, uint64_t n)
{
	__atomic_fetch_add(&sh->counter[m], n, __ATOMIC_RELAXED);
}

uint64_t
metrics_get(enum metric m)
{
	return __atomic_load_n(&sh->counter[m], __ATOMIC_RELAXED);
}

/* The low 32 bits of a counter, where a futex can wait (x86-64 and arm64: little-endian). */
static uint32_t *
low_word(enum metric m)
{
	return (uint32_t *)(void *)&sh->counter[m];
}

uint64_t
metrics_wait(enum metric m, uint64_t seen, int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	if (metrics_get(m) == seen)
		(void)syscall(SYS_futex, low_word(m), FUTEX_WAIT, (uint32_t)seen, &ts, NULL, 0);
	return metrics_get(m);
}

void
metrics_bump(enum metric m)
{
	__atomic_fetch_add(&sh->counter[m], 1, __ATOMIC_SEQ_CST);
	(void)syscall(SYS_futex, low_word(m), FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

void
metrics_request(enum route r)
{
	__atomic_fetch_add(&sh->requests[r], 1, __ATOMIC_RELAXED);
}

void
metrics_error(enum err_type t)
{
	__atomic_fetch_add(&sh->errors[t], 1, __ATOMIC_RELAXED);
}

void
metrics_render(double seconds)
{
	int i;

	metrics_add(M_RENDERS, 1);
	metrics_add(M_RENDER_USEC, (uint64_t)(seconds * 1e6));
	for (i = 0; i < NBUCKETS && seconds > buckets[i]; i++)
		;
	if (i < NBUCKETS)
		__atomic_fetch_add(&sh->bucket[i], 1, __ATOMIC_RELAXED);
}

/* A growing text buffer; on out of memory it stays failed and frees itself. */
struct buf {
	char *s;
	size_t len, cap;
	int failed;
};

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = b->cap * 2 + (size_t)n + 1;
			char *s = realloc(b->s, cap);
			if (s == NULL) {
				b->failed = 1;
				return;
			}
			b->s = s;
			b->cap = cap;
		}
	}
}

static void
counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	    (unsigned long long)v);
}

static void
gauge(struct buf *b, const char *name, const char *help, long long v)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, v);
}

char *
metrics_text(const struct metrics_gauges *g)
{
	struct buf b = { NULL, 0, 0, 0 };
	uint64_t cum = 0;
	int i;

	if ((b.s = malloc(4096)) == NULL)
		return NULL;
	b.cap = 4096;
	bprintf(&b, "# HELP scadserve_requests_total HTTP requests by endpoint.\n"
	    "# TYPE scadserve_requests_total counter\n");
	for (i = 0; i < ROUTE__MAX; i++)
		bprintf(&b, "scadserve_requests_total{endpoint=\"%s\"} %llu\n", route_names[i],
		    (unsigned long long)__atomic_load_n(&sh->requests[i], __ATOMIC_RELAXED));
	bprintf(&b, "# HELP scadserve_errors_total Error answers by type.\n"
	    "# TYPE scadserve_errors_total counter\n");
	for (i = 1; i < ERR__MAX; i++)
		bprintf(&b, "scadserve_errors_total{type=\"%s\"} %llu\n", err_type_name(i),
		    (unsigned long long)__atomic_load_n(&sh->errors[i], __ATOMIC_RELAXED));
	counter(&b, "scadserve_cache_hits_total", "Requests answered from the cache.",
	    metrics_get(M_CACHE_HITS));
	counter(&b, "scadserve_cache_misses_total", "Render requests not in the cache.",
	    metrics_get(M_CACHE_MISSES));
	counter(&b, "scadserve_not_modified_total", "Answers 304 Not Modified.",
	    metrics_get(M_NOT_MODIFIED));
	counter(&b, "scadserve_cache_stores_total", "Results stored in the cache.",
	    metrics_get(M_CACHE_STORES));
	counter(&b, "scadserve_cache_corrupt_total", "Cache entries or files found corrupt.",
	    metrics_get(M_CACHE_CORRUPT));
	counter(&b, "scadserve_cache_evictions_total", "Entries evicted for the size cap.",
	    metrics_get(M_CACHE_EVICTIONS));
	counter(&b, "scadserve_cache_reopens_total", "Times the cache file was found gone.",
	    metrics_get(M_CACHE_REOPENS));
	counter(&b, "scadserve_cache_errors_total", "Database failures that cost a render.",
	    metrics_get(M_CACHE_ERRORS));
	counter(&b, "scadserve_renders_total", "Renderer runs, whatever their outcome.",
	    metrics_get(M_RENDERS));
	counter(&b, "scadserve_render_warnings_total", "OpenSCAD warnings in renders that "
	    "succeeded (a file a model could not open, ...).", metrics_get(M_RENDER_WARNINGS));
	bprintf(&b, "# HELP scadserve_engine_renders_total Renders answered, by the engine that "
	    "answered.\n# TYPE scadserve_engine_renders_total counter\n"
	    "scadserve_engine_renders_total{engine=\"wasm\"} %llu\n"
	    "scadserve_engine_renders_total{engine=\"cli\"} %llu\n",
	    (unsigned long long)metrics_get(M_ENGINE_WASM),
	    (unsigned long long)metrics_get(M_ENGINE_CLI));
	counter(&b, "scadserve_engine_fallbacks_total", "Renders the WASM engine could not do "
	    "(a crash, a helper that would not start) and the CLI answered.",
	    metrics_get(M_ENGINE_FALLBACKS));
	counter(&b, "scadserve_wasm_helper_starts_total", "WASM helper processes started.",
	    metrics_get(M_WASM_STARTS));
	counter(&b, "scadserve_wasm_helper_start_failures_total", "WASM helpers that did not "
	    "get ready.", metrics_get(M_WASM_START_FAILURES));
	counter(&b, "scadserve_wasm_helper_replaced_total", "WASM helpers killed and replaced "
	    "(a timeout, a crash, a render that used much memory).", metrics_get(M_WASM_REPLACED));
	counter(&b, "scadserve_single_flight_joins_total", "Render requests answered by an "
	    "identical request's render instead of a render of their own.",
	    metrics_get(M_SINGLE_FLIGHT_JOINS));
	counter(&b, "scadserve_client_disconnects_total", "Renders stopped, or waits given up, "
	    "because the client went away.", metrics_get(M_CLIENT_GONE));
	counter(&b, "scadserve_jobs_submitted_total", "Renders queued for the job runners "
	    "(synchronous renders and jobs; a request joining a queued render adds none).",
	    metrics_get(M_JOBS_SUBMITTED));
	counter(&b, "scadserve_jobs_ended_total", "Renders the job runners ended (done, failed "
	    "or cancelled).", metrics_get(M_JOBS_ENDED));
	bprintf(&b, "# HELP scadserve_render_seconds Wall time of renderer runs.\n"
	    "# TYPE scadserve_render_seconds histogram\n");
	for (i = 0; i < NBUCKETS; i++) {
		cum += __atomic_load_n(&sh->bucket[i], __ATOMIC_RELAXED);
		bprintf(&b, "scadserve_render_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
		    (unsigned long long)cum);
	}
	bprintf(&b, "scadserve_render_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "scadserve_render_seconds_sum %.6f\nscadserve_render_seconds_count %llu\n",
	    (unsigned long long)metrics_get(M_RENDERS),
	    (double)metrics_get(M_RENDER_USEC) / 1e6, (unsigned long long)metrics_get(M_RENDERS));
	gauge(&b, "scadserve_queue_depth", "Renders queued, waiting for a job runner.",
	    g->queued);
	gauge(&b, "scadserve_render_slots", "Render slots in all.", g->slots_total);
	gauge(&b, "scadserve_renders_in_flight", "Render slots in use.", g->slots_busy);
	if (g->jobs_known) {
		static const char *const names[5] = { "queued", "running", "done", "failed",
		    "cancelled" };
		bprintf(&b, "# HELP scadserve_jobs Render jobs by state (finished ones are kept an "
		    "hour).\n# TYPE scadserve_jobs gauge\n");
		for (i = 0; i < 5; i++)
			bprintf(&b, "scadserve_jobs{state=\"%s\"} %lld\n", names[i],
			    (long long)g->jobs[i]);
	}
	gauge(&b, "scadserve_cache_entries", "Models in the cache.", g->cache_entries);
	gauge(&b, "scadserve_cache_bytes", "Bytes of models in the cache.", g->cache_bytes);
	if (b.failed) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

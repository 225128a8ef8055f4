/* jobs.h -- render jobs in SQLite: submitted by any worker, run by the runners, read by anyone */
#ifndef SCADSERVE_JOBS_H
#define SCADSERVE_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct jobs;

/* A job as a client sees it. */
struct job_info {
	char id[37];
	char key[65];              /* the request's key */
	char result_key[65];       /* done: the key its model is stored under ("" = key) */
	char state[12];            /* queued | running | done | failed | cancelled */
	int position;              /* queued: 1 = next */
	double created, started, finished;   /* wall-clock seconds (0 = not yet) */
	char stage[128];           /* running: what the renderer says it does */
	char engine[8];            /* done or failed: the engine that answered */
	double seconds;            /* done: render time */
	char *error;               /* failed: the error object as JSON, owned (free()) */
	char *result;              /* done: how it was made, JSON (see jobs_finish), owned */
};

/* The work a runner took: the request as it came, to be parsed again. Free with jobs_work_free. */
struct job_work {
	char key[65];
	char *content_type;
	char *query;
	unsigned char *body;
	size_t len;
	int attempts;
};

/* Opens (creating) the jobs database at path. NULL on failure (logged). */
struct jobs *jobs_open(const char *path);
void jobs_close(struct jobs *j);

/*
 * Records a new job for key. done: the result is in the cache already (the job is done at
 * once). Otherwise the job joins the render of key that is queued or running (*joined 1), or
 * queues a new one with the request (content_type, query, body) unless queue_max renders
 * already wait (overloaded, retry_after). id gets the job's UUID. 0 or -1 with e filled.
 */
int jobs_submit(struct jobs *j, const char *id, const char *key, const char *content_type,
    const char *query, const void *body, size_t len, int done, uint64_t queue_max,
    int *joined, struct err *e);

/*
 * Job id is a request that process pid waits on (a synchronous render). Should pid be gone
 * while its render is still queued, the job is cancelled and the render dropped (unless
 * another job waits on it): by the next claim, or by a submission that finds the queue full.
 */
void jobs_wait_by(struct jobs *j, const char *id, int pid);

/* How jobs_wait_by's pids are checked (default: kill(pid, 0)); for the tests. */
void jobs_set_alive(struct jobs *j, int (*alive)(int pid));

/* Fills out for job id. 1 found, 0 unknown, -1 failure. */
int jobs_get(struct jobs *j, const char *id, struct job_info *out);
void jobs_info_free(struct job_info *info);

/*
 * Cancels job id (if it is queued or running). When no other job waits on its render, the
 * render is dropped (queued) or marked to stop (running): *runner gets the pid of the runner
 * to tell (0: none). Returns 1 cancelled, 0 not cancellable (finished, unknown: see
 * jobs_get), -1 failure.
 */
int jobs_cancel(struct jobs *j, const char *id, int *runner);

/* Takes the oldest queued render for runner pid. 1 with w filled, 0 none, -1 failure. */
int jobs_claim(struct jobs *j, int pid, struct job_work *w);
void jobs_work_free(struct job_work *w);

/* 1 if the running render of key was asked to stop. */
int jobs_should_stop(struct jobs *j, const char *key);

/* Puts the running render of key back at the head of the queue (stopped by mistake). */
void jobs_requeue(struct jobs *j, const char *key);

/* Notes what the running render of key does now. */
void jobs_stage(struct jobs *j, const char *key, const char *stage);

/*
 * Ends the render of key and every job waiting on it: state done (result_key, engine,
 * seconds, and result: a JSON object saying how it was made, for whoever answers a waiting
 * request: {"format", "log", "fallback", "not_stored", "spooled"}), failed (error JSON) or
 * cancelled. 0 or -1.
 */
int jobs_finish(struct jobs *j, const char *key, const char *state, const char *result_key,
    const char *engine, double seconds, const char *error, const char *result);

/*
 * Renders left running by a runner that is gone (not in alive(pid)): queued again if tried
 * once, failed after that, dropped if no job waits on them any more. Returns how many were
 * found, -1 on failure.
 */
int jobs_recover(struct jobs *j, int (*alive)(int pid));

/* Deletes finished jobs older than seconds. */
void jobs_prune(struct jobs *j, double seconds);

/*
 * Renders queued (each one key, however many jobs wait on it), not counting one whose every
 * job is a request whose process is gone (jobs_wait_by), or -1.
 */
int64_t jobs_queue_depth(struct jobs *j);

/* Counts of jobs by state: queued, running, done, failed, cancelled. 0 or -1. */
int jobs_counts(struct jobs *j, int64_t counts[5]);

#endif

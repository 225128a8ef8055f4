/* runner.c -- a job runner: takes queued renders from the jobs database, renders, stores, records */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "classify.h"
#include "engine.h"
#include "jobs.h"
#include "key.h"
#include "logbuf.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "runner.h"
#include "slot.h"
#include "spool.h"
#include "text.h"

#define IDLE_MS 250             /* how often an idle runner looks at the queue, woken or not */
#define KEEP_SECONDS 3600       /* finished jobs are kept this long */

/*
 * The other end of the socket pair a render watches (engine_env.watch_fd): SIGUSR1 (DELETE of
 * its job) shuts it down, and the render stops as if its client had gone away. Shut down, not
 * closed: run_one owns the descriptor and closes it, and a close here would free its number
 * for the next pipe opened (the replacement helper's) for run_one to close by mistake.
 */
static volatile sig_atomic_t cancel_fd = -1;

static void
on_cancel(int sig)
{
	int fd = cancel_fd, saved = errno;

	(void)sig;
	if (fd >= 0)
		(void)shutdown(fd, SHUT_RDWR);
	errno = saved;
}

static int
alive(int pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Follows OpenSCAD's log while a job renders, for the job's stage (GET /api/jobs/{id}). */
struct stage_watch {
	struct jobs *j;
	const char *key;
	const char *engine;        /* "OpenSCAD 2025, WASM" or "OpenSCAD CLI" */
	char line[512];            /* the line so far */
	size_t len;
	char shown[160];           /* the stage last recorded */
	char pending[160];         /* a newer one, not recorded yet */
	struct timespec at;        /* when shown was recorded */
	int changes;               /* stages recorded from the log */
};

static double
since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/*
 * Records the pending stage if it differs: the first at once, then at most five times a
 * second (a model echoing in a loop), except the last stage ("writing the result").
 */
static void
stage_flush(struct stage_watch *sw, int force)
{
	if (sw->pending[0] == '\0' || strcmp(sw->pending, sw->shown) == 0)
		return;
	if (!force && sw->changes > 0 && since(&sw->at) < 0.2)
		return;
	sw->changes++;
	jobs_stage(sw->j, sw->key, sw->pending);
	snprintf(sw->shown, sizeof(sw->shown), "%s", sw->pending);
	clock_gettime(CLOCK_MONOTONIC, &sw->at);
}

/* logbuf_watch's callback: OpenSCAD's log as it comes, cut into lines. */
static void
stage_watch(void *ctx, const char *p, size_t n)
{
	struct stage_watch *sw = ctx;
	char stage[128];
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (sw->len < sizeof(sw->line) - 1)
				sw->line[sw->len++] = p[i];
			continue;
		}
		sw->line[sw->len] = '\0';
		sw->len = 0;
		if (classify_stage(sw->line, stage, sizeof(stage))) {
			int writing = strcmp(stage, "writing the result") == 0;

			snprintf(sw->pending, sizeof(sw->pending), "rendering (%s): %s", sw->engine,
			    stage);
			stage_flush(sw, writing);
		}
	}
}

/* Records a failed render of key: its jobs get the error object. */
static void
finish_failed(struct jobs *j, const char *key, const char *engine, const struct err *e)
{
	char *text = err_json(e, NULL);
	char *inner = NULL;

	/* err_json wraps it: {"error": {...}}; the job stores the object itself. */
	if (text != NULL) {
		json_t *root = json_loads(text, 0, NULL), *obj = json_object_get(root, "error");

		if (obj != NULL)
			inner = json_dumps(obj, JSON_COMPACT);
		json_decref(root);
	}
	(void)jobs_finish(j, key, "failed", NULL, engine, 0, inner ? inner :
	    "{\"type\":\"internal\",\"status\":500,\"message\":\"out of memory\"}", NULL);
	metrics_bump(M_JOBS_ENDED);
	free(inner);
	free(text);
}

/* Ends the render of key (and its jobs) without a result: done from the cache, cancelled. */
static void
finish(struct jobs *j, const char *key, const char *state, const char *result_key,
    const char *engine, double seconds, const char *result)
{
	(void)jobs_finish(j, key, state, result_key, engine, seconds, NULL, result);
	metrics_bump(M_JOBS_ENDED);
}

/*
 * How a result was made, for the requests that wait on it (jobs.h): its format, OpenSCAD's
 * summary, the fallback, whether the cache took it. New string or NULL.
 */
static char *
result_json(const struct req_render *r, const struct engine_out *out, const char *not_stored,
    int spooled)
{
	json_t *o = json_pack("{s:s, s:b}", "format", r->format->name, "spooled", spooled);
	char *text, log[sizeof(out->summary)];

	if (o == NULL)
		return NULL;
	/* The cache keeps the summary of what it stores; the spool only the bytes. */
	if (spooled) {
		memcpy(log, out->summary, sizeof(log));
		log[sizeof(log) - 1] = '\0';
		text_utf8_scrub(log, strlen(log));	/* cut at its cap, maybe mid-character */
		json_object_set_new(o, "log", json_string(log));
	}
	if (out->fallback != NULL)
		json_object_set_new(o, "fallback", json_string(out->fallback));
	if (not_stored != NULL)
		json_object_set_new(o, "not_stored", json_string(not_stored));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* Renders one claimed request and records how it ended. */
static void
run_one(struct app *app, struct jobs *j, struct job_work *w)
{
	struct req_limits lim;
	struct req_render r;
	struct engine_env env = { &app->cfg, &app->probe, &app->policy, -1 };
	struct engine_out out;
	struct cache_entry ce;
	struct err e;
	struct stage_watch sw;
	const char *engine, *why, *not_stored = NULL;
	char key[65], rid[80], *result = NULL;
	int slot = -1, pair[2] = { -1, -1 }, rc;

	memset(&r, 0, sizeof(r));
	memset(&out, 0, sizeof(out));
	memset(&e, 0, sizeof(e));
	snprintf(rid, sizeof(rid), "job %.12s", w->key);
	lim.body_max = app->cfg.body_max;
	lim.timeout_max = app->cfg.timeout;
	lim.files_max = app->cfg.files_max;
	if (req_parse_render(w->content_type[0] ? w->content_type : NULL, w->query, (char *)w->body,
	    w->len, &lim, &r, &e)) {
		finish_failed(j, w->key, NULL, &e);
		goto out;
	}
	engine = engine_choose(&env, &r, &why);
	if (key_derive(&r, engine_id(&env, engine), key) || strcmp(key, w->key) != 0) {
		/* Not the engine the job's key names (its WASM helper is down, say): say why. */
		log_msg(LOG_INFO, rid, "rendered by the %s engine: %s", engine, why);
		snprintf(key, sizeof(key), "%s", w->key);
	}
	/* One runner per key (the jobs database); rendered since it was queued? */
	if (cache_has(app->cache, key)) {
		if ((result = result_json(&r, &out, NULL, 0)) == NULL)
			goto oom;
		finish(j, w->key, "done", key, engine, 0, result);
		goto out;
	}
	if ((slot = slot_acquire(app->slots_dir, app->cfg.slots, 86400, app->cfg.queue_max,
	    app->stopping, &e)) < 0) {
		finish_failed(j, w->key, NULL, &e);
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
		env.watch_fd = pair[0];
		cancel_fd = pair[1];
	}
	/* Cancelled before it started (the signal found no render to stop)? */
	if (jobs_should_stop(j, w->key)) {
		finish(j, w->key, "cancelled", NULL, NULL, 0, NULL);
		goto out;
	}
	memset(&sw, 0, sizeof(sw));
	sw.j = j;
	sw.key = w->key;
	sw.engine = strcmp(engine, "wasm") == 0 ? "OpenSCAD 2025, WASM" : "OpenSCAD CLI";
	snprintf(sw.shown, sizeof(sw.shown), "rendering (%s)", sw.engine);
	jobs_stage(j, w->key, sw.shown);
	clock_gettime(CLOCK_MONOTONIC, &sw.at);
	logbuf_watch(stage_watch, &sw);
	rc = engine_render(&env, &r, rid, &out, &e);
	logbuf_watch(NULL, NULL);
	if (rc) {
		if (out.cancelled && !jobs_should_stop(j, w->key)) {
			/*
			 * A stop meant for the render before this one (its DELETE read this runner's
			 * pid as that render ended): nobody cancelled this one. Run it again.
			 */
			log_msg(LOG_WARN, rid, "stopped by a cancel meant for another render: queued "
			    "again");
			jobs_requeue(j, w->key);
			metrics_bump(M_JOBS_SUBMITTED);
		} else if (out.cancelled) {
			metrics_add(M_CLIENT_GONE, 1);
			finish(j, w->key, "cancelled", NULL, NULL, 0, NULL);
		} else
			finish_failed(j, w->key, out.engine, &e);
		goto out;
	}
	/* Stored under the key of the engine that made it, whatever the job's key named. */
	if (key_derive(&r, out.engine_id, key)) {
		err_set(&e, ERR_INTERNAL, "cannot derive the cache key");
		finish_failed(j, w->key, out.engine, &e);
		goto out;
	}
	switch (cache_put(app->cache, key, r.format->content_type, out.data, out.len,
	    out.engine_id, out.summary)) {
	case CACHE_STORED:
		metrics_add(M_CACHE_STORES, 1);
		break;
	case CACHE_TOO_LARGE:
		not_stored = "too_large";	/* over SCADSERVE_CACHE_ENTRY_MAX */
		break;
	default:
		not_stored = "failed";
		break;
	}
	/* Not in the cache: a file for the requests that wait on it, for a while. */
	if (not_stored != NULL && spool_write(app->spool_dir, key, r.format->ext, out.data,
	    out.len)) {
		err_set(&e, ERR_INTERNAL, "the result (%zu bytes) could not be kept", out.len);
		finish_failed(j, w->key, out.engine, &e);
		goto out;
	}
	if ((result = result_json(&r, &out, not_stored, not_stored != NULL)) == NULL)
		goto oom;
	finish(j, w->key, "done", key, out.engine, out.seconds, result);
	goto out;
oom:
	err_set(&e, ERR_INTERNAL, "out of memory");
	finish_failed(j, w->key, NULL, &e);
out:
	if (cache_get(app->cache, key, &ce))	/* keep the entry warm; nothing else */
		free(ce.data);
	cancel_fd = -1;
	if (pair[0] >= 0)
		close(pair[0]);
	if (pair[1] >= 0)
		close(pair[1]);
	slot_release(slot);
	free(result);
	engine_out_free(&out);
	req_render_free(&r);
	err_clear(&e);
}

int
runner_main(struct app *app)
{
	struct sigaction sa;
	struct job_work w;
	time_t tidied = 0;
	int rc;

	if (app->jobs == NULL)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cancel;
	sigaction(SIGUSR1, &sa, NULL);
	log_msg(LOG_INFO, NULL, "runner ready");
	(void)jobs_recover(app->jobs, alive);
	while (!*app->stopping) {
		uint64_t seen = metrics_get(M_JOBS_SUBMITTED);

		/* Every couple of seconds, busy or not, tidy up. */
		if (time(NULL) - tidied >= 2) {
			tidied = time(NULL);
			if (jobs_recover(app->jobs, alive) > 0)
				metrics_bump(M_JOBS_SUBMITTED);
			jobs_prune(app->jobs, KEEP_SECONDS);
			spool_prune(app->spool_dir, SPOOL_KEEP_SECONDS);
		}
		rc = jobs_claim(app->jobs, (int)getpid(), &w);
		if (rc == 1) {
			run_one(app, app->jobs, &w);
			jobs_work_free(&w);
			continue;
		}
		/* Until something is submitted (the counter moves: a wake-up), or a while at most. */
		if (!*app->stopping)
			(void)metrics_wait(M_JOBS_SUBMITTED, seen, IDLE_MS);
	}
	log_msg(LOG_INFO, NULL, "runner stopping");
	return 0;
}

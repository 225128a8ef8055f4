/* runner.c -- a job runner: takes queued renders from the jobs database, renders, stores, records */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "engine.h"
#include "flight.h"
#include "jobs.h"
#include "key.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "runner.h"
#include "slot.h"

#define IDLE_MS 20              /* how often an idle runner looks for work */
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
	    "{\"type\":\"internal\",\"status\":500,\"message\":\"out of memory\"}");
	free(inner);
	free(text);
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
	const char *engine, *why;
	char key[65], rid[80];
	int slot = -1, flight = -1, waited = 0, gone = 0, pair[2] = { -1, -1 };

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
	/* One render per key, whoever asked (a job or a synchronous request). */
	if ((flight = flight_join(app->flight_dir, key, 86400, -1, app->stopping, &waited, &gone,
	    &e)) < 0) {
		finish_failed(j, w->key, NULL, &e);
		goto out;
	}
	if (cache_has(app->cache, key)) {
		(void)jobs_finish(j, w->key, "done", key, engine, 0, NULL);
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
		(void)jobs_finish(j, w->key, "cancelled", NULL, NULL, 0, NULL);
		goto out;
	}
	jobs_stage(j, w->key, strcmp(engine, "wasm") == 0 ? "rendering (OpenSCAD 2025, WASM)" :
	    "rendering (OpenSCAD CLI)");
	if (engine_render(&env, &r, rid, &out, &e)) {
		if (out.cancelled && !jobs_should_stop(j, w->key)) {
			/*
			 * A stop meant for the render before this one (its DELETE read this runner's
			 * pid as that render ended): nobody cancelled this one. Run it again.
			 */
			log_msg(LOG_WARN, rid, "stopped by a cancel meant for another render: queued "
			    "again");
			jobs_requeue(j, w->key);
		} else if (out.cancelled) {
			metrics_add(M_CLIENT_GONE, 1);
			(void)jobs_finish(j, w->key, "cancelled", NULL, NULL, 0, NULL);
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
		(void)jobs_finish(j, w->key, "done", key, out.engine, out.seconds, NULL);
		break;
	default:
		err_set(&e, ERR_OUTPUT_TOO_LARGE, "the result (%zu bytes) could not be stored for "
		    "later: render it with POST /api/render instead", out.len);
		finish_failed(j, w->key, out.engine, &e);
		break;
	}
out:
	if (cache_get(app->cache, key, &ce))	/* keep the entry warm; nothing else */
		free(ce.data);
	cancel_fd = -1;
	if (pair[0] >= 0)
		close(pair[0]);
	if (pair[1] >= 0)
		close(pair[1]);
	slot_release(slot);
	flight_leave(app->flight_dir, w->key, flight);
	engine_out_free(&out);
	req_render_free(&r);
	err_clear(&e);
}

int
runner_main(struct app *app)
{
	struct sigaction sa;
	struct job_work w;
	int rc, idle = 0;

	if (app->jobs == NULL)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cancel;
	sigaction(SIGUSR1, &sa, NULL);
	log_msg(LOG_INFO, NULL, "runner ready");
	(void)jobs_recover(app->jobs, alive);
	while (!*app->stopping) {
		rc = jobs_claim(app->jobs, (int)getpid(), &w);
		if (rc == 1) {
			run_one(app, app->jobs, &w);
			jobs_work_free(&w);
			idle = 0;
			continue;
		}
		/* Nothing queued: look again shortly; now and then, tidy up. */
		if (++idle % 100 == 0) {
			(void)jobs_recover(app->jobs, alive);
			jobs_prune(app->jobs, KEEP_SECONDS);
		}
		poll(NULL, 0, IDLE_MS);
	}
	log_msg(LOG_INFO, NULL, "runner stopping");
	return 0;
}

/* api.c -- the HTTP endpoints: routes one FastCGI request to its handler and answers it */
#include <sys/random.h>

#include <errno.h>
#include <signal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uuid/uuid.h>

#include "api.h"
#include "engine.h"
#include "engine_wasm.h"
#include "format.h"
#include "jobs.h"
#include "key.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "resp.h"
#include "sandbox.h"
#include "render.h"
#include "slot.h"
#include "spool.h"
#include "text.h"

/* One request in flight. */
struct call {
	struct app *app;
	FCGX_Request *rq;
	const char *method;
	int head;                  /* HEAD: headers only */
	char id[40];               /* request id: the client's UUID or a new one */
	const char *not_stored;    /* why a rendered result was not cached, for X-Cache-Store */
	const char *engine;        /* the engine that answered a render, for X-Engine */
	const char *fallback;      /* why the CLI answered for the WASM engine, or NULL */
	struct err e;
};

static const char *
param(struct call *c, const char *name)
{
	return FCGX_GetParam(name, c->rq->envp);
}

static void
fail(struct call *c)
{
	metrics_error(c->e.type);
	if (err_status(c->e.type) >= 500)
		log_msg(LOG_ERROR, c->id, "%s: %s", err_type_name(c->e.type), c->e.message);
	else if (c->e.type == ERR_RENDERER_CRASHED)
		/* An OpenSCAD bug a model set off: worth a look, not an alert. */
		log_msg(LOG_WARN, c->id, "%s: %s", err_type_name(c->e.type), c->e.message);
	resp_error(c->rq->out, &c->e, c->id, c->head);
}

/*
 * Reads the request body (at most lim bytes, else payload_too_large). Returns a
 * NUL-terminated buffer the caller frees and its length in *len, or NULL with c->e set.
 */
static char *
read_body(struct call *c, size_t lim, size_t *len)
{
	const char *cl = param(c, "CONTENT_LENGTH");
	unsigned long long n = 0;
	char *body;
	int got;

	if (cl != NULL && cl[0] != '\0') {
		char *end;
		n = strtoull(cl, &end, 10);
		if (*end != '\0') {
			err_set(&c->e, ERR_BAD_REQUEST, "malformed Content-Length");
			return NULL;
		}
	}
	if (n > lim) {
		err_set(&c->e, ERR_PAYLOAD_TOO_LARGE, "the body is %llu bytes; the limit is %zu "
		    "(SCADSERVE_BODY_MAX)", n, lim);
		return NULL;
	}
	if ((body = malloc((size_t)n + 1)) == NULL) {
		err_set(&c->e, ERR_INTERNAL, "out of memory");
		return NULL;
	}
	got = n ? FCGX_GetStr(body, (int)n, c->rq->in) : 0;
	if (got < 0 || (unsigned long long)got != n) {
		free(body);
		err_set(&c->e, ERR_BAD_REQUEST, "the body ended early (%d of %llu bytes)", got, n);
		return NULL;
	}
	body[n] = '\0';
	*len = (size_t)n;
	return body;
}

/*
 * The answer for a model: 200 with its bytes. fmt is set for a render (POST), NULL for
 * GET /api/models. log is OpenSCAD's messages for it (may be empty), sent percent-encoded
 * in X-Render-Log.
 */
static void
send_model(struct call *c, const char *key, const char *ctype, const unsigned char *data,
    size_t len, const char *cache_state, double seconds, const struct format *fmt,
    const char *log)
{
	char headers[768 + 3 * 4096 + 32];
	size_t n;

	if (fmt != NULL)
		n = (size_t)snprintf(headers, sizeof(headers), "ETag: \"%s\"\r\nX-Cache: %s\r\n"
		    "X-Render-Time: %.3f\r\nContent-Location: /api/models/%s\r\n"
		    "Content-Disposition: inline; filename=\"model.%s\"\r\n"
		    "Cache-Control: no-store\r\n%s%s%s%s%s%s", key, cache_state, seconds, key,
		    fmt->ext, c->not_stored ? "X-Cache-Store: " : "",
		    c->not_stored ? c->not_stored : "", c->not_stored ? "\r\n" : "",
		    c->engine ? "X-Engine: " : "", c->engine ? c->engine : "",
		    c->engine ? "\r\n" : "");
	else
		n = (size_t)snprintf(headers, sizeof(headers), "ETag: \"%s\"\r\n"
		    "Cache-Control: public, max-age=31536000, immutable\r\n", key);
	if (fmt != NULL && c->fallback != NULL && n + 200 < sizeof(headers))
		n += (size_t)snprintf(headers + n, sizeof(headers) - n,
		    "X-Engine-Fallback: %s\r\n", c->fallback);
	if (log != NULL && log[0] != '\0' && n + 20 < sizeof(headers)) {
		n += (size_t)snprintf(headers + n, sizeof(headers) - n, "X-Render-Log: ");
		n += text_percent_encode(log, headers + n, sizeof(headers) - n - 3);
		snprintf(headers + n, sizeof(headers) - n, "\r\n");
	}
	resp_send(c->rq->out, 200, ctype, headers, c->id, data, len, c->head);
}

/*
 * The start of every render request (POST /api/render, POST /api/jobs): reads and parses the
 * body into r, chooses the engine and derives the key, which names that engine (results
 * differ between engines). *body (owned by the caller, free()) keeps the request as it came.
 * 0, or -1 with c->e filled.
 */
static int
render_request(struct call *c, const struct engine_env *env, struct req_render *r,
    char **body, size_t *len, char key[65], const char **engine)
{
	const struct config *cfg = &c->app->cfg;
	struct req_limits lim;
	const char *why;

	lim.body_max = cfg->body_max;
	lim.timeout_max = cfg->timeout;
	lim.files_max = cfg->files_max;
	if ((*body = read_body(c, lim.body_max, len)) == NULL)
		return -1;
	if (req_parse_render(param(c, "CONTENT_TYPE"), param(c, "QUERY_STRING"), *body, *len,
	    &lim, r, &c->e))
		return -1;
	*engine = engine_choose(env, r, &why);
	if (key_derive(r, engine_id(env, *engine), key)) {
		err_set(&c->e, ERR_INTERNAL, "cannot derive the cache key");
		return -1;
	}
	return 0;
}

/* New job id into id (37 bytes). */
static void
job_id(char id[37])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, id);
}

/*
 * Cancels job id; when nobody else waits on its render, its runner stops it (and counts it as
 * stopped: *told 1). 1, 0 or -1.
 */
static int
job_cancel(struct call *c, const char *id, int *told)
{
	int runner = 0, rc = jobs_cancel(c->app->jobs, id, &runner);

	*told = runner > 0;

	if (rc > 0)
		metrics_bump(M_JOBS_SUBMITTED);	/* the runners look again */
	/* Its runner stops the renderer when told (SIGUSR1). */
	if (runner > 0 && kill(runner, SIGUSR1) != 0)
		log_msg(LOG_WARN, c->id, "cannot tell runner %d to stop: %s", runner,
		    strerror(errno));
	return rc;
}

/*
 * Records a job for a parsed render request: done at once if key is cached, else joining
 * the render of key or queueing one (overloaded past SCADSERVE_QUEUE_MAX). id gets its UUID,
 * *done whether it is done already. 0, or -1 with c->e filled.
 */
static int
job_submit(struct call *c, const char *key, const char *body, size_t len, char id[37],
    int *done)
{
	struct app *app = c->app;
	int joined = 0;

	if (app->jobs == NULL) {
		err_set(&c->e, ERR_INTERNAL, "the jobs database is not available");
		return -1;
	}
	*done = cache_has(app->cache, key);
	if (!*done && app->policy.refuse) {
		/* Fail closed: no renderer runs without the file-access sandbox unless asked. */
		err_set(&c->e, ERR_SANDBOX_UNAVAILABLE, "renders are refused because the renderer "
		    "cannot be confined: %s (the operator can see /api/health)", app->policy.why);
		return -1;
	}
	job_id(id);
	if (jobs_submit(app->jobs, id, key, param(c, "CONTENT_TYPE"), param(c, "QUERY_STRING"),
	    body, len, *done, app->cfg.queue_max, &joined, &c->e))
		return -1;
	if (joined)
		metrics_add(M_SINGLE_FLIGHT_JOINS, 1);
	else if (!*done)
		metrics_bump(M_JOBS_SUBMITTED);
	return 0;
}

/*
 * POST /api/render. A hit is answered here. A miss is a job the request waits on: recorded
 * here (so the queue counts it from now, in arrival order, and refuses it past its bound),
 * then handed, as X-Accel-Redirect: /_scadserve/wait/{id}, to the wait pool, whose worker
 * answers it when a job runner has rendered it (handle_wait). Renders never hold this worker.
 */
static void
handle_render(struct call *c)
{
	struct app *app = c->app;
	struct req_render r;
	struct cache_entry ce;
	struct engine_env env = { &app->cfg, &app->probe, &app->policy, -1 };
	size_t len = 0;
	char key[65], id[37], headers[128], *body = NULL;
	const char *engine;
	int done;

	memset(&r, 0, sizeof(r));
	if (render_request(c, &env, &r, &body, &len, key, &engine))
		goto fail;
	c->engine = engine;
	if (cache_get(app->cache, key, &ce)) {
		metrics_add(M_CACHE_HITS, 1);
		send_model(c, key, ce.content_type, ce.data, ce.size, "hit", 0, r.format, ce.log);
		free(ce.data);
		goto out;
	}
	metrics_add(M_CACHE_MISSES, 1);
	if (job_submit(c, key, body, len, id, &done))
		goto fail;
	snprintf(headers, sizeof(headers), "X-Accel-Redirect: /_scadserve/wait/%s\r\n", id);
	resp_send(c->rq->out, 200, "text/plain", headers, c->id, "", 0, c->head);
	goto out;
fail:
	fail(c);
out:
	free(body);
	req_render_free(&r);
}

static double
now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Answers a request whose job is done: the model, from the cache or the spool. */
static void
send_result(struct call *c, const struct job_info *ji)
{
	struct app *app = c->app;
	struct cache_entry ce;
	const struct format *fmt;
	json_t *meta = ji->result ? json_loads(ji->result, 0, NULL) : NULL;
	const char *key = ji->result_key[0] ? ji->result_key : ji->key, *log;
	unsigned char *data = NULL;
	size_t len = 0;

	fmt = json_is_string(json_object_get(meta, "format")) ?
	    format_find(json_string_value(json_object_get(meta, "format"))) : NULL;
	c->engine = strcmp(ji->engine, "cli") == 0 ? "cli" : strcmp(ji->engine, "wasm") == 0 ?
	    "wasm" : NULL;
	c->fallback = json_string_value(json_object_get(meta, "fallback"));
	c->not_stored = json_string_value(json_object_get(meta, "not_stored"));
	log = json_string_value(json_object_get(meta, "log"));
	if (fmt == NULL) {
		err_set(&c->e, ERR_INTERNAL, "the render's record is incomplete");
		fail(c);
	} else if (cache_get(app->cache, key, &ce)) {
		send_model(c, key, ce.content_type, ce.data, ce.size, "miss", ji->seconds, fmt,
		    ce.log);
		free(ce.data);
	} else if (spool_read(app->spool_dir, key, fmt->ext, &data, &len) == 0) {
		send_model(c, key, fmt->content_type, data, len, "miss", ji->seconds, fmt, log);
		free(data);
	} else {
		err_set(&c->e, ERR_INTERNAL, "the result was rendered but is gone (evicted at "
		    "once?): render it again");
		fail(c);
	}
	json_decref(meta);
}

/*
 * GET /_scadserve/wait/{id}, from nginx only (an internal location; SCADSERVE_HANDED_ON):
 * the rest of a POST /api/render that missed. Waits for its job and answers as a render does:
 * the model, or the render's error. Its client going away cancels the job (the render stops
 * unless another request waits on it); a job still queued after SCADSERVE_QUEUE_WAIT is
 * given up: 503 overloaded.
 */
static void
handle_wait(struct call *c, const char *id)
{
	struct app *app = c->app;
	struct job_info ji;
	double start = now_wall(), next = 0, t;	/* next: the next look whatever the counter */
	double queue_end = start + app->cfg.queue_wait;
	/* A runner lost twice, or stuck: say so before nginx gives up (at + 30 s). */
	double end = queue_end + app->cfg.timeout + 20;
	uint64_t seen = 0;
	int rc, told;

	if (app->jobs == NULL) {
		err_set(&c->e, ERR_INTERNAL, "the jobs database is not available");
		fail(c);
		return;
	}
	memset(&ji, 0, sizeof(ji));
	jobs_wait_by(app->jobs, id, (int)getpid());	/* should this process die, nobody waits */
	for (;;) {
		t = now_wall();
		/* A render ended (the counter moved), or a while went by: look at the job. */
		if (metrics_get(M_JOBS_ENDED) != seen || t >= next) {
			seen = metrics_get(M_JOBS_ENDED);
			next = t + 0.25;
			jobs_info_free(&ji);
			if ((rc = jobs_get(app->jobs, id, &ji)) <= 0) {
				err_set(&c->e, rc == 0 ? ERR_NOT_FOUND : ERR_INTERNAL, "no job %s to "
				    "wait for", id);
				fail(c);
				break;
			}
			if (strcmp(ji.state, "done") == 0) {
				send_result(c, &ji);
				break;
			}
			if (strcmp(ji.state, "failed") == 0) {
				if (err_from_json(&c->e, ji.error))
					err_set(&c->e, ERR_INTERNAL, "the render failed");
				fail(c);
				break;
			}
			if (strcmp(ji.state, "cancelled") == 0) {
				err_set(&c->e, ERR_OVERLOADED, "the render was cancelled (the service is "
				    "stopping?): try again");
				c->e.retry_after = 5;
				fail(c);
				break;
			}
			if ((strcmp(ji.state, "queued") == 0 && t >= queue_end) || t >= end ||
			    *app->stopping) {
				(void)job_cancel(c, id, &told);
				if (*app->stopping)
					err_set(&c->e, ERR_OVERLOADED, "the service is stopping: try "
					    "again shortly");
				else if (t >= end)
					err_set(&c->e, ERR_OVERLOADED, "the render did not end in %.0f "
					    "s (its runner was lost?): try again shortly", t - start);
				else
					err_set(&c->e, ERR_OVERLOADED, "no render slot came free in %.0f "
					    "s (SCADSERVE_QUEUE_WAIT): try again shortly", t - start);
				c->e.retry_after = 5;
				fail(c);
				break;
			}
		}
		/* nginx dropped the request (its client left)? */
		if (render_hung_up(c->rq->ipcFd)) {
			log_msg(LOG_INFO, c->id, "the client went away after %.3f s: job %s "
			    "cancelled", now_wall() - start, id);
			/* A render stopped is counted by its runner; a wait given up, here. */
			if (job_cancel(c, id, &told) >= 0 && !told)
				metrics_add(M_CLIENT_GONE, 1);
			break;
		}
		/* Until a render ends (a runner wakes us), or 50 ms: a client gone shows soon. */
		(void)metrics_wait(M_JOBS_ENDED, seen, 50);
	}
	jobs_info_free(&ji);
}

/*
 * A result too big for the cache, spooled for a while by the runner that made it (a job's
 * model_url): 1 if it was sent, 0 if there is none.
 */
static int
send_spooled(struct call *c, const char *key)
{
	const struct format *f;
	unsigned char *data;
	size_t len;
	int i;

	for (i = 0; i < format_count(); i++) {
		f = format_at(i);
		if (spool_read(c->app->spool_dir, key, f->ext, &data, &len) == 0) {
			send_model(c, key, f->content_type, data, len, "hit", 0, NULL, NULL);
			free(data);
			return 1;
		}
	}
	return 0;
}

static void
handle_model(struct call *c, const char *key)
{
	struct cache_entry ce;
	const char *inm = param(c, "HTTP_IF_NONE_MATCH");
	char etag[80];

	snprintf(etag, sizeof(etag), "\"%s\"", key);
	/*
	 * A key names one immutable result: a client that has it need not be told twice. But
	 * only while it is here: "*" (or the tag of an evicted key) must not confirm a model
	 * the server no longer has, so that is a 404 like any other unknown key.
	 */
	if (inm != NULL && req_etag_match(inm, etag) && cache_has(c->app->cache, key)) {
		char headers[160];
		metrics_add(M_NOT_MODIFIED, 1);
		snprintf(headers, sizeof(headers), "ETag: %s\r\n"
		    "Cache-Control: public, max-age=31536000, immutable\r\n", etag);
		resp_send(c->rq->out, 304, NULL, headers, c->id, NULL, 0, 1);
		return;
	}
	if (!cache_get(c->app->cache, key, &ce)) {
		if (send_spooled(c, key))
			return;
		err_set(&c->e, ERR_NOT_FOUND, "no model with key %s in the cache (it may have "
		    "been evicted: render it again)", key);
		fail(c);
		return;
	}
	metrics_add(M_CACHE_HITS, 1);
	send_model(c, key, ce.content_type, ce.data, ce.size, "hit", 0, NULL, ce.log);
	free(ce.data);
}

/* The sandbox part of /api/health: what confines renderers, and whether they may run. New ref. */
static json_t *
health_sandbox(const struct sandbox_policy *p, int operator)
{
	json_t *o, *read, *exec;
	int i;

	o = json_pack("{s:s, s:{s:i, s:i}, s:b, s:s}",
	    "confinement", p->landlock_abi > 0 ? "landlock" : p->refuse ? "none" : "UNCONFINED",
	    "landlock", "abi", p->landlock_abi, "kernel_abi", p->kernel_abi,
	    "seccomp", p->seccomp,
	    "renders", p->refuse ? "refused" : "allowed");
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "in_force", json_string(sandbox_describe(p)));
	if (p->why[0] != '\0')
		json_object_set_new(o, "reason", json_string(p->why));
	if (p->landlock_abi == 0 && !p->refuse)
		json_object_set_new(o, "warning", json_string("SCADSERVE_UNCONFINED=1: renderers "
		    "run without Landlock and can read every file the service's user can read"));
	if (!operator)
		return o;
	read = json_array();
	exec = json_array();
	for (i = 0; i < p->nread; i++)
		json_array_append_new(read, json_string(p->read[i]));
	for (i = 0; i < p->nexec; i++)
		json_array_append_new(exec, json_string(p->exec[i]));
	json_object_set_new(o, "read", read);
	json_object_set_new(o, "exec", exec);
	json_object_set_new(o, "uid", json_integer((json_int_t)getuid()));
	return o;
}

/*
 * The engines part of /api/health: each engine's state, and which engines serve each format.
 * Sets *formats (the union of formats) and *by_format. New reference, or NULL.
 */
static json_t *
health_engines(const struct app *app, int operator, json_t **formats, json_t **by_format)
{
	json_t *list, *wasm, *cli;
	int i;

	*formats = json_array();
	*by_format = json_object();
	list = json_array();
	wasm = engine_wasm_health(operator);
	cli = json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", "cli", "version",
	    app->probe.version, "backend", app->probe.backend,
	    "state", app->policy.refuse ? "refused" : "ready",
	    "default", wasm == NULL || !json_is_true(json_object_get(wasm, "default")));
	if (*formats == NULL || *by_format == NULL || list == NULL || wasm == NULL || cli == NULL)
		goto oom;
	if (operator)
		json_object_set_new(cli, "path", json_string(app->cfg.openscad));
	json_array_append_new(list, wasm);
	json_array_append_new(list, cli);
	wasm = cli = NULL;
	for (i = 0; i < format_count(); i++) {
		const struct format *f = format_at(i);
		json_t *who = json_array();

		if (who == NULL)
			goto oom;
		if (engine_wasm_has_format(f))
			json_array_append_new(who, json_string("wasm"));
		if (format_enabled(f))
			json_array_append_new(who, json_string("cli"));
		if (json_array_size(who) == 0) {
			json_decref(who);
			continue;
		}
		json_array_append_new(*formats, json_string(f->name));
		json_object_set_new(*by_format, f->name, who);
	}
	return list;
oom:
	json_decref(*formats);
	json_decref(*by_format);
	json_decref(list);
	json_decref(wasm);
	json_decref(cli);
	*formats = *by_format = NULL;
	return NULL;
}

/* Renders waiting: queued for a runner, and runners waiting for a slot (RUNNERS > slots). */
static int64_t
queue_depth(struct app *app)
{
	int64_t n = app->jobs != NULL ? jobs_queue_depth(app->jobs) : 0;

	return (n > 0 ? n : 0) + slot_queued(app->slots_dir, app->cfg.queue_max);
}

/*
 * GET /api/health. Anyone sees whether the service can render and with what; only the
 * operator (nginx sets SCADSERVE_OPERATOR=1 for the addresses in SCADSERVE_OPERATOR_NETS)
 * also sees paths, process ids and the sandbox's folders.
 */
static void
handle_health(struct call *c)
{
	struct app *app = c->app;
	json_t *root, *formats, *box, *engines, *by_format;
	int64_t entries = 0, bytes = 0;
	int cache_ok = cache_stats(app->cache, &entries, &bytes) == 0;
	const char *op = param(c, "SCADSERVE_OPERATOR");
	int operator = op != NULL && strcmp(op, "1") == 0;
	char *text;

	if ((engines = health_engines(app, operator, &formats, &by_format)) == NULL)
		goto oom;
	if ((box = health_sandbox(&app->policy, operator)) == NULL) {
		json_decref(formats);
		json_decref(by_format);
		json_decref(engines);
		goto oom;
	}
	root = json_pack("{s:s, s:{s:s, s:s, s:b}, s:o, s:o, s:o, s:o, "
	    "s:{s:b, s:I, s:I, s:I, s:I}, s:{s:i, s:i, s:I}, "
	    "s:{s:I, s:f, s:I, s:I, s:I, s:I}}",
	    "status", app->policy.refuse ? "refusing_renders" :
	    app->policy.landlock_abi == 0 ? "unconfined" : "ok",
	    "openscad", "version", app->probe.version,
	    "backend", app->probe.backend, "manifold", app->probe.has_manifold,
	    "engines", engines,
	    "formats", formats,
	    "format_engines", by_format,
	    "sandbox", box,
	    "cache", "ok", cache_ok, "entries", (json_int_t)entries,
	    "bytes", (json_int_t)bytes, "max_bytes", (json_int_t)app->cfg.cache_max,
	    "entry_max_bytes", (json_int_t)app->cfg.cache_entry_max,
	    "render_slots", "total", app->cfg.slots,
	    "busy", slot_busy(app->slots_dir, app->cfg.slots),
	    "queued", (json_int_t)queue_depth(app),
	    "limits", "body_bytes", (json_int_t)app->cfg.body_max,
	    "timeout_seconds", app->cfg.timeout, "memory_bytes", (json_int_t)app->cfg.memory_max,
	    "output_bytes", (json_int_t)app->cfg.output_max,
	    "text_output_bytes", (json_int_t)app->cfg.text_output_max,
	    "log_bytes", (json_int_t)app->cfg.log_max);
	if (root != NULL && operator) {
		json_object_set_new(json_object_get(root, "openscad"), "path",
		    json_string(app->cfg.openscad));
		json_object_set_new(json_object_get(root, "cache"), "path",
		    json_string(app->cfg.cache_path));
		json_object_set_new(root, "uptime_seconds",
		    json_integer((json_int_t)(time(NULL) - app->started)));
		json_object_set_new(root, "pid", json_integer((json_int_t)getpid()));
	}
	if (root == NULL || (text = json_dumps(root, JSON_INDENT(2))) == NULL) {
		json_decref(root);
		goto oom;
	}
	json_decref(root);
	resp_send(c->rq->out, 200, "application/json", "Cache-Control: no-store\r\n", c->id,
	    text, strlen(text), c->head);
	free(text);
	return;
oom:
	err_set(&c->e, ERR_INTERNAL, "out of memory");
	fail(c);
}

static void
handle_metrics(struct call *c)
{
	struct app *app = c->app;
	struct metrics_gauges g;
	char *text;

	memset(&g, 0, sizeof(g));
	cache_stats(app->cache, &g.cache_entries, &g.cache_bytes);
	g.slots_total = app->cfg.slots;
	g.slots_busy = slot_busy(app->slots_dir, app->cfg.slots);
	g.queued = queue_depth(app);
	g.jobs_known = app->jobs != NULL && jobs_counts(app->jobs, g.jobs) == 0;
	if ((text = metrics_text(&g)) == NULL) {
		err_set(&c->e, ERR_INTERNAL, "out of memory");
		fail(c);
		return;
	}
	resp_send(c->rq->out, 200, "text/plain; version=0.0.4; charset=utf-8",
	    "Cache-Control: no-store\r\n", c->id, text, strlen(text), c->head);
	free(text);
}

/* A job as JSON: what GET /api/jobs/{id} answers (and POST, DELETE). New reference or NULL. */
static json_t *
job_json(const struct job_info *ji)
{
	char url[128];
	json_t *o, *err;
	struct timespec ts;
	double now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;

	snprintf(url, sizeof(url), "/api/jobs/%s", ji->id);
	o = json_pack("{s:s, s:s, s:s, s:s, s:f}", "id", ji->id, "key", ji->key, "state",
	    ji->state, "status_url", url, "created", ji->created);
	if (o == NULL)
		return NULL;
	if (strcmp(ji->state, "queued") == 0)
		json_object_set_new(o, "position", json_integer(ji->position));
	if (strcmp(ji->state, "running") == 0) {
		if (ji->started > 0)
			json_object_set_new(o, "elapsed_seconds", json_real(now - ji->started));
		if (ji->stage[0] != '\0')
			json_object_set_new(o, "stage", json_string(ji->stage));
	}
	if (strcmp(ji->state, "done") == 0) {
		snprintf(url, sizeof(url), "/api/models/%s", ji->result_key[0] ? ji->result_key :
		    ji->key);
		json_object_set_new(o, "model_url", json_string(url));
		if (ji->engine[0] != '\0')
			json_object_set_new(o, "engine", json_string(ji->engine));
		json_object_set_new(o, "render_seconds", json_real(ji->seconds));
	}
	if (strcmp(ji->state, "failed") == 0 && ji->error != NULL &&
	    (err = json_loads(ji->error, 0, NULL)) != NULL)
		json_object_set_new(o, "error", err);
	if (ji->finished > 0)
		json_object_set_new(o, "finished", json_real(ji->finished));
	return o;
}

/* Sends job id (status, with headers) as JSON. */
static void
send_job(struct call *c, int status, const char *id)
{
	struct job_info ji;
	json_t *o;
	char *text, headers[200];
	int rc = jobs_get(c->app->jobs, id, &ji);

	if (rc <= 0) {
		if (rc == 0)
			err_set(&c->e, ERR_NOT_FOUND, "no job %s (finished jobs are kept for an hour)", id);
		else
			err_set(&c->e, ERR_INTERNAL, "cannot read the job");
		fail(c);
		return;
	}
	o = job_json(&ji);
	jobs_info_free(&ji);
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		err_set(&c->e, ERR_INTERNAL, "out of memory");
		fail(c);
		return;
	}
	json_decref(o);
	snprintf(headers, sizeof(headers), "Cache-Control: no-store\r\n%s%s%s",
	    status == 202 ? "Location: /api/jobs/" : "", status == 202 ? id : "",
	    status == 202 ? "\r\n" : "");
	resp_send(c->rq->out, status, "application/json", headers, c->id, text, strlen(text),
	    c->head);
	free(text);
}

/* POST /api/jobs: the body of a render; answers 202 with the job at once. */
static void
handle_jobs(struct call *c)
{
	struct app *app = c->app;
	struct req_render r;
	struct engine_env env = { &app->cfg, &app->probe, &app->policy, -1 };
	const char *engine;
	char key[65], id[37], *body = NULL;
	size_t len = 0;
	int done;

	memset(&r, 0, sizeof(r));
	if (render_request(c, &env, &r, &body, &len, key, &engine) ||
	    job_submit(c, key, body, len, id, &done))
		fail(c);
	else
		send_job(c, 202, id);
	free(body);
	req_render_free(&r);
}

/* GET, HEAD, DELETE /api/jobs/{id}. */
static void
handle_job(struct call *c, const char *id)
{
	int told;

	if (c->app->jobs == NULL) {
		err_set(&c->e, ERR_INTERNAL, "the jobs database is not available");
		fail(c);
		return;
	}
	if (strcmp(c->method, "DELETE") == 0 && job_cancel(c, id, &told) < 0) {
		err_set(&c->e, ERR_INTERNAL, "cannot cancel the job");
		fail(c);
		return;
	}
	send_job(c, 200, id);
}

void
api_handle(struct app *app, FCGX_Request *rq)
{
	struct call c;
	const char *rid, *uri;
	char path[1024], key[65];
	enum route route;
	size_t n;

	memset(&c, 0, sizeof(c));
	c.app = app;
	c.rq = rq;
	c.method = FCGX_GetParam("REQUEST_METHOD", rq->envp);
	if (c.method == NULL)
		c.method = "GET";
	c.head = strcmp(c.method, "HEAD") == 0;
	rid = FCGX_GetParam("HTTP_X_REQUEST_ID", rq->envp);
	if (rid != NULL && text_is_uuid(rid))
		snprintf(c.id, sizeof(c.id), "%s", rid);
	else {
		uuid_t u;
		/* One getrandom() instead of libuuid's half-dozen system calls per id. */
		if (getrandom(u, sizeof(u), 0) == (ssize_t)sizeof(u)) {
			u[6] = (u[6] & 0x0f) | 0x40;	/* version 4 */
			u[8] = (u[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
		} else
			uuid_generate_random(u);
		uuid_unparse_lower(u, c.id);
	}
	/* DOCUMENT_URI is the decoded path without the query; REQUEST_URI the raw one. */
	uri = FCGX_GetParam("DOCUMENT_URI", rq->envp);
	if (uri == NULL && (uri = FCGX_GetParam("REQUEST_URI", rq->envp)) == NULL)
		uri = "/";
	n = strcspn(uri, "?");
	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, uri, n);
	path[n] = '\0';
	route = req_route(c.method, path, key, &c.e);
	/* A render the front pool handed on was counted there already. */
	if (FCGX_GetParam("SCADSERVE_HANDED_ON", rq->envp) == NULL)
		metrics_request(route);
	switch (route) {
	case ROUTE_RENDER:
		handle_render(&c);
		break;
	case ROUTE_MODEL:
		handle_model(&c, key);
		break;
	case ROUTE_HEALTH:
		handle_health(&c);
		break;
	case ROUTE_METRICS:
		handle_metrics(&c);
		break;
	case ROUTE_JOBS:
		handle_jobs(&c);
		break;
	case ROUTE_JOB:
		handle_job(&c, key);
		break;
	case ROUTE_WAIT:
		/* Only nginx's internal location sets SCADSERVE_HANDED_ON. */
		if (FCGX_GetParam("SCADSERVE_HANDED_ON", rq->envp) == NULL) {
			err_set(&c.e, ERR_NOT_FOUND, "no such endpoint");
			fail(&c);
		} else
			handle_wait(&c, key);
		break;
	default:
		fail(&c);
		break;
	}
	err_clear(&c.e);
}

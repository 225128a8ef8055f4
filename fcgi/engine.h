/* engine.h -- renders one validated request with an engine and says what came of it; knows nothing of HTTP */
#ifndef SCADSERVE_ENGINE_H
#define SCADSERVE_ENGINE_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "probe.h"
#include "req.h"
#include "sandbox.h"

/* What engines need from the service's settings. Borrowed, fixed at start. */
struct engine_env {
	const struct config *cfg;
	const struct probe *probe;
	const struct sandbox_policy *policy;
	int watch_fd;              /* the client's connection: its hang-up stops the render (-1: none) */
};

/* A finished render. Free what it owns with engine_out_free. */
struct engine_out {
	unsigned char *data;       /* the result, owned */
	size_t len;
	double seconds;            /* the renderer's wall time */
	char summary[4096];        /* OpenSCAD's messages a user reads (X-Render-Log) */
	const char *engine;        /* which engine made it: "wasm" or "cli"; static string */
	const char *engine_id;     /* its identity in cache keys (engine_id); static string */
	const char *fallback;      /* NULL, or why the WASM engine handed it to the CLI */
	int cancelled;             /* 1: stopped because the client went away (nothing to answer) */
};

/*
 * Renders r with the engine chosen for it (engine_choose) and classifies the outcome. When
 * the WASM engine cannot render it (a crash, a helper that will not start) and the request
 * did not ask for WASM alone, the CLI renders it; a model error is final. out->engine says
 * which engine answered, on failure too (e->engine).
 * request_id goes into the log lines. Returns 0 with out filled (the caller frees it with
 * engine_out_free), or -1 with e filled (a model error, a limit, or an internal failure;
 * e->log owned by e). The caller holds a render slot.
 */
int engine_render(const struct engine_env *env, const struct req_render *r,
    const char *request_id, struct engine_out *out, struct err *e);

/*
 * The engine for r and why: the one asked for, else WASM when it exports the format and is
 * up, else the CLI. Returns "wasm" or "cli" and points *why at a static reason.
 */
const char *engine_choose(const struct engine_env *env, const struct req_render *r,
    const char **why);

/* The identity of engine ("wasm" or "cli") in cache keys: name, version, backend. */
const char *engine_id(const struct engine_env *env, const char *engine);

/*
 * For the engines: the end of a failed render's log an error answer carries (at most 8 KiB,
 * with a note of what was dropped, dropped bytes lost already included). Caller frees.
 */
char *engine_log_tail(const char *log, size_t dropped);

/* Frees out's data and summary, keeping the rest. */
void engine_out_free_data(struct engine_out *out);

/* Frees what out owns and zeroes it; out may be zeroed or already freed. */
void engine_out_free(struct engine_out *out);

#endif

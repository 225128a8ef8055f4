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
};

/* A finished render. Free what it owns with engine_out_free. */
struct engine_out {
	unsigned char *data;       /* the result, owned */
	size_t len;
	double seconds;            /* the renderer's wall time */
	char summary[4096];        /* OpenSCAD's messages a user reads (X-Render-Log) */
	const char *engine;        /* which engine made it ("cli"); static string */
};

/*
 * Renders r with the engine chosen for it (engine_choose) and classifies the outcome.
 * request_id goes into the log lines. Returns 0 with out filled (the caller frees it with
 * engine_out_free), or -1 with e filled (a model error, a limit, or an internal failure;
 * e->log owned by e). The caller holds a render slot.
 */
int engine_render(const struct engine_env *env, const struct req_render *r,
    const char *request_id, struct engine_out *out, struct err *e);

/*
 * The engine for r and why, for logs: today always the OpenSCAD CLI. Pure. Returns the
 * engine's name (static string) and points *why at a static reason.
 */
const char *engine_choose(const struct engine_env *env, const struct req_render *r,
    const char **why);

/* Frees what out owns and zeroes it; out may be zeroed or already freed. */
void engine_out_free(struct engine_out *out);

#endif

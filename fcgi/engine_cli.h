/* engine_cli.h -- the OpenSCAD command-line engine: a confined subprocess per render, in a scratch directory */
#ifndef SCADSERVE_ENGINE_CLI_H
#define SCADSERVE_ENGINE_CLI_H

#include "engine.h"

/*
 * Runs the OpenSCAD CLI (env->cfg->openscad) on r in a fresh scratch directory, confined by
 * env->policy and the configured limits, and classifies what happened. 0 with out's data,
 * len, seconds and summary filled, or -1 with e filled. The scratch directory is always
 * removed.
 */
int engine_cli_render(const struct engine_env *env, const struct req_render *r,
    const char *request_id, struct engine_out *out, struct err *e);

#endif

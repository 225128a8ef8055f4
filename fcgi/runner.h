/* runner.h -- a job runner: takes queued renders from the jobs database, renders, stores, records */
#ifndef SCADSERVE_RUNNER_H
#define SCADSERVE_RUNNER_H

#include "api.h"

/*
 * Runs jobs until *app->stopping: the oldest queued render first, one at a time, in a render
 * slot. Every render is a job (POST /api/jobs, and POST /api/render's misses): the runners
 * are the only processes that render, each with its WASM helper. DELETE of a job sends this
 * process SIGUSR1, which stops its render. At start, and now and then, renders whose runner
 * died are queued again (once) or failed, and old finished jobs are pruned. Returns the
 * process's exit status.
 */
int runner_main(struct app *app);

#endif

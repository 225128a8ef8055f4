/* api.h -- the HTTP endpoints: routes one FastCGI request to its handler and answers it */
#ifndef SCADSERVE_API_H
#define SCADSERVE_API_H

#include <signal.h>

#include <fcgiapp.h>

#include "cache.h"
#include "jobs.h"
#include "config.h"
#include "probe.h"
#include "sandbox.h"

/* What every request needs; owned by main. */
struct app {
	struct config cfg;
	struct probe probe;
	struct sandbox_policy policy;   /* what renderers may touch; fixed at start */
	struct cache *cache;
	struct jobs *jobs;         /* the render jobs (<state>/jobs.sqlite); NULL if it failed */
	int runner;                /* SCADSERVE_ROLE=runner: renders jobs (runner.c), no FastCGI */
	char slots_dir[1200];
	char spool_dir[1200];      /* results too big for the cache (spool.c) */
	long started;              /* time(NULL) at start */
	const volatile sig_atomic_t *stopping;  /* set by SIGTERM: a queued request stops waiting */
};

/* Answers one request completely (success or a JSON error). Never fails the process. */
void api_handle(struct app *app, FCGX_Request *rq);

#endif

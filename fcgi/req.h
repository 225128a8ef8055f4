/* req.h -- turns an HTTP request (method, path, headers, body) into a validated struct; pure, no I/O */
#ifndef SCADSERVE_REQ_H
#define SCADSERVE_REQ_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "format.h"

enum route {
	ROUTE_NONE = 0,   /* unknown path: not_found */
	ROUTE_RENDER,     /* /api/render */
	ROUTE_MODEL,      /* /api/models/{key} */
	ROUTE_HEALTH,     /* /api/health */
	ROUTE_METRICS,    /* /api/metrics */
	ROUTE_JOBS,       /* POST /api/jobs */
	ROUTE_JOB,        /* GET, HEAD, DELETE /api/jobs/{id} */
	ROUTE_WAIT,       /* GET /_scadserve/wait/{id}: nginx's own, for a render that missed */
	ROUTE__MAX
};

/* A companion file the model reads, by relative name. */
struct req_file {
	char *name;              /* validated relative path, owned */
	unsigned char *data;     /* decoded content, owned */
	size_t len;
};

/* Which engine a request asks for ("engine" in JSON, engine= in the query). */
enum req_engine {
	REQ_ENGINE_AUTO = 0,     /* the server chooses: WASM, the CLI where WASM cannot */
	REQ_ENGINE_WASM,         /* OpenSCAD 2025 WebAssembly only: no fallback */
	REQ_ENGINE_CLI           /* the OpenSCAD command line only */
};

/* A validated render request. Everything here is owned by it: free with req_render_free. */
struct req_render {
	char *source;                  /* UTF-8, no NUL */
	size_t source_len;
	char *params;                  /* canonical JSON object text (sorted keys, compact) */
	json_t *param_obj;             /* the same, as jansson object (reference owned) */
	const struct format *format;
	struct req_file *files;        /* sorted by name */
	size_t nfiles;
	double timeout;                /* seconds asked for; 0 = the server's default */
	enum req_engine engine;        /* asked for; AUTO unless the client chose */
};

/* Limits req_parse_render enforces. */
struct req_limits {
	size_t body_max;           /* bytes */
	double timeout_max;        /* seconds */
	size_t files_max;          /* number of companion files */
};

/*
 * Matches method and path (without query string) against the routes.
 * For ROUTE_MODEL, copies the key (64 hex) into key (65 bytes); for ROUTE_JOB and ROUTE_WAIT, the job's id.
 * Returns the route, or ROUTE_NONE with e filled (not_found or method_not_allowed).
 */
enum route req_route(const char *method, const char *path, char key[65], struct err *e);

/*
 * Parses a render request body. content_type may be NULL; query is the raw query string
 * (may be NULL) and may carry format=, timeout= and engine=. On success returns 0 and fills r,
 * which the caller frees with req_render_free. On failure returns -1, fills e and leaves
 * r empty.
 */
int req_parse_render(const char *content_type, const char *query, const char *body,
    size_t len, const struct req_limits *lim, struct req_render *r, struct err *e);

/* Frees what r owns; r may be zeroed or partly filled. */
void req_render_free(struct req_render *r);

/*
 * 1 if name is an acceptable companion file name: relative, '/'-separated, no "." or ".."
 * components, no empty component, printable, at most 255 bytes. Pure.
 */
int req_file_name_ok(const char *name);

/*
 * 1 if the If-None-Match header value matches etag (a quoted string), per RFC 9110 weak
 * comparison, including "*".
 */
int req_etag_match(const char *if_none_match, const char *etag);

#endif

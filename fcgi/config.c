/* config.c -- the server's settings, read from SCADSERVE_* environment variables */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "text.h"

#define CACHE_MAX_MAX (1ULL << 40)  /* 1T: SQLite's own ceiling with 4 KiB pages is 16T */

/* A size as the settings write it: "64K", "1G", or plain bytes. */
static void
size_text(uint64_t v, char *out, size_t outlen)
{
	if (v >= (1ULL << 30) && v % (1ULL << 30) == 0)
		snprintf(out, outlen, "%lluG", (unsigned long long)(v >> 30));
	else if (v >= (1ULL << 20) && v % (1ULL << 20) == 0)
		snprintf(out, outlen, "%lluM", (unsigned long long)(v >> 20));
	else if (v >= (1ULL << 10) && v % (1ULL << 10) == 0)
		snprintf(out, outlen, "%lluK", (unsigned long long)(v >> 10));
	else
		snprintf(out, outlen, "%llu", (unsigned long long)v);
}

/*
 * Reads a size in bytes (bytes = 1) or a count of at most max; keeps *out when unset. The
 * bounds keep every value clear of the int and size_t arithmetic it ends up in (FastCGI
 * and SQLite lengths are ints), and a slip of a few zeros from making a limit that is none.
 */
static int
get_bounded(const char *(*get)(const char *), const char *name, uint64_t *out, uint64_t max,
    int bytes, char *err, size_t errlen)
{
	const char *v = get(name);
	uint64_t n;
	char lim[32];

	if (v == NULL || v[0] == '\0')
		return 0;
	if (text_parse_size(v, &n) != 0 || n == 0) {
		snprintf(err, errlen, "%s=%s: expected a positive %s", name, v,
		    bytes ? "size such as 8M or 1G" : "number");
		return -1;
	}
	if (n > max) {
		if (bytes)
			size_text(max, lim, sizeof(lim));
		else
			snprintf(lim, sizeof(lim), "%llu", (unsigned long long)max);
		snprintf(err, errlen, "%s=%s: at most %s", name, v, lim);
		return -1;
	}
	*out = n;
	return 0;
}

static int
get_size(const char *(*get)(const char *), const char *name, uint64_t *out, uint64_t max,
    char *err, size_t errlen)
{
	return get_bounded(get, name, out, max, 1, err, errlen);
}

static int
get_count(const char *(*get)(const char *), const char *name, uint64_t *out, uint64_t max,
    char *err, size_t errlen)
{
	return get_bounded(get, name, out, max, 0, err, errlen);
}

static int
get_seconds(const char *(*get)(const char *), const char *name, double *out, char *err,
    size_t errlen)
{
	const char *v = get(name);

	if (v == NULL || v[0] == '\0')
		return 0;
	if (text_parse_seconds(v, out) == 0)
		return 0;
	snprintf(err, errlen, "%s=%s: expected a positive number of seconds", name, v);
	return -1;
}

static int
get_path(const char *(*get)(const char *), const char *name, char *out, size_t outlen,
    const char *def, char *err, size_t errlen)
{
	const char *v = get(name);

	if (v == NULL || v[0] == '\0')
		v = def;
	if ((size_t)snprintf(out, outlen, "%s", v) >= outlen) {
		snprintf(err, errlen, "%s: path too long", name);
		return -1;
	}
	return 0;
}

int
config_parse(struct config *c, const char *(*get)(const char *), long nproc, char *err,
    size_t errlen)
{
	char def[1100];
	uint64_t slots = nproc > 0 ? (uint64_t)nproc : 1, cpu = 0, text = 0, entry = 0;
	const char *v;

	memset(c, 0, sizeof(*c));
	c->cache_max = 1ULL << 30;
	c->body_max = 8ULL << 20;
	c->timeout = 30;
	c->memory_max = 2ULL << 30;
	c->output_max = 64ULL << 20;
	c->log_max = 64ULL << 10;
	c->files_max = 64;
	c->nproc_max = 512;
	c->queue_max = 16;
	c->queue_wait = 30;
	c->log_level = LOG_INFO;
	c->wasm_memory = 4ULL << 30;
	c->wasm_recycle = 256ULL << 20;
	c->wasm_start_max = 20;
	if (get_path(get, "SCADSERVE_OPENSCAD", c->openscad, sizeof(c->openscad),
	    "/usr/bin/openscad", err, errlen) ||
	    get_path(get, "SCADSERVE_STATE_DIR", c->state_dir, sizeof(c->state_dir), "var",
	    err, errlen))
		return -1;
	if (text_printf(def, sizeof(def), "%s/cache.sqlite", c->state_dir))
		goto long_state;
	if (get_path(get, "SCADSERVE_CACHE", c->cache_path, sizeof(c->cache_path), def, err,
	    errlen))
		return -1;
	if (text_printf(def, sizeof(def), "%s/tmp", c->state_dir))
		goto long_state;
	if (get_path(get, "SCADSERVE_TMPDIR", c->tmp_dir, sizeof(c->tmp_dir), def, err, errlen))
		return -1;
	if (get_path(get, "SCADSERVE_LOG_FILE", c->log_file, sizeof(c->log_file), "", err,
	    errlen) ||
	    get_path(get, "SCADSERVE_NODE", c->node, sizeof(c->node), "/usr/bin/node", err,
	    errlen) ||
	    get_path(get, "SCADSERVE_WASM_HELPER", c->wasm_helper, sizeof(c->wasm_helper), "",
	    err, errlen) ||
	    get_path(get, "SCADSERVE_WASM_PACKAGE", c->wasm_package, sizeof(c->wasm_package), "",
	    err, errlen))
		return -1;
	if (get_size(get, "SCADSERVE_CACHE_MAX", &c->cache_max, CACHE_MAX_MAX, err, errlen) ||
	    get_size(get, "SCADSERVE_BODY_MAX", &c->body_max, 1ULL << 30, err, errlen) ||
	    get_seconds(get, "SCADSERVE_TIMEOUT", &c->timeout, err, errlen) ||
	    get_count(get, "SCADSERVE_CPU_MAX", &cpu, 7 * 86400, err, errlen) ||
	    get_size(get, "SCADSERVE_MEMORY_MAX", &c->memory_max, 1ULL << 40, err, errlen) ||
	    get_size(get, "SCADSERVE_OUTPUT_MAX", &c->output_max, 1ULL << 30, err, errlen) ||
	    get_size(get, "SCADSERVE_TEXT_OUTPUT_MAX", &text, 1ULL << 30, err, errlen) ||
	    get_size(get, "SCADSERVE_CACHE_ENTRY_MAX", &entry, 512ULL << 20, err, errlen) ||
	    get_size(get, "SCADSERVE_LOG_MAX", &c->log_max, 64ULL << 20, err, errlen) ||
	    get_count(get, "SCADSERVE_FILES_MAX", &c->files_max, 4096, err, errlen) ||
	    get_count(get, "SCADSERVE_NPROC_MAX", &c->nproc_max, 65536, err, errlen) ||
	    get_count(get, "SCADSERVE_RENDER_SLOTS", &slots, 1024, err, errlen) ||
	    get_count(get, "SCADSERVE_QUEUE_MAX", &c->queue_max, 1024, err, errlen) ||
	    get_seconds(get, "SCADSERVE_QUEUE_WAIT", &c->queue_wait, err, errlen) ||
	    get_size(get, "SCADSERVE_WASM_MEMORY", &c->wasm_memory, 1ULL << 40, err, errlen) ||
	    get_size(get, "SCADSERVE_WASM_RECYCLE", &c->wasm_recycle, 1ULL << 40, err, errlen) ||
	    get_seconds(get, "SCADSERVE_WASM_START_MAX", &c->wasm_start_max, err, errlen))
		return -1;
	if (c->wasm_memory < (2ULL << 30)) {
		/* Below 2 GiB V8 cannot reserve the 1 GiB heap the helper's flags ask for. */
		snprintf(err, errlen, "SCADSERVE_WASM_MEMORY=%s: at least 2G",
		    get("SCADSERVE_WASM_MEMORY"));
		return -1;
	}
	if (c->timeout > 86400 || c->queue_wait > 86400 || c->wasm_start_max > 86400) {
		snprintf(err, errlen, "%s: at most 86400 seconds", c->timeout > 86400 ?
		    "SCADSERVE_TIMEOUT" : c->queue_wait > 86400 ? "SCADSERVE_QUEUE_WAIT" :
		    "SCADSERVE_WASM_START_MAX");
		return -1;
	}
	c->cpu_max = cpu ? cpu : (uint64_t)c->timeout + 5;
	/*
	 * A few bytes of source can ask for megabytes of echo, CSG tree or AST at almost no
	 * cost; geometry at least costs its render time. Text formats get a smaller limit.
	 */
	if (text > c->output_max) {
		snprintf(err, errlen, "SCADSERVE_TEXT_OUTPUT_MAX=%s: at most SCADSERVE_OUTPUT_MAX",
		    get("SCADSERVE_TEXT_OUTPUT_MAX"));
		return -1;
	}
	c->text_output_max = text ? text : c->output_max < (1ULL << 20) ? c->output_max :
	    1ULL << 20;
	/* The largest result stored: one render may evict at most this much of the cache. */
	if (entry > c->cache_max) {
		snprintf(err, errlen, "SCADSERVE_CACHE_ENTRY_MAX=%s: at most SCADSERVE_CACHE_MAX",
		    get("SCADSERVE_CACHE_ENTRY_MAX"));
		return -1;
	}
	c->cache_entry_max = entry ? entry : c->cache_max / 16 < (16ULL << 20) ?
	    c->cache_max / 16 : 16ULL << 20;
	c->slots = (int)slots;
	v = get("SCADSERVE_BACKEND");
	if (v == NULL || v[0] == '\0')
		v = "auto";
	if (strcmp(v, "auto") && strcmp(v, "cgal") && strcmp(v, "manifold")) {
		snprintf(err, errlen, "SCADSERVE_BACKEND=%s: expected auto, cgal or manifold", v);
		return -1;
	}
	snprintf(c->backend, sizeof(c->backend), "%s", v);
	v = get("SCADSERVE_ENGINE");
	if (v == NULL || v[0] == '\0')
		v = "auto";
	if (strcmp(v, "auto") && strcmp(v, "cli")) {
		snprintf(err, errlen, "SCADSERVE_ENGINE=%s: expected auto or cli", v);
		return -1;
	}
	snprintf(c->engine, sizeof(c->engine), "%s", v);
	v = get("SCADSERVE_LOG_LEVEL");
	if (v != NULL && v[0] != '\0') {
		if (strcmp(v, "error") == 0) c->log_level = LOG_ERROR;
		else if (strcmp(v, "warn") == 0) c->log_level = LOG_WARN;
		else if (strcmp(v, "info") == 0) c->log_level = LOG_INFO;
		else if (strcmp(v, "debug") == 0) c->log_level = LOG_DEBUG;
		else {
			snprintf(err, errlen, "SCADSERVE_LOG_LEVEL=%s: expected error, warn, info "
			    "or debug", v);
			return -1;
		}
	}
	return 0;
long_state:
	/* A default path built from the state folder did not fit. */
	snprintf(err, errlen, "SCADSERVE_STATE_DIR: path too long");
	return -1;
}

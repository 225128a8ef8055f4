/* engine.c -- renders one validated request with an engine and says what came of it; knows nothing of HTTP */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine_cli.h"
#include "engine_wasm.h"
#include "log.h"
#include "metrics.h"

#define ERROR_LOG_MAX 8192      /* bytes of OpenSCAD's log an error answer carries */

const char *
engine_choose(const struct engine_env *env, const struct req_render *r, const char **why)
{
	(void)env;
	if (r->engine == REQ_ENGINE_CLI) {
		*why = "asked for";
		return "cli";
	}
	if (r->engine == REQ_ENGINE_WASM) {
		*why = "asked for";
		return "wasm";
	}
	if (!engine_wasm_has_format(r->format)) {
		*why = "the WASM engine does not export this format";
		return "cli";
	}
	if (!engine_wasm_usable(r->format)) {
		*why = "the WASM engine is not available";
		return "cli";
	}
	*why = "the default engine";
	return "wasm";
}

const char *
engine_id(const struct engine_env *env, const char *engine)
{
	return strcmp(engine, "wasm") == 0 ? engine_wasm_id() : env->probe->id;
}

/* Renders on the CLI, counting it. */
static int
render_cli(const struct engine_env *env, const struct req_render *r, const char *request_id,
    struct engine_out *out, struct err *e)
{
	int rc;

	out->engine = "cli";
	rc = engine_cli_render(env, r, request_id, out, e);
	metrics_add(M_ENGINE_CLI, 1);
	e->engine = "cli";
	return rc;
}

int
engine_render(const struct engine_env *env, const struct req_render *r,
    const char *request_id, struct engine_out *out, struct err *e)
{
	const char *why, *engine;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	engine = engine_choose(env, r, &why);
	if (strcmp(engine, "wasm") == 0) {
		if (r->engine == REQ_ENGINE_WASM && !engine_wasm_has_format(r->format)) {
			err_set(e, ERR_BAD_REQUEST, "the WASM engine cannot export %s: ask for "
			    "engine auto or cli", r->format->name);
			return -1;
		}
		if (r->engine == REQ_ENGINE_WASM && !engine_wasm_usable(r->format)) {
			err_set(e, ERR_ENGINE_UNAVAILABLE, "the WASM engine is not available now "
			    "(/api/health says why): ask for engine auto or cli");
			e->retry_after = 30;
			return -1;
		}
		out->engine = "wasm";
		switch (engine_wasm_render(env, r, request_id, out, e, &why)) {
		case WASM_DONE:
			rc = 0;
			break;
		case WASM_FAILED:
			e->engine = "wasm";
			rc = -1;
			break;
		case WASM_FALLBACK:
			if (r->engine == REQ_ENGINE_WASM) {
				/* No other engine was asked for: say what happened. */
				err_set(e, ERR_RENDERER_CRASHED, "%s (the CLI engine may render it: "
				    "ask for engine auto or cli)", why);
				e->engine = "wasm";
				rc = -1;
				break;
			}
			metrics_add(M_ENGINE_FALLBACKS, 1);
			log_msg(LOG_INFO, request_id, "the CLI renders it: %s", why);
			out->fallback = why;
			engine_out_free_data(out);
			rc = render_cli(env, r, request_id, out, e);
			out->fallback = why;
			goto done;
		}
		metrics_add(M_ENGINE_WASM, 1);
	} else
		rc = render_cli(env, r, request_id, out, e);
done:
	out->engine_id = engine_id(env, out->engine);
	if (out->seconds > 0)
		metrics_render(out->seconds);
	return rc;
}

char *
engine_log_tail(const char *log, size_t dropped)
{
	/*
	 * The last lines matter most: at most ERROR_LOG_MAX bytes, a note of what went before
	 * them (under 64 bytes) included, never starting mid-character.
	 */
	size_t n = strlen(log), keep = n;
	const char *tail;
	char *s = NULL;
	int cut = n > ERROR_LOG_MAX || dropped > 0;

	if (cut && keep > ERROR_LOG_MAX - 64)
		keep = ERROR_LOG_MAX - 64;
	tail = log + n - keep;
	while (keep > 0 && (*tail & 0xc0) == 0x80) {
		tail++;
		keep--;
	}
	if (!cut && keep == n)
		return strdup(tail);
	if (asprintf(&s, "[... %zu bytes of log dropped ...]\n%s", (n - keep) + dropped,
	    tail) < 0)
		return NULL;
	return s;
}

void
engine_out_free_data(struct engine_out *out)
{
	free(out->data);
	out->data = NULL;
	out->len = 0;
	out->summary[0] = '\0';
}

void
engine_out_free(struct engine_out *out)
{
	if (out == NULL)
		return;
	free(out->data);
	memset(out, 0, sizeof(*out));
}

/* engine.c -- renders one validated request with an engine and says what came of it; knows nothing of HTTP */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine_cli.h"
#include "metrics.h"

const char *
engine_choose(const struct engine_env *env, const struct req_render *r, const char **why)
{
	(void)env;
	(void)r;
	*why = "the OpenSCAD CLI is the only engine";
	return "cli";
}

int
engine_render(const struct engine_env *env, const struct req_render *r,
    const char *request_id, struct engine_out *out, struct err *e)
{
	const char *why;
	int rc;

	memset(out, 0, sizeof(*out));
	out->engine = engine_choose(env, r, &why);
	rc = engine_cli_render(env, r, request_id, out, e);
	if (out->seconds > 0)
		metrics_render(out->seconds);
	return rc;
}

void
engine_out_free(struct engine_out *out)
{
	if (out == NULL)
		return;
	free(out->data);
	memset(out, 0, sizeof(*out));
}

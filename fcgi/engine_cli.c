/* engine_cli.c -- the OpenSCAD command-line engine: a confined subprocess per render, in a scratch directory */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "classify.h"
#include "engine_cli.h"
#include "log.h"
#include "metrics.h"
#include "redact.h"
#include "render.h"
#include "scratch.h"
#include "text.h"

/* Fills the renderer's limits for a render of r. */
static void
box_for(const struct engine_env *env, const struct req_render *r, const struct scratch *s,
    struct sandbox *box)
{
	const struct config *cfg = env->cfg;

	memset(box, 0, sizeof(*box));
	box->wall_seconds = r->timeout > 0 ? r->timeout : cfg->timeout;
	box->cpu_seconds = cfg->cpu_max;
	box->address_space = cfg->memory_max;
	/* Text formats stop at their own, smaller limit (SIGXFSZ): output_too_large. */
	box->file_size = (r->format->text ? cfg->text_output_max : cfg->output_max) + 1;
	box->open_files = 256;
	box->processes = cfg->nproc_max;
	box->scratch = s->dir;
	box->policy = env->policy;
}

int
engine_cli_render(const struct engine_env *env, const struct req_render *r,
    const char *request_id, struct engine_out *out, struct err *e)
{
	const struct config *cfg = env->cfg;
	unsigned char **data = &out->data;
	struct scratch s;
	struct sandbox box;
	struct render_result res;
	struct classify_in ci;
	char outpath[1400], params[1400], home[1300], tmpdir[1300], libpath[4200];
	char *argv[16], *envp[8], *clean = NULL;
	long long size = -1;
	int argc = 0, rc = -1;
	size_t i;

	memset(&res, 0, sizeof(res));
	out->data = NULL;
	if (scratch_new(&s, cfg->tmp_dir)) {
		err_set(e, ERR_INTERNAL, "cannot make a scratch directory");
		return -1;
	}
	if (scratch_write(&s, "model.scad", r->source, r->source_len))
		goto internal;
	for (i = 0; i < r->nfiles; i++)
		if (scratch_write(&s, r->files[i].name, r->files[i].data, r->files[i].len))
			goto internal;
	if (text_printf(outpath, sizeof(outpath), "%s/model.%s", s.out, r->format->ext) ||
	    text_printf(params, sizeof(params), "%s/params.json", s.dir))
		goto internal;
	argv[argc++] = (char *)cfg->openscad;
	argv[argc++] = "--export-format";
	argv[argc++] = (char *)r->format->export_arg;
	argv[argc++] = "-o";
	argv[argc++] = outpath;
	if (json_object_size(r->param_obj) > 0) {
		if (scratch_write_params(&s, r->param_obj))
			goto internal;
		argv[argc++] = "-p";
		argv[argc++] = params;
		argv[argc++] = "-P";
		argv[argc++] = "scadserve";
	}
	if (strcmp(env->probe->backend, "manifold") == 0)
		argv[argc++] = "--backend=manifold";
	argv[argc++] = "model.scad";
	argv[argc] = NULL;
	if (text_printf(home, sizeof(home), "HOME=%s", s.dir) ||
	    text_printf(tmpdir, sizeof(tmpdir), "TMPDIR=%s", s.dir))
		goto internal;
	envp[0] = "PATH=/usr/bin:/bin";
	envp[1] = "LANG=C.UTF-8";
	envp[2] = home;
	envp[3] = tmpdir;
	envp[4] = NULL;
	if (env->policy->library_path[0] != '\0') {
		snprintf(libpath, sizeof(libpath), "OPENSCADPATH=%s", env->policy->library_path);
		envp[4] = libpath;
		envp[5] = NULL;
	}
	box_for(env, r, &s, &box);
	if (render_run(cfg->openscad, argv, envp, s.src, &box, cfg->log_max, env->watch_fd, &res)) {
		err_set(e, ERR_INTERNAL, "the renderer could not be started");
		log_msg(LOG_ERROR, request_id, "cannot run %s: %s", cfg->openscad,
		    res.exec_errno ? strerror(res.exec_errno) : "failed");
		goto out;
	}
	out->seconds = res.seconds;
	if (res.cancelled) {
		out->cancelled = 1;
		err_set(e, ERR_INTERNAL, "the client went away: the render was stopped");
		log_msg(LOG_INFO, request_id, "the client went away after %.3f s: render stopped",
		    res.seconds);
		goto out;
	}
	size = scratch_read(outpath, cfg->output_max, data);
	/* For echo OpenSCAD writes its messages, a failed run's error too, to the output. */
	if (strcmp(r->format->name, "echo") == 0 && size > 0 && (res.signal || res.status)) {
		size_t n = res.log ? strlen(res.log) : 0;
		if ((clean = malloc(n + (size_t)size + 1)) == NULL)
			goto internal;
		memcpy(clean, res.log ? res.log : "", n);
		memcpy(clean + n, *data, (size_t)size);
		clean[n + (size_t)size] = '\0';
		free(res.log);
		res.log = clean;
		clean = NULL;
	}
	if ((clean = classify_clean_log(res.log, s.dir)) == NULL)
		goto internal;
	free(res.log);
	res.log = clean;
	clean = NULL;
	/* A file the sandbox refused must read like one that is not there. */
	redact_denials(res.log);
	memset(&ci, 0, sizeof(ci));
	ci.run = &res;
	ci.format = r->format;
	ci.output_size = size == -2 ? (long long)cfg->output_max + 1 : size;
	ci.output_max = box.file_size - 1;	/* the limit for this format */
	ci.timeout = box.wall_seconds;
	ci.memory_max = cfg->memory_max;
	if (classify_run(&ci, e) != ERR_NONE) {
		e->log = engine_log_tail(res.log, res.log_dropped);
		free(*data);
		*data = NULL;
		log_msg(LOG_INFO, request_id, "render failed after %.3f s: %s: %s", res.seconds,
		    err_type_name(e->type), e->message);
		goto out;
	}
	out->len = (size_t)size;
	classify_log_summary(res.log, out->summary, sizeof(out->summary));
	metrics_add(M_RENDER_WARNINGS, classify_log_warnings(res.log));
	log_msg(LOG_INFO, request_id, "rendered %zu bytes of %s in %.3f s", out->len,
	    r->format->name, res.seconds);
	rc = 0;
	goto out;
internal:
	err_set(e, ERR_INTERNAL, "cannot prepare the render");
out:
	render_result_free(&res);
	free(clean);
	scratch_remove(&s);
	return rc;
}

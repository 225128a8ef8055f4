/* probe.c -- asks the installed renderer at start what it is: version, backends, formats */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "log.h"
#include "probe.h"
#include "render.h"

void
probe_parse_version(const char *text, char *out, size_t outlen)
{
	const char *p = text ? strstr(text, "OpenSCAD version ") : NULL;
	size_t n;

	if (p == NULL) {
		snprintf(out, outlen, "unknown");
		return;
	}
	p += strlen("OpenSCAD version ");
	n = strcspn(p, " \r\n\t");
	if (n == 0 || n >= outlen) {
		snprintf(out, outlen, "unknown");
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

int
probe_parse_manifold(const char *help_text)
{
	const char *p = help_text ? strstr(help_text, "--backend") : NULL;

	return p != NULL && strstr(p, "anifold") != NULL;
}

/* Runs the renderer with one argument; returns its log (caller frees) or NULL. */
static char *
ask(const struct config *c, const struct sandbox_policy *policy, const char *arg)
{
	struct sandbox box = { 0 };
	struct render_result res;
	char *argv[] = { (char *)c->openscad, (char *)arg, NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/nonexistent", NULL };
	char *log = NULL;

	box.wall_seconds = 20;
	box.cpu_seconds = 20;
	box.address_space = c->memory_max;
	box.file_size = 1 << 20;
	box.open_files = 256;
	box.processes = c->nproc_max;
	box.scratch = NULL;	/* --version and --help write nothing */
	box.policy = policy;
	if (render_run(c->openscad, argv, envp, "/", &box, 1 << 16, -1, &res) == 0) {
		log = res.log;
		res.log = NULL;
	} else
		log_msg(LOG_ERROR, NULL, "cannot run %s %s: %s", c->openscad, arg,
		    res.exec_errno ? strerror(res.exec_errno) : "failed");
	render_result_free(&res);
	return log;
}

int
probe_run(const struct config *c, const struct sandbox_policy *policy, struct probe *p)
{
	char *version = ask(c, policy, "--version"), *help = NULL;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	probe_parse_version(version, p->version, sizeof(p->version));
	if (version != NULL && (help = ask(c, policy, "--help")) != NULL)
		rc = 0;
	p->has_manifold = probe_parse_manifold(help);
	if (strcmp(c->backend, "manifold") == 0 ||
	    (strcmp(c->backend, "auto") == 0 && p->has_manifold))
		snprintf(p->backend, sizeof(p->backend), "manifold");
	else
		snprintf(p->backend, sizeof(p->backend), "cgal");
	snprintf(p->id, sizeof(p->id), "openscad %s %s", p->version, p->backend);
	p->formats = format_probe(help);
	free(version);
	free(help);
	return rc;
}

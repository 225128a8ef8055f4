/* probe.h -- asks the installed renderer at start what it is: version, backends, formats */
#ifndef SCADSERVE_PROBE_H
#define SCADSERVE_PROBE_H

#include <stddef.h>

#include "config.h"
#include "sandbox.h"

struct probe {
	char version[64];          /* "2021.01", or "unknown" */
	int has_manifold;          /* 1 if it takes --backend=manifold */
	char backend[16];          /* the backend we use: "cgal" or "manifold" */
	char id[128];              /* "openscad <version> <backend>": goes into every key */
	int formats;               /* number of export formats enabled */
};

/*
 * Runs `<openscad> --version` and `--help` under the usual limits and policy, and fills p, enabling
 * the export formats it lists (format_probe). Returns 0, or -1 if the renderer could
 * not be run at all (p then holds "unknown").
 */
int probe_run(const struct config *c, const struct sandbox_policy *policy, struct probe *p);

/* Pure parsers, for the tests: the version from `--version` output ("OpenSCAD version X"). */
void probe_parse_version(const char *text, char *out, size_t outlen);

/* 1 if the help text offers --backend with manifold. */
int probe_parse_manifold(const char *help_text);

#endif

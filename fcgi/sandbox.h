/* sandbox.h -- the confinement applied to the renderer in the child between fork and exec */
#ifndef SCADSERVE_SANDBOX_H
#define SCADSERVE_SANDBOX_H

#include <stdint.h>

/* What the child may use. */
struct sandbox {
	double wall_seconds;      /* enforced by the parent (render_run) */
	uint64_t cpu_seconds;     /* RLIMIT_CPU */
	uint64_t address_space;   /* RLIMIT_AS, bytes */
	uint64_t file_size;       /* RLIMIT_FSIZE, bytes: the output limit plus one */
	uint64_t open_files;      /* RLIMIT_NOFILE */
	uint64_t processes;       /* RLIMIT_NPROC (per user; ignored for root) */
	const char *scratch;      /* the only directory it may write (for the file-access sandbox) */
};

/*
 * In the child, after fork and before execve: no new privileges, no core dumps, the
 * rlimits above, and (where the file-access sandbox is built in) the file-access rules.
 * Async-signal-safe: no allocation. Returns 0, or an errno value.
 */
int sandbox_child(const struct sandbox *box);

/* A short description of the confinement in force, for /api/health. Static string. */
const char *sandbox_describe(void);

#endif

/* sandbox.h -- the confinement applied to a renderer between fork and exec: rlimits, Landlock, seccomp */
#ifndef SCADSERVE_SANDBOX_H
#define SCADSERVE_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#define SANDBOX_PATHS_MAX 48
#define SANDBOX_PATH_LEN 1024

/*
 * What a renderer may touch besides its scratch directory, and which confinement is in force.
 * Filled once at start (sandbox_configure, then sandbox_probe) and read by every render.
 */
struct sandbox_policy {
	char read[SANDBOX_PATHS_MAX][SANDBOX_PATH_LEN];  /* read-only hierarchies (or files) */
	int nread;
	char exec[SANDBOX_PATHS_MAX][SANDBOX_PATH_LEN];  /* may be executed (and read) */
	int nexec;
	char library_path[4096];   /* SCADSERVE_LIBRARY_PATH: OPENSCADPATH for the renderer */
	int abi_max;               /* SCADSERVE_LANDLOCK_ABI_MAX: -1 = no cap, 0 = do not use */
	int unconfined;            /* SCADSERVE_UNCONFINED=1: render even without Landlock */
	int kernel_abi;            /* the Landlock ABI the kernel offers, 0 if none */
	int landlock_abi;          /* the ABI in force: min(kernel, cap); 0 = no Landlock */
	int seccomp;               /* 1: the seccomp filter is applied */
	int refuse;                /* 1: renders are refused (fail closed); why says why */
	char why[256];             /* "" or why Landlock is not in force */
};

/* What one renderer may use. */
struct sandbox {
	double wall_seconds;      /* enforced by the parent (render_run) */
	uint64_t cpu_seconds;     /* RLIMIT_CPU (RLIM_INFINITY: none) */
	uint64_t address_space;   /* RLIMIT_AS, bytes */
	uint64_t file_size;       /* RLIMIT_FSIZE, bytes: the output limit plus one */
	uint64_t open_files;      /* RLIMIT_NOFILE */
	uint64_t processes;       /* RLIMIT_NPROC (per user; ignored for root) */
	const char *scratch;      /* the only directory it may write; NULL = none */
	const struct sandbox_policy *policy;  /* Landlock and seccomp; NULL = rlimits only */
};

/*
 * Fills p from the variables get() returns (SCADSERVE_LIBRARY_PATH, SCADSERVE_SANDBOX_READ,
 * SCADSERVE_SANDBOX_EXEC, SCADSERVE_LANDLOCK_ABI_MAX, SCADSERVE_UNCONFINED) and the built-in
 * list of system folders a renderer needs (libraries, fonts, fontconfig, OpenSCAD's own
 * folder beside renderer). Pure. 0, or -1 with a message naming the variable in err.
 */
int sandbox_configure(struct sandbox_policy *p, const char *(*get)(const char *),
    const char *renderer, char *err, size_t errlen);

/*
 * Probes the kernel's Landlock ABI and decides what is in force (p->landlock_abi,
 * p->refuse, p->why); adds the renderer's program interpreter (ELF PT_INTERP or a "#!"
 * line) to what may be executed. Call once at start, after sandbox_configure.
 */
void sandbox_probe(struct sandbox_policy *p, const char *renderer);

/*
 * In the child, after fork and before execve: no new privileges, no core dumps, the
 * rlimits, then Landlock (read the policy's folders, execute the renderer, write only
 * box->scratch) and the seccomp filter. The filter lets the process signal only itself,
 * so call it in the process that will exec. Single-threaded callers
 * only (libseccomp allocates). Returns 0, or an errno value (the caller must not exec then).
 */
int sandbox_child(const struct sandbox *box);

/*
 * Makes dst the policy for another program under the same confinement: src's folders and
 * settings plus the folders (or files) in extra (NULL-terminated; "" entries skipped), with
 * program and its interpreter as all it may execute. Returns 0, or -1 if a list is full.
 */
int sandbox_derive(struct sandbox_policy *dst, const struct sandbox_policy *src,
    const char *program, const char *const extra[]);

/* A short description of the confinement in force, for logs ("landlock-7+seccomp+rlimits"). */
const char *sandbox_describe(const struct sandbox_policy *p);

/*
 * Appends the absolute paths of a colon-separated list to out[*n], up to max in all.
 * Pure. 0, or -1 if one is relative, too long, or there are too many.
 */
int sandbox_split_paths(const char *list, char out[][SANDBOX_PATH_LEN], int max, int *n);

#endif

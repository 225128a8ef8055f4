/* render.h -- runs the renderer as a confined subprocess with hard limits, and always reaps it */
#ifndef SCADSERVE_RENDER_H
#define SCADSERVE_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox.h"

/* What one run of the renderer did. */
struct render_result {
	int exited;               /* 1 if it exited (status valid), 0 if a signal killed it */
	int status;               /* exit status */
	int signal;               /* terminating signal, 0 if none */
	int timed_out;            /* 1 if we killed it at the wall-clock deadline */
	int exec_errno;           /* errno of a failed execve, 0 if it started */
	char *log;                /* stdout+stderr, at most log_max bytes kept (head and tail), owned */
	size_t log_len;
	size_t log_dropped;       /* bytes of log not kept */
	double seconds;           /* wall time */
};

/*
 * Runs prog with argv and envp in directory cwd: new session and process group,
 * stdin /dev/null, stdout and stderr into one pipe, every other descriptor closed,
 * the confinement in box (rlimits, then the sandbox). Kills the whole group at
 * box->wall_seconds or when it exits, kills and reaps any process it left behind,
 * and keeps at most log_max bytes of its output. Returns 0 with res filled (free
 * with render_result_free), or -1 if it could not be started at all (res->exec_errno
 * set when execve itself failed).
 */
int render_run(const char *prog, char *const argv[], char *const envp[], const char *cwd,
    const struct sandbox *box, size_t log_max, struct render_result *res);

void render_result_free(struct render_result *res);

/*
 * Makes this process the reaper of orphans its renderers leave behind, so that they can
 * be found and killed. Call once at start. 0 or -1.
 */
int render_init(void);

#endif

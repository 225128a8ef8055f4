/* render.h -- runs the renderer as a confined subprocess with hard limits, and always reaps it */
#ifndef SCADSERVE_RENDER_H
#define SCADSERVE_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox.h"

/* What one run of the renderer did. */
struct render_result {
	int exited;               /* 1 if it exited (status valid), 0 if a signal killed it */
	int status;               /* exit status */
	int signal;               /* terminating signal, 0 if none */
	int timed_out;            /* 1 if we killed it at the wall-clock deadline */
	int cancelled;            /* 1 if we killed it because watch_fd hung up */
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
 * and keeps at most log_max bytes of its output. When watch_fd (>= 0; -1 for none) hangs up,
 * as the client's connection does when the client goes away, it kills the group at once
 * (res->cancelled). Returns 0 with res filled (free with render_result_free), or -1 if it
 * could not be started at all (res->exec_errno set when execve itself failed).
 */
int render_run(const char *prog, char *const argv[], char *const envp[], const char *cwd,
    const struct sandbox *box, size_t log_max, int watch_fd, struct render_result *res);

/* 1 if fd (a connected socket) has hung up: its peer closed it. Does not wait or read. */
int render_hung_up(int fd);

void render_result_free(struct render_result *res);

/* A long-lived confined child and its pipes (non-blocking, close-on-exec, ours). */
struct render_proc {
	pid_t pid;                /* -1 when none */
	int in;                   /* its stdin */
	int out;                  /* its stdout */
	int log;                  /* its stderr */
};

/*
 * Starts prog as render_run does (own session, killed with this process, confined by box;
 * box->wall_seconds is not used: the caller enforces its own deadlines), but with pipes
 * for stdin, stdout and stderr, and leaves it running. Such a child is not a stray: renders
 * leave it alone. Returns 0 with p filled (stop it with render_kill), or -1 (*exec_errno
 * set when execve or the sandbox failed).
 */
int render_spawn(const char *prog, char *const argv[], char *const envp[], const char *cwd,
    const struct sandbox *box, struct render_proc *p, int *exec_errno);

/*
 * Closes p's pipes, kills its whole process group and reaps it. Returns its wait status
 * (0 if there was no process). p may be stopped already.
 */
int render_kill(struct render_proc *p);

/* 1 if p's process has exited (then reaped, its pipes closed, p->pid -1), else 0. */
int render_exited(struct render_proc *p);

/*
 * Makes this process the reaper of orphans its renderers leave behind, so that they can
 * be found and killed. Call once at start. 0 or -1.
 */
int render_init(void);

#endif

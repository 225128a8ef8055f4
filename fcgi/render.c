/* render.c -- runs the renderer as a confined subprocess with hard limits, and always reaps it */
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "render.h"

/* Keeps the first head_max bytes and the last tail_max bytes of a stream. */
struct logbuf {
	char *head;
	size_t head_len, head_max;
	char *tail;                /* ring */
	size_t tail_pos, tail_len, tail_max;
	size_t dropped;
};

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
logbuf_add(struct logbuf *lb, const char *p, size_t n)
{
	size_t take;

	take = lb->head_max - lb->head_len < n ? lb->head_max - lb->head_len : n;
	memcpy(lb->head + lb->head_len, p, take);
	lb->head_len += take;
	p += take;
	n -= take;
	for (; n > 0; p++, n--) {
		if (lb->tail_len == lb->tail_max)
			lb->dropped++;
		else
			lb->tail_len++;
		lb->tail[lb->tail_pos] = *p;
		lb->tail_pos = (lb->tail_pos + 1) % lb->tail_max;
	}
}

/* Joins head and tail into one NUL-terminated string. Caller frees. */
static char *
logbuf_join(const struct logbuf *lb, size_t *len)
{
	char note[96];
	int nl = 0;
	size_t i, n, start;
	char *s;

	if (lb->dropped)
		nl = snprintf(note, sizeof(note), "\n[... %zu bytes of log dropped ...]\n",
		    lb->dropped);
	n = lb->head_len + (size_t)nl + lb->tail_len;
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(s, lb->head, lb->head_len);
	memcpy(s + lb->head_len, note, (size_t)nl);
	start = (lb->tail_pos + lb->tail_max - lb->tail_len) % lb->tail_max;
	for (i = 0; i < lb->tail_len; i++)
		s[lb->head_len + (size_t)nl + i] = lb->tail[(start + i) % lb->tail_max];
	s[n] = '\0';
	*len = n;
	return s;
}

int
render_init(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
		log_msg(LOG_ERROR, NULL, "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Kills and reaps every child of this process: the renderers' leftovers, which became
 * ours as their subreaper. Repeats until none is left (a killed child's own children
 * come to us too).
 */
static void
reap_strays(void)
{
	char path[64], buf[8192];
	pid_t pids[512];
	int round;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	for (round = 0; round < 64; round++) {
		FILE *f = fopen(path, "re");
		size_t n = 0;
		int i, count = 0;
		char *p, *save = NULL;

		if (f == NULL)
			return;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		for (p = strtok_r(buf, " \n", &save); p && count < 512;
		    p = strtok_r(NULL, " \n", &save))
			if ((pids[count] = (pid_t)atoi(p)) > 0)
				kill(pids[count++], SIGKILL);
		if (count == 0)
			return;
		for (i = 0; i < count; i++)
			waitpid(pids[i], NULL, 0);
	}
}

/* In the child: set up and exec. Never returns; reports a failed exec on errfd. */
static void
child(const char *prog, char *const argv[], char *const envp[], const char *cwd,
    const struct sandbox *box, int outfd, int errfd, pid_t parent)
{
	sigset_t all;
	int fd, e, sig;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);	/* SIGPIPE and friends may be ignored in the parent */
	if (setsid() < 0)
		goto fail;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) || getppid() != parent)
		goto fail;
	if ((fd = open("/dev/null", O_RDONLY)) < 0 || dup2(fd, 0) < 0)
		goto fail;
	if (dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
		goto fail;
	/* Nothing inherited survives exec: spawn-fcgi's socket was fd 0, the cache, the pipes. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC))
		goto fail;
	if (chdir(cwd))
		goto fail;
	if ((e = sandbox_child(box)) != 0) {
		errno = e;
		goto fail;
	}
	execve(prog, argv, envp);
fail:
	e = errno;
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

int
render_run(const char *prog, char *const argv[], char *const envp[], const char *cwd,
    const struct sandbox *box, size_t log_max, struct render_result *res)
{
	struct logbuf lb;
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, pidfd = -1, rc = -1, wstatus = 0;
	int reaped = 0, out_open = 1;
	double start, deadline;
	pid_t pid = -1, parent = getpid();
	char chunk[65536];
	ssize_t n;

	memset(res, 0, sizeof(*res));
	memset(&lb, 0, sizeof(lb));
	if (log_max < 64)
		log_max = 64;
	lb.head_max = log_max / 4;
	lb.tail_max = log_max - lb.head_max;
	if ((lb.head = malloc(lb.head_max)) == NULL || (lb.tail = malloc(lb.tail_max)) == NULL)
		goto out;
	if (pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		log_msg(LOG_ERROR, NULL, "pipe: %s", strerror(errno));
		goto out;
	}
	start = now_seconds();
	deadline = start + box->wall_seconds;
	if ((pid = fork()) < 0) {
		log_msg(LOG_ERROR, NULL, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(prog, argv, envp, cwd, box, out[1], errp[1], parent);
	close(out[1]);
	close(errp[1]);
	out[1] = errp[1] = -1;
	/* Did it reach execve? A successful exec closes errp[1] and we read EOF. */
	if (read(errp[0], &res->exec_errno, sizeof(res->exec_errno)) <= 0)
		res->exec_errno = 0;
	if ((pidfd = pidfd_open(pid, 0)) < 0) {
		log_msg(LOG_ERROR, NULL, "pidfd_open: %s", strerror(errno));
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &wstatus, 0);
		reaped = 1;
		goto out;
	}
	while (out_open || !reaped) {
		struct pollfd pfd[2];
		nfds_t nf = 0;
		double left = deadline - now_seconds();
		int timeout_ms, pr;

		if (left <= 0 && !res->timed_out && !reaped) {
			res->timed_out = 1;
			kill(-pid, SIGKILL);
		}
		timeout_ms = res->timed_out || reaped ? 1000 : (int)(left * 1000) + 1;
		if (out_open) {
			pfd[nf].fd = out[0];
			pfd[nf++].events = POLLIN;
		}
		if (!reaped) {
			pfd[nf].fd = pidfd;
			pfd[nf++].events = POLLIN;
		}
		pr = poll(pfd, nf, timeout_ms);
		if (pr < 0 && errno != EINTR) {
			log_msg(LOG_ERROR, NULL, "poll: %s", strerror(errno));
			kill(-pid, SIGKILL);
			break;
		}
		if (out_open && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = read(out[0], chunk, sizeof(chunk));
			if (n > 0)
				logbuf_add(&lb, chunk, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				out_open = 0;
		}
		if (!reaped && waitpid(pid, &wstatus, WNOHANG) == pid) {
			reaped = 1;
			/* Whatever it started dies with it: its group, then any escapee. */
			kill(-pid, SIGKILL);
			reap_strays();
		}
		if (pr == 0 && reaped && out_open) {
			/* A writer we cannot see still holds the pipe: give up on it. */
			log_msg(LOG_WARN, NULL, "renderer's output pipe still open after exit");
			out_open = 0;
		}
	}
	if (!reaped) {
		kill(-pid, SIGKILL);
		waitpid(pid, &wstatus, 0);
		reap_strays();
	}
	res->seconds = now_seconds() - start;
	if (WIFEXITED(wstatus)) {
		res->exited = 1;
		res->status = WEXITSTATUS(wstatus);
	} else if (WIFSIGNALED(wstatus))
		res->signal = WTERMSIG(wstatus);
	res->log_dropped = lb.dropped;
	if ((res->log = logbuf_join(&lb, &res->log_len)) == NULL)
		goto out;
	rc = res->exec_errno ? -1 : 0;
out:
	if (pidfd >= 0)
		close(pidfd);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	free(lb.head);
	free(lb.tail);
	return rc;
}

void
render_result_free(struct render_result *res)
{
	if (res == NULL)
		return;
	free(res->log);
	res->log = NULL;
}

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
#include "logbuf.h"
#include "render.h"

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

/* Children that live on between renders (render_spawn): reap_strays leaves them alone. */
static pid_t kept[8];

static int
is_kept(pid_t pid)
{
	size_t i;

	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (kept[i] == pid && pid > 0)
			return 1;
	return 0;
}

static void
keep(pid_t pid, int on)
{
	size_t i;

	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (on ? kept[i] == 0 : kept[i] == pid) {
			kept[i] = on ? pid : 0;
			return;
		}
}

/*
 * Kills and reaps every child of this process (but the kept ones): the renderers'
 * leftovers, which became ours as their subreaper. Repeats until none is left (a killed
 * child's own children come to us too).
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
			if ((pids[count] = (pid_t)atoi(p)) > 0 && !is_kept(pids[count]))
				kill(pids[count++], SIGKILL);
		if (count == 0)
			return;
		for (i = 0; i < count; i++)
			waitpid(pids[i], NULL, 0);
	}
}

/*
 * In the child: set up and exec. stdin is infd (or /dev/null when it is -1), stdout outfd,
 * stderr logfd. Never returns; reports a failed exec on errfd.
 */
static void
child(const char *prog, char *const argv[], char *const envp[], const char *cwd,
    const struct sandbox *box, int infd, int outfd, int logfd, int errfd, pid_t parent)
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
	if ((fd = infd) < 0 && (fd = open("/dev/null", O_RDONLY)) < 0)
		goto fail;
	if (dup2(fd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(logfd, 2) < 0)
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
render_hung_up(int fd)
{
	struct pollfd p = { fd, POLLRDHUP, 0 };

	return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

int
render_run(const char *prog, char *const argv[], char *const envp[], const char *cwd,
    const struct sandbox *box, size_t log_max, int watch_fd, struct render_result *res)
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
	if (logbuf_init(&lb, log_max))
		goto out;
	lb.watched = 1;		/* OpenSCAD's log, as it comes, to whoever follows the render */
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
		child(prog, argv, envp, cwd, box, -1, out[1], out[1], errp[1], parent);
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
		struct pollfd pfd[3];
		nfds_t nf = 0, wi = 0;
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
		/* The client's connection: only its hang-up matters (POLLIN is never asked for). */
		if (watch_fd >= 0 && !reaped && !res->cancelled && !res->timed_out) {
			wi = nf;
			pfd[nf].fd = watch_fd;
			pfd[nf++].events = POLLRDHUP;
		}
		pr = poll(pfd, nf, timeout_ms);
		if (pr > 0 && wi > 0 && (pfd[wi].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			res->cancelled = 1;
			kill(-pid, SIGKILL);
		}
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
	logbuf_free(&lb);
	return rc;
}

int
render_spawn(const char *prog, char *const argv[], char *const envp[], const char *cwd,
    const struct sandbox *box, struct render_proc *p, int *exec_errno)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, log[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int rc = -1;
	pid_t parent = getpid();

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->in = p->out = p->log = -1;
	*exec_errno = 0;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(log, O_CLOEXEC) ||
	    pipe2(errp, O_CLOEXEC)) {
		log_msg(LOG_ERROR, NULL, "pipe: %s", strerror(errno));
		goto out;
	}
	if ((p->pid = fork()) < 0) {
		log_msg(LOG_ERROR, NULL, "fork: %s", strerror(errno));
		goto out;
	}
	if (p->pid == 0)
		child(prog, argv, envp, cwd, box, in[0], out[1], log[1], errp[1], parent);
	close(errp[1]);
	errp[1] = -1;
	if (read(errp[0], exec_errno, sizeof(*exec_errno)) <= 0)
		*exec_errno = 0;
	if (*exec_errno != 0) {
		waitpid(p->pid, NULL, 0);
		p->pid = -1;
		goto out;
	}
	keep(p->pid, 1);
	p->in = in[1];
	p->out = out[0];
	p->log = log[0];
	in[1] = out[0] = log[0] = -1;
	if (fcntl(p->in, F_SETFL, O_NONBLOCK) || fcntl(p->out, F_SETFL, O_NONBLOCK) ||
	    fcntl(p->log, F_SETFL, O_NONBLOCK)) {
		render_kill(p);
		goto out;
	}
	rc = 0;
out:
	if (in[0] >= 0) close(in[0]);
	if (in[1] >= 0) close(in[1]);
	if (out[0] >= 0) close(out[0]);
	if (out[1] >= 0) close(out[1]);
	if (log[0] >= 0) close(log[0]);
	if (log[1] >= 0) close(log[1]);
	if (errp[0] >= 0) close(errp[0]);
	if (errp[1] >= 0) close(errp[1]);
	return rc;
}

int
render_kill(struct render_proc *p)
{
	int wstatus = 0;

	if (p->in >= 0)
		close(p->in);
	if (p->out >= 0)
		close(p->out);
	if (p->log >= 0)
		close(p->log);
	p->in = p->out = p->log = -1;
	if (p->pid > 0) {
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &wstatus, 0);
		keep(p->pid, 0);
		p->pid = -1;
	}
	return wstatus;
}

int
render_exited(struct render_proc *p)
{
	int wstatus;

	if (p->pid <= 0 || waitpid(p->pid, &wstatus, WNOHANG) != p->pid)
		return 0;
	keep(p->pid, 0);
	p->pid = -1;	/* reaped: its pid may be another's now, so never signalled */
	render_kill(p);
	return 1;
}

void
render_result_free(struct render_result *res)
{
	if (res == NULL)
		return;
	free(res->log);
	res->log = NULL;
}

/* test_sandbox.c -- tests for fcgi/sandbox.c: Landlock and seccomp as a renderer meets them, on this kernel */
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/sched.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "unit.h"

#define RENDERER "/usr/bin/openscad"

static struct sandbox_policy policy;
static char root[256], mine[300], other[300], secret[300];
static const char *vars[16][2];

static const char *
get(const char *name)
{
	int i;

	for (i = 0; vars[i][0] != NULL; i++)
		if (strcmp(vars[i][0], name) == 0)
			return vars[i][1];
	return NULL;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		abort();
	}
}

/* A scratch folder of our own, another render's, and a secret beside them. */
static void
setup(void)
{
	char path[400];

	log_set_level(LOG_ERROR);
	memset(vars, 0, sizeof(vars));
	snprintf(root, sizeof(root), "/tmp/scadserve-sandbox-XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
	snprintf(mine, sizeof(mine), "%s/r-mine", root);
	snprintf(other, sizeof(other), "%s/r-other", root);
	snprintf(secret, sizeof(secret), "%s/secret.scad", root);
	if (mkdir(mine, 0700) || mkdir(other, 0700))
		abort();
	snprintf(path, sizeof(path), "%s/model.scad", other);
	write_file(path, "other = 1;\n");
	write_file(secret, "SECRET = 1;\n");
}

static void
teardown(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

/* Confines this test's process as a renderer with scratch folder mine. errno value or 0. */
static int
confine(void)
{
	struct sandbox box;
	char err[256];

	if (sandbox_configure(&policy, get, RENDERER, err, sizeof(err)))
		return EINVAL;
	sandbox_probe(&policy, RENDERER);
	memset(&box, 0, sizeof(box));
	box.cpu_seconds = 60;
	box.address_space = 4ULL << 30;
	box.file_size = 1 << 20;
	box.open_files = 256;
	box.processes = 4096;
	box.scratch = mine;
	box.policy = &policy;
	return sandbox_child(&box);
}

/*
 * Runs body in a child confined as a renderer (scratch folder mine), between a fresh setup
 * and a teardown done from outside the sandbox; the child's failed checks count here.
 */
static void
confined(void (*body)(void))
{
	pid_t pid;
	int st = 0, e;

	setup();
	if ((pid = fork()) == 0) {
		if ((e = confine()) != 0) {
			printf("#   confine: %s\n", strerror(e));
			_exit(1);
		}
		body();
		_exit(unit_failures > 0 ? 1 : 0);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	teardown();
}

/* errno of open(path, flags), 0 if it opened. */
static int
open_errno(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* The exit status of path run with one argument in a child, 256 + errno if exec failed. */
static int
run(const char *path, const char *arg)
{
	int st, p[2], e = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	if ((pid = fork()) == 0) {
		char *argv[] = { (char *)path, (char *)arg, NULL };
		char *envp[] = { "PATH=/usr/bin:/bin", "HOME=/nonexistent", NULL };
		close(1);	/* /dev/null is out of reach in the sandbox */
		close(2);
		execve(path, argv, envp);
		e = errno;
		(void)!write(p[1], &e, sizeof(e));
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], &e, sizeof(e)) != (ssize_t)sizeof(e))
		e = 0;
	close(p[0]);
	waitpid(pid, &st, 0);
	return e ? 256 + e : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(configure_reads_the_operator_lists)
{
	char err[256];
	int i, lib = 0, extra = 0, share = 0;

	vars[0][0] = "SCADSERVE_LIBRARY_PATH";
	vars[0][1] = "/opt/scad-libs:/srv/more";
	vars[1][0] = "SCADSERVE_SANDBOX_EXEC";
	vars[1][1] = "/usr/bin/env";
	CHECK_INT(sandbox_configure(&policy, get, "/opt/openscad/bin/openscad", err,
	    sizeof(err)), 0);
	for (i = 0; i < policy.nread; i++) {
		lib += strcmp(policy.read[i], "/opt/scad-libs") == 0 ||
		    strcmp(policy.read[i], "/srv/more") == 0;
		share += strcmp(policy.read[i], "/opt/openscad/bin/../share/openscad") == 0;
	}
	for (i = 0; i < policy.nexec; i++)
		extra += strcmp(policy.exec[i], "/usr/bin/env") == 0 ||
		    strcmp(policy.exec[i], "/opt/openscad/bin/openscad") == 0;
	CHECK_INT(lib, 2);
	CHECK_INT(share, 1);
	CHECK_INT(extra, 2);
	CHECK_STR(policy.library_path, "/opt/scad-libs:/srv/more");
	CHECK_INT(policy.abi_max, -1);
	CHECK_INT(policy.unconfined, 0);
}

TEST(configure_refuses_bad_values)
{
	static const char *const bad[][2] = {
		{ "SCADSERVE_LIBRARY_PATH", "relative/libs" },
		{ "SCADSERVE_SANDBOX_READ", "/ok:not/absolute" },
		{ "SCADSERVE_SANDBOX_EXEC", "bin" },
		{ "SCADSERVE_LANDLOCK_ABI_MAX", "x" },
		{ "SCADSERVE_LANDLOCK_ABI_MAX", "-1" },
		{ "SCADSERVE_UNCONFINED", "yes" },
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(vars, 0, sizeof(vars));
		vars[0][0] = bad[i][0];
		vars[0][1] = bad[i][1];
		err[0] = '\0';
		CHECK_INT(sandbox_configure(&policy, get, RENDERER, err, sizeof(err)), -1);
		CHECK_HAS(err, bad[i][0]);
	}
}

TEST(split_paths_bounds)
{
	char out[3][SANDBOX_PATH_LEN];
	int n = 0;

	CHECK_INT(sandbox_split_paths("/a::/b", out, 3, &n), 0);
	CHECK_INT(n, 2);
	CHECK_STR(out[1], "/b");
	CHECK_INT(sandbox_split_paths("/c:/d", out, 3, &n), -1);	/* a fourth does not fit */
}

TEST(probe_finds_the_loader_and_the_kernel_abi)
{
	char err[256];
	int i, loader = 0;

	CHECK_INT(sandbox_configure(&policy, get, RENDERER, err, sizeof(err)), 0);
	sandbox_probe(&policy, RENDERER);
	for (i = 0; i < policy.nexec; i++)
		loader += strstr(policy.exec[i], "ld-linux") != NULL;
	CHECK_INT(loader, 1);
	/* This project's machines have Landlock; a kernel without it fails closed. */
	CHECK(policy.kernel_abi >= 1);
	CHECK(policy.landlock_abi >= 1);
	CHECK_INT(policy.refuse, 0);
	CHECK_HAS(sandbox_describe(&policy), "landlock-");
}

TEST(no_landlock_fails_closed)
{
	struct sandbox box;
	char err[256];

	vars[0][0] = "SCADSERVE_LANDLOCK_ABI_MAX";
	vars[0][1] = "0";
	CHECK_INT(sandbox_configure(&policy, get, RENDERER, err, sizeof(err)), 0);
	sandbox_probe(&policy, RENDERER);
	CHECK_INT(policy.landlock_abi, 0);
	CHECK_INT(policy.refuse, 1);
	CHECK_HAS(policy.why, "SCADSERVE_LANDLOCK_ABI_MAX=0");
	memset(&box, 0, sizeof(box));
	box.cpu_seconds = box.address_space = box.file_size = box.open_files = 1 << 20;
	box.processes = 4096;
	box.policy = &policy;
	CHECK_INT(sandbox_child(&box), EPERM);	/* the child never execs */
}

TEST(unconfined_only_when_asked)
{
	char err[256];

	vars[0][0] = "SCADSERVE_LANDLOCK_ABI_MAX";
	vars[0][1] = "0";
	vars[1][0] = "SCADSERVE_UNCONFINED";
	vars[1][1] = "1";
	CHECK_INT(sandbox_configure(&policy, get, RENDERER, err, sizeof(err)), 0);
	sandbox_probe(&policy, RENDERER);
	CHECK_INT(policy.refuse, 0);
	CHECK_INT(policy.landlock_abi, 0);
	CHECK_HAS(sandbox_describe(&policy), "seccomp");
}

static void
landlock_reads_only_what_a_renderer_needs_body(void)
{
	char path[400];
	DIR *d;

	/* Its own scratch: make, write, read, remove. */
	snprintf(path, sizeof(path), "%s/out.stl", mine);
	CHECK_INT(open_errno(path, O_WRONLY | O_CREAT), 0);
	CHECK_INT(open_errno(path, O_RDONLY), 0);
	CHECK_INT(unlink(path), 0);
	/* A secret next door, another render's scratch, and the folder holding both. */
	CHECK_INT(open_errno(secret, O_RDONLY), EACCES);
	snprintf(path, sizeof(path), "%s/model.scad", other);
	CHECK_INT(open_errno(path, O_RDONLY), EACCES);
	CHECK_INT(open_errno(path, O_WRONLY | O_TRUNC), EACCES);
	CHECK((d = opendir(root)) == NULL);
	if (d != NULL)
		closedir(d);
	/* System files a renderer has no use for. */
	CHECK_INT(open_errno("/etc/passwd", O_RDONLY), EACCES);
	CHECK_INT(open_errno("/etc/hostname", O_RDONLY), EACCES);
	CHECK_INT(open_errno("/root", O_RDONLY | O_DIRECTORY), EACCES);
	CHECK_INT(open_errno("/tmp/x-scadserve-sandbox", O_WRONLY | O_CREAT), EACCES);
	/* What it needs: libraries, fonts, OpenSCAD's own folder. */
	CHECK_INT(open_errno("/etc/fonts/fonts.conf", O_RDONLY), 0);
	CHECK_INT(open_errno("/usr/share/openscad", O_RDONLY | O_DIRECTORY), 0);
	CHECK_INT(open_errno("/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY), 0);
}

static void
landlock_hides_other_processes_body(void)
{
	char path[128];

	/* The parent (a worker, say) and pid 1: their files, folders and memory. */
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)getppid());
	CHECK(open_errno(path, O_RDONLY | O_DIRECTORY) != 0);
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)getppid());
	CHECK(open_errno(path, O_RDONLY) != 0);
	CHECK(open_errno("/proc/1/cmdline", O_RDONLY) != 0);
	CHECK(open_errno("/proc/self/status", O_RDONLY) != 0);
}

static void
landlock_executes_only_the_renderer_body(void)
{
	CHECK_INT(run(RENDERER, "--version"), 0);
	CHECK_INT(run("/bin/true", NULL), 256 + EACCES);
	CHECK_INT(run("/usr/bin/env", NULL), 256 + EACCES);
}

static void
seccomp_refuses_sockets_ptrace_namespaces_and_more_body(void)
{
	char buf[8];

	errno = 0;
	CHECK(socket(AF_INET, SOCK_STREAM, 0) < 0 && errno == EPERM);
	CHECK(socket(AF_UNIX, SOCK_STREAM, 0) < 0 && errno == EPERM);
	{
		int sv[2];
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 && errno == EPERM);
	}
	CHECK(ptrace(PTRACE_ATTACH, getppid(), NULL, NULL) < 0 && errno == EPERM);
	CHECK(mount("none", mine, "tmpfs", 0, NULL) < 0 && errno == EPERM);
	CHECK(unshare(CLONE_NEWUSER) < 0 && errno == EPERM);
	CHECK(unshare(CLONE_NEWNS) < 0 && errno == EPERM);
	CHECK(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0) < 0 && errno == EPERM);
	CHECK(syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS);
	CHECK(syscall(SYS_bpf, 0, NULL, 0) < 0 && errno == EPERM);
	CHECK(syscall(SYS_io_uring_setup, 1, buf) < 0 && errno == EPERM);
	CHECK(syscall(SYS_userfaultfd, 0) < 0 && errno == EPERM);
	CHECK(syscall(SYS_keyctl, 0, 0, 0, 0, 0) < 0 && errno == EPERM);
	CHECK(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0) < 0 && errno == EPERM);
	CHECK(syscall(SYS_process_vm_readv, getppid(), NULL, 0, NULL, 0, 0) < 0 &&
	    errno == EPERM);
	/* An ordinary fork still works: OpenSCAD's libraries may start threads or helpers. */
	CHECK_INT(run(RENDERER, "--version"), 0);
}

static void
seccomp_signals_only_itself_body(void)
{
	CHECK(kill(getppid(), 0) < 0 && errno == EPERM);
	CHECK(kill(1, 0) < 0 && errno == EPERM);
	CHECK(kill(-1, 0) < 0 && errno == EPERM);
	CHECK(syscall(SYS_tgkill, getppid(), getppid(), 0) < 0 && errno == EPERM);
	CHECK(syscall(SYS_pidfd_open, getppid(), 0) < 0 && errno == EPERM);
	CHECK_INT(kill(getpid(), 0), 0);
	CHECK(kill(0, 0) < 0 && errno == EPERM);	/* its group: not needed, not allowed */
	CHECK_INT(syscall(SYS_tgkill, getpid(), getpid(), 0), 0);
}

TEST(landlock_reads_only_what_a_renderer_needs)
{
	confined(landlock_reads_only_what_a_renderer_needs_body);
}

TEST(landlock_hides_other_processes)
{
	confined(landlock_hides_other_processes_body);
}

TEST(landlock_executes_only_the_renderer)
{
	confined(landlock_executes_only_the_renderer_body);
}

TEST(seccomp_refuses_sockets_ptrace_namespaces_and_more)
{
	confined(seccomp_refuses_sockets_ptrace_namespaces_and_more_body);
}

TEST(seccomp_signals_only_itself)
{
	confined(seccomp_signals_only_itself_body);
}

UNIT_MAIN(
    configure_reads_the_operator_lists,
    configure_refuses_bad_values,
    split_paths_bounds,
    probe_finds_the_loader_and_the_kernel_abi,
    no_landlock_fails_closed,
    unconfined_only_when_asked,
    landlock_reads_only_what_a_renderer_needs,
    landlock_hides_other_processes,
    landlock_executes_only_the_renderer,
    seccomp_refuses_sockets_ptrace_namespaces_and_more,
    seccomp_signals_only_itself)

/* test_scratch.c -- tests for fcgi/scratch.c: the renderer's working directory */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "scratch.h"
#include "unit.h"

static char root[256];	/* a fresh temporary folder per test */

static void
setup(void)
{
	log_set_level(LOG_ERROR);	/* refusals are logged; they are what we test */
	snprintf(root, sizeof(root), "/tmp/scadserve-scratch-XXXXXX");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

static void
teardown(void)
{
	struct scratch s;

	/* scratch_remove takes any directory: use it on the whole root. */
	memset(&s, 0, sizeof(s));
	snprintf(s.dir, sizeof(s.dir), "%s", root);
	scratch_remove(&s);
}

/* Sends stderr to /dev/null (on) or back (off): refusals are logged at error level. */
static void
quiet(int on)
{
	static int saved = -1;
	int fd;

	if (on && saved < 0 && (fd = open("/dev/null", O_WRONLY)) >= 0) {
		saved = dup(STDERR_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	} else if (!on && saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
		saved = -1;
	}
}

static int
is_dir(const char *p, mode_t mode)
{
	struct stat st;

	return lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == mode;
}

static int
exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/* Reads path and compares it with want (len bytes). */
static int
reads(const char *p, const void *want, size_t len)
{
	unsigned char *data = NULL;
	long long n = scratch_read(p, 1 << 20, &data);
	int ok = n == (long long)len && (len == 0 || memcmp(data, want, len) == 0);

	free(data);
	return ok;
}

TEST(new_layout)
{
	struct scratch s;
	char sub[300], p[1400];

	setup();
	snprintf(sub, sizeof(sub), "%s/tmp", root);	/* created when missing */
	if (!CHECK_INT(scratch_new(&s, sub), 0))
		goto out;
	CHECK(is_dir(sub, 0700));
	CHECK(strncmp(s.dir, sub, strlen(sub)) == 0);
	CHECK(strncmp(s.dir + strlen(sub), "/r-", 3) == 0);
	CHECK(is_dir(s.dir, 0700));
	snprintf(p, sizeof(p), "%s/src", s.dir);
	CHECK_STR(s.src, p);
	CHECK(is_dir(s.src, 0700));
	snprintf(p, sizeof(p), "%s/out", s.dir);
	CHECK_STR(s.out, p);
	CHECK(is_dir(s.out, 0700));
	/* Two are never the same. */
	{
		struct scratch t;
		if (CHECK_INT(scratch_new(&t, sub), 0)) {
			CHECK(strcmp(s.dir, t.dir) != 0);
			scratch_remove(&t);
		}
	}
	scratch_remove(&s);
	CHECK_STR(s.dir, "");
out:
	teardown();
}

TEST(new_fails_cleanly)
{
	struct scratch s;
	char p[300];
	int fd;

	setup();
	/* The root is a file, not a folder. */
	snprintf(p, sizeof(p), "%s/file", root);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) >= 0)
		close(fd);
	quiet(1);
	CHECK_INT(scratch_new(&s, p), -1);
	quiet(0);
	CHECK_STR(s.dir, "");
	scratch_remove(&s);	/* harmless */
	snprintf(p, sizeof(p), "%s/no/such/parent", root);
	quiet(1);
	CHECK_INT(scratch_new(&s, p), -1);
	quiet(0);
	CHECK_STR(s.dir, "");
	teardown();
}

TEST(write_and_read)
{
	struct scratch s;
	char p[1600];

	setup();
	if (!CHECK_INT(scratch_new(&s, root), 0))
		goto out;
	CHECK_INT(scratch_write(&s, "model.scad", "cube(1);", 8), 0);
	CHECK_INT(scratch_write(&s, "lib/sub/util.scad", "module u(){}", 12), 0);
	CHECK_INT(scratch_write(&s, "lib/b.dat", "\0\1\2", 3), 0);
	CHECK_INT(scratch_write(&s, "empty", "", 0), 0);
	snprintf(p, sizeof(p), "%s/model.scad", s.src);
	CHECK(reads(p, "cube(1);", 8));
	snprintf(p, sizeof(p), "%s/lib/sub/util.scad", s.src);
	CHECK(reads(p, "module u(){}", 12));
	snprintf(p, sizeof(p), "%s/lib/b.dat", s.src);
	CHECK(reads(p, "\0\1\2", 3));
	snprintf(p, sizeof(p), "%s/empty", s.src);
	CHECK(reads(p, "", 0));
	snprintf(p, sizeof(p), "%s/lib/sub", s.src);
	CHECK(is_dir(p, 0700));
	scratch_remove(&s);
out:
	teardown();
}

TEST(write_refuses)
{
	struct scratch s;
	char p[1600], outside[300];

	setup();
	if (!CHECK_INT(scratch_new(&s, root), 0))
		goto out;
	CHECK_INT(scratch_write(&s, "a.scad", "1", 1), 0);
	quiet(1);
	/* Never replaced. */
	CHECK_INT(scratch_write(&s, "a.scad", "2", 1), -1);
	snprintf(p, sizeof(p), "%s/a.scad", s.src);
	CHECK(reads(p, "1", 1));
	/* A file is not a folder. */
	CHECK_INT(scratch_write(&s, "a.scad/b", "x", 1), -1);
	/* A link in place of the file is not followed. */
	snprintf(outside, sizeof(outside), "%s/outside", root);
	snprintf(p, sizeof(p), "%s/link.scad", s.src);
	CHECK_INT(symlink(outside, p), 0);
	CHECK_INT(scratch_write(&s, "link.scad", "x", 1), -1);
	quiet(0);
	CHECK(!exists(outside));
	scratch_remove(&s);
out:
	teardown();
}

TEST(write_params)
{
	struct scratch s;
	json_t *params, *root_json = NULL, *set;
	json_error_t je;
	char p[1400];

	setup();
	params = json_pack("{s:i,s:f,s:s,s:b,s:b,s:[i,f]}", "w", 20, "h", 2.5, "name",
	    "a \"b\"", "on", 1, "off", 0, "v", 1, 2.5);
	if (!CHECK(params != NULL) || !CHECK_INT(scratch_new(&s, root), 0))
		goto out;
	CHECK_INT(scratch_write_params(&s, params), 0);
	snprintf(p, sizeof(p), "%s/params.json", s.dir);
	root_json = json_load_file(p, 0, &je);
	if (!CHECK(root_json != NULL))
		goto rm;
	CHECK_STR(json_string_value(json_object_get(root_json, "fileFormatVersion")), "1");
	set = json_object_get(json_object_get(root_json, "parameterSets"), "scadserve");
	if (!CHECK(json_is_object(set)))
		goto rm;
	/* OpenSCAD's parameter files hold every value as a string. */
	CHECK_STR(json_string_value(json_object_get(set, "w")), "20");
	CHECK_STR(json_string_value(json_object_get(set, "h")), "2.5");
	CHECK_STR(json_string_value(json_object_get(set, "name")), "a \"b\"");
	CHECK_STR(json_string_value(json_object_get(set, "on")), "true");
	CHECK_STR(json_string_value(json_object_get(set, "off")), "false");
	CHECK_STR(json_string_value(json_object_get(set, "v")), "[1,2.5]");
	CHECK_INT(json_object_size(set), 6);
	/* Written once. */
	quiet(1);
	CHECK_INT(scratch_write_params(&s, params), -1);
	quiet(0);
rm:
	scratch_remove(&s);
out:
	json_decref(root_json);
	json_decref(params);
	teardown();
}

TEST(read_limits)
{
	unsigned char *data = (unsigned char *)"sentinel";
	char p[300], q[300];
	int fd;

	setup();
	snprintf(p, sizeof(p), "%s/f", root);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) >= 0) {
		CHECK(write(fd, "0123456789", 10) == 10);
		close(fd);
	}
	CHECK(scratch_read(p, 10, &data) == 10);
	CHECK(data != NULL && memcmp(data, "0123456789", 10) == 0);
	free(data);
	data = (unsigned char *)"sentinel";
	CHECK(scratch_read(p, 9, &data) == -2);
	CHECK(data == NULL);
	snprintf(q, sizeof(q), "%s/absent", root);
	CHECK(scratch_read(q, 100, &data) == -1);
	CHECK(data == NULL);
	CHECK(scratch_read(root, 100, &data) == -3);	/* a folder */
	CHECK(data == NULL);
	snprintf(q, sizeof(q), "%s/link", root);
	CHECK_INT(symlink(p, q), 0);
	CHECK(scratch_read(q, 100, &data) == -3);	/* links are not followed */
	CHECK(data == NULL);
	teardown();
}

TEST(remove_everything_but_links)
{
	struct scratch s;
	char p[1600], outside[300], keep[300];
	int fd;

	setup();
	snprintf(outside, sizeof(outside), "%s/outside", root);
	snprintf(keep, sizeof(keep), "%s/outside/keep", root);
	CHECK_INT(mkdir(outside, 0700), 0);
	if ((fd = open(keep, O_WRONLY | O_CREAT, 0600)) >= 0)
		close(fd);
	if (!CHECK_INT(scratch_new(&s, root), 0))
		goto out;
	CHECK_INT(scratch_write(&s, "a/b/c/d.scad", "x", 1), 0);
	CHECK_INT(scratch_write(&s, "e.scad", "x", 1), 0);
	snprintf(p, sizeof(p), "%s/link", s.src);
	CHECK_INT(symlink(outside, p), 0);
	snprintf(p, sizeof(p), "%s/model.stl", s.out);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s", s.dir);
	/* A renderer may leave its folder unwritable. */
	CHECK_INT(chmod(s.dir, 0500), 0);
	scratch_remove(&s);
	CHECK(!exists(p));
	CHECK_STR(s.dir, "");
	CHECK(exists(keep));	/* the link was removed, not followed */
	scratch_remove(&s);	/* twice is harmless */
out:
	teardown();
}

/* 1 if some process holds a flock on path (taking it from here would block). */
static int
locked(const char *p)
{
	int fd = open(p, O_RDONLY), held;

	if (fd < 0)
		return 0;
	held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

TEST(new_holds_its_lock)
{
	struct scratch s;
	char p[1300];

	setup();
	if (!CHECK_INT(scratch_new(&s, root), 0))
		goto out;
	/* <dir>.lock, beside the directory (out of the renderer's reach), held. */
	snprintf(p, sizeof(p), "%s.lock", s.dir);
	CHECK_STR(s.lock, p);
	CHECK(exists(s.lock));
	CHECK(locked(s.lock));
	scratch_remove(&s);
	CHECK(!exists(p));
	CHECK_STR(s.lock, "");
	scratch_remove(&s);	/* twice: harmless */
out:
	teardown();
}

/* Makes root/name (a folder, with a file in it) or, for a name ending .lock, an empty file. */
static void
make(const char *name)
{
	char p[600];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", root, name);
	if (strstr(name, ".lock") != NULL) {
		if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) >= 0)
			close(fd);
		return;
	}
	CHECK_INT(mkdir(p, 0700), 0);
	strcat(p, "/model.scad");
	if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) >= 0)
		close(fd);
}

static int
in_root(const char *name)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", root, name);
	return exists(p);
}

TEST(sweep_removes_the_dead_and_keeps_the_live)
{
	struct scratch live, dead;
	char dead_dir[1200], dead_lock[1210];

	setup();
	if (!CHECK_INT(scratch_new(&live, root), 0) || !CHECK_INT(scratch_new(&dead, root), 0))
		goto out;
	CHECK_INT(scratch_write(&live, "model.scad", "cube(1);", 8), 0);
	CHECK_INT(scratch_write(&dead, "model.scad", "cube(2);", 8), 0);
	/* A worker killed mid-render: its lock goes with it, its files stay. */
	snprintf(dead_dir, sizeof(dead_dir), "%s", dead.dir);
	snprintf(dead_lock, sizeof(dead_lock), "%s", dead.lock);
	close(dead.lock_fd);
	make("r-abc123");		/* a directory with no lock file */
	make("r-def456.lock");	/* a lock file with no directory (killed in between) */
	make("r-short");		/* not ours: other names */
	make("keep-me");
	make("r-ghi789.lockx");
	quiet(1);
	CHECK_INT(scratch_sweep(root), 2);
	quiet(0);
	CHECK(!exists(dead_dir));
	CHECK(!exists(dead_lock));
	CHECK(!in_root("r-abc123"));
	CHECK(!in_root("r-def456.lock"));
	/* The live one, in use, is whole and still locked. */
	CHECK(is_dir(live.dir, 0700));
	CHECK(exists(live.src));
	CHECK(locked(live.lock));
	CHECK(in_root("r-short") && in_root("keep-me") && in_root("r-ghi789.lockx"));
	/* Nothing more to do a second time; the live one removes itself as usual. */
	CHECK_INT(scratch_sweep(root), 0);
	scratch_remove(&live);
	CHECK(!exists(live.src));
out:
	teardown();
}

/* A render in another process (a worker) is never swept; once that process dies, it is. */
TEST(sweep_across_processes)
{
	struct scratch s;
	char dir[1200];
	int ready[2];
	pid_t pid;

	setup();
	CHECK_INT(scratch_sweep("/nonexistent/scadserve"), 0);
	if (!CHECK(pipe(ready) == 0))
		goto out;
	if ((pid = fork()) == 0) {
		if (scratch_new(&s, root) != 0)
			_exit(1);
		(void)!write(ready[1], s.dir, strlen(s.dir) + 1);
		pause();	/* "rendering" until killed */
		_exit(0);
	}
	memset(dir, 0, sizeof(dir));
	if (!CHECK(pid > 0) || !CHECK(read(ready[0], dir, sizeof(dir) - 1) > 0))
		goto out;
	quiet(1);
	CHECK_INT(scratch_sweep(root), 0);
	quiet(0);
	CHECK(is_dir(dir, 0700));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	quiet(1);
	CHECK_INT(scratch_sweep(root), 1);
	quiet(0);
	CHECK(!exists(dir));
out:
	teardown();
}

UNIT_MAIN(new_layout, new_holds_its_lock, sweep_removes_the_dead_and_keeps_the_live,
    sweep_across_processes, new_fails_cleanly, write_and_read, write_refuses, write_params,
    read_limits, remove_everything_but_links)

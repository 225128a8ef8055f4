/* test_mirror.c -- tests for fcgi/mirror.c: extensions, paths, atomic files, clearing */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mirror.h"
#include "unit.h"

static const char K1[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char K2[] = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

static char top[256];	/* a fresh temporary directory per test */
static char dir[300];	/* its "models", not made yet */

static void
setup(void)
{
	log_set_level(LOG_ERROR);
	snprintf(top, sizeof(top), "%s/scadserve-mirror-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(dir, sizeof(dir), "%s/models", top);
}

static void
teardown(void)
{
	char p[400];

	mirror_clear(dir);
	snprintf(p, sizeof(p), "%s/.boot", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/other.txt", dir);
	unlink(p);
	rmdir(dir);
	rmdir(top);
}

/* The contents of dir/name into buf (at most n bytes); the length, or -1. */
static long
slurp(const char *name, char *buf, size_t n)
{
	char p[400];
	long len;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((fd = open(p, O_RDONLY)) < 0)
		return -1;
	len = (long)read(fd, buf, n);
	close(fd);
	return len;
}

/* The number of entries in dir, "." and ".." left out. */
static int
entries(void)
{
	char cmd[400];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	if ((f = popen(cmd, "r")) != NULL) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

TEST(ext_from_content_type)
{
	/* Every content type fcgi/format.c answers with. */
	CHECK_STR(mirror_ext("model/stl"), "stl");
	CHECK_STR(mirror_ext("model/3mf"), "3mf");
	CHECK_STR(mirror_ext("image/svg+xml"), "svg");
	CHECK_STR(mirror_ext("text/plain; charset=utf-8"), "txt");
	CHECK_STR(mirror_ext("application/x-amf"), "amf");
	CHECK_STR(mirror_ext("image/vnd.dxf"), "dxf");
	CHECK_STR(mirror_ext("application/pdf"), "pdf");
	/* The media type alone counts, in any case. */
	CHECK_STR(mirror_ext("text/plain"), "txt");
	CHECK_STR(mirror_ext("Model/STL"), "stl");
	CHECK(mirror_ext("text/plainer") == NULL);
	CHECK(mirror_ext("model/st") == NULL);
	CHECK(mirror_ext("application/octet-stream") == NULL);
	CHECK(mirror_ext("") == NULL);
	CHECK(mirror_ext(NULL) == NULL);
}

TEST(dir_beside_the_cache)
{
	char *d;

	CHECK_STR((d = mirror_dir("/var/lib/scadserve/cache.sqlite")), "/var/lib/scadserve/models");
	free(d);
	CHECK_STR((d = mirror_dir("var/cache.sqlite")), "var/models");
	free(d);
	CHECK_STR((d = mirror_dir("cache.sqlite")), "models");
	free(d);
	CHECK_STR((d = mirror_dir("/cache.sqlite")), "/models");
	free(d);
}

TEST(write_then_remove)
{
	char buf[64];
	struct stat st;
	char p[400];

	setup();
	/* The folder is made on the first write, 0750; the file is 0640 whatever the umask. */
	umask(077);
	CHECK_INT(mirror_write(dir, K1, "stl", "solid", 5), 0);
	CHECK_INT(slurp("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.stl",
	    buf, sizeof(buf)), 5);
	CHECK_MEM(buf, "solid", 5);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0750);
	snprintf(p, sizeof(p), "%s/%s.stl", dir, K1);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0640);
	CHECK_INT(mirror_has(dir, K1, "stl"), 1);
	CHECK_INT(mirror_has(dir, K1, "svg"), 0);
	CHECK_INT(mirror_has(dir, K1, NULL), 0);
	CHECK_INT(mirror_has(dir, K2, "stl"), 0);
	/* Rewritten in place; no temporary file is left. */
	CHECK_INT(mirror_write(dir, K1, "stl", "solid cube", 10), 0);
	CHECK_INT(slurp("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.stl",
	    buf, sizeof(buf)), 10);
	CHECK_INT(entries(), 1);
	/* Empty data is an empty file. */
	CHECK_INT(mirror_write(dir, K2, "txt", "", 0), 0);
	CHECK_INT(mirror_has(dir, K2, "txt"), 1);
	CHECK_INT(entries(), 2);
	/* No extension: nothing written. */
	CHECK_INT(mirror_write(dir, K2, NULL, "x", 1), 0);
	CHECK_INT(entries(), 2);
	/* Removed by its extension, or whatever it is; the wrong one leaves it. */
	mirror_remove(dir, K1, "svg");
	CHECK_INT(mirror_has(dir, K1, "stl"), 1);
	mirror_remove(dir, K1, "stl");
	CHECK_INT(mirror_has(dir, K1, "stl"), 0);
	mirror_remove(dir, K2, NULL);
	CHECK_INT(mirror_has(dir, K2, "txt"), 0);
	CHECK_INT(entries(), 0);
	mirror_remove(dir, K2, NULL);	/* nothing there: fine */
	teardown();
}

TEST(write_fails_cleanly)
{
	setup();
	/* The folder's parent is not there: -1, and nothing made. */
	snprintf(dir, sizeof(dir), "%s/no/models", top);
	CHECK_INT(mirror_write(dir, K1, "stl", "solid", 5), -1);
	CHECK_INT(mirror_has(dir, K1, "stl"), 0);
	snprintf(dir, sizeof(dir), "%s/models", top);
	teardown();
}

TEST(read_since)
{
	struct timespec ts[2];
	char p[400];
	time_t when = 0;

	setup();
	CHECK_INT(mirror_read_since(dir, K1, "stl", &when), 0);	/* no file */
	CHECK_INT(mirror_write(dir, K1, "stl", "solid", 5), 0);
	CHECK_INT(mirror_read_since(dir, K1, "stl", &when), 0);	/* not read yet */
	CHECK_INT(mirror_read_since(dir, K1, NULL, &when), 0);
	/* Read later than written: the read's time. */
	snprintf(p, sizeof(p), "%s/%s.stl", dir, K1);
	ts[0].tv_sec = 2000000000;	/* atime */
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = 1900000000;	/* mtime */
	ts[1].tv_nsec = 0;
	CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
	CHECK_INT(mirror_read_since(dir, K1, "stl", &when), 1);
	CHECK_INT(when, 2000000000);
	/* Last read before it was last written: not since. */
	ts[0].tv_sec = 1800000000;
	CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
	CHECK_INT(mirror_read_since(dir, K1, "stl", &when), 0);
	teardown();
}

TEST(clear_takes_only_ours)
{
	char p[400];
	int fd;

	setup();
	CHECK_INT(mirror_write(dir, K1, "stl", "a", 1), 0);
	CHECK_INT(mirror_write(dir, K2, "svg", "b", 1), 0);
	/* A temporary file left by a process that died, and a file of someone else's. */
	snprintf(p, sizeof(p), "%s/.%s.123.tmp", dir, K1);
	CHECK((fd = open(p, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/other.txt", dir);
	CHECK((fd = open(p, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	CHECK_INT(entries(), 4);
	mirror_clear(dir);
	CHECK_INT(entries(), 1);
	CHECK(access(p, F_OK) == 0);
	mirror_clear(dir);	/* nothing left of ours: fine */
	teardown();
	snprintf(dir, sizeof(dir), "/nonexistent/models");
	mirror_clear(dir);	/* no folder: fine */
}

TEST(boot_check_clears_after_a_restart)
{
	char p[400], id[64];
	int fd;

	setup();
	if (access("/proc/sys/kernel/random/boot_id", R_OK) != 0) {
		printf("# no boot id here: skipped\n");
		teardown();
		return;
	}
	/* First start: the folder is made and this boot recorded. */
	mirror_boot_check(dir);
	CHECK_INT(slurp(".boot", id, sizeof(id)), 36);
	CHECK_INT(mirror_write(dir, K1, "stl", "a", 1), 0);
	/* Same boot: the files stay. */
	mirror_boot_check(dir);
	CHECK_INT(mirror_has(dir, K1, "stl"), 1);
	/* Written in another boot: they go, and this boot is recorded. */
	snprintf(p, sizeof(p), "%s/.boot", dir);
	CHECK((fd = open(p, O_WRONLY | O_TRUNC)) >= 0);
	CHECK(write(fd, "00000000-0000-0000-0000-000000000000", 36) == 36);
	close(fd);
	mirror_boot_check(dir);
	CHECK_INT(mirror_has(dir, K1, "stl"), 0);
	CHECK_INT(slurp(".boot", p, sizeof(p)), 36);
	CHECK_MEM(p, id, 36);
	CHECK_INT(entries(), 1);	/* .boot alone: no temporary file left */
	teardown();
}

UNIT_MAIN(ext_from_content_type, dir_beside_the_cache, write_then_remove, write_fails_cleanly,
    read_since, clear_takes_only_ours, boot_check_clears_after_a_restart)

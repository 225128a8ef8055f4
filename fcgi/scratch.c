/* scratch.c -- the renderer's private working directory: made fresh for each render, removed after */
#include <sys/file.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "scratch.h"
#include "text.h"

/* 1 if the file at path is the one fd has open. */
static int
same_file(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino;
}

/* Takes fd's lock, waiting (a sweeper holds another's only briefly). 0 or -1. */
static int
lock_wait(int fd)
{
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int
scratch_new(struct scratch *s, const char *root)
{
	int tries, exists;

	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	if (mkdir(root, 0700) && errno != EEXIST) {
		log_msg(LOG_ERROR, NULL, "mkdir %s: %s", root, strerror(errno));
		return -1;
	}
	for (tries = 0; tries < 100; tries++) {
		if (text_printf(s->lock, sizeof(s->lock), "%s/r-XXXXXX.lock", root)) {
			log_msg(LOG_ERROR, NULL, "scratch directory in %s: path too long", root);
			goto fail;
		}
		if ((s->lock_fd = mkostemps(s->lock, 5, O_CLOEXEC)) < 0) {
			log_msg(LOG_ERROR, NULL, "create %s: %s", s->lock, strerror(errno));
			goto fail;
		}
		/*
		 * A sweeper may have taken this file before we locked it, seen no directory,
		 * and removed it: then the lock we hold is on a file no longer there. Again.
		 */
		if (lock_wait(s->lock_fd) || !same_file(s->lock_fd, s->lock)) {
			close(s->lock_fd);
			continue;
		}
		memcpy(s->dir, s->lock, strlen(s->lock) - 5);
		s->dir[strlen(s->lock) - 5] = '\0';
		if (mkdir(s->dir, 0700) == 0)
			break;
		/* EEXIST: a directory without a lock file, which the next sweep removes. */
		exists = errno == EEXIST;
		log_msg(exists ? LOG_WARN : LOG_ERROR, NULL, "mkdir %s: %s", s->dir,
		    strerror(errno));
		s->dir[0] = '\0';
		unlink(s->lock);
		close(s->lock_fd);
		if (!exists)
			goto fail;
	}
	if (tries == 100)
		goto fail;
	if (text_printf(s->src, sizeof(s->src), "%s/src", s->dir) ||
	    text_printf(s->out, sizeof(s->out), "%s/out", s->dir) ||
	    mkdir(s->src, 0700) || mkdir(s->out, 0700)) {
		log_msg(LOG_ERROR, NULL, "mkdir in %s: %s", s->dir, strerror(errno));
		scratch_remove(s);
		return -1;
	}
	return 0;
fail:
	s->lock[0] = '\0';
	s->lock_fd = -1;
	return -1;
}

/* Writes all of buf to fd. 0 or -1. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
scratch_write(const struct scratch *s, const char *name, const void *data, size_t len)
{
	char path[1600], *slash;
	int fd = -1, rc = -1;

	if (text_printf(path, sizeof(path), "%s/%s", s->src, name))
		goto out;
	/* Folders on the way: each one new or already made by us, never a link. */
	for (slash = path + strlen(s->src) + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
		*slash = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			log_msg(LOG_ERROR, NULL, "mkdir %s: %s", path, strerror(errno));
			goto out;
		}
		*slash = '/';
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		log_msg(LOG_ERROR, NULL, "create %s: %s", path, strerror(errno));
		goto out;
	}
	if (write_all(fd, data, len)) {
		log_msg(LOG_ERROR, NULL, "write %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0 && close(fd) && rc == 0)
		rc = -1;
	return rc;
}

int
scratch_write_params(const struct scratch *s, json_t *params)
{
	json_t *root = NULL, *set;
	const char *name;
	json_t *v;
	char path[1400], *text = NULL;
	int fd = -1, rc = -1;

	if ((set = json_object()) == NULL)
		goto out;
	if ((root = json_pack("{s:{s:o},s:s}", "parameterSets", "scadserve", set,
	    "fileFormatVersion", "1")) == NULL)
		goto out;
	json_object_foreach(params, name, v) {
		json_t *str;
		if (json_is_string(v))
			str = json_copy(v);
		else if (json_is_true(v) || json_is_false(v))
			str = json_string(json_is_true(v) ? "true" : "false");
		else {
			char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			str = dump ? json_string(dump) : NULL;
			free(dump);
		}
		if (str == NULL || json_object_set_new(set, name, str))
			goto out;
	}
	if ((text = json_dumps(root, JSON_INDENT(1))) == NULL)
		goto out;
	if (text_printf(path, sizeof(path), "%s/params.json", s->dir)) {
		log_msg(LOG_ERROR, NULL, "%s/params.json: path too long", s->dir);
		goto out;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    write_all(fd, text, strlen(text))) {
		log_msg(LOG_ERROR, NULL, "write %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	json_decref(root);
	return rc;
}

long long
scratch_read(const char *path, size_t max, unsigned char **data)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	long long rc = -3;
	int fd;

	*data = NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? -1 : -3;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		goto out;
	if ((unsigned long long)st.st_size > max) {
		rc = -2;
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	while (got < (size_t)st.st_size) {
		if ((n = read(fd, buf + got, (size_t)st.st_size - got)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != (size_t)st.st_size)
		goto out;
	*data = buf;
	buf = NULL;
	rc = (long long)got;
out:
	free(buf);
	close(fd);
	return rc;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT)
		log_msg(LOG_WARN, NULL, "remove %s: %s", path, strerror(errno));
	return 0;
}

/* Removes the tree at dir (when there is one). 1 if there was one, else 0. */
static int
remove_tree(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	/* A renderer may have left a folder it cannot be walked into: let us in first. */
	chmod(dir, 0700);
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	return 1;
}

void
scratch_remove(struct scratch *s)
{
	if (s->dir[0] != '\0') {
		remove_tree(s->dir);
		s->dir[0] = '\0';
	}
	/* The lock file last, and the lock with it: till then no sweeper touches the dir. */
	if (s->lock[0] != '\0') {
		unlink(s->lock);
		close(s->lock_fd);
		s->lock[0] = '\0';
		s->lock_fd = -1;
	}
}

/*
 * If name is one of ours, r-XXXXXX or r-XXXXXX.lock (XXXXXX from mkostemps' letters and
 * digits), copies the r-XXXXXX part into base (9 bytes) and returns 1.
 */
static int
scratch_name(const char *name, char *base)
{
	size_t i, n = strlen(name);

	if (strncmp(name, "r-", 2) != 0 || (n != 8 && !(n == 13 && strcmp(name + 8, ".lock") == 0)))
		return 0;
	for (i = 2; i < 8; i++)
		if (!isalnum((unsigned char)name[i]))
			return 0;
	memcpy(base, name, 8);
	base[8] = '\0';
	return 1;
}

int
scratch_sweep(const char *root)
{
	struct dirent *de;
	DIR *d;
	char base[9], dir[1200], lock[1210];
	int fd, removed = 0, gone;

	if ((d = opendir(root)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (!scratch_name(de->d_name, base) ||
		    text_printf(dir, sizeof(dir), "%s/%s", root, base) ||
		    text_printf(lock, sizeof(lock), "%s.lock", dir))
			continue;
		/*
		 * No lock file: no live render's (its lock is made before its directory and
		 * removed after). A lock held: in use, leave it. A lock we can take: its holder
		 * died. The lock must still be the file at its path (a sweeper before us may
		 * have removed it), and is unlinked only while held.
		 */
		if ((fd = open(lock, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			if (errno == ENOENT && remove_tree(dir)) {
				log_msg(LOG_INFO, NULL, "removed %s: a scratch directory without a "
				    "lock file", dir);
				removed++;
			}
			continue;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && same_file(fd, lock)) {
			if ((gone = remove_tree(dir)))
				log_msg(LOG_INFO, NULL, "removed %s: left by a worker that died "
				    "while rendering", dir);
			removed += gone;
			unlink(lock);
		}
		close(fd);
	}
	closedir(d);
	return removed;
}

/* scratch.c -- the renderer's private working directory: made fresh for each render, removed after */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "scratch.h"

int
scratch_new(struct scratch *s, const char *root)
{
	memset(s, 0, sizeof(*s));
	if (mkdir(root, 0700) && errno != EEXIST) {
		log_msg(LOG_ERROR, NULL, "mkdir %s: %s", root, strerror(errno));
		return -1;
	}
	snprintf(s->dir, sizeof(s->dir), "%s/r-XXXXXX", root);
	if (mkdtemp(s->dir) == NULL) {
		log_msg(LOG_ERROR, NULL, "mkdtemp %s: %s", s->dir, strerror(errno));
		s->dir[0] = '\0';
		return -1;
	}
	snprintf(s->src, sizeof(s->src), "%s/src", s->dir);
	snprintf(s->out, sizeof(s->out), "%s/out", s->dir);
	if (mkdir(s->src, 0700) || mkdir(s->out, 0700)) {
		log_msg(LOG_ERROR, NULL, "mkdir in %s: %s", s->dir, strerror(errno));
		scratch_remove(s);
		return -1;
	}
	return 0;
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

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->src, name) >= sizeof(path))
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
	snprintf(path, sizeof(path), "%s/params.json", s->dir);
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

void
scratch_remove(struct scratch *s)
{
	if (s->dir[0] == '\0')
		return;
	/* A renderer may have left a folder it cannot be walked into: let us in first. */
	chmod(s->dir, 0700);
	nftw(s->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	s->dir[0] = '\0';
}

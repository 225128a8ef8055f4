/* mirror.c -- cached models mirrored as files, so nginx serves GET /api/models/{key} itself */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "mirror.h"

#define BOOT_ID "/proc/sys/kernel/random/boot_id"

/*
 * Media type -> extension. nginx maps each extension back (the types block of the models
 * location), so this and nginx/scadserve.conf.in change together. Every text format (off,
 * csg, echo, ast) is text/plain: one extension serves them all.
 */
static const struct {
	const char *type;
	const char *ext;
} exts[] = {
	{ "model/stl",         "stl" },
	{ "model/3mf",         "3mf" },
	{ "image/svg+xml",     "svg" },
	{ "text/plain",        "txt" },
	{ "application/x-amf", "amf" },
	{ "image/vnd.dxf",     "dxf" },
	{ "application/pdf",   "pdf" },
};

#define EXT_N (sizeof(exts) / sizeof(exts[0]))

const char *
mirror_ext(const char *content_type)
{
	size_t i, n;

	if (content_type == NULL)
		return NULL;
	/* The media type alone: "text/plain; charset=utf-8" is text/plain. */
	n = strcspn(content_type, "; \t");
	for (i = 0; i < EXT_N; i++)
		if (strlen(exts[i].type) == n && strncasecmp(content_type, exts[i].type, n) == 0)
			return exts[i].ext;
	return NULL;
}

char *
mirror_dir(const char *cache_path)
{
	const char *slash = strrchr(cache_path, '/');
	size_t n = slash ? (size_t)(slash - cache_path) : 0;
	char *dir;

	if (slash == cache_path)
		n = 0;	/* "/cache.sqlite": the root's "models" is "/models" */
	if ((dir = malloc(n + sizeof("/models") + 1)) == NULL)
		return NULL;
	if (slash == NULL)
		memcpy(dir, "models", sizeof("models"));
	else {
		memcpy(dir, cache_path, n);
		memcpy(dir + n, "/models", sizeof("/models"));
	}
	return dir;
}

/* Makes dir 0750 whatever the umask (nginx reads it through the group). 0 if it exists. */
static int
dir_make(const char *dir)
{
	if (mkdir(dir, 0750) == 0)
		return chmod(dir, 0750);
	return errno == EEXIST ? 0 : -1;
}

/* dir/key.ext into out (PATH_MAX-sized). 0, or -1 if it does not fit. */
static int
file_path(char *out, size_t outlen, const char *dir, const char *key, const char *ext)
{
	int n = snprintf(out, outlen, "%s/%s.%s", dir, key, ext);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
mirror_write(const char *dir, const char *key, const char *ext, const void *data,
    size_t size)
{
	char tmp[4096], path[4096];
	const unsigned char *p = data;
	size_t done = 0;
	ssize_t w;
	int fd = -1, made = 0, rc = -1;

	if (ext == NULL)
		return 0;
	if (file_path(path, sizeof(path), dir, key, ext) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", dir, key, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0 && errno == ENOENT && dir_make(dir) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		goto out;
	made = 1;
	/* Whatever the umask: in production nginx's workers read it through the group. */
	if (fchmod(fd, 0640) != 0)
		goto out;
	while (done < size) {
		if ((w = write(fd, p + done, size - done)) < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		done += (size_t)w;
	}
	w = close(fd);
	fd = -1;
	if (w != 0 || rename(tmp, path) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		log_msg(LOG_WARN, NULL, "mirror %s/%s.%s: %s", dir, key, ext, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (rc != 0 && made)
		unlink(tmp);
	return rc;
}

void
mirror_remove(const char *dir, const char *key, const char *ext)
{
	char path[4096];
	size_t i;

	for (i = 0; i < EXT_N; i++) {
		if (ext != NULL && strcmp(ext, exts[i].ext) != 0)
			continue;
		if (file_path(path, sizeof(path), dir, key, exts[i].ext) == 0 &&
		    unlink(path) != 0 && errno != ENOENT)
			log_msg(LOG_WARN, NULL, "mirror %s: %s", path, strerror(errno));
	}
}

int
mirror_has(const char *dir, const char *key, const char *ext)
{
	char path[4096];

	return ext != NULL && file_path(path, sizeof(path), dir, key, ext) == 0 &&
	    access(path, F_OK) == 0;
}

int
mirror_read_since(const char *dir, const char *key, const char *ext, time_t *when)
{
	char path[4096];
	struct stat st;

	if (ext == NULL || file_path(path, sizeof(path), dir, key, ext) != 0 ||
	    stat(path, &st) != 0)
		return 0;
	if (st.st_atim.tv_sec < st.st_mtim.tv_sec || (st.st_atim.tv_sec == st.st_mtim.tv_sec &&
	    st.st_atim.tv_nsec <= st.st_mtim.tv_nsec))
		return 0;
	*when = st.st_atim.tv_sec;
	return 1;
}

void
mirror_clear(const char *dir)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			log_msg(LOG_WARN, NULL, "mirror %s: %s", dir, strerror(errno));
		return;
	}
	/* Only what we write: <64 hex>.<ext>, and .<64 hex>.<pid>.tmp. */
	while ((de = readdir(d)) != NULL) {
		const char *s = de->d_name + (de->d_name[0] == '.');
		if (strspn(s, "0123456789abcdef") != 64 || s[64] != '.')
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	if (n > 0)
		log_msg(LOG_INFO, NULL, "mirror %s: %d files removed", dir, n);
}

/* Reads a boot id (36 characters) from path into out[37]. 0, or -1. */
static int
boot_read(const char *path, char out[37])
{
	int fd;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, out, 36);
	close(fd);
	if (n != 36)
		return -1;
	out[36] = '\0';
	return 0;
}

void
mirror_boot_check(const char *dir)
{
	char now[37], was[37], path[4096], tmp[4096];
	int fd, ok;

	if (boot_read(BOOT_ID, now) != 0)
		return;	/* no way to tell: keep the files */
	if (snprintf(path, sizeof(path), "%s/.boot", dir) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.boot.%ld", dir, (long)getpid()) >= (int)sizeof(tmp))
		return;
	if (boot_read(path, was) == 0 && strcmp(was, now) == 0)
		return;
	mirror_clear(dir);
	if (dir_make(dir) != 0)
		return;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640)) < 0)
		return;
	ok = write(fd, now, 36) == 36;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0)
		unlink(tmp);
}

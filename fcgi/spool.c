/* spool.c -- results too big for the cache, kept as files a while for the requests that wait on them */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mirror.h"
#include "spool.h"

int
spool_write(const char *dir, const char *key, const char *ext, const void *data, size_t len)
{
	return mirror_write(dir, key, ext, data, len);
}

int
spool_read(const char *dir, const char *key, const char *ext, unsigned char **data,
    size_t *len)
{
	char path[4096];
	struct stat st;
	unsigned char *buf = NULL;
	size_t done = 0;
	ssize_t n;
	int fd = -1, rc = -1;

	*data = NULL;
	*len = 0;
	if (snprintf(path, sizeof(path), "%s/%s.%s", dir, key, ext) >= (int)sizeof(path))
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0 ||
	    !S_ISREG(st.st_mode))
		goto out;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	while (done < (size_t)st.st_size) {
		if ((n = read(fd, buf + done, (size_t)st.st_size - done)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		done += (size_t)n;
	}
	*data = buf;
	*len = done;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

void
spool_prune(const char *dir, double seconds)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	time_t before = time(NULL) - (time_t)seconds;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_mtime < before)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

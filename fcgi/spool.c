/* spool.c -- results too big for the cache, kept as files a while for the requests that wait on them */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mirror.h"
#include "scratch.h"
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
	long long n;

	*data = NULL;
	*len = 0;
	if (snprintf(path, sizeof(path), "%s/%s.%s", dir, key, ext) >= (int)sizeof(path))
		return -1;
	/* A spooled result is at most SCADSERVE_OUTPUT_MAX (1 GiB at most): the runner wrote it. */
	if ((n = scratch_read(path, (size_t)1 << 30, data)) < 0)
		return -1;
	*len = (size_t)n;
	return 0;
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

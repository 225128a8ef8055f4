/* flight.c -- single-flight: one render per key at a time across every process, the others wait for its result */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flight.h"
#include "log.h"
#include "render.h"
#include "text.h"

#define POLL_MS 10              /* how often a waiter looks at the lock again */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * 1 if fd (locked) is still the file at path: the holder before us removes the file before
 * it unlocks, so a lock taken on a removed file is a lock on nothing, and the next one to
 * come makes a new file. Such a lock must be let go and taken again on the new one.
 */
static int
still_there(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino;
}

int
flight_join(const char *dir, const char *key, double wait_seconds, int watch_fd,
    const volatile sig_atomic_t *stop, int *waited, int *gone, struct err *e)
{
	char path[1300];
	double deadline = now() + wait_seconds;
	int fd = -1;

	*waited = 0;
	*gone = 0;
	if (text_printf(path, sizeof(path), "%s/%s", dir, key)) {
		err_set(e, ERR_INTERNAL, "single-flight lock path too long");
		return -1;
	}
	for (;;) {
		if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
			log_msg(LOG_ERROR, NULL, "single-flight lock %s: %s", path, strerror(errno));
			err_set(e, ERR_INTERNAL, "cannot take the render lock");
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (still_there(fd, path))
				return fd;
			close(fd);	/* its holder removed it: take the new one */
			continue;
		}
		close(fd);
		fd = -1;
		*waited = 1;
		if (render_hung_up(watch_fd)) {
			*gone = 1;
			err_set(e, ERR_INTERNAL, "the client went away while an identical render ran");
			return -1;
		}
		if ((stop != NULL && *stop) || now() >= deadline) {
			err_set(e, ERR_OVERLOADED, "an identical render is still running; try again");
			e->retry_after = 5;
			return -1;
		}
		poll(NULL, 0, POLL_MS);
	}
}

void
flight_leave(const char *dir, const char *key, int fd)
{
	char path[1300];

	if (fd < 0)
		return;
	if (text_printf(path, sizeof(path), "%s/%s", dir, key) == 0)
		unlink(path);
	close(fd);
}

/* slot.c -- render slots shared by every FastCGI process: one lock file each, so a crash frees its slot */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "slot.h"
#include "text.h"

/*
 * Two kinds of lock file live in dir, and a dead process holds neither: the kernel drops a
 * lock with the last descriptor of the process that held it.
 * - slot-<i>, one per render slot, flock()ed by the request rendering in it.
 * - queue-<i>, one per place in the queue, held by a request while it waits for a slot, with
 *   an open file description lock (F_OFD_SETLK). The queue's length is the number held,
 *   which F_OFD_GETLK reads without taking any: a worker killed while it waits leaves no
 *   count behind (a counter in shared memory did, until every miss was refused), and
 *   counting never takes a place from a request that wants one.
 */

/* Opens dir/<kind>-<i>. A descriptor, or -1 with errno set. */
static int
lock_open(const char *dir, const char *kind, uint64_t i, int flags)
{
	char path[1200];

	if (text_printf(path, sizeof(path), "%s/%s-%llu", dir, kind, (unsigned long long)i)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/* Tries every slot once, starting at a different one per process. fd, or -1 if all busy. */
static int
try_all(const char *dir, int n, int *failed)
{
	int i, fd, first = (int)(getpid() % n);

	for (i = 0; i < n; i++) {
		if ((fd = lock_open(dir, "slot", (uint64_t)((first + i) % n), O_RDWR | O_CREAT)) < 0) {
			log_msg(LOG_ERROR, NULL, "render slot in %s: %s", dir, strerror(errno));
			*failed = 1;
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		close(fd);
	}
	return -1;
}

/* A write lock on the whole file: what a place in the queue is held with. */
static void
whole_file(struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = F_WRLCK;
	fl->l_whence = SEEK_SET;
}

/*
 * Takes a free place among the max of the queue. Its descriptor (close it to leave), or -1:
 * every place taken, or a failure (*failed set, logged).
 */
static int
queue_enter(const char *dir, uint64_t max, int *failed)
{
	struct flock fl;
	uint64_t i, first = (uint64_t)getpid() % max;
	int fd;

	for (i = 0; i < max; i++) {
		if ((fd = lock_open(dir, "queue", (first + i) % max, O_RDWR | O_CREAT)) < 0)
			goto fail;
		whole_file(&fl);
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return fd;
		close(fd);
		if (errno != EAGAIN && errno != EACCES)
			goto fail;
	}
	return -1;
fail:
	log_msg(LOG_ERROR, NULL, "render queue in %s: %s", dir, strerror(errno));
	*failed = 1;
	return -1;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
slot_acquire(const char *dir, int n, double wait_seconds, uint64_t queue_max,
    const volatile sig_atomic_t *stop, struct err *e)
{
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	double deadline = now_seconds() + wait_seconds;
	const char *why = "every render slot is busy and the queue is full";
	int fd, place = -1, failed = 0;

	if ((fd = try_all(dir, n, &failed)) >= 0 || failed)
		goto out;
	if ((place = queue_enter(dir, queue_max, &failed)) < 0)
		goto out;
	why = "every render slot stayed busy for as long as a request may wait";
	for (;;) {
		if (stop != NULL && *stop) {
			why = "this server process is stopping";
			break;
		}
		if (now_seconds() >= deadline)
			break;
		/* A signal (the stop request) cuts the pause short. */
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 80 * 1000 * 1000)
			pause.tv_nsec *= 2;
		if ((fd = try_all(dir, n, &failed)) >= 0 || failed)
			break;
	}
out:
	if (place >= 0)
		close(place);	/* leaves the queue */
	if (fd < 0 && failed)
		err_set(e, ERR_INTERNAL, "render slots are not available");
	else if (fd < 0) {
		err_set(e, ERR_OVERLOADED, "%s; try again shortly", why);
		e->retry_after = 5;
	}
	return fd;
}

void
slot_release(int fd)
{
	if (fd >= 0)
		close(fd);	/* closing drops the lock */
}

int
slot_busy(const char *dir, int n)
{
	int i, fd, busy = 0;

	for (i = 0; i < n; i++) {
		if ((fd = lock_open(dir, "slot", (uint64_t)i, O_RDWR | O_CREAT)) < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
			busy++;
		close(fd);
	}
	return busy;
}

int
slot_queued(const char *dir, uint64_t queue_max)
{
	struct flock fl;
	uint64_t i;
	int fd, queued = 0;

	for (i = 0; i < queue_max; i++) {
		if ((fd = lock_open(dir, "queue", i, O_RDONLY)) < 0)
			continue;	/* never made: never held */
		whole_file(&fl);
		if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			queued++;
		close(fd);
	}
	return queued;
}

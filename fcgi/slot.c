/* slot.c -- render slots shared by every FastCGI process: one lock file each, so a crash frees its slot */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "slot.h"

static int
slot_open(const char *dir, int i)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/slot-%d", dir, i);
	return open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

/* Tries every slot once, starting at a different one per process. fd, or -1 if all busy. */
static int
try_all(const char *dir, int n, int *failed)
{
	int i, fd, first = (int)(getpid() % n);

	for (i = 0; i < n; i++) {
		if ((fd = slot_open(dir, (first + i) % n)) < 0) {
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

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
slot_acquire(const char *dir, int n, double wait_seconds, uint64_t queue_max, struct err *e)
{
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	double deadline = now_seconds() + wait_seconds;
	int fd, failed = 0;

	if ((fd = try_all(dir, n, &failed)) >= 0 || failed)
		goto out;
	if (metrics_get(M_QUEUE_WAITING) >= queue_max)
		goto out;
	metrics_add(M_QUEUE_WAITING, 1);
	while (now_seconds() < deadline) {
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 80 * 1000 * 1000)
			pause.tv_nsec *= 2;
		if ((fd = try_all(dir, n, &failed)) >= 0 || failed)
			break;
	}
	metrics_sub(M_QUEUE_WAITING, 1);
out:
	if (fd < 0 && failed)
		err_set(e, ERR_INTERNAL, "render slots are not available");
	else if (fd < 0) {
		err_set(e, ERR_OVERLOADED, "every render slot is busy and the queue is full; "
		    "try again shortly");
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
		if ((fd = slot_open(dir, i)) < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
			busy++;
		close(fd);
	}
	return busy;
}

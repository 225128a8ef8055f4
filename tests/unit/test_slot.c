/* test_slot.c -- tests for fcgi/slot.c: render slots and the queue, kept by lock files a crash frees */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scratch.h"
#include "slot.h"
#include "unit.h"

static char dir[256];	/* a fresh folder for the lock files, per test */

static void
setup(void)
{
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "%s/scadserve-slot-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

static void
teardown(void)
{
	struct scratch s;

	memset(&s, 0, sizeof(s));
	snprintf(s.dir, sizeof(s.dir), "%s", dir);
	scratch_remove(&s);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits (up to 5 s) until want requests wait in the queue of max places. 1 if they do. */
static int
queued_becomes(uint64_t max, int want)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (slot_queued(dir, max) == want)
			return 1;
		usleep(10000);
	}
	printf("#   %d queued, want %d\n", slot_queued(dir, max), want);
	return 0;
}

/* Waits (up to 5 s) for pid to end. Its wait status, or -1 if it did not end. */
static int
reap(pid_t pid)
{
	int i, status;

	for (i = 0; i < 500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* A child that waits in the queue for one of n slots (wait_seconds), then exits. */
static pid_t
waiter(int n, double wait_seconds, uint64_t queue_max, const volatile sig_atomic_t *stop)
{
	struct err e;
	pid_t pid;
	int fd;

	if ((pid = fork()) != 0)
		return pid;
	/* Another worker: none of the parent's slots (a lock lives as long as any copy). */
	for (fd = 3; fd < 256; fd++)
		close(fd);
	memset(&e, 0, sizeof(e));
	fd = slot_acquire(dir, n, wait_seconds, queue_max, stop, &e);
	_exit(fd >= 0 ? 0 : e.type == ERR_OVERLOADED ? 3 : 4);
}

TEST(slots_taken_and_given_back)
{
	struct err e;
	int a, b, c;

	setup();
	memset(&e, 0, sizeof(e));
	a = slot_acquire(dir, 2, 1, 4, NULL, &e);
	b = slot_acquire(dir, 2, 1, 4, NULL, &e);
	CHECK(a >= 0 && b >= 0);
	CHECK_INT(slot_busy(dir, 2), 2);
	/* Both busy: waits its time in the queue, then overloaded with Retry-After. */
	c = slot_acquire(dir, 2, 0.1, 4, NULL, &e);
	CHECK_INT(c, -1);
	CHECK_INT(e.type, ERR_OVERLOADED);
	CHECK(e.retry_after > 0);
	CHECK_HAS(e.message, "stayed busy");
	CHECK_INT(slot_queued(dir, 4), 0);	/* and left the queue */
	slot_release(a);
	CHECK_INT(slot_busy(dir, 2), 1);
	c = slot_acquire(dir, 2, 0.1, 4, NULL, &e);
	CHECK(c >= 0);
	slot_release(b);
	slot_release(c);
	slot_release(-1);	/* does nothing */
	CHECK_INT(slot_busy(dir, 2), 0);
	teardown();
}

TEST(waiter_gets_the_freed_slot)
{
	struct err e;
	pid_t pid;
	int a;

	setup();
	memset(&e, 0, sizeof(e));
	a = slot_acquire(dir, 1, 1, 4, NULL, &e);
	pid = waiter(1, 10, 4, NULL);
	if (!CHECK(queued_becomes(4, 1)))
		goto out;
	slot_release(a);
	a = -1;
	CHECK_INT(reap(pid), 0);	/* exit 0: it got the slot */
	CHECK_INT(slot_queued(dir, 4), 0);
out:
	slot_release(a);
	teardown();
}

/*
 * A worker killed while it waits must not keep its place: with a counter in shared memory
 * its count leaked, and once the leaks reached the queue's size every miss was refused.
 */
TEST(killed_waiter_leaves_no_place_behind)
{
	struct err e;
	pid_t pid;
	double t;
	int a, i;

	setup();
	memset(&e, 0, sizeof(e));
	a = slot_acquire(dir, 1, 1, 1, NULL, &e);
	for (i = 0; i < 3; i++) {
		pid = waiter(1, 30, 1, NULL);
		if (!CHECK(queued_becomes(1, 1)))
			break;
		/* The one place is taken: another request is refused at once. */
		t = now();
		CHECK_INT(slot_acquire(dir, 1, 5, 1, NULL, &e), -1);
		CHECK(now() - t < 1);
		CHECK_HAS(e.message, "queue is full");
		kill(pid, SIGKILL);
		CHECK(WIFSIGNALED(reap(pid)));
		CHECK_INT(slot_queued(dir, 1), 0);
	}
	/* After three deaths the place is free: a request waits in it (and times out). */
	t = now();
	CHECK_INT(slot_acquire(dir, 1, 0.2, 1, NULL, &e), -1);
	CHECK(now() - t >= 0.2);
	CHECK_HAS(e.message, "stayed busy");
	slot_release(a);
	teardown();
}

TEST(queue_places_all_count)
{
	struct err e;
	pid_t pids[5];
	int a, i;

	setup();
	memset(&e, 0, sizeof(e));
	a = slot_acquire(dir, 1, 1, 5, NULL, &e);
	for (i = 0; i < 5; i++)
		pids[i] = waiter(1, 30, 5, NULL);
	CHECK(queued_becomes(5, 5));
	CHECK_INT(slot_queued(dir, 5), 5);	/* counting takes no place from anyone */
	CHECK_INT(slot_acquire(dir, 1, 1, 5, NULL, &e), -1);
	CHECK_HAS(e.message, "queue is full");
	for (i = 0; i < 5; i++)
		kill(pids[i], SIGKILL);
	for (i = 0; i < 5; i++)
		reap(pids[i]);
	CHECK_INT(slot_queued(dir, 5), 0);
	slot_release(a);
	teardown();
}

static volatile sig_atomic_t stop_flag;

static void
on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* A worker asked to stop while it waits answers at once instead of waiting out its time. */
TEST(stop_ends_the_wait)
{
	struct sigaction sa;
	struct err e;
	pid_t pid;
	double t;
	int a, status;

	setup();
	memset(&e, 0, sizeof(e));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;	/* as main.c: no SA_RESTART */
	sigaction(SIGTERM, &sa, NULL);	/* inherited by the child */
	a = slot_acquire(dir, 1, 1, 4, NULL, &e);
	pid = waiter(1, 30, 4, &stop_flag);
	if (!CHECK(queued_becomes(4, 1)))
		goto out;
	t = now();
	kill(pid, SIGTERM);
	status = reap(pid);
	CHECK(now() - t < 2);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);	/* overloaded, not a slot */
	CHECK_INT(slot_queued(dir, 4), 0);
	/* Already stopping: no wait at all. */
	stop_flag = 1;
	t = now();
	CHECK_INT(slot_acquire(dir, 1, 5, 4, &stop_flag, &e), -1);
	CHECK(now() - t < 1);
	CHECK_HAS(e.message, "stopping");
out:
	slot_release(a);
	teardown();
}

UNIT_MAIN(slots_taken_and_given_back, waiter_gets_the_freed_slot,
    killed_waiter_leaves_no_place_behind, queue_places_all_count, stop_ends_the_wait)

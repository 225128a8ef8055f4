/* test_jobs.c -- tests for fcgi/jobs.c: a job's life in a real SQLite file */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "log.h"
#include "unit.h"

static char path[300];
static struct jobs *j;

static const char K1[] = "1111111111111111111111111111111111111111111111111111111111111111";
static const char K2[] = "2222222222222222222222222222222222222222222222222222222222222222";
static const char K3[] = "3333333333333333333333333333333333333333333333333333333333333333";
static const char A[] = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
static const char B[] = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
static const char C[] = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";
static const char D[] = "dddddddd-dddd-4ddd-8ddd-dddddddddddd";

/* Removes the database and its WAL and shared-memory files. */
static void
remove_db(void)
{
	char other[320];

	unlink(path);
	snprintf(other, sizeof(other), "%s-wal", path);
	unlink(other);
	snprintf(other, sizeof(other), "%s-shm", path);
	unlink(other);
}

static void
cleanup(void)
{
	jobs_close(j);
	j = NULL;
	if (path[0] != '\0')
		remove_db();
}

static void
fresh(void)
{
	static int registered;

	if (!registered++)
		atexit(cleanup);
	log_set_level(LOG_ERROR);
	if (j != NULL)
		jobs_close(j);
	snprintf(path, sizeof(path), "%s/scadserve-jobs-%d.sqlite",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	remove_db();
	j = jobs_open(path);
}

static const char *
state_of(const char *id)
{
	static struct job_info ji;

	jobs_info_free(&ji);
	return jobs_get(j, id, &ji) == 1 ? ji.state : "unknown";
}

static int
submit(const char *id, const char *key, int done, int *joined)
{
	struct err e;

	memset(&e, 0, sizeof(e));
	return jobs_submit(j, id, key, "text/plain", "", "cube(1);", 8, done, 2, joined, &e);
}

TEST(queued_running_done)
{
	struct job_work w;
	struct job_info ji;
	int joined;

	fresh();
	if (!CHECK(j != NULL))
		return;
	CHECK_INT(submit(A, K1, 0, &joined), 0);
	CHECK_INT(joined, 0);
	CHECK_STR(state_of(A), "queued");
	if (CHECK_INT(jobs_get(j, A, &ji), 1)) {
		CHECK_INT(ji.position, 1);
		jobs_info_free(&ji);
	}
	if (CHECK_INT(jobs_claim(j, 4242, &w), 1)) {
		CHECK_STR(w.key, K1);
		CHECK_STR((char *)w.body, "cube(1);");
		CHECK_STR(w.content_type, "text/plain");
		jobs_work_free(&w);
	}
	CHECK_STR(state_of(A), "running");
	CHECK_INT(jobs_claim(j, 4242, &w), 0);	/* nothing else queued */
	jobs_stage(j, K1, "rendering");
	if (CHECK_INT(jobs_get(j, A, &ji), 1)) {
		CHECK_STR(ji.stage, "rendering");
		CHECK(ji.started > 0);
		jobs_info_free(&ji);
	}
	CHECK_INT(jobs_finish(j, K1, "done", K2, "wasm", 0.5, NULL, "{\"format\":\"stl\"}"), 0);
	if (CHECK_INT(jobs_get(j, A, &ji), 1)) {
		CHECK_STR(ji.state, "done");
		CHECK_STR(ji.result_key, K2);
		CHECK_STR(ji.engine, "wasm");
		CHECK(ji.result != NULL && strcmp(ji.result, "{\"format\":\"stl\"}") == 0);
		CHECK(ji.finished > 0);
		jobs_info_free(&ji);
	}
	CHECK_INT(jobs_get(j, D, &ji), 0);
}

TEST(identical_jobs_share_a_render_and_the_queue_is_bounded)
{
	struct job_work w;
	struct job_info ji;
	struct err e;
	int joined, runner;

	fresh();
	CHECK_INT(submit(A, K1, 0, &joined), 0);
	CHECK_INT(submit(B, K1, 0, &joined), 0);
	CHECK_INT(joined, 1);
	CHECK_INT(submit(C, K2, 0, &joined), 0);
	/* Two renders queued: the third key is refused. */
	memset(&e, 0, sizeof(e));
	CHECK_INT(jobs_submit(j, D, K3, "", "", "x", 1, 0, 2, &joined, &e), -1);
	CHECK_INT(e.type, ERR_OVERLOADED);
	CHECK(e.retry_after > 0);
	if (CHECK_INT(jobs_get(j, C, &ji), 1)) {
		CHECK_INT(ji.position, 2);
		jobs_info_free(&ji);
	}
	/* Oldest first. */
	if (CHECK_INT(jobs_claim(j, 77, &w), 1)) {
		CHECK_STR(w.key, K1);
		jobs_work_free(&w);
	}
	/* One of two jobs cancelled: the render goes on for the other. */
	CHECK_INT(jobs_cancel(j, A, &runner), 1);
	CHECK_INT(runner, 0);
	CHECK_INT(jobs_should_stop(j, K1), 0);
	CHECK_STR(state_of(A), "cancelled");
	CHECK_STR(state_of(B), "running");
	/* The last one cancelled: its runner is named and told to stop. */
	CHECK_INT(jobs_cancel(j, B, &runner), 1);
	CHECK_INT(runner, 77);
	CHECK_INT(jobs_should_stop(j, K1), 1);
	CHECK_INT(jobs_cancel(j, B, &runner), 0);	/* cancelled already */
	/* A queued render cancelled is dropped: nothing to claim for it. */
	CHECK_INT(jobs_cancel(j, C, &runner), 1);
	CHECK_INT(runner, 0);
	CHECK_INT(jobs_claim(j, 78, &w), 0);
}

static int
nobody_alive(int pid)
{
	(void)pid;
	return 0;
}

TEST(a_render_whose_runner_died_is_run_once_more_then_failed)
{
	struct job_work w;
	struct job_info ji;
	int joined;

	fresh();
	CHECK_INT(submit(A, K1, 0, &joined), 0);
	CHECK_INT(jobs_claim(j, 99, &w), 1);
	jobs_work_free(&w);
	CHECK_INT(jobs_recover(j, nobody_alive), 1);
	CHECK_STR(state_of(A), "queued");
	CHECK_INT(jobs_claim(j, 100, &w), 1);
	CHECK_INT(w.attempts, 1);
	jobs_work_free(&w);
	CHECK_INT(jobs_recover(j, nobody_alive), 1);
	if (CHECK_INT(jobs_get(j, A, &ji), 1)) {
		CHECK_STR(ji.state, "failed");
		CHECK(ji.error != NULL && strstr(ji.error, "\"internal\"") != NULL);
		jobs_info_free(&ji);
	}
}

TEST(done_at_once_counts_and_pruning)
{
	int64_t n[5];
	int joined;

	fresh();
	CHECK_INT(submit(A, K1, 1, &joined), 0);
	CHECK_STR(state_of(A), "done");
	CHECK_INT(submit(B, K2, 0, &joined), 0);
	if (CHECK_INT(jobs_counts(j, n), 0)) {
		CHECK_INT(n[0], 1);
		CHECK_INT(n[2], 1);
	}
	jobs_prune(j, -10);	/* everything finished before "10 s from now" */
	CHECK_STR(state_of(A), "unknown");
	CHECK_STR(state_of(B), "queued");
	jobs_close(j);
	j = NULL;
	remove_db();
}

/* Process 1000 is alive; every other pid is gone. */
static int
only_1000_alive(int pid)
{
	return pid == 1000;
}

TEST(a_request_whose_process_died_leaves_no_queued_render)
{
	struct job_work w;
	struct err e;
	int joined;

	fresh();
	jobs_set_alive(j, only_1000_alive);
	memset(&e, 0, sizeof(e));
	/* A (waited on by 999, gone) and B (by 1000, alive) on K1; C (by 999) alone on K2. */
	CHECK_INT(submit(A, K1, 0, &joined), 0);
	CHECK_INT(submit(B, K1, 0, &joined), 0);
	CHECK_INT(submit(C, K2, 0, &joined), 0);
	jobs_wait_by(j, A, 999);
	jobs_wait_by(j, B, 1000);
	jobs_wait_by(j, C, 999);
	CHECK_INT(jobs_queue_depth(j), 1);	/* K2 waits for nobody */
	/* The queue (2) looks full, but K2 is nobody's any more: a new render gets in. */
	CHECK_INT(jobs_submit(j, D, K3, "", "", "x", 1, 0, 2, &joined, &e), 0);
	CHECK_STR(state_of(C), "cancelled");
	CHECK_STR(state_of(A), "cancelled");
	CHECK_STR(state_of(B), "queued");
	CHECK_INT(jobs_queue_depth(j), 2);
	/* The runners take K1 (for B), then K3; K2 is gone. */
	if (CHECK_INT(jobs_claim(j, 5, &w), 1)) {
		CHECK_STR(w.key, K1);
		jobs_work_free(&w);
	}
	if (CHECK_INT(jobs_claim(j, 5, &w), 1)) {
		CHECK_STR(w.key, K3);
		jobs_work_free(&w);
	}
	CHECK_INT(jobs_claim(j, 5, &w), 0);
	/* A running render nobody waits for when its runner dies is dropped, not run again. */
	jobs_wait_by(j, B, 998);
	CHECK_INT(jobs_recover(j, nobody_alive), 2);
	CHECK_INT(jobs_claim(j, 6, &w), 1);	/* K3 (D waits, unclaimed by a waiter) again */
	CHECK_STR(w.key, K3);
	jobs_work_free(&w);
	CHECK_INT(jobs_claim(j, 6, &w), 0);
}

/*
 * Every process of a fresh instance opens the new database at once (16 wait workers, the front
 * pool, the runners): each must get it. A schema made in deferred transactions let some of
 * them fail with "database is locked" for their whole life.
 */
TEST(many_processes_open_a_new_database_at_once)
{
	pid_t pids[24];
	int i, status, ok = 0, go[2];

	fresh();
	jobs_close(j);
	j = NULL;
	remove_db();
	if (!CHECK(pipe(go) == 0))
		return;
	for (i = 0; i < 24; i++) {
		if ((pids[i] = fork()) == 0) {
			char c;
			struct jobs *mine;

			close(go[1]);
			(void)!read(go[0], &c, 1);	/* all at once */
			mine = jobs_open(path);
			_exit(mine != NULL && jobs_queue_depth(mine) == 0 ? 0 : 1);
		}
	}
	close(go[0]);
	close(go[1]);	/* EOF: every child starts */
	for (i = 0; i < 24; i++)
		if (pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			ok++;
	CHECK_INT(ok, 24);
	j = jobs_open(path);
	CHECK(j != NULL);
}

UNIT_MAIN(queued_running_done, identical_jobs_share_a_render_and_the_queue_is_bounded,
    a_render_whose_runner_died_is_run_once_more_then_failed, done_at_once_counts_and_pruning,
    a_request_whose_process_died_leaves_no_queued_render, many_processes_open_a_new_database_at_once)

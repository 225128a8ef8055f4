/* jobs.c -- render jobs in SQLite: submitted by any worker, run by the runners, read by anyone */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "jobs.h"
#include "log.h"

/*
 * Two tables. A render is one key to render: queued, then running in a runner, and gone once
 * it ends. A job is one client's request: it follows its key's render while that lives
 * (state 'active'), and keeps its outcome after. Identical requests are jobs of one render.
 */
static const char pragmas[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;";	/* jobs are short-lived: a power cut may lose the last */
static const char schema[] =
	"CREATE TABLE IF NOT EXISTS renders ("
	" key TEXT PRIMARY KEY, state TEXT NOT NULL, ctype TEXT, query TEXT, body BLOB,"
	" runner INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
	" stage TEXT NOT NULL DEFAULT '', stop INTEGER NOT NULL DEFAULT 0,"
	" created REAL NOT NULL, started REAL NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS renders_queue ON renders (state, created);"
	"CREATE TABLE IF NOT EXISTS jobs ("
	" id TEXT PRIMARY KEY, key TEXT NOT NULL, state TEXT NOT NULL,"
	" created REAL NOT NULL, finished REAL NOT NULL DEFAULT 0, result_key TEXT NOT NULL DEFAULT '',"
	" engine TEXT NOT NULL DEFAULT '', seconds REAL NOT NULL DEFAULT 0, error TEXT);"
	"CREATE INDEX IF NOT EXISTS jobs_key ON jobs (key, state);"
	"CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished);";

struct jobs {
	sqlite3 *db;
	int (*alive)(int pid);     /* whether a waiting request's process is there */
};

static double
wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
copy_text(sqlite3_stmt *st, int col, char *out, size_t outlen)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

/* A database made before jobs had column name gets it (decl: its type). 0 or -1 (*msg set). */
static int
add_column(struct jobs *j, const char *name, const char *decl, char **msg)
{
	sqlite3_stmt *st;
	char sql[160];
	int has = 0;

	if (sqlite3_prepare_v2(j->db, "SELECT 1 FROM pragma_table_info('jobs') WHERE name = ?1",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	has = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (has)
		return 0;
	/* Two processes may both try: the loser's "duplicate column" is no failure. */
	snprintf(sql, sizeof(sql), "ALTER TABLE jobs ADD COLUMN %s %s", name, decl);
	if (sqlite3_exec(j->db, sql, NULL, NULL, msg) != SQLITE_OK &&
	    strstr(sqlite3_errmsg(j->db), "duplicate column") == NULL)
		return -1;
	sqlite3_free(*msg);
	*msg = NULL;
	return 0;
}

/* Whether process pid is there (a zombie counts until reaped; EPERM: another user's). */
static int
pid_alive(int pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

struct jobs *
jobs_open(const char *path)
{
	struct jobs *j = calloc(1, sizeof(*j));
	char *msg = NULL;
	int attempt;

	if (j == NULL)
		return NULL;
	j->alive = pid_alive;
	if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(j->db, 10000) != SQLITE_OK)
		goto fail;
	/*
	 * Every process of an instance opens it at once when it starts. The schema is made in
	 * one IMMEDIATE transaction (a deferred one that turns into a write fails at once under
	 * concurrency, whatever the busy timeout); the journal mode, which no transaction may
	 * change, is tried again while another process holds the lock.
	 */
	for (attempt = 0; ; attempt++) {
		sqlite3_free(msg);
		msg = NULL;
		if (sqlite3_exec(j->db, pragmas, NULL, NULL, &msg) == SQLITE_OK &&
		    sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) == SQLITE_OK) {
			if (sqlite3_exec(j->db, schema, NULL, NULL, &msg) == SQLITE_OK &&
			    add_column(j, "result", "TEXT", &msg) == 0 &&
			    add_column(j, "waiter", "INTEGER NOT NULL DEFAULT 0", &msg) == 0 &&
			    sqlite3_exec(j->db, "COMMIT", NULL, NULL, &msg) == SQLITE_OK)
				break;
			sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
		}
		if (attempt >= 100 || (sqlite3_errcode(j->db) != SQLITE_BUSY &&
		    sqlite3_errcode(j->db) != SQLITE_LOCKED))
			goto fail;
		poll(NULL, 0, 20);
	}
	return j;
fail:
	log_msg(LOG_ERROR, NULL, "jobs database %s: %s", path, msg ? msg : sqlite3_errmsg(j->db));
	sqlite3_free(msg);
	jobs_close(j);
	return NULL;
}

void
jobs_close(struct jobs *j)
{
	if (j == NULL)
		return;
	sqlite3_close(j->db);
	free(j);
}

/* Runs one statement with text parameters (NULL-terminated list). SQLITE_DONE/ROW or error. */
static int
run(struct jobs *j, const char *sql, const char *const args[])
{
	sqlite3_stmt *st;
	int rc, i;

	if ((rc = sqlite3_prepare_v2(j->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	for (i = 0; args != NULL && args[i] != NULL; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc;
}

/* One integer from a query with text parameters; -1 on failure. */
static long long
one_int(struct jobs *j, const char *sql, const char *const args[])
{
	sqlite3_stmt *st;
	long long v = -1;
	int i;

	if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (i = 0; args != NULL && args[i] != NULL; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

void
jobs_set_alive(struct jobs *j, int (*alive)(int pid))
{
	j->alive = alive;
}

void
jobs_wait_by(struct jobs *j, const char *id, int pid)
{
	char p[16];
	const char *a[3] = { p, id, NULL };

	snprintf(p, sizeof(p), "%d", pid);
	(void)run(j, "UPDATE jobs SET waiter = ?1 WHERE id = ?2 AND state = 'active'", a);
}

/*
 * Inside a write transaction: jobs whose waiting request's process is gone are cancelled, and
 * queued renders nobody waits on any more are dropped. Returns the renders dropped, -1 on
 * failure.
 */
static int
drop_orphans(struct jobs *j)
{
	sqlite3_stmt *st;
	char ids[64][37], now[32];
	int n = 0, i;

	if (sqlite3_prepare_v2(j->db, "SELECT id, waiter FROM jobs WHERE state = 'active' AND "
	    "waiter > 0", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW && n < 64)
		if (!j->alive(sqlite3_column_int(st, 1)))
			copy_text(st, 0, ids[n++], sizeof(ids[0]));
	sqlite3_finalize(st);
	snprintf(now, sizeof(now), "%.6f", wall());
	for (i = 0; i < n; i++) {
		const char *a[3] = { now, ids[i], NULL };

		if (run(j, "UPDATE jobs SET state = 'cancelled', finished = ?1 WHERE id = ?2", a) !=
		    SQLITE_DONE)
			return -1;
	}
	if (run(j, "DELETE FROM renders WHERE state = 'queued' AND NOT EXISTS (SELECT 1 FROM "
	    "jobs WHERE jobs.key = renders.key AND jobs.state = 'active')", NULL) != SQLITE_DONE)
		return -1;
	return sqlite3_changes(j->db);
}

int
jobs_submit(struct jobs *j, const char *id, const char *key, const char *content_type,
    const char *query, const void *body, size_t len, int done, uint64_t queue_max,
    int *joined, struct err *e)
{
	sqlite3_stmt *st = NULL;
	const char *args[3] = { key, NULL, NULL };
	double now = wall();
	long long queued;

	*joined = 0;
	/* IMMEDIATE: a deferred transaction that turns into a write fails under concurrency. */
	if (sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (!done) {
		*joined = one_int(j, "SELECT count(*) FROM renders WHERE key = ?1", args) > 0;
		if (!*joined) {
			queued = one_int(j, "SELECT count(*) FROM renders WHERE state = 'queued'", NULL);
			/* Full: but perhaps of renders whose requests are gone (their process died). */
			if (queued >= 0 && (uint64_t)queued >= queue_max && drop_orphans(j) > 0)
				queued = one_int(j, "SELECT count(*) FROM renders WHERE state = 'queued'",
				    NULL);
			if (queued < 0)
				goto fail;
			if ((uint64_t)queued >= queue_max) {
				sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
				err_set(e, ERR_OVERLOADED, "%lld renders are queued already (the limit): "
				    "try again shortly", queued);
				e->retry_after = 5;
				return -1;
			}
			if (sqlite3_prepare_v2(j->db, "INSERT INTO renders (key, state, ctype, query, "
			    "body, created) VALUES (?1, 'queued', ?2, ?3, ?4, ?5)", -1, &st,
			    NULL) != SQLITE_OK)
				goto fail;
			sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, content_type ? content_type : "", -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, query ? query : "", -1, SQLITE_STATIC);
			sqlite3_bind_blob(st, 4, body, (int)len, SQLITE_STATIC);
			sqlite3_bind_double(st, 5, now);
			if (sqlite3_step(st) != SQLITE_DONE)
				goto fail;
			sqlite3_finalize(st);
			st = NULL;
		}
	}
	if (sqlite3_prepare_v2(j->db, "INSERT INTO jobs (id, key, state, created, finished) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, done ? "done" : "active", -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, now);
	sqlite3_bind_double(st, 5, done ? now : 0);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	if (sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	log_msg(LOG_ERROR, NULL, "jobs: submit: %s", sqlite3_errmsg(j->db));
	sqlite3_finalize(st);
	sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	err_set(e, ERR_INTERNAL, "cannot record the job");
	return -1;
}

int
jobs_get(struct jobs *j, const char *id, struct job_info *out)
{
	sqlite3_stmt *st;
	const unsigned char *err;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(j->db, "SELECT j.key, j.state, j.created, j.finished, j.result_key, "
	    "j.engine, j.seconds, j.error, r.state, r.started, r.stage, "
	    "(SELECT count(*) FROM renders q WHERE q.state = 'queued' AND q.created <= r.created), "
	    "j.result FROM jobs j LEFT JOIN renders r ON r.key = j.key WHERE j.id = ?1", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	snprintf(out->id, sizeof(out->id), "%s", id);
	copy_text(st, 0, out->key, sizeof(out->key));
	copy_text(st, 1, out->state, sizeof(out->state));
	out->created = sqlite3_column_double(st, 2);
	out->finished = sqlite3_column_double(st, 3);
	copy_text(st, 4, out->result_key, sizeof(out->result_key));
	copy_text(st, 5, out->engine, sizeof(out->engine));
	out->seconds = sqlite3_column_double(st, 6);
	if ((err = sqlite3_column_text(st, 7)) != NULL)
		out->error = strdup((const char *)err);
	if ((err = sqlite3_column_text(st, 12)) != NULL)
		out->result = strdup((const char *)err);
	if (strcmp(out->state, "active") == 0) {
		/* Following its render: queued or running (a render gone is being finished). */
		copy_text(st, 8, out->state, sizeof(out->state));
		if (out->state[0] == '\0')
			snprintf(out->state, sizeof(out->state), "running");
		out->started = sqlite3_column_double(st, 9);
		copy_text(st, 10, out->stage, sizeof(out->stage));
		out->position = sqlite3_column_int(st, 11);
	}
	sqlite3_finalize(st);
	return 1;
}

void
jobs_info_free(struct job_info *info)
{
	free(info->error);
	free(info->result);
	info->error = NULL;
	info->result = NULL;
}

int
jobs_cancel(struct jobs *j, const char *id, int *runner)
{
	const char *args[2] = { id, NULL };
	char key[65] = "";
	sqlite3_stmt *st;
	int done = 0;

	*runner = 0;
	if (sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(j->db, "SELECT key FROM jobs WHERE id = ?1 AND state = 'active'",
	    -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		copy_text(st, 0, key, sizeof(key));
	sqlite3_finalize(st);
	if (key[0] != '\0') {
		const char *k[2] = { key, NULL };
		char now[32];
		const char *a[3] = { now, id, NULL };

		snprintf(now, sizeof(now), "%.6f", wall());
		if (run(j, "UPDATE jobs SET state = 'cancelled', finished = ?1 WHERE id = ?2", a) !=
		    SQLITE_DONE)
			goto fail;
		done = 1;
		/* Nobody else waits on its render: drop it, or tell its runner to stop. */
		if (one_int(j, "SELECT count(*) FROM jobs WHERE key = ?1 AND state = 'active'", k) == 0) {
			*runner = (int)one_int(j, "SELECT runner FROM renders WHERE key = ?1 AND "
			    "state = 'running'", k);
			if (*runner < 0)
				*runner = 0;
			if (run(j, "DELETE FROM renders WHERE key = ?1 AND state = 'queued'", k) !=
			    SQLITE_DONE || run(j, "UPDATE renders SET stop = 1 WHERE key = ?1", k) !=
			    SQLITE_DONE)
				goto fail;
		}
	}
	(void)args;
	if (sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return done;
fail:
	log_msg(LOG_ERROR, NULL, "jobs: cancel: %s", sqlite3_errmsg(j->db));
	sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
jobs_claim(struct jobs *j, int pid, struct job_work *w)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	memset(w, 0, sizeof(*w));
	if (sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (drop_orphans(j) < 0)	/* never render for nobody */
		goto fail;
	if (sqlite3_prepare_v2(j->db, "SELECT key, ctype, query, body, attempts FROM renders "
	    "WHERE state = 'queued' ORDER BY created, key LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(st, 3);
		int n = sqlite3_column_bytes(st, 3);

		copy_text(st, 0, w->key, sizeof(w->key));
		w->content_type = strdup((const char *)(sqlite3_column_text(st, 1) ?
		    sqlite3_column_text(st, 1) : (const unsigned char *)""));
		w->query = strdup((const char *)(sqlite3_column_text(st, 2) ?
		    sqlite3_column_text(st, 2) : (const unsigned char *)""));
		w->body = malloc((size_t)n + 1);
		w->len = (size_t)n;
		w->attempts = sqlite3_column_int(st, 4);
		if (w->content_type == NULL || w->query == NULL || w->body == NULL)
			goto fail;
		if (n > 0)
			memcpy(w->body, b, (size_t)n);
		w->body[n] = '\0';
		rc = 1;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == 1) {
		if (sqlite3_prepare_v2(j->db, "UPDATE renders SET state = 'running', runner = ?1, "
		    "attempts = attempts + 1, started = ?2, stage = '' WHERE key = ?3", -1, &st,
		    NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_int(st, 1, pid);
		sqlite3_bind_double(st, 2, wall());
		sqlite3_bind_text(st, 3, w->key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_finalize(st);
		st = NULL;
	}
	if (sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return rc;
fail:
	log_msg(LOG_ERROR, NULL, "jobs: claim: %s", sqlite3_errmsg(j->db));
	sqlite3_finalize(st);
	sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	jobs_work_free(w);
	return -1;
}

void
jobs_work_free(struct job_work *w)
{
	free(w->content_type);
	free(w->query);
	free(w->body);
	memset(w, 0, sizeof(*w));
}

int
jobs_should_stop(struct jobs *j, const char *key)
{
	const char *k[2] = { key, NULL };

	return one_int(j, "SELECT stop FROM renders WHERE key = ?1", k) == 1;
}

void
jobs_requeue(struct jobs *j, const char *key)
{
	const char *k[2] = { key, NULL };

	(void)run(j, "UPDATE renders SET state = 'queued', runner = 0, created = 0 WHERE key = ?1 "
	    "AND state = 'running'", k);
}

void
jobs_stage(struct jobs *j, const char *key, const char *stage)
{
	const char *a[3] = { stage, key, NULL };

	(void)run(j, "UPDATE renders SET stage = ?1 WHERE key = ?2", a);
}

int
jobs_finish(struct jobs *j, const char *key, const char *state, const char *result_key,
    const char *engine, double seconds, const char *error, const char *result)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(j->db, "UPDATE jobs SET state = ?1, finished = ?2, result_key = ?3, "
	    "engine = ?4, seconds = ?5, error = ?6, result = ?8 WHERE key = ?7 AND state = 'active'", -1, &st,
	    NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, wall());
	sqlite3_bind_text(st, 3, result_key ? result_key : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, engine ? engine : "", -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 5, seconds);
	if (error != NULL)
		sqlite3_bind_text(st, 6, error, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_text(st, 7, key, -1, SQLITE_STATIC);
	if (result != NULL)
		sqlite3_bind_text(st, 8, result, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 8);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	{
		const char *k[2] = { key, NULL };

		if (run(j, "DELETE FROM renders WHERE key = ?1", k) != SQLITE_DONE)
			goto fail;
	}
	if (sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	log_msg(LOG_ERROR, NULL, "jobs: finish: %s", sqlite3_errmsg(j->db));
	sqlite3_finalize(st);
	sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
jobs_recover(struct jobs *j, int (*alive)(int pid))
{
	sqlite3_stmt *st;
	char keys[64][65];
	int attempts[64], n = 0, i, found = 0;

	if (sqlite3_prepare_v2(j->db, "SELECT key, runner, attempts FROM renders WHERE state = "
	    "'running'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW && n < 64) {
		if (alive(sqlite3_column_int(st, 1)))
			continue;
		copy_text(st, 0, keys[n], sizeof(keys[n]));
		attempts[n++] = sqlite3_column_int(st, 2);
	}
	sqlite3_finalize(st);
	for (i = 0; i < n; i++) {
		const char *k[2] = { keys[i], NULL };

		found++;
		if (one_int(j, "SELECT count(*) FROM jobs WHERE key = ?1 AND state = 'active'", k) == 0) {
			/* Nobody waits for it any more: not worth another try. */
			(void)run(j, "DELETE FROM renders WHERE key = ?1 AND state = 'running'", k);
		} else if (attempts[i] < 2) {
			/* Its runner died under it: once more, at the head of the queue. */
			log_msg(LOG_WARN, NULL, "jobs: render %.12s... lost its runner; queued again",
			    keys[i]);
			(void)run(j, "UPDATE renders SET state = 'queued', runner = 0, created = 0 "
			    "WHERE key = ?1 AND state = 'running'", k);
		} else {
			log_msg(LOG_WARN, NULL, "jobs: render %.12s... lost its runner twice; failed",
			    keys[i]);
			(void)jobs_finish(j, keys[i], "failed", NULL, NULL, 0,
			    "{\"type\":\"internal\",\"status\":500,\"message\":\"the render's process "
			    "died twice; it was not tried again\"}", NULL);
		}
	}
	return found;
}

void
jobs_prune(struct jobs *j, double seconds)
{
	char before[32];
	const char *a[2] = { before, NULL };

	snprintf(before, sizeof(before), "%.6f", wall() - seconds);
	(void)run(j, "DELETE FROM jobs WHERE state <> 'active' AND finished < ?1", a);
}

int64_t
jobs_queue_depth(struct jobs *j)
{
	sqlite3_stmt *st;
	char last[65] = "";
	int64_t n = 0;
	int counted = 0;

	/* A render counts once, if a job waits on it that is not a dead process's request. */
	if (sqlite3_prepare_v2(j->db, "SELECT r.key, jb.waiter FROM renders r JOIN jobs jb ON "
	    "jb.key = r.key AND jb.state = 'active' WHERE r.state = 'queued' ORDER BY r.key", -1,
	    &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		int waiter = sqlite3_column_int(st, 1);

		if (k == NULL)
			continue;
		if (strcmp(k, last) != 0) {
			snprintf(last, sizeof(last), "%s", k);
			counted = 0;
		}
		if (!counted && (waiter <= 0 || j->alive(waiter))) {
			counted = 1;
			n++;
		}
	}
	sqlite3_finalize(st);
	return n;
}

int
jobs_counts(struct jobs *j, int64_t counts[5])
{
	static const char *const sql[5] = {
		"SELECT count(*) FROM jobs j JOIN renders r ON r.key = j.key WHERE j.state = 'active' "
		"AND r.state = 'queued'",
		"SELECT count(*) FROM jobs j JOIN renders r ON r.key = j.key WHERE j.state = 'active' "
		"AND r.state = 'running'",
		"SELECT count(*) FROM jobs WHERE state = 'done'",
		"SELECT count(*) FROM jobs WHERE state = 'failed'",
		"SELECT count(*) FROM jobs WHERE state = 'cancelled'",
	};
	int i;

	for (i = 0; i < 5; i++)
		if ((counts[i] = one_int(j, sql[i], NULL)) < 0)
			return -1;
	return 0;
}

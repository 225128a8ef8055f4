/* test_metrics.c -- tests for fcgi/metrics.c: counters, sharing through the file, Prometheus text */
#include <sys/wait.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "unit.h"

static const struct metrics_gauges gauges = { 7, 12345, 4, 1, 1, 0, { 0 } };

/* The value on the line "<series> <value>" of text, or -1 if there is none. */
static double
value(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p;

	for (p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* metrics_text with the test gauges; the caller frees. */
static char *
text(void)
{
	char *t = metrics_text(&gauges);

	CHECK(t != NULL);
	return t;
}

TEST(requests_and_errors)
{
	char *before = text(), *after;
	double r0 = value(before, "scadserve_requests_total{endpoint=\"render\"}");
	double m0 = value(before, "scadserve_requests_total{endpoint=\"models\"}");
	double t0 = value(before, "scadserve_errors_total{type=\"timeout\"}");

	CHECK(r0 >= 0);
	CHECK(m0 >= 0);
	CHECK(t0 >= 0);
	metrics_request(ROUTE_RENDER);
	metrics_request(ROUTE_RENDER);
	metrics_request(ROUTE_MODEL);
	metrics_error(ERR_TIMEOUT);
	after = text();
	if (before != NULL && after != NULL) {
		CHECK(value(after, "scadserve_requests_total{endpoint=\"render\"}") == r0 + 2);
		CHECK(value(after, "scadserve_requests_total{endpoint=\"models\"}") == m0 + 1);
		CHECK(value(after, "scadserve_errors_total{type=\"timeout\"}") == t0 + 1);
		CHECK(value(after, "scadserve_requests_total{endpoint=\"health\"}") >= 0);
		CHECK(value(after, "scadserve_requests_total{endpoint=\"metrics\"}") >= 0);
		CHECK(value(after, "scadserve_requests_total{endpoint=\"other\"}") >= 0);
		CHECK(value(after, "scadserve_errors_total{type=\"bad_request\"}") >= 0);
		CHECK(value(after, "scadserve_errors_total{type=\"internal\"}") >= 0);
		CHECK(strstr(after, "type=\"none\"") == NULL);
	}
	free(before);
	free(after);
}

TEST(counters_and_gauges)
{
	char *t;
	uint64_t hits = metrics_get(M_CACHE_HITS), warnings = metrics_get(M_RENDER_WARNINGS);

	metrics_add(M_CACHE_HITS, 3);
	metrics_add(M_RENDER_WARNINGS, 2);
	CHECK(metrics_get(M_CACHE_HITS) == hits + 3);
	t = text();
	if (t != NULL) {
		CHECK(value(t, "scadserve_cache_hits_total") == (double)(hits + 3));
		CHECK(value(t, "scadserve_queue_depth") == (double)gauges.queued);
		CHECK(value(t, "scadserve_cache_entries") == 7);
		CHECK(value(t, "scadserve_cache_bytes") == 12345);
		CHECK(value(t, "scadserve_render_slots") == 4);
		CHECK(value(t, "scadserve_renders_in_flight") == 1);
		CHECK_HAS(t, "# TYPE scadserve_cache_hits_total counter\n");
		CHECK_HAS(t, "# TYPE scadserve_queue_depth gauge\n");
		CHECK(value(t, "scadserve_cache_misses_total") >= 0);
		CHECK(value(t, "scadserve_cache_evictions_total") >= 0);
		CHECK(value(t, "scadserve_render_warnings_total") == (double)(warnings + 2));
		CHECK_HAS(t, "# TYPE scadserve_render_warnings_total counter\n");
	}
	free(t);
}

TEST(histogram)
{
	static const char *const les[] = { "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30",
	    "60", "+Inf" };
	char *before = text(), *after, series[80];
	double b[10], a[10], count0, sum0;
	size_t i;

	if (before == NULL)
		return;
	for (i = 0; i < 10; i++) {
		snprintf(series, sizeof(series), "scadserve_render_seconds_bucket{le=\"%s\"}",
		    les[i]);
		b[i] = value(before, series);
	}
	count0 = value(before, "scadserve_render_seconds_count");
	sum0 = value(before, "scadserve_render_seconds_sum");
	metrics_render(0.05);
	metrics_render(0.3);
	metrics_render(1.0);	/* on a bound: counts in le="1" */
	metrics_render(100);	/* above every bound: only +Inf */
	after = text();
	if (after == NULL) {
		free(before);
		return;
	}
	CHECK_HAS(after, "# TYPE scadserve_render_seconds histogram\n");
	for (i = 0; i < 10; i++) {
		snprintf(series, sizeof(series), "scadserve_render_seconds_bucket{le=\"%s\"}",
		    les[i]);
		a[i] = value(after, series);
		CHECK(a[i] >= 0);
		if (i > 0)
			CHECK(a[i] >= a[i - 1]);	/* cumulative */
	}
	CHECK(a[0] - b[0] == 1);	/* 0.05 */
	CHECK(a[1] - b[1] == 1);
	CHECK(a[2] - b[2] == 2);	/* 0.05, 0.3 */
	CHECK(a[3] - b[3] == 3);	/* and 1.0 */
	CHECK(a[8] - b[8] == 3);
	CHECK(a[9] - b[9] == 4);	/* and 100 */
	CHECK(value(after, "scadserve_render_seconds_count") == count0 + 4);
	CHECK(value(after, "scadserve_render_seconds_count") == a[9]);
	CHECK(value(after, "scadserve_renders_total") ==
	    value(after, "scadserve_render_seconds_count"));
	{
		double d = value(after, "scadserve_render_seconds_sum") - sum0 - 101.35;
		CHECK(d > -1e-5 && d < 1e-5);
	}
	free(before);
	free(after);
}

/* Every line is a comment (# HELP/# TYPE) or "name{labels} number". */
TEST(text_format)
{
	char *t = text(), *line, *save = NULL;
	int n = 0;

	if (t == NULL)
		return;
	CHECK(strlen(t) > 0 && t[strlen(t) - 1] == '\n');
	for (line = strtok_r(t, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		const char *p = line;
		char *end;
		n++;
		if (line[0] == '#') {
			if (!CHECK(strncmp(line, "# HELP scadserve_", 17) == 0 ||
			    strncmp(line, "# TYPE scadserve_", 17) == 0))
				printf("#   line: %s\n", line);
			continue;
		}
		if (!CHECK(strncmp(p, "scadserve_", 10) == 0))
			printf("#   line: %s\n", line);
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		if (*p == '{') {
			p = strchr(p, '}');
			if (!CHECK(p != NULL))
				continue;
			p++;
		}
		if (!CHECK(*p == ' '))
			printf("#   line: %s\n", line);
		strtod(p + 1, &end);
		if (!CHECK(end != p + 1 && *end == '\0'))
			printf("#   line: %s\n", line);
	}
	CHECK(n > 40);
	free(t);
}

TEST(open_bad_path)
{
	uint64_t v;

	log_set_level(LOG_ERROR);
	CHECK_INT(metrics_open(NULL), -1);
	CHECK_INT(metrics_open("/nonexistent-dir-scadserve/metrics"), -1);
	/* Still counting. */
	v = metrics_get(M_RENDERS);
	metrics_add(M_RENDERS, 1);
	CHECK(metrics_get(M_RENDERS) == v + 1);
	log_set_level(LOG_INFO);
}

/* A file another build laid out (other counters) starts afresh instead of being misread. */
TEST(other_layout_reset)
{
	char dir[] = "/tmp/scadserve-metrics-XXXXXX", path[64];
	uint64_t junk[64];
	int fd, i;

	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	snprintf(path, sizeof(path), "%s/metrics", dir);
	for (i = 0; i < 64; i++)
		junk[i] = 1000 + (uint64_t)i;
	junk[0] = 0x5343414453455631ULL;	/* the layout of an older build */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
	close(fd);
	log_set_level(LOG_ERROR);
	CHECK_INT(metrics_open(path), 0);
	CHECK(metrics_get(M_CACHE_STORES) == 0);
	CHECK(metrics_get(M_RENDERS) == 0);
	metrics_add(M_RENDERS, 2);
	CHECK_INT(metrics_open(path), 0);	/* and, once laid out, is kept */
	CHECK(metrics_get(M_RENDERS) == 2);
	unlink(path);
	rmdir(dir);
}

/* Two processes counting into one mapped file see the same counters. */
TEST(shared_file)
{
	char dir[] = "/tmp/scadserve-metrics-XXXXXX", path[64];
	char *t;
	pid_t pid;
	int status = -1;

	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	snprintf(path, sizeof(path), "%s/metrics", dir);
	if (!CHECK_INT(metrics_open(path), 0))
		goto out;
	CHECK(metrics_get(M_CACHE_STORES) == 0);	/* a fresh file starts at zero */
	metrics_add(M_CACHE_STORES, 3);
	metrics_request(ROUTE_HEALTH);
	/* Another process (a second FastCGI worker) counts into the same file. */
	if ((pid = fork()) == 0) {
		if (metrics_open(path) != 0)
			_exit(2);
		metrics_add(M_CACHE_STORES, 5);
		metrics_request(ROUTE_HEALTH);
		metrics_error(ERR_OVERLOADED);
		metrics_render(0.2);
		_exit(metrics_get(M_CACHE_STORES) == 8 ? 0 : 1);
	}
	if (!CHECK(pid > 0))
		goto out;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(metrics_get(M_CACHE_STORES) == 8);
	CHECK(metrics_get(M_RENDERS) == 1);
	t = text();
	if (t != NULL) {
		CHECK(value(t, "scadserve_requests_total{endpoint=\"health\"}") == 2);
		CHECK(value(t, "scadserve_errors_total{type=\"overloaded\"}") == 1);
		CHECK(value(t, "scadserve_cache_stores_total") == 8);
		CHECK(value(t, "scadserve_render_seconds_bucket{le=\"0.25\"}") == 1);
		CHECK(value(t, "scadserve_render_seconds_count") == 1);
	}
	free(t);
	/* Opened again (a restarted worker): the counts are kept. */
	CHECK_INT(metrics_open(path), 0);
	CHECK(metrics_get(M_CACHE_STORES) == 8);
out:
	unlink(path);
	rmdir(dir);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A process waiting on a counter wakes when another process bumps it, not at its timeout. */
TEST(wait_and_bump_across_processes)
{
	char dir[] = "/tmp/scadserve-metrics-XXXXXX", path[64];
	uint64_t seen, got;
	double t0, took;
	pid_t pid;
	int status = -1;

	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	snprintf(path, sizeof(path), "%s/metrics", dir);
	if (!CHECK_INT(metrics_open(path), 0))
		return;
	seen = metrics_get(M_JOBS_ENDED);
	/* Not seen any more: at once. */
	t0 = now_ms();
	CHECK(metrics_wait(M_JOBS_ENDED, seen + 1, 5000) == seen);
	CHECK(now_ms() - t0 < 1000);
	/* Nothing happens: the timeout. */
	t0 = now_ms();
	CHECK(metrics_wait(M_JOBS_ENDED, seen, 60) == seen);
	took = now_ms() - t0;
	CHECK(took >= 50 && took < 2000);
	/* Another process bumps it 100 ms from now: woken then, long before 10 s. */
	if ((pid = fork()) == 0) {
		usleep(100 * 1000);
		metrics_bump(M_JOBS_ENDED);
		_exit(0);
	}
	t0 = now_ms();
	got = metrics_wait(M_JOBS_ENDED, seen, 10000);
	took = now_ms() - t0;
	CHECK(got == seen + 1);
	CHECK(took < 5000);
	waitpid(pid, &status, 0);
	CHECK_INT(status, 0);
	unlink(path);
	rmdir(dir);
}

UNIT_MAIN(other_layout_reset, requests_and_errors, counters_and_gauges, histogram, text_format, open_bad_path,
    shared_file, wait_and_bump_across_processes)

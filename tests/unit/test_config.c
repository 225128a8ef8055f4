/* test_config.c -- tests for fcgi/config.c: defaults, each variable, bad values */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "unit.h"

/* The environment config_parse sees: a small table the tests fill. */
static const char *env_names[16];
static const char *env_values[16];
static int env_n;

static const char *
env_get(const char *name)
{
	int i;

	for (i = 0; i < env_n; i++)
		if (strcmp(env_names[i], name) == 0)
			return env_values[i];
	return NULL;
}

static void
env_clear(void)
{
	env_n = 0;
}

static void
env_set(const char *name, const char *value)
{
	env_names[env_n] = name;
	env_values[env_n] = value;
	env_n++;
}

/* Parses the table with 4 cores; returns config_parse's result. */
static int
parse(struct config *c, char *err, size_t errlen)
{
	memset(err, 0, errlen);
	return config_parse(c, env_get, 4, err, errlen);
}

TEST(defaults)
{
	struct config c;
	char err[256];

	env_clear();
	if (!CHECK_INT(config_parse(&c, env_get, 8, err, sizeof(err)), 0))
		return;
	CHECK_STR(c.openscad, "/usr/bin/openscad");
	CHECK_STR(c.state_dir, "var");
	CHECK_STR(c.cache_path, "var/cache.sqlite");
	CHECK_STR(c.tmp_dir, "var/tmp");
	CHECK(c.timeout == 30);
	CHECK(c.cpu_max == 35);
	CHECK(c.body_max == 8ULL << 20);
	CHECK(c.cache_max == 1ULL << 30);
	CHECK(c.memory_max == 2ULL << 30);
	CHECK(c.output_max == 64ULL << 20);
	CHECK(c.log_max == 64ULL << 10);
	CHECK(c.files_max == 64);
	CHECK(c.nproc_max == 512);
	CHECK(c.queue_max == 16);
	CHECK(c.queue_wait == 30);
	CHECK_INT(c.slots, 8);
	CHECK_STR(c.backend, "auto");
	CHECK_INT(c.log_level, LOG_INFO);
	CHECK_STR(c.engine, "auto");
	CHECK_STR(c.node, "/usr/bin/node");
	CHECK_STR(c.wasm_helper, "");
	CHECK_STR(c.wasm_package, "");
	CHECK(c.wasm_memory == 4ULL << 30);
	CHECK(c.wasm_recycle == 256ULL << 20);
	CHECK(c.wasm_start_max == 20);
	CHECK_INT(config_parse(&c, env_get, 1, err, sizeof(err)), 0);
	CHECK_INT(c.slots, 1);
	/* An unknown core count still gives one slot. */
	CHECK_INT(config_parse(&c, env_get, 0, err, sizeof(err)), 0);
	CHECK_INT(c.slots, 1);
	CHECK_INT(config_parse(&c, env_get, -1, err, sizeof(err)), 0);
	CHECK_INT(c.slots, 1);
}

TEST(empty_means_unset)
{
	struct config c;
	char err[256];

	env_clear();
	env_set("SCADSERVE_TIMEOUT", "");
	env_set("SCADSERVE_BODY_MAX", "");
	env_set("SCADSERVE_BACKEND", "");
	env_set("SCADSERVE_OPENSCAD", "");
	if (!CHECK_INT(parse(&c, err, sizeof(err)), 0))
		return;
	CHECK(c.timeout == 30);
	CHECK(c.body_max == 8ULL << 20);
	CHECK_STR(c.backend, "auto");
	CHECK_STR(c.openscad, "/usr/bin/openscad");
}

TEST(each_variable)
{
	struct config c;
	char err[256];

	env_clear();
	env_set("SCADSERVE_OPENSCAD", "/opt/openscad/bin/openscad");
	env_set("SCADSERVE_STATE_DIR", "/srv/scad");
	env_set("SCADSERVE_CACHE_MAX", "10G");
	env_set("SCADSERVE_BODY_MAX", "1M");
	env_set("SCADSERVE_TIMEOUT", "12.5");
	env_set("SCADSERVE_MEMORY_MAX", "512M");
	env_set("SCADSERVE_OUTPUT_MAX", "100M");
	env_set("SCADSERVE_LOG_MAX", "16K");
	env_set("SCADSERVE_FILES_MAX", "8");
	env_set("SCADSERVE_NPROC_MAX", "64");
	env_set("SCADSERVE_RENDER_SLOTS", "3");
	env_set("SCADSERVE_QUEUE_MAX", "100");
	env_set("SCADSERVE_QUEUE_WAIT", "2.5");
	env_set("SCADSERVE_BACKEND", "manifold");
	env_set("SCADSERVE_LOG_LEVEL", "debug");
	if (!CHECK_INT(parse(&c, err, sizeof(err)), 0))
		return;
	CHECK_STR(c.openscad, "/opt/openscad/bin/openscad");
	CHECK_STR(c.state_dir, "/srv/scad");
	CHECK_STR(c.cache_path, "/srv/scad/cache.sqlite");
	CHECK_STR(c.tmp_dir, "/srv/scad/tmp");
	CHECK(c.cache_max == 10ULL << 30);
	CHECK(c.body_max == 1ULL << 20);
	CHECK(c.timeout == 12.5);
	CHECK(c.cpu_max == 17);		/* whole seconds of timeout, plus 5 */
	CHECK(c.memory_max == 512ULL << 20);
	CHECK(c.output_max == 100ULL << 20);
	CHECK(c.log_max == 16ULL << 10);
	CHECK(c.files_max == 8);
	CHECK(c.nproc_max == 64);
	CHECK_INT(c.slots, 3);
	CHECK(c.queue_max == 100);
	CHECK(c.queue_wait == 2.5);
	CHECK_STR(c.backend, "manifold");
	CHECK_INT(c.log_level, LOG_DEBUG);
}

TEST(explicit_paths_and_cpu)
{
	struct config c;
	char err[256];

	env_clear();
	env_set("SCADSERVE_STATE_DIR", "/srv/scad");
	env_set("SCADSERVE_CACHE", "/fast/cache.db");
	env_set("SCADSERVE_TMPDIR", "/dev/shm/scad");
	env_set("SCADSERVE_TIMEOUT", "60");
	env_set("SCADSERVE_CPU_MAX", "40");
	if (!CHECK_INT(parse(&c, err, sizeof(err)), 0))
		return;
	CHECK_STR(c.cache_path, "/fast/cache.db");
	CHECK_STR(c.tmp_dir, "/dev/shm/scad");
	CHECK(c.timeout == 60);
	CHECK(c.cpu_max == 40);
	/* Without SCADSERVE_CPU_MAX, the CPU limit follows the timeout. */
	env_clear();
	env_set("SCADSERVE_TIMEOUT", "60");
	CHECK_INT(parse(&c, err, sizeof(err)), 0);
	CHECK(c.cpu_max == 65);
}

TEST(backends_and_levels)
{
	static const char *const backends[] = { "auto", "cgal", "manifold" };
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "error", LOG_ERROR }, { "warn", LOG_WARN }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};
	struct config c;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		env_clear();
		env_set("SCADSERVE_BACKEND", backends[i]);
		if (CHECK_INT(parse(&c, err, sizeof(err)), 0))
			CHECK_STR(c.backend, backends[i]);
	}
	for (i = 0; i < 2; i++) {
		static const char *const engines[] = { "auto", "cli" };
		env_clear();
		env_set("SCADSERVE_ENGINE", engines[i]);
		env_set("SCADSERVE_WASM_MEMORY", "3G");
		env_set("SCADSERVE_WASM_RECYCLE", "64M");
		env_set("SCADSERVE_NODE", "/opt/node/bin/node");
		if (CHECK_INT(parse(&c, err, sizeof(err)), 0)) {
			CHECK_STR(c.engine, engines[i]);
			CHECK(c.wasm_memory == 3ULL << 30);
			CHECK(c.wasm_recycle == 64ULL << 20);
			CHECK_STR(c.node, "/opt/node/bin/node");
		}
	}
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		env_clear();
		env_set("SCADSERVE_LOG_LEVEL", levels[i].name);
		if (CHECK_INT(parse(&c, err, sizeof(err)), 0))
			CHECK_INT(c.log_level, levels[i].level);
	}
}

/* Expects name=value to be refused with name in the message. */
static void
check_bad(const char *name, const char *value, int line)
{
	struct config c;
	char err[256];

	env_clear();
	env_set(name, value);
	if (unit_check(parse(&c, err, sizeof(err)) == -1, __FILE__, line, name))
		unit_check_has(err, name, __FILE__, line, "err", name);
}

TEST(bad_values)
{
	check_bad("SCADSERVE_CACHE_MAX", "lots", __LINE__);
	check_bad("SCADSERVE_CACHE_MAX", "0", __LINE__);
	check_bad("SCADSERVE_BODY_MAX", "-1", __LINE__);
	check_bad("SCADSERVE_BODY_MAX", "8MB", __LINE__);
	check_bad("SCADSERVE_BODY_MAX", "99999999999999999999", __LINE__);
	check_bad("SCADSERVE_TIMEOUT", "0", __LINE__);
	check_bad("SCADSERVE_TIMEOUT", "-5", __LINE__);
	check_bad("SCADSERVE_TIMEOUT", "30s", __LINE__);
	check_bad("SCADSERVE_TIMEOUT", "inf", __LINE__);
	check_bad("SCADSERVE_CPU_MAX", "0", __LINE__);
	check_bad("SCADSERVE_CPU_MAX", "x", __LINE__);
	check_bad("SCADSERVE_MEMORY_MAX", "2 G", __LINE__);
	check_bad("SCADSERVE_OUTPUT_MAX", "1.5G", __LINE__);
	check_bad("SCADSERVE_LOG_MAX", "K", __LINE__);
	check_bad("SCADSERVE_FILES_MAX", "many", __LINE__);
	check_bad("SCADSERVE_NPROC_MAX", "0", __LINE__);
	check_bad("SCADSERVE_RENDER_SLOTS", "0", __LINE__);
	check_bad("SCADSERVE_RENDER_SLOTS", "1025", __LINE__);
	check_bad("SCADSERVE_RENDER_SLOTS", "two", __LINE__);
	check_bad("SCADSERVE_QUEUE_MAX", "-1", __LINE__);
	check_bad("SCADSERVE_QUEUE_WAIT", "0", __LINE__);
	check_bad("SCADSERVE_QUEUE_WAIT", "soon", __LINE__);
	check_bad("SCADSERVE_BACKEND", "opencsg", __LINE__);
	check_bad("SCADSERVE_BACKEND", "CGAL", __LINE__);
	check_bad("SCADSERVE_LOG_LEVEL", "verbose", __LINE__);
	check_bad("SCADSERVE_LOG_LEVEL", "INFO", __LINE__);
	check_bad("SCADSERVE_ENGINE", "node", __LINE__);
	check_bad("SCADSERVE_ENGINE", "wasm", __LINE__);
	check_bad("SCADSERVE_WASM_MEMORY", "1G", __LINE__);
	check_bad("SCADSERVE_WASM_MEMORY", "lots", __LINE__);
	check_bad("SCADSERVE_WASM_RECYCLE", "0", __LINE__);
	check_bad("SCADSERVE_WASM_START_MAX", "0", __LINE__);
	check_bad("SCADSERVE_WASM_START_MAX", "100000", __LINE__);
}

TEST(bad_paths)
{
	static char longpath[1200];

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	check_bad("SCADSERVE_OPENSCAD", longpath, __LINE__);
	check_bad("SCADSERVE_STATE_DIR", longpath, __LINE__);
	check_bad("SCADSERVE_CACHE", longpath, __LINE__);
	check_bad("SCADSERVE_TMPDIR", longpath, __LINE__);
}

TEST(huge_timeout)
{
	struct config c;
	char err[256];
	int rc;

	/*
	 * The CPU limit is derived from the timeout as (uint64_t)timeout + 5. A timeout too
	 * big for that must be refused (naming the variable) or give a CPU limit at least
	 * as long, never a wrapped or undefined one.
	 */
	env_clear();
	env_set("SCADSERVE_TIMEOUT", "1e30");
	rc = parse(&c, err, sizeof(err));
	if (rc == -1)
		CHECK_HAS(err, "SCADSERVE_TIMEOUT");
	else
		CHECK((double)c.cpu_max >= c.timeout);
}

/* name=over is refused, saying "at most" and naming the variable; name=max is taken. */
static void
check_bound(const char *name, const char *max, const char *over, int line)
{
	struct config c;
	char err[256];

	check_bad(name, over, line);
	env_clear();
	env_set(name, over);
	parse(&c, err, sizeof(err));
	unit_check_has(err, "at most", __FILE__, line, "err", "at most");
	env_clear();
	env_set(name, max);
	if (!unit_check(parse(&c, err, sizeof(err)) == 0, __FILE__, line, max))
		printf("#   %s\n", err);
}

TEST(upper_bounds)
{
	struct config c;
	char err[256];

	/* Sizes end up in int lengths (FastCGI, SQLite) and rlimits: none may be unbounded. */
	check_bound("SCADSERVE_BODY_MAX", "1G", "1025M", __LINE__);
	check_bound("SCADSERVE_OUTPUT_MAX", "1G", "1073741825", __LINE__);
	check_bound("SCADSERVE_CACHE_MAX", "1024G", "1025G", __LINE__);
	check_bound("SCADSERVE_MEMORY_MAX", "1024G", "1025G", __LINE__);
	check_bound("SCADSERVE_LOG_MAX", "64M", "65M", __LINE__);
	check_bound("SCADSERVE_CPU_MAX", "604800", "604801", __LINE__);
	check_bound("SCADSERVE_FILES_MAX", "4096", "4097", __LINE__);
	check_bound("SCADSERVE_NPROC_MAX", "65536", "65537", __LINE__);
	check_bound("SCADSERVE_RENDER_SLOTS", "1024", "1025", __LINE__);
	check_bound("SCADSERVE_QUEUE_MAX", "1024", "1025", __LINE__);
	/* What would wrap an int once cast: refused, not wrapped. */
	check_bad("SCADSERVE_BODY_MAX", "4G", __LINE__);
	check_bad("SCADSERVE_BODY_MAX", "4294967297", __LINE__);
	check_bad("SCADSERVE_RENDER_SLOTS", "4294967297", __LINE__);
	/* The message gives the bound as the settings write it. */
	env_clear();
	env_set("SCADSERVE_BODY_MAX", "2G");
	CHECK_INT(parse(&c, err, sizeof(err)), -1);
	CHECK_STR(err, "SCADSERVE_BODY_MAX=2G: at most 1G");
	env_clear();
	env_set("SCADSERVE_QUEUE_MAX", "5000");
	CHECK_INT(parse(&c, err, sizeof(err)), -1);
	CHECK_STR(err, "SCADSERVE_QUEUE_MAX=5000: at most 1024");
}

TEST(text_output_and_largest_entry)
{
	struct config c;
	char err[256];

	env_clear();
	if (!CHECK_INT(parse(&c, err, sizeof(err)), 0))
		return;
	CHECK(c.text_output_max == 1ULL << 20);
	CHECK(c.cache_entry_max == 16ULL << 20);	/* 1G / 16 = 64M, capped at 16M */
	/* Defaults follow smaller limits: never above the output limit or 1/16 of the cache. */
	env_set("SCADSERVE_OUTPUT_MAX", "512K");
	env_set("SCADSERVE_CACHE_MAX", "64M");
	if (CHECK_INT(parse(&c, err, sizeof(err)), 0)) {
		CHECK(c.text_output_max == 512ULL << 10);
		CHECK(c.cache_entry_max == 4ULL << 20);
	}
	env_clear();
	env_set("SCADSERVE_TEXT_OUTPUT_MAX", "8M");
	env_set("SCADSERVE_CACHE_ENTRY_MAX", "100M");
	if (CHECK_INT(parse(&c, err, sizeof(err)), 0)) {
		CHECK(c.text_output_max == 8ULL << 20);
		CHECK(c.cache_entry_max == 100ULL << 20);
	}
	/* Explicit values past the limits they refine are refused, naming both. */
	env_clear();
	env_set("SCADSERVE_OUTPUT_MAX", "1M");
	env_set("SCADSERVE_TEXT_OUTPUT_MAX", "2M");
	CHECK_INT(parse(&c, err, sizeof(err)), -1);
	CHECK_STR(err, "SCADSERVE_TEXT_OUTPUT_MAX=2M: at most SCADSERVE_OUTPUT_MAX");
	env_clear();
	env_set("SCADSERVE_CACHE_MAX", "10M");
	env_set("SCADSERVE_CACHE_ENTRY_MAX", "11M");
	CHECK_INT(parse(&c, err, sizeof(err)), -1);
	CHECK_STR(err, "SCADSERVE_CACHE_ENTRY_MAX=11M: at most SCADSERVE_CACHE_MAX");
	check_bound("SCADSERVE_CACHE_ENTRY_MAX", "512M", "513M", __LINE__);
	check_bad("SCADSERVE_TEXT_OUTPUT_MAX", "0", __LINE__);
	check_bad("SCADSERVE_CACHE_ENTRY_MAX", "lots", __LINE__);
}

UNIT_MAIN(defaults, empty_means_unset, each_variable, explicit_paths_and_cpu,
    backends_and_levels, bad_values, bad_paths, huge_timeout, upper_bounds,
    text_output_and_largest_entry)

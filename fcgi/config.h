/* config.h -- the server's settings, read from SCADSERVE_* environment variables */
#ifndef SCADSERVE_CONFIG_H
#define SCADSERVE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct config {
	char openscad[1024];       /* SCADSERVE_OPENSCAD: renderer program */
	char state_dir[1024];      /* SCADSERVE_STATE_DIR: var */
	char cache_path[1100];     /* SCADSERVE_CACHE: <state>/cache.sqlite */
	char tmp_dir[1100];        /* SCADSERVE_TMPDIR: <state>/tmp */
	uint64_t cache_max;        /* SCADSERVE_CACHE_MAX: 1G */
	uint64_t body_max;         /* SCADSERVE_BODY_MAX: 8M */
	double timeout;            /* SCADSERVE_TIMEOUT: 30 (seconds, wall) */
	uint64_t cpu_max;          /* SCADSERVE_CPU_MAX: timeout + 5 (seconds) */
	uint64_t memory_max;       /* SCADSERVE_MEMORY_MAX: 2G (address space) */
	uint64_t output_max;       /* SCADSERVE_OUTPUT_MAX: 64M */
	uint64_t text_output_max;  /* SCADSERVE_TEXT_OUTPUT_MAX: 1M (csg, echo, ast) */
	uint64_t cache_entry_max;  /* SCADSERVE_CACHE_ENTRY_MAX: cache_max / 16, at most 16M */
	uint64_t log_max;          /* SCADSERVE_LOG_MAX: 64K */
	uint64_t files_max;        /* SCADSERVE_FILES_MAX: 64 companion files */
	uint64_t nproc_max;        /* SCADSERVE_NPROC_MAX: 512 */
	int slots;                 /* SCADSERVE_RENDER_SLOTS: number of cores */
	uint64_t queue_max;        /* SCADSERVE_QUEUE_MAX: 16 waiting renders */
	double queue_wait;         /* SCADSERVE_QUEUE_WAIT: 30 (seconds) */
	char backend[16];          /* SCADSERVE_BACKEND: auto | cgal | manifold (the CLI's) */
	char engine[8];            /* SCADSERVE_ENGINE: auto (WASM, the CLI as fallback) | cli */
	char node[1024];           /* SCADSERVE_NODE: /usr/bin/node, runs the WASM helper */
	char wasm_helper[1024];    /* SCADSERVE_WASM_HELPER: "" = engines/wasm/helper.mjs
	                              beside the program's build folder */
	char wasm_package[1024];   /* SCADSERVE_WASM_PACKAGE: "" = the helper's default */
	uint64_t wasm_memory;      /* SCADSERVE_WASM_MEMORY: 4G (the helper's address space) */
	double wasm_start_max;     /* SCADSERVE_WASM_START_MAX: 20 (seconds a helper may take to
	                              get ready) */
	uint64_t wasm_recycle;     /* SCADSERVE_WASM_RECYCLE: 256M: a helper whose render grew
	                              its heap past this is replaced */
	int log_level;             /* SCADSERVE_LOG_LEVEL: error|warn|info|debug */
	char log_file[1024];       /* SCADSERVE_LOG_FILE: "" = stderr as inherited */
};

/*
 * Fills c from the variables that get() returns (getenv in the server, a table in tests),
 * with the defaults above for those unset. nproc is the number of cores. Pure.
 * Returns 0, or -1 with a message naming the bad variable in err.
 */
int config_parse(struct config *c, const char *(*get)(const char *), long nproc, char *err,
    size_t errlen);

#endif

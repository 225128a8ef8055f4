/* board.h -- what each worker's WASM helper is doing, in a file every process maps, for /api/health */
#ifndef SCADSERVE_BOARD_H
#define SCADSERVE_BOARD_H

#include <stdint.h>

#define BOARD_ENTRIES 128

enum board_state { BOARD_NONE = 0, BOARD_STARTING, BOARD_READY, BOARD_RESTING };

/* One worker's helper, as that worker last said. */
struct board_entry {
	int32_t worker;            /* the worker's pid; 0: a free entry */
	int32_t helper;            /* its helper's pid, -1 when none */
	int32_t state;             /* enum board_state */
	uint32_t renders;          /* by the current helper */
	uint32_t starts;           /* helpers this worker started */
	double start_seconds;      /* start to ready, the last time one got ready */
	char version[24];          /* OpenSCAD's, from the ready frame */
	char why[200];             /* "" or why it cannot render */
};

/*
 * Maps the board file at path (created if missing, started afresh if of another layout).
 * Without it (failure), the board is this process's alone. 0 or -1.
 */
int board_open(const char *path);

/* Takes an entry for this process (a free one, or one whose worker is gone). 0 or -1 (full). */
int board_claim(void);

/* Writes this process's entry (e->worker is set to this process). Does nothing unclaimed. */
void board_publish(const struct board_entry *e);

/* Copies the entries of live workers into out (at most max). Returns how many. */
int board_read(struct board_entry *out, int max);

#endif

/* classify.h -- decides what a renderer run means (success or which error) from its status and log; pure */
#ifndef SCADSERVE_CLASSIFY_H
#define SCADSERVE_CLASSIFY_H

#include <stddef.h>

#include "err.h"
#include "format.h"
#include "render.h"

/* What the caller knows besides the run itself. */
struct classify_in {
	const struct render_result *run;
	const struct format *format;
	long long output_size;      /* size of the output file, -1 if there is none */
	unsigned long long output_max;
	double timeout;             /* the wall limit that applied, seconds */
	unsigned long long memory_max;
};

/*
 * Classifies a finished run by what happened, then by what it printed. Returns ERR_NONE
 * when the output is a whole, good result that may be cached: the run exited 0 and wrote
 * its output within the limits (non-empty, but for a text format such as echo), whatever
 * its log says. Otherwise fills e (type,
 * message, line, file) and returns its type. The log in run must already be cleaned of
 * scratch paths (classify_clean_log); for format echo, whose output file is where
 * OpenSCAD writes its messages, a failed run's output belongs in the log too.
 */
enum err_type classify_run(const struct classify_in *in, struct err *e);

/* The number of lines in log that start with "WARNING:". Pure. */
unsigned classify_log_warnings(const char *log);

/*
 * Returns a copy of log with the scratch directory prefix removed (so "/x/r-1/src/a.scad"
 * reads "a.scad"), made valid UTF-8. Caller frees. NULL on out of memory.
 */
char *classify_clean_log(const char *log, const char *scratch_dir);

/*
 * Copies into out (outlen bytes, NUL-terminated) the lines of log a user reads: ECHO,
 * WARNING, ERROR, TRACE, DEPRECATED; the last ones when they do not all fit. Pure.
 */
void classify_log_summary(const char *log, char *out, size_t outlen);

/*
 * What one line of OpenSCAD's log (without its newline), read while the render runs, says
 * it is doing, into out (valid UTF-8, cut to fit): "evaluating the model, last said: ECHO: ..."
 * for its echo, warning and trace lines, "writing the result" once it prints its geometry
 * summary. 1 if the line says something, 0 if not (out untouched). Pure.
 */
int classify_stage(const char *line, char *out, size_t outlen);

#endif

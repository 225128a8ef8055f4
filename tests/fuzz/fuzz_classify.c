/* fuzz_classify.c -- libFuzzer harness for classify_clean_log, redact_denials and classify_run on arbitrary logs */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "err.h"
#include "redact.h"
#include "text.h"

#include "fuzz.h"

static const char scratch_dir[] = "/var/x/tmp/r-abc123";
static const int signals[] = {
	0, 0, 0, 0, SIGKILL, SIGXCPU, SIGXFSZ, SIGSEGV, SIGABRT, SIGBUS, SIGSYS, SIGTERM
};
static const int statuses[] = { 0, 1, 2, 127 };
static const long long sizes[] = { -1, 0, 684, 1LL << 40 };
static const char *const formats[] = { "stl", "svg", "3mf", "echo" };

/* 1 for the signals classify.c takes for a crash the model set off. */
static int
crash_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGABRT || sig == SIGBUS || sig == SIGILL ||
	    sig == SIGFPE || sig == SIGTRAP;
}

/*
 * 1 if log has a line "ERROR: Assertion ..." or "ERROR: Parser error ..." that ends in
 * ", line N" (N from 1 to 999999999): an error with a line, whatever else is there.
 */
static int
has_located_error(const char *log)
{
	const char *p, *eol, *d;

	for (p = log; *p; p = *eol ? eol + 1 : eol) {
		eol = p + strcspn(p, "\n");
		if (strncmp(p, "ERROR: Assertion", 16) != 0 &&
		    strncmp(p, "ERROR: Parser error", 19) != 0)
			continue;
		for (d = eol; d > p && d[-1] >= '0' && d[-1] <= '9'; d--)
			;
		if (eol - d >= 1 && eol - d <= 9 && *d != '0' && d - p >= 7 &&
		    strncmp(d - 7, ", line ", 7) == 0)
			return 1;
	}
	return 0;
}

/* 1 if log has a line that starts with the first n bytes of s. */
static int
has_line_starting(const char *log, const char *s, size_t n)
{
	const char *p;

	for (p = log; *p; p += strcspn(p, "\n"), p += *p ? 1 : 0)
		if (strncmp(p, s, n) == 0)
			return 1;
	return 0;
}

/*
 * Byte 0: the signal (bits 0-6) and the timed-out flag (bit 7); byte 1: the exit status
 * (bits 0-1), the output size (bits 2-3) and the format (bits 4-5). The rest is the log,
 * a C string up to its first NUL as render.c hands it over.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct render_result res;
	struct classify_in in;
	struct err e;
	enum err_type t;
	char *log, *clean, *json;
	int finished;

	if (size < 2 || (log = malloc(size - 1)) == NULL)
		return 0;
	memcpy(log, data + 2, size - 2);
	log[size - 2] = '\0';
	clean = classify_clean_log(log, scratch_dir);
	MUST(clean != NULL);
	MUST(text_utf8_valid(clean, strlen(clean)));
	/* Redaction (as api.c does next) only ever shortens, keeps UTF-8, and is done at once. */
	{
		size_t before = strlen(clean);
		redact_denials(clean);
		MUST(strlen(clean) <= before);
		MUST(text_utf8_valid(clean, strlen(clean)));
		MUST(redact_denials(clean) == 0);
	}
	memset(&res, 0, sizeof(res));
	res.signal = signals[(data[0] & 0x7f) % (sizeof(signals) / sizeof(signals[0]))];
	res.exited = res.signal == 0;
	res.timed_out = data[0] >> 7;
	res.status = res.exited ? statuses[data[1] & 3] : 0;
	res.log = clean;
	res.log_len = strlen(clean);
	memset(&in, 0, sizeof(in));
	in.run = &res;
	in.format = format_find(formats[(data[1] >> 4) & 3]);
	in.output_size = sizes[(data[1] >> 2) & 3];
	in.output_max = 64ULL << 20;
	in.timeout = 30;
	in.memory_max = 2ULL << 30;
	memset(&e, 0, sizeof(e));
	t = classify_run(&in, &e);
	MUST(t == e.type && t < ERR__MAX && e.line >= 0);
	MUST(memchr(e.message, '\0', sizeof(e.message)) != NULL);
	MUST(memchr(e.file, '\0', sizeof(e.file)) != NULL);
	finished = res.signal == 0 && !res.timed_out && res.status == 0 &&
	    (in.output_size > 0 || (in.output_size == 0 && in.format->text)) &&
	    (unsigned long long)in.output_size <= in.output_max;
	/* Only a whole, clean run may be cached; and one is a success whatever its log says. */
	MUST((t == ERR_NONE) == finished);
	/* A crash the model set off is about the model; no other signal is. */
	if (t == ERR_RENDERER_CRASHED)
		MUST(crash_signal(res.signal) && err_status(t) == 422);
	if (crash_signal(res.signal) && !res.timed_out)
		MUST(t == ERR_RENDERER_CRASHED || t == ERR_MEMORY_LIMIT ||
		    t == ERR_OUTPUT_TOO_LARGE);
	/* The log speaks only for a run that ended by itself and failed. */
	if (t == ERR_INVALID_SCAD || t == ERR_FILE_NOT_ACCESSIBLE || t == ERR_EMPTY_MODEL)
		MUST(res.signal == 0 && !res.timed_out && !finished);
	/* "ERROR:" counts at the start of a line only: the message is that line. */
	if (t == ERR_INVALID_SCAD)
		MUST(strncmp(e.message, "ERROR:", 6) == 0);
	/* A missing file is answered with the whole line it was named in, and no line. */
	if (t == ERR_FILE_NOT_ACCESSIBLE) {
		const char *q = strstr(e.message, "\"files\": ");
		size_t n;
		MUST(q != NULL && e.line == 0);
		q += 9;
		n = strlen(q);
		n = n > 4 ? n - 4 : 0;	/* a cut message may end in a scrubbed character */
		MUST(has_line_starting(clean, q, n));
		MUST(strncmp(q, "WARNING: ", 9) == 0 || strncmp(q, "ERROR: ", 7) == 0);
	}
	/* An error with a line keeps its line, whatever else was printed. */
	if (res.signal == 0 && !res.timed_out && !finished && has_located_error(clean) &&
	    t != ERR_MEMORY_LIMIT && t != ERR_OUTPUT_TOO_LARGE)
		MUST(t == ERR_INVALID_SCAD && e.line > 0);
	if (t != ERR_NONE) {
		/* The error answer is JSON: it must always serialize. */
		json = err_json(&e, "fuzz");
		MUST(json != NULL);
		free(json);
	}
	free(clean);
	free(log);
	return 0;
}

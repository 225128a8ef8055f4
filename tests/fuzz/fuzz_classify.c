/* fuzz_classify.c -- libFuzzer harness for classify_clean_log and classify_run on arbitrary logs */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "err.h"
#include "text.h"

#include "fuzz.h"

static const char scratch_dir[] = "/var/x/tmp/r-abc123";
static const int signals[] = { 0, 0, 0, 0, SIGKILL, SIGXCPU, SIGXFSZ, SIGSEGV, SIGABRT };
static const int statuses[] = { 0, 1, 2, 127 };
static const long long sizes[] = { -1, 0, 684, 1LL << 40 };
static const char *const formats[] = { "stl", "svg", "3mf", "echo" };

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

	if (size < 2 || (log = malloc(size - 1)) == NULL)
		return 0;
	memcpy(log, data + 2, size - 2);
	log[size - 2] = '\0';
	clean = classify_clean_log(log, scratch_dir);
	MUST(clean != NULL);
	MUST(text_utf8_valid(clean, strlen(clean)));
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
	if (t == ERR_NONE)	/* only a whole, clean run may be cached */
		MUST(res.signal == 0 && !res.timed_out && res.status == 0 &&
		    in.output_size > 0 && (unsigned long long)in.output_size <= in.output_max);
	else {
		/* The error answer is JSON: it must always serialize. */
		json = err_json(&e, "fuzz");
		MUST(json != NULL);
		free(json);
	}
	free(clean);
	free(log);
	return 0;
}

/* err.h -- the error table: every failure a client can see, its HTTP status and JSON type */
#ifndef SCADSERVE_ERR_H
#define SCADSERVE_ERR_H

#include <stddef.h>

enum err_type {
	ERR_NONE = 0,
	ERR_BAD_REQUEST,
	ERR_NOT_FOUND,
	ERR_METHOD_NOT_ALLOWED,
	ERR_PAYLOAD_TOO_LARGE,
	ERR_UNSUPPORTED_MEDIA_TYPE,
	ERR_INVALID_SCAD,
	ERR_EMPTY_MODEL,
	ERR_FILE_NOT_ACCESSIBLE,
	ERR_TIMEOUT,
	ERR_MEMORY_LIMIT,
	ERR_OUTPUT_TOO_LARGE,
	ERR_RENDERER_CRASHED,
	ERR_OVERLOADED,
	ERR_SANDBOX_UNAVAILABLE,
	ERR_ENGINE_UNAVAILABLE,
	ERR_INTERNAL,
	ERR__MAX
};

/* One failure, ready to be answered. Fixed-size text so that filling one never fails. */
struct err {
	enum err_type type;
	char message[512];     /* human text, no scratch paths */
	int line;              /* source line for invalid_scad, 0 if unknown */
	char file[128];        /* file the line is in, "" for the main model */
	const char *allow;     /* Allow header for method_not_allowed (static string) */
	int retry_after;       /* seconds, for overloaded; 0 = none */
	const char *engine;    /* the engine whose answer this is (static string), or NULL */
	char *log;             /* tail of OpenSCAD's log, owned, may be NULL */
};

int err_status(enum err_type type);
const char *err_type_name(enum err_type type);
const char *err_reason(int status);

/* Fills e with type and a printf-style message; keeps e->log. Returns type. */
enum err_type err_set(struct err *e, enum err_type type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Frees e->log and resets e to ERR_NONE. */
void err_clear(struct err *e);

/*
 * Serializes e as {"error": {...}} with the request id.
 * Returns a NUL-terminated string the caller frees, or NULL on out of memory.
 */
char *err_json(const struct err *e, const char *request_id);

/*
 * The other way: fills e from text, one error object as err_json writes it inside "error"
 * (its request_id is not kept). An unknown type reads as internal. 0, or -1 (not an error
 * object; e is cleared).
 */
int err_from_json(struct err *e, const char *text);

#endif

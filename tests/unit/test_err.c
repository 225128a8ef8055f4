/* test_err.c -- tests for fcgi/err.c: the error table (DESIGN.md) and its JSON form */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "unit.h"

/* DESIGN.md's error table, written out again. */
static const struct {
	enum err_type type;
	const char *name;
	int status;
} table[] = {
	{ ERR_BAD_REQUEST, "bad_request", 400 },
	{ ERR_NOT_FOUND, "not_found", 404 },
	{ ERR_METHOD_NOT_ALLOWED, "method_not_allowed", 405 },
	{ ERR_PAYLOAD_TOO_LARGE, "payload_too_large", 413 },
	{ ERR_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415 },
	{ ERR_INVALID_SCAD, "invalid_scad", 422 },
	{ ERR_EMPTY_MODEL, "empty_model", 422 },
	{ ERR_FILE_NOT_ACCESSIBLE, "file_not_accessible", 422 },
	{ ERR_TIMEOUT, "timeout", 422 },
	{ ERR_MEMORY_LIMIT, "memory_limit", 422 },
	{ ERR_OUTPUT_TOO_LARGE, "output_too_large", 422 },
	{ ERR_RENDERER_CRASHED, "renderer_crashed", 422 },
	{ ERR_OVERLOADED, "overloaded", 503 },
	{ ERR_SANDBOX_UNAVAILABLE, "sandbox_unavailable", 503 },
	{ ERR_ENGINE_UNAVAILABLE, "engine_unavailable", 503 },
	{ ERR_INTERNAL, "internal", 500 },
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

TEST(every_type_status_and_name)
{
	size_t i, j;

	/* The table covers every type but ERR_NONE. */
	CHECK_INT(NTABLE, ERR__MAX - 1);
	for (i = 0; i < NTABLE; i++) {
		CHECK_INT(err_status(table[i].type), table[i].status);
		CHECK_STR(err_type_name(table[i].type), table[i].name);
		for (j = 0; j < i; j++)
			CHECK(table[j].type != table[i].type);
	}
	CHECK_INT(err_status(ERR_NONE), 200);
	/* Out of range is internal. */
	CHECK_INT(err_status(ERR__MAX), 500);
	CHECK_STR(err_type_name(ERR__MAX), "internal");
	CHECK_INT(err_status((enum err_type)-1), 500);
}

TEST(reasons)
{
	CHECK_STR(err_reason(200), "OK");
	CHECK_STR(err_reason(304), "Not Modified");
	CHECK_STR(err_reason(400), "Bad Request");
	CHECK_STR(err_reason(404), "Not Found");
	CHECK_STR(err_reason(405), "Method Not Allowed");
	CHECK_STR(err_reason(413), "Payload Too Large");
	CHECK_STR(err_reason(415), "Unsupported Media Type");
	CHECK_STR(err_reason(422), "Unprocessable Content");
	CHECK_STR(err_reason(500), "Internal Server Error");
	CHECK_STR(err_reason(503), "Service Unavailable");
}

TEST(set_and_clear)
{
	struct err e;

	memset(&e, 0, sizeof(e));
	e.log = strdup("the log");
	e.line = 4;
	CHECK_INT(err_set(&e, ERR_BAD_REQUEST, "bad %s %d", "thing", 42), ERR_BAD_REQUEST);
	CHECK_INT(e.type, ERR_BAD_REQUEST);
	CHECK_STR(e.message, "bad thing 42");
	CHECK_STR(e.log, "the log");	/* kept */
	CHECK_INT(e.line, 4);
	err_clear(&e);			/* frees the log */
	CHECK_INT(e.type, ERR_NONE);
	CHECK(e.log == NULL);
	CHECK_INT(e.line, 0);
	CHECK_STR(e.message, "");
}

TEST(set_truncates)
{
	struct err e;
	char big[2000];

	memset(&e, 0, sizeof(e));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, ERR_INTERNAL, "%s", big);
	CHECK_INT(strlen(e.message), sizeof(e.message) - 1);
}

/* Parses err_json's output; NULL if it is not JSON. */
static json_t *
load(const char *s)
{
	json_error_t je;

	return s ? json_loads(s, 0, &je) : NULL;
}

TEST(json_basic)
{
	struct err e;
	json_t *root, *o;
	char *s;

	memset(&e, 0, sizeof(e));
	err_set(&e, ERR_NOT_FOUND, "no model \"x\"");
	s = err_json(&e, "req-1");
	root = load(s);
	if (!CHECK(root != NULL))
		goto out;
	CHECK_INT(json_object_size(root), 1);
	o = json_object_get(root, "error");
	if (!CHECK(json_is_object(o)))
		goto out;
	CHECK_STR(json_string_value(json_object_get(o, "type")), "not_found");
	CHECK_STR(json_string_value(json_object_get(o, "message")), "no model \"x\"");
	CHECK_INT(json_integer_value(json_object_get(o, "status")), 404);
	CHECK_STR(json_string_value(json_object_get(o, "request_id")), "req-1");
	CHECK(json_object_get(o, "line") == NULL);
	CHECK(json_object_get(o, "file") == NULL);
	CHECK(json_object_get(o, "retry_after") == NULL);
	CHECK(json_object_get(o, "log") == NULL);
out:
	json_decref(root);
	free(s);
}

TEST(json_all_fields)
{
	struct err e;
	json_t *root, *o;
	char *s;

	memset(&e, 0, sizeof(e));
	err_set(&e, ERR_INVALID_SCAD, "ERROR: Parser error: syntax error in file lib/u.scad, "
	    "line 7");
	e.line = 7;
	snprintf(e.file, sizeof(e.file), "lib/u.scad");
	e.log = strdup("ERROR: \xc3\xa9\n\"quoted\"\n");
	s = err_json(&e, "0f0e");
	root = load(s);
	o = json_object_get(root, "error");
	if (CHECK(json_is_object(o))) {
		CHECK_STR(json_string_value(json_object_get(o, "type")), "invalid_scad");
		CHECK_INT(json_integer_value(json_object_get(o, "status")), 422);
		CHECK_INT(json_integer_value(json_object_get(o, "line")), 7);
		CHECK_STR(json_string_value(json_object_get(o, "file")), "lib/u.scad");
		CHECK_STR(json_string_value(json_object_get(o, "log")),
		    "ERROR: \xc3\xa9\n\"quoted\"\n");
		CHECK_STR(json_string_value(json_object_get(o, "request_id")), "0f0e");
	}
	/* Plain ASCII on the wire. */
	if (CHECK(s != NULL)) {
		size_t i;
		for (i = 0; s[i]; i++)
			if (!CHECK((unsigned char)s[i] < 0x80))
				break;
	}
	json_decref(root);
	free(s);
	err_clear(&e);
}

TEST(json_overloaded_retry_after)
{
	struct err e;
	json_t *root, *o;
	char *s;

	memset(&e, 0, sizeof(e));
	err_set(&e, ERR_OVERLOADED, "every render slot is busy");
	e.retry_after = 5;
	s = err_json(&e, NULL);
	root = load(s);
	o = json_object_get(root, "error");
	if (CHECK(json_is_object(o))) {
		CHECK_STR(json_string_value(json_object_get(o, "type")), "overloaded");
		CHECK_INT(json_integer_value(json_object_get(o, "status")), 503);
		CHECK_INT(json_integer_value(json_object_get(o, "retry_after")), 5);
		CHECK(json_object_get(o, "request_id") == NULL);
	}
	json_decref(root);
	free(s);
}

TEST(json_every_type)
{
	struct err e;
	size_t i;

	for (i = 0; i < NTABLE; i++) {
		json_t *root, *o;
		char *s;
		memset(&e, 0, sizeof(e));
		err_set(&e, table[i].type, "m%zu", i);
		s = err_json(&e, "r");
		root = load(s);
		o = json_object_get(root, "error");
		if (CHECK(json_is_object(o))) {
			CHECK_STR(json_string_value(json_object_get(o, "type")), table[i].name);
			CHECK_INT(json_integer_value(json_object_get(o, "status")),
			    table[i].status);
		}
		json_decref(root);
		free(s);
	}
}

TEST(json_message_not_utf8)
{
	struct err e;
	json_t *root, *o;
	char *s;

	/*
	 * Messages quote client input (a path, a field name) and OpenSCAD's log, and
	 * "%.64s"-style cuts can split a UTF-8 sequence: the answer must still be JSON
	 * with the right type, not a 500.
	 */
	memset(&e, 0, sizeof(e));
	err_set(&e, ERR_NOT_FOUND, "no such endpoint: %s", "/api/\xff\xfe");
	snprintf(e.file, sizeof(e.file), "lib/\xc3");
	e.line = 3;
	s = err_json(&e, "r1");
	root = load(s);
	o = json_object_get(root, "error");
	if (CHECK(json_is_object(o))) {
		CHECK_STR(json_string_value(json_object_get(o, "type")), "not_found");
		CHECK_INT(json_integer_value(json_object_get(o, "status")), 404);
		CHECK_HAS(json_string_value(json_object_get(o, "message")), "no such endpoint");
		CHECK(json_is_string(json_object_get(o, "file")));
	}
	json_decref(root);
	free(s);
}

/* A job keeps a failed render's error object; a waiting request answers with it again. */
TEST(json_round_trip)
{
	struct err e, back;
	json_t *root;
	char *s, *inner, *again;

	memset(&e, 0, sizeof(e));
	memset(&back, 0, sizeof(back));
	err_set(&e, ERR_INVALID_SCAD, "Parser error in lib/u.scad, line 7");
	e.line = 7;
	snprintf(e.file, sizeof(e.file), "lib/u.scad");
	e.retry_after = 3;
	e.engine = "wasm";
	e.log = strdup("ERROR: \xc3\xa9\n");
	s = err_json(&e, NULL);
	root = load(s);
	inner = json_dumps(json_object_get(root, "error"), JSON_COMPACT);
	if (CHECK_INT(err_from_json(&back, inner), 0)) {
		CHECK_INT(back.type, ERR_INVALID_SCAD);
		CHECK_STR(back.message, e.message);
		CHECK_INT(back.line, 7);
		CHECK_STR(back.file, "lib/u.scad");
		CHECK_INT(back.retry_after, 3);
		CHECK_STR(back.engine, "wasm");
		CHECK_STR(back.log, e.log);
		again = err_json(&back, NULL);
		CHECK_STR(again, s);
		free(again);
	}
	CHECK_INT(err_from_json(&back, "{\"type\":\"no_such_type\"}"), 0);
	CHECK_INT(back.type, ERR_INTERNAL);
	CHECK_INT(err_from_json(&back, "[1]"), -1);
	CHECK_INT(err_from_json(&back, NULL), -1);
	CHECK_INT(back.type, ERR_NONE);
	json_decref(root);
	free(inner);
	free(s);
	err_clear(&e);
	err_clear(&back);
}

UNIT_MAIN(every_type_status_and_name, reasons, set_and_clear, set_truncates, json_basic,
    json_all_fields, json_overloaded_retry_after, json_every_type, json_message_not_utf8,
    json_round_trip)

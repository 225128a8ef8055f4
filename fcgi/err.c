/* err.c -- the error table and its JSON form */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "text.h"

static const struct {
	int status;
	const char *type;
} err_table[ERR__MAX] = {
	[ERR_NONE] =                   { 200, "none" },
	[ERR_BAD_REQUEST] =            { 400, "bad_request" },
	[ERR_NOT_FOUND] =              { 404, "not_found" },
	[ERR_METHOD_NOT_ALLOWED] =     { 405, "method_not_allowed" },
	[ERR_PAYLOAD_TOO_LARGE] =      { 413, "payload_too_large" },
	[ERR_UNSUPPORTED_MEDIA_TYPE] = { 415, "unsupported_media_type" },
	[ERR_INVALID_SCAD] =           { 422, "invalid_scad" },
	[ERR_EMPTY_MODEL] =            { 422, "empty_model" },
	[ERR_FILE_NOT_ACCESSIBLE] =    { 422, "file_not_accessible" },
	[ERR_TIMEOUT] =                { 422, "timeout" },
	[ERR_MEMORY_LIMIT] =           { 422, "memory_limit" },
	[ERR_OUTPUT_TOO_LARGE] =       { 422, "output_too_large" },
	[ERR_RENDERER_CRASHED] =       { 422, "renderer_crashed" },
	[ERR_OVERLOADED] =             { 503, "overloaded" },
	[ERR_SANDBOX_UNAVAILABLE] =    { 503, "sandbox_unavailable" },
	[ERR_ENGINE_UNAVAILABLE] =     { 503, "engine_unavailable" },
	[ERR_INTERNAL] =               { 500, "internal" },
};

int
err_status(enum err_type type)
{
	if (type < 0 || type >= ERR__MAX)
		return 500;
	return err_table[type].status;
}

const char *
err_type_name(enum err_type type)
{
	if (type < 0 || type >= ERR__MAX)
		return "internal";
	return err_table[type].type;
}

const char *
err_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

enum err_type
err_set(struct err *e, enum err_type type, const char *fmt, ...)
{
	va_list ap;

	e->type = type;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	/* Client text quoted cut to a length may end mid-character. */
	text_utf8_scrub(e->message, strlen(e->message));
	return type;
}

void
err_clear(struct err *e)
{
	free(e->log);
	memset(e, 0, sizeof(*e));
}

char *
err_json(const struct err *e, const char *request_id)
{
	json_t *root = NULL, *obj;
	char *out = NULL, file[sizeof(e->file)];

	/*
	 * err_set keeps the message valid UTF-8; the file name is copied from OpenSCAD's log
	 * and cut to a length, perhaps mid-character.
	 */
	memcpy(file, e->file, sizeof(file));
	file[sizeof(file) - 1] = '\0';
	text_utf8_scrub(file, strlen(file));

	if ((obj = json_object()) == NULL)
		goto out;
	if ((root = json_pack("{s:o}", "error", obj)) == NULL)
		goto out;	/* json_pack's "o" stole obj even on failure */
	if (json_object_set_new(obj, "type", json_string(err_type_name(e->type))) ||
	    json_object_set_new(obj, "message", json_string(e->message)) ||
	    json_object_set_new(obj, "status", json_integer(err_status(e->type))))
		goto out;
	if (e->line > 0 && json_object_set_new(obj, "line", json_integer(e->line)))
		goto out;
	if (file[0] && json_object_set_new(obj, "file", json_string(file)))
		goto out;
	if (e->retry_after > 0 &&
	    json_object_set_new(obj, "retry_after", json_integer(e->retry_after)))
		goto out;
	if (e->engine != NULL && json_object_set_new(obj, "engine", json_string(e->engine)))
		goto out;
	/* The log was made valid UTF-8 by whoever filled it (text_utf8_scrub). */
	if (e->log != NULL && e->log[0] != '\0' &&
	    json_object_set_new(obj, "log", json_string(e->log)))
		goto out;
	if (request_id != NULL &&
	    json_object_set_new(obj, "request_id", json_string(request_id)))
		goto out;
	out = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
out:
	json_decref(root);
	return out;
}

int
err_from_json(struct err *e, const char *text)
{
	json_t *o = text ? json_loads(text, 0, NULL) : NULL, *v;
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *engine = json_string_value(json_object_get(o, "engine"));
	int i, rc = -1;

	err_clear(e);
	if (!json_is_object(o) || type == NULL)
		goto out;
	e->type = ERR_INTERNAL;
	for (i = 1; i < ERR__MAX; i++)
		if (strcmp(err_table[i].type, type) == 0)
			e->type = (enum err_type)i;
	v = json_object_get(o, "message");
	snprintf(e->message, sizeof(e->message), "%s", json_is_string(v) ? json_string_value(v) :
	    "the render failed");
	e->line = (int)json_integer_value(json_object_get(o, "line"));
	v = json_object_get(o, "file");
	if (json_is_string(v))
		snprintf(e->file, sizeof(e->file), "%s", json_string_value(v));
	e->retry_after = (int)json_integer_value(json_object_get(o, "retry_after"));
	/* Static strings only (err.h): the two engines there are. */
	e->engine = engine == NULL ? NULL : strcmp(engine, "wasm") == 0 ? "wasm" :
	    strcmp(engine, "cli") == 0 ? "cli" : NULL;
	v = json_object_get(o, "log");
	if (json_is_string(v) && (e->log = strdup(json_string_value(v))) == NULL)
		goto out;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* fuzz_req.c -- libFuzzer harness for req_parse_render and req_route: untrusted request input */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "key.h"
#include "req.h"
#include "text.h"

#include "fuzz.h"

static const char *const content_types[] = {
	"application/json", "text/plain", NULL, "application/x-openscad; charset=utf-8",
	"application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
	"Application/JSON;charset=UTF-8", "",
};
static const char *const queries[] = { NULL, "format=svg&timeout=5", "timeout=0.5",
	"format=nope", "a&format=3mf&timeout=30", "" };
static const char *const methods[] = { "GET", "HEAD", "POST", "DELETE" };

/* The error answer must always be JSON (resp_error turns a NULL into a 500). */
static void
check_answerable(const struct err *e)
{
	char *s = err_json(e, "fuzz");

	MUST(s != NULL);
	free(s);
}

/* What a successful parse promises (req.h). */
static void
check_render(const struct req_render *r, const struct req_limits *lim)
{
	char key[65];
	size_t i;

	MUST(r->source != NULL && strlen(r->source) == r->source_len);
	MUST(text_utf8_valid(r->source, r->source_len));
	MUST(r->params != NULL && r->params[0] == '{' && json_is_object(r->param_obj));
	MUST(r->format != NULL && format_enabled(r->format));
	MUST(r->timeout >= 0 && r->timeout <= lim->timeout_max);
	MUST(r->nfiles <= lim->files_max);
	for (i = 0; i < r->nfiles; i++) {
		MUST(req_file_name_ok(r->files[i].name));
		MUST(strcmp(r->files[i].name, "model.scad") != 0);
		MUST(r->files[i].len == 0 || r->files[i].data != NULL);
		if (i > 0)	/* sorted, no duplicates */
			MUST(strcmp(r->files[i - 1].name, r->files[i].name) < 0);
	}
	MUST(key_derive(r, "openscad 2021.01 cgal", key) == 0 && text_is_key(key));
}

static void
fuzz_parse(uint8_t sel, const uint8_t *body, size_t len)
{
	static const struct req_limits lim = { 1 << 16, 30, 8 };
	struct req_render r;
	struct err e;
	char *copy;

	/* An exact-size copy, so that reading past len is caught. */
	if ((copy = malloc(len ? len : 1)) == NULL)
		return;
	if (len)
		memcpy(copy, body, len);
	memset(&e, 0, sizeof(e));
	if (req_parse_render(content_types[sel & 7], queries[(sel >> 3) % 6], copy, len, &lim,
	    &r, &e) == 0) {
		MUST(e.type == ERR_NONE);
		check_render(&r, &lim);
		req_render_free(&r);
	} else {
		MUST(e.type == ERR_BAD_REQUEST || e.type == ERR_PAYLOAD_TOO_LARGE ||
		    e.type == ERR_UNSUPPORTED_MEDIA_TYPE || e.type == ERR_INTERNAL);
		MUST(r.source == NULL && r.files == NULL && r.params == NULL);	/* left empty */
		check_answerable(&e);
	}
	free(copy);
}

static void
fuzz_route(uint8_t sel, const uint8_t *body, size_t len)
{
	char *path, key[65], etag[67];
	enum route rt;
	struct err e;

	/* A path is a C string: up to the first NUL. */
	if ((path = malloc(len + 1)) == NULL)
		return;
	memcpy(path, body, len);
	path[len] = '\0';
	memset(&e, 0, sizeof(e));
	rt = req_route(methods[sel & 3], path, key, &e);
	MUST(rt < ROUTE__MAX);
	if (rt == ROUTE_MODEL) {
		MUST(text_is_key(key));
		snprintf(etag, sizeof(etag), "\"%s\"", key);
		MUST(req_etag_match(etag, etag));
	} else if (rt == ROUTE_NONE) {
		MUST(e.type == ERR_NOT_FOUND || e.type == ERR_METHOD_NOT_ALLOWED);
		MUST(e.type != ERR_METHOD_NOT_ALLOWED || e.allow != NULL);
		check_answerable(&e);
	}
	(void)req_etag_match(path, "\"0123456789abcdef\"");
	(void)req_file_name_ok(path);
	free(path);
}

/*
 * The first byte picks what to fuzz and how: bit 7 routes instead of parsing (bits 0-1
 * the method); otherwise bits 0-2 pick the Content-Type and the next bits the query
 * string. The rest is the body (or the path).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 0x80)
		fuzz_route(data[0], data + 1, size - 1);
	else
		fuzz_parse(data[0], data + 1, size - 1);
	return 0;
}

/* req.c -- turns an HTTP request (method, path, headers, body) into a validated struct; pure, no I/O */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "req.h"
#include "text.h"

#define PARAMS_MAX 1024         /* parameters in one request */
#define PARAM_ARRAY_MAX 4096    /* elements in one vector parameter */

enum route
req_route(const char *method, const char *path, char key[65], struct err *e)
{
	static const char models[] = "/api/models/", jobs[] = "/api/jobs/";
	static const char wait[] = "/_scadserve/wait/";
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	if (strcmp(path, "/api/render") == 0 || strcmp(path, "/api/render/") == 0) {
		if (strcmp(method, "POST") == 0)
			return ROUTE_RENDER;
		e->allow = "POST";
		goto bad_method;
	}
	if (strcmp(path, "/api/health") == 0 || strcmp(path, "/api/metrics") == 0) {
		if (get)
			return path[5] == 'h' ? ROUTE_HEALTH : ROUTE_METRICS;
		e->allow = "GET, HEAD";
		goto bad_method;
	}
	if (strcmp(path, "/api/jobs") == 0 || strcmp(path, "/api/jobs/") == 0) {
		if (strcmp(method, "POST") == 0)
			return ROUTE_JOBS;
		e->allow = "POST";
		goto bad_method;
	}
	if (strncmp(path, jobs, sizeof(jobs) - 1) == 0) {
		const char *id = path + sizeof(jobs) - 1;
		if (!text_is_uuid(id)) {
			err_set(e, ERR_NOT_FOUND, "no job at %s: a job id is a UUID", path);
			return ROUTE_NONE;
		}
		if (!get && strcmp(method, "DELETE") != 0) {
			e->allow = "GET, HEAD, DELETE";
			goto bad_method;
		}
		snprintf(key, 65, "%s", id);
		return ROUTE_JOB;
	}
	if (strncmp(path, wait, sizeof(wait) - 1) == 0 && get &&
	    text_is_uuid(path + sizeof(wait) - 1)) {
		snprintf(key, 65, "%s", path + sizeof(wait) - 1);
		return ROUTE_WAIT;
	}
	if (strncmp(path, models, sizeof(models) - 1) == 0) {
		const char *k = path + sizeof(models) - 1;
		if (!text_is_key(k)) {
			err_set(e, ERR_NOT_FOUND,
			    "no model at %s: a model key is 64 lower-case hex digits", path);
			return ROUTE_NONE;
		}
		if (!get) {
			e->allow = "GET, HEAD";
			goto bad_method;
		}
		memcpy(key, k, 65);
		return ROUTE_MODEL;
	}
	err_set(e, ERR_NOT_FOUND, "no such endpoint: %s (see /api/health and the README)", path);
	return ROUTE_NONE;
bad_method:
	err_set(e, ERR_METHOD_NOT_ALLOWED, "%s is not allowed on %s; allowed: %s",
	    method, path, e->allow);
	return ROUTE_NONE;
}

int
req_file_name_ok(const char *name)
{
	const char *p = name, *slash;
	size_t n = strlen(name), clen;

	if (n == 0 || n > 255 || name[0] == '/')
		return 0;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '\\' || *p == 0x7f)
			return 0;
	for (p = name; ; p = slash + 1) {
		slash = strchr(p, '/');
		clen = slash ? (size_t)(slash - p) : strlen(p);
		if (clen == 0 || (clen == 1 && p[0] == '.') ||
		    (clen == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (slash == NULL)
			break;
	}
	if (!text_utf8_valid(name, n))
		return 0;
	return 1;
}

/* 1 if s is an OpenSCAD identifier. */
static int
ident_ok(const char *s)
{
	const char *p;

	if (!(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == '$'))
		return 0;
	for (p = s + 1; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return 0;
	return p - s <= 128;
}

/* A scalar parameter value OpenSCAD's customizer can take. */
static int
param_scalar_ok(json_t *v)
{
	if (json_is_real(v))
		return isfinite(json_real_value(v));
	return json_is_integer(v) || json_is_boolean(v) || json_is_string(v);
}

/* A canonical copy of a scalar: whole reals become integers. New reference or NULL. */
static json_t *
scalar_canon(json_t *v)
{
	double d = json_is_real(v) ? json_real_value(v) : 0.5;

	if (d == floor(d) && fabs(d) < 9007199254740992.0)
		return json_integer((json_int_t)d);
	return json_deep_copy(v);
}

/*
 * Builds a canonical copy of the parameters object: integral reals as integers.
 * Returns a new reference or NULL with e filled.
 */
static json_t *
params_canon(json_t *in, struct err *e)
{
	json_t *out, *v, *x;
	const char *name;
	size_t i;

	if ((out = json_object()) == NULL) {
		err_set(e, ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (json_object_size(in) > PARAMS_MAX) {
		err_set(e, ERR_BAD_REQUEST, "too many parameters (at most %d)", PARAMS_MAX);
		goto fail;
	}
	json_object_foreach(in, name, v) {
		json_t *c;
		if (!ident_ok(name)) {
			err_set(e, ERR_BAD_REQUEST,
			    "parameter name \"%.64s\" is not an OpenSCAD identifier", name);
			goto fail;
		}
		if (json_is_array(v)) {
			if (json_array_size(v) > PARAM_ARRAY_MAX) {
				err_set(e, ERR_BAD_REQUEST, "parameter %s: vector too long", name);
				goto fail;
			}
			if ((c = json_array()) == NULL) {
				err_set(e, ERR_INTERNAL, "out of memory");
				goto fail;
			}
			json_array_foreach(v, i, x) {
				if (!json_is_number(x) || !param_scalar_ok(x)) {
					json_decref(c);
					err_set(e, ERR_BAD_REQUEST,
					    "parameter %s: a vector may hold only numbers", name);
					goto fail;
				}
				if (json_array_append_new(c, scalar_canon(x))) {
					json_decref(c);
					err_set(e, ERR_INTERNAL, "out of memory");
					goto fail;
				}
			}
		} else if (param_scalar_ok(v)) {
			c = scalar_canon(v);
		} else {
			err_set(e, ERR_BAD_REQUEST, "parameter %s: value must be a number, boolean, "
			    "string or vector of numbers", name);
			goto fail;
		}
		if (c == NULL || json_object_set_new(out, name, c)) {
			err_set(e, ERR_INTERNAL, "out of memory");
			goto fail;
		}
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* Decodes standard base64 (padding optional, no whitespace). 0 on success. Caller frees *out. */
static int
base64_decode(const char *in, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char *buf;
	uint32_t acc = 0;
	size_t i, w = 0;
	int bits = 0;

	while (n > 0 && in[n - 1] == '=')
		n--;
	if (n % 4 == 1 || (buf = malloc(n / 4 * 3 + 3)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)in[i], v;
		if (c >= 'A' && c <= 'Z') v = c - 'A';
		else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
		else if (c >= '0' && c <= '9') v = c - '0' + 52;
		else if (c == '+' || c == '-') v = 62;
		else if (c == '/' || c == '_') v = 63;
		else {
			free(buf);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[w++] = (unsigned char)(acc >> bits);
		}
	}
	*out = buf;
	*outlen = w;
	return 0;
}

static int
file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct req_file *)a)->name, ((const struct req_file *)b)->name);
}

/* Fills r->files from the "files" object. 0 or -1 with e filled. */
static int
parse_files(json_t *files, const struct req_limits *lim, struct req_render *r, struct err *e)
{
	const char *name;
	json_t *v;
	size_t n = json_object_size(files);

	if (n > lim->files_max)
		return err_set(e, ERR_BAD_REQUEST, "too many files (at most %zu)", lim->files_max), -1;
	if (n == 0)
		return 0;
	if ((r->files = calloc(n, sizeof(*r->files))) == NULL)
		return err_set(e, ERR_INTERNAL, "out of memory"), -1;
	json_object_foreach(files, name, v) {
		struct req_file *f = &r->files[r->nfiles];
		if (!req_file_name_ok(name))
			return err_set(e, ERR_BAD_REQUEST, "file name \"%.128s\" must be a relative "
			    "path without \"..\" or \".\" components", name), -1;
		if (strcmp(name, "model.scad") == 0)
			return err_set(e, ERR_BAD_REQUEST, "file name \"model.scad\" is taken "
			    "by the main source"), -1;
		if (!json_is_string(v))
			return err_set(e, ERR_BAD_REQUEST, "file \"%.128s\": content must be a "
			    "base64 string", name), -1;
		if ((f->name = strdup(name)) == NULL)
			return err_set(e, ERR_INTERNAL, "out of memory"), -1;
		r->nfiles++;
		if (base64_decode(json_string_value(v), json_string_length(v),
		    &f->data, &f->len))
			return err_set(e, ERR_BAD_REQUEST, "file \"%.128s\": content is not "
			    "valid base64", name), -1;
	}
	qsort(r->files, r->nfiles, sizeof(*r->files), file_cmp);
	/*
	 * A name may not be both a file and a folder ("a" and "a/b", or "model.scad/x" under
	 * the main source): look up every folder.
	 */
	for (n = 0; n < r->nfiles; n++) {
		char folder[256];
		const char *slash;
		struct req_file probe = {0};
		for (slash = r->files[n].name; (slash = strchr(slash, '/')) != NULL; slash++) {
			size_t l = (size_t)(slash - r->files[n].name);
			memcpy(folder, r->files[n].name, l);
			folder[l] = '\0';
			probe.name = folder;
			if (strcmp(folder, "model.scad") == 0)
				return err_set(e, ERR_BAD_REQUEST, "file \"%.128s\" would be in a "
				    "folder \"model.scad\", which is the main source's file",
				    r->files[n].name), -1;
			if (bsearch(&probe, r->files, r->nfiles, sizeof(*r->files), file_cmp))
				return err_set(e, ERR_BAD_REQUEST, "file \"%.128s\" is also a folder "
				    "in \"%.128s\"", folder, r->files[n].name), -1;
		}
	}
	return 0;
}

/* Reads one query parameter value into out. 1 if found, -1 if longer than outlen-1, else 0. */
static int
query_get(const char *query, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	const char *p = query;

	while (p != NULL && *p) {
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			const char *v = p + n + 1, *end = strchr(v, '&');
			size_t len = end ? (size_t)(end - v) : strlen(v);
			if (len >= outlen)
				return -1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 1;
		}
		p = strchr(p, '&');
		if (p != NULL)
			p++;
	}
	return 0;
}

/* Sets r->format from name. 0 or -1 with e filled. */
static int
set_format(struct req_render *r, const char *name, struct err *e)
{
	const struct format *f = format_find(name);

	if (f == NULL || !format_enabled(f)) {
		char list[512] = "";
		int i;
		for (i = 0; i < format_count(); i++) {
			if (!format_enabled(format_at(i)))
				continue;
			if (list[0])
				strncat(list, ", ", sizeof(list) - strlen(list) - 1);
			strncat(list, format_at(i)->name, sizeof(list) - strlen(list) - 1);
		}
		err_set(e, ERR_BAD_REQUEST, "unknown format \"%.32s\"; this server exports: %s",
		    name, list);
		return -1;
	}
	r->format = f;
	return 0;
}

static int
set_timeout(struct req_render *r, double t, const struct req_limits *lim, struct err *e)
{
	if (!isfinite(t) || t <= 0 || t > lim->timeout_max) {
		err_set(e, ERR_BAD_REQUEST, "timeout must be a number of seconds above 0 and at "
		    "most %g", lim->timeout_max);
		return -1;
	}
	r->timeout = t;
	return 0;
}

/* Sets r->engine from its name. 0 or -1 with e filled. */
static int
set_engine(struct req_render *r, const char *name, struct err *e)
{
	if (strcmp(name, "auto") == 0)
		r->engine = REQ_ENGINE_AUTO;
	else if (strcmp(name, "wasm") == 0)
		r->engine = REQ_ENGINE_WASM;
	else if (strcmp(name, "cli") == 0)
		r->engine = REQ_ENGINE_CLI;
	else {
		err_set(e, ERR_BAD_REQUEST, "unknown engine \"%.32s\"; known: auto, wasm, cli",
		    name);
		return -1;
	}
	return 0;
}

/* Parses the JSON form of a render request into r. 0 or -1 with e filled. */
static int
parse_json(const char *body, size_t len, const struct req_limits *lim, struct req_render *r,
    int *given, struct err *e)
{
	json_error_t jerr;
	json_t *root, *src, *params, *fmt, *files, *timeout, *engine;
	int engine_given = 0;
	const char *k;
	json_t *v;
	int rc = -1;

	if ((root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		err_set(e, ERR_BAD_REQUEST, "malformed JSON at line %d, column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		err_set(e, ERR_BAD_REQUEST, "the JSON body must be an object with \"source\"");
		goto out;
	}
	json_object_foreach(root, k, v) {
		if (strcmp(k, "source") && strcmp(k, "parameters") && strcmp(k, "format") &&
		    strcmp(k, "files") && strcmp(k, "timeout") && strcmp(k, "engine")) {
			err_set(e, ERR_BAD_REQUEST, "unknown field \"%.64s\"; known: source, "
			    "parameters, format, files, timeout, engine", k);
			goto out;
		}
	}
	src = json_object_get(root, "source");
	if (!json_is_string(src)) {
		err_set(e, ERR_BAD_REQUEST, "\"source\" is required and must be a string");
		goto out;
	}
	if (memchr(json_string_value(src), '\0', json_string_length(src)) != NULL) {
		err_set(e, ERR_BAD_REQUEST, "the source holds a NUL character");
		goto out;
	}
	r->source_len = json_string_length(src);
	if ((r->source = strdup(json_string_value(src))) == NULL) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	params = json_object_get(root, "parameters");
	if (params != NULL && !json_is_null(params)) {
		if (!json_is_object(params)) {
			err_set(e, ERR_BAD_REQUEST, "\"parameters\" must be an object");
			goto out;
		}
		if ((r->param_obj = params_canon(params, e)) == NULL)
			goto out;
	}
	fmt = json_object_get(root, "format");
	if (fmt != NULL) {
		if (!json_is_string(fmt)) {
			err_set(e, ERR_BAD_REQUEST, "\"format\" must be a string");
			goto out;
		}
		if (set_format(r, json_string_value(fmt), e))
			goto out;
	}
	files = json_object_get(root, "files");
	if (files != NULL && !json_is_null(files)) {
		if (!json_is_object(files)) {
			err_set(e, ERR_BAD_REQUEST, "\"files\" must be an object of name: base64");
			goto out;
		}
		if (parse_files(files, lim, r, e))
			goto out;
	}
	timeout = json_object_get(root, "timeout");
	if (timeout != NULL && !json_is_null(timeout)) {
		if (!json_is_number(timeout)) {
			err_set(e, ERR_BAD_REQUEST, "\"timeout\" must be a number of seconds");
			goto out;
		}
		if (set_timeout(r, json_number_value(timeout), lim, e))
			goto out;
	}
	engine = json_object_get(root, "engine");
	if (engine != NULL && !json_is_null(engine)) {
		if (!json_is_string(engine)) {
			err_set(e, ERR_BAD_REQUEST, "\"engine\" must be a string: auto, wasm or cli");
			goto out;
		}
		if (set_engine(r, json_string_value(engine), e))
			goto out;
		engine_given = 1;
	}
	*given = engine_given;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* 1 if the media type (before any ';') equals want, case-insensitively. */
static int
media_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int
req_parse_render(const char *content_type, const char *query, const char *body, size_t len,
    const struct req_limits *lim, struct req_render *r, struct err *e)
{
	char qv[64];
	int json, q, engine_given = 0;

	memset(r, 0, sizeof(*r));
	if (len > lim->body_max) {
		err_set(e, ERR_PAYLOAD_TOO_LARGE, "the body is %zu bytes; the limit is %zu",
		    len, lim->body_max);
		goto fail;
	}
	if (content_type == NULL || content_type[0] == '\0' ||
	    media_is(content_type, "text/plain") ||
	    media_is(content_type, "application/x-openscad") ||
	    media_is(content_type, "application/x-www-form-urlencoded"))
		json = 0;	/* the last is what curl --data-binary sends by default */
	else if (media_is(content_type, "application/json"))
		json = 1;
	else {
		err_set(e, ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type %.64s is not accepted: send "
		    "the source as text/plain or application/x-openscad, or JSON as "
		    "application/json", content_type);
		goto fail;
	}
	if (len == 0) {
		err_set(e, ERR_BAD_REQUEST, "the body is empty: send OpenSCAD source or JSON");
		goto fail;
	}
	if (memchr(body, '\0', len) != NULL) {
		err_set(e, ERR_BAD_REQUEST, "the body holds a NUL byte");
		goto fail;
	}
	if (!text_utf8_valid(body, len)) {
		err_set(e, ERR_BAD_REQUEST, "the body is not valid UTF-8");
		goto fail;
	}
	if (json) {
		if (parse_json(body, len, lim, r, &engine_given, e))
			goto fail;
	} else {
		if ((r->source = malloc(len + 1)) == NULL) {
			err_set(e, ERR_INTERNAL, "out of memory");
			goto fail;
		}
		memcpy(r->source, body, len);
		r->source[len] = '\0';
		r->source_len = len;
	}
	/* The query string may choose format, timeout and engine; the JSON body wins. */
	if (r->format == NULL && query != NULL &&
	    (q = query_get(query, "format", qv, sizeof(qv))) != 0) {
		if (q < 0) {
			err_set(e, ERR_BAD_REQUEST, "format= is too long");
			goto fail;
		}
		if (set_format(r, qv, e))
			goto fail;
	}
	if (r->timeout == 0 && query != NULL &&
	    (q = query_get(query, "timeout", qv, sizeof(qv))) != 0) {
		double t;
		if (q < 0 || text_parse_seconds(qv, &t)) {
			err_set(e, ERR_BAD_REQUEST, "timeout= must be plain decimal seconds, such "
			    "as 5 or 2.5");
			goto fail;
		}
		if (set_timeout(r, t, lim, e))
			goto fail;
	}
	if (!engine_given && query != NULL &&
	    (q = query_get(query, "engine", qv, sizeof(qv))) != 0) {
		if (q < 0) {
			err_set(e, ERR_BAD_REQUEST, "engine= is too long");
			goto fail;
		}
		if (set_engine(r, qv, e))
			goto fail;
	}
	if (r->format == NULL)
		r->format = format_default();
	if (r->param_obj == NULL && (r->param_obj = json_object()) == NULL) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto fail;
	}
	r->params = json_dumps(r->param_obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (r->params == NULL) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto fail;
	}
	return 0;
fail:
	req_render_free(r);
	return -1;
}

void
req_render_free(struct req_render *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->source);
	free(r->params);
	json_decref(r->param_obj);
	for (i = 0; i < r->nfiles; i++) {
		free(r->files[i].name);
		free(r->files[i].data);
	}
	free(r->files);
	memset(r, 0, sizeof(*r));
}

int
req_etag_match(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = inm;

	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return 1;
		while (*p && *p != ',')
			p++;
	}
	return 0;
}

/* classify.c -- decides what a renderer run means (success or which error) from its status and log; pure */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "text.h"

char *
classify_clean_log(const char *log, const char *scratch_dir)
{
	/* The model's folder first (its files are named as the client sent them), then the rest. */
	const char *const suffix[] = { "/src/", "/", "" };
	const char *const to[] = { "", "", "." };
	char prefix[4200], *cur, *next;
	size_t i;

	if ((cur = strdup(log ? log : "")) == NULL)
		return NULL;
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(prefix, sizeof(prefix), "%s%s", scratch_dir, suffix[i]);
		next = text_replace(cur, prefix, to[i]);
		free(cur);
		if ((cur = next) == NULL)
			return NULL;
	}
	text_utf8_scrub(cur, strlen(cur));
	return cur;
}

/* Copies the rest of the line that starts at p (without the newline) into out. */
static void
line_copy(const char *p, char *out, size_t outlen)
{
	size_t n = strcspn(p, "\r\n");

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/*
 * Finds "line N" after p on the same line, and a file name in the form
 * `in file NAME, line N` (2021.01) or `in file "NAME", line N` (newer).
 */
static void
find_location(const char *p, struct err *e)
{
	const char *eol = p + strcspn(p, "\n"), *l, *f;

	for (l = p; (l = strstr(l, "line ")) != NULL && l < eol; l += 5) {
		int n = atoi(l + 5);
		if (n > 0) {
			e->line = n;
			break;
		}
	}
	if ((f = strstr(p, "in file ")) != NULL && f < eol) {
		const char *name = f + 8, *end;
		if (*name == '"' || *name == '\'') {
			end = strchr(name + 1, *name);
			name++;
		} else
			end = strchr(name, ',');
		if (end != NULL && end < eol && end > name) {
			size_t n = (size_t)(end - name);
			if (n >= sizeof(e->file))
				n = sizeof(e->file) - 1;
			memcpy(e->file, name, n);
			e->file[n] = '\0';
			if (strcmp(e->file, "model.scad") == 0)
				e->file[0] = '\0';
		}
	}
}

/*
 * Finds needle in log, skipping lines that start with "ECHO:": the model prints those
 * itself. (An echoed string may hold newlines, so a model can still print a line that
 * looks like a warning; it can only ever fail its own render that way.)
 */
static const char *
find_line(const char *log, const char *needle)
{
	const char *p, *start;

	for (p = log; (p = strstr(p, needle)) != NULL; p++) {
		for (start = p; start > log && start[-1] != '\n'; start--)
			;
		if (strncmp(start, "ECHO:", 5) != 0)
			return p;
	}
	return NULL;
}

/* The first of the needles found by find_line, or NULL. */
static const char *
find_any(const char *log, const char *const needles[])
{
	const char *p;
	int i;

	for (i = 0; needles[i] != NULL; i++)
		if ((p = find_line(log, needles[i])) != NULL)
			return p;
	return NULL;
}

static const char *const oom_words[] = {
	"std::bad_alloc", "Cannot allocate memory", "cannot allocate memory",
	"out of memory", "Out of memory", "xmalloc: cannot allocate", NULL
};

/* OpenSCAD's warnings for a file it could not read: the model wants a file it may not have. */
static const char *const unreadable_words[] = {
	"Can't open import file", "Can't open include file", "Can't open library file",
	"Can't open input file", "Can't open DXF file", "Can't open file",
	"WARNING: Can't read", "Failed to open file", "Could not read file",
	"can't open file", "Can't open library", "couldn't be opened", NULL
};

enum err_type
classify_run(const struct classify_in *in, struct err *e)
{
	const struct render_result *r = in->run;
	const char *log = r->log ? r->log : "", *p;
	char line[256];

	if (r->timed_out)
		return err_set(e, ERR_TIMEOUT, "the render ran past its time limit of %g s and "
		    "was stopped", in->timeout);
	if (r->signal == SIGXCPU || (r->signal == SIGKILL && find_line(log, "CPU time")))
		return err_set(e, ERR_TIMEOUT, "the render used up its CPU time limit and was "
		    "stopped");
	if (r->signal == SIGXFSZ ||
	    (in->output_size >= 0 && (unsigned long long)in->output_size > in->output_max))
		return err_set(e, ERR_OUTPUT_TOO_LARGE, "the result would be larger than the "
		    "output limit of %llu bytes", in->output_max);
	if (find_any(log, oom_words) != NULL && (r->signal != 0 || r->status != 0))
		return err_set(e, ERR_MEMORY_LIMIT, "the render ran out of memory (limit %llu "
		    "MiB)", in->memory_max >> 20);
	if (r->signal == SIGKILL)	/* not ours: the kernel's OOM killer */
		return err_set(e, ERR_MEMORY_LIMIT, "the renderer was killed, most likely for "
		    "using too much memory");
	if (r->signal != 0)
		return err_set(e, ERR_RENDERER_CRASHED, "the renderer crashed (signal %d, %s)",
		    r->signal, strsignal(r->signal));
	if (r->status != 0 && ((p = find_line(log, "Parser error")) != NULL ||
	    (p = find_line(log, "syntax error")) != NULL)) {
		const char *start = p;
		while (start > log && start[-1] != '\n')
			start--;
		line_copy(start, line, sizeof(line));
		find_location(start, e);
		err_set(e, ERR_INVALID_SCAD, "%s", line);
		return ERR_INVALID_SCAD;
	}
	if ((p = find_any(log, unreadable_words)) != NULL) {
		line_copy(p, line, sizeof(line));
		find_location(p, e);
		e->line = 0;
		return err_set(e, ERR_FILE_NOT_ACCESSIBLE, "the model reads a file it may not "
		    "read or that was not sent in \"files\": %s", line);
	}
	/*
	 * An evaluation error (recursion, failed assert, ...): OpenSCAD 2021.01 stops and exits
	 * 1. With exit 0 and a result, an "ERROR:" line can only be the model's own echo of a
	 * string holding a newline, which must not fail the render.
	 */
	if ((r->status != 0 || in->output_size <= 0) && (p = find_line(log, "ERROR:")) != NULL) {
		line_copy(p, line, sizeof(line));
		find_location(p, e);
		return err_set(e, ERR_INVALID_SCAD, "%s", line);
	}
	if (find_line(log, "not a 3D object") != NULL)
		return err_set(e, ERR_EMPTY_MODEL, "the model is 2D, which %s cannot hold: ask "
		    "for \"format\": \"svg\" or \"dxf\"", in->format->name);
	if (find_line(log, "not a 2D object") != NULL)
		return err_set(e, ERR_EMPTY_MODEL, "the model is 3D, which %s cannot hold: ask "
		    "for \"format\": \"stl\" (or off, amf, 3mf)", in->format->name);
	if (find_line(log, "top level object is empty") != NULL ||
	    find_line(log, "No top level geometry") != NULL)
		return err_set(e, ERR_EMPTY_MODEL, "the model produced no geometry: there is "
		    "nothing to export");
	if (r->status != 0) {
		if (r->status == 127 && log[0] == '\0')
			return err_set(e, ERR_INTERNAL, "the renderer could not be started");
		return err_set(e, ERR_RENDERER_CRASHED, "the renderer failed with exit status "
		    "%d and no error message", r->status);
	}
	if (in->output_size <= 0)
		return err_set(e, ERR_EMPTY_MODEL, "the renderer wrote no output: there is "
		    "nothing to export");
	return ERR_NONE;
}

void
classify_log_summary(const char *log, char *out, size_t outlen)
{
	static const char *const kept[] = {
		"ECHO:", "WARNING:", "ERROR:", "TRACE:", "DEPRECATED:", "UI-WARNING:",
		"FONT-WARNING:", NULL
	};
	const char *p, *end;
	size_t used = 0, n;
	int i, keep = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (p = log ? log : ""; *p; p = *end ? end + 1 : end) {
		end = p + strcspn(p, "\n");
		n = (size_t)(end - p);
		/* A kept line's continuations (an echoed string with newlines) stay with it. */
		for (i = 0; kept[i] != NULL; i++)
			if (strncmp(p, kept[i], strlen(kept[i])) == 0)
				break;
		if (kept[i] != NULL)
			keep = 1;
		else if (strncmp(p, "Geometries in cache", 19) == 0 || n == 0 || p[0] == ' ' ||
		    strchr(p, ':') == NULL || strncmp(p, "Total rendering", 15) == 0 ||
		    strncmp(p, "CGAL ", 5) == 0 || strncmp(p, "Current top level", 17) == 0)
			keep = 0;
		if (!keep)
			continue;
		if (n + 1 >= outlen)
			n = outlen - 2;
		/* Drop the oldest lines to make room: the last messages matter most. */
		while (used + n + 1 >= outlen) {
			char *nl = strchr(out, '\n');
			size_t drop = nl ? (size_t)(nl - out) + 1 : used;
			memmove(out, out + drop, used - drop + 1);
			used -= drop;
		}
		memcpy(out + used, p, n);
		used += n;
		out[used++] = '\n';
		out[used] = '\0';
	}
}

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

/* Copies the line that starts at p (without its newline) into out, cut to outlen - 1 bytes. */
static void
line_copy(const char *p, char *out, size_t outlen)
{
	size_t n = strcspn(p, "\r\n");

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* The decimal number at s (at most 9 digits, so it fits an int), or 0 if there is none. */
static int
number_at(const char *s)
{
	int n = 0, i;

	for (i = 0; i < 9 && s[i] >= '0' && s[i] <= '9'; i++)
		n = n * 10 + (s[i] - '0');
	return s[i] >= '0' && s[i] <= '9' ? 0 : n;
}

/*
 * The location of the message on the line at p: the file in the form `in file NAME, line N`
 * (2021.01) or `in file "NAME", line N` (newer), and the line. OpenSCAD puts the location
 * last, so the last "in file " counts (an assertion's own text may hold the same words);
 * without one, the last "line N". e->file stays "" for the model itself.
 */
static void
find_location(const char *p, struct err *e)
{
	const char *eol = p + strcspn(p, "\n"), *l, *f = NULL, *name, *end;
	size_t n;

	e->line = 0;
	e->file[0] = '\0';
	for (l = p; (l = strstr(l, "in file ")) != NULL && l < eol; l += 8)
		f = l;
	for (l = f ? f : p; (l = strstr(l, "line ")) != NULL && l < eol; l += 5)
		if (number_at(l + 5) > 0) {
			e->line = number_at(l + 5);
			if (f != NULL)
				break;	/* the first after "in file": `, line N` */
		}
	if (f == NULL)
		return;
	name = f + 8;
	if (*name == '"' || *name == '\'') {
		end = memchr(name + 1, *name, (size_t)(eol - name - 1));
		name++;
	} else
		end = memchr(name, ',', (size_t)(eol - name));
	if (end == NULL || end <= name)
		return;
	n = (size_t)(end - name);
	if (n >= sizeof(e->file))
		n = sizeof(e->file) - 1;
	memcpy(e->file, name, n);
	e->file[n] = '\0';
	if (strcmp(e->file, "model.scad") == 0)
		e->file[0] = '\0';
}

/* The start of the line p is in. */
static const char *
line_start(const char *log, const char *p)
{
	while (p > log && p[-1] != '\n')
		p--;
	return p;
}

/*
 * Finds needle in log, skipping lines that start with "ECHO:": the model prints those
 * itself. (An echoed string may hold newlines, and 2021.01 prints it unescaped, so a
 * model can still print a line that looks like any message; it can only ever change the
 * answer to its own failed render that way: a finished one succeeds whatever its log says.)
 */
static const char *
find_line(const char *log, const char *needle)
{
	const char *p;

	for (p = log; (p = strstr(p, needle)) != NULL; p++)
		if (strncmp(line_start(log, p), "ECHO:", 5) != 0)
			return p;
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

/* OpenSCAD's words when it cannot write the output file. */
static const char *const export_words[] = {
	"\" for export", "is not a directory for output file", NULL
};

/*
 * OpenSCAD's words for a file it could not read (2021.01's texts, and a few of newer
 * versions), as a message begins: the model wants a file it may not have. Only at the
 * start, so that an assertion's own text cannot pass for one.
 */
static const char *const unreadable_words[] = {
	"Can't open import file", "Can't open include file", "Can't open library",
	"Can't open input file", "Can't open DXF file", "Can't open DAT file",
	"Can't open file '", "Can't read PNG image", "Can't read file", "Could not read file",
	"Failed to open file", NULL
};

/* The text of the message on the line at p, after "WARNING: " or "ERROR: ", or NULL. */
static const char *
message_text(const char *p)
{
	if (strncmp(p, "WARNING: ", 9) == 0)
		return p + 9;
	if (strncmp(p, "ERROR: ", 7) == 0)
		return p + 7;
	return NULL;
}

/* 1 if the line at p is a warning or error saying a file could not be opened. */
static int
is_unreadable(const char *p)
{
	const char *m = message_text(p), *eol = p + strcspn(p, "\n"), *w;
	int i;

	if (m == NULL)
		return 0;
	for (i = 0; unreadable_words[i] != NULL; i++)
		if (strncmp(m, unreadable_words[i], strlen(unreadable_words[i])) == 0)
			return 1;
	/* surface(): "The file 'NAME' couldn't be opened." */
	return strncmp(m, "The file '", 10) == 0 &&
	    (w = strstr(m, "' couldn't be opened.")) != NULL && w < eol;
}

/* The start of the line after the one at p, or NULL at the end of the log. */
static const char *
next_line(const char *p)
{
	p += strcspn(p, "\n");
	return *p ? p + 1 : NULL;
}

/*
 * The error a failed run stopped on: the first line that starts with "ERROR:" and gives a
 * line number (a parser error, a failed assert, recursion), else the first "ERROR:" line
 * at all. A file OpenSCAD could not open is not one of these (see unreadable_line). NULL
 * if there is none. "ERROR:" inside a line (a warning quoting it) does not count.
 */
static const char *
error_line(const char *log)
{
	const char *p, *first = NULL;
	struct err where;

	for (p = log; p != NULL && *p; p = next_line(p)) {
		if (strncmp(p, "ERROR:", 6) != 0 || is_unreadable(p))
			continue;
		find_location(p, &where);
		if (where.line > 0)
			return p;
		if (first == NULL)
			first = p;
	}
	return first;
}

/* The first warning or error line saying a file could not be opened, or NULL. */
static const char *
unreadable_line(const char *log)
{
	const char *p;

	for (p = log; p != NULL && *p; p = next_line(p))
		if (is_unreadable(p))
			return p;
	return NULL;
}

/* 1 for the signals a process raises itself when it crashes. */
static int
crash_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
	    sig == SIGABRT || sig == SIGTRAP;
}

enum err_type
classify_run(const struct classify_in *in, struct err *e)
{
	const struct render_result *r = in->run;
	const char *log = r->log ? r->log : "", *err_line, *unreadable, *p;
	char line[sizeof(e->message)];

	/* What happened, first: the limits, then how the renderer ended. */
	if (r->timed_out)
		return err_set(e, ERR_TIMEOUT, "the render ran past its time limit of %g s and "
		    "was stopped", in->timeout);
	if (r->signal == SIGXCPU || (r->signal == SIGKILL && find_line(log, "CPU time")))
		return err_set(e, ERR_TIMEOUT, "the render used up its CPU time limit and was "
		    "stopped");
	if (r->signal == SIGXFSZ ||
	    (in->output_size >= 0 && (unsigned long long)in->output_size > in->output_max))
		return err_set(e, ERR_OUTPUT_TOO_LARGE, "the result would be larger than the "
		    "output limit of %llu bytes%s", in->output_max, in->format->text ?
		    " for a text format (echo, csg, ast): print less, or ask for a mesh format" :
		    ": simplify the model (lower $fn) or ask for a more compact format");
	if ((r->signal != 0 || r->status != 0) && find_any(log, oom_words) != NULL)
		return err_set(e, ERR_MEMORY_LIMIT, "the render ran out of memory (limit %llu "
		    "MiB)", in->memory_max >> 20);
	if (r->signal == SIGKILL)	/* not ours: the kernel's OOM killer */
		return err_set(e, ERR_MEMORY_LIMIT, "the renderer was killed, most likely for "
		    "using too much memory");
	/*
	 * A signal the renderer raised itself (a stack overflow on a list nested 300,000 deep,
	 * a failed internal assertion): this model makes OpenSCAD crash, every time. Whatever
	 * it wrote before is not trusted, even a whole output file.
	 */
	if (crash_signal(r->signal))
		return err_set(e, ERR_RENDERER_CRASHED, "the model made the renderer crash "
		    "(signal %d, %s), for example by nesting too deep", r->signal,
		    strsignal(r->signal));
	if (r->signal != 0)	/* SIGSYS from the sandbox, SIGTERM from outside, ... */
		return err_set(e, ERR_INTERNAL, "the renderer was killed by signal %d (%s)",
		    r->signal, strsignal(r->signal));
	/*
	 * A finished render is a success whatever its log says: warnings go to X-Render-Log.
	 * A text format may be empty (the echo of a model that echoes nothing).
	 */
	if (r->status == 0 && (in->output_size > 0 || (in->output_size == 0 && in->format->text)))
		return ERR_NONE;

	/*
	 * It failed, and the log says why: an error with a line first, whatever else was
	 * printed; then a file it could not open (the whole message, with the name as the
	 * model wrote it); then an error without a line.
	 */
	err_line = error_line(log);
	unreadable = unreadable_line(log);
	if (err_line != NULL) {
		find_location(err_line, e);
		if (e->line > 0 || unreadable == NULL) {
			line_copy(err_line, line, sizeof(line));
			return err_set(e, ERR_INVALID_SCAD, "%s", line);
		}
		e->line = 0;
		e->file[0] = '\0';
	}
	if (unreadable != NULL) {
		line_copy(unreadable, line, sizeof(line));
		return err_set(e, ERR_FILE_NOT_ACCESSIBLE, "the model reads a file it may not "
		    "read or that was not sent in \"files\": %s", line);
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
	/* Not the model: OpenSCAD could not write the output file (exit 0 in 2021.01). */
	if ((p = find_any(log, export_words)) != NULL) {
		line_copy(line_start(log, p), line, sizeof(line));
		return err_set(e, ERR_INTERNAL, "the renderer could not write its output: %s",
		    line);
	}
	if (r->status != 0) {
		if (r->status == 127 && log[0] == '\0')
			return err_set(e, ERR_INTERNAL, "the renderer could not be started");
		return err_set(e, ERR_INTERNAL, "the renderer failed with exit status %d and "
		    "no error message", r->status);
	}
	return err_set(e, ERR_EMPTY_MODEL, "the renderer wrote no output: there is nothing "
	    "to export");
}

unsigned
classify_log_warnings(const char *log)
{
	const char *p;
	unsigned n = 0;

	for (p = log ? log : ""; p != NULL && *p; p = next_line(p))
		if (strncmp(p, "WARNING:", 8) == 0)
			n++;
	return n;
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

int
classify_stage(const char *line, char *out, size_t outlen)
{
	static const char *const said[] = { "ECHO:", "WARNING:", "DEPRECATED:", "TRACE:", NULL };
	static const char *const done[] = { "Geometries in cache", "Total rendering time",
	    "Top level object", NULL };
	int i;

	if (outlen == 0)
		return 0;
	for (i = 0; done[i] != NULL; i++)
		if (strncmp(line, done[i], strlen(done[i])) == 0) {
			snprintf(out, outlen, "writing the result");
			return 1;
		}
	for (i = 0; said[i] != NULL; i++)
		if (strncmp(line, said[i], strlen(said[i])) == 0) {
			snprintf(out, outlen, "evaluating the model, last said: %.100s", line);
			text_utf8_scrub(out, strlen(out));	/* cut mid-character, or a model's bytes */
			return 1;
		}
	return 0;
}

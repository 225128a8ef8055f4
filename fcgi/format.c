/* format.c -- the export formats scadserve knows, and which of them the installed OpenSCAD has */
#include <string.h>

#include "format.h"

static const struct format formats[] = {
	{ "stl",      "binstl",   "stl", "model/stl",               FORMAT_3D, 0 },
	{ "asciistl", "asciistl", "stl", "model/stl",               FORMAT_3D, 0 },
	{ "off",      "off",      "off", "text/plain; charset=utf-8", FORMAT_3D, 0 },
	{ "amf",      "amf",      "amf", "application/x-amf",       FORMAT_3D, 0 },
	{ "3mf",      "3mf",      "3mf", "model/3mf",               FORMAT_3D, 0 },
	{ "dxf",      "dxf",      "dxf", "image/vnd.dxf",           FORMAT_2D, 0 },
	{ "svg",      "svg",      "svg", "image/svg+xml",           FORMAT_2D, 0 },
	{ "pdf",      "pdf",      "pdf", "application/pdf",         FORMAT_2D, 0 },
	{ "csg",      "csg",      "csg", "text/plain; charset=utf-8", FORMAT_ANY, 1 },
	{ "echo",     "echo",     "echo", "text/plain; charset=utf-8", FORMAT_ANY, 1 },
	{ "ast",      "ast",      "ast", "text/plain; charset=utf-8", FORMAT_ANY, 1 },
};

#define FORMAT_N ((int)(sizeof(formats) / sizeof(formats[0])))

static int enabled[FORMAT_N] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };

const struct format *
format_find(const char *name)
{
	int i;

	for (i = 0; i < FORMAT_N; i++)
		if (strcmp(formats[i].name, name) == 0)
			return &formats[i];
	return NULL;
}

const struct format *
format_default(void)
{
	return &formats[0];
}

int
format_count(void)
{
	return FORMAT_N;
}

const struct format *
format_at(int i)
{
	return i >= 0 && i < FORMAT_N ? &formats[i] : NULL;
}

/* 1 if word occurs in list as a whole word (separated by non-alphanumerics). */
static int
has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = list; (p = strstr(p, word)) != NULL; p += n) {
		int before = p == list || !((p[-1] >= 'a' && p[-1] <= 'z') ||
		    (p[-1] >= '0' && p[-1] <= '9'));
		int after = !((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9'));
		if (before && after)
			return 1;
	}
	return 0;
}

int
format_probe(const char *help_text)
{
	const char *start, *end;
	char list[1024];
	size_t n;
	int i, count = 0;

	/* "... the file extension specifies the type: stl, off, amf, 3mf, ... (May be used" */
	if (help_text == NULL ||
	    (start = strstr(help_text, "specifies the type:")) == NULL) {
		for (i = 0; i < FORMAT_N; i++)
			enabled[i] = 1;
		return FORMAT_N;
	}
	start += strlen("specifies the type:");
	if ((end = strchr(start, '(')) == NULL)
		end = start + strlen(start);
	n = (size_t)(end - start) < sizeof(list) - 1 ? (size_t)(end - start) : sizeof(list) - 1;
	memcpy(list, start, n);
	list[n] = '\0';
	for (i = 0; i < FORMAT_N; i++) {
		enabled[i] = has_word(list, formats[i].ext);
		count += enabled[i];
	}
	return count;
}

int
format_enabled(const struct format *f)
{
	int i = (int)(f - formats);

	return i >= 0 && i < FORMAT_N && enabled[i];
}

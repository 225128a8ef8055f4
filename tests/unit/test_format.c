/* test_format.c -- tests for fcgi/format.c: the format table and probing `openscad --help` */
#include <string.h>

#include "format.h"
#include "unit.h"

/* The "-o" part of `openscad --help` from Debian's OpenSCAD 2021.01, as it prints it. */
static const char help_2021[] =
    "Usage: openscad [options] file.scad\n"
    "Allowed options:\n"
    "  --export-format arg          overrides format of exported scad file when \n"
    "                               using option '-o', arg can be any of its \n"
    "                               supported file extensions.  For ascii stl \n"
    "                               export, specify 'asciistl', and for binary stl \n"
    "                               export, specify 'binstl'.  Ascii export is the \n"
    "                               current stl default, but binary stl is planned \n"
    "                               as the future default so asciistl should be \n"
    "                               explicitly specified in scripts when needed.\n"
    "                               \n"
    "  -o [ --o ] arg               output specified file instead of running the \n"
    "                               GUI, the file extension specifies the type: stl,\n"
    "                               off, amf, 3mf, csg, dxf, svg, pdf, png, echo, \n"
    "                               ast, term, nef3, nefdbg (May be used multiple \n"
    "                               time for different exports). Use '-' for stdout\n"
    "                               \n"
    "  -D [ --D ] arg               var=val -pre-define variables\n"
    "  -p [ --p ] arg               customizer parameter file\n"
    "  -P [ --P ] arg               customizer parameter set\n"
    "  -h [ --help ]                print this help message and exit\n"
    "  -v [ --version ]             print the version\n"
    "  --info                       print information about the build process\n"
    "                               \n"
    "  --camera arg                 camera parameters when exporting png: \n"
    "  --preview arg                [=throwntogether] -for ThrownTogether preview \n"
    "                               png\n";

static int
enabled(const char *name)
{
	const struct format *f = format_find(name);

	return f != NULL && format_enabled(f);
}

TEST(find)
{
	static const char *const names[] = { "stl", "asciistl", "off", "amf", "3mf", "dxf",
	    "svg", "pdf", "csg", "echo", "ast" };
	const struct format *f;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		f = format_find(names[i]);
		if (CHECK(f != NULL))
			CHECK_STR(f->name, names[i]);
	}
	CHECK(format_find("") == NULL);
	CHECK(format_find("STL") == NULL);
	CHECK(format_find("stl ") == NULL);
	CHECK(format_find("png") == NULL);
	CHECK(format_find("binstl") == NULL);
	f = format_find("svg");
	if (CHECK(f != NULL)) {
		CHECK_STR(f->content_type, "image/svg+xml");
		CHECK_INT(f->dim, FORMAT_2D);
	}
	f = format_find("3mf");
	if (CHECK(f != NULL))
		CHECK_INT(f->dim, FORMAT_3D);
}

TEST(default_is_binary_stl)
{
	const struct format *f = format_default();

	if (!CHECK(f != NULL))
		return;
	CHECK_STR(f->name, "stl");
	CHECK_STR(f->export_arg, "binstl");
	CHECK_STR(f->ext, "stl");
	CHECK_STR(f->content_type, "model/stl");
	CHECK_INT(f->dim, FORMAT_3D);
	CHECK(f == format_find("stl"));
	f = format_find("asciistl");
	if (CHECK(f != NULL))
		CHECK_STR(f->export_arg, "asciistl");
}

TEST(table)
{
	int i, j;

	CHECK(format_count() >= 8);
	CHECK(format_at(-1) == NULL);
	CHECK(format_at(format_count()) == NULL);
	for (i = 0; i < format_count(); i++) {
		const struct format *f = format_at(i);
		if (!CHECK(f != NULL))
			continue;
		CHECK(format_find(f->name) == f);
		CHECK(f->export_arg != NULL && f->export_arg[0] != '\0');
		CHECK(f->ext != NULL && f->ext[0] != '\0');
		CHECK(f->content_type != NULL && f->content_type[0] != '\0');
		CHECK(f->dim >= 0 && f->dim < FORMAT_DIM__MAX);
		for (j = 0; j < i; j++)
			CHECK(strcmp(format_at(j)->name, f->name) != 0);
	}
}

TEST(probe_2021_help)
{
	int n = format_probe(help_2021), i, count = 0;

	/* Every format scadserve knows is in 2021.01's list. */
	CHECK_INT(n, format_count());
	for (i = 0; i < format_count(); i++) {
		CHECK(format_enabled(format_at(i)));
		count += format_enabled(format_at(i));
	}
	CHECK_INT(count, n);
	CHECK(enabled("stl"));
	CHECK(enabled("asciistl"));
	CHECK(enabled("3mf"));
	CHECK(enabled("svg"));
	CHECK(enabled("echo"));
	format_probe(NULL);
}

TEST(probe_without_list_keeps_all)
{
	int i;

	CHECK_INT(format_probe("Usage: openscad [options] file.scad\n  -o arg  output\n"),
	    format_count());
	for (i = 0; i < format_count(); i++)
		CHECK(format_enabled(format_at(i)));
	CHECK_INT(format_probe(""), format_count());
	CHECK_INT(format_probe(NULL), format_count());
	for (i = 0; i < format_count(); i++)
		CHECK(format_enabled(format_at(i)));
}

TEST(probe_list_without_3mf)
{
	/* An OpenSCAD built without lib3mf. */
	static const char help[] =
	    "  -o [ --o ] arg               output specified file instead of running the \n"
	    "                               GUI, the file extension specifies the type: stl,\n"
	    "                               off, amf, csg, dxf, svg, pdf, png, echo, \n"
	    "                               ast, term, nef3, nefdbg (May be used multiple \n"
	    "                               time for 3mf, see --help-3mf).\n";
	int n = format_probe(help);

	CHECK(!enabled("3mf"));
	CHECK(enabled("stl"));
	CHECK(enabled("asciistl"));
	CHECK(enabled("off"));
	CHECK(enabled("amf"));
	CHECK(enabled("svg"));
	CHECK(enabled("dxf"));
	CHECK_INT(n, format_count() - 1);
	/* Probing again with a full list turns it back on. */
	format_probe(help_2021);
	CHECK(enabled("3mf"));
	format_probe(NULL);
}

TEST(probe_whole_words)
{
	/* "nef3" and "3mfx" must not count as 3mf, "stlx" or "binstl" not as stl. */
	format_probe("the file extension specifies the type: nef3, 3mfx, stlx, binstl, x3mf, "
	    "off (end");
	CHECK(!enabled("3mf"));
	CHECK(!enabled("stl"));
	CHECK(!enabled("asciistl"));
	CHECK(enabled("off"));
	CHECK(!enabled("svg"));
	format_probe(NULL);
}

TEST(text_formats)
{
	static const char *const text[] = { "csg", "echo", "ast" };
	size_t i;
	int n = 0;

	/* These get SCADSERVE_TEXT_OUTPUT_MAX: a few bytes of source can ask for megabytes. */
	for (i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		if (CHECK(format_find(text[i]) != NULL))
			CHECK_INT(format_find(text[i])->text, 1);
	for (i = 0; i < (size_t)format_count(); i++)
		n += format_at((int)i)->text;
	CHECK_INT(n, 3);
	CHECK_INT(format_find("stl")->text, 0);
	CHECK_INT(format_find("svg")->text, 0);
}

UNIT_MAIN(find, text_formats, default_is_binary_stl, table, probe_2021_help, probe_without_list_keeps_all,
    probe_list_without_3mf, probe_whole_words)

/* test_classify.c -- tests for fcgi/classify.c, on real OpenSCAD 2021.01 logs */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "text.h"
#include "unit.h"

/* The statistics OpenSCAD 2021.01 prints after every render. */
#define STATS \
	"Geometries in cache: 1\n" \
	"Geometry cache size in bytes: 728\n" \
	"CGAL Polyhedrons in cache: 0\n" \
	"CGAL cache size in bytes: 0\n" \
	"Total rendering time: 0:00:00.000\n"

/* One run: the result the renderer gave and what the caller knows. */
struct run {
	int status;
	int sig;
	int timed_out;
	const char *log;
	long long output_size;
	const char *format;
};

/* Classifies run into e (zeroed first) and returns the type. */
static enum err_type
classify(const struct run *u, struct err *e)
{
	struct render_result res;
	struct classify_in in;

	memset(&res, 0, sizeof(res));
	res.exited = u->sig == 0;
	res.status = u->status;
	res.signal = u->sig;
	res.timed_out = u->timed_out;
	res.log = (char *)u->log;
	res.log_len = u->log ? strlen(u->log) : 0;
	memset(&in, 0, sizeof(in));
	in.run = &res;
	in.format = format_find(u->format ? u->format : "stl");
	in.output_size = u->output_size;
	in.output_max = 64ULL << 20;
	in.timeout = 30;
	in.memory_max = 2ULL << 30;
	memset(e, 0, sizeof(*e));
	return classify_run(&in, e);
}

TEST(parse_error_main_file)
{
	/* cube(1);\ncube(; -- exit 1, no output */
	struct run u = { 1, 0, 0, "ERROR: Parser error: syntax error in file model.scad, "
	    "line 2\nCan't parse file 'model.scad'!\n\n", -1, NULL };
	struct err e;

	CHECK_INT(classify(&u, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.type, ERR_INVALID_SCAD);
	CHECK_INT(e.line, 2);
	CHECK_STR(e.file, "");
	CHECK_HAS(e.message, "syntax error");
	CHECK_INT(err_status(e.type), 422);
}

TEST(parse_error_included_file)
{
	struct run u = { 1, 0, 0, "ERROR: Parser error: syntax error in file lib/util.scad, "
	    "line 7\nCan't parse file 'model.scad'!\n\n", -1, NULL };
	struct err e;

	CHECK_INT(classify(&u, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 7);
	CHECK_STR(e.file, "lib/util.scad");
}

TEST(parse_error_quoted_file_name)
{
	/* Newer OpenSCAD quotes the name. */
	struct run u = { 1, 0, 0, "ERROR: Parser error in file \"lib/a b.scad\", line 12: "
	    "syntax error\nExecution aborted\n", -1, NULL };
	struct err e;

	CHECK_INT(classify(&u, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 12);
	CHECK_STR(e.file, "lib/a b.scad");
}

TEST(evaluation_errors)
{
	/* assert(false); cube(1); -- 2021.01 exits 1 */
	struct run a = { 1, 0, 0, "ERROR: Assertion 'false' failed in file model.scad, line 1\n"
	    "TRACE: called by 'assert' in file model.scad, line 1\n" STATS
	    "Current top level object is empty.\n", -1, NULL };
	/* function f(x)=f(x+1); echo(f(1)); cube(1); -- 2021.01 stops, exits 1, no output */
	struct run b = { 1, 0, 0, "ERROR: Recursion detected calling function 'f' in file "
	    "model.scad, line 1\nTRACE: called by 'f' in file model.scad, line 2\n"
	    "TRACE: called by 'echo' in file model.scad, line 2\n" STATS
	    "Current top level object is empty.\n", -1, NULL };
	struct err e;

	CHECK_INT(classify(&a, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 1);
	CHECK_HAS(e.message, "Assertion");
	CHECK_INT(classify(&b, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 1);
	CHECK_HAS(e.message, "Recursion");
}

TEST(model_2d_as_stl)
{
	/* square(1); exported as STL */
	struct run u = { 1, 0, 0, STATS "   Top level object is a 2D object:\n"
	    "   Contours:        1\nCurrent top level object is not a 3D object.\n", -1, NULL };
	struct err e;

	CHECK_INT(classify(&u, &e), ERR_EMPTY_MODEL);
	CHECK_HAS(e.message, "svg");
	CHECK_HAS(e.message, "stl");
	u.format = "3mf";
	CHECK_INT(classify(&u, &e), ERR_EMPTY_MODEL);
	CHECK_HAS(e.message, "3mf");
}

TEST(model_3d_as_svg)
{
	struct run u = { 1, 0, 0, STATS "   Top level object is a 3D object:\n"
	    "   Facets:          6\nCurrent top level object is not a 2D object.\n", -1, "svg" };
	struct err e;

	CHECK_INT(classify(&u, &e), ERR_EMPTY_MODEL);
	CHECK_HAS(e.message, "stl");
}

TEST(model_empty)
{
	/* echo("x"); */
	struct run u = { 1, 0, 0, "ECHO: \"x\"\n" STATS "Current top level object is empty.\n",
	    -1, NULL };
	struct err e;

	CHECK_INT(classify(&u, &e), ERR_EMPTY_MODEL);
	CHECK_INT(err_status(e.type), 422);
}

TEST(file_not_accessible)
{
	/* import("missing.stl"); -- real 2021.01 log: exit 1, no output */
	struct run a = { 1, 0, 0, "WARNING: Can't open import file 'missing.stl', import() at "
	    "line 1\n" STATS "Current top level object is empty.\n", -1, NULL };
	/* The same with exit 0 and an empty output file (not seen from 2021.01, but failed). */
	struct run b = { 0, 0, 0, "WARNING: Can't open import file '/etc/passwd.stl', "
	    "import() at line 2\n" STATS "Current top level object is empty.\n", 0, NULL };
	/* Real 2021.01 texts for each kind of file, every one a failed render. */
	static const struct {
		const char *log, *format, *want;
	} more[] = {
		{ "WARNING: Can't open include file 'missing.scad'.\n", NULL,
		    "WARNING: Can't open include file 'missing.scad'." },
		{ "WARNING: Can't open library 'n.scad'.\n", NULL,
		    "WARNING: Can't open library 'n.scad'." },
		{ "WARNING: Can't open DXF file 'n.dxf'.\n", NULL,
		    "WARNING: Can't open DXF file 'n.dxf'." },
		{ "ERROR: Can't open file 'n.svg', import() at line 1\n", NULL,
		    "ERROR: Can't open file 'n.svg', import() at line 1" },
		{ "WARNING: Could not read file 'n.3mf', import() at line 1\n", NULL,
		    "WARNING: Could not read file 'n.3mf', import() at line 1" },
		/* surface("n.png"): the name comes before the words; the whole line is kept */
		{ "WARNING: The file 'n.png' couldn't be opened.\n", NULL,
		    "WARNING: The file 'n.png' couldn't be opened." },
		/* surface() alone */
		{ "WARNING: The file '' couldn't be opened.\n", NULL,
		    "WARNING: The file '' couldn't be opened." },
		/* import("n.dxf") as svg: the file, not the "not a 2D object" that follows */
		{ "WARNING: Can't open DXF file 'n.dxf'.\n" STATS
		    "Current top level object is not a 2D object.\n", "svg",
		    "WARNING: Can't open DXF file 'n.dxf'." },
	};
	struct err e;
	char log[1024];
	size_t i;

	CHECK_INT(classify(&a, &e), ERR_FILE_NOT_ACCESSIBLE);
	CHECK_HAS(e.message, "WARNING: Can't open import file 'missing.stl', import() at line 1");
	CHECK_INT(e.line, 0);
	CHECK_STR(e.file, "");
	CHECK_INT(err_status(e.type), 422);
	CHECK_INT(classify(&b, &e), ERR_FILE_NOT_ACCESSIBLE);
	CHECK_HAS(e.message, "'/etc/passwd.stl'");
	for (i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
		struct run u = { 1, 0, 0, log, -1, more[i].format };
		snprintf(log, sizeof(log), "%s" STATS "Current top level object is empty.\n",
		    more[i].log);
		CHECK_INT(classify(&u, &e), ERR_FILE_NOT_ACCESSIBLE);
		CHECK_HAS(e.message, more[i].want);
		CHECK_INT(e.line, 0);
	}
}

TEST(finished_render_succeeds_whatever_its_log)
{
	/*
	 * Real 2021.01 logs of renders that exited 0 and wrote their output: a warning about
	 * a file (optional, or no file at all) does not make them fail.
	 */
	static const char *const logs[] = {
		/* rotate_extrude() square(1); surface(); */
		"WARNING: The file '' couldn't be opened.\n" STATS
		    "   Top level object is a 3D object:\n   Facets:         40\n",
		/* import("missing.stl"); cube(1); */
		"WARNING: Can't open import file 'missing.stl', import() at line 1\n" STATS
		    "   Top level object is a 3D object:\n   Facets:          6\n",
		/* include <missing.scad> cube(1); and use <missing.scad> cube(1); */
		"WARNING: Can't open include file 'missing.scad'.\n" STATS,
		"WARNING: Can't open library 'missing.scad'.\n" STATS,
		/* x = dxf_dim(file="n.dxf", name="a"); cube(x); */
		"WARNING: Can't open DXF file 'n.dxf'! in file model.scad, line 1\n" STATS,
		/* cube(size="ERROR: 1"); */
		"WARNING: Unable to convert cube(size=\"ERROR: 1\", ...) parameter to a number or "
		    "a vec3 of numbers in file model.scad, line 1\n" STATS,
		/* not from OpenSCAD, but still not worth failing a finished render for */
		"ERROR: Can't open file 'n.svg', import() at line 1\n" STATS,
		"ERROR: Parser error: syntax error in file model.scad, line 3\n" STATS,
		"std::bad_alloc\nCurrent top level object is not a 3D object.\n",
	};
	struct err e;
	size_t i;

	for (i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		struct run u = { 0, 0, 0, logs[i], 1449, NULL };
		CHECK_INT(classify(&u, &e), ERR_NONE);
		CHECK_INT(e.type, ERR_NONE);
	}
}

TEST(error_with_line_wins_over_a_missing_file)
{
	/* include <missing.scad>\nassert(false, "x");\ncube(1); -- real log, exit 1 */
	struct run as = { 1, 0, 0, "WARNING: Can't open include file 'missing.scad'.\n"
	    "ERROR: Assertion 'false' failed: \"x\" in file model.scad, line 2\n"
	    "TRACE: called by 'assert' in file model.scad, line 2\n" STATS
	    "Current top level object is empty.\n", -1, NULL };
	/* include <missing.scad>\ncube(; -- real log, exit 1 */
	struct run parse = { 1, 0, 0, "WARNING: Can't open include file 'missing.scad'.\n"
	    "ERROR: Parser error: syntax error in file model.scad, line 2\n"
	    "Can't parse file 'model.scad'!\n\n", -1, NULL };
	/* An error without a line does not hide the file that is missing. */
	struct run noline = { 1, 0, 0, "WARNING: Can't open import file 'a.stl', import() at "
	    "line 1\nERROR: CGAL error in CGAL_Nef_polyhedron3(): boom\n" STATS, -1, NULL };
	struct err e;

	CHECK_INT(classify(&as, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 2);
	CHECK_HAS(e.message, "Assertion 'false' failed: \"x\"");
	CHECK_INT(classify(&parse, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 2);
	CHECK_HAS(e.message, "syntax error");
	CHECK_INT(classify(&noline, &e), ERR_FILE_NOT_ACCESSIBLE);
	CHECK_HAS(e.message, "'a.stl'");
	CHECK_INT(e.line, 0);
}

TEST(error_with_line_first)
{
	/* An error without a line, then one with: the one with the line answers. */
	struct run u = { 1, 0, 0, "ERROR: CGAL error in CGAL_Nef_polyhedron3(): boom\n"
	    "ERROR: Assertion 'false' failed in file lib/a.scad, line 4\n" STATS, -1, NULL };
	/* Without any line: the first error still answers, as invalid_scad. */
	struct run v = { 1, 0, 0, "ERROR: CGAL error in CGAL_Nef_polyhedron3(): boom\n" STATS,
	    -1, NULL };
	struct err e;

	CHECK_INT(classify(&u, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 4);
	CHECK_STR(e.file, "lib/a.scad");
	CHECK_INT(classify(&v, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 0);
	CHECK_HAS(e.message, "CGAL error");
}

TEST(error_only_at_line_start)
{
	/* square(size="ERROR: 1"); as STL -- real log, exit 1: a 2D model, not an error */
	struct run u = { 1, 0, 0, "WARNING: Unable to convert square(size=\"ERROR: 1\", ...) "
	    "parameter to a number or a vec2 of numbers in file model.scad, line 1\n" STATS
	    "   Top level object is a 2D object:\n   Contours:        1\n"
	    "Current top level object is not a 3D object.\n", -1, NULL };
	struct err e;

	CHECK_INT(classify(&u, &e), ERR_EMPTY_MODEL);
	CHECK_HAS(e.message, "svg");
	CHECK_INT(e.line, 0);
}

TEST(assertion_text_is_not_the_location)
{
	/* assert(false, "in file x.scad, line 99"); -- real log, exit 1 */
	struct run a = { 1, 0, 0, "ERROR: Assertion 'false' failed: \"in file x.scad, line 99\" "
	    "in file model.scad, line 1\nTRACE: called by 'assert' in file model.scad, line 1\n"
	    STATS "Current top level object is empty.\n", -1, NULL };
	/* x = 1;\nassert(x == 2, "line 7 of the spec");\ncube(1); -- real log, exit 1 */
	struct run b = { 1, 0, 0, "ERROR: Assertion '(x == 2)' failed: \"line 7 of the spec\" in "
	    "file model.scad, line 2\nTRACE: called by 'assert' in file model.scad, line 2\n"
	    STATS "Current top level object is empty.\n", -1, NULL };
	/* assert(false, "Can't open file 'x'"): an assertion, not a missing file */
	struct run c = { 1, 0, 0, "ERROR: Assertion 'false' failed: \"Can't open file 'x'\" in "
	    "file model.scad, line 3\n" STATS, -1, NULL };
	struct err e;

	CHECK_INT(classify(&a, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 1);
	CHECK_STR(e.file, "");
	CHECK_INT(classify(&b, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 2);
	CHECK_INT(classify(&c, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 3);
}

TEST(syntax_error_in_echo_and_ast)
{
	/*
	 * cube(1);\ncube(; with --export-format echo: exit 1, and 2021.01 writes its messages
	 * into the output file (93 bytes); api.c adds a failed echo run's output to the log.
	 */
	struct run echo = { 1, 0, 0, "ERROR: Parser error: syntax error in file model.scad, "
	    "line 2\nCan't parse file 'model.scad'!\n\n", 93, "echo" };
	/* ... and with --export-format ast: exit 1, no output, the log on stderr */
	struct run ast = { 1, 0, 0, "ERROR: Parser error: syntax error in file model.scad, "
	    "line 2\nCan't parse file 'model.scad'!\n\n", -1, "ast" };
	/* A list nested 300,000 deep as a literal: the parser's stack, exit 1 */
	struct run deep = { 1, 0, 0, "ERROR: Parser error: memory exhausted in file model.scad, "
	    "line 1\nCan't parse file 'model.scad'!\n\n", -1, NULL };
	struct err e;

	CHECK_INT(classify(&echo, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 2);
	CHECK_INT(classify(&ast, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 2);
	CHECK_INT(classify(&deep, &e), ERR_INVALID_SCAD);
	CHECK_INT(e.line, 1);
}

TEST(output_not_writable)
{
	/* The output folder not writable (a server fault): real 2021.01 log, exit 0 */
	struct run u = { 0, 0, 0, STATS "   Top level object is a 3D object:\n"
	    "   Facets:          6\nCan't open file \"out/model.stl\" for export\n", -1, NULL };
	struct err e;

	CHECK_INT(classify(&u, &e), ERR_INTERNAL);
	CHECK_HAS(e.message, "for export");
	CHECK_INT(err_status(e.type), 500);
}

TEST(log_warnings)
{
	CHECK_INT(classify_log_warnings(NULL), 0);
	CHECK_INT(classify_log_warnings(""), 0);
	CHECK_INT(classify_log_warnings("WARNING: a\nECHO: \"WARNING: b\"\n  WARNING: c\n"
	    "DEPRECATED: d\nWARNING: e"), 2);
	CHECK_INT(classify_log_warnings("WARNING: The file '' couldn't be opened.\n" STATS), 1);
}

TEST(timeouts)
{
	struct run wall = { 0, SIGKILL, 1, "", -1, NULL };
	struct run cpu = { 0, SIGXCPU, 0, "", -1, NULL };
	/* A timeout wins over whatever the log says. */
	struct run wall_parse = { 0, SIGKILL, 1, "ERROR: Parser error: syntax error in file "
	    "model.scad, line 2\n", -1, NULL };
	struct err e;

	CHECK_INT(classify(&wall, &e), ERR_TIMEOUT);
	CHECK_HAS(e.message, "30");
	CHECK_INT(classify(&cpu, &e), ERR_TIMEOUT);
	CHECK_INT(classify(&wall_parse, &e), ERR_TIMEOUT);
	CHECK_INT(err_status(e.type), 422);
}

TEST(output_too_large)
{
	struct run fsz = { 0, SIGXFSZ, 0, STATS, -1, NULL };
	struct run big = { 0, 0, 0, STATS, (64LL << 20) + 1, NULL };
	struct run exact = { 0, 0, 0, STATS, 64LL << 20, NULL };
	struct err e;

	CHECK_INT(classify(&fsz, &e), ERR_OUTPUT_TOO_LARGE);
	CHECK_INT(classify(&big, &e), ERR_OUTPUT_TOO_LARGE);
	CHECK_INT(classify(&exact, &e), ERR_NONE);
}

TEST(memory_limit)
{
	struct run abrt = { 0, SIGABRT, 0, "terminate called after throwing an instance of "
	    "'std::bad_alloc'\n  what():  std::bad_alloc\n", -1, NULL };
	struct run bash = { 2, 0, 0, "bash: xmalloc: cannot allocate 1048576 bytes (0 bytes "
	    "allocated)\n", -1, NULL };
	struct run oom_killer = { 0, SIGKILL, 0, STATS, -1, NULL };
	struct err e;

	CHECK_INT(classify(&abrt, &e), ERR_MEMORY_LIMIT);
	CHECK_HAS(e.message, "2048");
	CHECK_INT(classify(&bash, &e), ERR_MEMORY_LIMIT);
	CHECK_INT(classify(&oom_killer, &e), ERR_MEMORY_LIMIT);
}

TEST(crashes)
{
	/*
	 * function nest(n, acc = []) = n == 0 ? acc : nest(n - 1, [acc]); x = nest(300000);
	 * cube(1); -- real: 2021.01 writes the whole STL, then dies of SIGSEGV freeing x.
	 * The model made it crash: an answer about the model, never a success.
	 */
	struct run deep = { 0, SIGSEGV, 0, STATS "   Top level object is a 3D object:\n"
	    "   Facets:          6\n", 684, NULL };
	struct run segv = { 0, SIGSEGV, 0, STATS, -1, NULL };
	struct run abrt = { 0, SIGABRT, 0, "CGAL error: assertion violation!\n", -1, NULL };
	struct run bus = { 0, SIGBUS, 0, "", -1, NULL };
	/* Not the model: the sandbox (SIGSYS), someone outside (SIGTERM) */
	struct run sys = { 0, SIGSYS, 0, STATS, 684, NULL };
	struct run term = { 0, SIGTERM, 0, "", -1, NULL };
	/* OpenSCAD failed without saying why */
	struct run status = { 3, 0, 0, STATS, -1, NULL };
	struct run nostart = { 127, 0, 0, "", -1, NULL };
	struct err e;

	CHECK_INT(classify(&deep, &e), ERR_RENDERER_CRASHED);
	CHECK_INT(err_status(e.type), 422);
	CHECK_HAS(e.message, "model made the renderer crash");
	CHECK_HAS(e.message, "11");
	CHECK_INT(classify(&segv, &e), ERR_RENDERER_CRASHED);
	CHECK_INT(classify(&abrt, &e), ERR_RENDERER_CRASHED);
	CHECK_INT(classify(&bus, &e), ERR_RENDERER_CRASHED);
	CHECK_INT(classify(&sys, &e), ERR_INTERNAL);
	CHECK_INT(err_status(e.type), 500);
	CHECK_HAS(e.message, "signal");
	CHECK_INT(classify(&term, &e), ERR_INTERNAL);
	CHECK_INT(classify(&status, &e), ERR_INTERNAL);
	CHECK_HAS(e.message, "3");
	CHECK_INT(classify(&nostart, &e), ERR_INTERNAL);
}

TEST(empty_text_output)
{
	/* cube(1); as echo -- real 2021.01: exit 0, an empty output file, an empty log */
	struct run echo = { 0, 0, 0, "", 0, "echo" };
	/* ... but no output file at all is still nothing */
	struct run none = { 0, 0, 0, "", -1, "echo" };
	/* and an empty STL is no STL */
	struct run stl = { 0, 0, 0, STATS, 0, NULL };
	struct err e;

	CHECK_INT(classify(&echo, &e), ERR_NONE);
	CHECK_INT(classify(&none, &e), ERR_EMPTY_MODEL);
	CHECK_INT(classify(&stl, &e), ERR_EMPTY_MODEL);
}

TEST(no_output)
{
	struct run zero = { 0, 0, 0, STATS, 0, NULL };
	struct run none = { 0, 0, 0, STATS, -1, NULL };
	struct run nolog = { 0, 0, 0, NULL, -1, NULL };
	struct err e;

	CHECK_INT(classify(&zero, &e), ERR_EMPTY_MODEL);
	CHECK_INT(classify(&none, &e), ERR_EMPTY_MODEL);
	CHECK_INT(classify(&nolog, &e), ERR_EMPTY_MODEL);
}

TEST(success)
{
	struct run ok = { 0, 0, 0, STATS "   Top level object is a 3D object:\n"
	    "   Facets:          6\n", 684, NULL };
	struct run warn = { 0, 0, 0, "WARNING: Ignoring unknown variable 'x', in file model.scad, "
	    "line 1.\n" STATS, 684, NULL };
	struct run echo_oom = { 0, 0, 0, "ECHO: \"std::bad_alloc\"\n" STATS, 684, NULL };
	struct err e;

	CHECK_INT(classify(&ok, &e), ERR_NONE);
	CHECK_INT(e.type, ERR_NONE);
	CHECK_INT(classify(&warn, &e), ERR_NONE);
	CHECK_INT(classify(&echo_oom, &e), ERR_NONE);
}

TEST(echo_cannot_pass_for_an_error)
{
	/* The model prints OpenSCAD's own words; it rendered fine. */
	struct run u = { 0, 0, 0, "ECHO: \"Parser error ... line 3\"\n" STATS, 684, NULL };
	struct run v = { 0, 0, 0, "ECHO: \"ERROR: Parser error: syntax error in file model.scad, "
	    "line 3\"\n" STATS, 684, NULL };
	struct run w = { 0, 0, 0, "ECHO: \"WARNING: Can't open import file '/etc/passwd'\"\n"
	    STATS, 684, NULL };
	struct run x = { 0, 0, 0, "ECHO: \"Current top level object is not a 3D object.\"\n"
	    STATS, 684, NULL };
	struct err e;

	CHECK_INT(classify(&u, &e), ERR_NONE);
	CHECK_INT(classify(&v, &e), ERR_NONE);
	CHECK_INT(classify(&w, &e), ERR_NONE);
	CHECK_INT(classify(&x, &e), ERR_NONE);
}

TEST(multiline_echo_cannot_pass_for_an_error)
{
	/*
	 * echo("Parser error ... line 3\nERROR: Parser error: syntax error in file
	 * model.scad, line 3"); cube(1); -- 2021.01 prints the string's newline as is, so
	 * the second line does not start with "ECHO:". Real log, exit 0, with output.
	 */
	struct run u = { 0, 0, 0, "ECHO: \"Parser error ... line 3\nERROR: Parser error: syntax "
	    "error in file model.scad, line 3\"\n" STATS "   Top level object is a 3D object:\n"
	    "   Facets:          6\n", 684, NULL };
	/* A faked warning cannot fail a finished render either. */
	struct run v = { 0, 0, 0, "ECHO: \"x\nWARNING: Can't open import file '/etc/passwd'\"\n"
	    STATS, 684, NULL };
	struct err e;

	CHECK_INT(classify(&u, &e), ERR_NONE);
	CHECK_INT(classify(&v, &e), ERR_NONE);
}

TEST(clean_log)
{
	char *s;

	s = classify_clean_log("ERROR: Parser error: syntax error in file "
	    "/var/x/tmp/r-abc123/src/model.scad, line 2\n", "/var/x/tmp/r-abc123/src");
	if (CHECK(s != NULL))
		CHECK_STR(s, "ERROR: Parser error: syntax error in file model.scad, line 2\n");
	free(s);
	s = classify_clean_log("WARNING: Can't open import file '/s/r-1/src/a.stl'\n"
	    "cwd /s/r-1/src\n/s/r-1/src/b/c.dat and /s/r-1/src/d\n", "/s/r-1/src");
	if (CHECK(s != NULL))
		CHECK_STR(s, "WARNING: Can't open import file 'a.stl'\ncwd .\nb/c.dat and d\n");
	free(s);
	s = classify_clean_log(NULL, "/s/r-1");
	if (CHECK(s != NULL))
		CHECK_STR(s, "");
	free(s);
	s = classify_clean_log("nothing to see\n", "/s/r-1");
	if (CHECK(s != NULL))
		CHECK_STR(s, "nothing to see\n");
	free(s);
}

TEST(clean_log_scratch_dir)
{
	char *s;

	/*
	 * classify.h: "the scratch directory prefix removed (so "/x/r-1/src/a.scad" reads
	 * "a.scad")"; api.c passes the scratch directory (struct scratch's dir), and the
	 * renderer runs in its src/. 2021.01 names imports by absolute path.
	 */
	s = classify_clean_log("WARNING: Can't open import file "
	    "'/var/x/tmp/r-abc123/src/nothere.stl', import() at line 1\n"
	    "Can't parse file '/var/x/tmp/r-abc123/src/model.scad'!\n", "/var/x/tmp/r-abc123");
	if (CHECK(s != NULL)) {
		CHECK_STR(s, "WARNING: Can't open import file 'nothere.stl', import() at line 1\n"
		    "Can't parse file 'model.scad'!\n");
		CHECK(strstr(s, "r-abc123") == NULL);
	}
	free(s);
	s = classify_clean_log("/x/r-1/src/a.scad", "/x/r-1");
	if (CHECK(s != NULL))
		CHECK_STR(s, "a.scad");
	free(s);
}

TEST(clean_log_utf8)
{
	char *s = classify_clean_log("ECHO: \"\xff\xfe\"\n\xc3\xa9 \xed\xa0\x80\n", "/s/r-1");

	if (CHECK(s != NULL)) {
		CHECK_STR(s, "ECHO: \"??\"\n\xc3\xa9 ???\n");
		CHECK(text_utf8_valid(s, strlen(s)));
	}
	free(s);
	/* A scratch path cut by invalid bytes is still scrubbed, and valid text kept. */
	s = classify_clean_log("/s/r-1/src/\xc3\xa9.scad\xc3", "/s/r-1/src");
	if (CHECK(s != NULL))
		CHECK_STR(s, "\xc3\xa9.scad?");
	free(s);
}

TEST(long_line_message_answerable)
{
	/* An OpenSCAD error line longer than the message keeps, with non-ASCII text in it. */
	char log[1024], *json;
	struct run u = { 1, 0, 0, log, -1, NULL };
	struct err e;
	size_t i;

	for (i = 0; i < 2; i++) {
		/* Put a 2-byte character across the cut, wherever it falls. */
		int n = snprintf(log, sizeof(log), "ERROR: Assertion '%0*d", (int)(230 + i), 0);
		snprintf(log + n, sizeof(log) - (size_t)n, "%s", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9' "
		    "failed in file model.scad, line 4\n");
		CHECK_INT(classify(&u, &e), ERR_INVALID_SCAD);
		CHECK(text_utf8_valid(e.message, strlen(e.message)));
		json = err_json(&e, "r");
		CHECK(json != NULL);
		free(json);
	}
}

TEST(log_summary)
{
	char out[72];

	classify_log_summary("ECHO: \"a\nb\"\nGeometries in cache: 1\nCGAL cache size in bytes: 0\n"
	    "WARNING: Ignoring unknown module 'x' in file model.scad, line 2\n"
	    "   Top level object is a 3D object:\n", out, sizeof(out));
	/* Continuation lines of an echo stay; statistics go; the oldest go when it is full. */
	CHECK_STR(out, "b\"\nWARNING: Ignoring unknown module 'x' in file model.scad, line 2\n");
	classify_log_summary("ECHO: 1\nTotal rendering time: 0:00:00.000\n", out, sizeof(out));
	CHECK_STR(out, "ECHO: 1\n");
	classify_log_summary(NULL, out, sizeof(out));
	CHECK_STR(out, "");
}

/* A running job's stage, from the lines of OpenSCAD's log as they come. */
TEST(stage_from_log_lines)
{
	char out[128] = "untouched", longline[400];

	CHECK_INT(classify_stage("Could not initialize localization.", out, sizeof(out)), 0);
	CHECK_STR(out, "untouched");
	CHECK_INT(classify_stage("", out, sizeof(out)), 0);
	CHECK_INT(classify_stage("ECHO: \"started\"", out, sizeof(out)), 1);
	CHECK_STR(out, "evaluating the model, last said: ECHO: \"started\"");
	CHECK_INT(classify_stage("WARNING: Ignoring unknown variable 'x'", out, sizeof(out)), 1);
	CHECK_HAS(out, "last said: WARNING: Ignoring");
	CHECK_INT(classify_stage("Geometries in cache: 3", out, sizeof(out)), 1);
	CHECK_STR(out, "writing the result");
	CHECK_INT(classify_stage("Total rendering time: 0:00:00.002", out, sizeof(out)), 1);
	CHECK_STR(out, "writing the result");
	/* A model's long echo of two-byte characters: cut, and still valid UTF-8. */
	memcpy(longline, "ECHO: ", 6);
	for (size_t i = 6; i + 2 < sizeof(longline); i += 2)
		memcpy(longline + i, "\xc3\xa9", 2);
	longline[sizeof(longline) - 2] = '\0';
	CHECK_INT(classify_stage(longline, out, sizeof(out)), 1);
	CHECK(strlen(out) < sizeof(out));
	CHECK(text_utf8_valid(out, strlen(out)));
}

UNIT_MAIN(log_summary, parse_error_main_file, parse_error_included_file, parse_error_quoted_file_name,
    evaluation_errors, model_2d_as_stl, model_3d_as_svg, model_empty, file_not_accessible,
    finished_render_succeeds_whatever_its_log, error_with_line_wins_over_a_missing_file,
    error_with_line_first, error_only_at_line_start, assertion_text_is_not_the_location,
    syntax_error_in_echo_and_ast, output_not_writable, log_warnings, timeouts, output_too_large, memory_limit, crashes,
    empty_text_output, no_output, success, echo_cannot_pass_for_an_error, multiline_echo_cannot_pass_for_an_error,
    clean_log, clean_log_scratch_dir, clean_log_utf8, long_line_message_answerable,
    stage_from_log_lines)

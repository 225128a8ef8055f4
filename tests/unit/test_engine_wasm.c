/* test_engine_wasm.c -- tests for the pure parts of fcgi/engine_wasm.c: the log a user reads */
#include <stdlib.h>
#include <string.h>

#include "engine_wasm.h"
#include "format.h"
#include "unit.h"

static void
expect(const char *in, const char *want)
{
	char *out = engine_wasm_clean_log(in);

	if (CHECK(out != NULL))
		CHECK_STR(out, want);
	free(out);
}

TEST(internal_paths_read_as_the_user_wrote_them)
{
	expect("ERROR: Parser error: syntax error in file /work/model.scad, line 3\n",
	    "ERROR: Parser error: syntax error in file model.scad, line 3\n");
	expect("WARNING: Can't open import file '/work/parts/a.stl', import() at line 1\n",
	    "WARNING: Can't open import file 'parts/a.stl', import() at line 1\n");
	expect("TRACE: called by 'gear' in file /home/web_user/.local/share/OpenSCAD/libraries/"
	    "MCAD/involute_gears.scad, line 90\n",
	    "TRACE: called by 'gear' in file MCAD/involute_gears.scad, line 90\n");
	/* A word that merely starts like the folder is the model's own text. */
	expect("ECHO: \"/workshop\"\n", "ECHO: \"/workshop\"\n");
}

TEST(start_up_noise_goes)
{
	expect("Could not initialize localization (application path is '/work').\nECHO: 1\n",
	    "ECHO: 1\n");
	expect("ECHO: 1\nCould not initialize localization (application path is '/work').\n",
	    "ECHO: 1\n");
	/* Only a whole line that starts so: an echo quoting it stays. */
	expect("ECHO: \"Could not initialize localization\"\n",
	    "ECHO: \"Could not initialize localization\"\n");
	expect("", "");
	expect(NULL, "");
}

TEST(invalid_utf8_is_scrubbed)
{
	char *out = engine_wasm_clean_log("ECHO: \"\xff\xfe\"\n");

	if (CHECK(out != NULL))
		CHECK(strstr(out, "\xff") == NULL);
	free(out);
}

TEST(formats_it_exports)
{
	CHECK(engine_wasm_has_format(format_find("stl")));
	CHECK(engine_wasm_has_format(format_find("asciistl")));
	CHECK(engine_wasm_has_format(format_find("svg")));
	CHECK(engine_wasm_has_format(format_find("dxf")));
	CHECK(engine_wasm_has_format(format_find("echo")));
	CHECK(!engine_wasm_has_format(format_find("3mf")));
	CHECK(!engine_wasm_has_format(format_find("pdf")));
	/* Nothing set up: not usable, and says why in health. */
	CHECK(!engine_wasm_usable(format_find("stl")));
}

TEST(a_dropped_part_is_seen)
{
	CHECK(engine_wasm_incomplete("ECHO: 1\nERROR: CGAL error in applyHull(): CGAL ERROR: "
	    "assertion violation!\nExpr: it != border.end()\n"));
	CHECK(engine_wasm_incomplete("ERROR: CGAL error in applyHull()"));
	CHECK(!engine_wasm_incomplete("ECHO: \"ERROR: CGAL error\"\n"));
	CHECK(!engine_wasm_incomplete("WARNING: x\nERROR: Parser error\n"));
	CHECK(!engine_wasm_incomplete(""));
	CHECK(!engine_wasm_incomplete(NULL));
}

UNIT_MAIN(internal_paths_read_as_the_user_wrote_them, start_up_noise_goes,
    invalid_utf8_is_scrubbed, formats_it_exports, a_dropped_part_is_seen)

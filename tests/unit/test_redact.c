/* test_redact.c -- tests for fcgi/redact.c: a refused file reads like a missing one */
#include <stdio.h>
#include <string.h>

#include "redact.h"
#include "unit.h"

/* Runs redact_denials on a copy of in; checks the result and the count. */
static void
expect(const char *in, const char *want, int changes)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", in);
	CHECK_INT(redact_denials(buf), changes);
	CHECK_STR(buf, want);
}

TEST(library_found_reads_as_missing)
{
	/* Real OpenSCAD 2021.01 text: a file that exists, then one that does not. */
	expect("WARNING: Can't open library file '/srv/x/secret.scad'\nECHO: 1\n",
	    "WARNING: Can't open library '/srv/x/secret.scad'.\nECHO: 1\n", 1);
	expect("WARNING: Can't open library '/srv/x/nope.scad'.\n",
	    "WARNING: Can't open library '/srv/x/nope.scad'.\n", 0);
	/* No trailing newline, several on one log. */
	expect("WARNING: Can't open library file 'a'\nWARNING: Can't open library file 'b'",
	    "WARNING: Can't open library 'a'.\nWARNING: Can't open library 'b'.", 2);
	/* Twice on one line (a model's echo can put them there): both, so once is enough. */
	expect("x Can't open library file 'a' y Can't open library file 'b'\n",
	    "x Can't open library 'a'. y Can't open library 'b'.\n", 2);
}

TEST(permission_denied_lines_go)
{
	expect("I/O error : Permission denied\nI/O error : Permission denied\n"
	    "ERROR: Can't open file '/x.svg', import() at line 1\n",
	    "ERROR: Can't open file '/x.svg', import() at line 1\n", 2);
	/* Only the whole line: a model's echo that mentions it stays. */
	expect("ECHO: \"I/O error : Permission denied!\"\n",
	    "ECHO: \"I/O error : Permission denied!\"\n", 0);
}

TEST(other_text_untouched)
{
	expect("", "", 0);
	expect("Can't open library file '", "Can't open library file '", 0);	/* unterminated */
	expect("WARNING: Can't open include file '/a.scad'.\n",
	    "WARNING: Can't open include file '/a.scad'.\n", 0);
}

UNIT_MAIN(library_found_reads_as_missing, permission_denied_lines_go, other_text_untouched)

/* redact.c -- takes out of a renderer's log what a client must not learn: whether a file it could not open exists */
#include <string.h>

#include "redact.h"

/* A whole line that only a refused open prints (libxml2, for SVG). */
static const char denied_line[] = "I/O error : Permission denied";

/* OpenSCAD 2021.01's `use` of a file it found but could not open, and of one it did not find. */
static const char lib_found[] = "Can't open library file '";
static const char lib_missing[] = "Can't open library '";

int
redact_denials(char *s)
{
	char *r = s, *w = s, *eol, *q, *name, *close;
	size_t dl = sizeof(denied_line) - 1, lf = sizeof(lib_found) - 1;
	size_t lm = sizeof(lib_missing) - 1;
	int changed = 0;

	while (*r != '\0') {
		eol = r + strcspn(r, "\n");
		if ((size_t)(eol - r) >= dl && strncmp(r, denied_line, dl) == 0 &&
		    strspn(r + dl, " \r") == (size_t)(eol - r) - dl) {
			r = *eol ? eol + 1 : eol;	/* the line and its newline go */
			changed++;
			continue;
		}
		/*
		 * Copy the line, rewriting each "library file 'X'" (no full stop after it) to
		 * "library 'X'.": 5 bytes shorter, so the full stop fits and w stays behind r.
		 */
		while ((q = strstr(r, lib_found)) != NULL && q < eol) {
			name = q + lf;
			close = memchr(name, '\'', (size_t)(eol - name));
			if (close == NULL)
				break;
			memmove(w, r, (size_t)(q - r));
			w += q - r;
			if (close + 1 < eol && close[1] == '.') {
				memmove(w, q, (size_t)(close + 1 - q));	/* not ours: as it is */
				w += close + 1 - q;
			} else {
				memcpy(w, lib_missing, lm);
				memmove(w + lm, name, (size_t)(close + 1 - name));
				w += lm + (size_t)(close + 1 - name);
				*w++ = '.';
				changed++;
			}
			r = close + 1;
		}
		memmove(w, r, (size_t)(eol - r));
		w += eol - r;
		r = eol;
		if (*r == '\n')
			*w++ = *r++;
	}
	*w = '\0';
	return changed;
}

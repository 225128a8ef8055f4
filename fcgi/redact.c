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
	char *r = s, *w = s, *eol, *q;
	size_t n, dl = sizeof(denied_line) - 1;
	int changed = 0;

	while (*r != '\0') {
		eol = r + strcspn(r, "\n");
		n = (size_t)(eol - r);
		if (n >= dl && strncmp(r, denied_line, dl) == 0 &&
		    strspn(r + dl, " \r") == n - dl) {
			r = *eol ? eol + 1 : eol;	/* the line and its newline go */
			changed++;
			continue;
		}
		/* Copy the line, rewriting "library file 'X'" (no full stop) to "library 'X'.". */
		q = n >= sizeof(lib_found) - 1 ? strstr(r, lib_found) : NULL;
		if (q != NULL && q < eol) {
			char *name = q + sizeof(lib_found) - 1, *close = memchr(name, '\'', (size_t)(eol - name));
			if (close != NULL && (close + 1 == eol || close[1] != '.')) {
				size_t head = (size_t)(q - r) + sizeof(lib_missing) - 1;
				size_t body = (size_t)(close + 1 - name);
				/* "library file '" is 5 bytes longer than "library '": room for the '.' */
				memmove(w, r, (size_t)(q - r));
				memcpy(w + (q - r), lib_missing, sizeof(lib_missing) - 1);
				memmove(w + head, name, body);
				w[head + body] = '.';
				w += head + body + 1;
				r = close + 1;
				changed++;
				n = (size_t)(eol - r);
			}
		}
		memmove(w, r, n);
		w += n;
		r = eol;
		if (*r == '\n')
			*w++ = *r++;
	}
	*w = '\0';
	return changed;
}

/* redact.h -- takes out of a renderer's log what a client must not learn: whether a file it could not open exists */
#ifndef SCADSERVE_REDACT_H
#define SCADSERVE_REDACT_H

/*
 * Rewrites, in place, the messages by which OpenSCAD tells a file that exists but may not be
 * read (the sandbox refused it) from one that does not exist, so that both read the same:
 * "Can't open library file 'X'" becomes "Can't open library 'X'.", and libxml2's
 * "I/O error : Permission denied" lines are dropped. Pure; s stays NUL-terminated and never
 * grows. Returns the number of messages changed.
 */
int redact_denials(char *s);

#endif

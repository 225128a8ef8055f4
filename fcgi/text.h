/* text.h -- small pure text helpers: UTF-8 checks, substring replacement, parsing numbers */
#ifndef SCADSERVE_TEXT_H
#define SCADSERVE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* 1 if buf[0..len) is valid UTF-8 (no overlongs, no surrogates), else 0. */
int text_utf8_valid(const char *buf, size_t len);

/* Replaces every byte that is not part of valid UTF-8 (and every NUL) in s by '?', in place. */
void text_utf8_scrub(char *s, size_t len);

/*
 * Returns a new string: s with every occurrence of from replaced by to.
 * Caller frees. NULL on out of memory.
 */
char *text_replace(const char *s, const char *from, const char *to);

/*
 * Parses a size such as "8388608", "64K", "8M", "2G" (binary units).
 * Returns 0 and sets *out, or -1 if malformed or overflowing.
 */
int text_parse_size(const char *s, uint64_t *out);

/*
 * Parses a positive number of seconds in plain decimal: digits with an optional fraction
 * ("30", "2.5"; not "0x10", "1e1", ".5", "5.", " 5", "inf"). 0 on success, -1 otherwise.
 */
int text_parse_seconds(const char *s, double *out);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void text_hex(const unsigned char *in, size_t len, char *out);

/* 1 if s is exactly 64 lower-case hex digits. */
int text_is_key(const char *s);

/* 1 if s is a canonical textual UUID (8-4-4-4-12 hex). */
int text_is_uuid(const char *s);

/*
 * Percent-encodes s (RFC 3986: all but unreserved characters) into out, which holds
 * outlen bytes; stops before a character that would not fit whole. Never emits part of a
 * UTF-8 sequence: one cut short at the end of s is left out, a broken one inside becomes
 * '?'. Returns the length written. Always decodes with JavaScript's decodeURIComponent.
 */
size_t text_percent_encode(const char *s, char *out, size_t outlen);

/*
 * snprintf into out (outlen bytes) that fails instead of truncating: 0, or -1 with out
 * set to "" when the result does not fit (a cut path must never be used).
 */
int text_printf(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

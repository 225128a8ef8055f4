/* text.c -- small pure text helpers: UTF-8 checks, substring replacement, parsing numbers */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes available), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len, i;
	unsigned cp;

	if (c < 0x80)
		return c == 0 ? 0 : 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int
text_utf8_valid(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t i = 0, n;

	while (i < len) {
		if (p[i] >= 0x01 && p[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_seq(p + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

void
text_utf8_scrub(char *s, size_t len)
{
	unsigned char *p = (unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_seq(p + i, len - i)) == 0) {
			p[i++] = '?';
			continue;
		}
		i += n;
	}
}

char *
text_replace(const char *s, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to), count = 0, outlen;
	const char *p, *q;
	char *out, *w;

	if (flen == 0)
		return strdup(s);
	for (p = s; (q = strstr(p, from)) != NULL; p = q + flen)
		count++;
	outlen = strlen(s) - count * flen + count * tlen;
	if ((out = malloc(outlen + 1)) == NULL)
		return NULL;
	w = out;
	for (p = s; (q = strstr(p, from)) != NULL; p = q + flen) {
		memcpy(w, p, (size_t)(q - p));
		w += q - p;
		memcpy(w, to, tlen);
		w += tlen;
	}
	strcpy(w, p);
	return out;
}

int
text_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = 1024ULL; end++; break;
	case 'm': case 'M': mul = 1024ULL * 1024; end++; break;
	case 'g': case 'G': mul = 1024ULL * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (*end != '\0' || (v != 0 && mul > UINT64_MAX / v))
		return -1;
	*out = (uint64_t)v * mul;
	return 0;
}

int
text_parse_seconds(const char *s, double *out)
{
	const char *p;
	char *end;
	double v;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	/* Plain decimal only: strtod alone would take "0x10", "1e1", "infinity". */
	for (p = s; isdigit((unsigned char)*p); p++)
		;
	if (*p == '.' && isdigit((unsigned char)p[1]))
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p != '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v <= 0)
		return -1;
	*out = v;
	return 0;
}

void
text_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int
text_is_key(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

int
text_is_uuid(const char *s)
{
	size_t i;

	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return s[36] == '\0';
}

size_t
text_percent_encode(const char *s, char *out, size_t outlen)
{
	static const char digits[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, seq, i;

	if (outlen == 0)
		return 0;
	while (*p) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			if (n + 2 > outlen)
				break;
			out[n++] = (char)*p++;
			continue;
		}
		/*
		 * decodeURIComponent throws on a broken sequence, losing the whole text: encode
		 * only whole, valid characters, and stop at one that does not fit whole. A
		 * sequence cut short by the end of s is left out; a broken one inside becomes '?'.
		 */
		if ((seq = utf8_seq(p, 4)) == 0) {
			for (i = 1; i < 4 && (p[i] & 0xc0) == 0x80; i++)
				;
			if (p[i] == '\0' || n + 4 > outlen)
				break;
			memcpy(out + n, "%3F", 3);
			n += 3;
			p += i;
			continue;
		}
		if (n + 3 * seq + 1 > outlen)
			break;
		for (i = 0; i < seq; i++, p++) {
			out[n++] = '%';
			out[n++] = digits[*p >> 4];
			out[n++] = digits[*p & 0xf];
		}
	}
	out[n] = '\0';
	return n;
}

int
text_printf(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (outlen == 0)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* test_text.c -- tests for fcgi/text.c: UTF-8 checks, replacement, number parsing, hex, keys */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "unit.h"

/* text_utf8_valid over a string literal, which may hold NULs: the length is sizeof - 1. */
#define VALID(lit) text_utf8_valid((lit), sizeof(lit) - 1)

TEST(utf8_ascii_and_empty)
{
	CHECK(text_utf8_valid("", 0));
	CHECK(VALID("cube(10);\n\t~"));
	CHECK(VALID("\x01\x7f"));
}

TEST(utf8_multibyte)
{
	CHECK(VALID("\xc3\xa9"));                  /* U+00E9 */
	CHECK(VALID("\xc2\x80"));                  /* U+0080, the smallest 2-byte */
	CHECK(VALID("\xdf\xbf"));                  /* U+07FF */
	CHECK(VALID("\xe0\xa0\x80"));              /* U+0800, the smallest 3-byte */
	CHECK(VALID("\xe2\x82\xac"));              /* U+20AC euro */
	CHECK(VALID("\xed\x9f\xbf"));              /* U+D7FF, just below the surrogates */
	CHECK(VALID("\xee\x80\x80"));              /* U+E000, just above them */
	CHECK(VALID("\xef\xbf\xbf"));              /* U+FFFF */
	CHECK(VALID("\xf0\x90\x80\x80"));          /* U+10000, the smallest 4-byte */
	CHECK(VALID("\xf0\x9f\x98\x80"));          /* U+1F600 */
	CHECK(VALID("\xf4\x8f\xbf\xbf"));          /* U+10FFFF, the largest */
	CHECK(VALID("a\xc3\xa9z\xe2\x82\xac!"));
}

TEST(utf8_overlongs)
{
	CHECK(!VALID("\xc0\x80"));                 /* overlong NUL */
	CHECK(!VALID("\xc0\xaf"));                 /* overlong '/' */
	CHECK(!VALID("\xc1\xbf"));
	CHECK(!VALID("\xe0\x80\x80"));
	CHECK(!VALID("\xe0\x80\xaf"));             /* overlong '/' in 3 bytes */
	CHECK(!VALID("\xe0\x9f\xbf"));             /* U+07FF in 3 bytes */
	CHECK(!VALID("\xf0\x80\x80\x80"));
	CHECK(!VALID("\xf0\x8f\xbf\xbf"));         /* U+FFFF in 4 bytes */
}

TEST(utf8_surrogates_and_range)
{
	CHECK(!VALID("\xed\xa0\x80"));             /* U+D800 */
	CHECK(!VALID("\xed\xbf\xbf"));             /* U+DFFF */
	CHECK(!VALID("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 pair */
	CHECK(!VALID("\xf4\x90\x80\x80"));         /* U+110000 */
	CHECK(!VALID("\xf5\x80\x80\x80"));
	CHECK(!VALID("\xf8\x88\x80\x80\x80"));     /* 5-byte form */
	CHECK(!VALID("\xfe"));
	CHECK(!VALID("\xff"));
}

TEST(utf8_truncated_and_stray)
{
	CHECK(!VALID("\xc3"));
	CHECK(!VALID("\xe2\x82"));
	CHECK(!VALID("\xf0\x9f\x98"));
	CHECK(!VALID("abc\xe2\x82"));              /* truncated at the end */
	CHECK(!text_utf8_valid("\xc3\xa9", 1));    /* length cuts the sequence */
	CHECK(!VALID("\x80"));                     /* lone continuation */
	CHECK(!VALID("a\xbf"));
	CHECK(!VALID("\xc3\x41"));                 /* lead byte followed by ASCII */
	CHECK(!VALID("\xe2\x28\xa1"));
	CHECK(!VALID("\xf0\x9f\x98\x41"));
}

TEST(utf8_nul)
{
	CHECK(!VALID("a\0b"));
	CHECK(!VALID("\0"));
	CHECK(!VALID("abc\0"));
	/* The length is what counts, not the terminator. */
	CHECK(text_utf8_valid("ab\0cd", 2));
}

TEST(scrub)
{
	char a[] = "a\xff" "b";
	char b[] = "a\0b";
	char c[] = "x\xe2\x82";
	char d[] = "\xc0\x80";
	char e[] = "\xed\xa0\x80z";
	char f[] = "ok \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	char g[] = "\xc3\xa9";

	text_utf8_scrub(a, sizeof(a) - 1);
	CHECK_STR(a, "a?b");
	text_utf8_scrub(b, sizeof(b) - 1);
	CHECK_MEM(b, "a?b", 4);
	text_utf8_scrub(c, sizeof(c) - 1);
	CHECK_STR(c, "x??");
	text_utf8_scrub(d, sizeof(d) - 1);
	CHECK_STR(d, "??");
	text_utf8_scrub(e, sizeof(e) - 1);
	CHECK_STR(e, "???z");
	text_utf8_scrub(f, sizeof(f) - 1);
	CHECK_STR(f, "ok \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	CHECK(VALID("ok \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	/* Only len bytes are looked at. */
	text_utf8_scrub(g, 1);
	CHECK_STR(g, "?\xa9");
}

TEST(scrub_makes_valid)
{
	char buf[256];
	size_t i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(255 - i);
	text_utf8_scrub(buf, sizeof(buf));
	CHECK(text_utf8_valid(buf, sizeof(buf)));
}

/* Checks text_replace(s, from, to) against want, freeing the result. */
static void
check_replace(const char *s, const char *from, const char *to, const char *want, int line)
{
	char *got = text_replace(s, from, to);

	if (!unit_check(got != NULL, __FILE__, line, "text_replace returned NULL"))
		return;
	unit_check_str(got, want, __FILE__, line, s, want);
	free(got);
}

TEST(replace)
{
	check_replace("a/tmp/x b/tmp/x", "/tmp/x", "", "a b", __LINE__);
	check_replace("hello", "l", "L", "heLLo", __LINE__);
	check_replace("hello", "z", "Q", "hello", __LINE__);
	check_replace("hello", "", "Q", "hello", __LINE__);
	check_replace("", "a", "b", "", __LINE__);
	check_replace("aaa", "aa", "b", "ba", __LINE__);
	check_replace("abcabc", "abc", "", "", __LINE__);
	check_replace("xaby", "ab", "longer text", "xlonger texty", __LINE__);
	check_replace("ab", "ab", "ab", "ab", __LINE__);
	check_replace("aXbXc", "X", "XX", "aXXbXXc", __LINE__);
}

/* 1 if s parses as the size want. */
static int
size_is(const char *s, uint64_t want)
{
	uint64_t v = 12345;

	return text_parse_size(s, &v) == 0 && v == want;
}

static int
size_bad(const char *s)
{
	uint64_t v = 12345;

	return text_parse_size(s, &v) == -1;
}

TEST(parse_size)
{
	CHECK(size_is("0", 0));
	CHECK(size_is("1", 1));
	CHECK(size_is("8388608", 8388608));
	CHECK(size_is("64K", 65536));
	CHECK(size_is("64k", 65536));
	CHECK(size_is("8M", 8ULL << 20));
	CHECK(size_is("8m", 8ULL << 20));
	CHECK(size_is("2G", 2ULL << 30));
	CHECK(size_is("1g", 1ULL << 30));
	CHECK(size_is("18446744073709551615", UINT64_MAX));
	CHECK(size_is("17179869183G", 17179869183ULL << 30));
}

TEST(parse_size_rejects)
{
	CHECK(size_bad(NULL));
	CHECK(size_bad(""));
	CHECK(size_bad("K"));
	CHECK(size_bad("-1"));
	CHECK(size_bad("+1"));
	CHECK(size_bad(" 1"));
	CHECK(size_bad("1 "));
	CHECK(size_bad("1 K"));
	CHECK(size_bad("1KB"));
	CHECK(size_bad("1KK"));
	CHECK(size_bad("1T"));
	CHECK(size_bad("1.5M"));
	CHECK(size_bad("0x10"));
	CHECK(size_bad("abc"));
	CHECK(size_bad("12abc"));
	/* Overflow, in the digits and in the unit. */
	CHECK(size_bad("18446744073709551616"));
	CHECK(size_bad("99999999999999999999999"));
	CHECK(size_bad("17179869184G"));
	CHECK(size_bad("18014398509481984K"));
	CHECK(size_bad("17592186044416M"));
}

static int
secs_is(const char *s, double want)
{
	double v = -7;

	return text_parse_seconds(s, &v) == 0 && v == want;
}

static int
secs_bad(const char *s)
{
	double v = -7;

	return text_parse_seconds(s, &v) == -1;
}

TEST(parse_seconds)
{
	CHECK(secs_is("30", 30));
	CHECK(secs_is("2.5", 2.5));
	CHECK(secs_is("0.001", 0.001));
	CHECK(secs_is("007", 7));
	CHECK(secs_is("1.25", 1.25));
	CHECK(secs_bad(NULL));
	CHECK(secs_bad(""));
	CHECK(secs_bad("0"));
	CHECK(secs_bad("0.0"));
	CHECK(secs_bad("-1"));
	CHECK(secs_bad("+1"));
	CHECK(secs_bad(" 1"));
	CHECK(secs_bad("1 "));
	CHECK(secs_bad("1s"));
	CHECK(secs_bad("abc"));
	CHECK(secs_bad("inf"));
	CHECK(secs_bad("nan"));
	CHECK(secs_bad("1e999"));
	/* Plain decimal only: what strtod would also take is refused. */
	CHECK(secs_bad("0x10"));
	CHECK(secs_bad("0X1p4"));
	CHECK(secs_bad("1e1"));
	CHECK(secs_bad("1E1"));
	CHECK(secs_bad("1e2"));
	CHECK(secs_bad("infinity"));
	CHECK(secs_bad("5."));
	CHECK(secs_bad(".5"));
	CHECK(secs_bad("1.2.3"));
	CHECK(secs_bad("1,5"));
	CHECK(secs_bad("\t5"));
	CHECK(secs_bad("5\n"));
	/* Too many digits for a double: refused, not infinite. */
	{
		char big[400];
		memset(big, '9', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		CHECK(secs_bad(big));
	}
}

TEST(hex)
{
	const unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(in) + 1];
	char empty[1] = { 'x' };

	memset(out, 'x', sizeof(out));
	text_hex(in, sizeof(in), out);
	CHECK_STR(out, "00017f80abff");
	text_hex(in, 0, empty);
	CHECK_STR(empty, "");
}

static const char key64[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(is_key)
{
	char k[80];

	CHECK(text_is_key(key64));
	CHECK(!text_is_key(""));
	snprintf(k, sizeof(k), "%.63s", key64);
	CHECK(!text_is_key(k));
	snprintf(k, sizeof(k), "%s0", key64);
	CHECK(!text_is_key(k));
	snprintf(k, sizeof(k), "%s/", key64);
	CHECK(!text_is_key(k));
	snprintf(k, sizeof(k), "%s", key64);
	k[10] = 'A';
	CHECK(!text_is_key(k));
	k[10] = 'g';
	CHECK(!text_is_key(k));
	k[10] = ' ';
	CHECK(!text_is_key(k));
	snprintf(k, sizeof(k), "%s", key64);
	k[63] = '\0';
	CHECK(!text_is_key(k));
}

TEST(is_uuid)
{
	CHECK(text_is_uuid("123e4567-e89b-12d3-a456-426614174000"));
	CHECK(text_is_uuid("00000000-0000-0000-0000-000000000000"));
	CHECK(!text_is_uuid(""));
	CHECK(!text_is_uuid("123e4567-e89b-12d3-a456-42661417400"));   /* short */
	CHECK(!text_is_uuid("123e4567-e89b-12d3-a456-4266141740000")); /* long */
	CHECK(!text_is_uuid("123e4567e89b-12d3-a456-426614174000-"));  /* dash moved */
	CHECK(!text_is_uuid("123e4567-e89b-12d3-a456_426614174000"));
	CHECK(!text_is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
	CHECK(!text_is_uuid("{23e4567-e89b-12d3-a456-426614174000"));
	CHECK(!text_is_uuid("123e4567-e89b-12d3-a456-426614174000\n"));
}

TEST(percent_encode)
{
	char out[64];

	CHECK_INT(text_percent_encode("a-b_c.d~e", out, sizeof(out)), 9);
	CHECK_STR(out, "a-b_c.d~e");
	text_percent_encode("ECHO: \"w\xc3\xb6\"\n", out, sizeof(out));
	CHECK_STR(out, "ECHO%3A%20%22w%C3%B6%22%0A");
	/* A character that does not fit whole is left out whole. */
	text_percent_encode("ab\xc3\xb6", out, 8);
	CHECK_STR(out, "ab");
	CHECK_INT(text_percent_encode("abc", out, 1), 0);
	CHECK_STR(out, "");
	text_percent_encode("\xe2\x82\xac\xf0\x9f\x98\x80", out, sizeof(out));
	CHECK_STR(out, "%E2%82%AC%F0%9F%98%80");
}

TEST(percent_encode_broken_sequences)
{
	char out[64];

	/* Cut short at the end (a log kept up to a byte count): the stub is left out. */
	text_percent_encode("ab\xc3", out, sizeof(out));
	CHECK_STR(out, "ab");
	text_percent_encode("ab\xe2\x82", out, sizeof(out));
	CHECK_STR(out, "ab");
	text_percent_encode("ab\xf0\x9f\x98", out, sizeof(out));
	CHECK_STR(out, "ab");
	/* Broken inside: one '?' for the whole broken sequence, and the rest follows. */
	text_percent_encode("a\xe2\x82z", out, sizeof(out));
	CHECK_STR(out, "a%3Fz");
	text_percent_encode("a\x80\x80z", out, sizeof(out));
	CHECK_STR(out, "a%3Fz");
	text_percent_encode("a\xc0\xafz", out, sizeof(out));	/* overlong '/' */
	CHECK_STR(out, "a%3Fz");
	text_percent_encode("a\xed\xa0\x80z", out, sizeof(out));	/* a surrogate */
	CHECK_STR(out, "a%3Fz");
}

/*
 * Decodes %XX escapes of s in place, as decodeURIComponent does; -1 if an escape is
 * malformed or the bytes are not UTF-8 (where decodeURIComponent throws).
 */
static int
percent_decode(char *s)
{
	char *r = s, *w = s;
	unsigned v;

	while (*r) {
		if (*r != '%') {
			*w++ = *r++;
			continue;
		}
		if (sscanf(r + 1, "%2x", &v) != 1 || !isxdigit((unsigned char)r[1]) ||
		    !isxdigit((unsigned char)r[2]))
			return -1;
		*w++ = (char)v;
		r += 3;
	}
	*w = '\0';
	return text_utf8_valid(s, strlen(s)) ? 0 : -1;
}

TEST(percent_encode_never_cuts_a_character)
{
	/* Two-, three- and four-byte characters, as an echo full of them looks. */
	static const char text[] = "ECHO: \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9\xe2"
	    "\x82\xac\xf0\x9f\x98\x80\xd0\x96\xe4\xb8\xad\"";
	char in[sizeof(text)], out[256];
	size_t cut, cap, n;

	/* The text cut at every byte (where a log cap may fall), into every room. */
	for (cut = 0; cut < sizeof(text); cut++) {
		memcpy(in, text, cut);
		in[cut] = '\0';
		for (cap = 1; cap < sizeof(out); cap++) {
			n = text_percent_encode(in, out, cap);
			if (!CHECK(n < cap && strlen(out) == n))
				return;
			if (!CHECK_INT(percent_decode(out), 0)) {
				printf("#   cut %zu, room %zu\n", cut, cap);
				return;
			}
			/* What comes out is the start of what went in. */
			if (!CHECK(strncmp(out, text, strlen(out)) == 0))
				return;
		}
	}
}

TEST(printf_checked)
{
	char out[8];

	CHECK_INT(text_printf(out, sizeof(out), "%s/%d", "ab", 1234), 0);
	CHECK_STR(out, "ab/1234");
	/* One byte too long: refused, and nothing half-written is left to use. */
	CHECK_INT(text_printf(out, sizeof(out), "%s/%d", "ab", 12345), -1);
	CHECK_STR(out, "");
	CHECK_INT(text_printf(out, 0, "x"), -1);
	CHECK_INT(text_printf(out, 1, "%s", ""), 0);
	CHECK_STR(out, "");
}

UNIT_MAIN(percent_encode, percent_encode_broken_sequences,
    percent_encode_never_cuts_a_character, printf_checked, utf8_ascii_and_empty, utf8_multibyte, utf8_overlongs, utf8_surrogates_and_range,
    utf8_truncated_and_stray, utf8_nul, scrub, scrub_makes_valid, replace, parse_size,
    parse_size_rejects, parse_seconds, hex, is_key, is_uuid)

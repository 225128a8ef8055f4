/* test_key.c -- tests for fcgi/key.c: the cache key against an independent computation */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "key.h"
#include "text.h"
#include "unit.h"

static const char renderer[] = "openscad 2021.01 cgal";

/* ---- the documented derivation (key.h), written out again ---- */

struct bytes {
	unsigned char *p;
	size_t len;
};

/* Appends "<tag> <decimal length>\n<data>\n". */
static void
field(struct bytes *b, const char *tag, const void *data, size_t n)
{
	char head[128];
	int h = snprintf(head, sizeof(head), "%s %zu\n", tag, n);
	unsigned char *p = realloc(b->p, b->len + (size_t)h + n + 1);

	if (p == NULL)
		abort();
	b->p = p;
	memcpy(b->p + b->len, head, (size_t)h);
	if (n > 0)
		memcpy(b->p + b->len + h, data, n);
	b->p[b->len + (size_t)h + n] = '\n';
	b->len += (size_t)h + n + 1;
}

/* The key of r, computed in one piece: SHA-256 over the concatenated fields, lower hex. */
static void
expected_key(const struct req_render *r, const char *rend, char out[65])
{
	static const char digits[] = "0123456789abcdef";
	struct bytes b = { NULL, 0 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	size_t k;

	field(&b, "scadserve-key", "1", 1);
	field(&b, "renderer", rend, strlen(rend));
	field(&b, "format", r->format->name, strlen(r->format->name));
	field(&b, "source", r->source, r->source_len);
	field(&b, "parameters", r->params, strlen(r->params));
	for (k = 0; k < r->nfiles; k++) {
		field(&b, "file", r->files[k].name, strlen(r->files[k].name));
		field(&b, "content", r->files[k].data, r->files[k].len);
	}
	if (EVP_Digest(b.p, b.len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		abort();
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
	free(b.p);
}

/* A request built by hand: fixed storage for up to three files. */
struct fixture {
	char source[128];
	char params[128];
	char name[3][64];
	unsigned char data[3][64];
	struct req_file files[3];
	struct req_render r;
};

static void
fix_init(struct fixture *f, const char *source, const char *params, const char *format)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->source, sizeof(f->source), "%s", source);
	snprintf(f->params, sizeof(f->params), "%s", params);
	f->r.source = f->source;
	f->r.source_len = strlen(source);
	f->r.params = f->params;
	f->r.format = format_find(format);
	f->r.files = f->files;
}

static void
fix_file(struct fixture *f, const char *name, const void *data, size_t len)
{
	size_t i = f->r.nfiles++;

	snprintf(f->name[i], sizeof(f->name[i]), "%s", name);
	memcpy(f->data[i], data, len);
	f->files[i].name = f->name[i];
	f->files[i].data = f->data[i];
	f->files[i].len = len;
}

/* key_derive, checked against the independent computation; out gets the key. */
static int
derive(const struct fixture *f, const char *rend, char out[65], int line)
{
	char want[65];

	if (!unit_check(key_derive(&f->r, rend, out) == 0, __FILE__, line, "key_derive == 0"))
		return 0;
	expected_key(&f->r, rend, want);
	return unit_check(text_is_key(out), __FILE__, line, "key is 64 lower-case hex") &&
	    unit_check_str(out, want, __FILE__, line, "key_derive", "expected_key");
}

/* Derives the key of body (a JSON request) into out. 1 on success. */
static int
derive_json(const char *body, char out[65])
{
	static const struct req_limits lim = { 1 << 20, 30, 16 };
	struct req_render r;
	struct err e;
	char want[65];
	int ok;

	memset(&e, 0, sizeof(e));
	if (req_parse_render("application/json", NULL, body, strlen(body), &lim, &r, &e)) {
		printf("#   parse failed: %s\n", e.message);
		return 0;
	}
	ok = key_derive(&r, renderer, out) == 0;
	expected_key(&r, renderer, want);
	ok = ok && strcmp(out, want) == 0;
	req_render_free(&r);
	return ok;
}

TEST(sha256_hex)
{
	char got[65], want[65];

	CHECK_INT(key_sha256_hex("abc", 3, got), 0);
	CHECK_STR(got, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK_INT(key_sha256_hex("", 0, got), 0);
	CHECK_STR(got, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* Bytes that are not text, against EVP directly. */
	CHECK_INT(key_sha256_hex("\0\1\2", 3, got), 0);
	{
		unsigned char md[32];
		unsigned int n = 0, i;
		CHECK(EVP_Digest("\0\1\2", 3, md, &n, EVP_sha256(), NULL) == 1 && n == 32);
		for (i = 0; i < 32; i++)
			snprintf(want + 2 * i, 3, "%02x", md[i]);
		CHECK_STR(got, want);
	}
}

TEST(matches_documented_derivation)
{
	struct fixture f;
	char k[65];

	fix_init(&f, "cube(10);", "{}", "stl");
	derive(&f, renderer, k, __LINE__);
	fix_init(&f, "", "{}", "stl");
	derive(&f, renderer, k, __LINE__);
	fix_init(&f, "cube(w);", "{\"w\":20}", "3mf");
	fix_file(&f, "a.dat", "\0\1\2\n", 4);
	fix_file(&f, "lib/util.scad", "module u() {}", 13);
	fix_file(&f, "z", "", 0);
	derive(&f, renderer, k, __LINE__);
	derive(&f, "", k, __LINE__);
}

TEST(deterministic)
{
	struct fixture f;
	char a[65], b[65];

	fix_init(&f, "sphere(5);", "{\"r\":5}", "stl");
	fix_file(&f, "x.scad", "x", 1);
	CHECK(derive(&f, renderer, a, __LINE__));
	CHECK(derive(&f, renderer, b, __LINE__));
	CHECK_STR(a, b);
}

/* Each thing that decides the output changes the key. */
TEST(every_input_counts)
{
	struct fixture f;
	char base[65], k[65];

	fix_init(&f, "cube(w);", "{\"w\":20}", "stl");
	fix_file(&f, "a.scad", "aaa", 3);
	fix_file(&f, "b.dat", "bbb", 3);
	if (!derive(&f, renderer, base, __LINE__))
		return;

	f.source[0] = 'C';
	derive(&f, renderer, k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	f.source[0] = 'c';
	f.r.source_len--;	/* the length, not the terminator, says where the source ends */
	derive(&f, renderer, k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	f.r.source_len++;

	snprintf(f.params, sizeof(f.params), "{\"w\":21}");
	derive(&f, renderer, k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	snprintf(f.params, sizeof(f.params), "{}");
	derive(&f, renderer, k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	snprintf(f.params, sizeof(f.params), "{\"w\":20}");

	f.r.format = format_find("asciistl");	/* the same OpenSCAD extension, other bytes */
	derive(&f, renderer, k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	f.r.format = format_find("stl");

	f.name[0][0] = 'A';
	derive(&f, renderer, k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	f.name[0][0] = 'a';
	f.name[1][0] = 'c';
	derive(&f, renderer, k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	f.name[1][0] = 'b';

	f.data[0][2] = 'x';
	derive(&f, renderer, k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	f.data[0][2] = 'a';
	f.files[1].len = 2;
	derive(&f, renderer, k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	f.files[1].len = 3;

	derive(&f, "openscad 2021.01 manifold", k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	derive(&f, "openscad 2024.01 cgal", k, __LINE__);
	CHECK(strcmp(k, base) != 0);

	f.r.nfiles = 1;		/* a file less */
	derive(&f, renderer, k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	f.r.nfiles = 2;
	fix_file(&f, "c", "", 0);	/* an empty file more */
	derive(&f, renderer, k, __LINE__);
	CHECK(strcmp(k, base) != 0);
	f.r.nfiles = 2;

	/* Back where we started: the same key. */
	derive(&f, renderer, k, __LINE__);
	CHECK_STR(k, base);
}

/* Bytes moved from one field to the next must change the key (length framing). */
TEST(field_framing)
{
	struct fixture f;
	char a[65], b[65];

	fix_init(&f, "cube(1);", "{}", "stl");
	fix_file(&f, "ab", "c", 1);
	derive(&f, renderer, a, __LINE__);
	fix_init(&f, "cube(1);", "{}", "stl");
	fix_file(&f, "a", "bc", 2);
	derive(&f, renderer, b, __LINE__);
	CHECK(strcmp(a, b) != 0);

	/* Between source and parameters. */
	fix_init(&f, "cube(1);{", "}", "stl");
	derive(&f, renderer, a, __LINE__);
	fix_init(&f, "cube(1);", "{}", "stl");
	derive(&f, renderer, b, __LINE__);
	CHECK(strcmp(a, b) != 0);

	/* Between the source and a file name. */
	fix_init(&f, "cube(1);lib", "{}", "stl");
	fix_file(&f, "a.scad", "x", 1);
	derive(&f, renderer, a, __LINE__);
	fix_init(&f, "cube(1);", "{}", "stl");
	fix_file(&f, "liba.scad", "x", 1);
	derive(&f, renderer, b, __LINE__);
	CHECK(strcmp(a, b) != 0);

	/* A file whose content spells out the next field's header. */
	fix_init(&f, "s", "{}", "stl");
	fix_file(&f, "a", "x\nfile 1\nb\ncontent 0\n", 21);
	derive(&f, renderer, a, __LINE__);
	fix_init(&f, "s", "{}", "stl");
	fix_file(&f, "a", "x", 1);
	fix_file(&f, "b", "", 0);
	derive(&f, renderer, b, __LINE__);
	CHECK(strcmp(a, b) != 0);

	/* A source that spells out the parameters field. */
	fix_init(&f, "s\nparameters 2\n{}", "{}", "stl");
	derive(&f, renderer, a, __LINE__);
	fix_init(&f, "s", "{}", "stl");
	derive(&f, renderer, b, __LINE__);
	CHECK(strcmp(a, b) != 0);
}

/* Through the parser: what is the same request gives the same key. */
TEST(same_request_same_key)
{
	char a[65], b[65];

	CHECK(derive_json("{\"source\": \"c\", \"files\": {\"b\": \"Yg==\", \"a\": \"YQ==\"}}", a));
	CHECK(derive_json("{\"files\": {\"a\": \"YQ\", \"b\": \"Yg\"}, \"source\": \"c\"}", b));
	CHECK_STR(a, b);
	CHECK(derive_json("{\"source\": \"c\", \"parameters\": {\"w\": 20.0, \"h\": 1}}", a));
	CHECK(derive_json("{\"source\": \"c\", \"parameters\": {\"h\": 1, \"w\": 20}}", b));
	CHECK_STR(a, b);
	CHECK(derive_json("{\"source\": \"c\", \"format\": \"stl\"}", a));
	CHECK(derive_json("{\"source\": \"c\"}", b));
	CHECK_STR(a, b);
	/* The timeout does not decide the output. */
	CHECK(derive_json("{\"source\": \"c\", \"timeout\": 5}", a));
	CHECK_STR(a, b);
	CHECK(derive_json("{\"source\": \"c\", \"parameters\": {\"w\": 21}}", a));
	CHECK(derive_json("{\"source\": \"c\", \"parameters\": {\"w\": 20}}", b));
	CHECK(strcmp(a, b) != 0);
}

UNIT_MAIN(sha256_hex, matches_documented_derivation, deterministic, every_input_counts,
    field_framing, same_request_same_key)

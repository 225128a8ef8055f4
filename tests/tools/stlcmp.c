/* stlcmp.c -- compare two STL files (binary or ASCII) as multisets of triangles */

/*
 * OpenSCAD 2021.01 emits the triangles of a model in no stable order from run
 * to run, and may start a triangle at a different vertex, so a byte compare of
 * two renders of the same model fails. This tool compares what matters: the
 * multiset of oriented triangles. Stored normals are ignored.
 *
 *   stlcmp [--eps E] A.stl B.stl   exit 0 equal, 1 different, 2 usage/parse error
 *   stlcmp --count FILE            prints the number of triangles
 *   stlcmp --geom FILE             prints the bounding box, volume and count
 *   stlcmp --geom [--bbox-eps E] [--vol-rel R] A B
 *                                  compares bounding box and volume; exit 0
 *                                  when both agree, 1 when not (both printed)
 *
 * Exact mode rotates each triangle (keeping its winding) so that its smallest
 * vertex comes first, sorts both lists and compares them float for float.
 *
 * With --eps, two coordinates a, b match when |a - b| <= E * max(1, |a|, |b|)
 * (absolute below 1, relative above). Canonical rotation and sort order are
 * not stable under such noise (two vertices of a triangle may swap order), so
 * this mode matches triangles instead: both lists are sorted by a
 * rotation-invariant key (the sum of the nine coordinates), and each triangle
 * of A takes the first unmatched triangle of B, within the key's error bound,
 * that matches it under one of its three rotations. This is what comparing an
 * ASCII STL (OpenSCAD writes 6 significant digits) against a binary one needs.
 *
 * Geometry mode compares what two different renderers (OpenSCAD 2021.01 with
 * CGAL, 2025 with manifold) should agree on though their triangles differ:
 * the axis-aligned bounding box and the enclosed volume. The volume is the
 * divergence theorem's: the sum over triangles of the signed volume of the
 * tetrahedron the triangle makes with a fixed point (the first vertex, to keep
 * the products small), (a x b) . c / 6 on the vertices relative to it, in
 * double. For a closed, consistently oriented mesh this is its volume
 * whatever the point; for the outward winding STL wants it is positive.
 * An operand may also be figures stored earlier, written as
 * "geom:XMIN,YMIN,ZMIN,XMAX,YMAX,ZMAX,VOLUME" (what --geom prints on its
 * "geom:" line), so a render can be checked against a reference without the
 * reference's STL. Tolerances:
 *   bounding box: each of the six coordinates, |a - b| <= E * max(1, |a|, |b|)
 *                 (absolute below 1, relative above; default E = 1e-3)
 *   volume:       |Va - Vb| <= R * max(|Va|, |Vb|) (default R = 0.01)
 */

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(float) == 4, "binary STL needs 32-bit floats");

enum {
	EXIT_EQUAL = 0,
	EXIT_DIFFERENT = 1,
	EXIT_TROUBLE = 2,
};

struct tri {
	float v[9];	/* three vertices, x y z each, in winding order */
	double key;	/* eps mode: sum of the coordinates */
};

struct mesh {
	struct tri *tris;	/* owned; free with mesh_free */
	size_t n;		/* triangles in use */
	size_t cap;		/* triangles allocated */
};

static void
mesh_free(struct mesh *m)
{
	if (m == NULL)
		return;
	free(m->tris);
	m->tris = NULL;
	m->n = m->cap = 0;
}

/* Appends a copy of t; returns 0, or -1 when out of memory (m unchanged). */
static int
mesh_push(struct mesh *m, const struct tri *t)
{
	struct tri *p;
	size_t ncap;

	if (m->n == m->cap) {
		ncap = m->cap ? m->cap * 2 : 1024;
		if (ncap > SIZE_MAX / sizeof(*p))
			return -1;
		p = realloc(m->tris, ncap * sizeof(*p));
		if (p == NULL)
			return -1;
		m->tris = p;
		m->cap = ncap;
	}
	m->tris[m->n++] = *t;
	return 0;
}

/*
 * Reads the whole file into a NUL-terminated buffer (the NUL is not counted
 * in *len). On success the caller frees *buf; on error nothing is allocated.
 */
static int
file_read(const char *path, char **buf, size_t *len)
{
	FILE *f = NULL;
	char *b = NULL, *nb;
	size_t n = 0, cap = 0, got;
	int rc = -1;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "stlcmp: %s: %s\n", path, strerror(errno));
		goto out;
	}
	for (;;) {
		if (cap - n < 65536 + 1) {
			cap = cap ? cap * 2 : 1 << 20;
			if ((nb = realloc(b, cap)) == NULL) {
				fprintf(stderr, "stlcmp: %s: out of memory\n", path);
				goto out;
			}
			b = nb;
		}
		got = fread(b + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "stlcmp: %s: read error\n", path);
		goto out;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	free(b);
	return rc;
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* True when the size matches the triangle count of a binary STL header. */
static int
stl_is_binary(size_t len, const char *buf)
{
	if (len < 84)
		return 0;
	return (uint64_t)len == 84 + 50 * (uint64_t)le32((const unsigned char *)buf + 80);
}

/* Parses a binary STL whose size was checked by stl_is_binary. */
static int
stl_parse_binary(const char *buf, struct mesh *m, const char **err)
{
	const unsigned char *p = (const unsigned char *)buf;
	uint32_t n = le32(p + 80), i, u;
	struct tri t;
	int k;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < n; i++) {
		/* 12 bytes of normal, 36 of vertices, 2 of attribute */
		for (k = 0; k < 9; k++) {
			u = le32(p + 84 + 50 * (size_t)i + 12 + 4 * k);
			memcpy(&t.v[k], &u, sizeof(u));
			if (isnan(t.v[k])) {
				*err = "NaN coordinate";
				return -1;
			}
		}
		if (mesh_push(m, &t) == -1) {
			*err = "out of memory";
			return -1;
		}
	}
	return 0;
}

/* A cursor over ASCII STL text; tokens are runs of non-space bytes. */
struct lex {
	const char *p;		/* next byte */
	const char *end;	/* one past the last byte */
	const char *tok;	/* current token, not NUL-terminated */
	size_t toklen;
	unsigned line;		/* line of the current token, for messages */
};

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\f' || c == '\v';
}

/* Advances to the next token; returns 0, or -1 at the end of the text. */
static int
lex_next(struct lex *l)
{
	while (l->p < l->end && is_space(*l->p)) {
		if (*l->p == '\n')
			l->line++;
		l->p++;
	}
	if (l->p == l->end)
		return -1;
	l->tok = l->p;
	while (l->p < l->end && !is_space(*l->p))
		l->p++;
	l->toklen = (size_t)(l->p - l->tok);
	return 0;
}

/* Skips the rest of the current line (the name after solid/endsolid). */
static void
lex_skip_line(struct lex *l)
{
	while (l->p < l->end && *l->p != '\n')
		l->p++;
}

static int
lex_expect(struct lex *l, const char *word)
{
	return lex_next(l) == 0 && l->toklen == strlen(word) &&
	    memcmp(l->tok, word, l->toklen) == 0 ? 0 : -1;
}

/* Reads a number token and rounds it to float, as a binary STL would. */
static int
lex_float(struct lex *l, float *out)
{
	char *e;
	double d;

	if (lex_next(l) == -1)
		return -1;
	errno = 0;
	d = strtod(l->tok, &e);
	if (e != l->tok + l->toklen || isnan(d))
		return -1;
	*out = (float)d;
	return 0;
}

/* One "facet normal ... endfacet" block, the word "facet" already read. */
static int
stl_parse_facet(struct lex *l, struct tri *t)
{
	float normal;
	int k;

	if (lex_expect(l, "normal") == -1)
		return -1;
	for (k = 0; k < 3; k++)
		if (lex_float(l, &normal) == -1)
			return -1;
	if (lex_expect(l, "outer") == -1 || lex_expect(l, "loop") == -1)
		return -1;
	for (k = 0; k < 9; k++) {
		if (k % 3 == 0 && lex_expect(l, "vertex") == -1)
			return -1;
		if (lex_float(l, &t->v[k]) == -1)
			return -1;
	}
	if (lex_expect(l, "endloop") == -1 || lex_expect(l, "endfacet") == -1)
		return -1;
	return 0;
}

/*
 * Parses ASCII STL: one or more "solid NAME ... endsolid NAME" blocks. On
 * error, *line says where.
 */
static int
stl_parse_ascii(const char *buf, size_t len, struct mesh *m,
    const char **err, unsigned *line)
{
	struct lex l = { buf, buf + len, NULL, 0, 1 };
	struct tri t;
	int insolid = 0;

	memset(&t, 0, sizeof(t));
	*err = "not ASCII STL";
	while (lex_next(&l) == 0) {
		*line = l.line;
		if (!insolid && l.toklen == 5 && memcmp(l.tok, "solid", 5) == 0) {
			lex_skip_line(&l);
			insolid = 1;
		} else if (insolid && l.toklen == 8 &&
		    memcmp(l.tok, "endsolid", 8) == 0) {
			lex_skip_line(&l);
			insolid = 0;
		} else if (insolid && l.toklen == 5 &&
		    memcmp(l.tok, "facet", 5) == 0) {
			if (stl_parse_facet(&l, &t) == -1) {
				*err = "malformed facet";
				*line = l.line;
				return -1;
			}
			if (mesh_push(m, &t) == -1) {
				*err = "out of memory";
				return -1;
			}
		} else {
			*err = insolid ? "expected facet or endsolid" :
			    "expected solid";
			return -1;
		}
	}
	if (insolid) {
		*err = "missing endsolid";
		*line = l.line;
		return -1;
	}
	return 0;
}

/* True when the text starts (after blanks) with the word "solid". */
static int
stl_looks_ascii(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && is_space(buf[i]))
		i++;
	return len - i >= 5 && memcmp(buf + i, "solid", 5) == 0;
}

/*
 * Loads an STL file into m (which must be empty). ASCII wins when the text
 * starts with "solid" and parses as ASCII; otherwise the size must match a
 * binary header (binary headers may start with "solid" too). Returns 0, or -1
 * after printing why; m may hold a partial mesh either way, free it.
 */
static int
stl_load(const char *path, struct mesh *m)
{
	char *buf = NULL;
	size_t len = 0;
	const char *err = NULL;
	unsigned line = 0;
	int rc = -1;

	if (file_read(path, &buf, &len) == -1)
		goto out;
	if (stl_looks_ascii(buf, len)) {
		if (stl_parse_ascii(buf, len, m, &err, &line) == 0) {
			rc = 0;
			goto out;
		}
		mesh_free(m);
		if (!stl_is_binary(len, buf)) {
			fprintf(stderr, "stlcmp: %s:%u: %s\n", path, line, err);
			goto out;
		}
	}
	if (!stl_is_binary(len, buf)) {
		fprintf(stderr, "stlcmp: %s: not an STL file (size %zu does not "
		    "match a binary header, no ASCII \"solid\")\n", path, len);
		goto out;
	}
	if (stl_parse_binary(buf, m, &err) == -1) {
		fprintf(stderr, "stlcmp: %s: %s\n", path, err);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* Lexicographic order of n floats; -0 and +0 are equal, NaN was refused. */
static int
floats_cmp(const float *a, const float *b, int n)
{
	int k;

	for (k = 0; k < n; k++) {
		if (a[k] < b[k])
			return -1;
		if (a[k] > b[k])
			return 1;
	}
	return 0;
}

/* Copies t's vertices into out[9], rotated to start at vertex r (0..2). */
static void
tri_rotated(const struct tri *t, int r, float *out)
{
	int k;

	for (k = 0; k < 9; k++)
		out[k] = t->v[(3 * r + k) % 9];
}

/*
 * Rotates the vertices (keeping the winding) so that the smallest rotation of
 * all nine coordinates comes first: the smallest vertex, ties broken by the
 * following ones, so degenerate triangles are canonical too.
 */
static void
tri_canon(struct tri *t)
{
	float best[9], cand[9];
	int r;

	tri_rotated(t, 0, best);
	for (r = 1; r < 3; r++) {
		tri_rotated(t, r, cand);
		if (floats_cmp(cand, best, 9) < 0)
			memcpy(best, cand, sizeof(best));
	}
	memcpy(t->v, best, sizeof(best));
}

static int
tri_cmp(const void *a, const void *b)
{
	return floats_cmp(((const struct tri *)a)->v,
	    ((const struct tri *)b)->v, 9);
}

static int
tri_key_cmp(const void *a, const void *b)
{
	double ka = ((const struct tri *)a)->key, kb = ((const struct tri *)b)->key;

	return ka < kb ? -1 : ka > kb;
}

static void
tri_print(FILE *f, const char *label, const struct tri *t)
{
	fprintf(f, "  %s: (%.9g %.9g %.9g) (%.9g %.9g %.9g) (%.9g %.9g %.9g)\n",
	    label, t->v[0], t->v[1], t->v[2], t->v[3], t->v[4], t->v[5],
	    t->v[6], t->v[7], t->v[8]);
}

/* Exact mode: canonical rotation, sort, compare in order. */
static int
mesh_cmp_exact(struct mesh *a, struct mesh *b)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		tri_canon(&a->tris[i]);
	for (i = 0; i < b->n; i++)
		tri_canon(&b->tris[i]);
	qsort(a->tris, a->n, sizeof(*a->tris), tri_cmp);
	qsort(b->tris, b->n, sizeof(*b->tris), tri_cmp);
	for (i = 0; i < a->n; i++) {
		if (tri_cmp(&a->tris[i], &b->tris[i]) != 0) {
			fprintf(stderr, "stlcmp: triangle %zu of %zu differs "
			    "(sorted order)\n", i, a->n);
			tri_print(stderr, "A", &a->tris[i]);
			tri_print(stderr, "B", &b->tris[i]);
			return EXIT_DIFFERENT;
		}
	}
	return EXIT_EQUAL;
}

static int
float_near(float a, float b, double eps)
{
	double scale = fmax(1.0, fmax(fabs((double)a), fabs((double)b)));

	return fabs((double)a - (double)b) <= eps * scale;
}

/* True when b, under one of its three rotations, matches a within eps. */
static int
tri_near(const struct tri *a, const struct tri *b, double eps)
{
	float rb[9];
	int r, k;

	for (r = 0; r < 3; r++) {
		tri_rotated(b, r, rb);
		for (k = 0; k < 9; k++)
			if (!float_near(a->v[k], rb[k], eps))
				break;
		if (k == 9)
			return 1;
	}
	return 0;
}

/*
 * How far the key of a triangle matching t may be from t's key: each
 * coordinate may move by eps * max(1, |a|, |b|) <= eps/(1-eps) * max(1, |a|).
 */
static double
tri_key_bound(const struct tri *t, double eps)
{
	double s = 0;
	int k;

	for (k = 0; k < 9; k++)
		s += fmax(1.0, fabs((double)t->v[k]));
	return s * eps / (1 - eps) * (1 + 1e-9) + 1e-300;
}

/* Tolerant mode: greedy matching over lists sorted by a rotation-free key. */
static int
mesh_cmp_eps(struct mesh *a, struct mesh *b, double eps)
{
	struct mesh *ms[2] = { a, b };
	unsigned char *used = NULL;
	size_t i, j, lo, hi, mid;
	double w;
	int rc = EXIT_TROUBLE, k, m;

	for (m = 0; m < 2; m++) {
		for (i = 0; i < ms[m]->n; i++) {
			ms[m]->tris[i].key = 0;
			for (k = 0; k < 9; k++)
				ms[m]->tris[i].key += ms[m]->tris[i].v[k];
		}
		qsort(ms[m]->tris, ms[m]->n, sizeof(*ms[m]->tris), tri_key_cmp);
	}
	if ((used = calloc(b->n + 1, 1)) == NULL) {
		fprintf(stderr, "stlcmp: out of memory\n");
		goto out;
	}
	for (i = 0; i < a->n; i++) {
		w = tri_key_bound(&a->tris[i], eps);
		for (lo = 0, hi = b->n; lo < hi; ) {	/* first key >= key - w */
			mid = lo + (hi - lo) / 2;
			if (b->tris[mid].key < a->tris[i].key - w)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (j = lo; j < b->n && b->tris[j].key <= a->tris[i].key + w; j++)
			if (!used[j] && tri_near(&a->tris[i], &b->tris[j], eps))
				break;
		if (j == b->n || b->tris[j].key > a->tris[i].key + w) {
			fprintf(stderr, "stlcmp: triangle %zu of A (sorted by "
			    "coordinate sum) has no match in B within eps %g\n",
			    i, eps);
			tri_print(stderr, "A", &a->tris[i]);
			if (lo < b->n)
				tri_print(stderr, "B nearest", &b->tris[lo]);
			rc = EXIT_DIFFERENT;
			goto out;
		}
		used[j] = 1;
	}
	rc = EXIT_EQUAL;
out:
	free(used);
	return rc;
}

static int usage(void);

/* What geometry mode compares. */
struct geom {
	double lo[3], hi[3];	/* bounding box */
	double volume;		/* signed, by the divergence theorem */
	size_t n;		/* triangles; 0 for stored figures */
	int stored;		/* read from a "geom:" operand, not an STL */
};

/* Bounding box and volume of a mesh with at least one triangle. */
static void
mesh_geom(const struct mesh *m, struct geom *g)
{
	const float *o = m->tris[0].v;
	double d[3][3], vol = 0, comp = 0, term, t;
	size_t i;
	int k, c;

	for (c = 0; c < 3; c++)
		g->lo[c] = g->hi[c] = o[c];
	for (i = 0; i < m->n; i++) {
		for (k = 0; k < 3; k++) {
			for (c = 0; c < 3; c++) {
				double x = m->tris[i].v[3 * k + c];

				g->lo[c] = fmin(g->lo[c], x);
				g->hi[c] = fmax(g->hi[c], x);
				d[k][c] = x - (double)o[c];
			}
		}
		term = (d[0][1] * d[1][2] - d[0][2] * d[1][1]) * d[2][0] +
		    (d[0][2] * d[1][0] - d[0][0] * d[1][2]) * d[2][1] +
		    (d[0][0] * d[1][1] - d[0][1] * d[1][0]) * d[2][2];
		/* Kahan summation: tens of thousands of terms of both signs. */
		term -= comp;
		t = vol + term;
		comp = (t - vol) - term;
		vol = t;
	}
	g->volume = vol / 6;
	g->n = m->n;
	g->stored = 0;
}

/* Parses "geom:XMIN,YMIN,ZMIN,XMAX,YMAX,ZMAX,VOLUME". */
static int
geom_parse(const char *s, struct geom *g)
{
	double v[7];
	const char *p = s + 5;
	char *e;
	int k;

	for (k = 0; k < 7; k++) {
		errno = 0;
		v[k] = strtod(p, &e);
		if (e == p || errno != 0 || !isfinite(v[k]) ||
		    *e != (k < 6 ? ',' : '\0')) {
			fprintf(stderr, "stlcmp: bad figures %s (want "
			    "geom:XMIN,YMIN,ZMIN,XMAX,YMAX,ZMAX,VOLUME)\n", s);
			return -1;
		}
		p = e + 1;
	}
	for (k = 0; k < 3; k++) {
		g->lo[k] = v[k];
		g->hi[k] = v[k + 3];
		if (g->lo[k] > g->hi[k]) {
			fprintf(stderr, "stlcmp: %s: minimum above maximum\n", s);
			return -1;
		}
	}
	g->volume = v[6];
	g->n = 0;
	g->stored = 1;
	return 0;
}

/* The figures of an operand: stored ("geom:...") or an STL file's. */
static int
geom_load(const char *arg, struct geom *g)
{
	struct mesh m = { NULL, 0, 0 };
	int rc = -1;

	if (strncmp(arg, "geom:", 5) == 0)
		return geom_parse(arg, g);
	if (stl_load(arg, &m) == -1)
		return -1;
	if (m.n == 0)
		fprintf(stderr, "stlcmp: %s: no triangles, so no bounding box\n", arg);
	else {
		mesh_geom(&m, g);
		rc = 0;
	}
	mesh_free(&m);
	return rc;
}

static void
geom_print(FILE *f, const char *label, const struct geom *g)
{
	fprintf(f, "%sbbox %.9g %.9g %.9g  %.9g %.9g %.9g  size %.9g %.9g %.9g\n",
	    label, g->lo[0], g->lo[1], g->lo[2], g->hi[0], g->hi[1], g->hi[2],
	    g->hi[0] - g->lo[0], g->hi[1] - g->lo[1], g->hi[2] - g->lo[2]);
	fprintf(f, "%svolume %.9g\n", label, g->volume);
	if (!g->stored)
		fprintf(f, "%striangles %zu\n", label, g->n);
	fprintf(f, "%sgeom:%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", label,
	    g->lo[0], g->lo[1], g->lo[2], g->hi[0], g->hi[1], g->hi[2], g->volume);
}

static int
near_scaled(double a, double b, double eps)
{
	return fabs(a - b) <= eps * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* Compares two operands' figures; prints both, and each difference. */
static int
geom_cmp(const char *pa, const char *pb, double bbox_eps, double vol_rel)
{
	static const char axis[] = "xyz";
	struct geom a, b;
	double dv;
	int k, rc = EXIT_EQUAL;

	if (geom_load(pa, &a) == -1 || geom_load(pb, &b) == -1)
		return EXIT_TROUBLE;
	printf("A %s\n", pa);
	geom_print(stdout, "A ", &a);
	printf("B %s\n", pb);
	geom_print(stdout, "B ", &b);
	for (k = 0; k < 3; k++) {
		if (!near_scaled(a.lo[k], b.lo[k], bbox_eps)) {
			printf("differs: %cmin %.9g vs %.9g (eps %g)\n", axis[k],
			    a.lo[k], b.lo[k], bbox_eps);
			rc = EXIT_DIFFERENT;
		}
		if (!near_scaled(a.hi[k], b.hi[k], bbox_eps)) {
			printf("differs: %cmax %.9g vs %.9g (eps %g)\n", axis[k],
			    a.hi[k], b.hi[k], bbox_eps);
			rc = EXIT_DIFFERENT;
		}
	}
	dv = fabs(a.volume - b.volume);
	if (!(dv <= vol_rel * fmax(fabs(a.volume), fabs(b.volume)))) {
		printf("differs: volume %.9g vs %.9g (%.3g %% apart, limit %g %%)\n",
		    a.volume, b.volume,
		    100 * dv / fmax(fabs(a.volume), fabs(b.volume)), 100 * vol_rel);
		rc = EXIT_DIFFERENT;
	}
	if (rc == EXIT_EQUAL)
		printf("agree: bbox within eps %g, volume within %g %%\n", bbox_eps,
		    100 * vol_rel);
	return rc;
}

/* Parses a tolerance in [0, 1). */
static int
tol_parse(const char *opt, const char *s, double *out)
{
	char *e;

	errno = 0;
	*out = strtod(s, &e);
	if (*s == '\0' || *e != '\0' || errno != 0 || !(*out >= 0 && *out < 1)) {
		fprintf(stderr, "stlcmp: bad %s value: %s (want 0 <= value < 1)\n",
		    opt, s);
		return -1;
	}
	return 0;
}

/* stlcmp --geom ...: argv[0] is "--geom". */
static int
geom_main(int argc, char *argv[])
{
	struct geom g;
	double bbox_eps = 1e-3, vol_rel = 0.01;
	int i = 1;

	while (i + 1 < argc && argv[i][0] == '-' && argv[i][1] == '-') {
		if (strcmp(argv[i], "--bbox-eps") == 0) {
			if (tol_parse(argv[i], argv[i + 1], &bbox_eps) == -1)
				return EXIT_TROUBLE;
		} else if (strcmp(argv[i], "--vol-rel") == 0) {
			if (tol_parse(argv[i], argv[i + 1], &vol_rel) == -1)
				return EXIT_TROUBLE;
		} else
			return usage();
		i += 2;
	}
	if (argc - i == 1 && i == 1) {
		if (geom_load(argv[i], &g) == -1)
			return EXIT_TROUBLE;
		geom_print(stdout, "", &g);
		return EXIT_EQUAL;
	}
	if (argc - i != 2)
		return usage();
	return geom_cmp(argv[i], argv[i + 1], bbox_eps, vol_rel);
}

static int
usage(void)
{
	fprintf(stderr, "usage: stlcmp [--eps E] A.stl B.stl\n"
	    "       stlcmp --count FILE.stl\n"
	    "       stlcmp --geom FILE.stl\n"
	    "       stlcmp --geom [--bbox-eps E] [--vol-rel R] A B\n"
	    "         (A, B: STL files, or geom:XMIN,YMIN,ZMIN,XMAX,YMAX,ZMAX,VOLUME)\n");
	return EXIT_TROUBLE;
}

/* Parses a tolerance in [0, 0.5): larger ones would match anything. */
static int
eps_parse(const char *s, double *eps)
{
	char *e;

	errno = 0;
	*eps = strtod(s, &e);
	if (*s == '\0' || *e != '\0' || errno != 0 || !(*eps >= 0 && *eps < 0.5)) {
		fprintf(stderr, "stlcmp: bad --eps value: %s (want 0 <= E < 0.5)\n", s);
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct mesh a = { NULL, 0, 0 }, b = { NULL, 0, 0 };
	double eps = 0;
	int rc = EXIT_TROUBLE, use_eps = 0;

	if (argc == 3 && strcmp(argv[1], "--count") == 0) {
		if (stl_load(argv[2], &a) == 0) {
			printf("%zu\n", a.n);
			rc = EXIT_EQUAL;
		}
		goto out;
	}
	if (argc >= 3 && strcmp(argv[1], "--geom") == 0) {
		rc = geom_main(argc - 1, argv + 1);
		goto out;
	}
	if (argc == 5 && strcmp(argv[1], "--eps") == 0) {
		if (eps_parse(argv[2], &eps) == -1)
			goto out;
		use_eps = 1;
		argv += 2;
		argc -= 2;
	}
	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
		rc = usage();
		goto out;
	}
	if (stl_load(argv[1], &a) == -1 || stl_load(argv[2], &b) == -1)
		goto out;
	if (a.n != b.n) {
		fprintf(stderr, "stlcmp: triangle counts differ: %s has %zu, "
		    "%s has %zu\n", argv[1], a.n, argv[2], b.n);
		rc = EXIT_DIFFERENT;
		goto out;
	}
	rc = use_eps ? mesh_cmp_eps(&a, &b, eps) : mesh_cmp_exact(&a, &b);
out:
	mesh_free(&a);
	mesh_free(&b);
	return rc;
}

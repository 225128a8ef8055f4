/* format.h -- the export formats scadserve knows, and which of them the installed OpenSCAD has */
#ifndef SCADSERVE_FORMAT_H
#define SCADSERVE_FORMAT_H

enum format_dim {
	FORMAT_3D,      /* needs a 3D top level object */
	FORMAT_2D,      /* needs a 2D top level object */
	FORMAT_ANY,     /* any model (CSG tree, echo output) */
	FORMAT_DIM__MAX
};

struct format {
	const char *name;          /* what clients ask for: "stl", "svg", ... */
	const char *export_arg;    /* OpenSCAD's --export-format value */
	const char *ext;           /* file extension OpenSCAD knows it by */
	const char *content_type;  /* HTTP Content-Type of the result */
	enum format_dim dim;
	int text;                  /* 1: a text the model writes without geometry (csg, echo,
	                              ast): cheap to make huge, so it has a smaller output limit */
};

/* The format with this name, or NULL. */
const struct format *format_find(const char *name);

/* The default format: binary STL. */
const struct format *format_default(void);

/* Number of known formats; format_at(i) for 0 <= i < format_count(). */
int format_count(void);
const struct format *format_at(int i);

/*
 * Marks which known formats the renderer can export, from the text of `openscad --help`
 * (its "-o" option lists the file extensions). Without a list, all are kept.
 * Returns the number of formats enabled.
 */
int format_probe(const char *help_text);

/* 1 if the renderer was found able to export f. */
int format_enabled(const struct format *f);

#endif

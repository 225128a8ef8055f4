/* fcgi_constant.c -- the FastCGI ceiling for `make bench`: answers files held in memory, no work */
/*
 * Usage (under spawn-fcgi): fcgi_constant FILE...
 * Loads each FILE at start and answers GET .../NAME with the bytes of the FILE whose base name
 * is NAME (404 otherwise), through libfcgi like scadserve. What nginx + libfcgi cost for an
 * answer of that size when the program does nothing: the most any FastCGI program can reach.
 */
#include <fcgiapp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct blob {
	const char	*name;	/* base name, points into argv */
	char		*data;	/* owned */
	size_t		 len;
};

/* Reads path into a new buffer (caller frees *data). 0 or -1. */
static int
load(const char *path, char **data, size_t *len)
{
	FILE *f;
	long n;
	int rc = -1;

	*data = NULL;
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out;
	if ((*data = malloc((size_t)n + 1)) == NULL)
		goto out;
	if (fread(*data, 1, (size_t)n, f) != (size_t)n)
		goto out;
	*len = (size_t)n;
	rc = 0;
out:
	if (rc) {
		free(*data);
		*data = NULL;
	}
	fclose(f);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct blob *blobs;
	FCGX_Request rq;
	int i, n = argc - 1, rc = 1;

	if (n < 1) {
		fprintf(stderr, "usage: fcgi_constant FILE...\n");
		return 2;
	}
	if ((blobs = calloc((size_t)n, sizeof(*blobs))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		const char *slash = strrchr(argv[i + 1], '/');
		blobs[i].name = slash ? slash + 1 : argv[i + 1];
		if (load(argv[i + 1], &blobs[i].data, &blobs[i].len)) {
			perror(argv[i + 1]);
			goto out;
		}
	}
	if (FCGX_Init() || FCGX_InitRequest(&rq, 0, 0))
		goto out;
	while (FCGX_Accept_r(&rq) >= 0) {
		const char *uri = FCGX_GetParam("DOCUMENT_URI", rq.envp);
		const char *base = uri ? strrchr(uri, '/') : NULL;
		const struct blob *b = NULL;

		for (i = 0; base && i < n; i++)
			if (strcmp(blobs[i].name, base + 1) == 0)
				b = &blobs[i];
		if (b == NULL)
			FCGX_PutS("Status: 404\r\nContent-Type: text/plain\r\n\r\nnot found\n", rq.out);
		else {
			char head[128];	/* libfcgi's own printf knows no %zu */
			snprintf(head, sizeof(head), "Content-Type: model/stl\r\n"
			    "Content-Length: %zu\r\n\r\n", b->len);
			FCGX_PutS(head, rq.out);
			FCGX_PutStr(b->data, (int)b->len, rq.out);
		}
		FCGX_Finish_r(&rq);
	}
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(blobs[i].data);
	free(blobs);
	return rc;
}

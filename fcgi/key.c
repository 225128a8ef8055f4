/* key.c -- the cache key: SHA-256 over everything that decides a render's output */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "key.h"
#include "text.h"

/* Feeds one field as "<tag> <decimal length>\n<bytes>\n". */
static int
field(EVP_MD_CTX *ctx, const char *tag, const void *data, size_t len)
{
	char head[96];
	int n = snprintf(head, sizeof(head), "%s %zu\n", tag, len);

	return EVP_DigestUpdate(ctx, head, (size_t)n) != 1 ||
	    EVP_DigestUpdate(ctx, data, len) != 1 ||
	    EVP_DigestUpdate(ctx, "\n", 1) != 1 ? -1 : 0;
}

int
key_derive(const struct req_render *r, const char *renderer, char out[65])
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t i;
	int rc = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	if (field(ctx, "scadserve-key", "1", 1) ||
	    field(ctx, "renderer", renderer, strlen(renderer)) ||
	    field(ctx, "format", r->format->name, strlen(r->format->name)) ||
	    field(ctx, "source", r->source, r->source_len) ||
	    field(ctx, "parameters", r->params, strlen(r->params)))
		goto out;
	for (i = 0; i < r->nfiles; i++)
		if (field(ctx, "file", r->files[i].name, strlen(r->files[i].name)) ||
		    field(ctx, "content", r->files[i].data, r->files[i].len))
			goto out;
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	text_hex(md, mdlen, out);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
key_sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	text_hex(md, mdlen, out);
	return 0;
}

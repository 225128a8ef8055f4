/* key.h -- the cache key: SHA-256 over everything that decides a render's output */
#ifndef SCADSERVE_KEY_H
#define SCADSERVE_KEY_H

#include <stddef.h>

#include "req.h"

/*
 * Derives the key of r as rendered by renderer (e.g. "openscad 2021.01 cgal") into
 * out (65 bytes, lower-case hex). The derivation is documented in docs/api.md:
 * SHA-256 over a sequence of length-prefixed fields. Returns 0, or -1 if the crypto
 * library fails.
 */
int key_derive(const struct req_render *r, const char *renderer, char out[65]);

/* SHA-256 of buf into out (65 bytes, hex). 0 or -1. */
int key_sha256_hex(const void *buf, size_t len, char out[65]);

#endif

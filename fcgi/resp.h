/* resp.h -- writes HTTP answers (status, headers, body, JSON errors) to a FastCGI stream */
#ifndef SCADSERVE_RESP_H
#define SCADSERVE_RESP_H

#include <stddef.h>

#include <fcgiapp.h>

#include "err.h"

/*
 * Writes a whole answer: Status, Content-Type, Content-Length, X-Request-Id, then
 * headers (each "Name: value\r\n", may be NULL), then the body unless head is set.
 * Borrowed arguments. 0, or -1 if the client went away.
 */
int resp_send(FCGX_Stream *out, int status, const char *content_type, const char *headers,
    const char *request_id, const void *body, size_t len, int head);

/* Writes e as its JSON error answer (with Allow and Retry-After where they apply). */
int resp_error(FCGX_Stream *out, const struct err *e, const char *request_id, int head);

#endif

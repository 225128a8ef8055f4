/* resp.c -- writes HTTP answers (status, headers, body, JSON errors) to a FastCGI stream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

int
resp_send(FCGX_Stream *out, int status, const char *content_type, const char *headers,
    const char *request_id, const void *body, size_t len, int head)
{
	char head_buf[512];
	int n;

	/* libfcgi's own printf lacks %zu and friends: format here, write once. */
	n = snprintf(head_buf, sizeof(head_buf), "Status: %d %s\r\n", status,
	    err_reason(status));
	if (content_type != NULL)
		n += snprintf(head_buf + n, sizeof(head_buf) - (size_t)n,
		    "Content-Type: %s\r\nContent-Length: %zu\r\n", content_type, len);
	if (request_id != NULL)
		n += snprintf(head_buf + n, sizeof(head_buf) - (size_t)n, "X-Request-Id: %s\r\n",
		    request_id);
	if ((size_t)n >= sizeof(head_buf) || FCGX_PutStr(head_buf, n, out) != n)
		return -1;
	/* Buffered by libfcgi: several puts still make one record. */
	if (headers != NULL && FCGX_PutS(headers, out) < 0)
		return -1;
	if (FCGX_PutS("\r\n", out) < 0)
		return -1;
	if (!head && len > 0 && FCGX_PutStr(body, (int)len, out) != (int)len)
		return -1;
	return 0;
}

int
resp_error(FCGX_Stream *out, const struct err *e, const char *request_id, int head)
{
	static const char oom[] = "{\"error\":{\"type\":\"internal\",\"message\":\"out of memory\"}}";
	char headers[256] = "Cache-Control: no-store\r\n";
	char *body = err_json(e, request_id);
	int status = body ? err_status(e->type) : 500, rc;
	size_t n = strlen(headers);

	if (e->type == ERR_METHOD_NOT_ALLOWED && e->allow != NULL)
		n += (size_t)snprintf(headers + n, sizeof(headers) - n, "Allow: %s\r\n", e->allow);
	if ((e->type == ERR_OVERLOADED || e->type == ERR_ENGINE_UNAVAILABLE) && e->retry_after > 0)
		n += (size_t)snprintf(headers + n, sizeof(headers) - n, "Retry-After: %d\r\n",
		    e->retry_after);
	if (e->engine != NULL && n < sizeof(headers))
		snprintf(headers + n, sizeof(headers) - n, "X-Engine: %s\r\n", e->engine);
	rc = resp_send(out, status, "application/json", headers, request_id,
	    body ? body : oom, body ? strlen(body) : sizeof(oom) - 1, head);
	free(body);
	return rc;
}

/* logbuf.c -- keeps the head and the tail of a stream of unknown length in bounded memory */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logbuf.h"

static void (*watcher)(void *ctx, const char *p, size_t n);
static void *watcher_ctx;

void
logbuf_watch(void (*fn)(void *ctx, const char *p, size_t n), void *ctx)
{
	watcher = fn;
	watcher_ctx = ctx;
}

int
logbuf_init(struct logbuf *lb, size_t max)
{
	memset(lb, 0, sizeof(*lb));
	if (max < 64)
		max = 64;
	lb->head_max = max / 4;
	lb->tail_max = max - lb->head_max;
	if ((lb->head = malloc(lb->head_max)) == NULL || (lb->tail = malloc(lb->tail_max)) == NULL) {
		logbuf_free(lb);
		return -1;
	}
	return 0;
}

void
logbuf_add(struct logbuf *lb, const char *p, size_t n)
{
	size_t take;

	if (lb->watched && watcher != NULL && n > 0)
		watcher(watcher_ctx, p, n);
	take = lb->head_max - lb->head_len < n ? lb->head_max - lb->head_len : n;
	memcpy(lb->head + lb->head_len, p, take);
	lb->head_len += take;
	p += take;
	n -= take;
	for (; n > 0; p++, n--) {
		if (lb->tail_len == lb->tail_max)
			lb->dropped++;
		else
			lb->tail_len++;
		lb->tail[lb->tail_pos] = *p;
		lb->tail_pos = (lb->tail_pos + 1) % lb->tail_max;
	}
}

char *
logbuf_join(const struct logbuf *lb, size_t *len)
{
	char note[96];
	int nl = 0;
	size_t i, n, start;
	char *s;

	if (lb->dropped)
		nl = snprintf(note, sizeof(note), "\n[... %zu bytes of log dropped ...]\n",
		    lb->dropped);
	n = lb->head_len + (size_t)nl + lb->tail_len;
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(s, lb->head, lb->head_len);
	memcpy(s + lb->head_len, note, (size_t)nl);
	start = lb->tail_max ? (lb->tail_pos + lb->tail_max - lb->tail_len) % lb->tail_max : 0;
	for (i = 0; i < lb->tail_len; i++)
		s[lb->head_len + (size_t)nl + i] = lb->tail[(start + i) % lb->tail_max];
	s[n] = '\0';
	*len = n;
	return s;
}

void
logbuf_free(struct logbuf *lb)
{
	free(lb->head);
	free(lb->tail);
	memset(lb, 0, sizeof(*lb));
}

/* board.c -- what each worker's WASM helper is doing, in a file every process maps, for /api/health */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "board.h"
#include "log.h"

/* Each entry behind a sequence count: odd while its owner writes it (a seqlock). */
struct slot {
	uint32_t seq;
	uint32_t pad;
	struct board_entry e;
};

#define BOARD_MAGIC (0x424f415244000000ULL | (uint64_t)sizeof(struct slot) << 8 | BOARD_ENTRIES)

struct board {
	uint64_t magic;
	struct slot slot[BOARD_ENTRIES];
};

static struct board local;
static struct board *bd = &local;
static int mine = -1;              /* this process's entry */

int
board_open(const char *path)
{
	struct stat st;
	void *p;
	uint64_t magic = 0;
	int fd, rc = -1;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX) ||
	    fstat(fd, &st)) {
		log_msg(LOG_WARN, NULL, "helper board %s: %s", path, strerror(errno));
		goto out;
	}
	if (pread(fd, &magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) && magic != BOARD_MAGIC &&
	    ftruncate(fd, 0) == 0)
		st.st_size = 0;
	if ((size_t)st.st_size < sizeof(struct board) && ftruncate(fd, sizeof(struct board)))
		goto out;
	p = mmap(NULL, sizeof(struct board), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto out;
	bd = p;
	__atomic_store_n(&bd->magic, BOARD_MAGIC, __ATOMIC_SEQ_CST);
	rc = 0;
out:
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
	return rc;
}

/* 1 if pid is a live process. */
static int
alive(int32_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int
board_claim(void)
{
	int32_t me = (int32_t)getpid(), w;
	int i;

	for (i = 0; i < BOARD_ENTRIES; i++) {
		w = __atomic_load_n(&bd->slot[i].e.worker, __ATOMIC_SEQ_CST);
		if (w == me) {
			mine = i;
			return 0;
		}
		if ((w == 0 || !alive(w)) && __atomic_compare_exchange_n(&bd->slot[i].e.worker,
		    &w, me, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			mine = i;
			return 0;
		}
	}
	return -1;
}

void
board_publish(const struct board_entry *e)
{
	struct slot *s;

	if (mine < 0)
		return;
	s = &bd->slot[mine];
	__atomic_fetch_add(&s->seq, 1, __ATOMIC_SEQ_CST);	/* odd: being written */
	s->e = *e;
	s->e.worker = (int32_t)getpid();
	__atomic_fetch_add(&s->seq, 1, __ATOMIC_SEQ_CST);	/* even: whole */
}

int
board_read(struct board_entry *out, int max)
{
	int i, n = 0, tries;
	uint32_t a, b;

	for (i = 0; i < BOARD_ENTRIES && n < max; i++) {
		struct slot *s = &bd->slot[i];

		for (tries = 0; tries < 100; tries++) {
			a = __atomic_load_n(&s->seq, __ATOMIC_SEQ_CST);
			out[n] = s->e;
			b = __atomic_load_n(&s->seq, __ATOMIC_SEQ_CST);
			if (a == b && (a & 1) == 0)
				break;
		}
		out[n].version[sizeof(out[n].version) - 1] = '\0';
		out[n].why[sizeof(out[n].why) - 1] = '\0';
		if (tries < 100 && alive(out[n].worker) && out[n].state != BOARD_NONE)
			n++;
	}
	return n;
}

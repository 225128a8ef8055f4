/* unit.h -- a tiny header-only test runner: TEST functions, CHECK macros, UNIT_MAIN */
#ifndef SCADSERVE_UNIT_H
#define SCADSERVE_UNIT_H

/*
 * A test file defines TEST(name) { ... } functions and ends with UNIT_MAIN(name, ...).
 * CHECK* record a failure with file:line and keep going; each is an expression that is 1
 * when the check held, so a test can stop early: if (!CHECK(p != NULL)) return;
 * The program prints "ok - name" or "not ok - name" per test, then exactly one line
 * "N passed, N failed", and exits 1 if any test failed. Each test runs in its own child
 * process, so a crash fails that test and the rest still run.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST(name) static void name(void)

#define CHECK(cond) \
	unit_check(!!(cond), __FILE__, __LINE__, "CHECK(" #cond ")")
#define CHECK_INT(a, b) \
	unit_check_int((long long)(a), (long long)(b), __FILE__, __LINE__, #a, #b)
#define CHECK_STR(a, b) \
	unit_check_str((a), (b), __FILE__, __LINE__, #a, #b)
/* a contains b as a substring */
#define CHECK_HAS(a, b) \
	unit_check_has((a), (b), __FILE__, __LINE__, #a, #b)
#define CHECK_MEM(a, b, n) \
	unit_check(memcmp((a), (b), (n)) == 0, __FILE__, __LINE__, \
	    "CHECK_MEM(" #a ", " #b ", " #n ")")

static int unit_failures;	/* failed checks in the running test */

/* Records one check; what is the check as written. */
static inline int
unit_check(int ok, const char *file, int line, const char *what)
{
	if (ok)
		return 1;
	printf("#   %s:%d: failed: %s\n", file, line, what);
	unit_failures++;
	return 0;
}

static inline int
unit_check_int(long long a, long long b, const char *file, int line, const char *as,
    const char *bs)
{
	if (a == b)
		return 1;
	printf("#   %s:%d: failed: CHECK_INT(%s, %s): %lld != %lld\n", file, line, as, bs, a, b);
	unit_failures++;
	return 0;
}

static inline int
unit_check_str(const char *a, const char *b, const char *file, int line, const char *as,
    const char *bs)
{
	if (a != NULL && b != NULL && strcmp(a, b) == 0)
		return 1;
	printf("#   %s:%d: failed: CHECK_STR(%s, %s): \"%s\" != \"%s\"\n", file, line, as, bs,
	    a ? a : "(null)", b ? b : "(null)");
	unit_failures++;
	return 0;
}

static inline int
unit_check_has(const char *a, const char *b, const char *file, int line, const char *as,
    const char *bs)
{
	if (a != NULL && b != NULL && strstr(a, b) != NULL)
		return 1;
	printf("#   %s:%d: failed: CHECK_HAS(%s, %s): \"%s\" does not contain \"%s\"\n", file,
	    line, as, bs, a ? a : "(null)", b ? b : "(null)");
	unit_failures++;
	return 0;
}

/*
 * Runs fn in a child process, so that a crash or a sanitizer's abort fails that test
 * alone. Returns the number of failed checks, or -1 if the child died or exited oddly
 * (then says how). UNIT_NOFORK=1 runs it in this process instead, for a debugger.
 */
static inline int
unit_run_one(void (*fn)(void))
{
	pid_t pid;
	int status;

	unit_failures = 0;
	if (getenv("UNIT_NOFORK") != NULL) {
		fn();
		return unit_failures;
	}
	if ((pid = fork()) < 0) {
		printf("#   fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		fn();
		exit(unit_failures > 0 ? 1 : 0);	/* exit, not _exit: leak checks run */
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			printf("#   waitpid: %s\n", strerror(errno));
			return -1;
		}
	if (WIFSIGNALED(status)) {
		printf("#   died of signal %d (%s)\n", WTERMSIG(status), strsignal(WTERMSIG(status)));
		return -1;
	}
	if (WEXITSTATUS(status) == 0)
		return 0;
	if (WEXITSTATUS(status) != 1)
		printf("#   exited with status %d\n", WEXITSTATUS(status));
	return -1;
}

/*
 * Runs the n tests in fns, named by the comma-separated list names (UNIT_MAIN's
 * stringified arguments). Returns the exit status.
 */
static inline int
unit_run(void (*const fns[])(void), size_t n, const char *names)
{
	const char *p = names;
	size_t i, len;
	int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IONBF, 0);	/* keep parent and child output in order */
	for (i = 0; i < n; i++) {
		while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t')
			p++;
		len = strcspn(p, ", \n\t");
		if (unit_run_one(fns[i]) == 0) {
			printf("ok - %.*s\n", (int)len, p);
			passed++;
		} else {
			printf("not ok - %.*s\n", (int)len, p);
			failed++;
		}
		p += len;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define UNIT_MAIN(...) \
	int \
	main(void) \
	{ \
		static void (*const unit_fns[])(void) = { __VA_ARGS__ }; \
		return unit_run(unit_fns, sizeof(unit_fns) / sizeof(unit_fns[0]), \
		    #__VA_ARGS__); \
	}

#endif

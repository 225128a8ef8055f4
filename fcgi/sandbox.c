/* sandbox.c -- the confinement applied to the renderer in the child between fork and exec */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>

#include "sandbox.h"

static int
limit(int resource, uint64_t soft, uint64_t hard)
{
	struct rlimit rl;

	rl.rlim_cur = (rlim_t)soft;
	rl.rlim_max = (rlim_t)hard;
	return setrlimit(resource, &rl) ? errno : 0;
}

int
sandbox_child(const struct sandbox *box)
{
	int rc;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return errno;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		return errno;
	/* CPU: SIGXCPU at the soft limit, SIGKILL one second later. */
	if ((rc = limit(RLIMIT_CORE, 0, 0)) ||
	    (rc = limit(RLIMIT_CPU, box->cpu_seconds, box->cpu_seconds + 1)) ||
	    (rc = limit(RLIMIT_AS, box->address_space, box->address_space)) ||
	    (rc = limit(RLIMIT_FSIZE, box->file_size, box->file_size)) ||
	    (rc = limit(RLIMIT_NOFILE, box->open_files, box->open_files)) ||
	    (rc = limit(RLIMIT_NPROC, box->processes, box->processes)))
		return rc;
	/* File-access rules (Landlock) go here: read system and library folders, write scratch. */
	return 0;
}

const char *
sandbox_describe(void)
{
	return "rlimits";
}

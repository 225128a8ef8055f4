/* sandbox.c -- the confinement applied to a renderer between fork and exec: rlimits, Landlock, seccomp */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/landlock.h>
#include <linux/sched.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

/*
 * Landlock, by raw system call. Debian 12's headers stop at ABI 2, so the later rights and
 * the longer ruleset attribute are spelled out here; the kernel accepts the longer struct
 * from any ABI as long as the fields it does not know are zero.
 */
#define LL_FS_TRUNCATE      (1ULL << 14)     /* ABI 3 */
#define LL_FS_IOCTL_DEV     (1ULL << 15)     /* ABI 5 */
#define LL_NET_BIND_TCP     (1ULL << 0)      /* ABI 4 */
#define LL_NET_CONNECT_TCP  (1ULL << 1)      /* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)   /* ABI 6 */
#define LL_SCOPE_SIGNAL     (1ULL << 1)      /* ABI 6 */
#define LL_ABI_KNOWN        7                /* the newest ABI this file knows */

#define LL_FS_READ  (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_FS_FILE  (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
                     LANDLOCK_ACCESS_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)
/* In its scratch directory a renderer makes, reads, writes and removes files and folders. */
#define LL_FS_SCRATCH (LL_FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | \
                     LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
                     LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
                     LANDLOCK_ACCESS_FS_REFER | LL_FS_TRUNCATE)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;   /* ABI 4 */
	uint64_t scoped;               /* ABI 6 */
};

/* System folders every renderer reads; those missing on this machine are skipped. */
static const char *const system_read[] = {
	"/usr/lib", "/usr/lib64", "/lib", "/lib64", "/etc/ld.so.cache",
	"/usr/share/openscad", "/usr/share/fonts", "/usr/local/share/fonts",
	"/usr/share/fontconfig", "/etc/fonts", "/var/cache/fontconfig",
	"/usr/share/locale", "/usr/share/X11/locale", NULL
};

/* Every file-system right the given ABI knows. */
static uint64_t
ll_fs_rights(int abi)
{
	uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;	/* ABI 1: bits 0-12 */

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LL_FS_TRUNCATE;
	if (abi >= 5)
		r |= LL_FS_IOCTL_DEV;
	return r;
}

int
sandbox_split_paths(const char *list, char out[][SANDBOX_PATH_LEN], int max, int *n)
{
	const char *p = list, *end;
	size_t len;

	while (p != NULL && *p != '\0') {
		end = strchr(p, ':');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len > 0) {
			if (p[0] != '/' || len >= SANDBOX_PATH_LEN || *n >= max)
				return -1;
			memcpy(out[*n], p, len);
			out[*n][len] = '\0';
			(*n)++;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* Adds one path to a list unless it is there already. 0 or -1 (full, or too long). */
static int
add_path(char list[][SANDBOX_PATH_LEN], int *n, const char *path)
{
	int i;

	for (i = 0; i < *n; i++)
		if (strcmp(list[i], path) == 0)
			return 0;
	if (*n >= SANDBOX_PATHS_MAX || strlen(path) >= SANDBOX_PATH_LEN)
		return -1;
	snprintf(list[(*n)++], SANDBOX_PATH_LEN, "%s", path);
	return 0;
}

int
sandbox_configure(struct sandbox_policy *p, const char *(*get)(const char *),
    const char *renderer, char *err, size_t errlen)
{
	char share[SANDBOX_PATH_LEN];
	const char *v, *slash;
	int i;
	size_t n;

	memset(p, 0, sizeof(*p));
	p->abi_max = -1;
	for (i = 0; system_read[i] != NULL; i++)
		add_path(p->read, &p->nread, system_read[i]);
	/* OpenSCAD finds its own folder (libraries, fonts, colour schemes) at ../share/openscad. */
	if ((slash = strrchr(renderer, '/')) != NULL && slash > renderer) {
		n = (size_t)(slash - renderer);
		if (n + sizeof("/../share/openscad") < sizeof(share)) {
			snprintf(share, sizeof(share), "%.*s/../share/openscad", (int)n, renderer);
			add_path(p->read, &p->nread, share);
		}
	}
	if (add_path(p->exec, &p->nexec, renderer)) {
		snprintf(err, errlen, "SCADSERVE_OPENSCAD: path too long");
		return -1;
	}
	v = get("SCADSERVE_LIBRARY_PATH");
	if (v != NULL && v[0] != '\0') {
		if (strlen(v) >= sizeof(p->library_path) ||
		    sandbox_split_paths(v, p->read, SANDBOX_PATHS_MAX, &p->nread)) {
			snprintf(err, errlen, "SCADSERVE_LIBRARY_PATH: expected absolute folders "
			    "separated by ':' (at most %d paths in all)", SANDBOX_PATHS_MAX);
			return -1;
		}
		snprintf(p->library_path, sizeof(p->library_path), "%s", v);
	}
	v = get("SCADSERVE_SANDBOX_READ");
	if (v != NULL && sandbox_split_paths(v, p->read, SANDBOX_PATHS_MAX, &p->nread)) {
		snprintf(err, errlen, "SCADSERVE_SANDBOX_READ: expected absolute paths separated "
		    "by ':'");
		return -1;
	}
	v = get("SCADSERVE_SANDBOX_EXEC");
	if (v != NULL && sandbox_split_paths(v, p->exec, SANDBOX_PATHS_MAX, &p->nexec)) {
		snprintf(err, errlen, "SCADSERVE_SANDBOX_EXEC: expected absolute paths separated "
		    "by ':'");
		return -1;
	}
	v = get("SCADSERVE_LANDLOCK_ABI_MAX");
	if (v != NULL && v[0] != '\0') {
		char *end;
		long l = strtol(v, &end, 10);
		if (*end != '\0' || end == v || l < 0 || l > 1000) {
			snprintf(err, errlen, "SCADSERVE_LANDLOCK_ABI_MAX=%s: expected a number, 0 "
			    "for none", v);
			return -1;
		}
		p->abi_max = (int)l;
	}
	v = get("SCADSERVE_UNCONFINED");
	if (v != NULL && v[0] != '\0') {
		if (strcmp(v, "1") && strcmp(v, "0")) {
			snprintf(err, errlen, "SCADSERVE_UNCONFINED=%s: expected 1 or 0", v);
			return -1;
		}
		p->unconfined = strcmp(v, "1") == 0;
	}
	return 0;
}

/*
 * The program a kernel runs to start path: an ELF file's PT_INTERP (its dynamic loader) or
 * a script's "#!" interpreter. Copies it into out; 0, or -1 if there is none.
 */
static int
interpreter_of(const char *path, char *out, size_t outlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	char head[256];
	ssize_t n;
	int fd, i, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((n = pread(fd, head, sizeof(head) - 1, 0)) < 2)
		goto out;
	head[n] = '\0';
	if (head[0] == '#' && head[1] == '!') {
		char *p = head + 2, *end;
		p += strspn(p, " \t");
		end = p + strcspn(p, " \t\r\n");
		if (end > p && *p == '/' && (size_t)(end - p) < outlen) {
			memcpy(out, p, (size_t)(end - p));
			out[end - p] = '\0';
			rc = 0;
		}
		goto out;
	}
	if ((size_t)n < sizeof(eh) || memcmp(head, ELFMAG, SELFMAG) != 0 ||
	    head[EI_CLASS] != ELFCLASS64)
		goto out;
	memcpy(&eh, head, sizeof(eh));
	for (i = 0; i < eh.e_phnum && i < 64; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph))
			goto out;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz < 2 || ph.p_filesz > outlen ||
		    pread(fd, out, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz)
			goto out;
		out[ph.p_filesz - 1] = '\0';
		rc = out[0] == '/' ? 0 : -1;
		goto out;
	}
out:
	close(fd);
	return rc;
}

void
sandbox_probe(struct sandbox_policy *p, const char *renderer)
{
	char interp[SANDBOX_PATH_LEN];
	long abi;

	if (interpreter_of(renderer, interp, sizeof(interp)) == 0)
		add_path(p->exec, &p->nexec, interp);
	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	p->kernel_abi = abi > 0 ? (int)abi : 0;
	p->landlock_abi = p->kernel_abi;
	if (p->landlock_abi > LL_ABI_KNOWN)
		p->landlock_abi = LL_ABI_KNOWN;	/* newer rights are not ours to handle */
	if (p->abi_max >= 0 && p->landlock_abi > p->abi_max)
		p->landlock_abi = p->abi_max;
	p->seccomp = 1;
	p->why[0] = '\0';
	p->refuse = 0;
	if (p->landlock_abi > 0)
		return;
	if (p->kernel_abi == 0)
		snprintf(p->why, sizeof(p->why), "the kernel offers no Landlock (%s)",
		    abi < 0 ? strerror(errno) : "ABI 0");
	else
		snprintf(p->why, sizeof(p->why), "Landlock is turned off by "
		    "SCADSERVE_LANDLOCK_ABI_MAX=0");
	p->refuse = !p->unconfined;
}

int
sandbox_derive(struct sandbox_policy *dst, const struct sandbox_policy *src,
    const char *program, const char *const extra[])
{
	char interp[SANDBOX_PATH_LEN];
	int i;

	*dst = *src;
	dst->nexec = 0;
	if (add_path(dst->exec, &dst->nexec, program))
		return -1;
	if (interpreter_of(program, interp, sizeof(interp)) == 0 &&
	    add_path(dst->exec, &dst->nexec, interp))
		return -1;
	for (i = 0; extra[i] != NULL; i++)
		if (extra[i][0] != '\0' && add_path(dst->read, &dst->nread, extra[i]))
			return -1;
	return 0;
}

const char *
sandbox_describe(const struct sandbox_policy *p)
{
	static char text[64];

	if (p == NULL)
		return "rlimits";
	if (p->landlock_abi > 0)
		snprintf(text, sizeof(text), "landlock-%d%s+rlimits", p->landlock_abi,
		    p->seccomp ? "+seccomp" : "");
	else
		snprintf(text, sizeof(text), "%srlimits", p->seccomp ? "seccomp+" : "");
	return text;
}

static int
limit(int resource, uint64_t soft, uint64_t hard)
{
	struct rlimit rl;

	rl.rlim_cur = (rlim_t)soft;
	rl.rlim_max = (rlim_t)hard;
	return setrlimit(resource, &rl) ? errno : 0;
}

/*
 * Lets the ruleset rs grant want (masked to what it handles, and to file rights for a
 * file) beneath path. A path that does not exist is skipped. 0 or an errno value.
 */
static int
ll_allow(int rs, const char *path, uint64_t want, uint64_t handled)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd, e = 0;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : errno;
	if (fstat(fd, &st)) {
		e = errno;
		goto out;
	}
	pb.allowed_access = want & handled;
	if (!S_ISDIR(st.st_mode))
		pb.allowed_access &= LL_FS_FILE;
	pb.parent_fd = fd;
	if (pb.allowed_access != 0 &&
	    syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0))
		e = errno;
out:
	close(fd);
	return e;
}

/* Restricts this process to the policy's folders and scratch. 0 or an errno value. */
static int
ll_apply(const struct sandbox_policy *p, const char *scratch)
{
	struct ll_ruleset_attr attr;
	int rs, e = 0, i;

	attr.handled_access_fs = ll_fs_rights(p->landlock_abi);
	attr.handled_access_net = p->landlock_abi >= 4 ? LL_NET_BIND_TCP | LL_NET_CONNECT_TCP : 0;
	attr.scoped = p->landlock_abi >= 6 ? LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL : 0;
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0)
		return errno;
	for (i = 0; i < p->nread && e == 0; i++)
		e = ll_allow(rs, p->read[i], LL_FS_READ, attr.handled_access_fs);
	for (i = 0; i < p->nexec && e == 0; i++)
		e = ll_allow(rs, p->exec[i], LL_FS_READ | LANDLOCK_ACCESS_FS_EXECUTE,
		    attr.handled_access_fs);
	if (e == 0 && scratch != NULL)
		e = ll_allow(rs, scratch, LL_FS_SCRATCH, attr.handled_access_fs);
	if (e == 0 && syscall(SYS_landlock_restrict_self, rs, 0))
		e = errno;
	close(rs);
	return e;
}

/* System calls a renderer has no business making: refused with EPERM. */
static const char *const denied_calls[] = {
	"socket", "socketpair", "ptrace", "process_vm_readv", "process_vm_writev",
	"pidfd_open", "pidfd_getfd", "pidfd_send_signal", "tkill",
	"mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
	"fsconfig", "fsmount", "fspick", "mount_setattr", "unshare", "setns",
	"bpf", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"userfaultfd", "keyctl", "add_key", "request_key",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"reboot", "swapon", "swapoff", "acct", "open_by_handle_at", "name_to_handle_at",
	"syslog", "iopl", "ioperm", "quotactl", "sethostname", "setdomainname",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "fanotify_init",
	NULL
};

/* New namespaces through clone(): refused; clone3 (whose flags seccomp cannot read) too. */
static const uint64_t ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWCGROUP
};

/*
 * Loads the seccomp filter: the calls above refused, signals only to this process.
 * 0 or an errno value.
 */
static int
seccomp_apply(void)
{
	scmp_filter_ctx ctx;
	uint32_t me = (uint32_t)getpid();
	int i, rc = 0;
	int sys;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		return ENOMEM;
	for (i = 0; denied_calls[i] != NULL && rc == 0; i++) {
		if ((sys = seccomp_syscall_resolve_name(denied_calls[i])) == __NR_SCMP_ERROR)
			continue;	/* not a call on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), sys, 0);
	}
	for (i = 0; i < (int)(sizeof(ns_flags) / sizeof(ns_flags[0])) && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/*
	 * Signals to this very process only: not even kill(0) or kill(-pid) for its group
	 * (libseccomp 2.5 cannot compare one argument with several values in one rule, and a
	 * renderer has no group to signal). The comparison is on the low 32 bits, which are
	 * all the kernel reads of a pid.
	 */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill), 1,
		    SCMP_A0_32(SCMP_CMP_NE, me));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tgkill), 1,
		    SCMP_A0_32(SCMP_CMP_NE, me));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(rt_sigqueueinfo), 1,
		    SCMP_A0_32(SCMP_CMP_NE, me));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(rt_tgsigqueueinfo), 1,
		    SCMP_A0_32(SCMP_CMP_NE, me));
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc < 0 ? -rc : rc;
}

int
sandbox_child(const struct sandbox *box)
{
	const struct sandbox_policy *p = box->policy;
	int rc;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return errno;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		return errno;
	/*
	 * The sandbox first: libseccomp allocates, and an allocation under the address-space
	 * limit below can fail (a sanitizer build has terabytes of shadow mapped already).
	 */
	if (p != NULL && p->refuse)
		return EPERM;	/* fail closed: the caller should not have got this far */
	if (p != NULL && p->landlock_abi > 0 && (rc = ll_apply(p, box->scratch)) != 0)
		return rc;
	if (p != NULL && p->seccomp && (rc = seccomp_apply()) != 0)
		return rc;
	/* CPU: SIGXCPU at the soft limit, SIGKILL one second later. */
	if ((rc = limit(RLIMIT_CORE, 0, 0)) ||
	    (rc = limit(RLIMIT_CPU, box->cpu_seconds, box->cpu_seconds == RLIM_INFINITY ?
	    RLIM_INFINITY : box->cpu_seconds + 1)) ||
	    (rc = limit(RLIMIT_AS, box->address_space, box->address_space)) ||
	    (rc = limit(RLIMIT_FSIZE, box->file_size, box->file_size)) ||
	    (rc = limit(RLIMIT_NOFILE, box->open_files, box->open_files)) ||
	    (rc = limit(RLIMIT_NPROC, box->processes, box->processes)))
		return rc;
	return 0;
}

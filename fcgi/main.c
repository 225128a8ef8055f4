/* main.c -- scadserve's FastCGI program: reads its settings, probes the renderer, answers requests */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "api.h"
#include "board.h"
#include "config.h"
#include "engine_wasm.h"
#include "log.h"
#include "metrics.h"
#include "probe.h"
#include "render.h"
#include "runner.h"
#include "sandbox.h"
#include "scratch.h"
#include "text.h"

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

static const char *
env_get(const char *name)
{
	return getenv(name);
}

static int
make_dir(const char *path)
{
	if (mkdir(path, 0700) && errno != EEXIST) {
		log_msg(LOG_ERROR, NULL, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static struct app app;
	struct sigaction sa;
	FCGX_Request rq;
	char err[512], path[1200];

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: scadserve (started by spawn-fcgi; configured by "
		    "SCADSERVE_* environment variables, see README.md)\n");
		return 2;
	}
	/*
	 * A hit's blob (up to hundreds of KiB) is allocated and freed on every request. glibc
	 * would hand such buffers back to the kernel (mmap, or trimming the heap top) and fault
	 * them in again each time; keep them in the heap instead. The price: a worker keeps up
	 * to 64 MiB of freed heap (two buffers of its largest hit, about); buffers over 32 MiB
	 * are still mapped and unmapped each time.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	if (config_parse(&app.cfg, env_get, sysconf(_SC_NPROCESSORS_ONLN), err, sizeof(err))) {
		log_msg(LOG_ERROR, NULL, "configuration: %s", err);
		return 1;
	}
	umask(077);	/* the cache, its WAL, scratch files: this user's alone */
	log_set_level(app.cfg.log_level);
	/* spawn-fcgi points a forked worker's stderr at /dev/null: log where asked instead. */
	if (app.cfg.log_file[0] != '\0') {
		int fd = open(app.cfg.log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
			log_msg(LOG_ERROR, NULL, "SCADSERVE_LOG_FILE %s: %s", app.cfg.log_file,
			    strerror(errno));
			return 1;
		}
		close(fd);
	}
	app.started = (long)time(NULL);
	app.stopping = &stopping;
	if (text_printf(app.slots_dir, sizeof(app.slots_dir), "%s/slots", app.cfg.state_dir)) {
		log_msg(LOG_ERROR, NULL, "SCADSERVE_STATE_DIR %s: path too long", app.cfg.state_dir);
		return 1;
	}
	if (text_printf(app.spool_dir, sizeof(app.spool_dir), "%s/spool", app.cfg.state_dir)) {
		log_msg(LOG_ERROR, NULL, "SCADSERVE_STATE_DIR %s: path too long", app.cfg.state_dir);
		return 1;
	}
	if (make_dir(app.cfg.state_dir) || make_dir(app.cfg.tmp_dir) || make_dir(app.slots_dir) ||
	    make_dir(app.spool_dir))
		return 1;
	scratch_sweep(app.cfg.tmp_dir);	/* of workers killed mid-render; never one in use */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;	/* no SA_RESTART: accept() returns so we can leave */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/*
	 * multiwatch, the pools' supervisor, passes a stop on as SIGQUIT whatever -s names
	 * (Debian's 1.0.0 sends the index of the name in its table: TERM is 3): a graceful stop too.
	 */
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);	/* waitpid needs it not ignored */
	if (render_init())
		return 1;
	snprintf(path, sizeof(path), "%s/metrics.shm", app.cfg.state_dir);
	metrics_open(path);
	if (sandbox_configure(&app.policy, env_get, app.cfg.openscad, err, sizeof(err))) {
		log_msg(LOG_ERROR, NULL, "configuration: %s", err);
		return 1;
	}
	sandbox_probe(&app.policy, app.cfg.openscad);
	if (app.policy.refuse)
		log_msg(LOG_ERROR, NULL, "renders are refused: %s; set SCADSERVE_UNCONFINED=1 to "
		    "render without it (renderers could then read every file this user can)",
		    app.policy.why);
	else if (app.policy.landlock_abi == 0)
		log_msg(LOG_WARN, NULL, "UNCONFINED: %s, and SCADSERVE_UNCONFINED=1 lets renderers "
		    "read every file this user can", app.policy.why);
	/* --version and --help read no model: asked even when renders are refused, for health. */
	if (probe_run(&app.cfg, app.policy.refuse ? NULL : &app.policy, &app.probe)) {
		log_msg(LOG_ERROR, NULL, "the renderer %s does not answer --version and --help; "
		    "set SCADSERVE_OPENSCAD to an OpenSCAD binary", app.cfg.openscad);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/helpers.shm", app.cfg.state_dir);
	board_open(path);
	/*
	 * Only the job runners render (SCADSERVE_ROLE=runner): each starts its WASM helper now,
	 * warm for the first render. The FastCGI workers need the engine's identity (it is in
	 * every key) but never a helper.
	 */
	app.runner = getenv("SCADSERVE_ROLE") != NULL &&
	    strcmp(getenv("SCADSERVE_ROLE"), "runner") == 0;
	if (engine_wasm_init(&app.cfg, &app.policy) == 0) {
		if (app.runner) {
			engine_wasm_warm();
			engine_wasm_wait_ready();	/* so health, in any worker, can say so */
		}
	}
	else if (strcmp(app.cfg.engine, "cli") != 0)
		log_msg(LOG_WARN, NULL, "the WASM engine is unavailable (%s): the CLI renders "
		    "everything", engine_wasm_why());
	if ((app.cache = cache_open(app.cfg.cache_path, app.cfg.cache_max,
	    app.cfg.cache_entry_max)) == NULL) {
		log_msg(LOG_ERROR, NULL, "out of memory");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/jobs.sqlite", app.cfg.state_dir);
	app.jobs = jobs_open(path);
	if (app.runner) {
		/* A job runner: no FastCGI, the jobs database instead. */
		int rc = runner_main(&app);

		engine_wasm_stop();
		jobs_close(app.jobs);
		cache_free(app.cache);
		return rc;
	}
	log_msg(LOG_INFO, NULL, "ready: %s, CLI %s (%d formats), cache %s, %d render slots, %s",
	    engine_wasm_why()[0] ? "no WASM engine" : engine_wasm_id(), app.probe.id,
	    app.probe.formats, app.cfg.cache_path, app.cfg.slots,
	    sandbox_describe(&app.policy));
	if (FCGX_Init() || FCGX_InitRequest(&rq, 0, 0)) {
		log_msg(LOG_ERROR, NULL, "FastCGI initialisation failed");
		engine_wasm_stop();
		cache_free(app.cache);
		return 1;
	}
	while (!stopping && FCGX_Accept_r(&rq) >= 0) {
		api_handle(&app, &rq);
		FCGX_Finish_r(&rq);
	}
	log_msg(LOG_INFO, NULL, "stopping");
	engine_wasm_stop();
	jobs_close(app.jobs);
	FCGX_Free(&rq, 1);
	cache_free(app.cache);
	return 0;
}

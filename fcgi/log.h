/* log.h -- one-line log records on stderr (spawn-fcgi hands it to the supervisor's log) */
#ifndef SCADSERVE_LOG_H
#define SCADSERVE_LOG_H

enum log_level {
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG__MAX
};

/* Records below this level are dropped. Default LOG_INFO. */
void log_set_level(enum log_level level);

/* Writes "time level [request id] message\n" to stderr in one write. request_id may be NULL. */
void log_msg(enum log_level level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

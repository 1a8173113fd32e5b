/*
 * log.h - one-line log records on stderr.
 *
 * Every record is "TIME PROG[PID] LEVEL func: message".  Daemons log to
 * stderr; `clapper local up` and systemd redirect it to a file or journal.
 */
#ifndef CLAPPER_LOG_H
#define CLAPPER_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets the program name shown in records and the most verbose level kept. */
void log_init(const char *prog, int level);

/* Returns the level parsed from "error", "warn", "info" or "debug", or -1. */
int log_level_parse(const char *name);

void log_write(int level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_write(LOG_LVL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_info(...) log_write(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_write(LOG_LVL_DEBUG, __func__, __VA_ARGS__)

#endif

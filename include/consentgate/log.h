/* Logging to stderr (journald adds the time). Never pass a client address. */
#ifndef CONSENTGATE_LOG_H
#define CONSENTGATE_LOG_H

void cg_log(const char *level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define cg_info(...) cg_log("info", __VA_ARGS__)
#define cg_warn(...) cg_log("warn", __VA_ARGS__)
#define cg_error(...) cg_log("error", __VA_ARGS__)

#endif

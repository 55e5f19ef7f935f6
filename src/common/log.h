/*
 * log.h: the log lines of the extension's programs (automation-worker,
 * automation-api) on stderr.  Each program defines log_program, the name
 * its lines carry.
 */
#ifndef AUTOMATION_COMMON_LOG_H
#define AUTOMATION_COMMON_LOG_H

extern const char log_program[];

extern void log_info(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void log_error(const char *fmt,...) __attribute__((format(printf, 1, 2)));
/* monotonic milliseconds, for latencies and deadlines */
extern double now_ms(void);

#endif

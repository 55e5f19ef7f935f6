/*
 * log.c: the worker's log lines on stderr.
 *
 * One line per delivery: time, job id, action type, outcome, attempt,
 * latency in milliseconds, and for failures the cause.  Lines are written
 * with one write so concurrent processes do not interleave them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "worker.h"

/* now_ms: wall-clock milliseconds (for latencies and deadlines). */
double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* log_write: prefix the line with a UTC timestamp and emit it at once. */
static void __attribute__((format(printf, 2, 0)))
log_write(const char *level, const char *fmt, va_list args)
{
	char		line[4096];
	struct timeval tv;
	struct tm	tm;
	size_t		len;
	int			n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ".%03dZ automation-worker %s: ",
				 (int) (tv.tv_usec / 1000), level);
	if (n > 0)
		len += (size_t) n;
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, args);
	if (n > 0)
		len += (size_t) n < sizeof(line) - len - 1 ? (size_t) n : sizeof(line) - len - 2;
	/* a line never spans lines: data in messages cannot forge log lines */
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

/* log_info: an informational line. */
void
log_info(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	log_write("info", fmt, args);
	va_end(args);
}

/* log_error: an error line; callers name the cause. */
void
log_error(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	log_write("error", fmt, args);
	va_end(args);
}

/* log_delivery: the one line per delivery attempt. */
void
log_delivery(const Job *job, const char *outcome, double latency_ms, const char *detail)
{
	log_info("job=%lld type=%s outcome=%s attempt=%d/%d latency_ms=%.1f%s%s",
			 (long long) job->id, job->action_type, outcome, job->attempt,
			 job->max_attempts, latency_ms, detail && *detail ? " cause=" : "",
			 detail && *detail ? detail : "");
}

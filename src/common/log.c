/*
 * log.c: one line per event on stderr, UTC timestamp and program first,
 * written with one write(2) so that concurrent processes and threads do not
 * interleave them.  Shared by automation-worker and automation-api.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

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
	n = snprintf(line + len, sizeof(line) - len, ".%03dZ %s %s: ",
				 (int) (tv.tv_usec / 1000), log_program, level);
	if (n > 0)
		len += (size_t) n;
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, args);
	if (n > 0)
		len += (size_t) n < sizeof(line) - len - 1 ? (size_t) n : sizeof(line) - len - 2;
	/* a line never spans lines: what a client or a job sends cannot forge log lines */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

void
log_info(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	log_write("info", fmt, args);
	va_end(args);
}

void
log_error(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	log_write("error", fmt, args);
	va_end(args);
}

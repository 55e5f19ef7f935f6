/*
 * main.c: automation-api's options, log, signals and daemon.
 *
 * The daemon runs --pool threads (libmicrohttpd's thread pool); each thread
 * owns one database connection (db.c), so --pool is both the number of
 * requests served at once and the size of the connection pool.  Connections
 * beyond --max-connections are refused by the daemon; a connection idle for
 * --timeout seconds (a slow client) is closed.
 *
 * SIGTERM / SIGINT: the listening socket is closed at once (new connections
 * are refused), requests in flight are finished and answered (with
 * "Connection: close"), for at most --drain seconds, then the process exits
 * 0.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "api.h"

ApiOptions	options;

/* now_ms: monotonic milliseconds. */
double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* log_write: one line on stderr, UTC timestamp first, written at once. */
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
	n = snprintf(line + len, sizeof(line) - len, ".%03dZ automation-api %s: ",
				 (int) (tv.tv_usec / 1000), level);
	if (n > 0)
		len += (size_t) n;
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, args);
	if (n > 0)
		len += (size_t) n < sizeof(line) - len - 1 ? (size_t) n : sizeof(line) - len - 2;
	/* a line never spans lines: what a client sends cannot forge log lines */
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

/* mhd_log: libmicrohttpd's own messages. */
static void __attribute__((format(printf, 2, 0)))
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char		buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\r\n")] = '\0';
	log_error("libmicrohttpd: %s", buf);
}

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: automation-api --dbname CONNINFO --listen HOST:PORT [OPTIONS]\n"
			"Serves the HTTP API of the automation extension (SPEC section 13).\n\n"
			"  --dbname CONNINFO       database to serve (default: libpq environment)\n"
			"  --listen HOST:PORT      address to listen on (default 127.0.0.1:8080)\n"
			"  --pool N                database connections = requests at once (default 8)\n"
			"  --tenant-header NAME    header naming the tenant (default X-Tenant-ID)\n"
			"  --max-body BYTES        largest request body (default 1048576)\n"
			"  --max-connections N     open HTTP connections at most (default 512)\n"
			"  --timeout SECONDS       close a connection idle this long (default 30)\n"
			"  --drain SECONDS         SIGTERM: longest wait for requests in flight (default 30)\n"
			"  --anonymous-rate-limit N  requests per minute and client address without\n"
			"                          a valid key (default 600; 0: no limit)\n"
			"  --list-routes           print \"METHOD /path\" per route and exit\n");
}

static long
parse_number(const char *name, const char *text, long min, long max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (*text == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
	{
		fprintf(stderr, "automation-api: %s must be an integer from %ld to %ld, not \"%s\"\n",
				name, min, max, text);
		exit(2);
	}
	return v;
}

static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"pool", required_argument, NULL, 'p'},
		{"tenant-header", required_argument, NULL, 't'},
		{"max-body", required_argument, NULL, 'b'},
		{"max-connections", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 'T'},
		{"drain", required_argument, NULL, 'D'},
		{"anonymous-rate-limit", required_argument, NULL, 'a'},
		{"list-routes", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			opt;

	options.listen = "127.0.0.1:8080";
	options.pool = 8;
	options.tenant_header = "X-Tenant-ID";
	options.max_body = 1024 * 1024;
	options.max_connections = 512;
	options.timeout_seconds = 30;
	options.drain_seconds = 30;
	options.anonymous_rate_limit = 600;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
	{
		switch (opt)
		{
			case 'd':
				options.conninfo = optarg;
				break;
			case 'l':
				options.listen = optarg;
				break;
			case 'p':
				options.pool = (int) parse_number("--pool", optarg, 1, 256);
				break;
			case 't':
				options.tenant_header = optarg;
				if (*optarg == '\0' || strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(optarg))
				{
					fprintf(stderr, "automation-api: --tenant-header must be a header name, not \"%s\"\n", optarg);
					exit(2);
				}
				break;
			case 'b':
				options.max_body = (size_t) parse_number("--max-body", optarg, 1024, 64L * 1024 * 1024);
				break;
			case 'c':
				options.max_connections = (int) parse_number("--max-connections", optarg, 1, 100000);
				break;
			case 'T':
				options.timeout_seconds = (int) parse_number("--timeout", optarg, 1, 3600);
				break;
			case 'D':
				options.drain_seconds = (int) parse_number("--drain", optarg, 0, 3600);
				break;
			case 'a':
				options.anonymous_rate_limit = (int) parse_number("--anonymous-rate-limit", optarg, 0, 1000000);
				break;
			case 'r':
				print_routes();
				exit(0);
			case 'h':
				usage(stdout);
				exit(0);
			default:
				usage(stderr);
				exit(2);
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "automation-api: unexpected argument \"%s\"\n", argv[optind]);
		exit(2);
	}
}

/* listen_socket: a listening socket for HOST:PORT ([v6]:PORT too), or exit 2. */
static int
listen_socket(const char *spec)
{
	char		host[256];
	const char *colon = strrchr(spec, ':');
	const char *port;
	size_t		hlen;
	struct addrinfo hints,
			   *res,
			   *ai;
	int			fd = -1;
	int			rc;
	int			one = 1;

	if (colon == NULL || colon[1] == '\0')
	{
		fprintf(stderr, "automation-api: --listen must be HOST:PORT, not \"%s\"\n", spec);
		exit(2);
	}
	port = colon + 1;
	hlen = (size_t) (colon - spec);
	if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']')
	{
		spec++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
	{
		fprintf(stderr, "automation-api: --listen host is too long\n");
		exit(2);
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(hlen ? host : NULL, port, &hints, &res);
	if (rc != 0)
	{
		fprintf(stderr, "automation-api: cannot resolve --listen %s: %s\n", spec, gai_strerror(rc));
		exit(2);
	}
	for (ai = res; ai; ai = ai->ai_next)
	{
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
	{
		fprintf(stderr, "automation-api: cannot listen on %s: %s\n", options.listen, strerror(errno));
		exit(2);
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *daemon;
	sigset_t	set;
	int			sig;
	int			fd;
	double		deadline;

	parse_options(argc, argv);

	/* signals go to this thread only (sigwait below), never to the daemon's */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	fd = listen_socket(options.listen);
	daemon = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
							  MHD_USE_ERROR_LOG,
							  0, NULL, NULL, handle_request, NULL,
							  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
							  MHD_OPTION_LISTEN_SOCKET, fd,
							  MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) options.pool,
							  MHD_OPTION_CONNECTION_LIMIT, (unsigned int) options.max_connections,
							  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) options.timeout_seconds,
							  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (64 * 1024),
							  MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
							  MHD_OPTION_END);
	if (daemon == NULL)
	{
		log_error("cannot start the HTTP daemon on %s", options.listen);
		return 1;
	}
	log_info("listening on %s (pool %d, max-body %zu, max-connections %d)",
			 options.listen, options.pool, options.max_body, options.max_connections);

	do
	{
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
	} while (sig != SIGTERM && sig != SIGINT);

	log_info("signal %d: draining %d request(s) in flight", sig, in_flight());
	draining = 1;
	fd = MHD_quiesce_daemon(daemon);
	if (fd >= 0)
		close(fd);
	deadline = now_ms() + options.drain_seconds * 1000.0;
	while (in_flight() > 0 && now_ms() < deadline)
		usleep(10000);
	if (in_flight() > 0)
		log_error("%d request(s) still in flight after %d s: closing", in_flight(), options.drain_seconds);
	MHD_stop_daemon(daemon);
	log_info("stopped");
	return 0;
}

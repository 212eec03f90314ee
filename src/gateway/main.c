/*
 * main.c
 *		pushsource_gateway: options, the HTTP daemon, signals, shutdown.
 *
 *   pushsource_gateway --listen 127.0.0.1:8080 --db "host=... dbname=..."
 *                      [--pool N] [--max-body BYTES] [--timeout SECONDS]
 *                      [--quiet]
 *
 * SIGTERM or SIGINT: stop accepting connections, let the requests in
 * flight finish (at most --timeout seconds), close, exit 0.
 */
#include "gateway.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

GwOptions	gw_opts = {
	.listen_host = "127.0.0.1",
	.listen_port = 8080,
	.db = "",
	.pool = 4,
	.max_body = 10 * 1024 * 1024,
	.timeout = 30,
	.quiet = false,
	.max_connections = 512,
};
volatile int gw_shutting_down = 0;

static void
usage(FILE *f)
{
	fprintf(f,
			"Usage: pushsource_gateway --listen HOST:PORT --db CONNINFO [options]\n"
			"\n"
			"Tecton's and Feast's HTTP APIs for the pushsource extension.\n"
			"\n"
			"  --listen HOST:PORT   address to listen on (default 127.0.0.1:8080;\n"
			"                       [::1]:8080 for IPv6)\n"
			"  --db CONNINFO        libpq connection string or URI of the database\n"
			"  --pool N             database connections (default 4)\n"
			"  --max-body BYTES     largest request body (default 10485760)\n"
			"  --timeout SECONDS    statement timeout, and how long a client may\n"
			"                       stay idle or a request wait for a connection\n"
			"                       (default 30)\n"
			"  --max-connections N  client connections at once (default 512)\n"
			"  --quiet              no request log on stderr\n"
			"  --help               this text\n");
}

static long
number(const char *opt, const char *s, long min, long max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
	{
		fprintf(stderr, "pushsource_gateway: %s must be an integer from %ld to %ld, got \"%s\"\n",
				opt, min, max, s);
		exit(2);
	}
	return v;
}

static void
parse_listen(const char *s)
{
	const char *colon = strrchr(s, ':');
	char	   *host;

	if (colon == NULL)
	{
		fprintf(stderr, "pushsource_gateway: --listen must be HOST:PORT, got \"%s\"\n", s);
		exit(2);
	}
	host = strndup(s, (size_t) (colon - s));
	if (host[0] == '[' && host[strlen(host) - 1] == ']')
	{
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (host[0] == '\0' || strcmp(host, "*") == 0)
		host = "0.0.0.0";
	else if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	gw_opts.listen_host = host;
	gw_opts.listen_port = (int) number("--listen port", colon + 1, 1, 65535);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"db", required_argument, NULL, 'd'},
		{"pool", required_argument, NULL, 'p'},
		{"max-body", required_argument, NULL, 'm'},
		{"timeout", required_argument, NULL, 't'},
		{"quiet", no_argument, NULL, 'q'},
		{"max-connections", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	sigset_t	sigs;
	int			sig;
	struct MHD_Daemon *d;
	time_t		deadline;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'l':
				parse_listen(optarg);
				break;
			case 'd':
				gw_opts.db = optarg;
				break;
			case 'p':
				gw_opts.pool = (int) number("--pool", optarg, 1, 1000);
				break;
			case 'm':
				gw_opts.max_body = (size_t) number("--max-body", optarg, 1, 1L << 30);
				break;
			case 't':
				gw_opts.timeout = (int) number("--timeout", optarg, 1, 86400);
				break;
			case 'q':
				gw_opts.quiet = true;
				break;
			case 'c':
				gw_opts.max_connections = (int) number("--max-connections", optarg, 1, 100000);
				break;
			case 'h':
				usage(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "pushsource_gateway: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	/* Signals are taken by this thread alone, with sigwait. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	gw_metrics_init();
	gw_pool_init(gw_opts.pool);
	d = gw_http_start();
	if (d == NULL)
	{
		fprintf(stderr, "pushsource_gateway: cannot listen on %s:%d\n",
				gw_opts.listen_host, gw_opts.listen_port);
		return 1;
	}
	fprintf(stderr, "pushsource_gateway: listening on %s:%d, pool %d, max body %zu bytes, timeout %d s\n",
			gw_opts.listen_host, gw_opts.listen_port, gw_opts.pool, gw_opts.max_body,
			gw_opts.timeout);
	if (!gw_health())
		fprintf(stderr, "pushsource_gateway: the database is not reachable yet; /health says 503 until it is\n");

	do
	{
		if (sigwait(&sigs, &sig) != 0)
			sig = SIGTERM;
	} while (sig == SIGHUP);

	fprintf(stderr, "pushsource_gateway: %s: finishing %d request(s) in flight\n",
			sig == SIGINT ? "SIGINT" : "SIGTERM", gw_http_in_flight());
	gw_shutting_down = 1;
	MHD_quiesce_daemon(d);
	deadline = time(NULL) + gw_opts.timeout;
	while (gw_http_in_flight() > 0 && time(NULL) < deadline)
		usleep(10000);
	MHD_stop_daemon(d);
	gw_pool_close();
	fprintf(stderr, "pushsource_gateway: stopped\n");
	return 0;
}

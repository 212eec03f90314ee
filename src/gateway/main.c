/*
 * main.c
 *		pushsource_gateway: options, the event loop, signals, shutdown.
 *
 *   pushsource_gateway --listen 127.0.0.1:8080 --db "host=... dbname=..."
 *                      [--pool N] [--max-body BYTES] [--timeout SECONDS]
 *                      [--quiet]
 *
 * SIGTERM or SIGINT: stop accepting connections, let the requests in
 * flight finish (at most --timeout seconds), close, exit 0.
 *
 * The loop: one epoll set holds libmicrohttpd's own epoll descriptor, a
 * signalfd and every database socket.  Each turn waits for the earliest
 * of their events and the daemon's and pool's timeouts, lets the ready
 * database connections read their replies (which resumes the HTTP
 * connections waiting on them), enforces the pool's deadlines, then runs
 * the daemon: it accepts, reads requests (whose handler hands jobs to the
 * pool, sent at once), and writes the replies of resumed connections.
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
#include <sys/epoll.h>
#include <sys/signalfd.h>
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
	.pipeline_window_ms = 2,
};
volatile int gw_shutting_down = 0;
int			gw_epoll_fd = -1;

double
gw_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* The daemon's and the signals' descriptors: the loop tells them apart. */
static GwWatch mhd_watch;
static GwWatch signal_watch;
static int	signal_fd = -1;

/* The stop signal read from the signalfd, or 0 (none, or SIGHUP: ignored). */
static int
read_signal(void)
{
	struct signalfd_siginfo si;

	while (read(signal_fd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo != SIGHUP)
			return (int) si.ssi_signo;
	return 0;
}

static bool
watch_fd(int fd, GwWatch *w)
{
	struct epoll_event ev;

	ev.events = EPOLLIN;
	ev.data.ptr = w;
	return epoll_ctl(gw_epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

/* ms until the daemon or the pool need a turn, -1 for never, at most cap */
static int
loop_timeout(struct MHD_Daemon *d, int cap)
{
	MHD_UNSIGNED_LONG_LONG mt;
	int			t = -1;
	int			pt = gw_pool_timeout_ms();

	if (MHD_get_timeout(d, &mt) == MHD_YES)
		t = mt > INT_MAX ? INT_MAX : (int) mt;
	if (pt >= 0 && (t < 0 || pt < t))
		t = pt;
	if (cap >= 0 && (t < 0 || cap < t))
		t = cap;
	return t;
}

/*
 * One turn of the loop: wait at most cap ms (-1: as long as the daemon and
 * the pool allow), let the ready database connections read, enforce the
 * pool's deadlines, run the daemon.  Returns a stop signal that arrived
 * (SIGTERM when the loop itself failed), or 0.
 */
static int
turn(struct MHD_Daemon *d, int cap)
{
	struct epoll_event evs[64];
	int			n = epoll_wait(gw_epoll_fd, evs, 64, loop_timeout(d, cap));
	int			sig = 0;

	if (n < 0 && errno != EINTR)
	{
		fprintf(stderr, "pushsource_gateway: epoll_wait: %s\n", strerror(errno));
		return SIGTERM;
	}
	for (int i = 0; i < n; i++)
	{
		GwWatch    *w = evs[i].data.ptr;

		if (w == &signal_watch)
		{
			int			s = read_signal();

			if (s != 0)
				sig = s;
		}
		else if (w != &mhd_watch)
			w->ready(w, evs[i].events);
	}
	gw_pool_tick();
	MHD_run(d);
	return sig;
}

/*
 * After a stop signal: the requests in flight finish, within --timeout;
 * a second signal changes nothing.
 */
static void
drain(struct MHD_Daemon *d)
{
	double		deadline = gw_now() + gw_opts.timeout;

	while (gw_http_in_flight() > 0 && gw_now() < deadline)
		(void) turn(d, 100);
	/* still running: they fail, and their replies go out if they can */
	gw_pool_abort("the gateway is shutting down; retry later");
	for (int i = 0; i < 3; i++)
		MHD_run(d);
}

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
			"  --pipeline-window MS when every connection is busy, send a request\n"
			"                       behind one whose current request started at\n"
			"                       most MS ago (default 2; 0: never, requests\n"
			"                       wait for a free connection)\n"
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
		{"pipeline-window", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	sigset_t	sigs;
	int			sig;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	MHD_socket	listen_fd;

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
			case 'w':
				gw_opts.pipeline_window_ms = (int) number("--pipeline-window", optarg, 0, 86400000);
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

	/* A --db libpq cannot parse is a mistake to say now, not a 503 later. */
	{
		char	   *err = NULL;
		PQconninfoOption *parsed = PQconninfoParse(gw_opts.db, &err);

		if (parsed == NULL)
		{
			/* libpq quotes a bad URI whole: it may hold a password */
			char	   *at = err ? strstr(err, gw_opts.db) : NULL;

			if (at != NULL && *gw_opts.db != '\0')
				fprintf(stderr, "pushsource_gateway: invalid --db: %.*s(the --db value)%s",
						(int) (at - err), err, at + strlen(gw_opts.db));
			else
				fprintf(stderr, "pushsource_gateway: invalid --db: %s", err ? err : "out of memory\n");
			PQfreemem(err);
			return 2;
		}
		PQconninfoFree(parsed);
	}

	/* Signals come to the loop through a signalfd. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	gw_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (signal_fd < 0 || gw_epoll_fd < 0 || !watch_fd(signal_fd, &signal_watch))
	{
		fprintf(stderr, "pushsource_gateway: cannot set up the event loop: %s\n", strerror(errno));
		return 1;
	}

	gw_metrics_init();
	gw_pool_init(gw_opts.pool);
	d = gw_http_start();
	if (d == NULL)
	{
		fprintf(stderr, "pushsource_gateway: cannot listen on %s:%d\n",
				gw_opts.listen_host, gw_opts.listen_port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || !watch_fd(info->epoll_fd, &mhd_watch))
	{
		fprintf(stderr, "pushsource_gateway: cannot watch the HTTP daemon: %s\n", strerror(errno));
		return 1;
	}
	fprintf(stderr, "pushsource_gateway: listening on %s:%d, pool %d, max body %zu bytes, timeout %d s\n",
			gw_opts.listen_host, gw_opts.listen_port, gw_opts.pool, gw_opts.max_body,
			gw_opts.timeout);
	if (!gw_db_reachable())
		fprintf(stderr, "pushsource_gateway: the database is not reachable yet; /health says 503 until it is\n");

	while ((sig = turn(d, -1)) == 0)
		;

	fprintf(stderr, "pushsource_gateway: %s: finishing %d request(s) in flight\n",
			sig == SIGINT ? "SIGINT" : "SIGTERM", gw_http_in_flight());
	gw_shutting_down = 1;
	/* no new connections: the listening socket closes now */
	listen_fd = MHD_quiesce_daemon(d);
	if (listen_fd != MHD_INVALID_SOCKET)
		close(listen_fd);
	drain(d);
	MHD_stop_daemon(d);
	gw_pool_close();
	fprintf(stderr, "pushsource_gateway: stopped\n");
	return 0;
}

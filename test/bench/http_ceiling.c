/*
 * http_ceiling.c
 *		The benchmark's HTTP ceiling: libmicrohttpd, configured as the
 *		gateway configures it (external epoll loop, one thread, turbo), reads
 *		each POST body and answers a fixed JSON reply without any database.
 *		What wrk measures against it is what HTTP alone costs on this
 *		machine, so no gateway can pass it.
 *
 *   http_ceiling PORT
 *
 * Built and run by test/bench/gateway.sh only; not installed.
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

static const char reply[] = "{\"result\": {\"features\": [\"1\", 1.5]}}";
static struct MHD_Response *response;

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *data, size_t *size, void **state)
{
	(void) cls;
	(void) url;
	(void) method;
	(void) version;
	(void) data;
	if (*state == NULL)
	{
		*state = conn;			/* the headers: wait for the body */
		return MHD_YES;
	}
	if (*size > 0)
	{
		*size = 0;				/* a body chunk: consumed */
		return MHD_YES;
	}
	return MHD_queue_response(conn, MHD_HTTP_OK, response);
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	int			ep;

	if (argc != 2)
	{
		fprintf(stderr, "usage: http_ceiling PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	response = MHD_create_response_from_buffer(strlen(reply), (void *) reply,
											   MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(response, "Content-Type", "application/json");
	d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO, (uint16_t) atoi(argv[1]),
						 NULL, NULL, answer, NULL, MHD_OPTION_END);
	if (d == NULL)
	{
		fprintf(stderr, "http_ceiling: cannot listen on port %s\n", argv[1]);
		return 1;
	}
	/* as the gateway does: MHD's epoll set inside the loop's own */
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
	ep = epoll_create1(EPOLL_CLOEXEC);
	{
		struct epoll_event ev = {.events = EPOLLIN};

		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, info->epoll_fd, &ev) != 0)
		{
			perror("http_ceiling: epoll");
			return 1;
		}
	}
	for (;;)
	{
		struct epoll_event ev;

		(void) epoll_wait(ep, &ev, 1, -1);
		MHD_run(d);
	}
}

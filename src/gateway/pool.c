/*
 * pool.c
 *		A fixed pool of persistent, non-blocking libpq connections and the
 *		queue of jobs waiting for one.
 *
 * Each connection prepares one statement, the whole of a request:
 *
 *   SELECT status, body, records, pushed
 *     FROM pushsource.fs_gateway_request($1, $2, $3)
 *
 * so a request is one round trip in one implicit transaction (the function
 * acts as the key's role for its duration; an error rolls everything
 * back).  Only when it fails does a second statement,
 * pushsource.fs_gateway_error(...), turn the SQLSTATE and message into the
 * endpoint's status and error body.
 *
 * Everything here runs on the event loop's thread and never blocks:
 * connecting (PQconnectStartParams/PQconnectPoll), sending (non-blocking
 * mode, PQflush until done) and reading (PQconsumeInput when the socket is
 * readable).  Each connection's socket is in the loop's epoll set for its
 * whole life, so an idle connection the server closed (a restart: it sends
 * FATAL, then EOF) is noticed and dropped when it happens, and no request
 * is sent to it.  One that dies during a request fails that request with
 * 503: a push may or may not have committed, so only requests marked
 * retry_safe (reads) are tried once more.  When a connection attempt fails
 * and no other connection is alive, the database is down: every queued job
 * fails at once with 503 rather than waiting out its deadline.
 *
 * Deadlines, checked by gw_pool_tick(): a queued job waits at most
 * --timeout for a connection; a connection attempt (libpq does not apply
 * connect_timeout to non-blocking connects) at most --timeout; a statement
 * at most --timeout plus a grace second after the server's own
 * statement_timeout should have ended it (a server that stopped answering).
 */
#include "gateway.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

typedef enum ConnState
{
	CS_DOWN,					/* no connection */
	CS_CONNECTING,				/* PQconnectPoll in progress */
	CS_PREPARING,				/* the request statement being prepared */
	CS_IDLE,
	CS_BUSY,					/* a job's statement sent */
	CS_DESCRIBING				/* its error being turned into a reply */
} ConnState;

typedef struct GwConn
{
	GwWatch		watch;			/* first: the loop hands us back */
	PGconn	   *conn;
	ConnState	state;
	int			fd;				/* registered in the epoll set, or -1 */
	uint32_t	events;			/* registered events */
	GwJob	   *job;			/* CS_BUSY, CS_DESCRIBING */
	PGresult   *result;			/* the statement's first result */
	PGresult   *failed;			/* CS_DESCRIBING: the error described */
	double		deadline;		/* CS_CONNECTING .. CS_DESCRIBING */
} GwConn;

static GwConn *pool;
static int	pool_size;
static GwJob *queue_head;
static GwJob *queue_tail;
static double next_scan;		/* gw_now() of the next deadline scan */

#define SCAN_INTERVAL 0.1		/* seconds between deadline scans */
#define STATEMENT_GRACE 1.0		/* past statement_timeout, seconds */

#define REQUEST_SQL \
	"SELECT status, body, records, pushed" \
	" FROM pushsource.fs_gateway_request($1, $2, $3)"
#define ERROR_SQL \
	"SELECT status, body FROM pushsource.fs_gateway_error($1, $2, $3, $4, $5)"

/* Failures the database cannot describe (it is not there): http.c shapes them. */
#define BODY_DB_DOWN "the database is unreachable or restarting; retry later"
#define BODY_POOL_TIMEOUT "no database connection became free in time; retry later"
#define BODY_NO_REPLY "the database did not answer in time; retry later"
#define BODY_INTERNAL "the database reply was not understood; see the gateway's log"

static void conn_ready(GwWatch *w, uint32_t events);
static void dispatch(void);
static void conn_params(void);

void
gw_pool_init(int size)
{
	pool = calloc(size, sizeof(GwConn));
	pool_size = size;
	if (pool == NULL)
	{
		fprintf(stderr, "pushsource_gateway: out of memory\n");
		exit(1);
	}
	for (int i = 0; i < size; i++)
	{
		pool[i].watch.ready = conn_ready;
		pool[i].fd = -1;
	}
	conn_params();
}

int
gw_pool_in_use(void)
{
	int			n = 0;

	for (int i = 0; i < pool_size; i++)
		n += pool[i].state == CS_BUSY || pool[i].state == CS_DESCRIBING;
	return n;
}

static char *
dup_or_die(const char *s)
{
	char	   *d = strdup(s);

	if (d == NULL)
	{
		fprintf(stderr, "pushsource_gateway: out of memory\n");
		abort();
	}
	return d;
}

static void
set_fixed(GwResult *res, int status, const char *message)
{
	res->status = status;
	res->body = NULL;
	res->own_message = message;
	res->records = 0;
	res->pushed = NULL;
}

/* ---- the epoll registration of a connection's socket ---- */

static void
unwatch(GwConn *c)
{
	if (c->fd >= 0)
		(void) epoll_ctl(gw_epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	c->fd = -1;
	c->events = 0;
}

/*
 * Watch fd for events.  libpq may have closed the socket we registered and
 * opened another (the next address of a host) under the same number; the
 * close took it out of the set, so a failed MOD is retried as ADD.
 */
static bool
watch(GwConn *c, int fd, uint32_t events)
{
	struct epoll_event ev;

	if (fd == c->fd && events == c->events)
		return true;
	ev.events = events;
	ev.data.ptr = &c->watch;
	if (fd != c->fd)
		unwatch(c);
	if (c->fd == fd)
	{
		if (epoll_ctl(gw_epoll_fd, EPOLL_CTL_MOD, fd, &ev) == 0 ||
			(errno == ENOENT && epoll_ctl(gw_epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0))
		{
			c->events = events;
			return true;
		}
	}
	else if (epoll_ctl(gw_epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0 ||
			 (errno == EEXIST && epoll_ctl(gw_epoll_fd, EPOLL_CTL_MOD, fd, &ev) == 0))
	{
		c->fd = fd;
		c->events = events;
		return true;
	}
	fprintf(stderr, "pushsource_gateway: epoll_ctl: %s\n", strerror(errno));
	return false;
}

/* ---- the queue ---- */

static void
enqueue(GwJob *job, bool front)
{
	job->next = NULL;
	if (queue_head == NULL)
		queue_head = queue_tail = job;
	else if (front)
	{
		job->next = queue_head;
		queue_head = job;
	}
	else
	{
		queue_tail->next = job;
		queue_tail = job;
	}
}

static GwJob *
dequeue(void)
{
	GwJob	   *job = queue_head;

	if (job != NULL)
	{
		queue_head = job->next;
		if (queue_head == NULL)
			queue_tail = NULL;
		job->next = NULL;
	}
	return job;
}

static void
fail_job(GwJob *job, int status, const char *message)
{
	set_fixed(&job->res, status, message);
	job->done(job);
}

/* ---- connections ---- */

static void
drop_conn(GwConn *c)
{
	unwatch(c);					/* before PQfinish closes the socket */
	if (c->conn != NULL)
		PQfinish(c->conn);
	c->conn = NULL;
	PQclear(c->result);
	c->result = NULL;
	PQclear(c->failed);
	c->failed = NULL;
	c->state = CS_DOWN;
	c->job = NULL;
}

static bool
any_alive(void)
{
	for (int i = 0; i < pool_size; i++)
		if (pool[i].state != CS_DOWN)
			return true;
	return false;
}

/*
 * A connection attempt failed.  With no other connection alive or coming,
 * the database is down: the queue's jobs fail now instead of waiting.
 */
static void
connect_failed(GwConn *c)
{
	drop_conn(c);
	if (!any_alive())
	{
		GwJob	   *job;

		while ((job = dequeue()) != NULL)
			fail_job(job, 503, BODY_DB_DOWN);
	}
}

/*
 * A connection was lost (or stopped answering): its job, if any, is tried
 * once more when it is a read, and fails with 503 otherwise.
 */
static void
conn_lost(GwConn *c, const char *message)
{
	GwJob	   *job = c->job;

	drop_conn(c);
	if (job == NULL)
		return;
	if (job->retry_safe && job->attempts < 2)
	{
		enqueue(job, true);
		dispatch();
	}
	else
		fail_job(job, 503, message);
}

static void
notice_quiet(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/*
 * The connection keywords: ours first, then --db expanded (later keywords
 * override, so what --db says wins).
 */
static const char *const conn_keys[] = {"application_name", "options", "connect_timeout", "dbname", NULL};
static char conn_options[128];
static char conn_timeout[16];
static const char *conn_values[5];

static void
conn_params(void)
{
	snprintf(conn_options, sizeof(conn_options), "-c statement_timeout=%d", gw_opts.timeout * 1000);
	snprintf(conn_timeout, sizeof(conn_timeout), "%d", gw_opts.timeout);
	conn_values[0] = "pushsource_gateway";
	conn_values[1] = conn_options;
	conn_values[2] = conn_timeout;
	conn_values[3] = gw_opts.db;
	conn_values[4] = NULL;
}

/* At startup, before the loop: does the server answer?  (Blocking.) */
bool
gw_db_reachable(void)
{
	return PQpingParams(conn_keys, conn_values, 1) == PQPING_OK;
}

/* Start connecting c; false if libpq gave up at once. */
static bool
conn_start(GwConn *c)
{
	drop_conn(c);
	c->conn = PQconnectStartParams(conn_keys, conn_values, 1);
	if (c->conn == NULL || PQstatus(c->conn) == CONNECTION_BAD)
	{
		fprintf(stderr, "pushsource_gateway: cannot connect to the database: %s",
				c->conn ? PQerrorMessage(c->conn) : "out of memory\n");
		connect_failed(c);
		return false;
	}
	c->state = CS_CONNECTING;
	c->deadline = gw_now() + gw_opts.timeout;
	/* as if PQconnectPoll had said PGRES_POLLING_WRITING */
	if (!watch(c, PQsocket(c->conn), EPOLLOUT))
	{
		connect_failed(c);
		return false;
	}
	return true;
}

/* Send what libpq holds; watch for writability while some is left. */
static bool
flush(GwConn *c)
{
	int			r = PQflush(c->conn);

	if (r < 0)
		return false;
	return watch(c, PQsocket(c->conn), r > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* The connection is up: prepare the request statement. */
static void
conn_established(GwConn *c)
{
	PQsetNoticeProcessor(c->conn, notice_quiet, NULL);
	if (PQsetnonblocking(c->conn, 1) != 0 ||
		!PQsendPrepare(c->conn, "request", REQUEST_SQL, 3, NULL) ||
		!flush(c))
	{
		fprintf(stderr, "pushsource_gateway: cannot prepare the request statement: %s",
				PQerrorMessage(c->conn));
		connect_failed(c);
		return;
	}
	c->state = CS_PREPARING;
}

static void
connect_step(GwConn *c)
{
	switch (PQconnectPoll(c->conn))
	{
		case PGRES_POLLING_READING:
			if (!watch(c, PQsocket(c->conn), EPOLLIN))
				connect_failed(c);
			break;
		case PGRES_POLLING_WRITING:
			if (!watch(c, PQsocket(c->conn), EPOLLOUT))
				connect_failed(c);
			break;
		case PGRES_POLLING_OK:
			conn_established(c);
			break;
		default:
			fprintf(stderr, "pushsource_gateway: cannot connect to the database: %s",
					PQerrorMessage(c->conn));
			connect_failed(c);
			break;
	}
}

/* Send job's statement on the idle connection c. */
static void
start_job(GwConn *c, GwJob *job)
{
	bool		sent;

	c->job = job;
	c->state = CS_BUSY;
	c->deadline = gw_now() + gw_opts.timeout + STATEMENT_GRACE;
	job->attempts++;
	if (job->endpoint == NULL)
		sent = PQsendQuery(c->conn, "SELECT 1");
	else
	{
		const char *params[3] = {job->endpoint, job->body, job->key};

		sent = PQsendQueryPrepared(c->conn, "request", 3, params, NULL, NULL, 0);
	}
	if (!sent || !flush(c))
		conn_lost(c, BODY_DB_DOWN);
}

/* The job's statement failed: ask the database for the endpoint's reply. */
static void
describe_error(GwConn *c, PGresult *failed)
{
	const char *params[5];

	params[0] = c->job->endpoint;
	params[1] = PQresultErrorField(failed, PG_DIAG_SQLSTATE);
	params[2] = PQresultErrorField(failed, PG_DIAG_MESSAGE_PRIMARY);
	params[3] = PQresultErrorField(failed, PG_DIAG_MESSAGE_DETAIL);
	params[4] = PQresultErrorField(failed, PG_DIAG_MESSAGE_HINT);
	if (params[1] == NULL)
		params[1] = "XX000";
	if (params[2] == NULL)
		params[2] = "unknown error";
	c->failed = failed;
	c->state = CS_DESCRIBING;
	if (!PQsendQueryParams(c->conn, ERROR_SQL, 5, NULL, params, NULL, NULL, 0) ||
		!flush(c))
		conn_lost(c, BODY_DB_DOWN);
}

/* The job is answered: hand it back, and the connection to the queue. */
static void
finish_job(GwConn *c)
{
	GwJob	   *job = c->job;

	c->job = NULL;
	c->state = CS_IDLE;
	job->done(job);
	dispatch();
}

/* All results of the statement in flight are in: act on the first. */
static void
statement_done(GwConn *c)
{
	PGresult   *r = c->result;
	ExecStatusType st = PQresultStatus(r);
	GwResult   *res = c->job ? &c->job->res : NULL;

	c->result = NULL;
	switch (c->state)
	{
		case CS_PREPARING:
			if (st != PGRES_COMMAND_OK)
			{
				fprintf(stderr, "pushsource_gateway: cannot prepare the request statement: %s",
						PQresultErrorMessage(r));
				PQclear(r);
				connect_failed(c);
				return;
			}
			c->state = CS_IDLE;
			dispatch();
			break;
		case CS_BUSY:
			if (c->job->endpoint == NULL)
				set_fixed(res, st == PGRES_TUPLES_OK ? 200 : 503, BODY_DB_DOWN);
			else if (st == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 4)
			{
				res->status = atoi(PQgetvalue(r, 0, 0));
				res->body = dup_or_die(PQgetvalue(r, 0, 1));
				res->records = PQgetisnull(r, 0, 2) ? 0 : atoll(PQgetvalue(r, 0, 2));
				res->pushed = PQgetisnull(r, 0, 3) ? NULL : dup_or_die(PQgetvalue(r, 0, 3));
				res->own_message = NULL;
			}
			else if (st == PGRES_FATAL_ERROR)
			{
				describe_error(c, r);	/* keeps r */
				return;
			}
			else
			{
				fprintf(stderr, "pushsource_gateway: unexpected reply to a request: %s\n",
						PQresStatus(st));
				set_fixed(res, 500, BODY_INTERNAL);
			}
			finish_job(c);
			break;
		case CS_DESCRIBING:
			if (st == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 2)
			{
				res->status = atoi(PQgetvalue(r, 0, 0));
				res->body = dup_or_die(PQgetvalue(r, 0, 1));
				res->records = 0;
				res->pushed = NULL;
				res->own_message = NULL;
			}
			else
			{
				fprintf(stderr, "pushsource_gateway: could not describe error %s (%s): %s",
						PQresultErrorField(c->failed, PG_DIAG_SQLSTATE),
						PQresultErrorField(c->failed, PG_DIAG_MESSAGE_PRIMARY),
						PQresultErrorMessage(r));
				set_fixed(res, 500, BODY_INTERNAL);
			}
			PQclear(c->failed);
			c->failed = NULL;
			finish_job(c);
			break;
		default:
			break;
	}
	PQclear(r);
}

/* The connection's socket is ready. */
static void
conn_ready(GwWatch *w, uint32_t events)
{
	GwConn	   *c = (GwConn *) w;

	if (c->state == CS_CONNECTING)
	{
		connect_step(c);
		return;
	}
	if (c->state == CS_DOWN)
		return;
	if ((events & EPOLLOUT) && !flush(c))
	{
		conn_lost(c, BODY_DB_DOWN);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	if (!PQconsumeInput(c->conn) || PQstatus(c->conn) != CONNECTION_OK)
	{
		/* an idle one the server closed (a restart), or one lost mid-statement */
		if (c->state == CS_PREPARING)
			connect_failed(c);
		else
			conn_lost(c, BODY_DB_DOWN);
		return;
	}
	for (PGnotify *n; (n = PQnotifies(c->conn)) != NULL;)
		PQfreemem(n);
	if (c->state == CS_IDLE)
		return;					/* a NOTICE or a parameter change: harmless */
	while (!PQisBusy(c->conn))
	{
		PGresult   *r = PQgetResult(c->conn);

		if (r == NULL)
		{
			if (c->result == NULL)
				c->result = PQmakeEmptyPGresult(c->conn, PGRES_FATAL_ERROR);
			statement_done(c);
			return;
		}
		if (c->result == NULL)
			c->result = r;
		else
			PQclear(r);
	}
}

/*
 * Give queued jobs to idle connections, and open connections (at most one
 * per job waiting) while jobs wait and connections are down.
 */
static void
dispatch(void)
{
	while (queue_head != NULL)
	{
		GwConn	   *idle = NULL;
		GwConn	   *down = NULL;
		int			coming = 0;
		int			waiting = 0;

		for (int i = 0; i < pool_size; i++)
		{
			if (pool[i].state == CS_IDLE && idle == NULL)
				idle = &pool[i];
			else if (pool[i].state == CS_DOWN && down == NULL)
				down = &pool[i];
			else if (pool[i].state == CS_CONNECTING || pool[i].state == CS_PREPARING)
				coming++;
		}
		if (idle != NULL)
		{
			start_job(idle, dequeue());
			continue;
		}
		for (GwJob *j = queue_head; j != NULL && waiting <= coming; j = j->next)
			waiting++;
		if (down == NULL || coming >= waiting || !conn_start(down))
			break;
	}
}

void
gw_pool_submit(GwJob *job)
{
	job->attempts = 0;
	job->deadline = gw_now() + gw_opts.timeout;
	memset(&job->res, 0, sizeof(job->res));
	enqueue(job, false);
	dispatch();
}

/* Enforce the deadlines (at most every SCAN_INTERVAL). */
void
gw_pool_tick(void)
{
	double		now = gw_now();

	if (now < next_scan)
		return;
	next_scan = now + SCAN_INTERVAL;
	for (int i = 0; i < pool_size; i++)
	{
		GwConn	   *c = &pool[i];

		if (c->state == CS_IDLE || c->state == CS_DOWN || now < c->deadline)
			continue;
		if (c->state == CS_CONNECTING || c->state == CS_PREPARING)
		{
			fprintf(stderr, "pushsource_gateway: cannot connect to the database: no answer in %d s\n",
					gw_opts.timeout);
			connect_failed(c);
		}
		else
		{
			fprintf(stderr, "pushsource_gateway: the database did not answer a statement in %d s; dropping the connection\n",
					gw_opts.timeout);
			conn_lost(c, BODY_NO_REPLY);
		}
	}
	/* a retried job sits at the front with its own deadline: scan them all */
	for (GwJob **p = &queue_head; *p != NULL;)
	{
		GwJob	   *j = *p;

		if (j->deadline <= now)
		{
			*p = j->next;
			j->next = NULL;
			fail_job(j, 503, BODY_POOL_TIMEOUT);
		}
		else
			p = &j->next;
	}
	queue_tail = NULL;
	for (GwJob *j = queue_head; j != NULL; j = j->next)
		queue_tail = j;
}

/* How long the loop may sleep before gw_pool_tick() has work: ms, or -1. */
int
gw_pool_timeout_ms(void)
{
	bool		pending = queue_head != NULL;
	double		ms;

	for (int i = 0; i < pool_size && !pending; i++)
		pending = pool[i].state != CS_IDLE && pool[i].state != CS_DOWN;
	if (!pending)
		return -1;
	ms = (next_scan - gw_now()) * 1000;
	return ms <= 0 ? 0 : (int) ms + 1;
}

/* Shutdown past its deadline: every job still waiting or running fails. */
void
gw_pool_abort(const char *message)
{
	GwJob	   *job;

	while ((job = dequeue()) != NULL)
		fail_job(job, 503, message);
	for (int i = 0; i < pool_size; i++)
	{
		job = pool[i].job;
		drop_conn(&pool[i]);
		if (job != NULL)
			fail_job(job, 503, message);
	}
}

void
gw_pool_close(void)
{
	for (int i = 0; i < pool_size; i++)
		drop_conn(&pool[i]);
}

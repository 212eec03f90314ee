/*
 * pool.c
 *		A fixed pool of persistent, non-blocking libpq connections in
 *		pipeline mode, and the queue of jobs waiting for one.
 *
 * Each connection prepares one statement, the whole of a request:
 *
 *   SELECT status, body, records, pushed
 *     FROM pushsource.fs_gateway_request($1, $2, $3)
 *
 * and then enters libpq's pipeline mode.  A job is that statement followed
 * by its own Sync, so each request is one implicit transaction (the
 * function acts as the key's role for its duration; an error rolls it
 * back, and a failed request does not abort the ones behind it).  A job is
 * answered only at its Sync, that is after its commit: a commit that fails
 * reports an error after the statement's rows, and the error wins.  Only
 * when a request fails does a second statement,
 * pushsource.fs_gateway_error(...), turn the SQLSTATE and message into the
 * endpoint's status and error body; it joins the end of the same pipeline.
 *
 * Why a pipeline: under load, the requests that arrive in one turn of the
 * event loop go to the database together, and the server reads them in one
 * go instead of being woken once per request (the wake-ups between
 * processes are what a request costs here; see README, Performance).  An
 * idle connection is always preferred, so a pipeline only forms when every
 * connection is busy; it is joined only while its head job is moving
 * (started within --pipeline-window: not one waiting for a lock), never
 * while a connection is being opened, and never past PIPELINE_DEPTH jobs.
 * A failed request's error is described on the first connection free,
 * not at the end of its pipeline.
 *
 * Everything here runs on the event loop's thread and never blocks:
 * connecting (PQconnectStartParams/PQconnectPoll), sending (non-blocking
 * mode, PQflush until done) and reading (PQconsumeInput when the socket is
 * readable).  Each connection's socket is in the loop's epoll set for its
 * whole life, so an idle connection the server closed (a restart: it sends
 * FATAL, then EOF) is noticed and dropped when it happens, and no request
 * is sent to it.  When one dies with jobs in its pipeline, a push may or
 * may not have committed, so those fail with 503; only jobs marked
 * retry_safe (reads) are tried once more.  When a connection attempt fails
 * and no other connection is alive, the database is down: every queued job
 * fails at once with 503 rather than waiting out its deadline.
 *
 * Deadlines, checked by gw_pool_tick(): a queued job waits at most
 * --timeout for a connection; a connection attempt (libpq does not apply
 * connect_timeout to non-blocking connects) at most --timeout; a busy
 * connection must finish a job at least every --timeout plus a grace
 * second after the server's own statement_timeout should have ended the
 * statement (a server that stopped answering); a job sent behind others
 * is answered 503 once --timeout plus the grace second has passed since
 * it was sent (a stand-in keeps its place and swallows its reply, which
 * libpq cannot take back).
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
	CS_READY					/* in pipeline mode: jobs may be sent */
} ConnState;

typedef struct GwConn
{
	GwWatch		watch;			/* first: the loop hands us back */
	PGconn	   *conn;
	ConnState	state;
	int			fd;				/* registered in the epoll set, or -1 */
	uint32_t	events;			/* registered events */
	GwJob	   *head;			/* the pipeline: jobs sent, oldest first */
	GwJob	   *tail;
	int			depth;			/* jobs in the pipeline */
	PGresult   *result;			/* the head job's result so far */
	double		deadline;		/* CS_CONNECTING, CS_PREPARING, or jobs sent */
	double		progress;		/* gw_now() the head job started (was sent to
								 * an empty pipeline, or the one before it
								 * synced) */
	bool		recheck;		/* libpq may hold results no event will announce */
} GwConn;

static GwConn *pool;
static int	pool_size;
static GwJob *queue_head;
static GwJob *queue_tail;
static double next_scan;		/* gw_now() of the next deadline scan */

#define SCAN_INTERVAL 0.1		/* seconds between deadline scans */
#define PIPELINE_DEPTH 16		/* jobs sent on one connection at most */
#define STATEMENT_GRACE 1.0		/* past statement_timeout, seconds */

#define REQUEST_SQL \
	"SELECT status, body, records, pushed" \
	" FROM pushsource.fs_gateway_request($1, $2, $3)"
#define ERROR_SQL \
	"SELECT status, body FROM pushsource.fs_gateway_error($1, $2, $3, $4, $5)"
/* GET /metrics: the database's counters (pushsource.stat_sources, ...) */
#define METRICS_SQL "SELECT pushsource.fs_gateway_metrics()"

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

/* For /metrics: connections with jobs sent, jobs sent, jobs queued. */
void
gw_pool_stats(int *in_use, int *sent, int *queued)
{
	*in_use = *sent = *queued = 0;
	for (int i = 0; i < pool_size; i++)
	{
		*in_use += pool[i].depth > 0;
		*sent += pool[i].depth;
	}
	for (GwJob *j = queue_head; j != NULL; j = j->next)
		(*queued)++;
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
	PQclear(job->failed);
	job->failed = NULL;
	if (job->abandoned)
	{
		free(job);				/* a stand-in: its request was answered */
		return;
	}
	set_fixed(&job->res, status, message);
	job->done(job);
}

/* A job's place in a pipeline, for a job answered before its turn came. */
static GwJob *
stand_in(GwJob *job)
{
	GwJob	   *s = calloc(1, sizeof(GwJob));

	if (s == NULL)
	{
		fprintf(stderr, "pushsource_gateway: out of memory\n");
		abort();
	}
	s->next = job->next;
	s->abandoned = true;
	s->failed = job->failed;	/* its description, if that is what was sent */
	job->failed = NULL;
	job->next = NULL;
	return s;
}

/* ---- connections ---- */

/* Close c; its pipeline's jobs are the caller's (returned, oldest first). */
static GwJob *
drop_conn(GwConn *c)
{
	GwJob	   *jobs = c->head;

	unwatch(c);					/* before PQfinish closes the socket */
	if (c->conn != NULL)
		PQfinish(c->conn);
	c->conn = NULL;
	PQclear(c->result);
	c->result = NULL;
	c->state = CS_DOWN;
	c->head = c->tail = NULL;
	c->depth = 0;
	return jobs;
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
	(void) drop_conn(c);		/* not ready: no jobs were sent */
	if (!any_alive())
	{
		GwJob	   *job;

		while ((job = dequeue()) != NULL)
			fail_job(job, 503, BODY_DB_DOWN);
	}
}

/*
 * A connection was lost (or stopped answering): the jobs in its pipeline
 * are tried once more, ahead of the queue and in their order, when they
 * are reads or their request already failed (only its error was being
 * described: nothing was written), and fail with 503 otherwise.
 */
static void
conn_lost(GwConn *c, const char *message)
{
	GwJob	   *job = drop_conn(c);
	GwJob	   *retry_head = NULL;
	GwJob	   *retry_last = NULL;
	double		now = gw_now();

	while (job != NULL)
	{
		GwJob	   *next = job->next;

		job->next = NULL;
		if (!job->abandoned && job->attempts < 3 &&
			(job->failed != NULL || (job->retry_safe && job->attempts < 2)))
		{
			job->deadline = now + gw_opts.timeout;
			if (retry_last == NULL)
				retry_head = job;
			else
				retry_last->next = job;
			retry_last = job;
		}
		else
			fail_job(job, 503, message);
		job = next;
	}
	if (retry_head != NULL)
	{
		retry_last->next = queue_head;
		if (queue_head == NULL)
			queue_tail = retry_last;
		queue_head = retry_head;
		dispatch();
	}
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

/* Append job to c's pipeline: its statement, then its own Sync. */
static void
send_job(GwConn *c, GwJob *job)
{
	bool		sent;

	double		now = gw_now();

	job->next = NULL;
	job->deadline = now + gw_opts.timeout + STATEMENT_GRACE;
	if (job->failed == NULL)
		job->attempts++;
	if (c->head == NULL)
	{
		c->head = job;
		c->deadline = job->deadline;
		c->progress = now;
	}
	else
		c->tail->next = job;
	c->tail = job;
	c->depth++;
	if (job->failed != NULL)
	{
		/* its request failed: ask the database for the endpoint's reply */
		const char *params[5];

		params[0] = job->endpoint;
		params[1] = PQresultErrorField(job->failed, PG_DIAG_SQLSTATE);
		params[2] = PQresultErrorField(job->failed, PG_DIAG_MESSAGE_PRIMARY);
		params[3] = PQresultErrorField(job->failed, PG_DIAG_MESSAGE_DETAIL);
		params[4] = PQresultErrorField(job->failed, PG_DIAG_MESSAGE_HINT);
		if (params[1] == NULL)
			params[1] = "XX000";
		if (params[2] == NULL)
			params[2] = "unknown error";
		sent = PQsendQueryParams(c->conn, ERROR_SQL, 5, NULL, params, NULL, NULL, 0);
	}
	else if (job->endpoint == NULL)
		sent = PQsendQueryParams(c->conn, "SELECT 1", 0, NULL, NULL, NULL, NULL, 0);
	else if (strcmp(job->endpoint, GW_METRICS_JOB) == 0)
		sent = PQsendQueryParams(c->conn, METRICS_SQL, 0, NULL, NULL, NULL, NULL, 0);
	else
	{
		const char *params[3] = {job->endpoint, job->body, job->key};

		sent = PQsendQueryPrepared(c->conn, "request", 3, params, NULL, NULL, 0);
	}
	if (!sent || !PQpipelineSync(c->conn) || !flush(c))
		conn_lost(c, BODY_DB_DOWN);
	else if (!PQisBusy(c->conn))
		c->recheck = true;		/* sending read results in: no event will come */
}

/* Fill res from the request statement's row. */
static bool
request_reply(GwResult *res, PGresult *r)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 4)
		return false;
	res->status = atoi(PQgetvalue(r, 0, 0));
	res->body = dup_or_die(PQgetvalue(r, 0, 1));
	res->records = PQgetisnull(r, 0, 2) ? 0 : atoll(PQgetvalue(r, 0, 2));
	res->pushed = PQgetisnull(r, 0, 3) ? NULL : dup_or_die(PQgetvalue(r, 0, 3));
	res->own_message = NULL;
	return true;
}

/* Fill res from the error statement's row. */
static bool
error_reply(GwResult *res, PGresult *r)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 2)
		return false;
	res->status = atoi(PQgetvalue(r, 0, 0));
	res->body = dup_or_die(PQgetvalue(r, 0, 1));
	res->records = 0;
	res->pushed = NULL;
	res->own_message = NULL;
	return true;
}

/*
 * The head job's Sync came back: everything it sent has run and committed
 * (or failed; r is then the error).  Answer it, or send its error to be
 * described.  Takes r.
 */
static void
job_synced(GwConn *c, PGresult *r)
{
	GwJob	   *job = c->head;
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	double		now = gw_now();

	c->head = job->next;
	if (c->head == NULL)
		c->tail = NULL;
	c->depth--;
	c->deadline = now + gw_opts.timeout + STATEMENT_GRACE;
	c->progress = now;
	job->next = NULL;

	if (job->abandoned)
	{
		PQclear(r);
		fail_job(job, 0, NULL);	/* frees the stand-in */
		return;
	}
	if (job->failed != NULL)
	{
		if (!error_reply(&job->res, r))
		{
			fprintf(stderr, "pushsource_gateway: could not describe error %s (%s): %s",
					PQresultErrorField(job->failed, PG_DIAG_SQLSTATE),
					PQresultErrorField(job->failed, PG_DIAG_MESSAGE_PRIMARY),
					r ? PQresultErrorMessage(r) : "no result\n");
			set_fixed(&job->res, 500, BODY_INTERNAL);
		}
		PQclear(job->failed);
		job->failed = NULL;
	}
	else if (job->endpoint == NULL)
		set_fixed(&job->res, st == PGRES_TUPLES_OK ? 200 : 503, BODY_DB_DOWN);
	else if (strcmp(job->endpoint, GW_METRICS_JOB) == 0)
	{
		/* text, not a request's row: an error is only "not available" */
		if (st == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1 && !PQgetisnull(r, 0, 0))
		{
			set_fixed(&job->res, 200, NULL);
			job->res.body = dup_or_die(PQgetvalue(r, 0, 0));
		}
		else
		{
			if (r != NULL && st == PGRES_FATAL_ERROR)
				fprintf(stderr, "pushsource_gateway: metrics: %s", PQresultErrorMessage(r));
			set_fixed(&job->res, 503, BODY_DB_DOWN);
		}
	}
	else if (st == PGRES_FATAL_ERROR && r != NULL)
	{
		/*
		 * Described on the first connection free, ahead of the queue: not
		 * at the end of this pipeline, behind jobs that may take long.
		 */
		job->failed = r;
		job->deadline = now + gw_opts.timeout;
		enqueue(job, true);
		return;
	}
	else if (!request_reply(&job->res, r))
	{
		fprintf(stderr, "pushsource_gateway: unexpected reply to a request: %s\n",
				PQresStatus(st));
		set_fixed(&job->res, 500, BODY_INTERNAL);
	}
	PQclear(r);
	job->done(job);
}

/* The request statement is prepared: enter pipeline mode, take jobs. */
static void
prepared(GwConn *c)
{
	bool		done = false;

	while (!PQisBusy(c->conn))
	{
		PGresult   *r = PQgetResult(c->conn);

		if (r == NULL)
		{
			done = true;
			break;
		}
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
		{
			fprintf(stderr, "pushsource_gateway: cannot prepare the request statement: %s",
					PQresultErrorMessage(r));
			PQclear(r);
			connect_failed(c);
			return;
		}
		PQclear(r);
	}
	if (!done)
		return;					/* not all in yet */
	if (!PQenterPipelineMode(c->conn))
	{
		fprintf(stderr, "pushsource_gateway: cannot enter pipeline mode: %s",
				PQerrorMessage(c->conn));
		connect_failed(c);
		return;
	}
	c->state = CS_READY;
	dispatch();
}

/*
 * Read the pipeline's results.  Each job yields its statement's results,
 * a NULL, then its Sync; an error (the statement's, or the commit's, which
 * comes after the rows) wins over rows.
 */
static void
read_pipeline(GwConn *c)
{
	int			nulls = 0;

	while (c->state == CS_READY && c->head != NULL && !PQisBusy(c->conn))
	{
		PGresult   *r = PQgetResult(c->conn);
		ExecStatusType st;

		if (r == NULL)
		{
			if (++nulls > 1)
				break;			/* nothing more: libpq is between results */
			continue;
		}
		nulls = 0;
		st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC)
		{
			PGresult   *result = c->result;

			PQclear(r);
			c->result = NULL;
			job_synced(c, result);
		}
		else if (c->result == NULL ||
				 (st == PGRES_FATAL_ERROR && PQresultStatus(c->result) != PGRES_FATAL_ERROR))
		{
			PQclear(c->result);
			c->result = r;
		}
		else
			PQclear(r);
	}
	if (c->state == CS_READY && PQstatus(c->conn) != CONNECTION_OK)
		conn_lost(c, BODY_DB_DOWN);
	else if (c->state == CS_READY)
		dispatch();
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
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
		(!PQconsumeInput(c->conn) || PQstatus(c->conn) != CONNECTION_OK))
	{
		/*
		 * An idle one the server closed (a restart), or one lost
		 * mid-statement.  What libpq read before the end is still
		 * answered (a push whose Sync came back did commit).
		 */
		if (c->state == CS_PREPARING)
			connect_failed(c);
		else
		{
			if (c->head != NULL)
				read_pipeline(c);
			if (c->state != CS_DOWN)
				conn_lost(c, BODY_DB_DOWN);
		}
		return;
	}
	for (PGnotify *n; (n = PQnotifies(c->conn)) != NULL;)
		PQfreemem(n);
	if (c->state == CS_PREPARING)
		prepared(c);
	else if (c->head != NULL)
		read_pipeline(c);		/* also after EPOLLOUT: flushing may have read */
	/* else a NOTICE or a parameter change on an idle one: harmless */
}

/*
 * Give queued jobs to connections: an idle one first; else, when every
 * connection is busy, the least loaded one with room whose head job
 * started within --pipeline-window (moving: a job behind a statement that
 * waits for a lock would wait with it).  While jobs wait, open more
 * connections (at most one per job waiting); while any is opening, jobs
 * wait for it rather than join a pipeline.
 */
static void
dispatch(void)
{
	while (queue_head != NULL)
	{
		GwConn	   *best = NULL;
		GwConn	   *down = NULL;
		int			coming = 0;
		int			waiting = 0;

		for (int i = 0; i < pool_size; i++)
		{
			GwConn	   *c = &pool[i];

			if (c->state == CS_READY && c->depth < PIPELINE_DEPTH &&
				(best == NULL || c->depth < best->depth ||
				 (c->depth == best->depth && c->progress > best->progress)))
				best = c;
			else if (c->state == CS_DOWN && down == NULL)
				down = c;
			else if (c->state == CS_CONNECTING || c->state == CS_PREPARING)
				coming++;
		}
		if (best != NULL && best->depth == 0)
		{
			send_job(best, dequeue());
			continue;
		}
		for (GwJob *j = queue_head; j != NULL && waiting <= coming; j = j->next)
			waiting++;
		if (down != NULL && coming < waiting && conn_start(down))
			continue;
		if (best == NULL || coming > 0 ||
			(gw_now() - best->progress) * 1000 >= gw_opts.pipeline_window_ms)
			break;
		send_job(best, dequeue());
	}
}

/*
 * May a job go to the database without waiting behind others: nobody
 * queued, and a connection ready and idle, or none busy (one is then
 * opened for it)?  GET /metrics asks the database only then: it answers
 * at once when every connection waits (that is when its gauges matter).
 */
bool
gw_pool_can_ask(void)
{
	bool		busy = false;

	if (queue_head != NULL)
		return false;
	for (int i = 0; i < pool_size; i++)
	{
		if (pool[i].state == CS_READY && pool[i].depth == 0)
			return true;
		busy = busy || pool[i].depth > 0 ||
			pool[i].state == CS_CONNECTING || pool[i].state == CS_PREPARING;
	}
	return !busy;
}

void
gw_pool_submit(GwJob *job)
{
	job->attempts = 0;
	job->failed = NULL;
	job->abandoned = false;
	job->deadline = gw_now() + gw_opts.timeout;
	job->answer_by = 0;
	if (job->answer_within > 0)
	{
		job->answer_by = gw_now() + job->answer_within;
		if (job->answer_by < job->deadline)
			job->deadline = job->answer_by;
	}
	memset(&job->res, 0, sizeof(job->res));
	enqueue(job, false);
	dispatch();
}

/* Enforce the deadlines (at most every SCAN_INTERVAL). */
void
gw_pool_tick(void)
{
	double		now = gw_now();

	for (int i = 0; i < pool_size; i++)
	{
		GwConn	   *c = &pool[i];

		if (c->recheck)
		{
			c->recheck = false;
			if (c->state == CS_READY && c->head != NULL)
				read_pipeline(c);
		}
	}
	if (now < next_scan)
		return;
	next_scan = now + SCAN_INTERVAL;
	for (int i = 0; i < pool_size; i++)
	{
		GwConn	   *c = &pool[i];

		/*
		 * A job behind the head that is past its deadline (it joined a
		 * pipeline whose head then stalled) is answered now; a stand-in
		 * takes its place and swallows its reply.
		 */
		for (GwJob **p = c->head ? &c->head : NULL; p != NULL && *p != NULL; p = &(*p)->next)
		{
			GwJob	   *j = *p;

			/* the head only when it must be answered in time whatever it does */
			if (j->abandoned || (p == &c->head ? (j->answer_by <= 0 || now < j->answer_by) : now < j->deadline))
				continue;
			*p = stand_in(j);
			if (c->tail == j)
				c->tail = *p;
			fail_job(j, 503, BODY_NO_REPLY);
		}
		if (c->state == CS_DOWN || (c->state == CS_READY && c->depth == 0) ||
			now < c->deadline)
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
		pending = pool[i].state == CS_CONNECTING || pool[i].state == CS_PREPARING ||
			pool[i].depth > 0;
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
		job = drop_conn(&pool[i]);
		while (job != NULL)
		{
			GwJob	   *next = job->next;

			job->next = NULL;
			fail_job(job, 503, message);
			job = next;
		}
	}
}

void
gw_pool_close(void)
{
	for (int i = 0; i < pool_size; i++)
		(void) drop_conn(&pool[i]);
}

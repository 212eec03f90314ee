/*
 * pool.c
 *		A fixed pool of persistent libpq connections.
 *
 * Each connection prepares one statement, the whole of a request:
 *
 *   SELECT status, body, records, pushed
 *     FROM pushsource.fs_gateway_request($1, $2::jsonb, $3)
 *
 * so a request is one round trip in one implicit transaction (the function
 * acts as the key's role for its duration; an error rolls everything
 * back).  Only when it fails does a second statement,
 * pushsource.fs_gateway_error(...), turn the SQLSTATE and message into the
 * endpoint's status and error body.
 *
 * A connection found dead before a request is sent (the server restarted:
 * its socket reads EOF) is reopened first, so a request is never lost to a
 * connection that was already gone.  One that dies during a request fails
 * that request with 503: a push may or may not have committed, so only
 * requests marked retry_safe (reads) are tried once more.
 */
#include "gateway.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct GwConn
{
	PGconn	   *conn;
	bool		prepared;
	bool		in_use;
};

static GwConn *pool;
static int	pool_size;
static int	pool_busy;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_free = PTHREAD_COND_INITIALIZER;

#define REQUEST_SQL \
	"SELECT status, body, records, pushed" \
	" FROM pushsource.fs_gateway_request($1, $2, $3)"
#define ERROR_SQL \
	"SELECT status, body FROM pushsource.fs_gateway_error($1, $2, $3, $4, $5)"

/* Failures the database cannot describe (it is not there): http.c shapes them. */
#define BODY_DB_DOWN "the database is unreachable or restarting; retry later"
#define BODY_POOL_TIMEOUT "no database connection became free in time; retry later"
#define BODY_INTERNAL "the database reply was not understood; see the gateway's log"

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
}

void
gw_pool_close(void)
{
	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < pool_size; i++)
		if (pool[i].conn != NULL)
		{
			PQfinish(pool[i].conn);
			pool[i].conn = NULL;
		}
	pthread_mutex_unlock(&pool_lock);
}

int
gw_pool_in_use(void)
{
	int			n;

	pthread_mutex_lock(&pool_lock);
	n = pool_busy;
	pthread_mutex_unlock(&pool_lock);
	return n;
}

/* Take a connection, waiting at most the timeout; NULL when none came. */
static GwConn *
acquire(void)
{
	struct timespec until;
	GwConn	   *c = NULL;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += gw_opts.timeout;
	pthread_mutex_lock(&pool_lock);
	for (;;)
	{
		for (int i = 0; i < pool_size; i++)
			if (!pool[i].in_use)
			{
				c = &pool[i];
				break;
			}
		if (c != NULL)
			break;
		if (pthread_cond_timedwait(&pool_free, &pool_lock, &until) == ETIMEDOUT)
			break;
	}
	if (c != NULL)
	{
		c->in_use = true;
		pool_busy++;
	}
	pthread_mutex_unlock(&pool_lock);
	return c;
}

static void
release(GwConn *c)
{
	pthread_mutex_lock(&pool_lock);
	c->in_use = false;
	pool_busy--;
	pthread_cond_signal(&pool_free);
	pthread_mutex_unlock(&pool_lock);
}

static void
drop_conn(GwConn *c)
{
	if (c->conn != NULL)
		PQfinish(c->conn);
	c->conn = NULL;
	c->prepared = false;
}

/*
 * Is an idle connection still there?  A server that shut down sent a
 * FATAL message and closed the socket: it reads as ready, and consuming it
 * marks the connection bad.
 */
static bool
conn_alive(GwConn *c)
{
	struct pollfd p;

	if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK)
		return false;
	p.fd = PQsocket(c->conn);
	p.events = POLLIN;
	p.revents = 0;
	if (p.fd < 0)
		return false;
	if (poll(&p, 1, 0) > 0)
	{
		if (!PQconsumeInput(c->conn) || PQstatus(c->conn) != CONNECTION_OK)
			return false;
		/* a NOTICE or parameter change is harmless; a FATAL closed it */
		for (PGnotify *n; (n = PQnotifies(c->conn)) != NULL;)
			PQfreemem(n);
	}
	return true;
}

static void
notice_quiet(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/* Open (or reopen) c and prepare the request statement; false if it fails. */
static bool
conn_open(GwConn *c)
{
	/* ours first: what --db says wins (later keywords override) */
	const char *keys[] = {"application_name", "options", "connect_timeout", "dbname", NULL};
	char		options[128];
	char		connect_timeout[16];
	const char *values[5];
	PGresult   *r;

	drop_conn(c);
	snprintf(options, sizeof(options), "-c statement_timeout=%d", gw_opts.timeout * 1000);
	snprintf(connect_timeout, sizeof(connect_timeout), "%d", gw_opts.timeout);
	values[0] = "pushsource_gateway";
	values[1] = options;
	values[2] = connect_timeout;
	values[3] = gw_opts.db;		/* expanded: the whole connection string */
	values[4] = NULL;
	c->conn = PQconnectdbParams(keys, values, 1);
	if (PQstatus(c->conn) != CONNECTION_OK)
	{
		fprintf(stderr, "pushsource_gateway: cannot connect to the database: %s",
				PQerrorMessage(c->conn));
		drop_conn(c);
		return false;
	}
	PQsetNoticeProcessor(c->conn, notice_quiet, NULL);
	r = PQprepare(c->conn, "request", REQUEST_SQL, 3, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "pushsource_gateway: cannot prepare the request statement: %s",
				PQresultErrorMessage(r));
		PQclear(r);
		drop_conn(c);
		return false;
	}
	PQclear(r);
	c->prepared = true;
	return true;
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

/*
 * An error the request raised: ask the database for the endpoint's status
 * and body.  If even that fails, answer 500 with a fixed body.
 */
static void
describe_error(GwConn *c, const char *endpoint, PGresult *failed, GwResult *res)
{
	const char *params[5];
	PGresult   *r;

	params[0] = endpoint;
	params[1] = PQresultErrorField(failed, PG_DIAG_SQLSTATE);
	params[2] = PQresultErrorField(failed, PG_DIAG_MESSAGE_PRIMARY);
	params[3] = PQresultErrorField(failed, PG_DIAG_MESSAGE_DETAIL);
	params[4] = PQresultErrorField(failed, PG_DIAG_MESSAGE_HINT);
	if (params[1] == NULL)
		params[1] = "XX000";
	if (params[2] == NULL)
		params[2] = "unknown error";
	r = PQexecParams(c->conn, ERROR_SQL, 5, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 2)
	{
		res->status = atoi(PQgetvalue(r, 0, 0));
		res->body = dup_or_die(PQgetvalue(r, 0, 1));
		res->records = 0;
		res->pushed = NULL;
	}
	else
	{
		fprintf(stderr, "pushsource_gateway: could not describe error %s (%s): %s",
				params[1], params[2], PQresultErrorMessage(r));
		set_fixed(res, 500, BODY_INTERNAL);
	}
	PQclear(r);
}

/*
 * Run one request.  Fills *res (status, body, counts).  Returns false when
 * the database could not be reached (res is then a 503).
 */
bool
gw_request(const char *endpoint, const char *body, const char *key,
		   bool retry_safe, GwResult *res)
{
	GwConn	   *c = acquire();
	const char *params[3] = {endpoint, body, key};
	bool		ok = false;

	if (c == NULL)
	{
		set_fixed(res, 503, BODY_POOL_TIMEOUT);
		return false;
	}
	for (int attempt = 0; attempt < 2; attempt++)
	{
		PGresult   *r;
		ExecStatusType st;

		if (!conn_alive(c) || !c->prepared)
		{
			if (!conn_open(c))
				break;
		}
		r = PQexecPrepared(c->conn, "request", 3, params, NULL, NULL, 0);
		st = PQresultStatus(r);
		if (st == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 4)
		{
			res->status = atoi(PQgetvalue(r, 0, 0));
			res->body = dup_or_die(PQgetvalue(r, 0, 1));
			res->records = PQgetisnull(r, 0, 2) ? 0 : atoll(PQgetvalue(r, 0, 2));
			res->pushed = PQgetisnull(r, 0, 3) ? NULL : dup_or_die(PQgetvalue(r, 0, 3));
			PQclear(r);
			ok = true;
			break;
		}
		if (PQstatus(c->conn) != CONNECTION_OK)
		{
			/* lost during the request: only a read is tried again */
			PQclear(r);
			drop_conn(c);
			if (retry_safe)
				continue;
			break;
		}
		if (st == PGRES_FATAL_ERROR)
		{
			describe_error(c, endpoint, r, res);
			PQclear(r);
			ok = true;
			break;
		}
		fprintf(stderr, "pushsource_gateway: unexpected reply to a request: %s\n",
				PQresStatus(st));
		PQclear(r);
		set_fixed(res, 500, BODY_INTERNAL);
		ok = true;
		break;
	}
	release(c);
	if (!ok)
		set_fixed(res, 503, BODY_DB_DOWN);
	return ok;
}

/* Ready when a round trip works. */
bool
gw_health(void)
{
	GwConn	   *c = acquire();
	bool		ok = false;

	if (c == NULL)
		return false;
	for (int attempt = 0; attempt < 2 && !ok; attempt++)
	{
		PGresult   *r;

		if (!conn_alive(c) || !c->prepared)
		{
			if (!conn_open(c))
				break;
		}
		r = PQexec(c->conn, "SELECT 1");
		ok = PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
		if (!ok && PQstatus(c->conn) != CONNECTION_OK)
			drop_conn(c);
		else
			break;
	}
	release(c);
	return ok;
}

/*
 * gateway.h
 *		pushsource_gateway: Tecton's and Feast's HTTP APIs in front of the
 *		pushsource extension.
 *
 * The program routes, authenticates, pools connections and maps SQLSTATEs
 * to HTTP statuses; it never parses or builds JSON from data.  A request's
 * body goes to pushsource.fs_gateway_request() as one jsonb parameter and
 * the reply is the jsonb that function returns, so what a request means is
 * decided in the extension, where psql users get the same shapes.
 *
 * One thread runs everything, as an event loop over one epoll set: the
 * HTTP daemon's sockets (libmicrohttpd in external-epoll mode), the
 * database connections (non-blocking libpq) and the signals.  A request
 * whose body has arrived is handed to the pool and its HTTP connection
 * suspended; the database's reply resumes it.  No thread waits on a
 * socket, and no request is handed from one thread to another.
 *
 *   main.c     options, the event loop, signals, shutdown
 *   http.c     routes, request bodies, replies, the request log
 *   pool.c     persistent non-blocking libpq connections, the job queue
 *   metrics.c  counters and latency histograms, Prometheus text
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* options (main.c) */
typedef struct GwOptions
{
	char	   *listen_host;
	int			listen_port;
	char	   *db;				/* libpq connection string */
	int			pool;			/* database connections */
	size_t		max_body;		/* bytes */
	int			timeout;		/* seconds: clients' idle time, statements */
	bool		quiet;			/* no request log */
	int			max_connections;	/* client connections at once */
	int			pipeline_window_ms; /* join a busy connection's pipeline only
									 * if its head started this recently */
} GwOptions;

extern GwOptions gw_opts;
extern volatile int gw_shutting_down;

/* Where a request goes: the routes of http.c. */
typedef enum GwEndpoint
{
	EP_INGEST,					/* Tecton Stream Ingest */
	EP_GET_FEATURES,			/* Tecton feature serving */
	EP_GET_FEATURES_BATCH,
	EP_PUSH,					/* Feast feature server */
	EP_GET_ONLINE_FEATURES,
	EP_HEALTH,
	EP_METRICS,
	EP_OTHER,					/* unknown path */
	EP_COUNT
} GwEndpoint;

extern const char *gw_endpoint_path(GwEndpoint ep);

/*
 * Something the event loop watches: the loop calls ready() with the epoll
 * events of its file descriptor.  Embedded first in what it belongs to.
 */
typedef struct GwWatch
{
	void		(*ready) (struct GwWatch *w, uint32_t events);
} GwWatch;

/* main.c: the loop's epoll set, and its clock */
extern int	gw_epoll_fd;
extern double gw_now(void);		/* monotonic seconds */

/* http.c */
struct MHD_Daemon;
extern struct MHD_Daemon *gw_http_start(void);
extern int	gw_http_in_flight(void);

/* pool.c */
typedef struct GwResult
{
	int			status;			/* HTTP status */
	char	   *body;			/* malloc'd JSON text */
	long long	records;		/* records pushed or keys served */
	char	   *pushed;			/* malloc'd "source=n source=n", or NULL */
	const char *own_message;	/* body is NULL: the gateway's own error, this message */
} GwResult;

/*
 * A unit of database work.  endpoint NULL is a health check (SELECT 1:
 * status 200 or 503).  done() is called exactly once, with res filled,
 * possibly from inside gw_pool_submit() itself.  next links the job into
 * the pool's queue, or into one connection's pipeline.
 */
typedef struct GwJob
{
	struct GwJob *next;			/* the pool's queue */
	const char *endpoint;		/* fs_gateway_request's endpoint */
	const char *body;
	const char *key;
	bool		retry_safe;		/* a read: may be retried on a new connection */
	double		answer_within;	/* > 0: answered 503 after so many seconds, even
								 * while the database runs it (GET /metrics) */
	double		answer_by;		/* pool.c: gw_now() + answer_within */
	int			attempts;
	double		deadline;		/* gw_now() by which it must have a connection */
	PGresult   *failed;			/* pool.c: the error being described, or NULL */
	bool		abandoned;		/* pool.c: a stand-in whose reply nobody waits for */
	GwResult	res;
	void		(*done) (struct GwJob *job);
	void	   *arg;
} GwJob;

/* the job of GET /metrics: the database's counters as Prometheus text */
#define GW_METRICS_JOB "metrics"

extern void gw_pool_init(int size);
extern void gw_pool_submit(GwJob *job);
extern void gw_pool_tick(void);
extern int	gw_pool_timeout_ms(void);
extern void gw_pool_abort(const char *message);
extern void gw_pool_close(void);
extern bool gw_db_reachable(void);
extern void gw_pool_stats(int *in_use, int *sent, int *queued);
extern bool gw_pool_can_ask(void);

/* metrics.c */
extern void gw_metrics_init(void);
extern void gw_metrics_observe(GwEndpoint ep, int status, double seconds);
extern void gw_metrics_pushed(const char *pushed);
extern char *gw_metrics_text(void);

#endif							/* GATEWAY_H */

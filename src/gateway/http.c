/*
 * http.c
 *		Routes, request bodies, replies and the request log.
 *
 * libmicrohttpd runs in external-epoll mode inside the event loop of
 * main.c.  A request becomes a job for the pool only once its whole body
 * has arrived, so a slow client costs a socket, never a database
 * connection; while the job runs its HTTP connection is suspended, and
 * the job's completion resumes it to send the reply.  What the gateway
 * answers by itself, before the
 * database: 404 unknown path, 405 wrong method, 415 wrong content type,
 * 413 body over --max-body, 401 no API key, 400 a body with a NUL byte.
 * Everything else is the database's answer.
 */
#include "gateway.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

typedef enum Family
{
	FAM_NONE,					/* health, metrics, unknown paths */
	FAM_TECTON_INGEST,
	FAM_TECTON_SERVING,
	FAM_FEAST
} Family;

typedef struct Route
{
	const char *path;
	const char *method;
	GwEndpoint	ep;
	const char *sql_endpoint;	/* fs_gateway_request's endpoint, NULL: ours */
	Family		family;
	bool		retry_safe;		/* a read: may be retried on a new connection */
} Route;

static const Route routes[] = {
	{"/ingest", "POST", EP_INGEST, "ingest", FAM_TECTON_INGEST, false},
	{"/api/v1/feature-service/get-features", "POST", EP_GET_FEATURES, "get-features", FAM_TECTON_SERVING, true},
	{"/api/v1/feature-service/get-features-batch", "POST", EP_GET_FEATURES_BATCH, "get-features-batch", FAM_TECTON_SERVING, true},
	{"/push", "POST", EP_PUSH, "push", FAM_FEAST, false},
	{"/get-online-features", "POST", EP_GET_ONLINE_FEATURES, "get-online-features", FAM_FEAST, true},
	{"/health", "GET", EP_HEALTH, NULL, FAM_NONE, true},
	{"/metrics", "GET", EP_METRICS, NULL, FAM_NONE, true},
};
#define NROUTES (int) (sizeof(routes) / sizeof(routes[0]))

const char *
gw_endpoint_path(GwEndpoint ep)
{
	for (int i = 0; i < NROUTES; i++)
		if (routes[i].ep == ep)
			return routes[i].path;
	return "other";
}

/* One request in progress. */
typedef struct Req
{
	const Route *route;			/* NULL: unknown path */
	struct MHD_Connection *conn;
	char	   *body;
	size_t		len;
	size_t		cap;
	bool		too_big;
	bool		answered;
	GwJob		job;			/* the database's part */
	bool		job_sent;		/* given to the pool */
	bool		job_done;		/* and back, job.res filled */
	bool		suspended;		/* the connection waits for the job */
	bool		orphan;			/* the connection is gone: job_done frees */
	double		start;
	char		method[16];
	char		path[128];
} Req;

static int	in_flight;

int
gw_http_in_flight(void)
{
	return in_flight;
}

static double
seconds_since(double t0)
{
	return gw_now() - t0;
}

/* Printable copy of client-supplied text for the log. */
static void
copy_printable(char *dst, size_t size, const char *src)
{
	size_t		i = 0;

	for (; src != NULL && src[i] != '\0' && i + 1 < size; i++)
		dst[i] = (src[i] > ' ' && src[i] < 127) ? src[i] : '?';
	dst[i] = '\0';
}

static void
log_request(Req *r, int status, double seconds, long long records)
{
	char		line[512];
	char		stamp[32];
	struct timespec now;
	struct tm	tm;
	int			n;

	if (gw_opts.quiet)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s %d %.3fms records=%lld\n",
				 stamp, now.tv_nsec / 1000000, r->method, r->path, status,
				 seconds * 1000, records);
	if (n > 0)
		(void) !write(STDERR_FILENO, line, (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1);
}

/*
 * A body of the gateway's own, for statuses it decides before the
 * database: a fixed message (no quotes or backslashes) in the endpoint
 * family's error shape.
 */
static char *
own_body(Family family, int status, const char *message)
{
	char		buf[1024];
	const char *type;
	int			code;

	switch (family)
	{
		case FAM_TECTON_INGEST:
			type = status == 401 ? "AuthenticationError" :
				status == 413 ? "RequestTooLargeError" :
				status == 503 ? "ServiceUnavailableError" :
				status >= 500 ? "InternalError" : "RequestValidationError";
			snprintf(buf, sizeof(buf),
					 "{\"requestError\": {\"errorMessage\": \"%s\", \"errorType\": \"%s\"}}",
					 message, type);
			break;
		case FAM_TECTON_SERVING:
			/* gRPC codes, as Tecton's gateway reports them */
			code = status == 401 ? 16 : status == 404 ? 5 : status == 413 ? 8 :
				status == 503 ? 14 : status >= 500 ? 13 : 3;
			snprintf(buf, sizeof(buf), "{\"error\": \"%s\", \"code\": %d, \"message\": \"%s\"}",
					 message, code, message);
			break;
		case FAM_FEAST:
			snprintf(buf, sizeof(buf), "{\"detail\": \"%s\"}", message);
			break;
		default:
			snprintf(buf, sizeof(buf), "{\"error\": \"%s\", \"status\": %d}", message, status);
			break;
	}
	return strdup(buf);
}

static enum MHD_Result
reply(struct MHD_Connection *conn, Req *r, int status, char *body,
	  const char *content_type, long long records)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	double		secs = seconds_since(r->start);

	if (body == NULL)
		body = strdup("{}");
	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
	{
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (status == 405 && r->route != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->route->method);
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (gw_shutting_down)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, (unsigned) status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	gw_metrics_observe(r->route ? r->route->ep : EP_OTHER, status, secs);
	log_request(r, status, secs, records);
	return ret;
}

static enum MHD_Result
reply_own(struct MHD_Connection *conn, Req *r, int status, const char *message)
{
	return reply(conn, r, status, own_body(r->route ? r->route->family : FAM_NONE, status, message),
				 "application/json", 0);
}

/* JSON bodies; curl -d sends form encoding by default, which we read as JSON. */
static bool
content_type_ok(const char *ct)
{
	size_t		n;

	if (ct == NULL || ct[0] == '\0')
		return true;
	n = strcspn(ct, ";");
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	if ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
		(n == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) ||
		(n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0))
		return true;
	return false;
}

/* The key of "Tecton-key <key>" or "Bearer <key>", or NULL. */
static const char *
api_key(struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	if (h == NULL)
		return NULL;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Tecton-key ", 11) == 0)
		h += 11;
	else if (strncasecmp(h, "Bearer ", 7) == 0)
		h += 7;
	else
		return NULL;
	while (*h == ' ')
		h++;
	return *h != '\0' ? h : NULL;
}

static void
free_req(Req *r)
{
	free(r->body);
	free(r->job.res.body);
	free(r->job.res.pushed);
	free(r);
	in_flight--;
}

/* The pool is done with r's job: wake the connection to send the reply. */
static void
job_done(GwJob *job)
{
	Req		   *r = job->arg;

	r->job_done = true;
	if (r->orphan)
		free_req(r);
	else if (r->suspended)
	{
		r->suspended = false;
		MHD_resume_connection(r->conn);
	}
}

/*
 * Hand r's job to the pool.  The answer may come at once (the database is
 * down); otherwise the connection sleeps until job_done() wakes it.
 */
static enum MHD_Result
send_job(struct MHD_Connection *conn, Req *r, const char *endpoint, const char *key)
{
	r->conn = conn;
	r->job.endpoint = endpoint;
	r->job.body = r->body;
	r->job.key = key;
	r->job.retry_safe = r->route->retry_safe;
	r->job.done = job_done;
	r->job.arg = r;
	r->job_sent = true;
	gw_pool_submit(&r->job);
	if (!r->job_done)
	{
		MHD_suspend_connection(conn);
		r->suspended = true;
	}
	return MHD_YES;
}

/* How long GET /metrics waits for the database's counters, in seconds */
#define METRICS_WITHIN 1.0

/* The database's answer to r, or the gateway's own when it had none. */
static enum MHD_Result
reply_job(struct MHD_Connection *conn, Req *r)
{
	GwResult   *res = &r->job.res;
	char	   *body = res->body;

	res->body = NULL;
	if (r->route->ep == EP_HEALTH)
	{
		free(body);
		return reply(conn, r, res->status == 200 ? 200 : 503,
					 strdup(res->status == 200 ? "{\"status\": \"ok\"}" :
							"{\"status\": \"unavailable\", \"error\": \"no database round trip\"}"),
					 "application/json", 0);
	}
	if (r->route->ep == EP_METRICS)
	{
		/* the gateway's own counters, then the database's (if it answered) */
		char	   *own = gw_metrics_text();
		const char *db = body ? body :
			"# pushsource: the database's counters are not available now (every connection busy, the database slow or down)\n";
		size_t		n = strlen(own) + strlen(db) + 1;
		char	   *text = malloc(n);

		if (text == NULL)
			abort();
		snprintf(text, n, "%s%s", own, db);
		free(own);
		free(body);
		return reply(conn, r, 200, text, "text/plain; version=0.0.4", 0);
	}
	gw_metrics_pushed(res->pushed);
	if (body == NULL)
		body = own_body(r->route->family, res->status, res->own_message);
	return reply(conn, r, res->status, body, "application/json", res->records);
}

static enum MHD_Result
run_request(struct MHD_Connection *conn, Req *r)
{
	const char *key = api_key(conn);

	if (r->too_big)
		return reply_own(conn, r, 413, "the request body is larger than the gateway accepts (--max-body)");
	if (key == NULL)
		return reply_own(conn, r, 401,
						 MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION) ?
						 "the Authorization header must be Tecton-key <key> or Bearer <key>" :
						 "missing API key: send Authorization: Tecton-key <key> or Bearer <key>");
	if (r->body == NULL)
	{
		r->body = strdup("");
		if (r->body == NULL)
			return MHD_NO;
	}
	else if (memchr(r->body, '\0', r->len) != NULL)
		return reply_own(conn, r, 400, "the request body contains a NUL byte; send UTF-8 JSON");
	r->body[r->len] = '\0';
	return send_job(conn, r, r->route->sql_endpoint, key);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size,
	   void **con_cls)
{
	Req		   *r = *con_cls;

	(void) cls;
	(void) version;
	if (r == NULL)
	{
		const char *len;

		r = calloc(1, sizeof(Req));
		if (r == NULL)
			return MHD_NO;
		*con_cls = r;
		in_flight++;
		r->start = gw_now();
		copy_printable(r->method, sizeof(r->method), method);
		copy_printable(r->path, sizeof(r->path), url);
		for (int i = 0; i < NROUTES; i++)
			if (strcmp(url, routes[i].path) == 0)
				r->route = &routes[i];
		if (r->route == NULL)
			return reply_own(conn, r, 404, "no such endpoint; see POST /ingest, /push, /get-online-features, /api/v1/feature-service/get-features");
		/* HEAD is GET without the body (RFC 9110): load balancers probe with it */
		if (strcmp(method, r->route->method) != 0 &&
			!(strcmp(method, "HEAD") == 0 && strcmp(r->route->method, "GET") == 0))
			return reply_own(conn, r, 405, strcmp(r->route->method, "GET") == 0 ?
							 "this endpoint takes GET" : "this endpoint takes POST");
		if (r->route->ep == EP_HEALTH || r->route->ep == EP_METRICS)
			return MHD_YES;		/* answered on the final call: keep-alive holds */
		if (!content_type_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
														 MHD_HTTP_HEADER_CONTENT_TYPE)))
			return reply_own(conn, r, 415, "the request body must be JSON (Content-Type: application/json)");
		/* no key: refused before a byte of the body is read or kept */
		if (api_key(conn) == NULL)
			return reply_own(conn, r, 401,
							 MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION) ?
							 "the Authorization header must be Tecton-key <key> or Bearer <key>" :
							 "missing API key: send Authorization: Tecton-key <key> or Bearer <key>");
		len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (len != NULL && strtoull(len, NULL, 10) > gw_opts.max_body)
			return reply_own(conn, r, 413, "the request body is larger than the gateway accepts (--max-body)");
		return MHD_YES;
	}
	if (r->answered)
	{
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->job_sent)
		return r->job_done ? reply_job(conn, r) : MHD_YES;
	if (*upload_data_size > 0)
	{
		size_t		n = *upload_data_size;

		*upload_data_size = 0;
		if (r->too_big)
			return MHD_YES;
		if (r->len + n > gw_opts.max_body)
		{
			/* keep reading (and dropping) the rest, then answer 413 */
			r->too_big = true;
			free(r->body);
			r->body = NULL;
			r->len = 0;
			return MHD_YES;
		}
		if (r->len + n + 1 > r->cap)
		{
			size_t		cap = r->cap ? r->cap : 1024;
			char	   *b;

			while (cap < r->len + n + 1)
				cap *= 2;
			b = realloc(r->body, cap);
			if (b == NULL)
				return MHD_NO;
			r->body = b;
			r->cap = cap;
		}
		memcpy(r->body + r->len, upload_data, n);
		r->len += n;
		return MHD_YES;
	}
	if (r->route->ep == EP_HEALTH)
		return send_job(conn, r, NULL, NULL);
	if (r->route->ep == EP_METRICS)
	{
		if (gw_pool_can_ask())
		{
			r->job.answer_within = METRICS_WITHIN;
			return send_job(conn, r, GW_METRICS_JOB, NULL);
		}
		r->job.res.status = 503;	/* every connection busy: our own counters only */
		r->job.res.body = NULL;
		return reply_job(conn, r);
	}
	return run_request(conn, r);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		  enum MHD_RequestTerminationCode toe)
{
	Req		   *r = *con_cls;

	(void) cls;
	(void) conn;
	if (r == NULL)
		return;
	if (!r->answered)
	{
		/* the client went away (or timed out) before a reply: nothing sent */
		double		secs = seconds_since(r->start);

		gw_metrics_observe(r->route ? r->route->ep : EP_OTHER, 499, secs);
		log_request(r, 499, secs, 0);
	}
	(void) toe;
	*con_cls = NULL;
	if (r->job_sent && !r->job_done)
		r->orphan = true;		/* the pool still holds its job */
	else
		free_req(r);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void) cls;
	if (gw_opts.quiet)
		return;
	fputs("pushsource_gateway: ", stderr);
	vfprintf(stderr, fmt, ap);
}

struct MHD_Daemon *
gw_http_start(void)
{
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;

	memset(&ss, 0, sizeof(ss));
	if (strchr(gw_opts.listen_host, ':') != NULL)
	{
		struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t) gw_opts.listen_port);
		if (inet_pton(AF_INET6, gw_opts.listen_host, &a->sin6_addr) != 1)
			return NULL;
	}
	else
	{
		struct sockaddr_in *a = (struct sockaddr_in *) &ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t) gw_opts.listen_port);
		if (inet_pton(AF_INET, gw_opts.listen_host, &a->sin_addr) != 1)
			return NULL;
	}
	d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
						 MHD_USE_ERROR_LOG |
						 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
						 (uint16_t) gw_opts.listen_port, NULL, NULL, handle, NULL,
						 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
						 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) gw_opts.timeout,
						 MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) gw_opts.max_connections,
						 MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
						 MHD_OPTION_END);
	return d;
}

/*
 * metrics.c
 *		Counters for GET /metrics, in Prometheus' text format.
 *
 * Per endpoint: requests by status, errors (status >= 400) and a latency
 * histogram; per push source: records pushed; the pool's connections in
 * use, requests sent and queued.  Only the event loop's thread touches
 * them, so nothing is locked.
 */
#include "gateway.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSTATUS 600
#define MAX_SOURCES 1024
#define SOURCE_NAME_MAX 64

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (int) (sizeof(buckets) / sizeof(buckets[0]))

typedef struct EndpointStats
{
	unsigned long long by_status[NSTATUS];
	unsigned long long errors;
	unsigned long long count;
	unsigned long long bucket[NBUCKETS];	/* not cumulative here */
	double		sum;
} EndpointStats;

typedef struct SourceStats
{
	char		name[SOURCE_NAME_MAX];
	unsigned long long records;
} SourceStats;

static EndpointStats stats[EP_COUNT];
static SourceStats sources[MAX_SOURCES];
static int	nsources;

void
gw_metrics_init(void)
{
	memset(stats, 0, sizeof(stats));
	nsources = 0;
}

void
gw_metrics_observe(GwEndpoint ep, int status, double seconds)
{
	EndpointStats *s = &stats[ep];

	if (status >= 100 && status < NSTATUS)
		s->by_status[status]++;
	if (status >= 400)
		s->errors++;
	s->count++;
	s->sum += seconds;
	for (int b = 0; b < NBUCKETS; b++)
		if (seconds <= buckets[b])
		{
			s->bucket[b]++;
			break;
		}
}

/*
 * Count records per source from fs_gateway_request's "pushed" column:
 * "name=count" pairs separated by spaces (source names are [a-z0-9_]).
 */
void
gw_metrics_pushed(const char *pushed)
{
	const char *p = pushed;

	if (pushed == NULL)
		return;
	while (*p != '\0')
	{
		const char *eq = strchr(p, '=');
		size_t		len;
		unsigned long long n;
		char	   *end;
		int			i;

		if (eq == NULL)
			break;
		len = (size_t) (eq - p);
		n = strtoull(eq + 1, &end, 10);
		if (len > 0 && len < SOURCE_NAME_MAX)
		{
			for (i = 0; i < nsources; i++)
				if (strlen(sources[i].name) == len && memcmp(sources[i].name, p, len) == 0)
					break;
			if (i == nsources && nsources < MAX_SOURCES)
			{
				memcpy(sources[i].name, p, len);
				sources[i].name[len] = '\0';
				nsources++;
			}
			if (i < nsources)
				sources[i].records += n;
		}
		p = end;
		while (*p == ' ')
			p++;
	}
}

typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

static void
put(Buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	for (;;)
	{
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t) n < b->cap - b->len)
		{
			b->len += n;
			return;
		}
		b->cap *= 2;
		b->data = realloc(b->data, b->cap);
		if (b->data == NULL)
			abort();
	}
}

/* The whole exposition, malloc'd. */
char *
gw_metrics_text(void)
{
	Buf			b = {malloc(8192), 0, 8192};
	int			in_use,
				sent,
				queued;

	if (b.data == NULL)
		abort();
	gw_pool_stats(&in_use, &sent, &queued);
	put(&b, "# HELP pushsource_gateway_requests_total HTTP requests answered, by endpoint and status.\n"
		"# TYPE pushsource_gateway_requests_total counter\n");
	for (int e = 0; e < EP_COUNT; e++)
		for (int s = 100; s < NSTATUS; s++)
			if (stats[e].by_status[s] > 0)
				put(&b, "pushsource_gateway_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
					gw_endpoint_path(e), s, stats[e].by_status[s]);
	put(&b, "# HELP pushsource_gateway_errors_total Requests answered with a status of 400 or more.\n"
		"# TYPE pushsource_gateway_errors_total counter\n");
	for (int e = 0; e < EP_COUNT; e++)
		put(&b, "pushsource_gateway_errors_total{endpoint=\"%s\"} %llu\n",
			gw_endpoint_path(e), stats[e].errors);
	put(&b, "# HELP pushsource_gateway_request_duration_seconds Time from a request's first byte to its reply.\n"
		"# TYPE pushsource_gateway_request_duration_seconds histogram\n");
	for (int e = 0; e < EP_COUNT; e++)
	{
		unsigned long long cum = 0;

		for (int k = 0; k < NBUCKETS; k++)
		{
			cum += stats[e].bucket[k];
			put(&b, "pushsource_gateway_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
				gw_endpoint_path(e), buckets[k], cum);
		}
		put(&b, "pushsource_gateway_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
			gw_endpoint_path(e), stats[e].count);
		put(&b, "pushsource_gateway_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n",
			gw_endpoint_path(e), stats[e].sum);
		put(&b, "pushsource_gateway_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
			gw_endpoint_path(e), stats[e].count);
	}
	put(&b, "# HELP pushsource_gateway_records_pushed_total Records written to each push source through the gateway.\n"
		"# TYPE pushsource_gateway_records_pushed_total counter\n");
	for (int i = 0; i < nsources; i++)
		put(&b, "pushsource_gateway_records_pushed_total{source=\"%s\"} %llu\n",
			sources[i].name, sources[i].records);
	put(&b, "# HELP pushsource_gateway_pool_connections Database connections of the pool.\n"
		"# TYPE pushsource_gateway_pool_connections gauge\n"
		"pushsource_gateway_pool_connections %d\n"
		"# HELP pushsource_gateway_pool_in_use Database connections with requests sent and not yet answered.\n"
		"# TYPE pushsource_gateway_pool_in_use gauge\n"
		"pushsource_gateway_pool_in_use %d\n"
		"# HELP pushsource_gateway_pool_requests_sent Requests sent to the database and not yet answered (pipelined).\n"
		"# TYPE pushsource_gateway_pool_requests_sent gauge\n"
		"pushsource_gateway_pool_requests_sent %d\n"
		"# HELP pushsource_gateway_pool_requests_queued Requests waiting for a database connection.\n"
		"# TYPE pushsource_gateway_pool_requests_queued gauge\n"
		"pushsource_gateway_pool_requests_queued %d\n", gw_opts.pool, in_use, sent, queued);
	return b.data;
}

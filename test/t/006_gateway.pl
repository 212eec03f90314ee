# The HTTP gateway, for real: a server, pushsource_gateway, curl.
#
# Every endpoint is driven with the request bodies of Tecton's and Feast's
# documentation; replies are checked field by field and the stores row by
# row.  Then each status: 401 (no, unknown, malformed, revoked key), 403 (a
# reader's key pushing, a key granted one source pushing to another), 404,
# 405, 413 (by Content-Length and chunked), 415, 400 (not JSON, bad
# records: nothing written), 503 (a read-only database; the server down,
# with a request in flight, and the gateway recovering by itself when it
# is back), a slow client and one that disconnects mid-body, /metrics,
# pipelining (--pool 1: requests behind a busy one, failing and not, each
# its own transaction), a commit that fails after its rows (the reply is
# the error), and SIGTERM finishing the request in flight.  Nothing here waits on a clock
# (a request is held in flight by a table lock, and polled for) except one
# check, which waits out the gateway's statement deadline (--timeout + 1 s)
# against a server whose backends are frozen with SIGSTOP.
use strict;
use warnings;
use IPC::Run qw(start run timeout);
use IO::Socket::INET;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('gw');
$node->init;
$node->append_conf('postgresql.conf', "timezone = 'UTC'\nshared_preload_libraries = 'pushsource'\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pushsource;
SET search_path = pushsource;
-- Tecton's fraud example
SELECT fs_create_entity('fraud_user', ARRAY['user_id']);
SELECT fs_create_push_source('transactions',
    'user_id String, timestamp Timestamp, amount Float64, merchant String, items Int64', 'timestamp');
SELECT fs_create_feature_view('user_transactions', 'transactions', ARRAY['fraud_user'],
    features => ARRAY['amount', 'merchant', 'items']);
SELECT fs_create_feature_service('fraud_detection_feature_service', ARRAY['user_transactions']);
-- Feast's driver example
SELECT fs_create_entity('driver', ARRAY['driver_id']);
SELECT fs_create_push_source('driver_stats_push_source',
    'driver_id Int64, event_timestamp Timestamp, created Timestamp, conv_rate Float64,
     acc_rate Float64, avg_daily_trips Int64', 'event_timestamp');
SELECT fs_create_feature_view('driver_hourly_stats', 'driver_stats_push_source', ARRAY['driver'],
    features => ARRAY['conv_rate', 'acc_rate', 'avg_daily_trips']);
SELECT fs_create_feature_service('driver_activity', ARRAY['driver_hourly_stats']);
-- roles: the gateway's login may act as each key's role
CREATE ROLE app_writer IN ROLE pushsource_writer;
CREATE ROLE app_reader IN ROLE pushsource_reader;
CREATE ROLE only_transactions IN ROLE pushsource_reader;
GRANT INSERT ON pushsource_source.transactions TO only_transactions;
CREATE ROLE gw_login LOGIN IN ROLE pushsource_gateway;
GRANT app_writer, app_reader, only_transactions TO gw_login;
});
my %key;
for my $r (qw(app_writer app_reader only_transactions))
{
	$key{$r} = $node->safe_psql('postgres', "SELECT pushsource.fs_create_api_key('$r', 'tap')");
}
like($key{app_writer}, qr/^psk_[0-9a-f]{48}$/, 'fs_create_api_key shows a key');

my $bindir = $node->config_data('--bindir');
my $gateway_bin = "$bindir/pushsource_gateway";
ok(-x $gateway_bin, 'pushsource_gateway is installed in the bindir');

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $db = 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres user=gw_login';
my $log = "${PostgreSQL::Test::Utils::tmp_check}/gateway.log";
my $gw;
my $ro;
# a test that dies must not leave a gateway running
my $pgw;
END { for my $h ($gw, $ro, $pgw) { $h->kill_kill if $h && $h->pumpable; } }

sub start_gateway
{
	my (@extra) = @_;
	my $h = start([ $gateway_bin, '--listen', "127.0.0.1:$port", '--db', $db,
			'--pool', '2', '--max-body', '65536', '--timeout', '5', @extra ],
		'>>', $log, '2>>', $log);
	# ready when it answers; /health may be 503 while the database is down
	for (1 .. 300)
	{
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1);
		return $h if $s;
		select(undef, undef, undef, 0.05);
	}
	die "the gateway did not start: " . slurp_file($log);
}

# http(method, path, body, headers...) -> (status, body text)
sub http
{
	my ($method, $path, $body, @headers) = @_;
	my @cmd = ('curl', '-s', '-S', '-X', $method, '-w', "\n%{http_code}",
		"http://127.0.0.1:$port$path");
	push @cmd, map { ('-H', $_) } @headers;
	push @cmd, '--data-binary', '@-' if defined $body;
	my ($in, $out, $err) = ($body // '', '', '');
	# the body goes through stdin: a big one is over the argument size limit
	run(\@cmd, '<', \$in, '>', \$out, '2>', \$err, timeout(60)) or die "curl failed: $err";
	$out =~ s/\n(\d{3})$// or die "no status in curl output: $out";
	return ($1, $out);
}

sub auth { return "Authorization: Tecton-key $key{$_[0]}" }
sub bearer { return "Authorization: Bearer $key{$_[0]}" }
my $json_ct = 'Content-Type: application/json';
sub decode { my $r = eval { decode_json($_[0]) }; return $r }

sub count_rows
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

$gw = start_gateway();

# Found in review: a gateway that has not opened a connection yet asks the
# database for /metrics (before: it never did until another request came)
my ($code, $body) = http('GET', '/metrics');
like($body, qr/^# HELP pushsource_source_records_total /m,
	'/metrics of a fresh gateway opens a connection for the database\'s counters');

($code, $body) = http('GET', '/health');
is($code, 200, '/health is 200 when a database round trip works');
is_deeply(decode($body), { status => 'ok' }, '/health says ok');
{
	# HEAD is GET without a body (load balancers probe with it)
	my ($out, $err) = ('', '');
	run([ 'curl', '-s', '-I', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', "http://127.0.0.1:$port/health" ],
		'>', \$out, '2>', \$err);
	is($out, '200 0', 'HEAD /health: 200, no body');
	run([ 'curl', '-s', '-I', '-o', '/dev/null', '-w', '%{http_code}', "http://127.0.0.1:$port/ingest" ],
		'>', \$out, '2>', \$err);
	is($out, '405', 'HEAD /ingest: 405 (it takes POST)');
	# a --db libpq cannot parse stops the gateway at once, without echoing it
	my $ok = run([ $gateway_bin, '--listen', '127.0.0.1:' . ($port + 5), '--db', 'postgresql://u:secret@[bad' ],
		'>', \$out, '2>', \$err, timeout(30));
	ok(!$ok && ($? >> 8) == 2, 'a malformed --db: the gateway exits 2 at startup');
	like($err, qr/invalid --db: .*\(the --db value\)/, '... saying so');
	unlike($err, qr/secret/, '... without printing the password in it');
}

########################################################################
# Tecton Stream Ingest API
########################################################################
my $ingest = q({"workspace_name": "prod", "dry_run": false,
  "records": {"transactions": [
    {"record": {"user_id": "C1000262126", "timestamp": "2022-01-01T00:00:00Z", "amount": 100.5, "merchant": "fraud_Kirlin and Sons", "items": 9007199254740993}},
    {"record": {"user_id": "C1000262126", "timestamp": "2022-01-01T01:00:00Z", "amount": 12.25, "merchant": "fraud_Sporer-Keebler", "items": 2}},
    {"record": {"user_id": "C2", "timestamp": "2022-01-01T00:30:00Z", "amount": 5, "merchant": "m", "items": 1}}]}});
($code, $body) = http('POST', '/ingest', $ingest, auth('app_writer'), $json_ct);
is($code, 200, 'POST /ingest: 200');
is_deeply(decode($body),
	{ workspaceName => 'prod',
	  ingestMetrics => { featureViewIngestMetrics => [
		{ featureViewName => 'user_transactions', onlineRecordIngestCount => '2',
		  offlineRecordIngestCount => '3' } ] } },
	'POST /ingest: the Tecton reply, counts as strings (2 keys online, 3 events offline)');
is(count_rows(q{SELECT user_id, amount, merchant, items FROM pushsource_store.user_transactions_online ORDER BY 1}),
	"C1000262126|12.25|fraud_Sporer-Keebler|2\nC2|5|m|1", 'the online store has the newest row per key');
is(count_rows(q{SELECT count(*) FROM pushsource_store.user_transactions_offline}), '3',
	'the offline store has every event');

# curl -d with no Content-Type (form encoding) is read as JSON, as Tecton's docs send it
($code, $body) = http('POST', '/ingest', q({"workspace_name": "prod", "dry_run": true,
  "records": {"transactions": [{"record": {"user_id": "C9", "timestamp": "2022-01-01T00:00:00Z"}}]}}),
	auth('app_writer'));
is($code, 200, 'POST /ingest without a Content-Type, dry run: 200');
is(count_rows(q{SELECT count(*) FROM pushsource_source.transactions WHERE user_id = 'C9'}), '0',
	'a dry run writes nothing');

# bad records: 400, recordErrors, nothing written
my $before = count_rows(q{SELECT count(*) FROM pushsource_source.transactions});
($code, $body) = http('POST', '/ingest', q({"workspace_name": "prod",
  "records": {"transactions": [
    {"record": {"user_id": "C3", "timestamp": "2022-01-01T00:00:00Z", "amount": 1}},
    {"record": {"user_id": "C4", "timestamp": "not a time", "amount": 1}}]}}), auth('app_writer'), $json_ct);
is($code, 400, 'POST /ingest with a bad record: 400');
my $r = decode($body);
is(scalar @{ $r->{recordErrors} }, 1, 'one record error');
is($r->{recordErrors}[0]{pushSourceName}, 'transactions', 'the error names the push source');
like($r->{recordErrors}[0]{errorMessage}, qr/record 1.*timestamp/, 'the error names the record and the field');
is(count_rows(q{SELECT count(*) FROM pushsource_source.transactions}), $before, 'nothing was written');

($code, $body) = http('POST', '/ingest', q({"records": {}}), auth('app_writer'), $json_ct);
is($code, 400, 'POST /ingest without workspace_name: 400');
like(decode($body)->{requestError}{errorMessage}, qr/workspace_name/, 'requestError names the field');
is(decode($body)->{requestError}{errorType}, 'RequestValidationError', 'requestError has its type');

($code, $body) = http('POST', '/ingest', 'not json {', auth('app_writer'), $json_ct);
is($code, 400, 'a body that is not JSON: 400');
like(decode($body)->{requestError}{errorMessage}, qr/invalid input syntax for type json/,
	'the error body says the JSON is invalid, as JSON');

########################################################################
# Who may do what
########################################################################
($code, $body) = http('POST', '/ingest', $ingest, $json_ct);
is($code, 401, 'no Authorization header: 401');
is(decode($body)->{requestError}{errorType}, 'AuthenticationError', '401 in the ingest shape');
($code, $body) = http('POST', '/ingest', $ingest, 'Authorization: Tecton-key psk_nope', $json_ct);
is($code, 401, 'an unknown key: 401');
($code, $body) = http('POST', '/ingest', $ingest, "Authorization: Basic $key{app_writer}", $json_ct);
is($code, 401, 'an Authorization that is neither Tecton-key nor Bearer: 401');
($code, $body) = http('POST', '/ingest', 'not json {', 'Authorization: Tecton-key psk_nope', $json_ct);
is($code, 401, 'an unknown key with a body that is not JSON: 401 (the key is checked before the body is parsed)');
{
	# no key: refused on the headers, before the body is sent or kept
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die "connect: $!";
	print $s "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n";
	my $got = '';
	sysread($s, $got, 4096);
	like($got, qr/^HTTP\/1\.1 401 /, 'no key: 401 on the headers alone, the body never read');
	close($s);
}

$before = count_rows(q{SELECT count(*) FROM pushsource_source.transactions});
($code, $body) = http('POST', '/ingest', $ingest, auth('app_reader'), $json_ct);
is($code, 403, "a reader's key may not push: 403");
like(decode($body)->{requestError}{errorMessage}, qr/permission denied to push to push source "transactions"/,
	'the 403 names the source');
my $driver_push = q({"push_source_name": "driver_stats_push_source",
  "df": {"driver_id": [1001], "event_timestamp": ["2022-05-13 10:59:42+00:00"], "created": ["2022-05-13 10:59:42"],
         "conv_rate": [1.0], "acc_rate": [1.0], "avg_daily_trips": [1000]},
  "to": "online_and_offline"});
($code, $body) = http('POST', '/push', $driver_push, bearer('only_transactions'), $json_ct);
is($code, 403, 'a key granted one source may not push to another: 403');
($code, $body) = http('POST', '/ingest', q({"workspace_name": "prod",
  "records": {"transactions": [{"record": {"user_id": "C5", "timestamp": "2022-01-02T00:00:00Z", "amount": 7}}]}}),
	auth('only_transactions'), $json_ct);
is($code, 200, '... and may push to the source it was granted');
is(count_rows(q{SELECT count(*) FROM pushsource_source.transactions}), $before + 1, 'only that push was written');

########################################################################
# Tecton feature serving
########################################################################
my $get = q({"params": {"feature_service_name": "fraud_detection_feature_service",
  "join_key_map": {"user_id": "C1000262126"}, "workspace_name": "prod",
  "metadata_options": {"include_names": true, "include_data_types": true,
                       "include_effective_times": true, "include_serving_status": true}}});
($code, $body) = http('POST', '/api/v1/feature-service/get-features', $get, auth('app_reader'), $json_ct);
is($code, 200, 'get-features: 200');
is_deeply(decode($body), {
	result => { features => [ 12.25, 'fraud_Sporer-Keebler', '2' ] },
	metadata => { features => [
		{ name => 'user_transactions.amount', dataType => { type => 'float64' },
		  effectiveTime => '2022-01-01T01:00:00Z', status => 'PRESENT' },
		{ name => 'user_transactions.merchant', dataType => { type => 'string' },
		  effectiveTime => '2022-01-01T01:00:00Z', status => 'PRESENT' },
		{ name => 'user_transactions.items', dataType => { type => 'int64' },
		  effectiveTime => '2022-01-01T01:00:00Z', status => 'PRESENT' } ] } },
	'get-features: values in order (int64 as a string), names, types, times, statuses');
($code, $body) = http('POST', '/api/v1/feature-service/get-features-batch',
	q({"params": {"feature_service_name": "fraud_detection_feature_service", "workspace_name": "prod",
	  "request_data": [{"join_key_map": {"user_id": "C2"}}, {"join_key_map": {"user_id": "nobody"}}],
	  "metadata_options": {"include_serving_status": true}}}), auth('app_reader'), $json_ct);
is($code, 200, 'get-features-batch: 200');
is_deeply(decode($body), {
	result => [ { features => [ 5, 'm', '1' ] }, { features => [ undef, undef, undef ] } ],
	metadata => { features => [ map { { status => [ 'PRESENT', 'MISSING_DATA' ] } } 1 .. 3 ] } },
	'get-features-batch: a result per row, a status per row');
($code, $body) = http('POST', '/api/v1/feature-service/get-features',
	q({"params": {"feature_service_name": "no_such_service", "workspace_name": "prod", "join_key_map": {"user_id": "C2"}}}),
	auth('app_reader'), $json_ct);
is($code, 404, 'get-features of an unknown service: 404');
is(decode($body)->{code}, 5, '... with gRPC code 5 (NOT_FOUND)');
like(decode($body)->{message}, qr/"no_such_service" does not exist/, '... naming it');
($code, $body) = http('POST', '/api/v1/feature-service/get-features',
	q({"params": {"feature_service_name": "fraud_detection_feature_service", "workspace_name": "prod", "join_key_map": {}}}),
	auth('app_reader'), $json_ct);
is($code, 400, 'get-features without the join key: 400');
like(decode($body)->{message}, qr/join key "user_id" is missing/, '... naming the key');

########################################################################
# Feast feature server
########################################################################
($code, $body) = http('POST', '/push', $driver_push, bearer('app_writer'), $json_ct);
is($code, 200, 'Feast /push: 200');
is($body, 'null', 'Feast /push: the reply is null, as Feast');
($code, $body) = http('POST', '/push', q({"push_source_name": "driver_stats_push_source",
  "df": {"driver_id": [1002, 1003], "event_timestamp": ["2022-05-13 10:00:00", "2022-05-13 11:00:00"],
         "created": [null, null], "conv_rate": [0.5, 0.25], "acc_rate": [null, 0.75], "avg_daily_trips": [20, 30]},
  "to": "online"}), bearer('app_writer'), $json_ct);
is($code, 200, 'Feast /push to online only: 200');
is(count_rows(q{SELECT driver_id, conv_rate, acc_rate, avg_daily_trips FROM pushsource_store.driver_hourly_stats_online ORDER BY 1}),
	"1001|1|1|1000\n1002|0.5||20\n1003|0.25|0.75|30", 'the pushed rows are online');
is(count_rows(q{SELECT count(*) FROM pushsource_store.driver_hourly_stats_offline}), '1',
	'"to": "online" writes no offline history');

($code, $body) = http('POST', '/get-online-features', q({"features": ["driver_hourly_stats:conv_rate",
  "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"],
  "entities": {"driver_id": [1001, 1002, 1005]}}), bearer('app_reader'), $json_ct);
is($code, 200, 'Feast /get-online-features: 200');
my $epoch = '1970-01-01T00:00:00Z';
is_deeply(decode($body), {
	metadata => { feature_names => [ 'driver_id', 'conv_rate', 'acc_rate', 'avg_daily_trips' ] },
	results => [
		{ values => [ 1001, 1002, 1005 ], statuses => [ ('PRESENT') x 3 ], event_timestamps => [ ($epoch) x 3 ] },
		{ values => [ 1, 0.5, undef ], statuses => [ 'PRESENT', 'PRESENT', 'NOT_FOUND' ],
		  event_timestamps => [ '2022-05-13T10:59:42Z', '2022-05-13T10:00:00Z', $epoch ] },
		{ values => [ 1, undef, undef ], statuses => [ 'PRESENT', 'NULL_VALUE', 'NOT_FOUND' ],
		  event_timestamps => [ '2022-05-13T10:59:42Z', '2022-05-13T10:00:00Z', $epoch ] },
		{ values => [ 1000, 20, undef ], statuses => [ 'PRESENT', 'PRESENT', 'NOT_FOUND' ],
		  event_timestamps => [ '2022-05-13T10:59:42Z', '2022-05-13T10:00:00Z', $epoch ] } ] },
	'get-online-features: columnar, join keys first, values, statuses and times per row in order');
($code, $body) = http('POST', '/get-online-features', q({"feature_service": "driver_activity",
  "entities": {"driver_id": [1003]}, "full_feature_names": true}), bearer('app_reader'), $json_ct);
is($code, 200, 'get-online-features of a feature service: 200');
is_deeply(decode($body)->{metadata}{feature_names},
	[ 'driver_id', 'driver_hourly_stats__conv_rate', 'driver_hourly_stats__acc_rate',
	  'driver_hourly_stats__avg_daily_trips' ], 'full feature names are view__feature');
($code, $body) = http('POST', '/push', q({"push_source_name": "driver_stats_push_source",
  "df": {"driver_id": [1], "event_timestamp": ["2022-05-13 10:00:00"]}, "to": "sideways"}), bearer('app_writer'), $json_ct);
is($code, 400, 'Feast /push with a bad "to": 400');
like(decode($body)->{detail}, qr/"to" must be/, "... in Feast's {\"detail\"} shape");
($code, $body) = http('POST', '/push', q({"push_source_name": "nope", "df": {"a": [1]}}), bearer('app_writer'), $json_ct);
is($code, 404, 'Feast /push to an unknown source: 404');

########################################################################
# What the gateway answers itself
########################################################################
($code, $body) = http('GET', '/no/such/path');
is($code, 404, 'an unknown path: 404');
ok(decode($body), '... with a JSON body');
($code, $body) = http('GET', '/ingest', undef, auth('app_writer'));
is($code, 405, 'GET /ingest: 405');
($code, $body) = http('POST', '/health', '{}');
is($code, 405, 'POST /health: 405');
($code, $body) = http('POST', '/ingest', '<xml/>', auth('app_writer'), 'Content-Type: text/xml');
is($code, 415, 'a body that is not JSON by its Content-Type: 415');
like(decode($body)->{requestError}{errorMessage}, qr/must be JSON/, '... saying so');
my $big = '{"workspace_name": "prod", "records": {"transactions": [' . join(',',
	map { qq({"record": {"user_id": "big$_", "timestamp": "2022-01-01T00:00:00Z", "amount": 1}}) } 1 .. 2000) . ']}}';
ok(length($big) > 65536, 'a body over --max-body');
$before = count_rows(q{SELECT count(*) FROM pushsource_source.transactions});
($code, $body) = http('POST', '/ingest', $big, auth('app_writer'), $json_ct);
is($code, 413, 'a body over --max-body (by Content-Length): 413');
($code, $body) = http('POST', '/ingest', $big, auth('app_writer'), $json_ct, 'Transfer-Encoding: chunked');
is($code, 413, 'a chunked body over --max-body: 413');
is(decode($body)->{requestError}{errorType}, 'RequestTooLargeError', '... in the ingest shape');
is(count_rows(q{SELECT count(*) FROM pushsource_source.transactions}), $before, 'nothing of them was written');

# a client that disconnects mid-body: nothing written, the gateway goes on
{
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die "connect: $!";
	my $part = q({"workspace_name": "prod", "records": {"transactions": [{"record": {"user_id": "cut");
	print $s "POST /ingest HTTP/1.1\r\nHost: x\r\n" . auth('app_writer')
	  . "\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n$part";
	close($s);
}
# a slow client: sends half its headers, then nothing; --timeout closes it
my $slow = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die "connect: $!";
print $slow "POST /ingest HTTP/1.1\r\nHost: x\r\n";
($code, $body) = http('GET', '/health');
is($code, 200, 'other clients are served while one is slow and one went away');
{
	my $got = '';
	local $SIG{ALRM} = sub { die "the slow client was not closed\n" };
	alarm(60);
	my $n = sysread($slow, $got, 1024);
	alarm(0);
	ok(!$n || $got =~ /^HTTP\/1\.1 [45]\d\d/, 'the slow client is closed (or refused) after --timeout');
}
is(count_rows(q{SELECT count(*) FROM pushsource_source.transactions WHERE user_id = 'cut'}), '0',
	'the cut-off request wrote nothing');

########################################################################
# /metrics
########################################################################
($code, $body) = http('GET', '/metrics');
is($code, 200, '/metrics: 200');
like($body, qr/^pushsource_gateway_requests_total\{endpoint="\/ingest",status="200"\} \d+$/m,
	'requests per endpoint and status');
like($body, qr/^pushsource_gateway_requests_total\{endpoint="\/ingest",status="413"\} 2$/m,
	'both 413s counted');
like($body, qr/^pushsource_gateway_errors_total\{endpoint="\/ingest"\} \d+$/m, 'errors per endpoint');
like($body, qr/^pushsource_gateway_request_duration_seconds_bucket\{endpoint="\/get-online-features",le="\+Inf"\} 2$/m,
	'a latency histogram per endpoint');
like($body, qr/^pushsource_gateway_records_pushed_total\{source="transactions"\} 4$/m,
	'records pushed per source (3 + 1, not the dry run or refused ones)');
like($body, qr/^pushsource_gateway_records_pushed_total\{source="driver_stats_push_source"\} 3$/m,
	'records pushed per source (Feast)');
like($body, qr/^pushsource_gateway_pool_connections 2$/m, 'the pool size');
like($body, qr/^pushsource_gateway_pool_in_use 0$/m, 'connections in use');
# and the database's counters, pushsource.stat_sources' figures
my ($db_records) = $body =~ /^pushsource_source_records_total\{source="transactions"\} (\d+)$/m;
is($db_records, $node->safe_psql('postgres', q{SELECT records FROM pushsource.stat_sources WHERE source = 'transactions'}),
	'/metrics shows the database\'s counters, as pushsource.stat_sources has them');
like($body, qr/^pushsource_feature_view_offline_rows_total\{feature_view="\w+"\} \d+$/m, '... the views\' too');
# Found in review: /metrics answers within about a second even when the
# database does not (its backends stopped here), with the gateway's own
# counters (before: after --timeout, and the connection dropped)
{
	my @pids = split /\n/, $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE usename = 'gw_login' AND state = 'idle'});
	ok(@pids > 0, 'the gateway has idle connections to stop');
	kill 'STOP', @pids;
	my $t0 = time();
	($code, $body) = http('GET', '/metrics');
	my $took = time() - $t0;
	kill 'CONT', @pids;
	is($code, 200, '/metrics while the database does not answer: 200');
	ok($took < 4, "... at once ($took s, the gateway's --timeout is 5 s)");
	like($body, qr/^pushsource_gateway_pool_connections 2\n(?:.*\n)*# pushsource: the database's counters are not available/m,
		'... with the gateway\'s own counters and a word on the database\'s');
}

my $logtext = slurp_file($log);
like($logtext, qr/^\S+Z POST \/ingest 200 [\d.]+ms records=3$/m, 'one log line per request, with its records');
like($logtext, qr/^\S+Z POST \/ingest 499 /m, 'the cut-off request is logged as 499');

########################################################################
# Pipelining.  A request joins a busy connection's pipeline only while
# that connection's current request is moving (started within
# --pipeline-window); each is its own transaction, and a failed one does
# not fail its neighbours.  Here a huge window forces pipelining behind a
# request that waits for a lock, and the default one keeps requests out
# of such a pipeline.
########################################################################
# helper gateways, each with its own port: (harness, port)
sub side_gateway
{
	my ($offset, @opts) = @_;
	my $p = $port + $offset;
	my $h = start([ $gateway_bin, '--listen', "127.0.0.1:$p", '--db', $db, '--timeout', '30', '--quiet', @opts ],
		'>>', $log, '2>>', $log);
	for (1 .. 300)
	{
		last if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p");
		select(undef, undef, undef, 0.05);
	}
	return ($h, $p);
}
# send_to(port, path, body, header): a curl in the background; [harness, \output]
sub send_to
{
	my ($p, $path, $body, $header) = @_;
	my $out = '';
	my $h = start([ 'curl', '-s', '-w', "\n%{http_code}", '-H', $header, '-H', $json_ct,
		'--data-binary', $body, "http://127.0.0.1:$p$path" ], '>', \$out);
	return [ $h, \$out ];
}
# reply(sent): wait for it; (status, decoded body)
sub reply
{
	my ($sent) = @_;
	$sent->[0]->finish;
	my $out = ${ $sent->[1] };
	$out =~ s/\n(\d{3})$//;
	return ($1 // 0, decode($out));
}
# pool_gauges(port): "sent/queued" from /metrics
sub pool_gauges
{
	my ($p) = @_;
	my $out = '';
	run([ 'curl', '-s', "http://127.0.0.1:$p/metrics" ], '>', \$out);
	my ($sent) = $out =~ /^pushsource_gateway_pool_requests_sent (\d+)$/m;
	my ($queued) = $out =~ /^pushsource_gateway_pool_requests_queued (\d+)$/m;
	return ($sent // '?') . '/' . ($queued // '?');
}
sub wait_gauges
{
	my ($p, $want) = @_;
	my $got = '';
	for (1 .. 600)
	{
		$got = pool_gauges($p);
		last if $got eq $want;
		select(undef, undef, undef, 0.05);
	}
	return $got;
}
# a session holding a lock: (harness, \input)
sub locker
{
	my ($sql) = @_;
	my ($lin, $lout) = ('', '');
	my $h = start([ "$bindir/psql", '-X', '-A', '-t', '-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
		'<', \$lin, '>', \$lout);
	$lin .= "$sql; SELECT 'locked';\n";
	pump $h until $lout =~ /locked/;
	return ($h, \$lin, \$lout);
}
sub waiting_backends
{
	my ($n, $event) = @_;
	$node->poll_query_until('postgres',
		qq{SELECT count(*) = $n FROM pg_stat_activity WHERE application_name = 'pushsource_gateway' AND wait_event = '$event'})
	  or die "never $n gateway backends waiting on $event";
}
my $rec = sub { qq({"workspace_name": "prod", "records": {"transactions": [{"record": {"user_id": "$_[0]", "timestamp": "2022-01-04T00:00:00Z", "amount": $_[1]}}]}}) };

my ($pgw_port);
($pgw, $pgw_port) = side_gateway(2, '--pool', '1', '--pipeline-window', '600000');
{
	my ($lh, $lin) = locker('BEGIN; LOCK TABLE pushsource_source.transactions IN EXCLUSIVE MODE');
	my %sent;
	# the first holds the one connection: it waits for the lock
	$sent{first} = send_to($pgw_port, '/ingest', $rec->('C_p1', 1), auth('app_writer'));
	waiting_backends(1, 'relation');
	$sent{read} = send_to($pgw_port, '/api/v1/feature-service/get-features', $get, auth('app_reader'));
	$sent{unknown} = send_to($pgw_port, '/api/v1/feature-service/get-features',
		q({"params": {"feature_service_name": "no_such_service", "workspace_name": "prod", "join_key_map": {"user_id": "C2"}}}), auth('app_reader'));
	$sent{bad} = send_to($pgw_port, '/ingest', $rec->('C_p_bad', '"many"'), auth('app_writer'));
	$sent{last} = send_to($pgw_port, '/ingest', $rec->('C_p2', 2), auth('app_writer'));
	is(wait_gauges($pgw_port, '5/0'), '5/0',
		'with --pool 1 and a huge --pipeline-window, four more requests are sent behind the waiting one');
	$$lin .= "COMMIT;\n\\q\n";
	$lh->finish;
	my %got = map { $_ => [ reply($sent{$_}) ] } keys %sent;
	is($got{first}[0], 200, '... the one that held the connection: 200');
	is($got{read}[0], 200, '... a read behind it: 200');
	is($got{read}[1]{result}{features}[0], '12.25', '... with its features');
	is($got{unknown}[0], 404, '... a read that fails behind it: 404');
	like($got{unknown}[1]{message}, qr/no_such_service/, '... with its error described');
	is($got{bad}[0], 400, '... a bad record: 400');
	ok(exists $got{bad}[1]{recordErrors}, '... with recordErrors');
	is($got{last}[0], 200, '... and the push after the failures: 200');
	is(count_rows(q{SELECT string_agg(user_id, ',' ORDER BY user_id) FROM pushsource_source.transactions WHERE user_id LIKE 'C\_p%'}),
		'C_p1,C_p2', '... each its own transaction: both good pushes written, the bad one not');
	is(pool_gauges($pgw_port), '0/0', 'nothing left sent or queued after the replies');
}
$pgw->signal('TERM');
ok($pgw->finish, 'the pipelining gateway exits 0');

# The default window: a request does not join a pipeline whose current
# request is waiting (for a lock); it waits for a free connection instead.
($pgw, $pgw_port) = side_gateway(2, '--pool', '1');
{
	my ($lh, $lin) = locker('BEGIN; LOCK TABLE pushsource_source.transactions IN EXCLUSIVE MODE');
	my $first = send_to($pgw_port, '/ingest', $rec->('C_w1', 1), auth('app_writer'));
	waiting_backends(1, 'relation');
	my $read = send_to($pgw_port, '/api/v1/feature-service/get-features', $get, auth('app_reader'));
	is(wait_gauges($pgw_port, '1/1'), '1/1',
		'default --pipeline-window: a read does not join the pipeline of a push waiting for a lock; it is queued');
	$$lin .= "COMMIT;\n\\q\n";
	$lh->finish;
	is((reply($first))[0], 200, '... the push: 200 once the lock is gone');
	is((reply($read))[0], 200, '... the read: 200 on the connection it waited for');
}
$pgw->signal('TERM');
ok($pgw->finish, 'that gateway exits 0 too');

# A failed request's error is described on the first connection free, not
# behind the requests pipelined after it.  Pushes wait on advisory locks
# by their amount (a trigger); one of R's records fails at commit.
$node->safe_psql('postgres', q{
CREATE FUNCTION public.wait_by_amount() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF NEW.amount >= 1000 THEN PERFORM pg_advisory_xact_lock(NEW.amount::bigint); END IF;
  RETURN NEW;
END $f$;
CREATE TRIGGER aa_wait_by_amount BEFORE INSERT ON pushsource_source.transactions
  FOR EACH ROW EXECUTE FUNCTION public.wait_by_amount();
CREATE FUNCTION public.refuse_666() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF NEW.amount = 666 THEN
    RAISE EXCEPTION 'amount 666 is refused at commit' USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $f$;
CREATE CONSTRAINT TRIGGER refuse_666 AFTER INSERT ON pushsource_source.transactions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.refuse_666();
});
($pgw, $pgw_port) = side_gateway(2, '--pool', '2', '--pipeline-window', '600000');
{
	my ($lh, $lin, $lout) = locker('SELECT pg_advisory_lock(1001), pg_advisory_lock(1002), pg_advisory_lock(1003)');
	my $s0 = send_to($pgw_port, '/ingest', $rec->('C_d0', 1001), auth('app_writer'));
	waiting_backends(1, 'advisory');
	my $r = send_to($pgw_port, '/ingest',
		q({"workspace_name": "prod", "records": {"transactions": [
		   {"record": {"user_id": "C_dr", "timestamp": "2022-01-04T00:00:00Z", "amount": 1002}},
		   {"record": {"user_id": "C_dr", "timestamp": "2022-01-04T00:00:01Z", "amount": 666}}]}}), auth('app_writer'));
	waiting_backends(2, 'advisory');
	my $s = send_to($pgw_port, '/ingest', $rec->('C_ds', 1003), auth('app_writer'));
	is(wait_gauges($pgw_port, '3/0'), '3/0', 'two connections busy, a third push pipelined behind the newer one (R)');
	my $unlock = sub { $$lin .= "SELECT 'unlocked', pg_advisory_unlock($_[0]);\n"; pump $lh until $$lout =~ /unlocked\|t/; $$lout = ''; };
	$unlock->(1001);
	is((reply($s0))[0], 200, 'the first connection frees: its push 200');
	$unlock->(1002);
	my ($code, $body) = reply($r);
	is($code, 400, 'R fails at commit and is answered (described on the free connection) ...');
	like($body->{requestError}{errorMessage}, qr/refused at commit/, '... with its error');
	is(pool_gauges($pgw_port), '1/0', '... while the push pipelined behind it still waits');
	$$lin .= "SELECT pg_advisory_unlock(1003);\n\\q\n";
	$lh->finish;
	is((reply($s))[0], 200, 'then that push: 200');
	is(count_rows(q{SELECT string_agg(user_id, ',' ORDER BY user_id) FROM pushsource_source.transactions WHERE user_id LIKE 'C\_d%'}),
		'C_d0,C_ds', 'the two good pushes are written, R is not');
}
$pgw->signal('TERM');
ok($pgw->finish, 'that gateway exits 0 too');
$node->safe_psql('postgres', q{DROP TRIGGER aa_wait_by_amount ON pushsource_source.transactions; DROP FUNCTION public.wait_by_amount()});

# A commit that fails after the statement returned its rows (a deferred
# constraint trigger): the reply is the error, never 200 -- a gateway
# that answered from the statement's rows would report a push that was
# rolled back.
# (the trigger refuse_666 of the test above is still in place)
($code, $body) = http('POST', '/ingest',
	q({"workspace_name": "prod", "records": {"transactions": [{"record": {"user_id": "C_666", "timestamp": "2022-01-04T00:00:00Z", "amount": 666}}]}}),
	auth('app_writer'), $json_ct);
is($code, 400, 'a push whose commit fails is answered with the error, not 200');
like(decode($body)->{requestError}{errorMessage}, qr/refused at commit/, '... naming it');
is(count_rows(q{SELECT count(*) FROM pushsource_source.transactions WHERE user_id = 'C_666'}), '0',
	'... and nothing was written');
$node->safe_psql('postgres', q{DROP TRIGGER refuse_666 ON pushsource_source.transactions; DROP FUNCTION public.refuse_666()});

########################################################################
# Revoking a key
########################################################################
$node->safe_psql('postgres', q{SELECT pushsource.fs_revoke_api_key(id) FROM pushsource.api_keys WHERE role = 'app_reader'::regrole});
($code, $body) = http('POST', '/api/v1/feature-service/get-features', $get, auth('app_reader'), $json_ct);
is($code, 401, 'a revoked key is refused on its next request: 401');
like(decode($body)->{message}, qr/has been revoked/, '... saying so');
$key{app_reader} = $node->safe_psql('postgres', q{SELECT pushsource.fs_create_api_key('app_reader', 'tap 2')});

########################################################################
# 503: a read-only database; the server down, then back
########################################################################
$ro = start([ $gateway_bin, '--listen', "127.0.0.1:" . ($port + 1) , '--db',
	"$db options='-c default_transaction_read_only=on'", '--quiet' ], '>>', $log, '2>>', $log);
for (1 .. 300)
{
	last if IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . ($port + 1));
	select(undef, undef, undef, 0.05);
}
{
	my $out = '';
	run([ 'curl', '-s', '-w', "\n%{http_code}", '-H', auth('app_writer'), '--data-binary', $ingest,
		'http://127.0.0.1:' . ($port + 1) . '/ingest' ], '>', \$out);
	like($out, qr/\n503$/, 'a push to a read-only database: 503');
	like($out, qr/read-only transaction/, '... saying why');
}
$ro->signal('TERM');
$ro->finish;

# in_flight(user_id): a psql session locks the source table, then an
# /ingest of one record for user_id is sent and waits for that lock.
# Returns the locker (write "COMMIT;" to its input, then finish it), its
# input, and the curl harness with its output.
sub in_flight
{
	my ($user) = @_;
	my ($lin, $lout, $lerr) = ('', '', '');
	my $locker = start([ "$bindir/psql", '-X', '-A', '-t', '-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
		'<', \$lin, '>', \$lout, '2>', \$lerr);
	$lin .= "BEGIN; LOCK TABLE pushsource_source.transactions IN EXCLUSIVE MODE; SELECT 'locked';\n";
	pump $locker until $lout =~ /locked/;
	my $out = '';
	my $curl = start([ 'curl', '-s', '-w', "\n%{http_code}", '-H', auth('app_writer'), '--data-binary',
		qq({"workspace_name": "prod", "records": {"transactions": [{"record": {"user_id": "$user", "timestamp": "2022-01-03T00:00:00Z", "amount": 1}}]}}),
		"http://127.0.0.1:$port/ingest" ], '>', \$out);
	$node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'pushsource_gateway' AND wait_event_type = 'Lock'})
	  or die 'the request never waited for the lock';
	return ($locker, \$lin, $curl, \$out);
}

# a request in flight, held by a lock, when the server stops.  An
# immediate stop: under a fast one the locker's backend could exit and
# release the lock before the waiting push's backend took its own SIGTERM,
# letting that push commit (seen once: 200 and the row written).
my ($locker, $lin, $inflight, $inflight_out) = in_flight('C_inflight');
$node->stop('immediate');
$locker->finish;
$inflight->finish;
like($$inflight_out, qr/\n503$/, 'the request in flight when the server stopped: 503');
($code, $body) = http('GET', '/health');
is($code, 503, '/health is 503 while the database is down');
($code, $body) = http('GET', '/metrics');
is($code, 200, '/metrics is 200 while the database is down');
like($body, qr/^pushsource_gateway_requests_total.*\n.*^# pushsource: the database's counters are not available/ms,
	'... with the gateway\'s own counters, and a word on the database\'s');
($code, $body) = http('POST', '/api/v1/feature-service/get-features', $get, auth('app_reader'), $json_ct);
is($code, 503, 'get-features while the database is down: 503');
is(decode($body)->{code}, 14, '... with gRPC code 14 (UNAVAILABLE)');
($code, $body) = http('POST', '/ingest', $ingest, auth('app_writer'), $json_ct);
is($code, 503, '/ingest while the database is down: 503');
is(decode($body)->{requestError}{errorType}, 'ServiceUnavailableError', '... in the ingest shape');
($code, $body) = http('POST', '/push', $driver_push, bearer('app_writer'), $json_ct);
like(decode($body)->{detail}, qr/database is unreachable/, "... and Feast's /push in Feast's shape");
$node->start;
($code, $body) = http('POST', '/api/v1/feature-service/get-features', $get, auth('app_reader'), $json_ct);
is($code, 200, 'the gateway recovers by itself: get-features 200 once the server is back');
($code, $body) = http('POST', '/ingest', q({"workspace_name": "prod", "records": {"transactions": [{"record": {"user_id": "C_after", "timestamp": "2022-01-03T00:00:00Z", "amount": 1}}]}}),
	auth('app_writer'), $json_ct);
is($code, 200, '... and /ingest 200');
is(count_rows(q{SELECT string_agg(user_id, ',' ORDER BY user_id) FROM pushsource_source.transactions WHERE user_id IN ('C_inflight', 'C_after')}),
	'C_after', 'the request cut by the stop wrote nothing; the one after did');

# a server that stops answering (its backends frozen: no statement_timeout
# can fire): the gateway gives up after --timeout + 1 s with 503, drops the
# connection and serves again once the server answers
my @frozen = split /\n/, $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE application_name = 'pushsource_gateway'});
ok(@frozen > 0, 'the gateway has connections to freeze');
kill 'STOP', @frozen;
($code, $body) = http('POST', '/ingest', q({"workspace_name": "prod", "records": {"transactions": [{"record": {"user_id": "C_hung", "timestamp": "2022-01-03T00:00:00Z", "amount": 1}}]}}),
	auth('app_writer'), $json_ct);
kill 'CONT', @frozen;
is($code, 503, 'a statement the server never answers: 503 after the deadline');
like(decode($body)->{requestError}{errorMessage}, qr/did not answer in time/, '... saying so');
like(slurp_file($log), qr/did not answer a statement in 5 s; dropping the connection/, '... and the log says so');
($code, $body) = http('POST', '/api/v1/feature-service/get-features', $get, auth('app_reader'), $json_ct);
is($code, 200, 'the gateway serves again once the server answers');

########################################################################
# SIGTERM: the request in flight finishes, then the gateway exits 0
########################################################################
($locker, $lin, $inflight, $inflight_out) = in_flight('C_term');
$gw->signal('TERM');
$$lin .= "COMMIT;\n\\q\n";
$locker->finish;
$inflight->finish;
like($$inflight_out, qr/\n200$/, 'the request in flight at SIGTERM finished: 200');
ok($gw->finish, 'the gateway exited 0 after SIGTERM');
is(count_rows(q{SELECT count(*) FROM pushsource_source.transactions WHERE user_id = 'C_term'}), '1',
	'the request in flight at SIGTERM was written');
like(slurp_file($log), qr/SIGTERM: finishing 1 request\(s\) in flight/, 'the log says so');

$node->stop;
done_testing();

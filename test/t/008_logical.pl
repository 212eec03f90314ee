# Serving nodes fed by logical replication.
#
# One ingest node takes pushes; two serving nodes subscribe to its
# publication of the source tables (publish = 'insert') and build their own
# stores: serve_all has every view of the ingest node, serve_some a subset.
# 1. Rows pushed before the subscription (initial sync) and 100k records
#    pushed through fs_push, INSERT and COPY give every serving node the
#    stores the ingest node has (it is the single-node run on the same
#    input): online values, offline rows, aggregates, a point-in-time join.
#    A source without a log (log_offline => false) publishes its rows too.
#    A serving node queues one deferred fan-out event per applied
#    transaction and table, not one per row.
# 2. A serving node refuses local pushes; a push to one store of a
#    published source is refused on the ingest node.
# 3. fs_delete_keys on the ingest node reaches the serving nodes.
# 4. A serving node stopped mid-stream (immediate) catches up after its
#    restart with nothing lost and nothing applied twice.
# 5. fs_validate finds a subscribed source table that is not replicated.
# 6. The counters: the ingest node's and serve_all's (pushsource preloaded)
#    count every record, the serving node's as applied; serve_some (not
#    preloaded) says why it has none.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Spec;

my $ingest = PostgreSQL::Test::Cluster->new('ingest');
$ingest->init(allows_streaming => 'logical');
$ingest->append_conf('postgresql.conf', "timezone = 'UTC'\nshared_preload_libraries = 'pushsource'\npushsource.stat_max = 100\n");
$ingest->start;
my @serving;
for my $name ('serve_all', 'serve_some')
{
	my $n = PostgreSQL::Test::Cluster->new($name);
	$n->init;
	$n->append_conf('postgresql.conf', "timezone = 'UTC'\n");
	$n->append_conf('postgresql.conf', "shared_preload_libraries = 'pushsource'\ntrack_functions = 'all'\n") if $name eq 'serve_all';
	$n->start;
	push @serving, $n;
}
my ($serve_all, $serve_some) = @serving;

my $sources = q{
CREATE EXTENSION pushsource;
SET search_path = pushsource;
SELECT fs_create_entity('user', ARRAY['user_id']);
SELECT fs_create_push_source('clicks', 'user_id String, ts Timestamp, clicks Int64, amount Float64', 'ts'%s);
SELECT fs_create_push_source('nolog', 'user_id String, ts Timestamp, note String', 'ts', log_offline => false%s);
};
my %views = (
	clicks_last => q{SELECT pushsource.fs_create_feature_view('clicks_last', 'clicks', ARRAY['user'])},
	clicks_sum => q{SELECT pushsource.fs_create_feature_view('clicks_sum', 'clicks', ARRAY['user'],
    aggregations => ARRAY[pushsource.fs_agg('clicks', 'sum', '1 day'), pushsource.fs_agg('user_id', 'count', '6 hours'),
                          pushsource.fs_agg('amount', 'last', '1 day')], aggregation_interval => '1 hour')},
	clicks_cont => q{SELECT pushsource.fs_create_feature_view('clicks_cont', 'clicks', ARRAY['user'],
    aggregations => ARRAY[pushsource.fs_agg('amount', 'max', '2 hours'), pushsource.fs_agg('clicks', 'sum', '30 minutes')])},
	nolog_last => q{SELECT pushsource.fs_create_feature_view('nolog_last', 'nolog', ARRAY['user'])});

$ingest->safe_psql('postgres', sprintf($sources, '', ''));
$ingest->safe_psql('postgres', $views{$_}) for sort keys %views;
$serve_all->safe_psql('postgres', sprintf($sources, ', replicated => true', ', replicated => true'));
$serve_all->safe_psql('postgres', $views{$_}) for sort keys %views;
$serve_some->safe_psql('postgres', sprintf($sources, ', replicated => true', ', replicated => true'));
$serve_some->safe_psql('postgres', $views{$_}) for ('clicks_sum', 'nolog_last');

is($serve_all->safe_psql('postgres', q{
SELECT string_agg(name || '=' || replicated || '/' || (pushsource.fs_validate(name) ->> 'valid'), ' ' ORDER BY name)
  FROM pushsource.push_sources}), 'clicks=true/true nolog=true/true',
	'the serving node\'s sources are replicated and valid');

# pushed before anyone subscribes: the subscriptions' initial copy
$ingest->safe_psql('postgres', q{
SELECT pushsource.fs_push('clicks', '[{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "clicks": 1, "amount": 0.5},
                                      {"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "clicks": 2, "amount": 0.25}]');
SELECT pushsource.fs_push('nolog', '[{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "note": "first"}]');
CREATE PUBLICATION fs_pub FOR TABLE pushsource_source.clicks, pushsource_source.nolog,
    pushsource_internal.replicated_deletions WITH (publish = 'insert');
});
my $connstr = $ingest->connstr . ' dbname=postgres';
for my $n (@serving)
{
	my $sub = 'sub_' . $n->name;
	$n->safe_psql('postgres', "CREATE SUBSCRIPTION $sub CONNECTION '$connstr' PUBLICATION fs_pub");
	$n->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
	  or die "the initial sync of $sub did not finish";
}

sub catch_up
{
	$ingest->wait_for_catchup('sub_' . $_->name) for @serving;
}
catch_up();
is($serve_all->safe_psql('postgres', q{
SET pushsource.request_time = '2024-01-01 01:00+00';
SELECT pushsource.fs_get_online_features('clicks_last', '{"user_id": "u1"}') ->> 'clicks_last.clicks';
SELECT pushsource.fs_get_online_features('nolog_last', '{"user_id": "u1"}') ->> 'nolog_last.note';
SELECT count(*) FROM pushsource_source.nolog}), "2\n\n0",
	'the initial copy is fanned out (newest wins at equal times: the later row); a source without a log has nothing to copy');

# 100k records: fs_push in batches, INSERT ... SELECT, COPY
# record i (a format: %% is the modulo): 1000 users, 2 days, no two events
# of a user at the same time
my $gen = q{SELECT 'u' || (i * 7919 %% 1000) AS user_id,
       timestamptz '2024-01-01 00:00+00' + (i * 37 %% 172800) * interval '1 second' AS ts,
       (i %% 10)::bigint AS clicks, (i %% 100) / 4.0::float8 AS amount
  FROM generate_series(%d, %d) i};
$ingest->safe_psql('postgres', sprintf(q{
DO $$
BEGIN
    FOR b IN 0 .. 39 LOOP
        PERFORM pushsource.fs_push('clicks', (SELECT jsonb_agg(to_jsonb(g)) FROM (%s) g));
        COMMIT;
    END LOOP;
END
$$}, sprintf($gen, 1, 1000) =~ s/generate_series\(1, 1000\)/generate_series(b * 1000 + 1, b * 1000 + 1000)/r));
$ingest->safe_psql('postgres',
	'INSERT INTO pushsource_source.clicks (user_id, ts, clicks, amount) ' . sprintf($gen, 40001, 70000));
my $copyfile = File::Spec->rel2abs($ingest->basedir . '/clicks.copy');
$ingest->safe_psql('postgres',
	sprintf(q{COPY (%s) TO '%s'}, sprintf($gen, 70001, 100000), $copyfile));
$ingest->safe_psql('postgres', "COPY pushsource_source.clicks (user_id, ts, clicks, amount) FROM '$copyfile'");
$ingest->safe_psql('postgres', q{
INSERT INTO pushsource_source.nolog SELECT 'u' || (i % 1000), timestamptz '2024-01-01 00:00+00' + i * interval '1 minute', 'n' || i
  FROM generate_series(1, 5000) i});
is($ingest->safe_psql('postgres', q{SELECT count(*) FROM pushsource_source.clicks}), '100002',
	'the ingest node\'s log holds the 100k records and the first two');

# What each node serves, as text to compare: online values of every key,
# every offline row (without the node's own ingest order), a join.
my %check = (
	clicks_last => q{
SET pushsource.request_time = '2024-01-03 00:00+00';
SELECT md5(pushsource.fs_get_online_features('clicks_last',
    (SELECT jsonb_agg(jsonb_build_object('user_id', 'u' || i)) FROM generate_series(0, 1000) i))::text);
SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY t::text))
  FROM pushsource.fs_get_historical_features('clicks_last', '-infinity'::timestamptz, 'infinity')
       AS t(user_id text, ts timestamptz, clicks bigint, amount float8)},
	clicks_sum => q{
SET pushsource.request_time = '2024-01-02 12:00+00';
SELECT md5(pushsource.fs_get_online_features('clicks_sum',
    (SELECT jsonb_agg(jsonb_build_object('user_id', 'u' || i)) FROM generate_series(0, 1000) i))::text);
SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY t::text))
  FROM pushsource.fs_get_historical_features('clicks_sum', '-infinity'::timestamptz, 'infinity')
       AS t(user_id text, ts timestamptz, clicks bigint, amount float8)},
	clicks_cont => q{
SET pushsource.request_time = '2024-01-02 12:00+00';
SELECT md5(pushsource.fs_get_online_features('clicks_cont',
    (SELECT jsonb_agg(jsonb_build_object('user_id', 'u' || i)) FROM generate_series(0, 1000) i))::text)},
	nolog_last => q{
SET pushsource.request_time = '2024-01-05 00:00+00';
SELECT md5(pushsource.fs_get_online_features('nolog_last',
    (SELECT jsonb_agg(jsonb_build_object('user_id', 'u' || i)) FROM generate_series(0, 1000) i))::text);
SELECT count(*) FROM pushsource_source.nolog},
	join => q{
SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY t::text))
  FROM pushsource.fs_get_historical_features(
       $$SELECT 'u' || (i % 1000) AS user_id, timestamptz '2024-01-01 00:00+00' + i * interval '97 seconds' AS ts
           FROM generate_series(1, 2000) i$$, ARRAY['clicks_last', 'clicks_sum', 'clicks_cont'])
       AS t(user_id text, ts timestamptz, clicks_last__clicks bigint, clicks_last__amount float8,
            clicks_sum__clicks_sum_1d_1h bigint, clicks_sum__user_id_count_6h_1h bigint,
            clicks_sum__amount_last_1d_1h float8, clicks_cont__amount_max_2h_continuous float8,
            clicks_cont__clicks_sum_30m_continuous bigint)});
my %on = (serve_all => [sort keys %check], serve_some => ['clicks_sum', 'nolog_last']);

sub compare
{
	my ($when) = @_;
	my %expected = map { $_ => $ingest->safe_psql('postgres', $check{$_}) } keys %check;
	for my $n (@serving)
	{
		is($n->safe_psql('postgres', $check{$_}), $expected{$_}, $n->name . ": $_ as on the ingest node $when")
		  for @{ $on{ $n->name } };
	}
	return \%expected;
}
catch_up();
my $expected = compare('after 100k records');
# the comparison has something to compare: the figures are not empty
like($expected->{clicks_last}, qr/^[0-9a-f]{32}\n100002 [0-9a-f]{32}$/, 'clicks_last: 100002 offline rows');
like($expected->{nolog_last}, qr/^[0-9a-f]{32}\n0$/, 'nolog keeps no rows on the ingest node either');
is($serve_some->safe_psql('postgres', q{SELECT count(*) FROM pushsource.feature_views}), '2',
	'serve_some serves its subset only');
# and the values themselves, against plain SQL over the ingest node's log:
# windows (T - w, T] at T = 2024-01-03 00:00
my $by_sql = $ingest->safe_psql('postgres', q{
SELECT string_agg(format('%s %s %s', u, mx, sm), ' ' ORDER BY u)
  FROM (SELECT u, (SELECT max(amount) FROM pushsource_source.clicks
                    WHERE user_id = u AND ts > '2024-01-02 22:00+00' AND ts <= '2024-01-03 00:00+00') AS mx,
                  (SELECT sum(clicks) FROM pushsource_source.clicks
                    WHERE user_id = u AND ts > '2024-01-02 23:30+00' AND ts <= '2024-01-03 00:00+00') AS sm
          FROM unnest(ARRAY['u1', 'u2', 'u3', 'u500']) u) x});
is($serve_all->safe_psql('postgres', q{
SET pushsource.request_time = '2024-01-03 00:00+00';
SELECT string_agg(format('%s %s %s', u, f ->> 'clicks_cont.amount_max_2h_continuous',
                         f ->> 'clicks_cont.clicks_sum_30m_continuous'), ' ' ORDER BY u)
  FROM unnest(ARRAY['u1', 'u2', 'u3', 'u500']) u,
       LATERAL pushsource.fs_get_online_features('clicks_cont', jsonb_build_object('user_id', u)) f}),
	$by_sql, 'serve_all: continuous aggregates as plain SQL over the ingest node\'s log computes them');
like($by_sql, qr/^u1 \d/, '... which has values to compare');

# 2. local pushes to a replicated source are refused; one-store pushes to a published one too
my ($ret, $out, $err) = $serve_all->psql('postgres',
	q{SELECT pushsource.fs_push('clicks', '{"user_id": "x", "ts": "2024-01-01T00:00:00Z", "clicks": 1, "amount": 1}')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/55000: push source "clicks" is replicated: its rows come from the ingest node's publication/,
	'a serving node refuses a local push (55000), naming the source');
($ret, $out, $err) = $serve_all->psql('postgres',
	q{INSERT INTO pushsource_source.clicks VALUES ('x', '2024-01-01', 1, 1)});
like($err, qr/push source "clicks" is replicated/, '... and a local INSERT');
($ret, $out, $err) = $ingest->psql('postgres',
	q{SELECT pushsource.fs_push('clicks', '{"user_id": "x", "ts": "2024-01-01T00:00:00Z", "clicks": 1, "amount": 1}', mode => 'online')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/0A000: push source "clicks" is published for logical replication: a push to it must write both stores/,
	'the ingest node refuses a push to one store of a published source (0A000)');

# 3. key deletions reach the serving nodes: a view-level one (where the
# view exists) and a source-level one (the log and the views keyed by it)
$ingest->safe_psql('postgres', q{
SELECT pushsource.fs_delete_keys('clicks_sum', '[{"user_id": "u7"}]');
SELECT pushsource.fs_delete_keys('clicks', '[{"user_id": "u8"}, {"user_id": "u9"}]');
});
catch_up();
$expected = compare('after key deletions');
is($serve_all->safe_psql('postgres', q{
SET pushsource.request_time = '2024-01-02 12:00+00';
SELECT pushsource.fs_get_online_features('clicks_sum', '[{"user_id": "u7"}, {"user_id": "u8"}, {"user_id": "u10"}]')
       -> 0 ->> 'clicks_sum_1d_1h', '/', 
       (SELECT count(*) FROM pushsource_source.clicks WHERE user_id IN ('u8', 'u9')), '/',
       (SELECT string_agg(object || ':' || state, ' ' ORDER BY id) FROM pushsource.jobs WHERE kind = 'deletion')}),
	"|/|0|/|clicks_sum:succeeded clicks:succeeded",
	'serve_all: u7 gone from clicks_sum, u8 and u9 from the log; the deletions are its jobs');

# 4. a serving node stopped mid-stream catches up, nothing lost or applied twice
my ($rows_before) = $expected->{clicks_sum} =~ /\n(\d+) /;
my $log_before = $serve_some->safe_psql('postgres', q{SELECT count(*) FROM pushsource_source.clicks});
my $bg = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, '-c', sprintf(q{
DO $$
BEGIN
    FOR b IN 0 .. 199 LOOP
        PERFORM pushsource.fs_push('clicks', (SELECT jsonb_agg(to_jsonb(g)) FROM (%s) g));
        COMMIT;
        PERFORM pg_sleep(0.01);
    END LOOP;
END
$$}, sprintf($gen, 1, 1) =~ s/generate_series\(1, 1\)/generate_series(200000 + b * 50, 200000 + b * 50 + 49)/r) ],
	'>', \my $bg_out, '2>', \my $bg_err);
$serve_some->poll_query_until('postgres',
	"SELECT count(*) >= $log_before + 1000 FROM pushsource_source.clicks")
  or die 'serve_some received nothing of the stream';
note('the stream ' . ($bg->pumpable ? 'is still running' : 'has ended') . ' when serve_some stops');
$serve_some->stop('immediate');
$serve_some->start;
ok($bg->finish, 'the stream of 200 pushes ran') or diag($bg_err);
catch_up();
$expected = compare('after a serving node\'s immediate stop and restart mid-stream');
my ($rows_after) = $expected->{clicks_sum} =~ /\n(\d+) /;
is($rows_after - $rows_before, 10000, '... which hold the 10,000 streamed records');

# 5. a subscribed table of a source that is not replicated: fs_validate says so
$serve_some->safe_psql('postgres', 'CREATE DATABASE other');
$serve_some->safe_psql('other', sprintf($sources, '', ''));
$ingest->safe_psql('postgres', 'CREATE PUBLICATION fs_pub_nolog FOR TABLE pushsource_source.nolog');
$serve_some->safe_psql('other', "CREATE SUBSCRIPTION sub_other CONNECTION '$connstr' PUBLICATION fs_pub_nolog");
is($serve_some->safe_psql('other', q{SELECT pushsource.fs_validate('nolog')}),
	'{"kind": "push_source", "name": "nolog", "valid": false, "problems": ["push source \"nolog\" is not replicated, but a subscription fills pushsource_source.nolog: its views never see the rows it applies (fs_drop it and create it again with replicated => true before subscribing)"]}',
	'fs_validate: a subscribed source table that is not replicated is a problem');
$serve_some->safe_psql('other', 'DROP SUBSCRIPTION sub_other');

# 6. counters
my $counts = q{SELECT records || ' ' || applied || ' ' || pushes FROM pushsource.stat_sources WHERE source = 'clicks'};
my ($ingest_records, $ingest_applied) = split / /, $ingest->safe_psql('postgres', $counts);
is("$ingest_records $ingest_applied", '110002 0', 'the ingest node counted every record it took, none applied');
my ($all_records, $all_applied, $all_pushes) = split / /, $serve_all->safe_psql('postgres', $counts);
is("$all_records $all_applied", '110002 110002', 'serve_all counted the same records, all applied by replication');
ok($all_pushes > 0 && $all_pushes <= 1 + 40 + 1 + 1 + 200 + 2,
	"... in $all_pushes applied transactions (at most one per committed push)");
is($serve_all->safe_psql('postgres', q{
SELECT string_agg(feature_view || ':' || offline_rows, ' ' ORDER BY feature_view) FROM pushsource.stat_feature_views}),
	'clicks_cont:110002 clicks_last:110002 clicks_sum:110002 nolog_last:5000',
	'serve_all counted every row written to its views\' offline stores (nolog\'s first row was never sent)');
# the same counters through prometheus-postgres-exporter and the query
# file README points to
my $exporter_port = PostgreSQL::Test::Cluster::get_free_port();
my $queries = File::Spec->rel2abs('test/prometheus/queries.yaml');
local $ENV{DATA_SOURCE_NAME} = sprintf('host=%s port=%d dbname=postgres sslmode=disable',
	$ingest->host, $ingest->port);
my $exporter = IPC::Run::start(
	[ 'prometheus-postgres-exporter', "--extend.query-path=$queries",
		'--disable-default-metrics', '--disable-settings-metrics',
		"--web.listen-address=127.0.0.1:$exporter_port" ],
	'>', \my $exp_out, '2>', \my $exp_err);
my $scraped = '';
for (1 .. 100)
{
	$scraped = `curl -s http://127.0.0.1:$exporter_port/metrics`;
	last if $scraped =~ /^pushsource_source_records/m;
	sleep 0.2;
}
$exporter->kill_kill;
like($scraped, qr/^pushsource_source_records\{[^}]*source="clicks"[^}]*\} 110002$/m,
	'prometheus-postgres-exporter with test/prometheus/queries.yaml shows the records counter')
  or diag($exp_err);
like($scraped, qr/^pushsource_feature_view_offline_rows\{[^}]*feature_view="clicks_last"[^}]*\} 110002$/m,
	'... and the views\' rows');

($ret, $out, $err) = $serve_some->psql('postgres', 'SELECT * FROM pushsource.stat_sources',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/55000: pushsource.stat_sources needs pushsource in shared_preload_libraries/,
	'without pushsource preloaded the counters say why they are not there (55000)');
# (from sql/operations.sql, whose server preloads pushsource) the request
# time of maintenance is checked even when it was SET before the library
# was loaded: infinity would have deleted every online row
($ret, $out, $err) = $serve_some->psql('postgres', q{
SET pushsource.request_time = 'infinity';
SELECT pushsource_internal._now() = now() AS now_not_infinity});
is($out, 't', 'a request_time SET before the library loads is checked when it loads: not infinity');
like($err, qr/WARNING:  invalid value for parameter "pushsource.request_time": "infinity"/, '... with a WARNING');

# Found in review: a FOR ALL TABLES publication (change-data capture) is
# not one for serving nodes: a push to one store and a source without a log
# behave there as without it (before: refused with 0A000, and the log-less
# source wrote its rows to the table for decoding)
$ingest->safe_psql('postgres', q{
SELECT pushsource.fs_create_push_source('cdc_src', 'user_id String, ts Timestamp, v Int64', 'ts', log_offline => false);
SELECT pushsource.fs_create_feature_view('cdc_fv', 'cdc_src', ARRAY['user']);
CREATE PUBLICATION cdc FOR ALL TABLES;
SELECT pg_create_logical_replication_slot('cdc_peek', 'test_decoding');
});
is($ingest->safe_psql('postgres', q{
SELECT pushsource.fs_push('cdc_src', '{"user_id": "c1", "ts": "2024-01-01T00:00:00Z", "v": 1}', mode => 'online') ->> 'records';
SELECT pushsource.fs_push('cdc_src', '{"user_id": "c1", "ts": "2024-01-01T01:00:00Z", "v": 2}') ->> 'records'}),
	"1\n1", 'under a FOR ALL TABLES publication a one-store push is accepted');
is($ingest->safe_psql('postgres', q{
SELECT count(*) FROM pg_logical_slot_peek_changes('cdc_peek', NULL, NULL) WHERE data LIKE '%cdc_src%'}), '0',
	'... and a log-less source writes nothing for decoding');
$ingest->safe_psql('postgres', q{SELECT pg_drop_replication_slot('cdc_peek'); DROP PUBLICATION cdc;});

# Found in review: pushsource.stat_max bounds the counted objects (100 on
# the ingest node; before, the table grew into the spare shared memory),
# and those of a dropped database make room
$ingest->safe_psql('postgres', 'CREATE DATABASE many');
$ingest->safe_psql('many', q{
CREATE EXTENSION pushsource;
DO $$
BEGIN
    FOR i IN 1 .. 120 LOOP
        PERFORM pushsource.fs_create_push_source('s' || i, 'k String, ts Timestamp', 'ts');
        PERFORM pushsource.fs_push('s' || i, '{"k": "a", "ts": "2024-01-01T00:00:00Z"}');
        COMMIT;
    END LOOP;
END
$$});
my $counted = $ingest->safe_psql('many', q{SELECT count(*) FILTER (WHERE records > 0) FROM pushsource.stat_sources});
ok($counted > 0 && $counted < 100, "stat_max = 100: $counted of the 120 sources counted (with the other database's)");
ok($ingest->safe_psql('many', q{SELECT pushsource_internal._stat_dropped()}) > 0, '... the others\' counts dropped');
$ingest->safe_psql('postgres', q{
SELECT pushsource.fs_create_push_source('after_full', 'k String, ts Timestamp', 'ts');
SELECT pushsource.fs_push('after_full', '{"k": "a", "ts": "2024-01-01T00:00:00Z"}')});
is($ingest->safe_psql('postgres', q{SELECT records FROM pushsource.stat_sources WHERE source = 'after_full'}), '0',
	'a source pushed to while the table is full is not counted');
$ingest->safe_psql('postgres', 'DROP DATABASE many');
$ingest->safe_psql('postgres', q{SELECT pushsource.fs_push('after_full', '{"k": "b", "ts": "2024-01-01T00:00:00Z"}')});
is($ingest->safe_psql('postgres', q{SELECT records FROM pushsource.stat_sources WHERE source = 'after_full'}), '1',
	'... and is once a dropped database\'s counters made room');

# Found in review: a serving node queued one deferred fan-out event per
# applied row (the after-trigger queue grew with every row of the apply
# transaction, and of the initial copy); now one per transaction and
# table.  Counted with track_functions = all on serve_all: a clean restart
# writes the workers' counters out.  Three transactions: an INSERT of 3000
# rows and an fs_push of 2 into clicks, an INSERT of 500 into nolog.  The
# WHEN clause runs for every row inserted: clicks' 3002, and the one row of
# nolog's 500 that its event deletes (the others are never inserted).
$serve_all->restart;
$serve_all->safe_psql('postgres', 'SELECT pg_stat_reset()');
$ingest->safe_psql('postgres', q{
INSERT INTO pushsource_source.clicks (user_id, ts, clicks, amount)
SELECT 'e' || (i % 10), timestamptz '2024-01-04 00:00+00' + i * interval '1 second', 1, 1
  FROM generate_series(1, 3000) i});
$ingest->safe_psql('postgres', q{
SELECT pushsource.fs_push('clicks', '[{"user_id": "e1", "ts": "2024-01-05T00:00:00Z", "clicks": 2, "amount": 1},
                                      {"user_id": "e2", "ts": "2024-01-05T00:00:00Z", "clicks": 3, "amount": 1}]')});
$ingest->safe_psql('postgres', q{
INSERT INTO pushsource_source.nolog
SELECT 'e' || (i % 10), timestamptz '2024-01-05 00:00+00' + i * interval '1 minute', 'x' || i FROM generate_series(1, 500) i});
catch_up();
$serve_all->restart;
is($serve_all->safe_psql('postgres', q{
SELECT string_agg(funcname || '=' || calls, ' ' ORDER BY funcname) FROM pg_stat_user_functions
 WHERE schemaname = 'pushsource_internal' AND funcname IN ('_push_replicated', '_replicated_event')}),
	'_push_replicated=3 _replicated_event=3003',
	'serve_all: one deferred fan-out event per applied transaction and table, not one per row');
# e1's newest: the fs_push at 2024-01-05 (2 clicks); nolog's newest of e0
# is row 500 (500 % 10 = 0), at 00:00 + 500 minutes
is($serve_all->safe_psql('postgres', q{
SET pushsource.request_time = '2024-01-05 12:00+00';
SELECT (SELECT count(*) FROM pushsource_store.clicks_last_offline WHERE user_id LIKE 'e%'),
       pushsource.fs_get_online_features('clicks_last', '{"user_id": "e1"}') ->> 'clicks_last.clicks',
       (SELECT count(*) FROM pushsource_store.nolog_last_offline WHERE user_id LIKE 'e%'),
       pushsource.fs_get_online_features('nolog_last', '{"user_id": "e0"}') ->> 'nolog_last.note',
       (SELECT count(*) FROM pushsource_source.nolog)}),
	'3002|2|500|x500|0', '... and every row of the three is fanned out; nolog keeps none');

$_->stop for @serving;
$ingest->stop;
done_testing();

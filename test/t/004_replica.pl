# A streaming replica serves reads.
#
# Pushes on the primary reach a hot standby; there, online reads (a view and
# a service), aggregates and point-in-time joins return what the primary
# returns; a push, a key deletion and maintenance are refused as read-only
# (25006), naming what was refused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "timezone = 'UTC'\n");
$primary->start;
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', q{
CREATE EXTENSION pushsource;
SET search_path = pushsource;
SELECT fs_create_entity('user', ARRAY['user_id']);
SELECT fs_create_push_source('clicks', 'user_id text, ts timestamptz, clicks int8', 'ts');
SELECT fs_create_feature_view('clicks_last', 'clicks', ARRAY['user']);
SELECT fs_create_feature_view('clicks_sum', 'clicks', ARRAY['user'],
    aggregations => ARRAY[fs_agg('clicks', 'sum', '1 day')], aggregation_interval => '1 hour');
SELECT fs_create_feature_view('clicks_cont', 'clicks', ARRAY['user'],
    aggregations => ARRAY[fs_agg('clicks', 'sum', '1 hour')]);
SELECT fs_create_feature_service('clicks_svc', ARRAY['clicks_last', 'clicks_sum']);
SELECT fs_push('clicks', '[{"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "clicks": 1},
                           {"user_id": "u1", "ts": "2024-01-01T11:00:00Z", "clicks": 2},
                           {"user_id": "u2", "ts": "2024-01-01T11:30:00Z", "clicks": 4}]');
});
$primary->wait_for_catchup($standby);

my $reads = q{
SET pushsource.request_time = '2024-01-01 12:00+00';
SELECT pushsource.fs_get_online_features('clicks_svc', '[{"user_id": "u1"}, {"user_id": "u2"}, {"user_id": "u3"}]');
SELECT pushsource.fs_get_online_features('clicks_cont', '[{"user_id": "u1"}, {"user_id": "u2"}]');
SELECT * FROM pushsource.fs_get_historical_features(
    $$SELECT * FROM (VALUES ('u1', '2024-01-01 10:30+00'::timestamptz), ('u2', '2024-01-01 12:00+00')) s(user_id, ts)$$,
    ARRAY['clicks_last', 'clicks_sum', 'clicks_cont'])
    AS t(user_id text, ts timestamptz, clicks_last__clicks int8, clicks_sum__clicks_sum_1d_1h int8,
         clicks_cont__clicks_sum_1h_continuous int8) ORDER BY 1};

# Worked out by hand: at 12:00, u1's newest is 11:00's 2, its 1-day sum
# 1 + 2 = 3; u2 has 4; u3 nothing.  Continuous 1 hour (11:00, 12:00]: u1's
# 11:00 is out, u2's 11:30 is in.  At 10:30 u1 has 10:00's 1; its tiles end
# at 10:00, so the sum is empty; the continuous hour (09:30, 10:30] holds 1.
my $expected = join("\n",
	'[{"clicks_last.clicks": 2, "clicks_sum.clicks_sum_1d_1h": 3}, '
	  . '{"clicks_last.clicks": 4, "clicks_sum.clicks_sum_1d_1h": 4}, '
	  . '{"clicks_last.clicks": null, "clicks_sum.clicks_sum_1d_1h": null}]',
	'[{"clicks_cont.clicks_sum_1h_continuous": null}, {"clicks_cont.clicks_sum_1h_continuous": 4}]',
	'u1|2024-01-01 10:30:00+00|1||1',
	'u2|2024-01-01 12:00:00+00|4|4|4');
is($primary->safe_psql('postgres', $reads), $expected, 'the primary serves the pushed values');
is($standby->safe_psql('postgres', $reads), $expected, 'the standby serves the same');

# A push on the standby is refused.
my ($ret, $stdout, $stderr) = $standby->psql('postgres', q{
\set VERBOSITY verbose
SELECT pushsource.fs_push('clicks', '[{"user_id": "u1", "ts": "2024-01-01T11:59:00Z", "clicks": 50}]')});
isnt($ret, 0, 'a push on the standby fails');
like($stderr, qr/ERROR:  25006: cannot push to push source "clicks" in a read-only transaction\n.*This server is a standby.*\n.*Push to the primary/,
	'as a read-only transaction (25006), naming the source and the standby');

# So are the operations, which could not record their run either.
($ret, $stdout, $stderr) = $standby->psql('postgres', q{
SELECT pushsource.fs_delete_keys('clicks_last', '[{"user_id": "u1"}]')});
like($stderr, qr/ERROR:  cannot run the deletion of feature view "clicks_last" in a read-only transaction\n.*This server is a standby.*\n.*Run it on the primary/,
	'fs_delete_keys on the standby is refused, naming the view and the standby');
($ret, $stdout, $stderr) = $standby->psql('postgres', q{SELECT pushsource.fs_run_maintenance()});
like($stderr, qr/ERROR:  cannot run maintenance in a read-only transaction/, 'so is maintenance');

# A later push on the primary reaches the standby.
$primary->safe_psql('postgres', q{
SELECT pushsource.fs_push('clicks', '[{"user_id": "u3", "ts": "2024-01-01T11:45:00Z", "clicks": 9}]')});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{
SET pushsource.request_time = '2024-01-01 12:00+00';
SELECT pushsource.fs_get_online_features('clicks_last', '[{"user_id": "u1"}, {"user_id": "u3"}]')}),
	'[{"clicks_last.clicks": 2}, {"clicks_last.clicks": 9}]',
	'a later push is served by the standby');

$standby->stop;
$primary->stop;
done_testing();

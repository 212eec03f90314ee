# pg_dump / pg_restore round trip into a fresh cluster.
#
# A database with entities, a push source with a batch table, attribute,
# tiled and continuous feature views, a feature service, pg_cron schedules,
# pushed and backfilled data, a rejected record and job rows is dumped with
# pg_dump -Fc (and its roles with pg_dumpall --globals-only) and restored into
# a new cluster.  There the definitions, every store's rows, the catalog
# sequences and the served features equal the original's, and pushing,
# backfilling, deleting and dropping all work.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

sub new_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
timezone = 'UTC'
});
	$node->start;
	return $node;
}

my $old = new_node('old');

# Schedules that do not fire while the test runs (03:00 on 29 February):
# the restored cluster's pg_cron must not change what is compared.
$old->safe_psql('postgres', q{
CREATE EXTENSION pg_cron;
CREATE EXTENSION pushsource;
CREATE ROLE app_writer LOGIN IN ROLE pushsource_writer, pushsource_reader;
CREATE ROLE app_admin LOGIN IN ROLE pushsource_admin;
GRANT CREATE ON SCHEMA public TO app_admin;
GRANT USAGE ON SCHEMA cron TO pushsource_admin;   -- pg_cron's rule for scheduling users
});
$old->safe_psql('postgres', q{
SET ROLE app_admin;
SET search_path = pushsource, public;
SELECT fs_create_entity('user', ARRAY['user_id']);
SELECT fs_create_entity('merchant', ARRAY['merchant_id']);
CREATE TABLE public.tx_history (user_id text, merchant_id int8, ts timestamptz, amount float8);
INSERT INTO public.tx_history VALUES ('u1', 7, '2024-01-01 09:00+00', 5), ('u2', 7, '2024-01-01 09:30+00', 8);
GRANT SELECT ON public.tx_history TO pushsource_admin;
SELECT fs_create_push_source('tx', 'user_id text, merchant_id int8, ts timestamptz, amount float8', 'ts',
                             batch_table => 'public.tx_history', description => 'card transactions');
SELECT fs_create_feature_view('tx_last', 'tx', ARRAY['user'], features => ARRAY['amount'],
                              ttl => '7 days', batch_schedule => '0 3 29 2 *');
SELECT fs_create_feature_view('tx_pair', 'tx', ARRAY['user', 'merchant'], features => ARRAY['amount']);
SELECT fs_create_feature_view('tx_sum', 'tx', ARRAY['user'],
    aggregations => ARRAY[fs_agg('amount', 'sum', '1 day'), fs_agg('amount', 'count', '1 day')],
    aggregation_interval => '1 hour');
SELECT fs_create_feature_view('tx_max', 'tx', ARRAY['user'],
    aggregations => ARRAY[fs_agg('amount', 'max', '1 day')]);
SELECT fs_create_feature_service('tx_svc', ARRAY['tx_last', 'tx_sum']);
SELECT fs_schedule_maintenance('0 4 29 2 *');
});
$old->safe_psql('postgres', q{
SET ROLE app_writer;
SELECT pushsource.fs_push('tx', '[
    {"user_id": "u1", "merchant_id": 7, "ts": "2024-01-01T10:00:00Z", "amount": 10},
    {"user_id": "u1", "merchant_id": 8, "ts": "2024-01-01T11:00:00Z", "amount": 20},
    {"user_id": "u2", "merchant_id": 7, "ts": "2024-01-01T10:30:00Z", "amount": 3},
    {"user_id": "u9", "merchant_id": 9, "ts": "2024-01-01T10:00:00Z", "amount": 1}]');
SELECT pushsource.fs_push('tx', '[{"user_id": "u3", "merchant_id": 7, "ts": "2024-01-01T10:00:00Z", "amount": "x"}]',
                          on_error => 'skip');
});
$old->safe_psql('postgres', q{
SET ROLE app_admin;
SELECT pushsource.fs_materialize(v, '2024-01-01', '2024-01-02') FROM unnest(ARRAY['tx_last', 'tx_pair', 'tx_sum', 'tx_max']) v;
SELECT pushsource.fs_delete_keys('tx_last', '[{"user_id": "u9"}]', offline => false);
});

# What is compared: definitions, every store's rows, jobs, rejected records,
# schedules, and what is served.
my $request = '[{"user_id": "u1"}, {"user_id": "u2"}, {"user_id": "u9"}]';
my %checks = (
	'definitions' => q{
SELECT to_jsonb(e) FROM pushsource.entities e
UNION ALL SELECT to_jsonb(s) FROM pushsource.push_sources s
UNION ALL SELECT to_jsonb(v) FROM pushsource.feature_views v
UNION ALL SELECT to_jsonb(f) FROM pushsource.feature_services f ORDER BY 1},
	'jobs' => q{SELECT to_jsonb(j) FROM pushsource.jobs j ORDER BY id},
	'rejected records' => q{SELECT to_jsonb(r) FROM pushsource.rejected_records r ORDER BY id},
	'schedules' => q{SELECT jobname, schedule, command, database, username, active FROM cron.job ORDER BY jobname},
	'online features' => qq{
SET pushsource.request_time = '2024-01-01 12:00+00';
SELECT pushsource.fs_get_online_features('tx_svc', '$request');
SELECT pushsource.fs_get_online_features('tx_max', '$request');
SELECT pushsource.fs_get_online_features('tx_pair', '[{"user_id": "u1", "merchant_id": 8}]')},
	'historical features' => q{
SELECT * FROM pushsource.fs_get_historical_features(
    $$SELECT * FROM (VALUES ('u1', 7::int8, '2024-01-01 10:45+00'::timestamptz),
                            ('u2', 7, '2024-01-01 12:00+00')) s(user_id, merchant_id, ts)$$,
    ARRAY['tx_last', 'tx_pair', 'tx_sum', 'tx_max'])
    AS t(user_id text, merchant_id int8, ts timestamptz, tx_last__amount float8, tx_pair__amount float8,
         tx_sum__amount_sum_1d_1h float8, tx_sum__amount_count_1d_1h int8, tx_max__amount_max_1d_continuous float8)
 ORDER BY 1});

# Every table's rows in the extension's schemas and public, as text, one
# line per table.
sub table_rows
{
	my ($node) = @_;
	my @tables = split /\n/, $node->safe_psql('postgres', q{
SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname IN ('pushsource', 'pushsource_internal', 'pushsource_source', 'pushsource_store', 'public') ORDER BY 1});
	return join("\n", map {
		"$_: " . $node->safe_psql('postgres', "SELECT string_agg(t::text, ' | ' ORDER BY t::text) FROM $_ t")
	} @tables);
}

my %before;
$before{$_} = $old->safe_psql('postgres', $checks{$_}) for keys %checks;
$before{'store rows'} = table_rows($old);

# The figures the comparison rests on, checked by hand: u1 10:00 (10) and
# 11:00 (20) pushed plus 09:00 (5) backfilled, u2 10:30 (3) pushed plus
# 09:30 (8) backfilled; u9 deleted online from tx_last only.
is((split /\n/, $before{'online features'})[0],
	'[{"tx_last.amount": 20, "tx_sum.amount_sum_1d_1h": 35, "tx_sum.amount_count_1d_1h": 3}, '
	  . '{"tx_last.amount": 3, "tx_sum.amount_sum_1d_1h": 11, "tx_sum.amount_count_1d_1h": 2}, '
	  . '{"tx_last.amount": null, "tx_sum.amount_sum_1d_1h": 1, "tx_sum.amount_count_1d_1h": 1}]',
	'served before the dump: the sums and newest values worked out by hand');
# u1 at 10:45: newest 10 (10:00) for user and pair; the 1-hour tiles end at
# 10:00, so the sum holds 09:00's 5 only; the continuous max sees 5 and 10.
# u2 at 12:00: 3 (10:30) is newest; 8 + 3 = 11 over 2 events; max 8.
is($before{'historical features'},
	"u1|7|2024-01-01 10:45:00+00|10|10|5|1|10\nu2|7|2024-01-01 12:00:00+00|3|3|11|2|8",
	'point-in-time values before the dump, worked out by hand');
like($before{'store rows'}, qr/^pushsource_source\.tx: .*\(u9,9,"2024-01-01 10:00:00\+00",1\)/m,
	'the push source log and its rows are compared');
like($before{'store rows'}, qr/^tx_history: \(u1,7,"2024-01-01 09:00:00\+00",5\) \| \(u2,7,"2024-01-01 09:30:00\+00",8\)$/m,
	'the batch table and its rows are compared');
is(scalar(() = $before{'store rows'} =~ /^pushsource_store\.\w+: \(/mg), 8, 'eight store tables, none empty, are compared');
is(scalar(split /\n/, $before{'jobs'}), 5, 'four materializations and a deletion are recorded');
is(scalar(split /\n/, $before{'schedules'}), 2, 'two pg_cron jobs are scheduled');

# Dump, then restore into a fresh cluster: roles first (pg_dumpall
# --globals-only), then the database.
my $dir = PostgreSQL::Test::Utils::tempdir();
$old->command_ok([ 'pg_dumpall', '--globals-only', '--no-role-passwords', '-f', "$dir/globals.sql",
		'-d', $old->connstr('postgres') ], 'pg_dumpall --globals-only');
$old->command_ok([ 'pg_dump', '-Fc', '-f', "$dir/db.dump", '-d', $old->connstr('postgres') ], 'pg_dump');
$old->stop;

my $new = new_node('new');
my ($ret, $stdout, $stderr) = $new->psql('postgres', undef, on_error_stop => 0,
	extra_params => [ '-f', "$dir/globals.sql" ]);
my @errors = grep { /ERROR/ } split /\n/, $stderr;
is(scalar(@errors), 1, 'the globals restore fails once');
my $superuser = $new->safe_psql('postgres', 'SELECT current_user');
like($errors[0], qr/role "\Q$superuser\E" already exists/, 'on the bootstrap superuser, which exists');
$new->command_ok([ 'pg_restore', '--exit-on-error', '-d', $new->connstr('postgres'), "$dir/db.dump" ],
	'pg_restore into the fresh cluster');

for my $what (sort keys %checks)
{
	is($new->safe_psql('postgres', $checks{$what}), $before{$what}, "restored: $what unchanged");
}
is(table_rows($new), $before{'store rows'}, 'restored: every table\'s rows unchanged');

# Pushing after the restore: u1's newer event is served, its sums grow
# (35 + 100 = 135, 3 + 1 = 4), and a rejected record and the jobs go on
# numbering after the restored ones.
$new->safe_psql('postgres', q{
SET ROLE app_writer;
SELECT pushsource.fs_push('tx', '[{"user_id": "u1", "merchant_id": 8, "ts": "2024-01-01T11:30:00Z", "amount": 100}]');
SELECT pushsource.fs_push('tx', '[{"user_id": "u4", "merchant_id": 7, "ts": "bad", "amount": 1}]', on_error => 'skip');
});
is($new->safe_psql('postgres', q{
SET pushsource.request_time = '2024-01-01 12:00+00';
SELECT pushsource.fs_get_online_features('tx_svc', '[{"user_id": "u1"}]')}),
	'[{"tx_last.amount": 100, "tx_sum.amount_sum_1d_1h": 135, "tx_sum.amount_count_1d_1h": 4}]',
	'a push after the restore is served');
is($new->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM pushsource_store.tx_last_offline WHERE amount = 100)
     + (SELECT count(*) FROM pushsource_store.tx_sum_offline WHERE amount = 100)
     + (SELECT count(*) FROM pushsource_store.tx_max_events WHERE amount = 100)
     + (SELECT count(*) FROM pushsource_source.tx WHERE amount = 100)}),
	4, 'and is in the offline stores, the raw events and the log');
is($new->safe_psql('postgres', q{
SELECT string_agg(id || ':' || source, ',' ORDER BY id) FROM pushsource.rejected_records}),
	'1:tx,2:tx', 'the rejected record after the restore is numbered 2');
is($new->safe_psql('postgres', q{
SELECT count(DISTINCT _fs_ingest_id) FROM pushsource_store.tx_pair_offline WHERE _fs_ingest_id > 0}),
	5, 'the restored ingest sequence gives the new push an id no earlier push has');

# Operations work on the restored database.
$new->safe_psql('postgres', q{
INSERT INTO public.tx_history VALUES ('u5', 7, '2024-01-02 09:00+00', 42);
});
is($new->safe_psql('postgres', q{
SET ROLE app_admin;
SELECT pushsource.fs_materialize_incremental('tx_last', '2024-01-03') ->> 'job';
SET pushsource.request_time = '2024-01-02 12:00+00';
SELECT pushsource.fs_get_online_features('tx_last', '[{"user_id": "u5"}]');
SELECT pushsource.fs_delete_keys('tx_sum', '[{"user_id": "u1"}]') ->> 'job';
SELECT pushsource.fs_drop('tx_svc');
SELECT pushsource.fs_drop('tx_last');
SELECT count(*) FROM cron.job WHERE jobname = 'pushsource:materialize:tx_last';
}),
	"6\n[{\"tx_last.amount\": 42}]\n7\n\n\n0",
	'incremental backfill continues from the restored window, deletion and drop work, drop unschedules');

$new->stop;
done_testing();

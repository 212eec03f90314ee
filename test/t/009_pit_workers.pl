# How many parallel workers a point-in-time join takes by default.
#
# Its leader does a full share of the scan and of the partitions, so the
# join leaves one CPU to it: min(max_parallel_workers_per_gather, CPUs
# online - 1) workers unless pushsource.pit_workers says otherwise.  The
# regression tests set pushsource.pit_workers, so that their output does not
# depend on the machine; this test compares the default with the CPUs of the
# machine it runs on (nproc), and the join's result with every count of
# workers against the serial join.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $cpus = `nproc`;
chomp $cpus;
like($cpus, qr/^\d+$/, "nproc reports the CPUs online ($cpus)");

my $node = PostgreSQL::Test::Cluster->new('pitw');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
timezone = 'UTC'
min_parallel_table_scan_size = 0
max_worker_processes = 16
max_parallel_workers = 16
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pushsource;
SELECT pushsource.fs_create_entity('user', ARRAY['user_id']);
SELECT pushsource.fs_create_push_source('w_src', 'user_id Int64, ts Timestamp, score Float64', 'ts');
SELECT pushsource.fs_create_feature_view('w_fv', 'w_src', ARRAY['user'], ttl => interval '7 days');
INSERT INTO pushsource_source.w_src (user_id, ts, score)
SELECT g % 97, timestamptz '2024-01-01 00:00+00' + g * interval '37 seconds', g
  FROM generate_series(1, 20000) g;
CREATE TABLE public.w_spine AS
SELECT g::int8 AS row_id, ((g * 7) % 101)::int8 AS user_id, timestamptz '2024-01-01 00:00+00' + g * interval '71 seconds' AS ts
  FROM generate_series(1, 5000) g;
});

my $q = q{SELECT count(*), count(v), sum(v * row_id)
  FROM pushsource.fs_get_historical_features('public.w_spine', ARRAY['w_fv'])
       AS t(row_id bigint, user_id bigint, ts timestamptz, v double precision)};

# the number of workers a run took, from its DEBUG1 line (0: no parallel scan)
sub run_with
{
	my ($settings) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "$settings SET client_min_messages = debug1; $q",
		stdout => \$out, stderr => \$err, on_error_die => 1);
	my $workers = $err =~ /point-in-time scan of "w_fv_offline" with (\d+) of (\d+) parallel workers/ ? $2 : 0;
	return ($out, $workers);
}

my ($serial, $w0) = run_with('SET max_parallel_workers_per_gather = 0;');
is($w0, 0, 'max_parallel_workers_per_gather = 0: no workers');
like($serial, qr/^5000\|\d+\|/, "the serial join returns every spine row ($serial)");

for my $per_gather (1, 2, 4)
{
	my $expect = $per_gather < $cpus - 1 ? $per_gather : $cpus - 1;
	$expect = 0 if $expect < 0;
	my ($res, $w) = run_with("SET max_parallel_workers_per_gather = $per_gather;");
	is($w, $expect, "default: $expect workers with max_parallel_workers_per_gather $per_gather on $cpus CPUs");
	is($res, $serial, "default, max_parallel_workers_per_gather $per_gather: the serial join's result");
	for my $setting (0, 1, 3)
	{
		my $e = $setting < $per_gather ? $setting : $per_gather;
		($res, $w) = run_with("SET max_parallel_workers_per_gather = $per_gather; SET pushsource.pit_workers = $setting;");
		is($w, $e, "pushsource.pit_workers $setting, max_parallel_workers_per_gather $per_gather: $e workers");
		is($res, $serial, "pushsource.pit_workers $setting, max_parallel_workers_per_gather $per_gather: the serial join's result");
	}
}

# and in a partitioned join, whose budget is shared by the processes
my ($pres, $pw) = run_with("SET pushsource.pit_memory = '64kB'; SET pushsource.pit_workers = 2; SET max_parallel_workers_per_gather = 2;");
is($pw, 2, 'a partitioned join with two workers');
is($pres, $serial, "a partitioned join with two workers: the serial join's result");

# a value out of range is refused, naming the setting
my ($ret, $out, $err) = $node->psql('postgres', "LOAD 'pushsource'; SET pushsource.pit_workers = -2");
like($err, qr/-2 is outside the valid range for parameter "pushsource.pit_workers"/, 'pushsource.pit_workers -2 is refused');

$node->stop;
done_testing();

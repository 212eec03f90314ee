# pg_cron really runs the scheduled jobs, and dropping the extension
# unschedules them.
#
# Two feature views get batch_schedule '* * * * *': one backfills, the other
# fails (a column of its batch table is gone).  This test waits once, for a
# tick of pg_cron (at most a minute).  Then the successful run shows in
# fs_materialization_status as a scheduled run by the view's creator, its
# rows are served, and the failed run is recorded with its error, shows as
# failed in cron.job_run_details, and does not wedge the next run (called
# directly, as pg_cron would call it).  DROP EXTENSION removes pushsource's
# cron jobs and leaves other jobs alone; DROP SCHEMA pushsource is refused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
# pg_cron runs its jobs in background workers: the test instance listens on
# a private socket only, not on the localhost pg_cron would connect to.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 20
timezone = 'UTC'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_cron;
CREATE EXTENSION pushsource;
CREATE ROLE app_admin LOGIN IN ROLE pushsource_admin;
GRANT CREATE ON SCHEMA public TO app_admin;
GRANT USAGE ON SCHEMA cron TO pushsource_admin;   -- pg_cron's rule for scheduling users
SELECT cron.schedule('someone else''s job', '0 3 29 2 *', 'SELECT 1');
});
my $t0 = $node->safe_psql('postgres', 'SELECT now()');
$node->safe_psql('postgres', q{
SET ROLE app_admin;
SET search_path = pushsource, public;
SELECT fs_create_entity('user', ARRAY['user_id']);
CREATE TABLE public.good_batch (user_id text, ts timestamptz, clicks int8);
INSERT INTO public.good_batch VALUES ('u1', '2024-01-01 10:00+00', 1), ('u1', '2024-01-01 11:00+00', 2),
                                     ('u2', '2024-01-01 10:30+00', 5);
CREATE TABLE public.bad_batch (user_id text, ts timestamptz, clicks int8);
GRANT SELECT ON public.good_batch, public.bad_batch TO pushsource_admin;
INSERT INTO public.bad_batch VALUES ('u1', '2024-01-01 10:00+00', 7);
SELECT fs_create_push_source('good', 'user_id text, ts timestamptz, clicks int8', 'ts', batch_table => 'public.good_batch');
SELECT fs_create_push_source('bad', 'user_id text, ts timestamptz, clicks int8', 'ts', batch_table => 'public.bad_batch');
SELECT fs_create_feature_view('good_fv', 'good', ARRAY['user'], batch_schedule => '* * * * *');
SELECT fs_create_feature_view('bad_fv', 'bad', ARRAY['user'], batch_schedule => '* * * * *');
ALTER TABLE public.bad_batch DROP COLUMN clicks;
});
is($node->safe_psql('postgres', q{
SELECT string_agg(jobname || ' ' || schedule || ' ' || username || ' ' || command, E'\n' ORDER BY jobname)
  FROM cron.job WHERE jobname LIKE 'pushsource:%'}),
	"pushsource:materialize:bad_fv * * * * * app_admin SELECT pushsource_internal._scheduled_materialize('bad_fv')\n"
	  . "pushsource:materialize:good_fv * * * * * app_admin SELECT pushsource_internal._scheduled_materialize('good_fv')",
	'batch_schedule creates one pg_cron job per view, run as the view\'s creator');

# The one wait for a tick: both views' first scheduled runs are recorded,
# and pg_cron (which writes its run status after the run) has seen both end.
# Then the jobs are paused, so that no later tick runs during the checks.
ok($node->poll_query_until('postgres', q{
SELECT (SELECT count(DISTINCT object) = 2 FROM pushsource.jobs WHERE scheduled)
   AND (SELECT count(DISTINCT j.jobname) = 2 FROM cron.job_run_details d JOIN cron.job j USING (jobid)
         WHERE j.jobname LIKE 'pushsource:materialize:%' AND d.status IN ('succeeded', 'failed'))}),
	'pg_cron ran both scheduled materializations');
$node->safe_psql('postgres', q{
SELECT cron.alter_job(jobid, active => false) FROM cron.job WHERE jobname LIKE 'pushsource:%'});

# The successful run, the first of the view's (a later tick, had one come
# before the pause, adds a run of its own new window): a scheduled window
# from the batch table's first event up to the time of the run.
is($node->safe_psql('postgres', qq{
SELECT kind, object, window_start, window_end BETWEEN '$t0' AND now(), state, rows, attempt, scheduled,
       run_by, error IS NULL, finished_at >= started_at
  FROM pushsource.fs_materialization_status('good_fv') ORDER BY id LIMIT 1}),
	'materialization|good_fv|2024-01-01 10:00:00+00|t|succeeded|3|1|t|app_admin|t|t',
	'the scheduled run shows in fs_materialization_status');
is($node->safe_psql('postgres', q{
SET pushsource.request_time = '2024-01-01 12:00+00';
SELECT pushsource.fs_get_online_features('good_fv', '[{"user_id": "u1"}, {"user_id": "u2"}]')}),
	'[{"good_fv.clicks": 2}, {"good_fv.clicks": 5}]',
	'its backfilled values are served (u1\'s newest is 11:00\'s 2)');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pushsource_store.good_fv_offline}), 3, 'and are in the offline store');

# The failed run is recorded with its error; the view's stores are untouched.
is($node->safe_psql('postgres', q{
SELECT DISTINCT kind, object, state, rows, sqlstate, error LIKE '%clicks%', scheduled, run_by
  FROM pushsource.fs_materialization_status('bad_fv', errors_only => true)}),
	'materialization|bad_fv|failed|0|42703|t|t|app_admin',
	'the failed scheduled run is recorded with its error');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pushsource.fs_materialization_status('bad_fv') WHERE state = 'succeeded'}),
	0, 'and nothing of it succeeded');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pushsource_store.bad_fv_offline}),
	0, 'and it wrote nothing');
# pg_cron itself says the run failed, with our error (it said succeeded
# when the job body returned its failure instead of raising it); the good
# view's runs say succeeded.
is($node->safe_psql('postgres', q{
SELECT DISTINCT j.jobname, d.status, d.return_message LIKE '%clicks%'
  FROM cron.job_run_details d JOIN cron.job j USING (jobid)
 WHERE j.jobname LIKE 'pushsource:materialize:%' AND d.status IN ('succeeded', 'failed')
 ORDER BY 1}),
	"pushsource:materialize:bad_fv|failed|t\npushsource:materialize:good_fv|succeeded|f",
	'cron.job_run_details: the failed run failed, the good one succeeded');

# Repaired, the next run (the job's body, as pg_cron calls it) succeeds with
# the same window, as the next attempt.
is($node->safe_psql('postgres', q{
SET ROLE app_admin;
BEGIN;
ALTER TABLE public.bad_batch ADD COLUMN clicks int8 DEFAULT 8;
SELECT pushsource_internal._scheduled_materialize('bad_fv') ->> 'state';
COMMIT;
SELECT window_start, rows, attempt > 1 FROM pushsource.fs_materialization_status('bad_fv') WHERE state = 'succeeded'}),
	"succeeded\n2024-01-01 10:00:00+00|1|t",
	'after the failure, the next run backfills the window');

# DROP EXTENSION unschedules pushsource's jobs, and only them.
$node->safe_psql('postgres', q{
SET ROLE app_admin;
SELECT pushsource.fs_schedule_maintenance('*/5 * * * *');
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job}), 4,
	'two materialization jobs, the maintenance job and another job');
$node->safe_psql('postgres', q{DROP EXTENSION pushsource CASCADE});
is($node->safe_psql('postgres', q{SELECT string_agg(jobname, ',') FROM cron.job}),
	"someone else's job", 'DROP EXTENSION unscheduled pushsource\'s jobs');

# The schema pushsource is the extension's own: DROP SCHEMA is refused
# (drop the extension instead), and the jobs stay scheduled.
$node->safe_psql('postgres', q{
CREATE EXTENSION pushsource;
SELECT pushsource.fs_schedule_maintenance('*/5 * * * *');
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE jobname = 'pushsource:maintenance'}),
	1, 'scheduled again');
my ($rc, $out, $err) = $node->psql('postgres', q{DROP SCHEMA pushsource CASCADE});
like($err, qr/cannot drop schema pushsource because extension pushsource requires it/,
	'DROP SCHEMA pushsource is refused');
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE jobname = 'pushsource:maintenance'}),
	1, 'and the job stays');

$node->stop;
done_testing();

# The upgrade path, and stores that logical replication can publish.
#
# 1. A fresh install of the latest version (in a cluster of its own, so
#    that it creates the roles itself) and a 0.1 updated through every
#    update script are the same extension: every member
#    object described with its definition, privileges, comment, row
#    security, aggregate and event trigger details, the configuration
#    tables pg_dump keeps, and the roles (the full script and the update
#    script do not drift apart).
# 2. Data in place: a database on 0.1 with entities, a source with a batch
#    table, attribute, tiled and continuous views, a service, pushed and
#    backfilled data and a deletion is updated with ALTER EXTENSION
#    pushsource UPDATE; every definition, store row, job and served feature
#    is unchanged, and pushing, reading, joining, backfilling, deleting and
#    maintenance all work afterwards.  A pg_dump of the 0.1 database,
#    restored the way README says (CREATE EXTENSION ... VERSION '0.1',
#    pg_restore, ALTER EXTENSION ... UPDATE), gets the update's fixes too.
# 3. Replicable stores, with wal_level = logical and a FOR ALL TABLES
#    publication (as CDC setups have): on 0.1, fs_delete_keys and a push
#    to a continuous aggregate fail (tables without replica identity); the
#    update fixes the existing tables; on the latest every table the extension
#    created has a replica identity, push, fs_delete_keys, maintenance and
#    fs_materialize run, and a logical decoding slot shows the deleted
#    rows whole.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
wal_level = logical
max_replication_slots = 4
timezone = 'UTC'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'crondb'
});
$node->start;
# the fresh install's own cluster
my $fresh_node = PostgreSQL::Test::Cluster->new('fresh');
$fresh_node->init;
$fresh_node->start;
my $latest = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'pushsource'});
is($latest, '0.8', 'the default version is 0.8');

########################################################################
# 1. fresh latest == 0.1 updated
########################################################################
$node->safe_psql('postgres', 'CREATE DATABASE updated');
$fresh_node->safe_psql('postgres', 'CREATE EXTENSION pushsource');
$node->safe_psql('updated', q{CREATE EXTENSION pushsource VERSION '0.1'});
is($node->safe_psql('updated', q{SELECT extversion FROM pg_extension WHERE extname = 'pushsource'}),
	'0.1', 'version 0.1 installs from its own script');
$node->safe_psql('updated', 'ALTER EXTENSION pushsource UPDATE');
is($node->safe_psql('updated', q{SELECT extversion FROM pg_extension WHERE extname = 'pushsource'}),
	'0.8', 'ALTER EXTENSION pushsource UPDATE goes to the latest, 0.8');
# pg_dump leaves extension members out: each member object is described
# here, one line each, with its definition, privileges and comment
my $members = q{
WITH m AS (
  SELECT d.classid, d.objid, d.objsubid FROM pg_depend d
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pushsource'))
SELECT pg_describe_object(m.classid, m.objid, m.objsubid) || E'\n  ' || coalesce(CASE
  WHEN m.classid = 'pg_proc'::regclass THEN
    (SELECT CASE WHEN p.prokind = 'a'
                 THEN (SELECT format('aggregate sfunc=%s stype=%s final=%s combine=%s serial=%s deserial=%s init=%s',
                                     a.aggtransfn::regprocedure, format_type(a.aggtranstype, NULL),
                                     a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn, a.agginitval)
                         FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
                 ELSE pg_get_functiondef(p.oid) END || ' acl=' || coalesce(p.proacl::text, '')
       FROM pg_proc p WHERE p.oid = m.objid)
  WHEN m.classid = 'pg_event_trigger'::regclass THEN
    (SELECT format('on %s tags %s enabled %s fn %s', e.evtevent, e.evttags, e.evtenabled, e.evtfoid::regproc)
       FROM pg_event_trigger e WHERE e.oid = m.objid)
  WHEN m.classid = 'pg_class'::regclass THEN
    (SELECT c.relkind::text || ' replident=' || c.relreplident::text || ' acl=' || coalesce(c.relacl::text, '')
        || ' cols=' || coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                 || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                 || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''), ', ' ORDER BY a.attnum)
               FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
        || ' cons=' || coalesce((SELECT string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid), ', ' ORDER BY k.conname)
               FROM pg_constraint k WHERE k.conrelid = c.oid), '')
        || ' idx=' || coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY 1)
               FROM pg_index i WHERE i.indrelid = c.oid), '')
        || ' trg=' || coalesce((SELECT string_agg(pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text, ', ' ORDER BY 1)
               FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '')
        || ' rls=' || c.relrowsecurity::text || '/' || c.relforcerowsecurity::text
        || ' policies=' || coalesce((SELECT string_agg(format('%s %s %s %s %s', po.polname, po.polcmd, po.polroles::regrole[],
                                                              pg_get_expr(po.polqual, po.polrelid), pg_get_expr(po.polwithcheck, po.polrelid)), ', ' ORDER BY 1)
               FROM pg_policy po WHERE po.polrelid = c.oid), '')
        || ' colacl=' || coalesce((SELECT string_agg(a.attname || ':' || a.attacl::text, ', ' ORDER BY a.attnum)
               FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL), '')
        || ' colcomments=' || coalesce((SELECT string_agg(a.attname || ':' || col_description(c.oid, a.attnum), ', ' ORDER BY a.attnum)
               FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND col_description(c.oid, a.attnum) IS NOT NULL), '')
        || ' reloptions=' || coalesce(c.reloptions::text, '')
        || coalesce((SELECT format(' seq %s %s %s %s %s %s', q.seqtypid::regtype, q.seqstart, q.seqincrement, q.seqmax, q.seqmin, q.seqcycle)
               FROM pg_sequence q WHERE q.seqrelid = c.oid), '')
        || CASE WHEN c.relkind IN ('v', 'm') THEN ' view=' || pg_get_viewdef(c.oid) ELSE '' END
       FROM pg_class c WHERE c.oid = m.objid)
  WHEN m.classid = 'pg_type'::regclass THEN
    (SELECT format_type(t.oid, NULL) || ' ' || t.typtype::text || ' ' || coalesce((SELECT string_agg(a.attname || ' '
               || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
               FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0), '')
       FROM pg_type t WHERE t.oid = m.objid)
  WHEN m.classid = 'pg_namespace'::regclass THEN
    (SELECT 'acl=' || coalesce(n.nspacl::text, '') FROM pg_namespace n WHERE n.oid = m.objid)
  ELSE '' END, '')
  || ' comment=' || coalesce(obj_description(m.objid, (SELECT relname FROM pg_class WHERE oid = m.classid)), '')
FROM m
UNION ALL
SELECT 'configuration tables pg_dump keeps: ' || coalesce((SELECT string_agg(format('%s %s', t.c::regclass, coalesce(t.w, '')), ', ' ORDER BY t.c::regclass::text)
         FROM pg_extension x, unnest(x.extconfig, x.extcondition) AS t(c, w) WHERE x.extname = 'pushsource'), '')
UNION ALL
SELECT format('role %s super=%s login=%s inherit=%s createrole=%s member of %s', r.rolname, r.rolsuper, r.rolcanlogin,
              r.rolinherit, r.rolcreaterole,
              (SELECT string_agg(g.rolname || CASE WHEN am.admin_option THEN ' (admin)' ELSE '' END, ', ' ORDER BY g.rolname)
                 FROM pg_auth_members am JOIN pg_roles g ON g.oid = am.roleid WHERE am.member = r.oid))
  FROM pg_roles r WHERE r.rolname LIKE 'pushsource\_%'
ORDER BY 1};
my $fresh = $fresh_node->safe_psql('postgres', $members);
my $updated = $node->safe_psql('updated', $members);
$fresh_node->stop;
cmp_ok(scalar(() = $fresh =~ /^\S/mg), '>', 100, 'the fresh install has its member objects described (functions, tables, views, types)');
like($fresh, qr/^function pushsource\.fs_create_push_source\(.*\n  CREATE OR REPLACE FUNCTION/m, '... with their definitions');
like($fresh, qr/^function pushsource\.fs_partial_agg\(.*\n  aggregate sfunc=/m, '... aggregates by their support functions');
like($fresh, qr/^table pushsource\.rejected_records\n.* rls=true\/false policies=\S/m, '... row security and its policies');
like($fresh, qr/^configuration tables pg_dump keeps: .*pushsource\.jobs/m, '... the configuration tables');
like($fresh, qr/^role pushsource_admin /m, '... and the roles');
is($updated, $fresh, 'the updated 0.1 and a fresh install have the same member objects, definitions, privileges and comments');


# 0.6 -> 0.7 with a replicated source in place: its deferred fan-out
# trigger is made again with the WHEN clause that queues one event per
# buffer of applied rows (0.6's queued one per row), and a trigger made
# afterwards is the same
my $trg = q{SELECT string_agg(pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text, E'\n' ORDER BY c.relname)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = 'zz_pushsource_replicated'};
$node->safe_psql('postgres', 'CREATE DATABASE v06');
$node->safe_psql('v06', q{
CREATE EXTENSION pushsource VERSION '0.6';
SELECT pushsource.fs_create_push_source('rep', 'user_id String, ts Timestamp, n Int64', 'ts', replicated => true);
});
like($node->safe_psql('v06', $trg), qr/FOR EACH ROW EXECUTE FUNCTION pushsource_internal\._push_replicated\(\) A$/,
	'on 0.6: the replicated source\'s deferred trigger has no WHEN clause');
$node->safe_psql('v06', 'ALTER EXTENSION pushsource UPDATE');
$node->safe_psql('v06', q{
SELECT pushsource.fs_create_push_source('rep2', 'user_id String, ts Timestamp, n Int64', 'ts', replicated => true);
});
is($node->safe_psql('v06', $trg),
	"CREATE CONSTRAINT TRIGGER zz_pushsource_replicated AFTER INSERT ON pushsource_source.rep DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pushsource_internal._replicated_event()) EXECUTE FUNCTION pushsource_internal._push_replicated() A\n"
	. "CREATE CONSTRAINT TRIGGER zz_pushsource_replicated AFTER INSERT ON pushsource_source.rep2 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pushsource_internal._replicated_event()) EXECUTE FUNCTION pushsource_internal._push_replicated() A",
	'updated to 0.7: the existing source\'s trigger queues one event per buffer (WHEN), as a new source\'s does');
is($node->safe_psql('v06', q{SELECT string_agg(name || ':' || (pushsource.fs_validate(name) ->> 'valid'), ' ' ORDER BY name) FROM pushsource.push_sources}),
	'rep:true rep2:true', '... and both sources are valid');
$node->safe_psql('postgres', 'DROP DATABASE v06');

# 0.7 -> 0.8 with a view, pushed rows and a spine in place:
# fs_get_historical_features gets its planner support function, so that a
# fresh session plans the join as the streaming custom scan; the join's
# rows are the same
my $pit_q = q{SELECT count(*), count(v), sum(v * n)
  FROM pushsource.fs_get_historical_features('public.sp', ARRAY['fv'])
       AS t(n bigint, user_id bigint, ts timestamptz, v double precision)};
$node->safe_psql('postgres', 'CREATE DATABASE v07');
$node->safe_psql('v07', q{
CREATE EXTENSION pushsource VERSION '0.7';
SELECT pushsource.fs_create_entity('u', ARRAY['user_id']);
SELECT pushsource.fs_create_push_source('src', 'user_id Int64, ts Timestamp, score Float64', 'ts');
SELECT pushsource.fs_create_feature_view('fv', 'src', ARRAY['u'], ttl => interval '1 day');
INSERT INTO pushsource_source.src SELECT g % 50, timestamptz '2024-01-01 00:00+00' + g * interval '7 minutes', g FROM generate_series(1, 3000) g;
CREATE TABLE public.sp AS SELECT g::int8 AS n, (g % 60)::int8 AS user_id, timestamptz '2024-01-01 00:00+00' + g * interval '13 minutes' AS ts
  FROM generate_series(1, 1500) g;
ANALYZE public.sp;
});
my $pit_before = $node->safe_psql('v07', $pit_q);
like($node->safe_psql('v07', "EXPLAIN $pit_q"), qr/Function Scan on fs_get_historical_features/,
	'on 0.7: the join is a function scan');
$node->safe_psql('v07', 'ALTER EXTENSION pushsource UPDATE');
like($node->safe_psql('v07', "EXPLAIN $pit_q"), qr/Custom Scan \(PointInTimeJoin\)  \(cost=[0-9.]+ rows=1500 /,
	'updated to 0.8: a fresh session plans the join as the custom scan, with the spine\'s 1500 rows as its estimate');
is($node->safe_psql('v07', $pit_q), $pit_before, '... and its rows are the same as on 0.7');
like($pit_before, qr/^1500\|[1-9]/, '... which are every spine row, many with a value');
$node->safe_psql('postgres', 'DROP DATABASE v07');
########################################################################
# 2. data in place
########################################################################
$node->safe_psql('postgres', q{
CREATE EXTENSION pushsource VERSION '0.1';
CREATE ROLE app_writer LOGIN IN ROLE pushsource_writer, pushsource_reader;
CREATE ROLE app_admin LOGIN IN ROLE pushsource_admin;
GRANT CREATE ON SCHEMA public TO app_admin;
});
$node->safe_psql('postgres', q{
SET ROLE app_admin;
SET search_path = pushsource, public;
SELECT fs_create_entity('user', ARRAY['user_id']);
SELECT fs_create_entity('merchant', ARRAY['merchant_id']);
CREATE TABLE public.tx_history (user_id text, merchant_id int8, ts timestamptz, amount float8);
INSERT INTO public.tx_history VALUES ('u1', 7, '2024-01-01 09:00+00', 5), ('u2', 7, '2024-01-01 09:30+00', 8);
GRANT SELECT ON public.tx_history TO pushsource_admin;
SELECT fs_create_push_source('tx', 'user_id text, merchant_id int8, ts timestamptz, amount float8', 'ts',
                             batch_table => 'public.tx_history');
SELECT fs_create_feature_view('tx_last', 'tx', ARRAY['user'], features => ARRAY['amount'], ttl => '7 days');
SELECT fs_create_feature_view('tx_pair', 'tx', ARRAY['user', 'merchant'], features => ARRAY['amount']);
SELECT fs_create_feature_view('tx_sum', 'tx', ARRAY['user'],
    aggregations => ARRAY[fs_agg('amount', 'sum', '1 day'), fs_agg('amount', 'count', '1 day')],
    aggregation_interval => '1 hour');
SELECT fs_create_feature_view('tx_max', 'tx', ARRAY['user'],
    aggregations => ARRAY[fs_agg('amount', 'max', '1 day')]);
SELECT fs_create_feature_service('tx_svc', ARRAY['tx_last', 'tx_sum']);
});
$node->safe_psql('postgres', q{
SET ROLE app_writer;
SELECT pushsource.fs_push('tx', '[
    {"user_id": "u1", "merchant_id": 7, "ts": "2024-01-01T10:00:00Z", "amount": 10},
    {"user_id": "u1", "merchant_id": 8, "ts": "2024-01-01T11:00:00Z", "amount": 20},
    {"user_id": "u2", "merchant_id": 7, "ts": "2024-01-01T10:30:00Z", "amount": 3},
    {"user_id": "u9", "merchant_id": 9, "ts": "2024-01-01T10:00:00Z", "amount": 1}]');
});
$node->safe_psql('postgres', q{
SET ROLE app_admin;
SELECT pushsource.fs_materialize(v, '2024-01-01', '2024-01-02') FROM unnest(ARRAY['tx_last', 'tx_pair', 'tx_sum', 'tx_max']) v;
SELECT pushsource.fs_delete_keys('tx_last', '[{"user_id": "u9"}]', offline => false);
});

my $request = '[{"user_id": "u1"}, {"user_id": "u2"}, {"user_id": "u9"}]';
my %checks = (
	'definitions' => q{
SELECT to_jsonb(e) FROM pushsource.entities e
UNION ALL SELECT to_jsonb(s) - 'source_table' - 'partition_interval' - 'source_retention' - 'data_delay'
                 - 'replicated'
            FROM pushsource.push_sources s
UNION ALL SELECT to_jsonb(v) - 'partition_interval' - 'offline_retention' FROM pushsource.feature_views v
UNION ALL SELECT to_jsonb(f) FROM pushsource.feature_services f ORDER BY 1},
	'jobs' => q{SELECT to_jsonb(j) FROM pushsource.jobs j ORDER BY id},
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
 ORDER BY 1},
	'store rows' => q{
SELECT string_agg(format('%s: %s', c.relname,
         (xpath('//n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', c.oid::regclass), false, false, '')))[1]),
       ', ' ORDER BY c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname IN ('pushsource', 'pushsource_internal', 'pushsource_source', 'pushsource_store')
   AND c.relname <> 'replicated_deletions'   -- 0.6's, empty});

my %before;
$before{$_} = $node->safe_psql('postgres', $checks{$_}) for keys %checks;
# the figures the comparison rests on, checked by hand: u1 10:00 (10) and
# 11:00 (20) pushed plus 09:00 (5) backfilled; u2 10:30 (3) pushed plus
# 09:30 (8) backfilled; u9 deleted online from tx_last only.  u1 at 10:45:
# newest 10 for user and pair; the 1-hour tiles end at 10:00, so the sum
# holds 09:00's 5 only; the continuous max sees 5 and 10.  u2 at 12:00: 3
# is newest; 8 + 3 = 11 over 2 events; max 8.
is($before{'historical features'},
	"u1|7|2024-01-01 10:45:00+00|10|10|5|1|10\nu2|7|2024-01-01 12:00:00+00|3|3|11|2|8",
	'on 0.1: the point-in-time join as computed by hand');
like($before{'store rows'}, qr/\btx_last_offline: 6\b/, 'on 0.1: the offline store holds 4 pushed + 2 backfilled rows');

# a dump of the 0.1 database, restored as README says: the 0.1 extension
# first, then the dump, then the update (a plain restore would install the latest
# and bring back the stores as 0.1 made them)
my $dumpdir = PostgreSQL::Test::Utils::tempdir;
$node->command_ok([ 'pg_dump', '-Fc', '-f', "$dumpdir/v01.dump", '-d', $node->connstr('postgres') ],
	'pg_dump of the 0.1 database');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->safe_psql('restored', q{CREATE EXTENSION pushsource VERSION '0.1'});
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), "$dumpdir/v01.dump" ],
	'pg_restore into a database with pushsource 0.1');
$node->safe_psql('restored', 'ALTER EXTENSION pushsource UPDATE');
is($node->safe_psql('restored', q{
SELECT string_agg(c.relname || '=' || c.relreplident::text, ' ' ORDER BY c.relname)
  FROM pg_class c WHERE c.relname IN ('tx', 'tx_last_offline', 'tx_max_events', 'tx_last_online')}),
	'tx=f tx_last_offline=f tx_last_online=d tx_max_events=f',
	'restored then updated: the stores have their replica identities');
is($node->safe_psql('restored', $checks{'historical features'}), $before{'historical features'},
	'... and join as before');

# the data's tables move to the schemas 0.4 gives them; their contents stay
is($node->safe_psql('postgres', q{SELECT source_table FROM pushsource.push_sources WHERE name = 'tx'}),
	'pushsource.tx', 'on 0.1: the source table is in schema pushsource');
$node->safe_psql('postgres', 'ALTER EXTENSION pushsource UPDATE');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pushsource'}),
	'0.8', 'the database with data is on 0.8');
for my $what (sort keys %checks)
{
	is($node->safe_psql('postgres', $checks{$what}), $before{$what}, "after the update: $what unchanged");
}
# the columns 0.4 adds leave the existing objects unpartitioned and kept forever
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE partition_interval IS NULL AND source_retention IS NULL) || '/' || count(*)
  FROM pushsource.push_sources}), '1/1', 'after the update: the source is unpartitioned, with no retention');
# the column 0.5 adds: no data_delay
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE data_delay IS NULL) || '/' || count(*) FROM pushsource.push_sources}),
	'1/1', 'after the update: the source has no data_delay');
# the column 0.6 adds: not replicated; its triggers are a local source's
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE NOT replicated) || '/' || count(*) || ' '
       || (SELECT pushsource.fs_validate('tx') ->> 'valid') FROM pushsource.push_sources}),
	'1/1 true', 'after the update: the source is not replicated, and valid');
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE partition_interval IS NULL AND offline_retention IS NULL) || '/' || count(*)
  FROM pushsource.feature_views}), '4/4', 'after the update: the views are unpartitioned, with no retention');

is($node->safe_psql('postgres', q{
SELECT string_agg(c.relnamespace::regnamespace || '.' || c.relname, ' ' ORDER BY c.relname) FROM pg_class c
 WHERE c.relname IN ('tx', 'view_catalog', 'ingest_batch_seq', 'jobs', 'tx_last_online')}),
	'pushsource_internal.ingest_batch_seq pushsource.jobs pushsource_source.tx pushsource_store.tx_last_online pushsource_internal.view_catalog',
	'after the update: the source table, the catalog and the helpers have moved; the API and the stores stay');
$node->safe_psql('postgres', q{
SET ROLE app_writer;
INSERT INTO pushsource_source.tx VALUES ('u2', 7, '2024-01-01 11:45:00+00', 4);
});
is($node->safe_psql('postgres', q{SELECT amount FROM pushsource_store.tx_pair_online WHERE user_id = 'u2' AND merchant_id = 7}),
	'4', 'after the update: an INSERT into the moved source table is fanned out');
# everything works on the updated database
$node->safe_psql('postgres', q{
SET ROLE app_writer;
SELECT pushsource.fs_push('tx', '[{"user_id": "u1", "merchant_id": 8, "ts": "2024-01-01T11:30:00Z", "amount": 100}]');
});
is($node->safe_psql('postgres', q{
SET pushsource.request_time = '2024-01-01 12:00+00';
SELECT pushsource.fs_get_online_features('tx_svc', '[{"user_id": "u1"}]')}),
	'[{"tx_last.amount": 100, "tx_sum.amount_sum_1d_1h": 135, "tx_sum.amount_count_1d_1h": 4}]',
	'after the update: a push is served (10 + 20 + 5 + 100, four events)');
$node->safe_psql('postgres', q{
SET ROLE app_admin;
SELECT pushsource.fs_create_feature_view('tx_new', 'tx', ARRAY['user'], features => ARRAY['amount']);
SELECT pushsource.fs_materialize('tx_new', '2024-01-01', '2024-01-02');
SELECT pushsource.fs_delete_keys('tx_pair', '[{"user_id": "u2", "merchant_id": 7}]');
SELECT pushsource.fs_run_maintenance();
});
is($node->safe_psql('postgres', q{SELECT string_agg(user_id || ':' || amount, ',' ORDER BY user_id) FROM pushsource_store.tx_new_offline}),
	'u1:5,u2:8', 'after the update: a new view is backfilled from the batch table');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pushsource_store.tx_pair_offline WHERE user_id = 'u2' AND merchant_id = 7}), '0',
	'after the update: fs_delete_keys deletes');

########################################################################
# 3. replicable stores under a FOR ALL TABLES publication
########################################################################
my $setup = q{
SET search_path = pushsource, public;
SELECT fs_create_entity('r_user', ARRAY['user_id']);
CREATE TABLE public.r_batch (user_id text, ts timestamptz, v float8);
INSERT INTO public.r_batch VALUES ('b1', '2024-01-01 01:00+00', 1);
GRANT SELECT ON public.r_batch TO pushsource_admin;
SELECT fs_create_push_source('r_src', 'user_id text, ts timestamptz, v float8', 'ts', batch_table => 'public.r_batch');
SELECT fs_create_feature_view('r_last', 'r_src', ARRAY['r_user'], features => ARRAY['v']);
SELECT fs_create_feature_view('r_tiles', 'r_src', ARRAY['r_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '1 hour')], aggregation_interval => '1 minute');
SELECT fs_create_feature_view('r_cont', 'r_src', ARRAY['r_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '1 hour')]);
CREATE PUBLICATION r_all FOR ALL TABLES;
};
# pushes two events an hour apart: the continuous view drops the older
# one from its events table (a DELETE)
my $push = q{SELECT pushsource.fs_push('r_src', '[{"user_id": "p1", "ts": "2024-01-01T10:00:00Z", "v": 1},
                                                 {"user_id": "p1", "ts": "2024-01-01T12:00:00Z", "v": 2}]')};
my $delete = q{SELECT pushsource.fs_delete_keys('r_last', '[{"user_id": "p1"}]')};

$node->safe_psql('postgres', 'CREATE DATABASE repl_old');
$node->safe_psql('repl_old', q{CREATE EXTENSION pushsource VERSION '0.1';} . $setup);
my ($ret, $out, $err) = $node->psql('repl_old', $delete);
isnt($ret, 0, 'on 0.1 with a FOR ALL TABLES publication, fs_delete_keys fails');
like($err, qr/does not have a replica identity and publishes deletes/, '... for want of a replica identity');
($ret, $out, $err) = $node->psql('repl_old', $push);
like($err, qr/does not have a replica identity/, '... and so does a push to a continuous aggregate');
$node->safe_psql('repl_old', 'ALTER EXTENSION pushsource UPDATE');
my $without_identity = q{
SELECT coalesce(string_agg(c.oid::regclass::text, ', ' ORDER BY 1), '')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('pushsource', 'pushsource_store')
   AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS
        (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')))};
is($node->safe_psql('repl_old', $without_identity), '', 'after the update, every table of 0.1 has a replica identity');
($ret, $out, $err) = $node->psql('repl_old', "$push; $delete;
SELECT pushsource.fs_run_maintenance();
SELECT pushsource.fs_materialize(v, '2024-01-01', '2024-01-02') FROM unnest(ARRAY['r_last', 'r_tiles', 'r_cont']) v;", on_error_stop => 1);
is($ret, 0, 'after the update, push, fs_delete_keys, maintenance and fs_materialize run') or diag($err);

$node->safe_psql('postgres', 'CREATE DATABASE repl');
$node->safe_psql('repl', 'CREATE EXTENSION pushsource;' . $setup);
$node->safe_psql('repl', q{SELECT pg_create_logical_replication_slot('r_slot', 'test_decoding')});
is($node->safe_psql('repl', $without_identity), '', 'every table the extension created has a replica identity');
is($node->safe_psql('repl', q{
SELECT string_agg(c.relname || '=' || c.relreplident::text, ' ' ORDER BY c.relname)
  FROM pg_class c WHERE c.relname LIKE 'r\_%' AND c.relkind = 'r'}),
	'r_batch=d r_cont_events=f r_cont_offline=f r_last_offline=f r_last_online=d r_src=f r_tiles_offline=f r_tiles_tiles=d',
	'... the log, offline stores and events whole rows; online stores and tiles their primary keys');
($ret, $out, $err) = $node->psql('repl', qq{
$push;
$delete;
SELECT pushsource.fs_run_maintenance();
SELECT pushsource.fs_materialize(v, '2024-01-01', '2024-01-02') FROM unnest(ARRAY['r_last', 'r_tiles', 'r_cont']) v;
}, on_error_stop => 1);
is($ret, 0, 'push, fs_delete_keys, maintenance and fs_materialize run under the publication') or diag($err);
is($err, '', '... without an error or warning');
my $changes = $node->safe_psql('repl', q{
SELECT string_agg(data, E'\n') FROM pg_logical_slot_get_changes('r_slot', NULL, NULL)
 WHERE data LIKE 'table pushsource_store.r_last_offline: DELETE:%'});
like($changes, qr/^table pushsource_store\.r_last_offline: DELETE: user_id\[text\]:'p1' ts\[timestamp with time zone\]:'2024-01-01 10:00:00\+00' v\[double precision\]:1 _fs_ingest_id\[bigint\]:\d+$/m,
	'logical decoding shows a key deleted from an offline store as the whole old row');

# a session that used the catalog before the update goes on after it in
# the same session: the tables moved to pushsource_internal, and what the
# library had cached names the old schema (the API key lookup's plan; the
# schema the backfill and the key deletion call their helpers in).  Each
# is the first call after the update in a database of its own, since the
# first call refreshes what the others would find.
my %after = (
	'key' => q{SELECT 'after ' || status FROM pushsource.fs_gateway_request('ingest', '{"records": {}}', :'k');},
	'backfill' => q{SELECT 'backfilled ' || (pushsource.fs_materialize('k_fv', '2024-01-01', '2024-01-02') ->> 'rows');},
	'delete' => q{SELECT 'deleted ' || (pushsource.fs_delete_keys('k_fv', '[{"user_id": "p1"}]') ->> 'online');});
my %expect = ('key' => 'after 400', 'backfill' => 'backfilled 1', 'delete' => 'deleted 1');
$node->safe_psql('postgres', 'CREATE ROLE keys_writer');
$node->safe_psql('postgres', 'GRANT pushsource_writer TO keys_writer');
for my $first (sort keys %after)
{
	$node->safe_psql('postgres', "CREATE DATABASE first_$first");
	my $out = $node->safe_psql("first_$first", qq{
CREATE EXTENSION pushsource VERSION '0.3';
CREATE TABLE public.k_batch (user_id text, ts timestamptz, v float8);
INSERT INTO public.k_batch VALUES ('b1', '2024-01-01 09:00+00', 5);
GRANT SELECT ON public.k_batch TO pushsource_admin;
SELECT pushsource.fs_create_entity('k_user', ARRAY['user_id']) IS NULL;
SELECT pushsource.fs_create_push_source('k', 'user_id text, ts timestamptz, v float8', 'ts', batch_table => 'public.k_batch') IS NULL;
SELECT pushsource.fs_create_feature_view('k_fv', 'k', ARRAY['k_user']) IS NULL;
SELECT pushsource.fs_create_api_key('keys_writer') AS k \\gset
SELECT 'before ' || status FROM pushsource.fs_gateway_request('ingest', '{"records": {}}', :'k');
SELECT 'pushed ' || (pushsource.fs_push('k', '{"user_id": "p1", "ts": "2024-01-01T10:00:00Z", "v": 1}') ->> 'records');
ALTER EXTENSION pushsource UPDATE;
$after{$first}
});
	is($out, "f\nf\nf\nbefore 400\npushed 1\n$expect{$first}",
		"a session that used the catalog before the update: $first first after it");
}

# pg_cron jobs call the scheduled helpers by name: the update renames them
$node->safe_psql('postgres', 'CREATE DATABASE crondb');
$node->safe_psql('crondb', q{
CREATE EXTENSION pg_cron;
CREATE EXTENSION pushsource VERSION '0.1';
SELECT pushsource.fs_schedule_maintenance('*/5 * * * *');
});
is($node->safe_psql('crondb', q{SELECT command FROM cron.job WHERE jobname = 'pushsource:maintenance'}),
	'SELECT pushsource._scheduled_maintenance()', 'on 0.1: the maintenance job calls its helper in pushsource');
# another database, still on 0.1, has a job of the same name that its
# owner made by hand (pg_cron keeps every database's jobs in
# cron.database_name's table; a name is unique per role): updating crondb
# must leave it calling the 0.1 name, which is the one its database has
$node->safe_psql('postgres', 'CREATE DATABASE cron_other');
$node->safe_psql('postgres', 'CREATE ROLE cron_other_owner LOGIN');
$node->safe_psql('cron_other', q{CREATE EXTENSION pushsource VERSION '0.1'});
$node->safe_psql('crondb', q{
SELECT cron.schedule_in_database('pushsource:maintenance', '*/5 * * * *',
                                 'SELECT pushsource._scheduled_maintenance()', 'cron_other', 'cron_other_owner')});
$node->safe_psql('crondb', 'ALTER EXTENSION pushsource UPDATE');
is($node->safe_psql('crondb', q{SELECT command FROM cron.job WHERE database = 'cron_other'}),
	'SELECT pushsource._scheduled_maintenance()', "after crondb's update: cron_other's job is untouched");
is($node->safe_psql('cron_other', 'SELECT pushsource._scheduled_maintenance() IS NULL'), 'f',
	'... and still runs there');
my $command = $node->safe_psql('crondb', q{SELECT command FROM cron.job WHERE jobname = 'pushsource:maintenance' AND database = 'crondb'});
is($command, 'SELECT pushsource_internal._scheduled_maintenance()', 'after the update: the job calls it in pushsource_internal');
$node->safe_psql('crondb', $command);
is($node->safe_psql('crondb', q{SELECT kind || ' ' || state || ' ' || scheduled FROM pushsource.jobs}),
	'maintenance succeeded true', '... and the command runs');

$node->stop;
done_testing();

-- pushsource demo: the real-time write path of a feature store, in Postgres.
--
-- Run by test/demo/run-demo.sh (`make demo`) against a throwaway cluster.
-- Every timestamp is explicit, so the output is the same on every run.
--
-- Feast / Tecton vocabulary used below:
--   Entity            -> fs_create_entity
--   PushSource        -> fs_create_push_source   (a real table: pushsource.<name>)
--   FeatureView       -> fs_create_feature_view  (online + offline stores)
--   FeatureService    -> fs_create_feature_service
--   store.push(...)   -> fs_push(source, jsonb)  or plain INSERT / COPY
--   Stream Ingest API -> fs_ingest(request jsonb)
--   get_online_features -> fs_get_online_features

\set QUIET on
\pset format aligned
\pset border 1
\pset null '(null)'
\pset footer off
\x off
SET client_min_messages = warning;
SET TimeZone = 'UTC';
\set QUIET off
\set ECHO queries
\echo
\echo '==== 1. Install: pushsource (and pg_cron, preloaded, for scheduled jobs) ===='
CREATE EXTENSION pg_cron;
CREATE EXTENSION pushsource;
SELECT extname FROM pg_extension WHERE extname IN ('pg_cron', 'pushsource') ORDER BY extname;
SHOW shared_preload_libraries;
SET search_path TO pushsource, public;

\echo
\echo '==== 2. Register: entity, push source (Tecton schema), feature view, feature service ===='
SELECT fs_create_entity('user', ARRAY['user_id'], description => 'a user of the shop');

SELECT fs_create_push_source('user_clicks',
         'user_id String, ts Timestamp, clicks Int64, amount Float64',
         timestamp_field => 'ts',
         description => 'click events pushed by the web tier');

\echo '-- no ttl: values never expire online (ttl is shown in section 8)'
SELECT fs_create_feature_view('user_click_stats', 'user_clicks', ARRAY['user'],
         features => ARRAY['clicks', 'amount'],
         description => 'latest clicks and basket amount per user');

SELECT fs_create_feature_service('fraud_model_v1',
         ARRAY['user_click_stats.clicks', 'user_click_stats.amount']);

\echo '-- the push source is a real table; its schema is the push schema'
\d pushsource_source.user_clicks
SELECT name, source, features, ttl, online_table, offline_table FROM feature_views;

\echo
\echo '==== 3. Push a JSON batch (Feast store.push / Tecton PushSource) ===='
SELECT fs_push('user_clicks', '[
  {"user_id": "u1", "ts": "2024-05-01T10:00:00Z", "clicks": 3, "amount": 12.5},
  {"user_id": "u2", "ts": "2024-05-01T10:02:00Z", "clicks": 1, "amount": 4.99},
  {"user_id": "u1", "ts": "2024-05-01T10:05:00Z", "clicks": 5, "amount": 20.0}
]');

\echo '-- online: one row per user, the newest one (u1 has clicks 5 from 10:05)'
SELECT fs_get_online_features('user_click_stats', '{"user_id": "u1"}');

\echo
\echo '==== 4. A late, older event does not overwrite the newer online value ===='
SELECT fs_push('user_clicks',
               '{"user_id": "u1", "ts": "2024-05-01T09:30:00Z", "clicks": 99, "amount": 999.0}');
\echo '-- still clicks 5 (10:05): the 09:30 event only went to the offline history'
SELECT r -> 'user_click_stats.clicks' AS clicks,
       r -> 'metadata' -> 'user_click_stats.clicks' AS clicks_metadata
  FROM fs_get_online_features('user_click_stats', '{"user_id": "u1"}', include_metadata => true) AS r;

\echo
\echo '==== 5. Plain INSERT into the source table pushes too (same validation, same fan-out) ===='
INSERT INTO pushsource_source.user_clicks (user_id, ts, clicks, amount) VALUES
  ('u2', '2024-05-01 10:30:00+00', 4, 31.0),
  ('u3', '2024-05-01 10:31:00+00', 2, 8.25);
SELECT user_id, ts, clicks, amount FROM pushsource_store.user_click_stats_online ORDER BY user_id;

\echo '-- a push commits with the application''s own transaction, or not at all'
BEGIN;
INSERT INTO pushsource_source.user_clicks VALUES ('u4', '2024-05-01 10:40:00+00', 1, 1.0);
SELECT fs_get_online_features('user_click_stats', '{"user_id": "u4"}');
ROLLBACK;
SELECT fs_get_online_features('user_click_stats', '{"user_id": "u4"}');

\echo
\echo '==== 6. Tecton Stream Ingest API request shape: fs_ingest ===='
SELECT jsonb_pretty(fs_ingest('{
  "workspace_name": "prod",
  "dry_run": false,
  "records": {
    "user_clicks": [
      {"record": {"user_id": "u1", "ts": "2024-05-01T11:00:00Z", "clicks": 7, "amount": 42.0}},
      {"record": {"user_id": "u3", "ts": "2024-05-01T11:01:00Z", "clicks": "6", "amount": 15}}
    ]
  }
}'));

\echo
\echo '==== 7. Validation: strict types, unknown fields, required keys ===='
\echo '-- on_error => ''abort'' (the default): one bad record and nothing is written'
\echo '-- (the ERROR below is expected: it names the source, record index and field)'
\set ON_ERROR_STOP 0
SELECT fs_push('user_clicks', '[
  {"user_id": "u5", "ts": "2024-05-01T12:00:00Z", "clicks": 1, "amount": 1.0},
  {"user_id": "u6", "ts": "2024-05-01T12:00:00Z", "clicks": "12abc", "amount": 2.0}
]');
\set ON_ERROR_STOP 1
\echo 'SQLSTATE' :LAST_ERROR_SQLSTATE
\echo '-- u5 (the good record of that batch) was not written either'
SELECT count(*) AS u5_rows FROM pushsource_source.user_clicks WHERE user_id = 'u5';

\echo '-- on_error => ''skip'': good records are written, bad ones are kept with the reason'
SELECT fs_push('user_clicks', '[
  {"user_id": "u5", "ts": "2024-05-01T12:00:00Z", "clicks": 1, "amount": 1.0},
  {"user_id": "u6", "ts": "2024-05-01T12:00:00Z", "clikcs": 2, "amount": 2.0},
  {"ts": "2024-05-01T12:00:00Z", "clicks": 3, "amount": 3.0},
  {"user_id": "u7", "ts": "2024-05-01T12:00:00Z", "clicks": 1.5, "amount": 4.0}
]', on_error => 'skip');
SELECT record_index, field, sqlstate, error FROM rejected_records ORDER BY id;

\echo '-- the Tecton-shaped call answers with recordErrors instead of raising'
SELECT jsonb_pretty(fs_ingest('{"workspace_name": "prod", "records": {"user_clicks": [
  {"record": {"user_id": "u8", "ts": "yesterday", "clicks": 1, "amount": 1.0}}]}}'));

\echo
\echo '==== 8. Serving: one key, several keys, metadata, a feature service ===='
SELECT fs_get_online_features('user_click_stats', '{"user_id": "u1"}');

\echo '-- several keys at once (u9 was never pushed: its features are null)'
SELECT jsonb_pretty(fs_get_online_features('user_click_stats',
         '[{"user_id": "u1"}, {"user_id": "u2"}, {"user_id": "u9"}]', include_join_keys => true));

\echo '-- with metadata: event time and status of every feature'
SELECT jsonb_pretty(fs_get_online_features('user_click_stats', '[{"user_id": "u3"}, {"user_id": "u9"}]',
         include_metadata => true));

\echo '-- through the feature service the model is deployed with'
SELECT fs_get_online_features('fraud_model_v1', '{"user_id": "u2"}', include_join_keys => true);

\echo '-- ttl is enforced online (Feast does not): a view with ttl 1 day serves an'
\echo '-- event of 2024 as null, status OUTSIDE_TTL; the view without ttl still serves it'
SELECT fs_create_feature_view('user_clicks_1d', 'user_clicks', ARRAY['user'],
         features => ARRAY['clicks'], ttl => interval '1 day');
SELECT fs_push('user_clicks', '{"user_id": "u1", "ts": "2024-05-01T13:00:00Z", "clicks": 8, "amount": 50.0}');
SELECT jsonb_pretty(fs_get_online_features('user_clicks_1d', '{"user_id": "u1"}', include_metadata => true));
SELECT fs_get_online_features('user_click_stats', '{"user_id": "u1"}');

\echo
\echo '==== 9. Offline history: every pushed row, with event time and ingest order ===='
SELECT user_id, ts, clicks, amount
  FROM pushsource_store.user_click_stats_offline
 ORDER BY ts, _fs_ingest_id;

\echo
\echo '==== 10. Point-in-time join: fs_get_historical_features (training data without leakage) ===='
\echo '-- A training spine: (user, label time).  For each row, the feature values as'
\echo '-- they were known at that time: the newest event with ts <= as_of (ties go to'
\echo '-- the latest ingested).  No leakage from the future: u1 at 10:10 sees the'
\echo '-- 10:05 event, not the 11:00 one; the late 09:30 event is visible at 09:45;'
\echo '-- u3 has no event before 10:31 and u9 none at all: null features, row kept.'
\echo '-- The join is an as-of merge in C over the sorted spine and offline store.'
CREATE TABLE public.labels (user_id text, as_of timestamptz, label boolean);
INSERT INTO public.labels VALUES
    ('u1', '2024-05-01 09:45:00+00', false),
    ('u1', '2024-05-01 10:10:00+00', true),
    ('u1', '2024-05-01 12:00:00+00', false),
    ('u2', '2024-05-01 10:15:00+00', true),
    ('u3', '2024-05-01 10:00:00+00', false),
    ('u9', '2024-05-01 12:00:00+00', false);
-- the column list to paste after AS t(...)
SELECT fs_historical_features_columns('labels', ARRAY['user_click_stats']);
SELECT * FROM fs_get_historical_features('labels', ARRAY['user_click_stats'])
    AS t(user_id text, as_of timestamptz, label boolean,
         user_click_stats__clicks bigint, user_click_stats__amount double precision);
-- or save it as a real table (Tecton's save_as)
SELECT fs_save_historical_features('public.training_set_v1', 'labels', ARRAY['fraud_model_v1'],
                                   full_feature_names => false);
SELECT * FROM public.training_set_v1;

\echo
\echo '==== Done: one table to push into, online + offline stores kept in the same transaction. ===='

-- fs_ingest: the Tecton Stream Ingest API request/response shapes, what it
-- writes, dry runs, request errors, record errors and atomicity.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';

-- Two push sources: ing_clicks feeds two views (one of them online only),
-- ing_orders feeds one.
SELECT fs_create_entity('ing_user', ARRAY['user_id']);
SELECT fs_create_push_source('ing_clicks',
    'user_id String, ts Timestamp, clicks Int64, page String', 'ts');
SELECT fs_create_push_source('ing_orders',
    'user_id String, ts Timestamp, amount Float64, paid Bool', 'ts');
SELECT fs_create_feature_view('ing_clicks_fv', 'ing_clicks', ARRAY['ing_user']);
SELECT fs_create_feature_view('ing_clicks_page_fv', 'ing_clicks', ARRAY['ing_user'],
                              features => ARRAY['page'], offline => false);
SELECT fs_create_feature_view('ing_orders_fv', 'ing_orders', ARRAY['ing_user']);

-- Row counts of every store touched by this file, to prove what was (not) written.
CREATE FUNCTION ing_counts() RETURNS TABLE (store text, n bigint) LANGUAGE sql AS $$
    SELECT 'ing_clicks', count(*) FROM pushsource_source.ing_clicks
    UNION ALL SELECT 'ing_orders', count(*) FROM pushsource_source.ing_orders
    UNION ALL SELECT 'ing_clicks_fv_online', count(*) FROM pushsource_store.ing_clicks_fv_online
    UNION ALL SELECT 'ing_clicks_fv_offline', count(*) FROM pushsource_store.ing_clicks_fv_offline
    UNION ALL SELECT 'ing_clicks_page_fv_online', count(*) FROM pushsource_store.ing_clicks_page_fv_online
    UNION ALL SELECT 'ing_orders_fv_online', count(*) FROM pushsource_store.ing_orders_fv_online
    UNION ALL SELECT 'ing_orders_fv_offline', count(*) FROM pushsource_store.ing_orders_fv_offline
$$;

------------------------------------------------------------------------
-- dry_run (the very first ingest into these sources): validates and
-- reports the counts a real ingest would write, but writes nothing
------------------------------------------------------------------------
SELECT * FROM ing_counts();
SELECT jsonb_pretty(fs_ingest('{
  "workspace_name": "prod",
  "dry_run": true,
  "records": {
    "ing_clicks": [
      {"record": {"user_id": "u7", "ts": "2024-02-01T00:00:00Z", "clicks": 1, "page": "a"}},
      {"record": {"user_id": "u8", "ts": "2024-02-01T00:00:00Z", "clicks": 2, "page": "b"}}
    ],
    "ing_orders": [
      {"record": {"user_id": "u7", "ts": "2024-02-01T00:00:00Z", "amount": 2.5, "paid": true}}
    ]
  }
}'));
SELECT * FROM ing_counts();
-- a dry run still reports record errors
SELECT fs_ingest('{"workspace_name": "prod", "dry_run": true, "records": {"ing_orders": [
  {"record": {"user_id": "u7", "ts": "2024-02-01T00:00:00Z", "amount": "lots"}}]}}');
-- in one transaction: the dry run's (newer) row is rolled back, so a real
-- ingest of an older event for the same key still lands online
BEGIN;
SELECT fs_ingest('{"workspace_name": "prod", "dry_run": true, "records": {"ing_orders": [
  {"record": {"user_id": "u9", "ts": "2024-02-02T00:00:00Z", "amount": 3}}]}}');
SELECT fs_ingest('{"workspace_name": "prod", "records": {"ing_orders": [
  {"record": {"user_id": "u9", "ts": "2024-02-01T00:00:00Z", "amount": 4}}]}}');
SELECT user_id, ts, amount, paid FROM pushsource_store.ing_orders_fv_online WHERE user_id = 'u9';
ROLLBACK;
SELECT * FROM ing_counts();

------------------------------------------------------------------------
-- Success: two sources, three views; counts are strings, per view
------------------------------------------------------------------------
SELECT jsonb_pretty(fs_ingest('{
  "workspace_name": "prod",
  "dry_run": false,
  "records": {
    "ing_clicks": [
      {"record": {"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "clicks": 3, "page": "home"}},
      {"record": {"user_id": "u2", "ts": "2024-01-01T00:00:01Z", "clicks": "4", "page": null}}
    ],
    "ing_orders": [
      {"record": {"user_id": "u1", "ts": "2024-01-01T00:00:02Z", "amount": 9.5, "paid": true}},
      {"record": {"user_id": "u3", "ts": "2024-01-01T00:00:03Z", "amount": 1, "paid": false}}
    ]
  }
}'));

-- the data really is in the source tables and in every store
SELECT * FROM pushsource_source.ing_clicks ORDER BY user_id;
SELECT * FROM pushsource_source.ing_orders ORDER BY user_id;
SELECT user_id, ts, clicks, page FROM pushsource_store.ing_clicks_fv_online ORDER BY user_id;
SELECT user_id, ts, clicks, page FROM pushsource_store.ing_clicks_fv_offline ORDER BY user_id;
SELECT user_id, ts, page FROM pushsource_store.ing_clicks_page_fv_online ORDER BY user_id;
SELECT user_id, ts, amount, paid FROM pushsource_store.ing_orders_fv_online ORDER BY user_id;
SELECT user_id, ts, amount, paid FROM pushsource_store.ing_orders_fv_offline ORDER BY user_id;
SELECT * FROM ing_counts();

-- dry_run defaults to false; a late, older event is logged offline but does
-- not overwrite the newer online value (online count 0)
SELECT fs_ingest('{"workspace_name": "prod", "records": {"ing_orders": [
  {"record": {"user_id": "u1", "ts": "2023-12-31T00:00:00Z", "amount": 1.25, "paid": false}}]}}');
SELECT user_id, ts, amount, paid FROM pushsource_store.ing_orders_fv_online ORDER BY user_id;
SELECT user_id, ts, amount FROM pushsource_store.ing_orders_fv_offline ORDER BY user_id, ts;

-- one key several times in one request: the newest event wins online, a
-- tie on event time goes to the later record; every record is kept offline
SELECT fs_ingest('{"workspace_name": "prod", "records": {"ing_orders": [
  {"record": {"user_id": "u4", "ts": "2024-01-05T00:00:00Z", "amount": 1}},
  {"record": {"user_id": "u4", "ts": "2024-01-07T00:00:00Z", "amount": 2}},
  {"record": {"user_id": "u4", "ts": "2024-01-07T00:00:00Z", "amount": 3}},
  {"record": {"user_id": "u4", "ts": "2024-01-06T00:00:00Z", "amount": 4}}]}}');
SELECT user_id, ts, amount FROM pushsource_store.ing_orders_fv_online WHERE user_id = 'u4';
SELECT count(*) FROM pushsource_store.ing_orders_fv_offline WHERE user_id = 'u4';
-- (forget u4 again, so that the counts below stay simple)
DELETE FROM pushsource_store.ing_orders_fv_online WHERE user_id = 'u4';
DELETE FROM pushsource_store.ing_orders_fv_offline WHERE user_id = 'u4';
DELETE FROM pushsource_source.ing_orders WHERE user_id = 'u4';

-- an empty records object, and a source with an empty array, succeed and write nothing
SELECT fs_ingest('{"workspace_name": "prod", "records": {}}');
SELECT fs_ingest('{"workspace_name": "prod", "records": {"ing_clicks": []}}');

------------------------------------------------------------------------
-- requestError: {"requestError": {"errorMessage", "errorType": "RequestValidationError"}}
-- for malformed requests; nothing is written
------------------------------------------------------------------------
-- the request is not an object, or null
SELECT fs_ingest('[]');
SELECT fs_ingest('"prod"');
SELECT fs_ingest('42');
SELECT fs_ingest('null');
SELECT fs_ingest(NULL);
-- workspace_name missing, empty, not a string
SELECT fs_ingest('{"records": {"ing_clicks": []}}');
SELECT fs_ingest('{"workspace_name": "", "records": {"ing_clicks": []}}');
SELECT fs_ingest('{"workspace_name": 7, "records": {"ing_clicks": []}}');
SELECT fs_ingest('{"workspace_name": null, "records": {"ing_clicks": []}}');
-- dry_run not a boolean
SELECT fs_ingest('{"workspace_name": "prod", "dry_run": "true", "records": {}}');
SELECT fs_ingest('{"workspace_name": "prod", "dry_run": 1, "records": {}}');
-- records missing or not an object
SELECT fs_ingest('{"workspace_name": "prod"}');
SELECT fs_ingest('{"workspace_name": "prod", "records": []}');
SELECT fs_ingest('{"workspace_name": "prod", "records": null}');
SELECT fs_ingest('{"workspace_name": "prod", "records": "ing_clicks"}');
-- an unknown push source (also an invalid name, and a view's name) ...
SELECT fs_ingest('{"workspace_name": "prod", "records": {"ing_nope": []}}');
SELECT fs_ingest('{"workspace_name": "prod", "records": {"Ing Clicks; DROP": []}}');
SELECT fs_ingest('{"workspace_name": "prod", "records": {"ing_clicks_fv": []}}');
-- ... even next to a valid source with good records
SELECT fs_ingest('{"workspace_name": "prod", "records": {
  "ing_clicks": [{"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z"}}],
  "ing_nope": []}}');
-- a source's records are not an array
SELECT fs_ingest('{"workspace_name": "prod", "records": {"ing_clicks": {"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z"}}}}');
SELECT fs_ingest('{"workspace_name": "prod", "records": {"ing_clicks": null}}');
-- an unknown top-level field (a typo of dry_run)
SELECT fs_ingest('{"workspace_name": "prod", "dryrun": true, "records": {}}');
SELECT * FROM ing_counts();

------------------------------------------------------------------------
-- recordErrors: {"workspaceName", "recordErrors": [{"pushSourceName",
-- "featureViewName", "errorType", "errorMessage"}]} for bad records
------------------------------------------------------------------------
-- wrong type
SELECT jsonb_pretty(fs_ingest('{"workspace_name": "prod", "records": {"ing_clicks": [
  {"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z", "clicks": 1.5}}]}}'));
-- each failing record gives one entry with the same keys; check the key set once
SELECT jsonb_object_keys(fs_ingest('{"workspace_name": "prod", "records": {"ing_clicks": [
  {"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z", "clicks": "12abc"}}]}}') -> 'recordErrors' -> 0) AS k
 ORDER BY k;
-- an unknown field (typo)
SELECT e->>'errorMessage' FROM jsonb_array_elements(fs_ingest('{"workspace_name": "prod", "records": {"ing_clicks": [
  {"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z", "clikcs": 1}}]}}') -> 'recordErrors') e;
-- a missing join key, a null timestamp, a missing timestamp
SELECT e->>'errorMessage' FROM jsonb_array_elements(fs_ingest('{"workspace_name": "prod", "records": {"ing_clicks": [
  {"record": {"ts": "2024-03-01T00:00:00Z", "clicks": 1}},
  {"record": {"user_id": "u5", "ts": null}},
  {"record": {"user_id": "u5"}}]}}') -> 'recordErrors') e;
-- elements that are not {"record": {...}}
SELECT e->>'errorMessage' FROM jsonb_array_elements(fs_ingest('{"workspace_name": "prod", "records": {"ing_clicks": [
  {"user_id": "u5", "ts": "2024-03-01T00:00:00Z"},
  {"rec": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z"}},
  5,
  null,
  {"record": 5},
  {"record": [{"user_id": "u5", "ts": "2024-03-01T00:00:00Z"}]}]}}') -> 'recordErrors') e;
-- several errors across two sources are all reported, good records
-- among them are not; and nothing is written for ANY source
SELECT jsonb_pretty(fs_ingest('{"workspace_name": "staging", "records": {
  "ing_clicks": [
    {"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z", "clicks": 1}},
    {"record": {"user_id": "u6", "ts": "yesterday", "clicks": 1}},
    {"record": {"user_id": "u6", "ts": "2024-03-01T00:00:00Z", "page": 7}}],
  "ing_orders": [
    {"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z", "amount": 1, "paid": "yes"}},
    {"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z", "amount": 2}}]}}'));
SELECT * FROM ing_counts();
-- atomicity: one source entirely good, the other with one bad record:
-- nothing is written for either
SELECT fs_ingest('{"workspace_name": "prod", "records": {
  "ing_clicks": [
    {"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z", "clicks": 1, "page": "x"}},
    {"record": {"user_id": "u6", "ts": "2024-03-01T00:00:00Z", "clicks": 2, "page": "y"}}],
  "ing_orders": [
    {"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z", "amount": 1, "paid": true}},
    {"record": {"user_id": "u6", "ts": "2024-03-01T00:00:00Z", "amount": 2, "paid": null, "tip": 1}}]}}') -> 'recordErrors';
SELECT * FROM ing_counts();
SELECT count(*) FROM pushsource_source.ing_clicks WHERE user_id IN ('u5', 'u6');
SELECT count(*) FROM pushsource_store.ing_clicks_fv_online WHERE user_id IN ('u5', 'u6');
-- the same request with the bad record fixed goes through entirely
SELECT fs_ingest('{"workspace_name": "prod", "records": {
  "ing_clicks": [
    {"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z", "clicks": 1, "page": "x"}},
    {"record": {"user_id": "u6", "ts": "2024-03-01T00:00:00Z", "clicks": 2, "page": "y"}}],
  "ing_orders": [
    {"record": {"user_id": "u5", "ts": "2024-03-01T00:00:00Z", "amount": 1, "paid": true}},
    {"record": {"user_id": "u6", "ts": "2024-03-01T00:00:00Z", "amount": 2, "paid": null}}]}}');
SELECT * FROM ing_counts();
-- record errors are returned, not raised: the caller's transaction goes on
BEGIN;
SELECT fs_ingest('{"workspace_name": "prod", "records": {"ing_clicks": [{"record": {}}]}}') ? 'recordErrors' AS has_errors;
SELECT 1 AS still_usable;
COMMIT;

-- an element with a key beside "record" is a record error, like an unknown field
SELECT fs_ingest('{"workspace_name": "ws", "records": {"ing_clicks": [
  {"record": {"user_id": "zz", "ts": "2024-09-01T00:00:00Z"}, "recrod": {}}]}}');
SELECT count(*) AS zz_rows FROM pushsource_source.ing_clicks WHERE user_id = 'zz';

-- many bad records: the reply lists the first 100 errors (in record order,
-- across sources) and "recordErrorCount" counts them all; nothing written
WITH r AS (
  SELECT fs_ingest(jsonb_build_object('workspace_name', 'ws', 'records', jsonb_build_object(
           'ing_clicks', (SELECT jsonb_agg(jsonb_build_object('record', jsonb_build_object(
                             'user_id', 'many', 'ts', '2024-09-01T00:00:00Z', 'clicks', CASE WHEN i % 2 = 0 THEN 'bad' ELSE '1' END)))
                            FROM generate_series(1, 300) i),
           'ing_orders', (SELECT jsonb_agg(jsonb_build_object('record', jsonb_build_object('user_id', 'many')))
                            FROM generate_series(1, 100) i)))) AS j)
SELECT jsonb_array_length(j -> 'recordErrors') AS listed, j -> 'recordErrorCount' AS counted,
       j -> 'recordErrors' -> 0 ->> 'errorMessage' AS first, j -> 'recordErrors' -> 99 ->> 'errorMessage' AS last_listed
  FROM r;
SELECT count(*) AS many_rows FROM pushsource_source.ing_clicks WHERE user_id = 'many';
-- 100 errors or fewer: no count beside the list
SELECT fs_ingest('{"workspace_name": "ws", "records": {"ing_clicks": [{"record": {}}]}}') ? 'recordErrorCount' AS counted;
-- fs_push(on_error => 'skip') keeps every rejected record, whatever their number
SELECT fs_push('ing_clicks', (SELECT jsonb_agg(jsonb_build_object('user_id', 'many', 'ts', '2024-09-01T00:00:00Z',
                                   'clicks', CASE WHEN i % 3 = 0 THEN '1' ELSE 'bad' END))
                                FROM generate_series(1, 2500) i), on_error => 'skip') - 'feature_views';
SELECT count(*), min(record_index), max(record_index), count(DISTINCT record_index) AS distinct_index
  FROM pushsource.rejected_records WHERE source = 'ing_clicks' AND record ->> 'user_id' = 'many';
SELECT count(*) AS many_rows FROM pushsource_source.ing_clicks WHERE user_id = 'many';
DELETE FROM pushsource.rejected_records WHERE source = 'ing_clicks';

-- clean up
SELECT fs_drop('ing_clicks', cascade => true);
SELECT fs_drop('ing_orders', cascade => true);
SELECT fs_drop('ing_user', cascade => true);
DROP FUNCTION ing_counts();

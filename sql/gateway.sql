-- The HTTP gateway's SQL side: API keys (fs_create_api_key,
-- fs_revoke_api_key), the endpoints' shapes (fs_tecton_get_features[_batch],
-- fs_feast_push, fs_feast_get_online_features; fs_ingest is in ingest.sql),
-- the gateway's call (fs_gateway_request: a request runs as its key's role)
-- and its error mapping (fs_gateway_error).  Objects and roles are gw_*.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

-- gw_try(sql): 'ok', or the error's SQLSTATE and message (and hint)
CREATE FUNCTION public.gw_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    h text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' HINT: ' || nullif(h, ''), '');
END
$$;

SELECT fs_create_entity('gw_user', ARRAY['user_id']);
SELECT fs_create_push_source('gw_events',
  'user_id String, ts Timestamp, clicks Int64, amount Float64, seen Timestamp, note String,
   tags Array(Int64), meta Struct(a Int64, b String), attrs Map(String, Int64)',
  timestamp_field => 'ts');
SELECT fs_create_feature_view('gw_fv', 'gw_events', ARRAY['gw_user'],
  features => ARRAY['clicks', 'amount', 'seen', 'note', 'tags', 'meta', 'attrs'],
  ttl => interval '30 days');
SELECT fs_create_feature_view('gw_agg', 'gw_events', ARRAY['gw_user'],
  aggregations => ARRAY[fs_agg('clicks', 'count', interval '1 day', 'clicks_count_1d'),
                        fs_agg('amount', 'sum', interval '1 day', 'amount_sum_1d')],
  aggregation_interval => interval '1 hour');
SELECT fs_create_feature_service('gw_svc', ARRAY['gw_fv.clicks', 'gw_fv.meta', 'gw_agg']);
SELECT fs_push('gw_events', '[
  {"user_id": "u1", "ts": "2024-05-01T10:00:00Z", "clicks": 3, "amount": 9.5, "seen": "2024-05-01T09:00:00Z",
   "note": "hi", "tags": [1, 2], "meta": {"a": 5, "b": "x"}, "attrs": {"k": 7}},
  {"user_id": "u2", "ts": "2024-05-01T11:00:00Z", "clicks": 9007199254740993, "amount": 1.5,
   "seen": "1969-12-31T23:59:59.5Z", "note": null, "tags": [], "meta": {"a": null, "b": "y"}, "attrs": {}},
  {"user_id": "old", "ts": "2024-01-01T00:00:00Z", "clicks": 1, "amount": 0}]') ->> 'records' AS pushed;
-- reads are judged at this time: u1, u2 inside the 30-day ttl, "old" outside
SET pushsource.request_time = '2024-05-01 12:00:00+00';

------------------------------------------------------------------------
-- Tecton feature serving: get-features
------------------------------------------------------------------------
-- the request of Tecton's documentation (snake_case), every metadata option:
-- int64 as strings (a value past 2^53 keeps every digit), a struct as the list
-- of its field values, names "view.feature" in the service's order
SELECT jsonb_pretty(fs_tecton_get_features('{"params": {
  "feature_service_name": "gw_svc", "workspace_name": "prod",
  "join_key_map": {"user_id": "u2"},
  "metadata_options": {"include_names": true, "include_data_types": true,
                       "include_effective_times": true, "include_serving_status": true}}}'));
-- camelCase (Tecton's Python client), only names; an unknown key is MISSING_DATA
SELECT fs_tecton_get_features('{"params": {"featureServiceName": "gw_svc", "workspaceName": "prod",
  "joinKeyMap": {"user_id": "nobody"}, "metadataOptions": {"includeNames": true, "includeServingStatus": true}}}');
-- no metadata options: no metadata; a view by name; every type of the view
SELECT fs_tecton_get_features('{"params": {"feature_service_name": "gw_fv", "workspace_name": "w",
  "join_key_map": {"user_id": "u1"}}}');
SELECT fs_tecton_get_features('{"params": {"feature_service_name": "gw_fv", "workspace_name": "w",
  "join_key_map": {"user_id": "u1"}, "metadata_options": {"include_data_types": true}}}') -> 'metadata';
-- outside the ttl: null values, MISSING_DATA, the effective time still given
SELECT fs_tecton_get_features('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w",
  "join_key_map": {"user_id": "old"}, "metadata_options": {"include_serving_status": true,
  "include_effective_times": true}}}');
-- an empty request context, or one ignored on request, is accepted
SELECT fs_tecton_get_features('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w",
  "join_key_map": {"user_id": "u1"}, "request_context_map": {}}}') -> 'result';
SELECT fs_tecton_get_features('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w",
  "join_key_map": {"user_id": "u1"}, "request_context_map": {"amount": 5},
  "request_options": {"ignore_extra_request_context_fields": true}}}') -> 'result';

-- errors: each names the field and what was expected
SELECT gw_try(format('SELECT fs_tecton_get_features(%L)', r)) FROM (VALUES
  (NULL),
  ('[]'),
  ('{}'),
  ('{"params": 1}'),
  ('{"params": {}, "extra": 1}'),
  ('{"params": {"workspace_name": "w", "join_key_map": {"user_id": "u1"}}}'),
  ('{"params": {"feature_service_name": "gw_svc", "join_key_map": {"user_id": "u1"}}}'),
  ('{"params": {"feature_service_name": "", "workspace_name": "w", "join_key_map": {"user_id": "u1"}}}'),
  ('{"params": {"feature_service_id": "abc", "workspace_name": "w", "join_key_map": {}}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w"}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "join_key_map": ["u1"]}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "join_key_map": {}}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "join_key_map": {"user_id": 5}}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "join_key_map": {"user_id": "u1", "x": 1}}}'),
  ('{"params": {"feature_service_name": "gw_nope", "workspace_name": "w", "join_key_map": {"user_id": "u1"}}}'),
  ('{"params": {"feature_service_name": "Bad Name", "workspace_name": "w", "join_key_map": {"user_id": "u1"}}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "join_key_map": {"user_id": "u1"}, "request_context_map": {"amount": 5}}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "join_key_map": {"user_id": "u1"}, "metadata_options": {"include_names": "yes"}}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "join_key_map": {"user_id": "u1"}, "metadata_options": {"include_everything": true}}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "join_key_map": {"user_id": "u1"}, "request_data": []}}')
) AS t(r);

------------------------------------------------------------------------
-- Tecton feature serving: get-features-batch
------------------------------------------------------------------------
-- one result per row, in order; shared metadata with a status per row and
-- the newest effective time
SELECT jsonb_pretty(fs_tecton_get_features_batch('{"params": {
  "feature_service_name": "gw_svc", "workspace_name": "prod",
  "request_data": [{"join_key_map": {"user_id": "u1"}}, {"join_key_map": {"user_id": "nobody"}},
                   {"join_key_map": {"user_id": "u2"}, "request_context_map": {}}],
  "metadata_options": {"include_names": true, "include_serving_status": true,
                       "include_effective_times": true}}}'));
SELECT fs_tecton_get_features_batch('{"params": {"feature_service_name": "gw_svc",
  "workspace_name": "w", "request_data": []}}');
SELECT gw_try(format('SELECT fs_tecton_get_features_batch(%L)', r)) FROM (VALUES
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "join_key_map": {"user_id": "u1"}}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w"}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "request_data": [1]}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "request_data": [{"join_key_map": {"user_id": "u1"}, "x": 1}]}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "request_data": [{"join_key_map": {"user_id": "u1"}}, {}]}}'),
  ('{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "request_data": [{"join_key_map": {"user_id": "u1"}}, {"join_key_map": {}}]}}')
) AS t(r);

------------------------------------------------------------------------
-- Feast: /get-online-features
------------------------------------------------------------------------
-- columnar: join keys first (values as sent, PRESENT, the epoch), then one
-- result per feature with a value, status and event time per entity row, in
-- the rows' order.  NULL_VALUE: a row whose value is null; NOT_FOUND: no
-- row; OUTSIDE_MAX_AGE: older than the ttl.  A Timestamp feature is Unix
-- seconds (floor: 1969-12-31T23:59:59.5 is -1), int64 stays a number.
-- Features come in the order asked for.
SELECT jsonb_pretty(fs_feast_get_online_features('{
  "features": ["gw_fv:clicks", "gw_fv:note", "gw_fv:seen"],
  "entities": {"user_id": ["u1", "u2", "nobody", "old"]}}'));
-- a feature service; full feature names are view__feature
SELECT fs_feast_get_online_features('{"feature_service": "gw_svc", "entities": {"user_id": ["u1"]},
  "full_feature_names": true}') -> 'metadata';
SELECT fs_feast_get_online_features('{"feature_service": "gw_svc", "entities": {"user_id": ["u1"]}}')
  -> 'results' -> 2;
-- no entity rows: the names, and empty columns
SELECT fs_feast_get_online_features('{"features": ["gw_fv:clicks"], "entities": {"user_id": []}}');
-- errors
SELECT gw_try(format('SELECT fs_feast_get_online_features(%L)', r)) FROM (VALUES
  (NULL),
  ('{"entities": {"user_id": ["u1"]}}'),
  ('{"features": ["gw_fv:clicks"], "feature_service": "gw_svc", "entities": {"user_id": ["u1"]}}'),
  ('{"features": [], "entities": {"user_id": ["u1"]}}'),
  ('{"features": [1], "entities": {"user_id": ["u1"]}}'),
  ('{"features": ["clicks"], "entities": {"user_id": ["u1"]}}'),
  ('{"features": ["gw_nope:clicks"], "entities": {"user_id": ["u1"]}}'),
  ('{"features": ["gw_fv:nope"], "entities": {"user_id": ["u1"]}}'),
  ('{"features": ["gw_fv:clicks", "gw_agg:clicks_count_1d"], "entities": {}}'),
  ('{"features": ["gw_fv:clicks"], "entities": {"user_id": "u1"}}'),
  ('{"features": ["gw_fv:clicks"], "entities": {"user_id": ["u1"], "x": ["a", "b"]}}'),
  ('{"features": ["gw_fv:clicks"], "entities": {"user_id": ["u1"], "x": ["a"]}}'),
  ('{"features": ["gw_fv:clicks"], "entities": {"user_id": [1]}}'),
  ('{"features": ["gw_fv:clicks"], "entities": {"user_id": ["u1"]}, "full_feature_names": "yes"}'),
  ('{"features": ["gw_fv:clicks"], "entities": {"user_id": ["u1"]}, "extra": 1}'),
  ('{"feature_service": "gw_nope", "entities": {"user_id": ["u1"]}}')
) AS t(r);
-- two views with a feature of the same name need full names
SELECT fs_create_feature_view('gw_fv2', 'gw_events', ARRAY['gw_user'], features => ARRAY['clicks']);
SELECT gw_try($$SELECT fs_feast_get_online_features('{"features": ["gw_fv:clicks", "gw_fv2:clicks"], "entities": {"user_id": ["u1"]}}')$$);
SELECT fs_feast_get_online_features('{"features": ["gw_fv:clicks", "gw_fv2:clicks"], "entities": {"user_id": ["u1"]},
  "full_feature_names": true}') -> 'metadata';

------------------------------------------------------------------------
-- Feast: /push
------------------------------------------------------------------------
-- df is columnar; row i takes the i-th value of each column.  Feast's
-- default "to" is "online": no history (source log, offline stores).
CREATE TEMP VIEW gw_counts AS
  SELECT (SELECT count(*) FROM pushsource_source.gw_events) AS log,
         (SELECT count(*) FROM pushsource_store.gw_fv_offline) AS offline,
         (SELECT count(*) FROM pushsource_store.gw_fv_online) AS online;
SELECT * FROM gw_counts;
SELECT fs_feast_push('{"push_source_name": "gw_events",
  "df": {"user_id": ["f1", "f2"], "ts": ["2024-05-01 10:59:42+00:00", "2024-05-01 10:59:43"],
         "clicks": [1, 2], "amount": [1.0, 2.5]}}');
SELECT * FROM gw_counts;
SELECT fs_feast_push('{"push_source_name": "gw_events", "to": "offline",
  "df": {"user_id": ["f3"], "ts": ["2024-05-01T10:00:00Z"], "clicks": [3]}}');
SELECT * FROM gw_counts;
-- "online_and_offline", and Feast's older spelling "both"
SELECT fs_feast_push('{"push_source_name": "gw_events", "to": "online_and_offline",
  "df": {"user_id": ["f4"], "ts": ["2024-05-01T10:00:00Z"], "clicks": [4]}, "allow_registry_cache": true}');
SELECT fs_feast_push('{"push_source_name": "gw_events", "to": "both",
  "df": {"user_id": ["f5"], "ts": ["2024-05-01T10:00:00Z"], "clicks": [5]}, "transform_on_write": false}');
SELECT * FROM gw_counts;
SELECT user_id, clicks, amount FROM pushsource_store.gw_fv_online WHERE user_id LIKE 'f%' ORDER BY 1;
-- errors; one bad row and nothing is written
SELECT gw_try(format('SELECT fs_feast_push(%L)', r)) FROM (VALUES
  (NULL),
  ('{"df": {"user_id": ["x"]}}'),
  ('{"push_source_name": "gw_events"}'),
  ('{"push_source_name": "gw_events", "df": []}'),
  ('{"push_source_name": "gw_events", "df": {}}'),
  ('{"push_source_name": "gw_events", "df": {"user_id": "x"}}'),
  ('{"push_source_name": "gw_events", "df": {"user_id": ["a", "b"], "ts": ["2024-05-01T10:00:00Z"]}}'),
  ('{"push_source_name": "gw_events", "to": "everywhere", "df": {"user_id": ["a"]}}'),
  ('{"push_source_name": "gw_nope", "df": {"user_id": ["a"]}}'),
  ('{"push_source_name": "gw_events", "df": {"user_id": ["a"]}, "extra": 1}'),
  ('{"push_source_name": "gw_events", "df": {"user_id": ["g1", "g2"], "ts": ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"], "clicks": [1, 1.5]}}'),
  ('{"push_source_name": "gw_events", "df": {"user_id": ["g1"], "ts": ["2024-05-01T10:00:00Z"], "bogus": [1]}}')
) AS t(r);
SELECT * FROM gw_counts;

------------------------------------------------------------------------
-- API keys
------------------------------------------------------------------------
CREATE ROLE gw_writer IN ROLE pushsource_writer;
CREATE ROLE gw_reader IN ROLE pushsource_reader;
CREATE ROLE gw_admin IN ROLE pushsource_admin;
CREATE ROLE gw_super SUPERUSER;
-- the gateway's login: may call fs_gateway_request, and act as gw_writer
-- (whose rights it also inherits) but not as gw_reader
CREATE ROLE gw_login LOGIN IN ROLE pushsource_gateway;
GRANT gw_writer TO gw_login;

CREATE TEMP TABLE gw_keys (name text PRIMARY KEY, key text);
GRANT SELECT ON gw_keys TO PUBLIC;
INSERT INTO gw_keys VALUES
  ('writer', fs_create_api_key('gw_writer', 'producer of gw_events')),
  ('reader', fs_create_api_key('gw_reader'));
-- a key is "psk_" and 48 hex digits, shown once; only its SHA-256 (the
-- digest of SQL's sha256()) and first 12 characters are kept
SELECT name, key ~ '^psk_[0-9a-f]{48}$' AS well_formed FROM gw_keys ORDER BY name;
SELECT k.role, k.description, k.key_prefix = left(g.key, 12) AS prefix_ok, k.created_by, k.active,
       c.key_hash = sha256(convert_to(g.key, 'UTF8')) AS sha256_ok
  FROM api_keys k JOIN pushsource_internal.api_key_catalog c USING (id)
  JOIN gw_keys g ON c.key_hash = sha256(convert_to(g.key, 'UTF8'))
 ORDER BY k.id;
-- refused: a superuser role, a missing role, a null one
SELECT gw_try($$SELECT fs_create_api_key('gw_super')$$);
SELECT gw_try($$SELECT fs_create_api_key(0::oid::regrole)$$);
SELECT gw_try($$SELECT fs_create_api_key(NULL)$$);
-- an admin may make keys only for roles it could SET ROLE to
SET ROLE gw_admin;
SELECT gw_try($$SELECT fs_create_api_key('gw_reader')$$);
RESET ROLE;
GRANT gw_reader TO gw_admin;
SET ROLE gw_admin;
SELECT gw_try($$SELECT fs_create_api_key('gw_reader', 'made by an admin')$$);
-- admins list keys but never see digests, and cannot write the table
SELECT count(*) >= 3 AS listed FROM api_keys;
SELECT gw_try($$SELECT key_hash FROM pushsource_internal.api_key_catalog$$);
SELECT gw_try($$INSERT INTO pushsource_internal.api_key_catalog (role, key_prefix, key_hash, created_by) VALUES ('gw_reader', 'x', '\x00', 'gw_admin')$$);
SELECT gw_try($$UPDATE pushsource_internal.api_key_catalog SET revoked_at = NULL$$);
RESET ROLE;
-- writers and readers may not make keys at all
SET ROLE gw_writer;
SELECT gw_try($$SELECT fs_create_api_key('gw_writer')$$);
RESET ROLE;

------------------------------------------------------------------------
-- fs_gateway_request: one request, as its key's role
------------------------------------------------------------------------
-- gw_req(endpoint, body, key name): status, body and metrics columns
CREATE FUNCTION public.gw_req(endpoint text, body text, key_name text)
RETURNS TABLE (status int, body jsonb, records bigint, pushed text) LANGUAGE sql AS $$
    SELECT * FROM pushsource.fs_gateway_request(endpoint, body,
                                                (SELECT key FROM gw_keys WHERE name = key_name))
$$;
SET SESSION AUTHORIZATION gw_login;
SET search_path = pushsource, pushsource_source, public;
-- Tecton ingest with the writer's key: 200, one record, metrics per source
SELECT status, body, records, pushed FROM gw_req('ingest', '{"workspace_name": "prod",
  "records": {"gw_events": [{"record": {"user_id": "k1", "ts": "2024-05-01T10:00:00Z", "clicks": 1}},
                            {"record": {"user_id": "k2", "ts": "2024-05-01T10:00:00Z", "clicks": 2}}]}}', 'writer');
-- bad records: 400, recordErrors, nothing written
SELECT status, body, records FROM gw_req('ingest', '{"workspace_name": "prod",
  "records": {"gw_events": [{"record": {"user_id": "k3", "ts": "2024-05-01T10:00:00Z", "clicks": 1}},
                            {"record": {"user_id": "k4", "ts": "yesterday", "clicks": 2}}]}}', 'writer');
SELECT status, body FROM gw_req('ingest', '{"records": {}}', 'writer');
-- Feast push with the writer's key
SELECT status, body, records, pushed FROM gw_req('push', '{"push_source_name": "gw_events",
  "df": {"user_id": ["k5"], "ts": ["2024-05-01T10:00:00Z"]}, "to": "online_and_offline"}', 'writer');
SELECT user_id FROM pushsource_source.gw_events WHERE user_id LIKE 'k%' ORDER BY 1;
-- the writer's key may not read (neither may the login)
SELECT gw_try($$SELECT * FROM gw_req('get-features', '{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "join_key_map": {"user_id": "k1"}}}', 'writer')$$);
-- the reader's key: the login may not act as gw_reader
SELECT regexp_replace(gw_try($$SELECT * FROM gw_req('get-features', '{"params": {"feature_service_name": "gw_svc", "workspace_name": "w", "join_key_map": {"user_id": "k1"}}}', 'reader')$$), 'API key [0-9]+', 'API key N') AS refused;
RESET SESSION AUTHORIZATION;
GRANT gw_reader TO gw_login;
SET SESSION AUTHORIZATION gw_login;
SET search_path = pushsource, pushsource_source, public;
SELECT status, body, records FROM gw_req('get-features', '{"params": {"feature_service_name": "gw_svc",
  "workspace_name": "w", "join_key_map": {"user_id": "k1"}}}', 'reader');
SELECT status, body -> 'result' AS result, records FROM gw_req('get-features-batch', '{"params": {"feature_service_name": "gw_fv2",
  "workspace_name": "w", "request_data": [{"join_key_map": {"user_id": "k1"}}, {"join_key_map": {"user_id": "k2"}}]}}', 'reader');
SELECT status, body -> 'results' -> 1 AS clicks, records FROM gw_req('get-online-features',
  '{"features": ["gw_fv2:clicks"], "entities": {"user_id": ["k1", "k2", "k9"]}}', 'reader');
-- a reader's key may not push, though the login could (the key decides)
SELECT has_table_privilege('pushsource_source.gw_events', 'INSERT') AS login_may_push;
SELECT gw_try($$SELECT * FROM gw_req('push', '{"push_source_name": "gw_events", "df": {"user_id": ["k6"], "ts": ["2024-05-01T10:00:00Z"]}}', 'reader')$$);
SELECT gw_try($$SELECT * FROM gw_req('ingest', '{"workspace_name": "w", "records": {"gw_events": [{"record": {"user_id": "k6", "ts": "2024-05-01T10:00:00Z"}}]}}', 'reader')$$);
SELECT count(*) AS k6_rows FROM pushsource_source.gw_events WHERE user_id = 'k6';
-- keys that are missing, unknown, or malformed; an unknown endpoint
SELECT gw_try($$SELECT * FROM fs_gateway_request('ingest', '{}', NULL)$$);
SELECT gw_try($$SELECT * FROM fs_gateway_request('ingest', '{}', '')$$);
SELECT gw_try($$SELECT * FROM fs_gateway_request('ingest', '{}', 'psk_000000000000000000000000000000000000000000000000')$$);
-- the body is parsed only for a known key: an unknown key with a body that
-- is not JSON is refused for the key (401), a known one for the body (400)
SELECT gw_try($$SELECT * FROM fs_gateway_request('ingest', 'not json', 'psk_000000000000000000000000000000000000000000000000')$$);
SELECT gw_try($$SELECT * FROM gw_req('ingest', 'not json', 'reader')$$);
SELECT gw_try($$SELECT * FROM gw_req('metrics', '{}', 'reader')$$);
SELECT gw_try($$SELECT * FROM fs_gateway_request(NULL, '{}', 'x')$$);
-- only the gateway's role may call it
RESET SESSION AUTHORIZATION;
SET ROLE gw_writer;
SELECT gw_try($$SELECT * FROM pushsource.fs_gateway_request('ingest', '{}', 'x')$$);
RESET ROLE;

-- revoking: true once, then false; refused on the next request
SELECT fs_revoke_api_key(id) AS revoked FROM pushsource_internal.api_key_catalog
 WHERE key_hash = sha256(convert_to((SELECT key FROM gw_keys WHERE name = 'writer'), 'UTF8'));
SELECT fs_revoke_api_key(id) AS revoked_again FROM pushsource_internal.api_key_catalog
 WHERE key_hash = sha256(convert_to((SELECT key FROM gw_keys WHERE name = 'writer'), 'UTF8'));
SELECT active FROM api_keys WHERE description = 'producer of gw_events';
SET SESSION AUTHORIZATION gw_login;
SET search_path = pushsource, pushsource_source, public;
SELECT regexp_replace(gw_try($$SELECT * FROM gw_req('push', '{}', 'writer')$$), '[0-9]+', 'N', 'g') AS revoked_key;
RESET SESSION AUTHORIZATION;
SELECT gw_try($$SELECT fs_revoke_api_key(999999)$$);
SELECT gw_try($$SELECT fs_revoke_api_key(NULL)$$);
-- a key whose role became a superuser is refused; one whose role is gone too
INSERT INTO gw_keys VALUES ('temp', fs_create_api_key('gw_writer'));
ALTER ROLE gw_writer SUPERUSER;
SELECT regexp_replace(gw_try($$SELECT * FROM gw_req('push', '{}', 'temp')$$), '[0-9]+', 'N', 'g') AS superuser_key;
ALTER ROLE gw_writer NOSUPERUSER;
CREATE ROLE gw_gone IN ROLE pushsource_writer;
INSERT INTO gw_keys VALUES ('gone', fs_create_api_key('gw_gone'));
DROP ROLE gw_gone;
SELECT regexp_replace(gw_try($$SELECT * FROM gw_req('push', '{}', 'gone')$$), '[0-9]+', 'N', 'g') AS gone_key;
-- a role renamed, or a new role that got a dropped one's OID, is not the
-- key's role: the name is checked too
CREATE ROLE gw_renamed IN ROLE pushsource_writer;
GRANT gw_renamed TO gw_login;
INSERT INTO gw_keys VALUES ('renamed', fs_create_api_key('gw_renamed'));
ALTER ROLE gw_renamed RENAME TO gw_renamed2;
SET SESSION AUTHORIZATION gw_login;
SELECT regexp_replace(gw_try($$SELECT * FROM gw_req('push', '{}', 'renamed')$$), '[0-9]+', 'N', 'g') AS renamed_key;
RESET SESSION AUTHORIZATION;

-- keys keep working across catalog changes: the key lookup's plan is not
-- the feature catalog's (a new view retires that cache, and its plans)
INSERT INTO gw_keys VALUES ('after', fs_create_api_key('gw_reader'));
SELECT status FROM gw_req('get-online-features', '{"features": ["gw_fv2:clicks"], "entities": {"user_id": ["k1"]}}', 'after');
SELECT fs_create_feature_view('gw_fv3', 'gw_events', ARRAY['gw_user'], features => ARRAY['amount']);
SELECT status FROM gw_req('get-online-features', '{"features": ["gw_fv3:amount"], "entities": {"user_id": ["k1"]}}', 'after');
INSERT INTO gw_keys VALUES ('after2', fs_create_api_key('gw_reader'));
SELECT status FROM gw_req('get-online-features', '{"features": ["gw_fv3:amount"], "entities": {"user_id": ["k1"]}}', 'after2');

------------------------------------------------------------------------
-- fs_gateway_error: SQLSTATE to HTTP status, body in the endpoint's shape
------------------------------------------------------------------------
SELECT s AS sqlstate, (fs_gateway_error('push', s, 'm')).status
  FROM unnest(ARRAY['28000', '28P01', '42501', '42704', '22P02', '23502', '42703', '42804',
                    '54000', '0A000', '55000', '22023', '25006', '57P01', '08006', '53200',
                    '40001', '40P01', '55P03', '57014', '42P01', 'XX000', 'P0001', 'bad']) AS s;
SELECT e AS endpoint, (fs_gateway_error(e, '23502', 'join key "user_id" is missing',
                                        'detail here', 'hint here')).body
  FROM unnest(ARRAY['ingest', 'get-features', 'get-features-batch', 'push', 'get-online-features']) AS e;
SELECT (fs_gateway_error('get-features', s, 'm')).body ->> 'code' AS grpc_code, s AS sqlstate
  FROM unnest(ARRAY['28000', '42501', '42704', '22P02', '55000', '25006', '57014', 'XX000']) AS s;
SELECT (fs_gateway_error('ingest', s, 'm')).body -> 'requestError' ->> 'errorType' AS error_type
  FROM unnest(ARRAY['28000', '42501', '42704', '22P02', '25006', '57014', 'XX000']) AS s;
SELECT (fs_gateway_error('push', '22P02', 'message ends.', '', NULL)).body;

RESET pushsource.request_time;

-- clean up: roles are cluster-wide, and installcheck may run again on this server
DROP OWNED BY gw_writer, gw_reader, gw_admin, gw_super, gw_login, gw_renamed2;
DROP ROLE gw_writer, gw_reader, gw_admin, gw_super, gw_login, gw_renamed2;

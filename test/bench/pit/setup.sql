-- Objects and data of the point-in-time join benchmark (test/bench/pit.sh).
-- psql variables: nkeys, nfeat, nspine.
--
-- pushsource side: entity "user" with one int8 join key user_id (int8, not
-- text: the cheaper comparator, as most id columns are), push source
-- "pit_src" (user_id Int64, ts Timestamp, score Float64), attribute feature
-- view "pit_fv" with ttl 7 days (online and offline store, the defaults).
--
-- Data, deterministic (hashes of the row number, not random()):
--  * :nfeat feature rows over 30 days, inserted in event-time order (as a
--    stream would append them) through INSERT INTO pushsource_source.pit_src, i.e.
--    through the fan-out into the offline store.  Keys are skewed: 80% of
--    the rows on the first 20% of the keys ("hot", ~200 rows each at full
--    scale), 20% on the other 80% ("cold", ~12 rows each in 30 days), so
--    that the ttl really cuts some matches off.  1% of the values are NULL
--    (a NULL newest value must give NULL, not an older value).  Timestamps
--    have millisecond resolution plus (row number mod 1000) microseconds, so
--    that (user_id, ts) is unique -- checked by pit.sh -- and the three
--    implementations cannot disagree on ties.  Values are multiples of
--    2^-20: exact in CSV, in float8 and in DuckDB's DOUBLE.
--  * a spine of :nspine rows (row_id, user_id, ts): keys uniform over all
--    keys, times uniform over the same 30 days, microsecond resolution.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION pushsource;
SELECT pushsource.fs_create_entity('user', ARRAY['user_id']);
SELECT pushsource.fs_create_push_source('pit_src', 'user_id Int64, ts Timestamp, score Float64', 'ts');
SELECT pushsource.fs_create_feature_view('pit_fv', 'pit_src', ARRAY['user'], ttl => interval '7 days');

CREATE SCHEMA bench;
CREATE FUNCTION bench.h(g bigint, seed bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT hashint8extended(g, seed) & 9223372036854775807 $$;

INSERT INTO pushsource_source.pit_src (user_id, ts, score)
SELECT user_id, ts, score
  FROM (SELECT CASE WHEN bench.h(g, 1) % 5 = 0
                    THEN :nkeys / 5 + bench.h(g, 2) % (:nkeys - :nkeys / 5)
                    ELSE bench.h(g, 2) % (:nkeys / 5) END AS user_id,
               timestamptz '2024-01-01 00:00:00+00'
                 + (bench.h(g, 3) % 2592000000) * interval '1 millisecond'
                 + (g % 1000) * interval '1 microsecond' AS ts,
               CASE WHEN bench.h(g, 4) % 100 = 0 THEN NULL
                    ELSE (bench.h(g, 5) & 1048575) / 1048576.0::float8 END AS score
          FROM generate_series(1, :nfeat) g) x
 ORDER BY ts;

CREATE TABLE public.pit_spine (row_id bigint NOT NULL, user_id bigint NOT NULL, ts timestamptz NOT NULL);
INSERT INTO public.pit_spine
SELECT g, bench.h(g, 11) % :nkeys,
       timestamptz '2024-01-01 00:00:00+00' + (bench.h(g, 12) % 2592000000000) * interval '1 microsecond'
  FROM generate_series(1, :nspine) g;

VACUUM ANALYZE pushsource_source.pit_src, pushsource_store.pit_fv_offline, pushsource_store.pit_fv_online, public.pit_spine;
CHECKPOINT;

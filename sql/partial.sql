-- fs_partial: the partial state of a windowed aggregation.  Every function
-- against plain SQL aggregates over the same rows (written here, not taken
-- from the implementation); states combined from parts equal the state of
-- the whole; the *_n ordering and distinct rules; the text and binary forms,
-- and every malformed literal refused.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
SET extra_float_digits = 0;

CREATE FUNCTION public.partial_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- 60 events over 3 keys; six events share each minute, two of each key
-- (ties on ts, broken by ord); every 7th value is NULL; values repeat
-- (for the distinct lists)
CREATE TABLE public.pe (k int, part int, ts timestamptz, ord bigint,
                        i int4, x bigint, f float8, b boolean, t text, tt timestamptz);
INSERT INTO public.pe
SELECT g % 3, (g * 5) % 4, timestamptz '2024-01-01 00:00+00' + (g / 6) * interval '1 minute', 1000 - g,
       CASE WHEN g % 7 = 0 THEN NULL ELSE (g * 37) % 23 - 11 END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE ((g * 37) % 23 - 11) * 1000000000000 END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE ((g * 37) % 23 - 11) / 8.0 END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE g % 5 = 0 END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE chr(97 + (g * 3) % 5) END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE timestamptz '2024-02-01 00:00+00' + ((g * 11) % 17) * interval '1 hour' END
  FROM generate_series(1, 60) g;
-- ord runs against g within a minute: g = 6m .. 6m+5 share minute m, and
-- the later g has the smaller ord, so it is the earlier event

------------------------------------------------------------------------
-- What a state looks like (checked by hand: key 0 has g = 3, 6, ..., 60,
-- NULL at g = 21 and 42, so count 18; g = 60 is 00:10, ord 940, t =
-- chr(97 + 180 % 5) = 'a'; g = 57 and 54 share 00:09 with ords 943 ('b')
-- and 946 ('c'), so 'b' is the earlier event of the two)
------------------------------------------------------------------------
SELECT fs_partial_agg('last_n(3)', t, ts, ord) FROM pe WHERE k = 0;
SELECT fs_partial_agg('count', t, ts, ord) FROM pe WHERE k = 0;
SELECT fs_partial_agg('sum', i, ts, ord) FROM pe WHERE k = 0;
SELECT sum(i), count(i) FROM pe WHERE k = 0;

------------------------------------------------------------------------
-- Every function against plain SQL, per key, whole and combined from parts
------------------------------------------------------------------------
-- the functions tried, and the column each aggregates
CREATE TABLE public.ps_fns (fn text, col text);
INSERT INTO public.ps_fns VALUES
  ('count', 'i'), ('count', 't'), ('sum', 'i'), ('sum', 'x'), ('sum', 'f'),
  ('mean', 'i'), ('mean', 'f'), ('min', 'i'), ('min', 'f'), ('min', 'tt'),
  ('max', 'x'), ('max', 'f'), ('max', 'tt'), ('last', 'i'), ('last', 'b'), ('last', 't'),
  ('var_samp', 'i'), ('var_pop', 'f'), ('stddev_samp', 'x'), ('stddev_pop', 'i'),
  ('last_n(4)', 't'), ('first_n(4)', 'i'), ('last_distinct_n(3)', 't'),
  ('first_distinct_n(3)', 't'), ('last_distinct_n(2)', 'b'), ('first_n(1)', 'tt'),
  ('approx_count_distinct', 't'), ('approx_count_distinct', 'tt'), ('approx_count_distinct(4)', 'f'),
  ('approx_percentile(0.5)', 'i'), ('approx_percentile(0.9)', 'f');
-- states per (key, part): all of a key's events in four parts
CREATE TABLE public.ps_part_states AS
          SELECT k, part, fn, col, fs_partial_agg(fn, i, ts, ord) AS s FROM pe, ps_fns WHERE col = 'i' GROUP BY k, part, fn, col
UNION ALL SELECT k, part, fn, col, fs_partial_agg(fn, x, ts, ord) FROM pe, ps_fns WHERE col = 'x' GROUP BY k, part, fn, col
UNION ALL SELECT k, part, fn, col, fs_partial_agg(fn, f, ts, ord) FROM pe, ps_fns WHERE col = 'f' GROUP BY k, part, fn, col
UNION ALL SELECT k, part, fn, col, fs_partial_agg(fn, b, ts, ord) FROM pe, ps_fns WHERE col = 'b' GROUP BY k, part, fn, col
UNION ALL SELECT k, part, fn, col, fs_partial_agg(fn, t, ts, ord) FROM pe, ps_fns WHERE col = 't' GROUP BY k, part, fn, col
UNION ALL SELECT k, part, fn, col, fs_partial_agg(fn, tt, ts, ord) FROM pe, ps_fns WHERE col = 'tt' GROUP BY k, part, fn, col;
-- per key, from all its events at once, and from its parts' states
CREATE TABLE public.ps_whole AS
          SELECT k, fn, col, fs_partial_agg(fn, i, ts, ord) AS s FROM pe, ps_fns WHERE col = 'i' GROUP BY k, fn, col
UNION ALL SELECT k, fn, col, fs_partial_agg(fn, x, ts, ord) FROM pe, ps_fns WHERE col = 'x' GROUP BY k, fn, col
UNION ALL SELECT k, fn, col, fs_partial_agg(fn, f, ts, ord) FROM pe, ps_fns WHERE col = 'f' GROUP BY k, fn, col
UNION ALL SELECT k, fn, col, fs_partial_agg(fn, b, ts, ord) FROM pe, ps_fns WHERE col = 'b' GROUP BY k, fn, col
UNION ALL SELECT k, fn, col, fs_partial_agg(fn, t, ts, ord) FROM pe, ps_fns WHERE col = 't' GROUP BY k, fn, col
UNION ALL SELECT k, fn, col, fs_partial_agg(fn, tt, ts, ord) FROM pe, ps_fns WHERE col = 'tt' GROUP BY k, fn, col;
CREATE TABLE public.ps_parts AS
SELECT k, fn, col, fs_partial_merge(s ORDER BY part DESC) AS s FROM ps_part_states GROUP BY k, fn, col;
SELECT count(*) AS states, count(DISTINCT k) AS keys FROM ps_whole;
SELECT count(*) AS merged_states FROM ps_parts;

-- the reference, in plain SQL, as text (floats compared with a tolerance below)
CREATE TABLE public.ps_ref AS
SELECT k, 'count' AS fn, 'i' AS col, count(i)::text AS v FROM pe GROUP BY k
UNION ALL SELECT k, 'count', 't', count(t)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'sum', 'i', sum(i)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'sum', 'x', sum(x)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'sum', 'f', sum(f)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'mean', 'i', avg(i)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'mean', 'f', avg(f)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'min', 'i', min(i)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'min', 'f', min(f)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'min', 'tt', min(tt)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'max', 'x', max(x)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'max', 'f', max(f)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'max', 'tt', max(tt)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'last', 'i', (array_agg(i ORDER BY ts DESC, ord DESC) FILTER (WHERE i IS NOT NULL))[1]::text FROM pe GROUP BY k
UNION ALL SELECT k, 'last', 'b', (array_agg(b ORDER BY ts DESC, ord DESC) FILTER (WHERE b IS NOT NULL))[1]::text FROM pe GROUP BY k
UNION ALL SELECT k, 'last', 't', (array_agg(t ORDER BY ts DESC, ord DESC) FILTER (WHERE t IS NOT NULL))[1]::text FROM pe GROUP BY k
UNION ALL SELECT k, 'var_samp', 'i', var_samp(i)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'var_pop', 'f', var_pop(f)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'stddev_samp', 'x', stddev_samp(x)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'stddev_pop', 'i', stddev_pop(i)::text FROM pe GROUP BY k
-- exact while a state holds at most 2^8 / 8 = 32 distinct values (below)
UNION ALL SELECT k, 'approx_count_distinct', 't', count(DISTINCT t)::text FROM pe GROUP BY k
UNION ALL SELECT k, 'approx_count_distinct', 'tt', count(DISTINCT tt)::text FROM pe GROUP BY k
-- lists come out oldest first; _n keeps the latest/earliest n non-NULL
-- values, _distinct_n each value once at its latest/earliest occurrence
UNION ALL SELECT k, 'last_n(4)', 't', (SELECT array_agg(t ORDER BY ts, ord)::text FROM
          (SELECT t, ts, ord FROM pe p WHERE p.k = g.k AND t IS NOT NULL ORDER BY ts DESC, ord DESC LIMIT 4) l)
     FROM (SELECT DISTINCT k FROM pe) g
UNION ALL SELECT k, 'first_n(4)', 'i', (SELECT array_agg(i ORDER BY ts, ord)::text FROM
          (SELECT i, ts, ord FROM pe p WHERE p.k = g.k AND i IS NOT NULL ORDER BY ts, ord LIMIT 4) l)
     FROM (SELECT DISTINCT k FROM pe) g
UNION ALL SELECT k, 'first_n(1)', 'tt', (SELECT array_agg(tt ORDER BY ts, ord)::text FROM
          (SELECT tt, ts, ord FROM pe p WHERE p.k = g.k AND tt IS NOT NULL ORDER BY ts, ord LIMIT 1) l)
     FROM (SELECT DISTINCT k FROM pe) g
UNION ALL SELECT k, 'last_distinct_n(3)', 't', (SELECT array_agg(t ORDER BY ts, ord)::text FROM
          (SELECT * FROM (SELECT DISTINCT ON (t) t, ts, ord FROM pe p WHERE p.k = g.k AND t IS NOT NULL
                          ORDER BY t, ts DESC, ord DESC) d ORDER BY ts DESC, ord DESC LIMIT 3) l)
     FROM (SELECT DISTINCT k FROM pe) g
UNION ALL SELECT k, 'first_distinct_n(3)', 't', (SELECT array_agg(t ORDER BY ts, ord)::text FROM
          (SELECT * FROM (SELECT DISTINCT ON (t) t, ts, ord FROM pe p WHERE p.k = g.k AND t IS NOT NULL
                          ORDER BY t, ts, ord) d ORDER BY ts, ord LIMIT 3) l)
     FROM (SELECT DISTINCT k FROM pe) g
UNION ALL SELECT k, 'last_distinct_n(2)', 'b', (SELECT array_agg(b ORDER BY ts, ord)::text FROM
          (SELECT * FROM (SELECT DISTINCT ON (b) b, ts, ord FROM pe p WHERE p.k = g.k AND b IS NOT NULL
                          ORDER BY b, ts DESC, ord DESC) d ORDER BY ts DESC, ord DESC LIMIT 2) l)
     FROM (SELECT DISTINCT k FROM pe) g;

-- a state's value as text, by the type the function makes
CREATE FUNCTION public.ps_value(s fs_partial, fn text, col text) RETURNS text LANGUAGE sql AS $$
SELECT CASE
  WHEN fn = 'count' OR fn LIKE 'approx_count_distinct%' THEN fs_partial_final(s, NULL::bigint)::text
  WHEN fn IN ('mean', 'var_samp', 'var_pop', 'stddev_samp', 'stddev_pop') OR fn LIKE 'approx_percentile%'
    OR (fn IN ('sum', 'min', 'max') AND col = 'f') THEN fs_partial_final(s, NULL::float8)::text
  WHEN fn LIKE '%_n(%' THEN
    CASE col WHEN 't' THEN fs_partial_final(s, NULL::text[])::text WHEN 'b' THEN fs_partial_final(s, NULL::boolean[])::text
             WHEN 'tt' THEN fs_partial_final(s, NULL::timestamptz[])::text ELSE fs_partial_final(s, NULL::bigint[])::text END
  ELSE CASE col WHEN 't' THEN fs_partial_final(s, NULL::text) WHEN 'b' THEN fs_partial_final(s, NULL::boolean)::text
                WHEN 'tt' THEN fs_partial_final(s, NULL::timestamptz)::text ELSE fs_partial_final(s, NULL::bigint)::text END
END
$$;
CREATE FUNCTION public.ps_same(a text, b text) RETURNS boolean LANGUAGE sql AS $$
SELECT a IS NOT DISTINCT FROM b
    OR (a ~ '^-?[0-9.e+-]+$' AND b ~ '^-?[0-9.e+-]+$'
        AND abs(a::float8 - b::float8) <= 1e-9 * greatest(1, abs(b::float8)))
$$;
-- no mismatches, whole or merged (a mismatch lists the function)
SELECT r.fn, r.col, r.k, r.v AS sql, ps_value(w.s, w.fn, w.col) AS whole, ps_value(p.s, p.fn, p.col) AS merged
  FROM ps_ref r
  JOIN ps_whole w USING (k, fn, col)
  JOIN ps_parts p USING (k, fn, col)
 WHERE NOT ps_same(ps_value(w.s, w.fn, w.col), r.v) OR NOT ps_same(ps_value(p.s, p.fn, p.col), r.v);
SELECT count(*) AS compared FROM ps_ref r JOIN ps_whole w USING (k, fn, col) JOIN ps_parts p USING (k, fn, col);
-- the lists of key 0, to read (hand-checked against the rows below)
SELECT fn, col, ps_value(s, fn, col) FROM ps_whole WHERE k = 0 AND fn LIKE '%_n(%' ORDER BY fn, col;
SELECT ts, ord, t, b FROM pe WHERE k = 0 AND ts >= '2024-01-01 00:08+00' ORDER BY ts, ord;
SELECT ts, ord, t, i FROM pe WHERE k = 0 AND ts < '2024-01-01 00:06+00' ORDER BY ts, ord;

------------------------------------------------------------------------
-- fs_partial_combine: NULL is the empty state; kinds must agree
------------------------------------------------------------------------
SELECT fs_partial_final(fs_partial_combine(
         '{"fn": "sum", "type": "bigint", "count": 2, "sum": 5}',
         '{"fn": "sum", "type": "bigint", "count": 1, "sum": -7}'), NULL::bigint) AS sum_minus_2;
SELECT fs_partial_combine(NULL, '{"fn": "count", "type": "text", "count": 4}') AS null_is_empty,
       fs_partial_combine(NULL, NULL) AS both_null;
SELECT partial_try($$SELECT fs_partial_combine('{"fn": "sum", "type": "bigint", "count": 0, "sum": 0}',
                                              '{"fn": "mean", "type": "bigint", "count": 0, "sum": 0}')$$);
SELECT partial_try($$SELECT fs_partial_combine('{"fn": "last_n", "n": 2, "type": "text", "count": 0, "items": []}',
                                              '{"fn": "last_n", "n": 3, "type": "text", "count": 0, "items": []}')$$);
SELECT partial_try($$SELECT fs_partial_merge(s) FROM (VALUES ('{"fn": "count", "type": "bigint", "count": 1}'::fs_partial),
                                                        ('{"fn": "count", "type": "text", "count": 1}')) v(s)$$);
-- combining keeps the latest n across states; ties of ts go to the higher ord
SELECT fs_partial_combine(
  '{"fn": "last_n", "n": 2, "type": "bigint", "count": 3, "items": [{"ts": "2024-01-01 10:00+00", "ord": 5, "value": 1}, {"ts": "2024-01-01 11:00+00", "ord": 1, "value": 2}]}',
  '{"fn": "last_n", "n": 2, "type": "bigint", "count": 2, "items": [{"ts": "2024-01-01 09:00+00", "ord": 9, "value": 4}, {"ts": "2024-01-01 10:00+00", "ord": 6, "value": 3}]}'
) AS latest_two;
-- an empty window: count 0, an empty list, NULL for the others
SELECT fs_partial_final('{"fn": "count", "type": "bigint", "count": 0}'::fs_partial, NULL::bigint) AS count0,
       fs_partial_final('{"fn": "first_n", "n": 3, "type": "text", "count": 0, "items": []}'::fs_partial, NULL::text[]) AS list0,
       fs_partial_final('{"fn": "mean", "type": "bigint", "count": 0, "sum": 0}'::fs_partial, NULL::float8) AS mean0,
       fs_partial_final('{"fn": "max", "type": "bigint", "count": 0}'::fs_partial, NULL::bigint) AS max0,
       fs_partial_final('{"fn": "var_samp", "type": "bigint", "count": 1, "mean": 4, "m2": 0}'::fs_partial, NULL::float8) AS var_samp1;
-- no rows at all: no state
SELECT fs_partial_agg('sum', x, ts, ord) IS NULL AS no_rows FROM pe WHERE false;

------------------------------------------------------------------------
-- Numbers: no silent overflow, special floats
------------------------------------------------------------------------
-- the sum is kept in 128 bits; a result outside bigint is NULL (the
-- feature's status is OUT_OF_RANGE online), never a wrapped number
SELECT fs_partial_agg('sum', v, now(), 1) FROM (VALUES (9000000000000000000::bigint), (9000000000000000000)) s(v);
SELECT fs_partial_final(fs_partial_agg('sum', v, now(), 1), NULL::bigint) IS NULL AS out_of_range_is_null
  FROM (VALUES (9000000000000000000::bigint), (9000000000000000000)) s(v);
SELECT fs_partial_final(fs_partial_agg('sum', v, now(), 1), NULL::bigint) AS back_in_range
  FROM (VALUES (9000000000000000000::bigint), (9000000000000000000), (-9000000000000000000)) s(v);
SELECT fs_partial_final(fs_partial_agg('mean', v, now(), 1), NULL::float8) AS mean_of_huge
  FROM (VALUES (9000000000000000000::bigint), (9000000000000000000)) s(v);
-- compensated float sums: 1e16 + 1 + 1 - 1e16 is 2, not 0 as summed naively
SELECT fs_partial_final(fs_partial_agg('sum', v, now(), o), NULL::float8) AS compensated,
       sum(v) AS naive
  FROM (VALUES (1e16::float8, 1), (1, 2), (1, 3), (-1e16, 4)) s(v, o);
SELECT fs_partial_final(fs_partial_agg('sum', v, now(), 1), NULL::float8) AS inf_sum,
       fs_partial_final(fs_partial_agg('var_pop', v, now(), 1), NULL::float8) AS var_with_inf,
       sum(v) AS sql_sum, var_pop(v) AS sql_var_pop
  FROM (VALUES ('Infinity'::float8), (1)) s(v);
SELECT fs_partial_final(fs_partial_agg('max', v, now(), 1), NULL::float8) AS nan_is_largest,
       fs_partial_final(fs_partial_agg('sum', v, now(), 1), NULL::float8) AS nan_sum,
       max(v) AS sql_max
  FROM (VALUES ('Infinity'::float8), (1), ('NaN')) s(v);
SELECT fs_partial_agg('min', v, now(), 1) AS special_float_text FROM (VALUES ('-Infinity'::float8)) s(v);
-- distinct lists compare values as SQL does: -0 = 0; NaN = NaN
SELECT fs_partial_final(fs_partial_agg('last_distinct_n(5)', v, ts, o), NULL::float8[]) AS distinct_floats
  FROM (VALUES (0::float8, 1), ('-0', 2), ('NaN', 3), ('NaN', 4), (1.5, 5)) s(v, o),
       LATERAL (SELECT timestamptz '2024-01-01 00:00+00' AS ts) t;
-- smallint, real, varchar, char(n) and timestamp inputs
SELECT fs_partial_agg('max', 3::int2, now(), 1) AS from_int2,
       fs_partial_agg('sum', 1.5::real, now(), 1) AS from_real,
       fs_partial_agg('last', 'ab '::char(4), '2024-01-01 00:00+00', 1) AS from_char,
       fs_partial_agg('last', 'ab '::varchar, '2024-01-01 00:00+00', 1) AS from_varchar,
       fs_partial_agg('min', '2024-01-01 10:00'::timestamp, now(), 1) AS from_timestamp;

------------------------------------------------------------------------
-- Sketches: approx_count_distinct (HyperLogLog) and approx_percentile
-- (DDSketch, within 1%)
------------------------------------------------------------------------
-- a sketch is a function of its values alone: merged from parts in any
-- order, it is the very state of the whole (here with approx_count_distinct(4)
-- past its 2 exact hashes, in registers)
SELECT w.fn, w.col, count(*) AS keys, count(*) FILTER (WHERE w.s::text = p.s::text) AS merged_is_whole,
       count(*) FILTER (WHERE w.s::text LIKE '%"registers"%') AS in_registers
  FROM ps_whole w JOIN ps_parts p USING (k, fn, col) WHERE w.fn LIKE 'approx%' GROUP BY 1, 2 ORDER BY 1, 2;
-- what the states look like: three distinct texts are three hashes, sorted
-- (their values pin the hash function: a change would make states stored
-- before it disagree with new ones); the values 1 to 5 of percentile are
-- buckets ceil(ln(x) / ln(1.01 / 0.99)), computed in SQL below
SELECT fs_partial_agg('approx_count_distinct', v, now(), 1) FROM (VALUES ('a'), ('b'), ('a'), ('c')) s(v);
SELECT fs_partial_agg('approx_percentile(0.5)', v, now(), 1) FROM generate_series(1, 5) v;
SELECT ceil(ln(v) / ln(1.01 / 0.99)) AS bucket FROM generate_series(1, 5) v;
-- -0 = 0 and NaN = NaN, as for SQL's count(DISTINCT)
SELECT fs_partial_final(fs_partial_agg('approx_count_distinct', v, now(), 1), NULL::bigint) AS approx,
       count(DISTINCT v) AS sql
  FROM (VALUES (0::float8), ('-0'), ('NaN'), ('NaN'), (1.5)) s(v);
-- every type: integers, floats, booleans, timestamps, text
SELECT fs_partial_final(fs_partial_agg('approx_count_distinct', g % 7, now(), 1), NULL::bigint) AS int4s,
       fs_partial_final(fs_partial_agg('approx_count_distinct', g % 2 = 0, now(), 1), NULL::bigint) AS bools,
       fs_partial_final(fs_partial_agg('approx_count_distinct', timestamptz 'epoch' + g % 9 * interval '1 s', now(), 1), NULL::bigint) AS timestamps,
       fs_partial_final(fs_partial_agg('approx_count_distinct', (g % 11)::text::char(3), now(), 1), NULL::bigint) AS chars
  FROM generate_series(1, 100) g;
-- many distinct values: within three standard errors (1.04 / sqrt(2^p))
-- of the truth, for each precision
SELECT p, abs(est - 100000) / 100000.0 <= 3 * 1.04 / sqrt(2 ^ p) AS within_3_se
  FROM (SELECT p, fs_partial_final(fs_partial_agg(format('approx_count_distinct(%s)', p), 'v' || g, now(), 1), NULL::bigint) AS est
          FROM generate_series(1, 100000) g, (VALUES (4), (8), (12), (16)) q(p) GROUP BY p) e ORDER BY p;
-- the same values as integers, and states combined from ten parts
SELECT abs(fs_partial_final(fs_partial_merge(s), NULL::bigint) - 100000) / 100000.0 <= 3 * 1.04 / sqrt(2 ^ 12) AS within_3_se
  FROM (SELECT fs_partial_agg('approx_count_distinct(12)', g, now(), 1) AS s
          FROM generate_series(1, 100000) g GROUP BY g % 10) parts;
-- precision 16 counts up to 8192 distinct values exactly
SELECT fs_partial_final(fs_partial_agg('approx_count_distinct(16)', g * 7, now(), 1), NULL::bigint) AS exact_8192
  FROM generate_series(1, 8192) g;

-- percentiles: the value percentile_disc picks, within 1% (exact at p = 0
-- and p = 1), over 5,000 values of both signs, zeros and repeats
CREATE FUNCTION public.ps_within_1pct(got float8, want float8) RETURNS boolean LANGUAGE sql AS $$
    SELECT got = want OR abs(got - want) <= 0.01 * abs(want) * (1 + 1e-12)
$$;
CREATE TABLE public.ps_pct AS
SELECT g, ((g * 7919 % 20001 - 10000) * 0.37)::float8 AS v FROM generate_series(1, 5000) g;
SELECT p, ps_within_1pct(est, disc) AS within_1pct, est = disc AS exact
  FROM (SELECT p, fs_partial_final(fs_partial_agg(format('approx_percentile(%s)', p), v, now(), 1), NULL::float8) AS est,
               percentile_disc(p) WITHIN GROUP (ORDER BY v) AS disc
          FROM ps_pct, unnest(ARRAY[0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1]) p GROUP BY p) e
 ORDER BY p;
-- integers, merged from parts
SELECT p, ps_within_1pct(est, disc) AS within_1pct
  FROM (SELECT p, (SELECT fs_partial_final(fs_partial_merge(s), NULL::float8)
                     FROM (SELECT fs_partial_agg(format('approx_percentile(%s)', p), g * g, now(), 1) AS s
                             FROM generate_series(1, 3000) g GROUP BY g % 7) parts) AS est,
               (SELECT percentile_disc(p) WITHIN GROUP (ORDER BY g * g) FROM generate_series(1, 3000) g) AS disc
          FROM unnest(ARRAY[0.05, 0.5, 0.95]) p) e ORDER BY p;
-- special values in PostgreSQL's order: -Infinity, -1, 0, 0, 2, Infinity,
-- NaN; p picks the ceil(7p)-th
SELECT p, fs_partial_final(fs_partial_agg(format('approx_percentile(%s)', p), v, now(), 1), NULL::float8) AS est,
       percentile_disc(p) WITHIN GROUP (ORDER BY v) AS disc
  FROM (VALUES ('-Infinity'::float8), (-1), (0), (0), (2), ('Infinity'), ('NaN')) s(v),
       unnest(ARRAY[0.1, 0.2, 0.4, 0.5, 0.6, 0.8, 1]) p
 GROUP BY p ORDER BY p;
-- -1 and 2 come back as the middle of their buckets: 2 / (1 + 1.01 / 0.99) = 0.99
-- times their magnitude, within 1%
-- an empty sketch: count distinct 0, percentile NULL
SELECT fs_partial_final('{"fn": "approx_count_distinct", "precision": 8, "type": "text", "count": 0, "hashes": []}'::fs_partial, NULL::bigint) AS distinct0,
       fs_partial_final('{"fn": "approx_percentile", "p": 0.5, "type": "bigint", "count": 0, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [], "negative": []}'::fs_partial, NULL::float8) AS percentile0;
-- states of different precision or p do not combine
SELECT partial_try($$SELECT fs_partial_combine(fs_partial_agg('approx_count_distinct', 1, now(), 1), fs_partial_agg('approx_count_distinct(9)', 1, now(), 1))$$);
SELECT partial_try($$SELECT fs_partial_combine(fs_partial_agg('approx_percentile(0.5)', 1, now(), 1), fs_partial_agg('approx_percentile(0.25)', 1, now(), 1))$$);

------------------------------------------------------------------------
-- Errors of the aggregates and of fs_partial_final
------------------------------------------------------------------------
SELECT partial_try($$SELECT fs_partial_agg('median', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('last_n', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('last_n(0)', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('first_n(1001)', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('last_n(2x)', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('sum(3)', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('sum', t, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('max', b, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('last', '{1}'::int[], ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg(NULL, x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('sum', x, NULL, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg(CASE WHEN ord > 990 THEN 'sum' ELSE 'mean' END, x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_final(fs_partial_agg('count', x, ts, ord), NULL::int) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_final(fs_partial_agg('last_n(2)', x, ts, ord), NULL::bigint) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('approx_count_distinct(3)', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('approx_count_distinct(17)', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('approx_count_distinct()', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('approx_percentile', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('approx_percentile(1.5)', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('approx_percentile(-0.5)', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('approx_percentile(0.1234567)', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('approx_percentile(0.5x)', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('approx_percentile(0.5', x, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('approx_percentile(0.5)', t, ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_agg('approx_count_distinct', '{1}'::int[], ts, ord) FROM pe$$);
SELECT partial_try($$SELECT fs_partial_final(fs_partial_agg('approx_percentile(0.5)', x, ts, ord), NULL::bigint) FROM pe$$);

------------------------------------------------------------------------
-- Text form: every state reads back as itself; malformed literals refused
------------------------------------------------------------------------
SELECT count(*) AS states, count(*) FILTER (WHERE s::text::fs_partial::text = s::text) AS read_back
  FROM (SELECT s FROM ps_whole UNION ALL SELECT s FROM ps_parts) q;
SELECT partial_try($$SELECT 'nope'::fs_partial$$);
SELECT partial_try($$SELECT '[1]'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "count", "type": "bigint", "count": 1, "extra": 1}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "count", "type": "bigint"}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "median", "type": "bigint", "count": 0}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "count", "type": "uuid", "count": 0}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "count", "type": "bigint", "count": -1}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "count", "type": "bigint", "count": 1.5}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "count", "n": 2, "type": "bigint", "count": 0}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "last_n", "type": "bigint", "count": 0, "items": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "last_n", "n": 1001, "type": "bigint", "count": 0, "items": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "sum", "type": "text", "count": 0, "sum": 0}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "sum", "type": "bigint", "count": 0, "sum": 3}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "sum", "type": "bigint", "count": 1, "sum": 1.5}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "sum", "type": "bigint", "count": 1, "sum": 1234567890123456789012345678901234567890}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "sum", "type": "double precision", "count": 1, "sum": 1}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "var_pop", "type": "bigint", "count": 2, "mean": 1, "m2": -1}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "max", "type": "bigint", "count": 1}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "max", "type": "bigint", "count": 1, "value": "7"}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "max", "type": "bigint", "count": 0, "value": 7}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "last", "type": "text", "count": 1, "value": "a"}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "last", "type": "text", "count": 1, "ts": "yesterday-ish", "ord": 1, "value": "a"}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "first_n", "n": 2, "type": "bigint", "count": 3, "items": [{"ts": "2024-01-01 00:00+00", "ord": 1, "value": 1}]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "first_n", "n": 1, "type": "bigint", "count": 3, "items": [{"ts": "2024-01-01 00:00+00", "ord": 1, "value": 1}, {"ts": "2024-01-01 00:01+00", "ord": 1, "value": 2}]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "first_n", "n": 2, "type": "bigint", "count": 2, "items": [{"ts": "2024-01-01 00:01+00", "ord": 1, "value": 1}, {"ts": "2024-01-01 00:00+00", "ord": 1, "value": 2}]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "first_distinct_n", "n": 2, "type": "text", "count": 2, "items": [{"ts": "2024-01-01 00:00+00", "ord": 1, "value": "a"}, {"ts": "2024-01-01 00:01+00", "ord": 1, "value": "a"}]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "first_n", "n": 1, "type": "bigint", "count": 1, "items": [{"ts": "2024-01-01 00:00+00", "ord": 1}]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "first_n", "n": 1, "type": "bigint", "count": 1, "items": [{"ts": "2024-01-01 00:00+00", "ord": 1, "value": 1, "x": 0}]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "first_n", "n": 1, "type": "boolean", "count": 1, "items": [{"ts": "2024-01-01 00:00+00", "ord": 1, "value": 1}]}'::fs_partial$$);
-- approx_count_distinct: precision, hashes, registers (precision 4: 16
-- registers of at most 61, at most 2 hashes)
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "type": "text", "count": 0, "hashes": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 17, "type": "text", "count": 0, "hashes": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "n": 8, "type": "text", "count": 0, "hashes": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 8, "type": "text", "count": 2, "hashes": ["00000000000000ff", "0000000000000001"]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 8, "type": "text", "count": 2, "hashes": ["00000000000000ff", "00000000000000ff"]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 8, "type": "text", "count": 1, "hashes": ["00000000000000fg"]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 8, "type": "text", "count": 1, "hashes": [255]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 8, "type": "text", "count": 1, "hashes": ["00000000000000ff", "0000000000000100"]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 8, "type": "text", "count": 1, "hashes": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 4, "type": "text", "count": 3, "hashes": ["0000000000000001", "0000000000000002", "0000000000000003"]}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 4, "type": "text", "count": 3, "registers": "0001"}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 4, "type": "text", "count": 3, "registers": "3e000000000000000000000000000000"}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 4, "type": "text", "count": 3, "registers": "00000000000000000000000000000000"}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 4, "type": "text", "count": 2, "registers": "01000000000000000000000000000002"}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_count_distinct", "precision": 4, "type": "text", "count": 3, "registers": "01000000000000000000000000000002", "hashes": []}'::fs_partial$$);
SELECT '{"fn": "approx_count_distinct", "precision": 4, "type": "text", "count": 3, "registers": "3d000000000000000000000000000002"}'::fs_partial AS largest_register;
-- approx_percentile: p, buckets, the counts adding up, min and max
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "type": "bigint", "count": 0, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 1.01, "type": "bigint", "count": 0, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.1234567, "type": "bigint", "count": 0, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.5, "type": "text", "count": 0, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.5, "type": "bigint", "count": 0, "min": 0, "max": 0, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.5, "type": "bigint", "count": 2, "min": 1, "max": 2, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [[35, 1], [0, 1]], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.5, "type": "bigint", "count": 1, "min": 1, "max": 1, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [[0, 1], [35, 0]], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.5, "type": "bigint", "count": 1, "min": 1, "max": 1, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [[40001, 1]], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.5, "type": "bigint", "count": 1, "min": 1, "max": 1, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [[0]], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.5, "type": "bigint", "count": 3, "min": 1, "max": 1, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [[0, 1]], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.5, "type": "bigint", "count": 2, "min": 2, "max": 1, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [[0, 1], [35, 1]], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.5, "type": "bigint", "count": 1, "min": "NaN", "max": "NaN", "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 1, "positive": [], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.5, "type": "bigint", "count": 1, "min": 1, "max": 1, "zero": -1, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [[0, 2]], "negative": []}'::fs_partial$$);
SELECT partial_try($$SELECT '{"fn": "approx_percentile", "p": 0.5, "type": "bigint", "count": 1, "min": 1, "max": 1, "zero": 0, "neg_inf": 0, "pos_inf": 0, "nan": 0, "positive": [[0, 1]]}'::fs_partial$$);

------------------------------------------------------------------------
-- Binary form: COPY ... (FORMAT binary) round trip; bad bytes refused
------------------------------------------------------------------------
CREATE TABLE public.ps_copy (fn text, col text, s fs_partial);
\copy (SELECT fn, col, s FROM ps_whole WHERE k = 1) TO 'results/partial_copy.bin' WITH (FORMAT binary)
\copy ps_copy FROM 'results/partial_copy.bin' WITH (FORMAT binary)
SELECT count(*) AS copied, count(*) FILTER (WHERE c.s::text = w.s::text) AS identical
  FROM ps_copy c JOIN ps_whole w ON w.k = 1 AND w.fn = c.fn AND w.col = c.col;
-- bytes in the binary COPY framing of a bytea column, read as fs_partial:
-- a valid count state (version 1, count = fn 0, bigint = type 0, n 0,
-- count 5), then one with an unknown version, one cut short, one with a
-- byte too many
CREATE TABLE public.ps_bytes (b bytea);
INSERT INTO ps_bytes VALUES ('\x010000000000000000000000000005');
\copy ps_bytes TO 'results/partial_bytes.bin' WITH (FORMAT binary)
CREATE TABLE public.ps_from_bytes (s fs_partial);
\copy ps_from_bytes FROM 'results/partial_bytes.bin' WITH (FORMAT binary)
SELECT s FROM ps_from_bytes;
TRUNCATE ps_bytes;
INSERT INTO ps_bytes VALUES ('\x020000000000000000000000000005');
\copy ps_bytes TO 'results/partial_bytes.bin' WITH (FORMAT binary)
\copy ps_from_bytes FROM 'results/partial_bytes.bin' WITH (FORMAT binary)
TRUNCATE ps_bytes;
INSERT INTO ps_bytes VALUES ('\x0100000000000000000000');
\copy ps_bytes TO 'results/partial_bytes.bin' WITH (FORMAT binary)
\copy ps_from_bytes FROM 'results/partial_bytes.bin' WITH (FORMAT binary)
TRUNCATE ps_bytes;
INSERT INTO ps_bytes VALUES ('\x01000000000000000000000000000500');
\copy ps_bytes TO 'results/partial_bytes.bin' WITH (FORMAT binary)
\copy ps_from_bytes FROM 'results/partial_bytes.bin' WITH (FORMAT binary)
-- a distinct list that repeats a value is refused in binary too
TRUNCATE ps_bytes;
INSERT INTO ps_bytes VALUES (fs_partial_send('{"fn": "first_distinct_n", "n": 2, "type": "bigint", "count": 2, "items": [{"ts": "2024-01-01 00:00+00", "ord": 1, "value": 7}, {"ts": "2024-01-01 00:01+00", "ord": 1, "value": 8}]}'));
SELECT b FROM ps_bytes;
UPDATE ps_bytes SET b = overlay(b PLACING '\x0000000000000007' FROM length(b) - 7);
\copy ps_bytes TO 'results/partial_bytes.bin' WITH (FORMAT binary)
\copy ps_from_bytes FROM 'results/partial_bytes.bin' WITH (FORMAT binary)
SELECT count(*) AS only_the_valid_one FROM ps_from_bytes;
-- so are approx_count_distinct hashes out of order (the last one set to 0)
TRUNCATE ps_bytes;
INSERT INTO ps_bytes SELECT fs_partial_send(fs_partial_agg('approx_count_distinct', v, now(), 1))
  FROM (VALUES ('a'), ('b')) s(v);
UPDATE ps_bytes SET b = overlay(b PLACING '\x0000000000000000' FROM length(b) - 7);
\copy ps_bytes TO 'results/partial_bytes.bin' WITH (FORMAT binary)
\copy ps_from_bytes FROM 'results/partial_bytes.bin' WITH (FORMAT binary)
SELECT count(*) AS still_only_the_valid_one FROM ps_from_bytes;

------------------------------------------------------------------------
-- Every input the push path could produce is accepted (these raised
-- XX001 "invalid fs_partial" before): events with equal (ts, ord), and a
-- state combined with itself
------------------------------------------------------------------------
-- equal (ts, ord): items then sort by value, so the order the events come
-- in does not matter; lists keep duplicates
SELECT fs_partial_final(fs_partial_agg('last_n(3)', x, '2024-01-01', 1), NULL::bigint[]) AS last3_of_3121,
       fs_partial_agg('last_n(3)', x, '2024-01-01', 1)::text =
       (SELECT fs_partial_agg('last_n(3)', y, '2024-01-01', 1)::text FROM (VALUES (1::bigint), (2), (1), (3)) w(y)) AS same_state
  FROM (VALUES (3::bigint), (1), (2), (1)) v(x);
SELECT fs_partial_final(fs_partial_agg('last', x, '2024-01-01', 1), NULL::text) AS last_of_bac,
       fs_partial_final(fs_partial_agg('first_distinct_n(2)', x, '2024-01-01', 1), NULL::text[]) AS first_distinct_2,
       fs_partial_final(fs_partial_agg('last_distinct_n(2)', x, '2024-01-01', 1), NULL::text[]) AS last_distinct_2
  FROM (VALUES ('b'), ('a'), ('c'), ('b')) v(x);
-- combined with itself: the state of every event twice (values 1..5 at
-- distinct times; var_samp of 1,1,2,2,..,5,5 is 20/9)
CREATE TEMP TABLE ps_self AS
SELECT f, fs_partial_agg(f, x, timestamptz '2024-01-01' + x * interval '1 second', x) AS p
  FROM generate_series(1::bigint, 5) x,
       unnest(ARRAY['count', 'sum', 'mean', 'min', 'max', 'last', 'last_n(2)', 'first_n(2)', 'last_distinct_n(2)',
                    'first_distinct_n(2)', 'var_samp', 'approx_count_distinct', 'approx_percentile(0.5)']) f
 GROUP BY f;
SELECT f, CASE WHEN f IN ('mean', 'var_samp', 'approx_percentile(0.5)')
               THEN round(fs_partial_final(fs_partial_combine(p, p), NULL::float8)::numeric, 4)::text
               WHEN f LIKE '%(2)' THEN fs_partial_final(fs_partial_combine(p, p), NULL::bigint[])::text
               ELSE fs_partial_final(fs_partial_combine(p, p), NULL::bigint)::text END AS doubled
  FROM ps_self ORDER BY f;
-- a count or sum that the combination would overflow is 22003, not a
-- state that fails its own checks (XX001; found by test/t/005_fuzz.pl)
SELECT partial_try($$SELECT fs_partial_combine('{"fn": "count", "type": "bigint", "count": 9223372036854775807}',
                                               '{"fn": "count", "type": "bigint", "count": 1}')$$);
SELECT partial_try($$SELECT fs_partial_combine(p, p) FROM (SELECT '{"fn": "min", "type": "timestamp with time zone", "count": 9223372036854775807, "value": "-infinity"}'::fs_partial) s(p)$$);
-- and merging a state with itself through the aggregate gives the same
SELECT count(*) FILTER (WHERE m::text = fs_partial_combine(p, p)::text) AS same, count(*) AS of
  FROM (SELECT s.f, s.p, (SELECT fs_partial_merge(q.p) FROM (SELECT s.p UNION ALL SELECT s.p) q(p)) AS m
          FROM ps_self s) x;
DROP TABLE ps_self;

-- found by test/t/005_fuzz.pl: states that did not survive their own text
-- form, and binary states with times PostgreSQL cannot hold
-- times before year 1 are written as PostgreSQL writes them, and read back
SELECT s::text, s::text::fs_partial::text = s::text AS round_trip
  FROM (SELECT fs_partial_agg('last', timestamptz '4713-01-01 00:00+00 BC', '2024-01-01', 1)
        UNION ALL SELECT fs_partial_agg('last', 1::bigint, timestamptz '0005-01-01 12:00:00.5+00 BC', 1)
        UNION ALL SELECT fs_partial_agg('max', timestamptz '200000-01-01 00:00+00', '2024-01-01', 1)) v(s);
-- an integer sum takes the whole 128-bit range in text, as in binary
SELECT '{"fn": "sum", "type": "bigint", "count": 1, "sum": 170141183460469231731687303715884105727}'::fs_partial::text;
SELECT '{"fn": "sum", "type": "bigint", "count": 1, "sum": -170141183460469231731687303715884105728}'::fs_partial::text;
SELECT partial_try($$SELECT '{"fn": "sum", "type": "bigint", "count": 1, "sum": 170141183460469231731687303715884105728}'::fs_partial$$);
-- a min over timestamps whose value is past the end of time, in binary
TRUNCATE ps_bytes;
INSERT INTO ps_bytes VALUES ('\x0103030000000000000000000000010000000100000000000000000000000000000000c002000000000000');
\copy ps_bytes TO 'results/partial_bytes.bin' WITH (FORMAT binary)
TRUNCATE ps_from_bytes;
\copy ps_from_bytes FROM 'results/partial_bytes.bin' WITH (FORMAT binary)
SELECT count(*) AS none_loaded FROM ps_from_bytes;

DROP TABLE public.pe, public.ps_fns, public.ps_part_states, public.ps_whole, public.ps_parts, public.ps_ref, public.ps_copy, public.ps_bytes, public.ps_from_bytes, public.ps_pct;
DROP FUNCTION public.ps_value(fs_partial, text, text), public.ps_same(text, text), public.partial_try(text),
    public.ps_within_1pct(float8, float8);

/*
 * pushsource--0.7--0.8.sql
 *
 * fs_get_historical_features gets a planner support function: its row
 * estimate is the spine table's, and calling it loads the library before
 * the planner builds paths, so that the planner hook can plan the join as a
 * custom scan that streams its rows (pit_scan.c) instead of a function
 * scan that puts them all into a tuplestore first.  Nothing else changes.
 */

-- complain if script is sourced in psql, rather than in ALTER EXTENSION
\echo Use "ALTER EXTENSION pushsource UPDATE TO '0.8'" to load this file. \quit

CREATE FUNCTION pushsource_internal._historical_features_support(internal) RETURNS internal
LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'fs_historical_features_support';
COMMENT ON FUNCTION pushsource_internal._historical_features_support(internal) IS
  'internal: planner support of fs_get_historical_features (its row estimate; loads the planner hook that streams its rows)';
REVOKE ALL ON FUNCTION pushsource_internal._historical_features_support(internal) FROM PUBLIC;

ALTER FUNCTION pushsource.fs_get_historical_features(text, text[], text, boolean, boolean)
    SUPPORT pushsource_internal._historical_features_support;

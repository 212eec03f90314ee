// DuckDB side of the point-in-time join benchmark (test/bench/pit.sh).
//
//   node duckdb.cjs DIR ROUNDS THREADS
//
// DIR holds spine.csv (row_id, user_id, ts) and features.csv (user_id, ts,
// score), exported by pit.sh from the same PostgreSQL tables pushsource
// reads (timestamps as UTC timestamp without zone, NULL as an empty field).
// An in-memory database with `threads` = THREADS first loads both files into
// tables (timed separately, not part of the comparison), then runs the ASOF
// join ROUNDS times; each round's time is the wall time of the one query
// (runAndReadAll: the join plus the aggregate, one result row).
//
// Prints, one per line:  load SECONDS  /  run I SECONDS N|NV|CHECKSUM
'use strict';
const path = require('path');
const { DuckDBInstance } = require(path.join(__dirname, '..', '.duckdb', 'node_modules', '@duckdb', 'node-api'));

const [dir, rounds = '3', threads = '2'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node duckdb.cjs DIR ROUNDS THREADS');
  process.exit(2);
}
const q = (s) => `'${s.replace(/'/g, "''")}'`;

// ASOF LEFT JOIN takes, per spine row, the feature row of the same user_id
// with the greatest ts <= the spine's ts; the ttl (7 days, inclusive) is
// applied after: an older match gives NULL.  Same checksum as the
// PostgreSQL sides: count(*), count(value), sum((value * 2^20 + 1) * row_id).
const JOIN = `
SELECT count(*) AS n, count(v) AS nv,
       sum(coalesce(CAST(round(v * 1048576) AS BIGINT) + 1, 0) * row_id) AS chk
  FROM (SELECT s.row_id,
               CASE WHEN f.ts >= s.ts - INTERVAL 7 DAY THEN f.score END AS v
          FROM spine s ASOF LEFT JOIN features f
            ON s.user_id = f.user_id AND s.ts >= f.ts) j`;

(async () => {
  const inst = await DuckDBInstance.create(':memory:', { threads: String(threads) });
  const con = await inst.connect();
  let t0 = performance.now();
  await con.run(`CREATE TABLE spine AS SELECT * FROM read_csv(${q(path.join(dir, 'spine.csv'))},
      header = false, nullstr = '', columns = {'row_id': 'BIGINT', 'user_id': 'BIGINT', 'ts': 'TIMESTAMP'})`);
  await con.run(`CREATE TABLE features AS SELECT * FROM read_csv(${q(path.join(dir, 'features.csv'))},
      header = false, nullstr = '', columns = {'user_id': 'BIGINT', 'ts': 'TIMESTAMP', 'score': 'DOUBLE'})`);
  console.log(`load ${((performance.now() - t0) / 1000).toFixed(3)}`);
  const th = (await con.runAndReadAll(`SELECT current_setting('threads')`)).getRowsJson()[0][0];
  if (String(th) !== String(threads)) throw new Error(`duckdb threads = ${th}, wanted ${threads}`);
  for (let r = 1; r <= Number(rounds); r++) {
    t0 = performance.now();
    const rows = (await con.runAndReadAll(JOIN)).getRowsJson();
    const secs = (performance.now() - t0) / 1000;
    console.log(`run ${r} ${secs.toFixed(3)} ${rows[0].map(String).join('|')}`);
  }
  con.closeSync?.();
  inst.closeSync();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});

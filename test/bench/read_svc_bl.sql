-- Benchmark 7, baseline: the same by hand, the three tables joined on the
-- key (a key fv4a or fv4b does not hold gives NULLs, as the service does).
\set id random(0, :nkeys - 1)
SELECT o.user_id, o.clicks, o.score, a.clicks AS a_clicks, b.score AS b_score
  FROM bl.online o
  LEFT JOIN bl4.online_a a ON a.user_id = o.user_id
  LEFT JOIN bl4.online_b b ON b.user_id = o.user_id
 WHERE o.user_id = 'u' || :id::text;

# The growth series plot of `make bench-pit` (test/bench/pit.sh):
#   gnuplot -e "dat='pit_growth.dat'; out='pit_growth.png'; budget=64; cores=2" growth.gp
# dat columns: spine_rows feature_rows pushsource_s duckdb_s lateral_s peak_kb
set terminal pngcairo size 1100,460 font "sans,10" noenhanced
set output out
set multiplot layout 1,2 title sprintf("point-in-time join at the server's defaults, by size (%d cores; 5 feature rows per spine row)", cores)
set grid
set xlabel "spine rows (millions), feature rows 5x"
set xrange [0:*]
set title "time of one join (s, log scale)"
set logscale y
set key top left
plot dat using ($1/1e6):5 with linespoints lw 2 pt 9 title "LEFT JOIN LATERAL ... LIMIT 1 + btree", \
     dat using ($1/1e6):3 with linespoints lw 2 pt 7 title "pushsource fs_get_historical_features", \
     dat using ($1/1e6):4 with linespoints lw 2 pt 5 title "DuckDB ASOF LEFT JOIN, 2 threads"
unset logscale y
set title "pushsource: peak private memory, backend + workers (MB)"
set yrange [0:budget * 1.25]
set key bottom right
plot dat using ($1/1e6):($6/1024) with linespoints lw 2 pt 7 title "peak RssAnon (sampled every 20 ms)", \
     budget with lines dt 2 lw 2 title "the join's memory budget (pushsource.pit_memory)"
unset multiplot

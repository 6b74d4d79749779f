# Figure 6: replication lag over one pgbench run, pgkeeper's pair against a
# raw pair. bench.py runs: gnuplot -e "dir='bench/out'; out='bench/out/lag.png'" bench/lag.gp
set terminal pngcairo size 1000,640 font ",10"
set output out
set multiplot layout 2,1 title "Replication lag under pgbench -c 8 (sampled every 100 ms on the master)"
set grid
set autoscale xfix
set key top right
set xlabel "seconds into the run"
set ylabel "replay lag (ms)"
plot dir."/lag-pgkeeper.tsv" using 1:2 with lines lw 1.5 title "pgkeeper pair", \
     dir."/lag-raw.tsv" using 1:2 with lines lw 1.5 title "raw pair"
set ylabel "lag (kB of WAL not yet replayed)"
plot dir."/lag-pgkeeper.tsv" using 1:($3/1024) with lines lw 1.5 title "pgkeeper pair", \
     dir."/lag-raw.tsv" using 1:($3/1024) with lines lw 1.5 title "raw pair"
unset multiplot

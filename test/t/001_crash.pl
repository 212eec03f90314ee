# Crash safety of the push path.
#
# A psql client pushes batches in a loop (one fs_push per statement,
# autocommit) and prints an acknowledgement after each; a second client has
# pushed a batch inside a transaction it never commits, and a checkpoint has
# written that batch's uncommitted rows to disk.  Every server process is then
# killed with SIGKILL mid-stream and the server restarted (crash recovery).
#
# After the restart:
#  * every batch the client saw acknowledged is fully present in every store
#    (the source's log, the offline stores, the raw events);
#  * every batch is either fully present or absent, in all stores alike, and
#    the open transaction's batch is absent;
#  * online values are those of each key's newest committed event, and the
#    aggregates served online equal sums over the committed events;
#  * pushing works again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use POSIX ();

my $keys      = 40;      # records per batch: one per key u1..u40
my $batches   = 5000;    # more than the loop gets through before the kill
my $min_acked = 25;      # kill once this many batches are acknowledged
my $open_b    = 36000;   # the never-committed batch: at 10:00, after every loop batch

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pushsource;
SET search_path = pushsource;
SELECT fs_create_entity('user', ARRAY['user_id']);
SELECT fs_create_push_source('ev', 'user_id text, ts timestamptz, batch int4, val int8', 'ts');
SELECT fs_create_feature_view('ev_fv', 'ev', ARRAY['user']);
SELECT fs_create_feature_view('ev_tiled', 'ev', ARRAY['user'],
    aggregations => ARRAY[fs_agg('val', 'sum', '1 day'), fs_agg('val', 'count', '1 day')],
    aggregation_interval => '1 hour');
SELECT fs_create_feature_view('ev_cont', 'ev', ARRAY['user'],
    aggregations => ARRAY[fs_agg('val', 'sum', '1 day')]);
});

# Batch b: key k's event at 2024-01-01 00:00 + b seconds, value b * 1000 + k.
sub batch_json
{
	my ($b) = @_;
	my $ts = POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(1704067200 + $b));
	# The open transaction holds its keys' online rows locked: it pushes
	# other keys (u41 .. u80), so the loop does not wait for it.
	my $first = $b == $open_b ? $keys + 1 : 1;
	return '[' . join(', ',
		map { sprintf('{"user_id": "u%d", "ts": "%s", "batch": %d, "val": %d}',
				$_, $ts, $b, $b * 1000 + $_) } $first .. $first + $keys - 1) . ']';
}

# The open transaction: pushed, not committed, and flushed to disk by a
# checkpoint, so recovery finds its rows and must treat them as aborted.
my $open = $node->background_psql('postgres', on_error_stop => 1);
$open->query_safe("BEGIN");
my $pushed = $open->query_safe(
	"SELECT pushsource.fs_push('ev', '" . batch_json($open_b) . "') ->> 'records'");
is($pushed, $keys, 'the open transaction pushed its batch');
$node->safe_psql('postgres', 'CHECKPOINT');

# The looping client: psql runs a file of statements, one fs_push each, and
# prints one line per committed batch (psql flushes each result as it
# arrives).  A file, not a pipe to its stdin, so that after the kill every
# acknowledgement psql received can still be read.
my $script = PostgreSQL::Test::Utils::tempdir() . '/push.sql';
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh "SELECT 'acked ' || $_ FROM pushsource.fs_push('ev', '" . batch_json($_) . "');\n"
  for 1 .. $batches;
close $fh;
my ($out, $err) = ('', '');
my $client = IPC::Run::start(
	[ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-f', $script, '-d', $node->connstr('postgres') ],
	'<', \undef, '>', \$out, '2>', \$err);

my $timer = IPC::Run::timer($PostgreSQL::Test::Utils::timeout_default);
$timer->start;
sub acked { my @a = $out =~ /^acked (\d+)$/mg; return @a; }
while (scalar(acked()) < $min_acked)
{
	$client->pump_nb;
	die "the pushing client stopped: $err" unless $client->pumpable;
	die "timed out waiting for $min_acked acknowledged batches" if $timer->is_expired;
	select(undef, undef, undef, 0.01);
}

# SIGKILL the postmaster and every one of its children at once.  Stopped
# first, the postmaster cannot fork a process the scan would miss.
my ($pm) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
kill 'STOP', $pm;
my @children;
opendir(my $proc, '/proc') or die "no /proc: $!";
for my $pid (grep { /^\d+$/ } readdir $proc)
{
	open(my $fh, '<', "/proc/$pid/stat") or next;
	my $stat = <$fh>;
	close $fh;
	push @children, $pid if defined $stat && $stat =~ /^\d+ \(.*\) \S (\d+)/ && $1 == $pm;
}
closedir $proc;
ok(@children >= 3, 'found the server processes to kill (' . scalar(@children) . ')');
kill 'KILL', $pm, @children;
$node->kill9;    # forget the postmaster's pid; it is already dead
# The new postmaster refuses to start while the old one's pid still exists.
$timer->start;
while (grep { -e "/proc/$_" } $pm, @children)
{
	die "the killed server processes did not go away" if $timer->is_expired;
	select(undef, undef, undef, 0.05);
}

$client->finish;    # psql exits: its connection is gone
like($err, qr/connection|terminat/i, 'the client lost its connection mid-stream');
$open->quit;    # its server is gone; the transaction never committed
my @acked = acked();
my $last_acked = $acked[-1];
note("acknowledged batches before the kill: " . scalar(@acked));
is_deeply(\@acked, [ 1 .. $last_acked ], 'acknowledgements came in order');

$node->start;    # crash recovery

# Rows per batch in every store (the raw events keep no batch column: a
# batch is known by its time).
my %stores = (
	'pushsource_source.ev'                      => 'log',
	'pushsource_store.ev_fv_offline'    => 'fv offline',
	'pushsource_store.ev_tiled_offline' => 'tiled offline',
	'pushsource_store.ev_cont_offline'  => 'continuous offline',
	'pushsource_store.ev_cont_events'   => 'continuous events');
my %present;
for my $t (sort keys %stores)
{
	my $rows = $node->safe_psql('postgres',
		"SELECT b, count(*), count(DISTINCT user_id) FROM $t,
		        LATERAL (SELECT extract(epoch FROM ts - '2024-01-01 00:00+00')::int AS b) x
		  GROUP BY b ORDER BY b");
	my @batches;
	my $partial = 0;
	for (split /\n/, $rows)
	{
		my ($b, $n, $distinct) = split /\|/;
		$partial++ unless $n == $keys && $distinct == $keys;
		push @batches, $b;
	}
	is($partial, 0, "$stores{$t}: no batch is partly present");
	$present{$t} = \@batches;
}
my @log = @{ $present{'pushsource_source.ev'} };
for my $t (sort keys %stores)
{
	is_deeply($present{$t}, \@log, "$stores{$t}: the same batches as the log");
}
# The loop sends batch n + 1 only after n's acknowledgement: the log holds
# 1 .. last acknowledged, and maybe the batch in flight, whose commit may
# have happened without its acknowledgement reaching the client.
ok(!grep({ $_ == $open_b } @log), 'the uncommitted batch is absent');
my $newest = $log[-1];
is_deeply(\@log, [ 1 .. $newest ], 'the log holds batches 1 .. n without a gap');
ok($newest == $last_acked || $newest == $last_acked + 1,
	"every acknowledged batch is present, and at most the one in flight more ($last_acked acknowledged, $newest present)");

# Online: each key holds its newest committed event.
is($node->safe_psql('postgres', qq{
SELECT count(*) FROM pushsource_store.ev_fv_online o
 WHERE o.batch = $newest AND o.val = $newest * 1000 + substr(o.user_id, 2)::int
   AND o.ts = '2024-01-01 00:00+00'::timestamptz + $newest * interval '1 second'}),
	$keys, "online: every key holds its value of batch $newest");
is($node->safe_psql('postgres', 'SELECT count(*) FROM pushsource_store.ev_fv_online'),
	$keys, 'online: one row per key');

# Served aggregates: at 2024-01-01 12:00 the 1-day windows hold batches
# 1 .. n of u1 .. u40, so key k's sum is 1000 * n(n+1)/2 + k * n and its
# count n; u41 .. u80, pushed only by the uncommitted transaction at 10:00,
# inside the windows, have nothing (count 0, sum null).
my $request = join(', ', map { qq({"user_id": "u$_"}) } 1 .. 2 * $keys);
for my $feature ('ev_tiled.val_sum_1d_1h', 'ev_tiled.val_count_1d_1h', 'ev_cont.val_sum_1d_continuous')
{
	my ($view) = split /\./, $feature;
	my $n = $newest;
	# an empty window counts 0, and sums to null
	my $expected = $feature =~ /count/ ? "$n ELSE 0" : "1000 * $n * ($n + 1) / 2 + k * $n";
	my $mismatch = $node->safe_psql('postgres', qq{
SET pushsource.request_time = '2024-01-01 12:00+00';
SELECT count(*) FROM (SELECT k AS ord, CASE WHEN k <= $keys THEN $expected END AS v
                        FROM generate_series(1, 2 * $keys) k) e FULL JOIN (
    SELECT ord, (r ->> '$feature')::int8 AS v
      FROM jsonb_array_elements(pushsource.fs_get_online_features('$view', '[$request]'))
           WITH ORDINALITY AS x(r, ord)) s USING (ord)
 WHERE e.v IS DISTINCT FROM s.v});
	is($mismatch, 0, "$feature: served values worked out from the batch numbers");
}

# Pushing works after recovery.
my $next = $batches + 1;    # newer than every loop batch
is($node->safe_psql('postgres',
	"SELECT pushsource.fs_push('ev', '" . batch_json($next) . "') ->> 'records'"),
	$keys, 'a push after recovery is accepted');
is($node->safe_psql('postgres', qq{
SELECT count(*) FROM pushsource_store.ev_fv_online WHERE batch = $next}),
	$keys, 'and is served online');

$node->stop;
done_testing();

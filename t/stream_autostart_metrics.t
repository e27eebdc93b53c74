#!/usr/bin/perl

# Tests for stream_autostart_metrics: one scrape, answered by either of two
# workers, counts the requests both served (shared memory zone); a cold
# start moves the outcome counters, the hold histogram and the
# supervisor's start counter; the held gauge shows a request waiting and
# drops back to 0; a supervisor that is down still gets the module's
# families, with stream_autostart_supervisor_up 0, a call error and a log
# line; promtool accepts the output; a reload keeps the counts; and a real
# Prometheus scraping the location sees a cold start move a counter.

###############################################################################

use warnings;
use strict;

use Test::More;
use JSON::PP ();
use IO::Socket::INET;
use POSIX qw/ WNOHANG /;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx qw/ :DEFAULT http_start http_end /;
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $promtool = `sh -c 'command -v promtool' 2>/dev/null`;
chomp $promtool;
my $prometheus = `sh -c 'command -v prometheus' 2>/dev/null`;
chomp $prometheus;
plan(skip_all => 'no promtool and prometheus (Debian package prometheus)')
	unless $promtool && $prometheus;

my $t = Test::Nginx->new()->has(qw/http access/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(43)
	->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;
worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        # One listening socket per worker: the kernel spreads connections
        # over both workers.
        listen       127.0.0.1:8080 reuseport;
        server_name  localhost;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 20s;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
            add_header X-Worker $pid;
        }

        location ~ ^/held/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
            stream_autostart_wait 4s;
        }

        location = /metrics {
            stream_autostart_metrics;
            add_header X-Worker $pid;
            allow 127.0.0.1;
            deny all;
        }

        location = /private/metrics {
            stream_autostart_metrics;
            deny all;
        }

        location = /down/metrics {
            stream_autostart_metrics;
            stream_autostart_supervisor unix:%%TESTDIR%%/nothing.sock;
        }
    }
}

EOF

# The metrics are served by nginx's workers: their group must be an
# operator group of the supervisor (they run as this test's user here).
my $s = start_stack($t, segment => '1s',
	users => { u1 => '{"active":true}' },
	tokens => { good => 'u1' },
	args => [ '--operator-group', (split ' ', $))[0] ]);
foreach my $id (1, 2) {
	redis($t, 'SET', "channel:$id",
		qq({"source_url":"$s->{origin_url}","quality":"copy"}));
}
# A source that sends nothing: its viewer waits until stream_autostart_wait.
redis($t, 'SET', 'channel:slow',
	qq({"source_url":"$s->{origin}/stall/0/slow.ts","quality":"copy"}));

$t->run();

###############################################################################

my $d = $t->testdir();
my $p = 'stream_autostart_';

# (status line's code, headers and body) of a scrape of $uri.
sub scrape {
	my ($uri) = @_;
	my $r = http_get($uri) // '';
	my ($code) = $r =~ m!^HTTP/1\.1 (\d+)!;
	my ($head, $body) = split /\r\n\r\n/, $r, 2;
	return ($code // 0, $head // '', $body // '');
}

# Samples of a metrics text: "name{labels}" => value.
sub samples {
	my ($text) = @_;
	my %v;
	foreach (split /\n/, $text) {
		next if /^#/ || !/\S/;
		my ($k, $val) = /^(\S+)\s+(\S+)$/ or next;
		$v{$k} = $val;
	}
	return \%v;
}

sub metrics { return samples((scrape('/metrics'))[2]); }

# Runs promtool check metrics on $text; returns (exit status, output).
sub promtool {
	my ($text) = @_;
	my $file = "$d/scrape.txt";
	open my $fh, '>', $file or die "$file: $!\n";
	print $fh $text;
	close $fh;
	my $out = `'$promtool' check metrics < '$file' 2>&1`;
	return ($? >> 8, $out);
}

my ($code, $head, $body) = scrape('/metrics');
is($code, 200, 'metrics: 200');
like($head, qr!^Content-Type: text/plain; version=0\.0\.4!mi,
	'Prometheus text format 0.0.4');
my $before = samples($body);
is($before->{"${p}supervisor_up"}, 1, 'supervisor up');
ok(exists $before->{'stream_supervisor_starts_total'},
	'with the supervisor\'s families');
is($before->{"${p}workers"}, 2, 'both workers count');
like(http_get('/private/metrics'), qr!^HTTP/1\.1 403 !,
	'access rules apply to the metrics');

# A cold start.

my $r = http_get('/live/stream_1.m3u8?token=good');
like($r, qr!^HTTP/1\.1 200 !, 'cold start: 200');
my $after = metrics();
is($after->{"${p}requests_total{status=\"started\"}"}
	- $before->{"${p}requests_total{status=\"started\"}"}, 1,
	'requests_total{status="started"} up by one');
is($after->{"${p}hold_seconds_count"} - $before->{"${p}hold_seconds_count"},
	1, 'hold_seconds observed the wait');
cmp_ok($after->{"${p}hold_seconds_sum"}, '>', 0, 'hold_seconds sum');
is($after->{"${p}hold_seconds_bucket{le=\"+Inf\"}"},
	$after->{"${p}hold_seconds_count"}, '+Inf bucket is the count');
is($after->{'stream_supervisor_starts_total'}
	- $before->{'stream_supervisor_starts_total'}, 1,
	'the supervisor counted the start');
is($after->{"${p}held_requests"}, 0, 'nothing held now');
cmp_ok($after->{"${p}supervisor_call_seconds_count"}, '>',
	$before->{"${p}supervisor_call_seconds_count"}, 'supervisor calls timed');

# Warm requests over both workers; the totals add up whoever answers.

my (%workers, %scrapers);
my $n = 0;
while ($n < 200 && keys %workers < 2 || $n < 40) {
	my $r = http_get('/live/stream_1.m3u8?token=good') // '';
	$n++;
	my ($pid) = $r =~ /^X-Worker: (\d+)\r?$/mi;
	$workers{$pid}++ if $r =~ m!^HTTP/1\.1 200 ! && $pid;
}
is(keys %workers, 2, "$n playlist requests served by both workers");
is((sum(values %workers)), $n, 'all of them hits');
my $hits = $after->{"${p}requests_total{status=\"hit\"}"};
my @seen;
while (@seen < 40 && keys %scrapers < 2 || @seen < 10) {
	my ($c, $h, $b) = scrape('/metrics');
	my ($pid) = $h =~ /^X-Worker: (\d+)\r?$/mi;
	$scrapers{$pid // 0}++;
	push @seen, samples($b)->{"${p}requests_total{status=\"hit\"}"} - $hits;
}
is(join(',', sort keys %scrapers), join(',', sort keys %workers),
	'scrapes answered by both workers');
is(join(',', @seen), join(',', ($n) x @seen),
	'every scrape counts the hits of both workers');
my $now = metrics();
is($now->{"${p}token_cache_hits_total"} + $now->{"${p}token_cache_misses_total"}
	- $before->{"${p}token_cache_hits_total"}
	- $before->{"${p}token_cache_misses_total"}, $n + 1,
	'a token cache lookup per request');
cmp_ok($now->{"${p}token_cache_misses_total"}
	- $before->{"${p}token_cache_misses_total"}, '<=', 2,
	'a miss per worker at most, the rest hits');

# A request held: the gauge while it waits, 0 after.

my $held = http_start("GET /held/stream_slow.m3u8?token=good HTTP/1.0\r\n"
	. "Host: localhost\r\n\r\n");
ok(wait_until(3, sub { (metrics()->{"${p}held_requests"} // 0) == 1 }),
	'held_requests 1 while a request waits');
like(http_end($held) // '', qr!^HTTP/1\.1 504 !, 'the held request: 504');
$now = metrics();
is($now->{"${p}held_requests"}, 0, 'held_requests back to 0');
is($now->{"${p}requests_total{status=\"timeout\"}"}, 1,
	'requests_total{status="timeout"}');
is($now->{"${p}hold_seconds_count"} - $after->{"${p}hold_seconds_count"}, 1,
	'its wait observed');
is($now->{"${p}hold_seconds_bucket{le=\"3\"}"},
	$after->{"${p}hold_seconds_bucket{le=\"3\"}"},
	'in a bucket above 3 s');

my ($rc, $out) = promtool((scrape('/metrics'))[2]);
is($rc, 0, 'promtool check metrics passes') or diag($out);

# The supervisor down: the module's families, supervisor_up 0, logged.

($code, $head, $body) = scrape('/down/metrics');
my $down = samples($body);
is($code, 200, 'supervisor down: still 200');
is($down->{"${p}supervisor_up"}, 0, 'supervisor_up 0');
ok(exists $down->{"${p}requests_total{status=\"hit\"}"},
	'the module\'s families');
ok(!exists $down->{'stream_supervisor_starts_total'}, 'none of the supervisor\'s');
is($down->{"${p}supervisor_call_errors_total{class=\"unreachable\"}"}
	- $now->{"${p}supervisor_call_errors_total{class=\"unreachable\"}"}, 1,
	'the failed call counted as unreachable');
like($t->read_file('error.log'),
	qr/\[error\].*stream_autostart metrics: supervisor unix:\S+nothing\.sock unreachable: .*does not exist.*supervisor_up 0/,
	'and logged with the reason');
($rc, $out) = promtool($body);
is($rc, 0, 'promtool check metrics passes without the supervisor')
	or diag($out);

# A reload keeps the zone and its counts; the new workers count in it.

my $hit = 'requests_total{status="hit"}';
my $kept = metrics()->{"$p$hit"};
my ($master) = $t->read_file('nginx.pid') =~ /(\d+)/;
kill 'HUP', $master;
my $fresh;
ok(wait_until(10, sub {
	my ($c, $h, $b) = scrape('/metrics');
	my ($pid) = $h =~ /^X-Worker: (\d+)\r?$/mi;
	$fresh = samples($b);
	$pid && !$workers{$pid} && ($fresh->{"${p}workers"} // 0) == 2;
}), 'reload: new workers answer, two of them count');
is($fresh->{"$p$hit"}, $kept, 'reload: the counts are kept');
like(http_get('/live/stream_1.m3u8?token=good'), qr!^HTTP/1\.1 200 !,
	'reload: a warm request');
is(metrics()->{"$p$hit"} - $kept, 1, 'reload: counted by a new worker');

# A real Prometheus scraping the location every second.

my $pport = port(8091);
my $nport = port(8080);
$t->write_file('prometheus.yml', <<"EOF");
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: nginx
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$nport']
EOF
mkdir "$d/tsdb";
my $ppid = spawn($t, 'prometheus', sub {
	open STDOUT, '>>', "$d/prometheus.log";
	open STDERR, '>>', "$d/prometheus.log";
	exec($prometheus, "--config.file=$d/prometheus.yml",
		"--storage.tsdb.path=$d/tsdb",
		"--web.listen-address=127.0.0.1:$pport")
		or die "cannot exec $prometheus: $!\n";
});

# The value of an instant query (the first series), or undef.
sub query {
	my ($q) = @_;
	$q =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
	my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$pport",
		Timeout => 5) or return undef;
	print $sock "GET /api/v1/query?query=$q HTTP/1.0\r\nHost: localhost\r\n\r\n";
	local $/;
	my $r = <$sock> // '';
	close $sock;
	my ($json) = $r =~ /\r\n\r\n(.*)\z/s;
	my $j = eval { JSON::PP::decode_json($json // '') } or return undef;
	my $v = $j->{data}{result}[0]{value} or return undef;
	return $v->[1];
}

my $q = 'stream_supervisor_starts_total';
my $pstart;
ok(wait_until(30, sub {
	(query('up{job="nginx"}') // 0) == 1 and defined($pstart = query($q))
}), 'prometheus scrapes the metrics location')
	or diag(file_text($t, 'prometheus.log'));
like(http_get('/live/stream_2.m3u8?token=good'), qr!^HTTP/1\.1 200 !,
	'a cold start of channel 2');
ok(wait_until(15, sub { (query($q) // -1) == ($pstart // 0) + 1 }),
	"prometheus sees $q go up by one");
ok(wait_until(15, sub {
	(query("${p}requests_total{status=\"started\"}") // 0) == 2
}), 'and the module\'s started requests');
kill 'TERM', $ppid;
ok(wait_until(10, sub { waitpid($ppid, WNOHANG) == $ppid }),
	'prometheus stopped by its pid');

sub sum { my $n = 0; $n += $_ for @_; return $n; }

###############################################################################

#!/usr/bin/perl

# Tests for the supervisor's Prometheus metrics: the metrics op (operators
# only) and `stream-supervisor metrics` answer the text exposition format,
# which promtool accepts; a cold start moves the starts counter and the
# start-to-ready histogram and shows the channel up with its ffmpeg's CPU
# and memory; a source answering 404 counts as a source_http_4xx failure;
# sessions show per channel; an operator restart and a failed Redis call
# are counted; --metrics-per-channel off drops every {channel} series.

###############################################################################

use warnings;
use strict;

use Test::More;
use JSON::PP ();
use POSIX ();

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $promtool = `sh -c 'command -v promtool' 2>/dev/null`;
chomp $promtool;
plan(skip_all => 'no promtool (Debian package prometheus)') unless $promtool;

my $t = Test::Nginx->new()->has_daemon('redis-server')->has_daemon('ffmpeg')
	->plan(31);

my $s = start_stack($t, segment => '1s',
	users => { u1 => '{"active":true}', u2 => '{"active":true}' },
	args => [ '--session-idle', '60s', '--max-failures', '1',
		'--failed-cooldown', '60s' ]);
redis($t, 'SET', 'channel:1', qq({"source_url":"$s->{origin_url}"}));
redis($t, 'SET', 'channel:nf',
	qq({"source_url":"$s->{origin}/status/404/live.ts","quality":"copy"}));

# A second supervisor on the same Redis without per-channel series.
my $d = $t->testdir();
my %off = (socket => "$d/off.sock", redis_port => $s->{redis_port},
	hls => "$d/hls-off");
mkdir $off{hls};
start_supervisor($t, \%off, segment => '1s',
	args => [ '--metrics-per-channel', 'off' ]);

# Other users must reach the socket in the (private) test directory.
chmod 0711, $d;

# No nginx here, but Test::Nginx reads its error log for alerts at the end.
$t->write_file('error.log', '');

###############################################################################

# The metrics text of a supervisor through the socket ('' if refused).
sub scrape {
	my ($socket) = @_;
	my $r = supervisor_call($socket, '{"id":1,"op":"metrics"}') // '';
	my $reply = eval { JSON::PP::decode_json($r) } or return '';
	return $reply->{metrics} // '';
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

my $p = 'stream_supervisor_';
my $before = samples(scrape($s->{socket}));
ok(exists $before->{"${p}starts_total"}, 'metrics answered before any start');

# A cold start of channel 1, and a viewing session on it.

like(supervisor_call($s->{socket},
	'{"id":2,"op":"ensure","channel":"1","wait_ms":20000}'),
	qr/"ok":true.*"started":true/, 'channel 1 cold started');
like(supervisor_call($s->{socket},
	'{"id":3,"op":"session","user":"u1","channel":"1","client":"c1"}',
	'{"id":4,"op":"session","user":"u1","channel":"1","client":"c2"}',
	'{"id":5,"op":"session","user":"u2","channel":"1","client":"c3"}'),
	qr/"ok":true/, 'sessions opened');

# CPU ticks come in hundredths of a second: wait for the first.
my $after;
wait_until(10, sub {
	$after = samples(scrape($s->{socket}));
	($after->{"${p}channel_cpu_seconds_total{channel=\"1\"}"} // 0) > 0;
});

is($after->{"${p}starts_total"} - $before->{"${p}starts_total"}, 1,
	'starts_total went up by one');
is($after->{"${p}start_seconds_count"}
	- $before->{"${p}start_seconds_count"}, 1,
	'start_seconds observed the cold start once');
cmp_ok($after->{"${p}start_seconds_sum"}, '>', 0, 'start_seconds sum');
is($after->{"${p}start_seconds_bucket{le=\"+Inf\"}"},
	$after->{"${p}start_seconds_count"}, '+Inf bucket is the count');
is($after->{"${p}channel_up{channel=\"1\"}"}, 1, 'channel_up 1 once ready');
cmp_ok($after->{"${p}channel_cpu_seconds_total{channel=\"1\"}"} // 0, '>', 0,
	'ffmpeg CPU seconds');
cmp_ok($after->{"${p}channel_memory_bytes{channel=\"1\"}"} // 0, '>', 1 << 20,
	'ffmpeg resident memory in bytes');
is($after->{"${p}streams{state=\"ready\"}"}, 1, 'one stream ready');
is($after->{"${p}running_streams"}, 1, 'one stream running');
is($after->{"${p}channel_sessions{channel=\"1\"}"}, 3, 'sessions on channel 1');
is($after->{"${p}channel_viewers{channel=\"1\"}"}, 2,
	'viewers on channel 1: distinct users');
is($after->{"${p}sessions"}, 3, 'sessions in all');
cmp_ok($after->{"${p}redis_seconds_count"}, '>',
	$before->{"${p}redis_seconds_count"}, 'Redis calls timed');
cmp_ok($after->{"${p}socket_connections"}, '>=', 1,
	'socket connections (this scrape\'s own at least)');

my ($rc, $out) = promtool(scrape($s->{socket}));
is($rc, 0, 'promtool check metrics passes') or diag($out);

# A source answering 404: a failure of class source_http_4xx.

my $nf = "${p}failures_total{reason=\"source_http_4xx\"}";
like(supervisor_call($s->{socket},
	'{"id":6,"op":"ensure","channel":"nf","wait_ms":20000}'),
	qr/"code":"failed"/, 'channel nf failed');
my $failed = samples(scrape($s->{socket}));
is($failed->{$nf} - $before->{$nf}, 1, '404 source: a source_http_4xx failure');
is($failed->{"${p}streams{state=\"failed\"}"}, 1, 'failed stream by state');
is($failed->{"${p}channel_up{channel=\"nf\"}"}, 0, 'a failed channel is not up');

# An operator's restart: a restart of class operator, and a new start.

like(supervisor_call($s->{socket},
	'{"id":9,"op":"restart","channel":"1","wait_ms":20000}'),
	qr/"ok":true/, 'channel 1 restarted');
my $restarted = samples(scrape($s->{socket}));
is($restarted->{"${p}restarts_total{reason=\"operator\"}"}
	- $before->{"${p}restarts_total{reason=\"operator\"}"}, 1,
	'restarts_total{reason="operator"} went up by one');

# The command line prints the same text.

my ($crc, $cout) = supervisor_ctl($s, 'metrics');
is($crc, 0, 'stream-supervisor metrics');
like($cout, qr/^# TYPE ${p}start_seconds histogram$/m,
	'stream-supervisor metrics prints the families');

# Without per-channel series.

like(supervisor_call($off{socket},
	'{"id":7,"op":"ensure","channel":"1","wait_ms":20000}'),
	qr/"ok":true/, 'channel 1 on the second supervisor');
my $text = scrape($off{socket});
ok($text =~ /^${p}streams\{state="ready"\} 1$/m
	&& $text !~ /channel=/, '--metrics-per-channel off: no channel series');

# Operators only.

SKIP: {
skip 'must run as root to connect as another user', 1 if $> != 0;

pipe(my $r, my $w) or die "pipe: $!\n";
my $pid = fork() // die "fork: $!\n";
if ($pid == 0) {
	close $r;
	$) = '65534 65534';
	$( = 65534;
	POSIX::setuid(65534) or POSIX::_exit(3);
	print $w supervisor_call($s->{socket}, '{"id":8,"op":"metrics"}') // '';
	close $w;
	POSIX::_exit(0);
}
close $w;
my $reply = do { local $/; <$r> } // '';
close $r;
waitpid($pid, 0);
like($reply, qr/"id":8,"ok":false.*"code":"forbidden".*metrics is an operator operation/,
	'non-operator peer: metrics forbidden');
}

# Redis gone: a failed call is counted (last: nothing here needs Redis
# afterwards).

my $errors = samples(scrape($s->{socket}))->{"${p}redis_errors_total"};
redis($t, 'SHUTDOWN', 'NOSAVE');
like(supervisor_call($s->{socket},
	'{"id":10,"op":"ensure","channel":"2","wait_ms":1000}'),
	qr/"code":"unavailable"/, 'Redis gone: unavailable');
cmp_ok(samples(scrape($s->{socket}))->{"${p}redis_errors_total"}, '>', $errors,
	'Redis gone: redis_errors_total went up');

###############################################################################

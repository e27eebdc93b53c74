#!/usr/bin/perl

# Tests for the stream supervisor: a killed ffmpeg is restarted and the
# playlist carries on, and the segments the killed run had not deleted yet
# go as the new run's list moves on; an upstream that answers 403 fails the channel fast
# (502, not a timeout) with the reason in nginx's error log and in the
# operator commands, which also stop, start and restart channels.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;
use JSON::PP;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(29)
	->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen       127.0.0.1:8080;
        server_name  localhost;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 20s;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }
    }
}

EOF

my $s = start_stack($t, segment => '1s',
	args => [ '--max-failures', '3', '--failed-cooldown', '60s' ],
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
redis($t, 'SET', 'channel:7',
	qq({"source_url":"$s->{origin_url}","quality":"copy"}));
redis($t, 'SET', 'channel:denied',
	qq({"source_url":"$s->{origin}/status/403/live.ts","quality":"copy"}));

$t->run();

my $playlist = "$s->{hls}/stream_7.m3u8";

sub last_segment {
	my ($text) = @_;
	my @n = ($text // '') =~ /^stream_7_(\d+)\.ts(?:\?token=tk)?$/mg;
	return @n ? $n[-1] + 0 : -1;
}

###############################################################################

# ffmpeg killed while watched: restarted, and the playlist moves on.

like(http_get('/live/stream_7.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'channel started');
my ($pid) = ffmpeg_pids($s->{hls}, 7);
ok($pid, 'ffmpeg runs');
# Long enough for segments to have left the list (6) and be waiting for
# deletion (3 are kept a while) when ffmpeg is killed.
wait_until(30, sub { last_segment(file_text($t, 'hls/stream_7.m3u8')) >= 10 });
my $before = $t->read_file('hls/stream_7.m3u8');

kill 'KILL', $pid;
ok(wait_until(10, sub {
	my @p = ffmpeg_pids($s->{hls}, 7); @p && $p[0] != $pid }),
	'a new ffmpeg after kill -9');

my $after;
wait_until(20, sub {
	$after = http_get('/live/stream_7.m3u8?token=tk');
	last_segment($after) > last_segment($before);
});
like($after, qr!^HTTP/1\.1 200 !, 'playlist served after the restart');
cmp_ok(last_segment($after), '>', last_segment($before),
	'segment numbers carry on');
cmp_ok(media_sequence($after), '>=', media_sequence($before),
	'media sequence does not go back');
like($after, qr/^#EXT-X-DISCONTINUITY\r?$/m, 'the join is a discontinuity');

# Segments older than the list's first entry less the three kept: none
# once the new run's list has moved on by more than three.
sub stale_segments {
	my ($first) = @_;
	opendir my $dh, $s->{hls} or return ('(no directory)');
	return grep { /^stream_7_(\d+)\.ts$/ && $1 + 3 < $first } readdir $dh;
}
my $resumed = media_sequence($after) // 0;
my ($moved, @stale);
wait_until(30, sub {
	$moved = media_sequence(file_text($t, 'hls/stream_7.m3u8')) // 0;
	@stale = stale_segments($moved);
	return $moved >= $resumed + 4 && !@stale;
});
ok($moved >= $resumed + 4 && !@stale,
	'no segment the killed run left behind stays on disk')
	or diag("sequence $resumed -> $moved, stale: @stale");

# The supervisor polls the playlist; give it a moment to see the segment.
my ($rc, $out);
wait_until(5, sub {
	($rc, $out) = supervisor_ctl($s, 'status', '7'); $out =~ /^7\s+ready/m });
is($rc, 0, 'status exit code');
like($out, qr/^7\s+ready\s+\d+\s+\S+\s+1\s/m, 'status: ready, one restart');
like($out, qr/killed by signal 9 \(SIGKILL\)/, 'status: the reason');
like($t->read_file('supervisor.log'),
	qr/ffmpeg failed, restarting.*channel=7.*reason=ffmpeg was killed by signal 9/,
	'restart logged with channel and reason');

# An upstream that answers 403: failed, fast, and says why.

like(http_get('/live/stream_denied.m3u8?token=tk'), qr!^HTTP/1\.1 502 !,
	'403 upstream: 502, not a timeout');
like($t->read_file('error.log'),
	qr/channel "denied" failed \(502.*upstream answered HTTP 403 Forbidden/,
	'error log names the 403');
($rc, $out) = supervisor_ctl($s, 'status', 'denied');
like($out, qr/^denied\s+failed\s+-\s+-\s+3\s.*upstream answered HTTP 403/m,
	'status: failed after 3 tries, with the reason');
ok(!ffmpeg_pids($s->{hls}, 'denied'), 'no ffmpeg left for the failed channel');

like(http_get('/live/stream_denied.m3u8?token=tk'), qr!^HTTP/1\.1 502 !,
	'failed channel answers 502 again');
my $starts = () = $t->read_file('supervisor.log')
	=~ /ffmpeg started.*channel=denied/g;
is($starts, 3, 'while failed, no new ffmpeg is started');

($rc, $out) = supervisor_ctl($s, 'list', '--json');
my $list = eval { decode_json($out) } || {};
my %by = map { $_->{channel} => $_ } @{$list->{streams} || []};
is($by{denied}{state}, 'failed', 'list --json: failed channel');
is($by{7}{state}, 'ready', 'list --json: running channel');
is($by{7}{pid}, (ffmpeg_pids($s->{hls}, 7))[0],
	'list --json: pid of the running ffmpeg');

my $err;
($rc, $out, $err) = supervisor_ctl($s, 'start', 'denied', '--wait', '10s');
is($rc, 1, 'operator start of a still-broken channel fails');
like($err, qr/denied failed 3 times.*HTTP 403 Forbidden.*\(failed\)$/m,
	'operator start says why');

# Operator stop, restart.

($rc, $out) = supervisor_ctl($s, 'stop', '7');
is($rc, 0, 'operator stop');
ok(!ffmpeg_pids($s->{hls}, 7) && !-e $playlist
	&& !redis($t, 'EXISTS', 'stream:7:pid'),
	'stop removes ffmpeg, files and keys');

($rc, $out) = supervisor_ctl($s, 'restart', '7');
like($out, qr/^ready: .*stream_7\.m3u8$/m, 'operator restart waits for ready');
($rc, $out) = supervisor_ctl($s, 'status', '7');
like($out, qr/^7\s+ready\s+\d+\s+\S+\s+0\s/m, 'restarted channel starts afresh');

($rc, $out, $err) = supervisor_ctl($s, 'stop', 'nothing');
is($rc, 1, 'stop of a channel that is not running fails');
like($err, qr/channel nothing is not running \(not_running\)/,
	'and says so');

###############################################################################

#!/usr/bin/perl

# Tests for the stream_autostart module: on-demand start of a channel,
# token checks, channel id validation, shared starts, and a worker that
# keeps serving while a request waits.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx qw/ :DEFAULT http_start http_end /;
use StreamAutostart;
use IO::Select;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->has_daemon('ffprobe')->plan(28)
	->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;
worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp2t                    ts;
        text/plain                    txt;
    }

    server {
        listen       127.0.0.1:8080;
        server_name  localhost;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 20s;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }

        location ~ ^/live/(?<segment>stream_[A-Za-z0-9_-]+_\d+\.ts)$ {
            alias %%TESTDIR%%/hls/$segment;
        }

        location /static/ {
            alias %%TESTDIR%%/;
        }
    }
}

EOF

$t->write_file('index.txt', "static file\n");

my $now = time();
my $s = start_stack($t,
	users => {
		u1 => '{"active":true,"expires_at":null}',
		off => '{"active":false}',
		old => '{"active":true,"expires_at":' . ($now - 3600) . '}',
	},
	tokens => { good => 'u1', inactive => 'off', expired => 'old' },
);
foreach my $id (1 .. 6) {
	redis($t, 'SET', "channel:$id",
		qq({"source_url":"$s->{origin_url}","quality":"copy"}));
}

$t->run();

###############################################################################

# A cold channel: the first request starts it and gets a playlist with
# segments.

my $r = http_get('/live/stream_1.m3u8?token=good');
like($r, qr!^HTTP/1\.1 200 !, 'cold start 200');
like($r, qr!^Content-Type: application/vnd\.apple\.mpegurl\r?$!mi,
	'playlist content type');
like($r, qr!^Cache-Control: no-cache\r?$!mi, 'playlist not cached');
my ($segment) = $r =~ m!^(stream_1_\d+\.ts\?token=good)\r?$!m;
ok($segment, 'playlist lists a segment, with the token');

my $seg = http_get('/live/' . ($segment // 'none.ts?token=good'));
like($seg, qr!^HTTP/1\.1 200 .*^Content-Type: video/mp2t!ms, 'segment 200');
my ($body) = ($seg // '') =~ /\r\n\r\n(.*)\z/s;
$t->write_file('segment.ts', $body // '');
my $file = $t->testdir() . '/segment.ts';
my $probe = `ffprobe -v error -show_entries stream=codec_type -of csv=p=0 $file 2>&1`;
like($probe, qr/video/, 'segment has video');
like($probe, qr/audio/, 'segment has audio');

my @pids = ffmpeg_pids($s->{hls}, 1);
diag("pids @pids; " . join(',', ffmpeg_pids($s->{hls}))) if $ENV{TEST_NGINX_VERBOSE};
is(redis($t, 'GET', 'stream:1:pid'), $pids[0] // 'none',
	'stream:1:pid names the running ffmpeg');
like(redis($t, 'GET', 'stream:1:started'), qr/^\d{10}$/, 'stream:1:started');

# Tokens.

like(http_get('/live/stream_1.m3u8'), qr!^HTTP/1\.1 401 !, 'no token 401');
like(http_get('/live/stream_1.m3u8?token=nope'), qr!^HTTP/1\.1 403 !,
	'unknown token 403');
like(http_get('/live/stream_1.m3u8?token=inactive'), qr!^HTTP/1\.1 403 !,
	'inactive user 403');
like(http_get('/live/stream_1.m3u8?token=expired'), qr!^HTTP/1\.1 403 !,
	'expired user 403');
like($t->read_file('error.log'), qr/token exp\.\.\.\(7 bytes\) refused .*user old expired/,
	'refusal reason logged');

# Channel ids.

like(http_get('/live/stream_...m3u8?token=good'), qr!^HTTP/1\.1 400 !,
	'dot-dot channel 400');
like(http_get('/live/stream_a%2Fb.m3u8?token=good'), qr!^HTTP/1\.1 400 !,
	'encoded slash 400');
like(http_get('/live/stream_..%5C..%5Cx.m3u8?token=good'), qr!^HTTP/1\.1 400 !,
	'backslash traversal 400');
like(http_get('/live/stream_' . ('a' x 65) . '.m3u8?token=good'),
	qr!^HTTP/1\.1 400 !, 'overlong channel 400');
like(http_get('/live/stream_404.m3u8?token=good'), qr!^HTTP/1\.1 404 !,
	'unknown channel 404');

# An empty playlist left on disk is not a stream.

$t->write_file('hls/stream_2.m3u8', '');
$r = http_get('/live/stream_2.m3u8?token=good');
like($r, qr!^HTTP/1\.1 200 .*\nstream_2_\d+\.ts\?token=good\r?$!ms,
	'empty playlist on disk: started, segments served');

# Many first viewers at once share one ffmpeg.

my @socks = map { http_start("GET /live/stream_3.m3u8?token=good HTTP/1.0\n"
	. "Host: localhost\n\n") } 1 .. 50;
my @replies = map { $_ ? http_end($_) : undef } @socks;
is(scalar(grep { defined && m!^HTTP/1\.1 200 ! } @replies), 50,
	'50 concurrent cold requests all 200');
is(scalar(ffmpeg_pids($s->{hls}, 3)), 1, 'exactly one ffmpeg for them');

# The worker is not blocked while a request waits for a cold channel.

my $cold = http_start("GET /live/stream_4.m3u8?token=good HTTP/1.0\n"
	. "Host: localhost\n\n");
my $static = http_get('/static/index.txt');
my $still_waiting = !IO::Select->new($cold)->can_read(0);
like($static, qr/static file/, 'static served while a cold request waits');
ok($still_waiting, 'the cold request was still waiting then');
like(http_end($cold), qr!^HTTP/1\.1 200 !, 'the cold request got its stream');

# A client that goes away mid-wait leaves everything healthy.

my $gone = http_start("GET /live/stream_5.m3u8?token=good HTTP/1.0\n"
	. "Host: localhost\n\n");
select(undef, undef, undef, 0.3);
close $gone;
wait_until(5, sub { $t->read_file('error.log')
	=~ /client closed the connection while waiting for channel "5"/ });
like($t->read_file('error.log'),
	qr/client closed the connection while waiting for channel "5"/,
	'disconnect noticed');
like(http_get('/live/stream_5.m3u8?token=good'), qr!^HTTP/1\.1 200 !,
	'next viewer of that channel served');

# Viewers waiting together share one start; the one whose request asked
# the supervisor leaving does not leave the others waiting for nothing.

my @herd = map { http_start("GET /live/stream_6.m3u8?token=good HTTP/1.0\n"
	. "Host: localhost\n\n") } 1 .. 3;
select(undef, undef, undef, 0.3);
close $herd[0];
my @rest = map { $_ ? http_end($_) : undef } @herd[1 .. 2];
is(scalar(grep { defined && m!^HTTP/1\.1 200 ! } @rest), 2,
	'the others still get the stream after the first viewer left');

###############################################################################

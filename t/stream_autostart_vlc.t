#!/usr/bin/perl

# Tests for stream_autostart with a real player: VLC (cvlc, headless) opens
# a cold channel's playlist URL, follows the tokenized segment URIs and
# decodes the stream.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->has_daemon('cvlc')->plan(5)
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

        access_log %%TESTDIR%%/access.log;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }

        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_\d+\.ts)$ {
            alias %%TESTDIR%%/hls/$segment;
            stream_autostart_segment $ch;
        }
    }
}

EOF

my $s = start_stack($t, segment => '1s',
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
redis($t, 'SET', 'channel:1',
	qq({"source_url":"$s->{origin_url}","quality":"copy"}));

$t->run();

###############################################################################

my $d = $t->testdir();
my $url = 'http://127.0.0.1:' . port(8080) . '/live/stream_1.m3u8?token=tk';

# VLC will not run as root.
my @as = $> == 0 ? ('runuser', '-u', 'nobody', '--') : ();
system("@as cvlc -I dummy --vout dummy --aout dummy --no-video-title-show "
	. "--play-and-exit --run-time 8 -vv '$url' >$d/vlc.log 2>&1");
is($? >> 8, 0, 'vlc exits 0');

my $log = $t->read_file('vlc.log');
like($log, qr/codec \(h264\) started/, 'vlc decodes the video');
like($log, qr/Stream buffering done/, 'vlc buffered and played');

my $access = $t->read_file('access.log');
my $segs = () = $access =~ m!"GET /live/stream_1_\d+\.ts\?token=t\* HTTP/1\.1" 200 .*VLC!g;
cmp_ok($segs, '>=', 4, 'vlc fetched segments with the token');
unlike($access, qr!\.ts[^"]* HTTP/1\.1" 40[13]!, 'no segment refused');

###############################################################################

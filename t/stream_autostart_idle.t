#!/usr/bin/perl

# Tests for stream_autostart: a channel nobody watches stops on its own,
# and takes its files and Redis keys with it.

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
	->has_daemon('ffmpeg')->plan(6)
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

my $s = start_stack($t, idle_timeout => '3s',
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
redis($t, 'SET', 'channel:7', qq({"source_url":"$s->{origin_url}","quality":"copy"}));

$t->run();

###############################################################################

like(http_get('/live/stream_7.m3u8?token=tk'), qr!^HTTP/1\.1 200 !, 'started');
ok(redis($t, 'EXISTS', 'stream:7:pid'), 'pid key while running');

ok(wait_until(20, sub { !ffmpeg_pids($s->{hls}, 7) }), 'ffmpeg stopped when idle');
ok(wait_until(5, sub { !glob("$s->{hls}/stream_7*") }), 'playlist and segments removed');
is(redis($t, 'EXISTS', 'stream:7:pid') + redis($t, 'EXISTS', 'stream:7:started'),
	0, 'stream keys removed');
like($t->read_file('supervisor.log'), qr/idle, stopped.*channel=7/, 'idle stop logged');

###############################################################################

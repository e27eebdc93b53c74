#!/usr/bin/perl

# Tests for stream_autostart: with the supervisor down, viewers get 503
# with Retry-After and the error log says why.

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
	->has_daemon('ffmpeg')->plan(7)
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

my $s = start_stack($t, supervisor => 0,
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
redis($t, 'SET', 'channel:1', qq({"source_url":"$s->{origin_url}","quality":"copy"}));

$t->run();

###############################################################################

# Never started: no socket at all.

my $r = http_get('/live/stream_1.m3u8?token=tk');
like($r, qr!^HTTP/1\.1 503 !, 'no supervisor: 503');
like($r, qr!^Retry-After: \d+\r?$!m, 'with Retry-After');
like($t->read_file('error.log'),
	qr/supervisor unix:\S+ unreachable: socket \S+ does not exist \(is stream-supervisor running\?\)/,
	'reason logged');

# Started, then killed: the socket file is left behind, nobody listens.

my $pid = StreamAutostart::start_supervisor($t, $s);
like(http_get('/live/stream_1.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'supervisor up: 200');
kill 'KILL', $pid;
waitpid($pid, 0);
ok(-S $s->{socket}, 'stale socket file left behind');

# The granted token is cached, so the request reaches the start path.
# A worker looks at a cached playlist's file again at most every 0.1 s.
unlink glob("$s->{hls}/stream_1*");
select undef, undef, undef, 0.3;
$r = http_get('/live/stream_1.m3u8?token=tk');
like($r, qr!^HTTP/1\.1 503 .*^Retry-After: !ms, 'dead supervisor: 503');
like($t->read_file('error.log'), qr/connect\(\) to unix:\S+ failed.*Connection refused/,
	'connection refused logged');

###############################################################################

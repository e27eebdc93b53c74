#!/usr/bin/perl

# Tests for stream_autostart with the supervisor at capacity: viewers of a
# further channel get 503 with Retry-After, and a slot freed by an idle stop
# can be used again.

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

my $s = start_stack($t, segment => '1s', idle_timeout => '3s',
	args => [ '--max-streams', '1' ],
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin_url}","quality":"copy"})) for qw/a b/;

$t->run();

###############################################################################

like(http_get('/live/stream_a.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'first channel plays');

my $r = http_get('/live/stream_b.m3u8?token=tk');
like($r, qr!^HTTP/1\.1 503 !, 'second channel: 503 at capacity');
like($r, qr!^Retry-After: \d+\r?$!mi, 'with Retry-After');
like($t->read_file('error.log'),
	qr/channel "b" cannot start: at capacity \(503.*--max-streams 1/,
	'error log says why');
ok(!ffmpeg_pids($s->{hls}, 'b'), 'no ffmpeg for the refused channel');

# The slot is free once the supervisor no longer lists the channel (its
# ffmpeg exits a moment before).
ok(wait_until(20, sub { !ffmpeg_pids($s->{hls}, 'a')
		&& supervisor_call($s->{socket}, '{"v":1,"id":1,"op":"status"}')
			!~ /"channel":"a"/ }),
	'first channel stops when idle');
like(http_get('/live/stream_b.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'the freed slot is used');

###############################################################################

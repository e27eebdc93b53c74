#!/usr/bin/perl

# Tests for stream_autostart: Redis killed and restarted while a viewer
# watches. A worker's expired grant stands in for its stale window, so the
# ready channel keeps serving that viewer; an unknown token never gets 200;
# once Redis is back, a new token plays without restarting anything.

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
	->has_daemon('ffmpeg')->plan(10)
	->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;
worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen       127.0.0.1:8080;
        server_name  localhost;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 20s;
        stream_autostart_token_cache 2s 1s stale=60s;

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

my $s = start_stack($t, users => { u1 => '{"active":true}' },
	tokens => { tk => 'u1' });
my $channel = qq({"source_url":"$s->{origin_url}","quality":"copy"});
redis($t, 'SET', 'channel:1', $channel);

$t->run();

###############################################################################

my $r = http_get('/live/stream_1.m3u8?token=tk');
like($r, qr!^HTTP/1\.1 200 !, 'viewer plays');

# Redis dies (by its process id); the grant expires meanwhile.
my ($rpid) = redis($t, 'INFO', 'server') =~ /^process_id:(\d+)/m;
ok($rpid && kill('KILL', $rpid), 'redis killed');
sleep 3;

$r = http_get('/live/stream_1.m3u8?token=tk');
like($r, qr!^HTTP/1\.1 200 !, 'redis down: the viewer keeps the playlist');
my ($segment) = $r =~ m!^(stream_1_\d+\.ts\?token=tk)\r?$!m;
like(http_get('/live/' . ($segment // 'stream_1_0.ts?token=tk')),
	qr!^HTTP/1\.1 200 !, 'redis down: and its segments');
like($t->read_file('error.log'),
	qr/\[warn\].*cannot check tokens \(unavailable: .*token t\.\.\.\(2 bytes\) keeps its expired grant/,
	'stale grant logged at warn');
# Not in nginx's own debug lines (a --with-debug build at level debug):
# they show request lines whole, as docs/directives.md says.
unlike(join('', grep { !/ \[debug\] / } split /^/m, $t->read_file('error.log')),
	qr/token=tk[^*]|"tk"/, 'token never whole in the log');

$r = http_get('/live/stream_1.m3u8?token=other');
like($r, qr!^HTTP/1\.1 503 !, 'redis down: an unknown token gets 503');

# Redis comes back on the same port (empty: it saved nothing).
my $d = $t->testdir();
spawn($t, 'redis2', sub {
	exec('redis-server', '--port', $s->{redis_port}, '--bind', '127.0.0.1',
		'--save', '', '--appendonly', 'no', '--dir', $d,
		'--logfile', "$d/redis2.log") or die "redis-server: $!\n";
});
$t->waitforsocket("127.0.0.1:$s->{redis_port}") or die "redis did not restart\n";
redis($t, 'SET', 'channel:1', $channel);
redis($t, 'SET', 'user:u2', '{"active":true}');
redis($t, 'SET', 'token:new', 'u2');

# The supervisor reconnects by itself: poll until the new token plays.
ok(wait_until(30, sub {
	http_get('/live/stream_1.m3u8?token=new') =~ m!^HTTP/1\.1 200 !
}), 'redis back: a new token plays');
like(http_get('/live/stream_1.m3u8?token=other'), qr!^HTTP/1\.1 403 !,
	'redis back: the unknown token is refused');
like(http_get('/live/stream_1.m3u8?token=tk'), qr!^HTTP/1\.1 403 !,
	'redis back: the old token, gone from Redis, is refused');

###############################################################################

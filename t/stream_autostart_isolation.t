#!/usr/bin/perl

# Tests for two deployments in one nginx: two servers, each with its own
# supervisor and Redis, the same token and the same channel ids. A worker's
# caches (token verdicts, the channel catalog) keep each deployment's
# answers to itself.

###############################################################################

use warnings;
use strict;

use Test::More;
use IO::Socket::INET;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx qw/ :DEFAULT port /;
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(8)
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
        stream_autostart_token_cache 60s 60s;

        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_\d+\.ts)$ {
            alias %%TESTDIR%%/hls/$segment;
            stream_autostart_segment $ch;
        }

        location = /playlist.m3u {
            stream_autostart_m3u "http://a/live/stream_{channel}.m3u8";
        }
    }

    server {
        listen       127.0.0.1:8081;
        server_name  localhost;

        stream_autostart_supervisor unix:%%TESTDIR%%/b.sock;
        stream_autostart_token_cache 60s 60s;

        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_\d+\.ts)$ {
            alias %%TESTDIR%%/hls_b/$segment;
            stream_autostart_segment $ch;
        }

        location = /playlist.m3u {
            stream_autostart_m3u "http://b/live/stream_{channel}.m3u8";
        }
    }
}

EOF

# Deployment A: token "shared" is alice's, token "only-b" unknown.
my $s = start_stack($t,
	users => { alice => '{"active":true}' },
	tokens => { 'shared-token' => 'alice', 'viewer-a' => 'alice',
		'catalog-a' => 'alice' },
	channels => { 'a1' => '{"source_url":"http://127.0.0.1:1/a.ts"}' });

# Deployment B: its own Redis and supervisor; "shared-token" unknown there,
# and a channel list of its own.
my $d = $t->testdir();
mkdir "$d/hls_b";
chmod 0755, "$d/hls_b";
my $rport = port(8380);
$t->run_daemon('redis-server', '--port', $rport, '--bind', '127.0.0.1',
	'--save', '', '--appendonly', 'no', '--dir', $d,
	'--logfile', "$d/redis_b.log");
$t->waitforsocket("127.0.0.1:$rport") or die "redis b did not start\n";
redis_b('SET', 'user:bob', '{"active":true}');
redis_b('SET', 'token:viewer-b', 'bob');
redis_b('SET', 'channel:b1', '{"source_url":"http://127.0.0.1:1/b.ts"}');
start_supervisor($t, { socket => "$d/b.sock", redis_port => $rport,
	hls => "$d/hls_b" });

$t->run();

###############################################################################

sub redis_b {
	open my $fh, '-|', 'redis-cli', '-p', $rport, '--raw', @_
		or die "redis-cli: $!\n";
	local $/;
	my $out = <$fh>;
	close $fh;
	return $out;
}

sub get_b {
	my ($uri) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . port(8081))
		or return '';
	return http("GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n",
		socket => $sock) // '';
}

sub status { ($_[0] // '') =~ m!^HTTP/1\.\d (\d+)! ? $1 : 0 }

# The same token, granted by A (a segment that is not there: 404 once
# granted), is B's to judge: B does not know it.

is(status(http_get('/live/stream_7_000.ts?token=shared-token')), 404,
	'A grants the token');
is(status(get_b('/live/stream_7_000.ts?token=shared-token')), 403,
	'B refuses it, whatever A said');
is(status(http_get('/live/stream_7_000.ts?token=shared-token')), 404,
	'A still grants it');

# And the other way round: B's refusal, cached, is not A's.
is(status(get_b('/live/stream_7_000.ts?token=viewer-a')), 403, 'B refuses viewer-a');
is(status(http_get('/live/stream_7_000.ts?token=viewer-a')), 404,
	'A grants viewer-a');

# Each deployment's channel list (each worker keeps one for 5 s).

my $m3u_a = http_get('/playlist.m3u?token=catalog-a');
like($m3u_a, qr!^http://a/live/stream_a1\.m3u8!m, 'A lists its channel');
my $m3u_b = get_b('/playlist.m3u?token=viewer-b');
like($m3u_b, qr!^http://b/live/stream_b1\.m3u8!m, 'B lists its own channel');
unlike($m3u_b, qr/stream_a1/, "B never lists A's channel");

###############################################################################

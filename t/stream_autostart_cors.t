#!/usr/bin/perl

# Tests for stream_autostart_cors: a web player's origin gets
# Access-Control-Allow-Origin (echoed, with Vary: Origin, and the exposed
# headers) on the playlist, its segments, the M3U, a static file and error
# responses (the module's 401/403 and nginx's own 404); an origin that is
# not allowed gets none; a CORS preflight (OPTIONS) is answered 204 before
# any token check, never starting a stream; `*` answers `*`; the operator
# API never takes part.

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
	->has_daemon('ffmpeg')->plan(39)
	->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format stream '"$request" $status autostart=$stream_autostart_status';

    server {
        listen       127.0.0.1:8080;
        server_name  localhost;

        access_log %%TESTDIR%%/stream.log stream;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 20s;
        stream_autostart_cors https://player.example http://player.local:3000;

        location = /playlist.m3u {
            stream_autostart_m3u "http://$http_host/live/stream_{channel}.m3u8";
        }

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }

        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_\d+\.ts)$ {
            alias %%TESTDIR%%/hls/$segment;
            stream_autostart_segment $ch;
        }

        location = /epg.xml {
            root %%TESTDIR%%;
            stream_autostart_cors *;
        }

        location /api/ {
            stream_autostart_api;
        }

        location = /plain.txt {
            root %%TESTDIR%%;
            stream_autostart_cors off;
        }
    }
}

EOF

my $token = 'cors-token-0123456789';
my $s = start_stack($t, segment => '1s',
	users => { u1 => '{"active":true}' },
	tokens => { $token => 'u1' });
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin_url}","quality":"copy"})) for 1, 2;
$t->write_file('epg.xml', "<tv></tv>\n");
$t->write_file('plain.txt', "plain\n");

$t->run();

###############################################################################

my $allowed = 'https://player.example';

sub req {
	my ($method, $uri, @headers) = @_;
	return http(join '', "$method $uri HTTP/1.0\r\nHost: localhost\r\n",
		map({ "$_\r\n" } @headers), "\r\n");
}

sub header {
	my ($r, $name) = @_;
	my ($head) = split /\r\n\r\n/, $r, 2;
	my @v = $head =~ /^\Q$name\E:[ \t]*(.*?)\r?$/mig;
	return join ', ', @v;
}

sub segments {
	my ($r) = @_;
	return grep { !/^#/ && /\S/ } split /\r?\n/, (split /\r\n\r\n/, $r, 2)[1] // '';
}

# An allowed origin is echoed, on the playlist, a segment and the M3U.

my $r = req('GET', "/live/stream_1.m3u8?token=$token", "Origin: $allowed");
like($r, qr!^HTTP/1\.1 200 !, 'playlist from an allowed origin');
is(header($r, 'Access-Control-Allow-Origin'), $allowed, 'playlist: origin echoed');
like(header($r, 'Vary'), qr/\bOrigin\b/, 'playlist: Vary: Origin');
is(header($r, 'Access-Control-Expose-Headers'), 'Content-Length, Content-Range',
	'playlist: length and range exposed');
unlike($r, qr/^Access-Control-Allow-Credentials/mi, 'never credentials');

my ($seg) = ((segments($r))[-1] // '') =~ /^([^?]+)/;
$r = req('GET', "/live/$seg?token=$token", 'Origin: http://player.local:3000');
like($r, qr!^HTTP/1\.1 200 !, 'segment from an allowed origin');
is(header($r, 'Access-Control-Allow-Origin'), 'http://player.local:3000',
	'segment (a static file nginx serves): origin echoed');

$r = req('GET', "/playlist.m3u?token=$token", "Origin: $allowed");
like($r, qr!^HTTP/1\.1 200 .*#EXTM3U!s, 'M3U from an allowed origin');
is(header($r, 'Access-Control-Allow-Origin'), $allowed, 'M3U: origin echoed');

# Errors too: a page must be able to tell a refused token from a network
# failure.

$r = req('GET', '/live/stream_1.m3u8', "Origin: $allowed");
like($r, qr!^HTTP/1\.1 401 !, 'no token: 401');
is(header($r, 'Access-Control-Allow-Origin'), $allowed, '401: origin echoed');
$r = req('GET', '/live/stream_1.m3u8?token=wrong-token', "Origin: $allowed");
like($r, qr!^HTTP/1\.1 403 !, 'wrong token: 403');
is(header($r, 'Access-Control-Allow-Origin'), $allowed, '403: origin echoed');
$r = req('GET', "/live/stream_1_999999.ts?token=$token", "Origin: $allowed");
like($r, qr!^HTTP/1\.1 404 !, 'missing segment: nginx 404');
is(header($r, 'Access-Control-Allow-Origin'), $allowed, 'nginx 404: origin echoed');

# Other origins get nothing the browser would accept.

$r = req('GET', "/live/stream_1.m3u8?token=$token", 'Origin: https://evil.example');
like($r, qr!^HTTP/1\.1 200 !, 'another origin is served (the browser decides)');
is(header($r, 'Access-Control-Allow-Origin'), '', 'another origin: no CORS header');
like(header($r, 'Vary'), qr/\bOrigin\b/, 'another origin: Vary: Origin');
$r = req('GET', "/live/stream_1.m3u8?token=$token");
is(header($r, 'Access-Control-Allow-Origin'), '', 'no Origin: no CORS header');

# Preflight: answered before any token check, starts nothing.

$r = req('OPTIONS', '/live/stream_2.m3u8', "Origin: $allowed",
	'Access-Control-Request-Method: GET',
	'Access-Control-Request-Headers: range, authorization');
like($r, qr!^HTTP/1\.1 204 !, 'preflight without a token: 204');
is(header($r, 'Access-Control-Allow-Origin'), $allowed, 'preflight: origin echoed');
is(header($r, 'Access-Control-Allow-Methods'), 'GET, HEAD, OPTIONS',
	'preflight: methods');
is(header($r, 'Access-Control-Allow-Headers'), 'range',
	'preflight: Range allowed, Authorization not');
like(header($r, 'Access-Control-Max-Age'), qr/^\d+$/, 'preflight: max age');
ok(!ffmpeg_pids($s->{hls}, 2), 'a preflight starts no stream');

$r = req('OPTIONS', "/live/$seg", "Origin: $allowed",
	'Access-Control-Request-Method: GET');
like($r, qr!^HTTP/1\.1 204 !, 'segment preflight without a token: 204');

$r = req('OPTIONS', '/live/stream_2.m3u8', 'Origin: https://evil.example',
	'Access-Control-Request-Method: GET');
like($r, qr!^HTTP/1\.1 403 !, 'preflight from another origin: 403');
is(header($r, 'Access-Control-Allow-Origin'), '', 'refused preflight: no CORS header');

# The operator API never takes part, even with an inherited policy.

$r = req('GET', '/api/streams/active', "Origin: $allowed");
like($r, qr!^HTTP/1\.1 403 !, 'API: cross-origin request refused');
is(header($r, 'Access-Control-Allow-Origin'), '', 'API: no CORS header');
$r = req('OPTIONS', '/api/streams/active', "Origin: $allowed",
	'Access-Control-Request-Method: GET');
unlike($r, qr!^HTTP/1\.1 204 !, 'API: no preflight answer');

# `*` answers `*` (a static guide file); off adds nothing.

$r = req('GET', '/epg.xml', 'Origin: https://anyone.example');
is(header($r, 'Access-Control-Allow-Origin'), '*', 'static file with *: *');
is(header($r, 'Vary'), '', 'with *: no Vary');
$r = req('GET', '/plain.txt', "Origin: $allowed");
is(header($r, 'Access-Control-Allow-Origin'), '', 'off: no CORS header');

# nginx -t: the directives say what is wrong.

sub check {
	my ($t, $body) = @_;
	$t->write_file_expand('test.conf', <<CONF);
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:8080;
        $body
    }
}
CONF
	my $d = $t->testdir();
	return `$Test::Nginx::NGINX -t -p $d/ -c test.conf -e error.log 2>&1`;
}

like(check($t, 'stream_autostart_cors https://a.example http://b.example:8000; '
	. 'stream_autostart_session_key $remote_addr$http_x_player;'),
	qr/test is successful/, 'valid CORS and session key configuration');
like(check($t, 'stream_autostart_cors https://a.example/;'),
	qr/stream_autostart_cors: "https:\/\/a.example\/" is not an origin/,
	'an origin with a path is refused');
like(check($t, 'stream_autostart_cors * https://a.example;'),
	qr/stream_autostart_cors: "\*" cannot be combined with origins/,
	'* with origins is refused');
like(check($t, 'stream_autostart_cors a.example;'),
	qr/the scheme must be http or https/, 'an origin without a scheme is refused');
like(check($t, 'stream_autostart_cors *; stream_autostart_cors off;'),
	qr/"stream_autostart_cors" directive is duplicate/, 'duplicate');

###############################################################################

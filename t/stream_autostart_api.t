#!/usr/bin/perl

# Tests for stream_autostart_api: the operator API answered by nginx through
# the supervisor socket, for good and bad input.

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

my $t = Test::Nginx->new()->has(qw/http access/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(30)
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

        location /api/ {
            stream_autostart_api;
            allow 127.0.0.1;
            deny all;
        }

        location ~ ^/channel/[^/]+/start$ {
            stream_autostart_api;
            allow 127.0.0.1;
            deny all;
        }

        location /private/api/ {
            stream_autostart_api;
            deny all;
        }
    }
}

EOF

# The API is served by nginx's workers: their group must be an operator
# group of the supervisor (they run as this test's user and group here).
my $s = start_stack($t, segment => '1s',
	args => [ '--max-failures', '1', '--operator-group', (split ' ', $))[0] ]);
redis($t, 'SET', 'channel:7',
	qq({"source_url":"$s->{origin_url}","quality":"copy"}));

$t->run();

###############################################################################

sub post {
	my ($uri, $body) = @_;
	my $len = length $body;
	return http(<<EOF . $body);
POST $uri HTTP/1.0
Host: localhost
Content-Type: application/json
Content-Length: $len

EOF
}

# (status, decoded JSON) of a response.
sub api {
	my ($r) = @_;
	my ($status) = ($r // '') =~ m!^HTTP/1\.1 (\d+)!;
	my ($body) = ($r // '') =~ /\r\n\r\n(.*)\z/s;
	my $json = eval { decode_json($body // '') } || {};
	return ($status // 0, $json, $r // '');
}

my ($st, $j, $r) = api(post('/api/stream/start', '{"channel_id":"7"}'));
is($st, 200, 'start: 200');
is_deeply([ @$j{qw/ok channel_id state/} ], [ JSON::PP::true, '7', 'ready' ],
	'start: JSON says ready');
like($r, qr!^Content-Type: application/json\r?$!mi, 'JSON content type');
ok(ffmpeg_pids($s->{hls}, 7), 'ffmpeg runs');

($st, $j) = api(http_get('/api/streams/active'));
is($st, 200, 'active: 200');
is(join(',', map { "$_->{channel}:$_->{state}" } @{$j->{streams} || []}),
	'7:ready', 'active lists the stream');

($st, $j) = api(http_get('/api/streams/7'));
is($st, 200, 'one stream: 200');
is($j->{stream}{channel}, '7', 'one stream: its status');
like($j->{stream}{pid} // '', qr/^\d+$/, 'one stream: pid');

($st, $j) = api(http_get('/api/streams/8'));
is($st, 404, 'stream not running: 404');
is($j->{error}{code}, 'not_running', 'with its code');

# The old API's URL form.
($st, $j) = api(http_get('/channel/7/start'));
is($st, 200, 'GET /channel/<id>/start: 200');
is($j->{started}, JSON::PP::false, 'already running: not started again');

# Ad hoc: a channel with no record, started with a source and quality.
($st, $j) = api(post('/api/stream/start',
	qq({"channel_id":"adhoc","source_url":"$s->{origin_url}","quality":"copy"})));
is($st, 200, 'ad hoc source: 200');
ok(ffmpeg_pids($s->{hls}, 'adhoc'), 'ad hoc ffmpeg runs');

# Bad input.
($st, $j) = api(post('/api/stream/start', '{"channel_id":"x","source_url":"file:///etc/passwd"}'));
is("$st $j->{error}{code}", '422 bad_channel', 'local file source: 422');
like($j->{error}{message}, qr/scheme "file" is not allowed/, 'with the reason');
ok(!ffmpeg_pids($s->{hls}, 'x'), 'and no ffmpeg');
($st, $j) = api(post('/api/stream/start', '{"channel_id":'));
is("$st $j->{error}{code}", '400 bad_request', 'broken JSON: 400');
($st, $j) = api(post('/api/stream/start', ''));
is($st, 400, 'no body: 400');
($st, $j) = api(post('/api/stream/start', '{"channel_id":"../x"}'));
is("$st $j->{error}{code}", '400 invalid_channel', 'path trick: 400');
($st, $j) = api(post('/api/stream/start', '{"channel_id":"nope"}'));
is("$st $j->{error}{code}", '404 unknown_channel', 'unknown channel: 404');
($st, $j) = api(post('/api/stream/start',
	qq({"channel_id":"denied","source_url":"$s->{origin}/status/403/x.ts","quality":"copy"})));
is("$st $j->{error}{code}", '502 failed', 'upstream 403: 502');
like($j->{error}{message}, qr/HTTP 403 Forbidden/, 'naming the 403');
($st, $j) = api(http_get('/api/stream/start'));
is("$st $j->{error}{code}", '405 method_not_allowed', 'GET of a POST endpoint: 405');
($st, $j) = api(http_get('/api/nothing'));
is("$st $j->{error}{code}", '404 not_found', 'unknown endpoint: 404');
like(http_get('/private/api/streams/active'), qr!^HTTP/1\.1 403 !,
	'access rules apply to the API');

# Stop.
($st, $j) = api(post('/api/stream/stop', '{"channel_id":7}'));
is("$st $j->{state}", '200 stopped', 'stop: 200');
ok(!ffmpeg_pids($s->{hls}, 7) && !-e "$s->{hls}/stream_7.m3u8",
	'stop: ffmpeg and files gone');
($st, $j) = api(post('/api/stream/stop', '{"channel_id":"7"}'));
is("$st $j->{error}{code}", '404 not_running', 'stop again: 404');

###############################################################################

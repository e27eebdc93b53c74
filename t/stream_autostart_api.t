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
	->has_daemon('ffmpeg')->plan(47)
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

        location /keyed/api/ {
            stream_autostart_api;
            stream_autostart_api_key %%TESTDIR%%/api.key;
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

$t->write_file('api.key', "0123456789abcdef-secret\n");

$t->run();

###############################################################################

sub post {
	my ($uri, $body, @headers) = @_;
	@headers = ('Content-Type: application/json') unless @headers;
	my $len = length $body;
	return http("POST $uri HTTP/1.0\r\nHost: localhost\r\n"
		. join('', map { "$_\r\n" } @headers)
		. "Content-Length: $len\r\n\r\n" . $body);
}

sub get {
	my ($uri, @headers) = @_;
	return http("GET $uri HTTP/1.0\r\nHost: localhost\r\n"
		. join('', map { "$_\r\n" } @headers) . "\r\n");
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

# The old API's URL form: POST only (a link or an image must not start a
# channel).
($st, $j, $r) = api(http_get('/channel/7/start'));
is("$st $j->{error}{code}", '405 method_not_allowed', 'GET /channel/<id>/start: 405');
like($r, qr!^Allow: POST\r?$!mi, 'with Allow: POST');
($st, $j) = api(post('/channel/7/start', ''));
is($st, 200, 'POST /channel/<id>/start: 200');
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

# Writes take JSON: forms and text/plain (what another site's page can
# send without asking first) are refused before anything happens.
my $start7 = '{"channel_id":"7"}';
($st, $j) = api(post('/api/stream/start', $start7, 'Content-Type: text/plain'));
is("$st $j->{error}{code}", '415 unsupported_media_type', 'text/plain: 415');
($st, $j) = api(post('/api/stream/start', $start7,
	'Content-Type: application/x-www-form-urlencoded'));
is("$st $j->{error}{code}", '415 unsupported_media_type', 'form: 415');
($st, $j) = api(post('/api/stream/start', $start7, 'X-None: 1'));
is("$st $j->{error}{code}", '415 unsupported_media_type', 'no Content-Type: 415');

# Browser requests from another site.
($st, $j) = api(post('/api/stream/start', $start7,
	'Content-Type: application/json', 'Origin: http://evil.example'));
is("$st $j->{error}{code}", '403 cross_origin', 'another Origin: 403');
($st, $j) = api(post('/channel/7/start', '', 'Content-Type: application/json',
	'Sec-Fetch-Site: cross-site'));
is("$st $j->{error}{code}", '403 cross_origin', 'Sec-Fetch-Site: cross-site: 403');
($st, $j) = api(get('/api/streams/active', 'Origin: null'));
is("$st $j->{error}{code}", '403 cross_origin', 'Origin: null: 403');
ok(!ffmpeg_pids($s->{hls}, 7), 'no refused request started anything');
like($t->read_file('error.log'),
	qr/\[error\].*stream_autostart api: cross_origin \(403\): a request from origin "http:\/\/evil\.example"/,
	'refusal logged with its reason');
($st, $j) = api(get('/api/streams/active', 'Origin: http://localhost',
	'Sec-Fetch-Site: same-origin'));
is($st, 200, 'same origin: 200');

# The API key.
($st, $j, $r) = api(get('/keyed/api/streams/active'));
is("$st $j->{error}{code}", '401 unauthorized', 'no key: 401');
like($r, qr!^WWW-Authenticate: Bearer\r?$!mi, 'with WWW-Authenticate');
($st, $j) = api(get('/keyed/api/streams/active',
	'Authorization: Bearer 0123456789abcdef-secreT'));
is("$st $j->{error}{code}", '401 unauthorized', 'wrong key: 401');
($st, $j) = api(get('/keyed/api/streams/active',
	'Authorization: Bearer 0123456789abcdef-secret'));
is($st, 200, 'Authorization: Bearer: 200');
($st, $j) = api(get('/keyed/api/streams/active',
	'X-Api-Key: 0123456789abcdef-secret'));
is($st, 200, 'X-Api-Key: 200');
# nginx's own debug lines (a --with-debug build at level debug) show the
# raw headers; every other level must not.
unlike(join('', grep { !/ \[debug\] / } split /^/m, $t->read_file('error.log')),
	qr/0123456789abcdef-secre/, 'the key is never logged');

###############################################################################

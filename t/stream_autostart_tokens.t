#!/usr/bin/perl

# Tests for stream_autostart tokens beyond the playlist: the token on every
# segment URI of a served playlist, stream_autostart_segment (401/403/200,
# counts as watching, never starts a stream), the token cache lifetime
# after a revocation, and the log variables (never the whole token).

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
	->has_daemon('ffmpeg')->plan(20)
	->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format stream '"$request" $status channel=$stream_autostart_channel '
                      'user=$stream_autostart_user '
                      'autostart=$stream_autostart_status '
                      'wait_ms=$stream_autostart_wait_ms '
                      'token=$stream_autostart_token';

    server {
        listen       127.0.0.1:8080;
        server_name  localhost;

        access_log %%TESTDIR%%/stream.log stream;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 20s;
        stream_autostart_token_cache 2s 1s;

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

my $token = 'viewer-token-0123456789';
my $s = start_stack($t, segment => '1s', idle_timeout => '8s',
	users => { u1 => '{"active":true}', u2 => '{"active":true}' },
	tokens => { $token => 'u1', 'a+b/c%d' => 'u2', revoke => 'u2' });
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin_url}","quality":"copy"})) for 1, 2;

$t->run();

###############################################################################

sub segments {
	my ($r) = @_;
	return grep { !/^#/ && /\S/ } split /\r?\n/, (split /\r\n\r\n/, $r, 2)[1] // '';
}

# Every segment URI carries the token, encoded.

my $r = http_get("/live/stream_1.m3u8?token=$token");
like($r, qr!^HTTP/1\.1 200 !, 'playlist');
my @segs = segments($r);
ok(@segs && !grep({ !/^stream_1_\d+\.ts\?token=\Q$token\E$/ } @segs),
	'every segment URI has the token') or diag(join ' ', @segs);

$r = http_get('/live/stream_1.m3u8?token=a%2Bb%2Fc%25d');
like((segments($r))[0] // '', qr/\?token=a%2Bb%2Fc%25d$/,
	'a token with special characters stays encoded');

# Segments need a valid token.

my ($seg) = (segments(http_get("/live/stream_1.m3u8?token=$token")))[-1] =~ /^([^?]+)/;
like(http_get("/live/$seg"), qr!^HTTP/1\.1 401 !, 'segment without token: 401');
like(http_get("/live/$seg?token=wrong"), qr!^HTTP/1\.1 403 !,
	'segment with a wrong token: 403');
my $body = http_get("/live/$seg?token=$token");
ok($body =~ m!^HTTP/1\.1 200 ! && length($body) > 10000,
	'segment with the token: 200');
like(http_get("/live/stream_2_000.ts?token=$token"), qr!^HTTP/1\.1 404 !,
	'a segment of a channel not running: 404');
ok(!ffmpeg_pids($s->{hls}, 2), 'segment requests never start a stream');

# Revocation: the cached grant runs out (stream_autostart_token_cache 2s).

like(http_get("/live/$seg?token=revoke"), qr!^HTTP/1\.1 200 !,
	'token works before revocation');
redis($t, 'DEL', 'token:revoke');
my $revoked_at = time();
ok(wait_until(5, sub { http_get("/live/$seg?token=revoke") =~ m!^HTTP/1\.1 403 ! }),
	'revoked token refused within the cache lifetime');

# Segment requests count as watching: with only segments requested (never
# the playlist), the channel outlives its 8 s idle timeout.

my ($pid) = ffmpeg_pids($s->{hls}, 1);
my $deadline = time() + 13;
while (time() < $deadline) {
	my ($last) = file_text($t, 'hls/stream_1.m3u8') =~ /(stream_1_\d+\.ts)\s*\z/;
	http_get("/live/$last?token=$token") if $last;
	sleep 1;
}
my @still = ffmpeg_pids($s->{hls}, 1);
is($still[0], $pid, 'watched channel kept running past its idle timeout');

# The log variables.

my $log = $t->read_file('stream.log');
like($log, qr!^"GET /live/stream_1\.m3u8\?token=view\*+ HTTP/1\.0" 200 channel=1 user=u1 autostart=started wait_ms=\d+ token=view\.\.\.\(23 bytes\)$!m,
	'cold start logged: channel, user, started, wait time');
like($log, qr!^"GET /live/stream_1\.m3u8\?token=view\*+ HTTP/1\.0" 200 channel=1 user=u1 autostart=hit wait_ms=- !m,
	'ready playlist logged as hit');
like($log, qr!^"GET /live/stream_1_\d+\.ts\?token=view\*+ HTTP/1\.0" 200 channel=1 user=u1 autostart=segment !m,
	'segment logged');
like($log, qr!^"GET /live/stream_1_\d+\.ts\?token=wr\*\*\* HTTP/1\.0" 403 channel=1 user=- autostart=denied !m,
	'refusal logged');
like($log, qr!^"GET /live/stream_1_\d+\.ts HTTP/1\.0" 401 channel=1 user=- autostart=no_token !m,
	'missing token logged');
unlike($log, qr/\Q$token\E/, 'access log never has the whole token');
# nginx's own debug lines (a --with-debug build at level debug) show the
# raw request; every other level must not.
my $errors = join '', grep { !/ \[debug\] / } split /^/m, $t->read_file('error.log');
unlike($errors, qr/\Q$token\E/, 'error log never has the whole token');
like($t->read_file('error.log'), qr/request: "GET \S+\?token=wr\*\*\* HTTP/,
	'error log request lines are masked');
unlike($t->read_file('supervisor.log'), qr/\Q$token\E/,
	'supervisor log never has the whole token');

###############################################################################

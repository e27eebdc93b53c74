#!/usr/bin/perl

# Tests for the stream supervisor: a source that keeps its connection open
# but stops sending is detected by its playlist not advancing, restarted,
# and, when it keeps stalling, the channel fails with the reason.

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
        stream_autostart_wait 20s;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }
    }
}

EOF

my $s = start_stack($t, segment => '1s',
	args => [ '--stall-timeout', '3s', '--max-failures', '2',
		'--failed-cooldown', '60s' ],
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
redis($t, 'SET', 'channel:hang',
	qq({"source_url":"$s->{origin}/stall/4/live.ts","quality":"copy"}));

$t->run();

###############################################################################

like(http_get('/live/stream_hang.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'plays while the source sends');
my ($first) = ffmpeg_pids($s->{hls}, 'hang');

ok(wait_until(20, sub {
	my @p = ffmpeg_pids($s->{hls}, 'hang'); @p && $p[0] != $first }),
	'stalled ffmpeg replaced');
like($t->read_file('supervisor.log'),
	qr/ffmpeg stalled.*channel=hang.*no new segment for 3 s/,
	'stall logged with the reason');

my $out;
ok(wait_until(40, sub {
	(undef, $out) = supervisor_ctl($s, 'status', 'hang');
	$out =~ /^hang\s+failed/m }), 'failed when it keeps stalling');
like($out, qr/^hang\s+failed\s+-\s+-\s+2\s.*stalled: no new segment for 3 s/m,
	'status: two failures and the stall reason');
ok(!ffmpeg_pids($s->{hls}, 'hang'), 'no ffmpeg left');

like(http_get('/live/stream_hang.m3u8?token=tk'), qr!^HTTP/1\.1 502 !,
	'failed channel: 502');
like($t->read_file('error.log'), qr/channel "hang" failed \(502.*stalled/,
	'error log says it stalled');

###############################################################################

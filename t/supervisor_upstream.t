#!/usr/bin/perl

# Tests for reaching upstreams that refuse ffmpeg's defaults: an origin (a
# server of the nginx under test) answers 403 unless User-Agent and Referer
# match and the connection comes from 127.0.0.2, the address the proxies
# (tinyproxy, microsocks) bind their outgoing connections to. Channels go
# direct, through the HTTP proxy, and through SOCKS5, all by the
# supervisor's upstream gateway, for MPEG-TS and HLS sources; failover and
# refused sources too. The supervisor allows loopback upstreams here (the
# test helper's default --allow-upstream-networks 127.0.0.0/8).

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use IO::Socket::INET;
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http proxy/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->has_daemon('tinyproxy')->has_daemon('microsocks')
	->plan(23);

# 127.0.0.2 must be usable as a source address (Linux: all of 127/8 is).
IO::Socket::INET->new(LocalAddr => '127.0.0.2', Proto => 'tcp', Listen => 1)
	or plan(skip_all => 'no 127.0.0.2');

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format origin '$remote_addr "$http_user_agent" $status $uri';

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

    # The picky upstream.
    server {
        listen       127.0.0.1:8081;
        server_name  origin;

        access_log %%TESTDIR%%/origin.access.log origin;

        allow 127.0.0.2;
        deny all;

        if ($http_user_agent != "TestAgent/1.0") {
            return 403;
        }
        if ($http_referer != "http://portal.test/") {
            return 403;
        }

        location = /live.ts {
            proxy_pass http://127.0.0.1:8090/live.ts;
            proxy_buffering off;
        }

        location /hls/ {
            alias %%TESTDIR%%/origin-hls/;
        }
    }
}

EOF

my $d = $t->testdir();
my $origin = 'http://127.0.0.1:' . port(8081);
my ($tiny, $socks, $socks_auth) = (port(8082), port(8083), port(8084));

$t->write_file('tinyproxy.conf', <<"EOF");
Port $tiny
Listen 127.0.0.1
Bind 127.0.0.2
Allow 127.0.0.1
Timeout 30
MaxClients 20
LogLevel Info
EOF

my $s = start_stack($t, segment => '1s', supervisor => 0,
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });

$t->run_daemon(sub {
	open STDERR, '>>', "$d/tinyproxy.log";
	open STDOUT, '>>', "$d/tinyproxy.log";
	exec('tinyproxy', '-d', '-c', "$d/tinyproxy.conf");
});
sub socks {
	my ($t, @args) = @_;
	$t->run_daemon(sub {
		open STDOUT, '>>', "$d/microsocks.log";
		open STDERR, '>>', "$d/microsocks.log";
		exec('microsocks', '-i', '127.0.0.1', '-b', '127.0.0.2', @args);
	});
}
socks($t, '-p', $socks);
socks($t, '-p', $socks_auth, '-u', 'viewer', '-P', 's3cret');

# The origin's HLS rendition of the live test stream.
mkdir "$d/origin-hls";
$t->run_daemon(sub {
	open STDERR, '>>', "$d/origin-hls.log";
	exec('ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin',
		'-i', $s->{origin_url}, '-c', 'copy', '-f', 'hls',
		'-hls_time', '1', '-hls_list_size', '6',
		'-hls_flags', 'delete_segments+temp_file',
		"$d/origin-hls/index.m3u8");
});

start_supervisor($t, $s, segment => '1s',
	args => [ '--proxy', "socks5h://127.0.0.1:$socks",
		'--referer', 'http://portal.test/',
		'--max-failures', '1', '--failed-cooldown', '60s' ]);

$t->run();
$t->waitforsocket("127.0.0.1:$_") or die "proxy $_ did not start\n"
	for $tiny, $socks, $socks_auth;
wait_until(15, sub { -e "$d/origin-hls/index.m3u8" })
	or die "origin HLS did not start\n";

my $hdrs = '"user_agent":"TestAgent/1.0","referer":"http://portal.test/"';
my %channels = (
	bare => qq("source_url":"$origin/live.ts","proxy":null),
	direct => qq("source_url":"$origin/live.ts",$hdrs,"proxy":null),
	http => qq("source_url":"$origin/live.ts",$hdrs,
		"proxy":"http://127.0.0.1:$tiny"),
	socks => qq("source_url":"$origin/live.ts",$hdrs,
		"proxy":"socks5h://127.0.0.1:$socks"),
	socksname => qq("source_url":"http://localhost:) . port(8081)
		. qq(/live.ts",$hdrs,"proxy":"socks5h://127.0.0.1:$socks"),
	sockslocal => qq("source_url":"$origin/live.ts",$hdrs,
		"proxy":"socks5://viewer:s3cret\@127.0.0.1:$socks_auth"),
	badauth => qq("source_url":"$origin/live.ts",$hdrs,
		"proxy":"socks5://viewer:wrong\@127.0.0.1:$socks_auth"),
	global => qq("source_url":"$origin/live.ts","user_agent":"TestAgent/1.0"),
	hls => qq("source_url":"$origin/hls/index.m3u8",$hdrs),
	failover => qq("sources":["http://127.0.0.1:) . port(8085)
		. qq(/gone.ts","$origin/live.ts"],$hdrs),
	localfile => qq("source_url":"file:///etc/passwd"),
	mixed => qq("sources":["$origin/live.ts","concat:/etc/passwd"]),
);
redis($t, 'SET', "channel:$_", "{$channels{$_},\"quality\":\"copy\"}")
	for keys %channels;

sub get { http_get("/live/stream_$_[0].m3u8?token=tk") }

###############################################################################

like(get('bare'), qr!^HTTP/1\.1 502 !, 'no headers, no proxy: 502');
like($t->read_file('error.log'),
	qr/channel "bare" failed.*upstream answered HTTP 403 Forbidden/,
	'the reason names the 403');

like(get('direct'), qr!^HTTP/1\.1 502 !, 'headers without the proxy: 502');
like($t->read_file('error.log'),
	qr/channel "direct" failed.*upstream answered HTTP 403 Forbidden/,
	'again the 403');

like(get('http'), qr!^HTTP/1\.1 200 !, 'headers through the HTTP proxy: plays');
like(get('socks'), qr!^HTTP/1\.1 200 !, 'through SOCKS5 (socks5h): plays');
like(get('socksname'), qr!^HTTP/1\.1 200 !,
	'a host name resolved by the SOCKS proxy: plays');
like(get('sockslocal'), qr!^HTTP/1\.1 200 !,
	'socks5 with user and password: plays');
like(get('global'), qr!^HTTP/1\.1 200 !,
	'the supervisor\'s default proxy and Referer: plays');
like(get('hls'), qr!^HTTP/1\.1 200 !, 'HLS upstream through SOCKS5: plays');

like(get('badauth'), qr!^HTTP/1\.1 502 !, 'wrong proxy password: 502');
like($t->read_file('error.log'),
	qr/channel "badauth" failed.*refused the user name or password/,
	'the reason names the proxy\'s refusal');

# A live request is logged when it ends: stop the channels.
supervisor_ctl($s, 'stop', $_) for qw/http socks/;
my $log;
wait_until(5, sub {
	$log = $t->read_file('origin.access.log');
	$log =~ /^127\.0\.0\.2 "TestAgent\/1\.0" 200 \/live\.ts$/m });
like($log, qr/^127\.0\.0\.2 "TestAgent\/1\.0" 200 \/live\.ts$/m,
	'origin saw the stream fetched through a proxy');
like($log, qr/^127\.0\.0\.2 "TestAgent\/1\.0" 20[06] \/hls\/index\d*\.ts$/m,
	'HLS segments fetched through the proxy too');
like($log, qr/^127\.0\.0\.1 "TestAgent\/1\.0" 403 /m,
	'direct requests refused by address');

# Failover: the first source is dead, the second plays.

like(get('failover'), qr!^HTTP/1\.1 200 !, 'failover: plays');
my (undef, $out) = supervisor_ctl($s, 'status', 'failover');
like($out, qr!^source: \Q$origin\E/live\.ts$!m, 'status names the live source');
like($out, qr!^skipped: http://127\.0\.0\.1:\d+/gone\.ts \(.*connection refused!m,
	'and why the first was skipped');
like($out, qr!^proxy: socks5h://127\.0\.0\.1:$socks$!m, 'and the proxy');

# Sources that could read local files are refused; no ffmpeg starts.

like(get('localfile'), qr!^HTTP/1\.1 422 !, 'file: source: 422');
like($t->read_file('error.log'),
	qr/channel "localfile" has an unusable record.*scheme "file" is not allowed/,
	'with a clear error');
like(get('mixed'), qr!^HTTP/1\.1 422 !, 'concat: among the sources: 422');
unlike($t->read_file('supervisor.log'),
	qr/ffmpeg started.*channel=(localfile|mixed)/,
	'no ffmpeg started for them');

# End the live upstream requests before nginx stops (older nginx reports
# streams still open at exit as alerts).
supervisor_ctl($s, 'stop', $_) for keys %channels;

###############################################################################

#!/usr/bin/perl

# Tests for the supervisor's upstream gateway: no secret of a channel (its
# proxy's user and password, headers, cookies, the source URL's userinfo
# and token) appears in any process's command line or in ffmpeg's
# environment, yet the origin gets them; status and the log show the URL
# redacted; the gateway serves nobody but its run's ffmpeg; and a hostile
# playlist (or redirect) cannot make ffmpeg fetch from loopback or
# link-local addresses: the supervisor allows only 127.0.0.2 here.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http proxy rewrite/)
	->has_daemon('redis-server')->has_daemon('ffmpeg')
	->has_daemon('tinyproxy')->has_daemon('microsocks')->plan(28);

IO::Socket::INET->new(LocalAddr => '127.0.0.2', Proto => 'tcp', Listen => 1)
	or plan(skip_all => 'no 127.0.0.2');

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format origin '$remote_addr "$http_x_secret" "$cookie_sid" "$cookie_jar" $status $uri';
    log_format plain '$remote_addr $status $request_uri';

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

    # What a hostile playlist points at: something only local users should
    # reach (an operator API, say).
    server {
        listen       127.0.0.1:8086;
        server_name  api;

        access_log %%TESTDIR%%/api.access.log plain;

        location / {
            return 200 "#EXTM3U\n";
        }
    }

    # The origin, on 127.0.0.2 (the only network the supervisor allows):
    # 403 without the channel's secret header and cookie.
    server {
        listen       127.0.0.2:%%PORT_8081%%;
        server_name  origin;

        access_log %%TESTDIR%%/origin.access.log origin;

        location = /live.ts {
            if ($http_x_secret != "hdr-s3cret") {
                return 403;
            }
            if ($cookie_sid != "cookie-s3cret") {
                return 403;
            }
            proxy_pass http://127.0.0.1:8090/live.ts;
            proxy_buffering off;
        }

        location /evil/ {
            alias %%TESTDIR%%/evil/;
            types {
                application/vnd.apple.mpegurl m3u8;
            }
        }

        # A cookie set on a redirect: the gateway keeps it for the run.
        location = /setcookie.ts {
            add_header Set-Cookie "jar=from-origin; Path=/";
            return 302 /live.ts;
        }

        location = /redirect.ts {
            return 302 http://127.0.0.1:8086/api/redirected.ts;
        }
    }
}

EOF

my $d = $t->testdir();
my $origin = 'http://127.0.0.2:' . port(8081);
my $api = 'http://127.0.0.1:' . port(8086);
my ($tiny, $socks) = (port(8082), port(8083));

my @secrets = qw/urlpass tok-s3cret hdr-s3cret cookie-s3cret proxy-s3cret
	socks-s3cret/;

$t->write_file('tinyproxy.conf', <<"EOF");
Port $tiny
Listen 127.0.0.1
Allow 127.0.0.1
BasicAuth puser proxy-s3cret
Timeout 30
MaxClients 20
LogLevel Info
EOF

mkdir "$d/evil";
$t->write_file('evil/master.m3u8', <<"EOF");
#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=100000
$api/api/variant.m3u8
EOF
$t->write_file('evil/media.m3u8', <<"EOF");
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:1
#EXTINF:1.0,
http://169.254.169.254/latest/meta-data.ts
#EXTINF:1.0,
$api/api/segment.ts
#EXT-X-ENDLIST
EOF

my $s = start_stack($t, segment => '1s', supervisor => 0,
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });

$t->run_daemon(sub {
	open STDERR, '>>', "$d/tinyproxy.log";
	open STDOUT, '>>', "$d/tinyproxy.log";
	exec('tinyproxy', '-d', '-c', "$d/tinyproxy.conf");
});
$t->run_daemon(sub {
	open STDOUT, '>>', "$d/microsocks.log";
	open STDERR, '>>', "$d/microsocks.log";
	exec('microsocks', '-i', '127.0.0.1', '-p', $socks,
		'-u', 'suser', '-P', 'socks-s3cret');
});

# The supervisor's own environment holds a secret (and a proxy setting
# that must not reach ffmpeg either).
{
	local $ENV{http_proxy} = 'http://envuser:env-s3cret@127.0.0.1:9/';
	start_supervisor($t, $s, segment => '1s', allow => '127.0.0.2/32',
		args => [ '--max-failures', '1', '--failed-cooldown', '60s',
			'--start-timeout', '5s' ]);
}

$t->run();
$t->waitforsocket("127.0.0.1:$_") or die "proxy $_ did not start\n"
	for $tiny, $socks;

my $secret = qq("headers":{"X-Secret":"hdr-s3cret"},)
	. qq("cookies":{"sid":"cookie-s3cret"},"quality":"copy");
my $src = "http://urluser:urlpass\@127.0.0.2:" . port(8081)
	. "/live.ts?token=tok-s3cret&x=1";
my %channels = (
	viahttp => qq("source_url":"$src",$secret,)
		. qq("proxy":"http://puser:proxy-s3cret\@127.0.0.1:$tiny"),
	viasocks => qq("source_url":"$src",$secret,)
		. qq("proxy":"socks5://suser:socks-s3cret\@127.0.0.1:$socks"),
	evilmaster => qq("source_url":"$origin/evil/master.m3u8","proxy":null),
	evilmedia => qq("source_url":"$origin/evil/media.m3u8","proxy":null),
	redirect => qq("source_url":"$origin/redirect.ts","proxy":null),
	loopback => qq("source_url":"$api/api/direct.ts","proxy":null),
	jar => qq("source_url":"$origin/setcookie.ts",$secret,"proxy":null),
	allowed => qq("source_url":"$api/api/x.ts","proxy":null,)
		. qq("allow_networks":["127.0.0.1/32"]),
);
redis($t, 'SET', "channel:$_", "{$channels{$_}}") for keys %channels;

sub get { http_get("/live/stream_$_[0].m3u8?token=tk") }

# Every process's command line, but the SOCKS proxy's own (microsocks takes
# its password as an argument; that is the test's doing, not ours).
sub cmdlines {
	my $all = '';
	opendir my $dh, '/proc' or return '';
	foreach my $pid (grep { /^\d+$/ } readdir $dh) {
		open my $fh, '<', "/proc/$pid/cmdline" or next;
		local $/;
		my $cmd = <$fh> // '';
		next if $cmd =~ /^(\S*\/)?microsocks\0/;
		$all .= "$pid: $cmd\n";
	}
	return $all;
}

sub environ {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/environ" or return '';
	local $/;
	return <$fh> // '';
}

###############################################################################

# Secrets: nowhere in /proc while both channels play.

like(get('viahttp'), qr!^HTTP/1\.1 200 !,
	'through an HTTP proxy with user and password: plays');
like(get('viasocks'), qr!^HTTP/1\.1 200 !,
	'through SOCKS5 with user and password: plays');

my $cmd = cmdlines();
my @leaks = grep { index($cmd, $_) >= 0 } @secrets;
is("@leaks", '', 'no secret in any command line');

my ($pid) = ffmpeg_pids($s->{hls}, 'viahttp');
ok($pid, 'ffmpeg runs');
my $argv = join ' ', split /\0/, `cat /proc/$pid/cmdline`;
like($argv, qr!-i http://127\.0\.0\.1:\d+/u/\d+/s\.ts !,
	'ffmpeg reads a gateway URL');
unlike($argv, qr/-headers|-http_proxy|-user_agent|urluser/,
	'and no request option');

my $env = environ($pid);
@leaks = grep { index($env, $_) >= 0 } @secrets, 'env-s3cret', 'http_proxy';
is("@leaks", '', 'no secret in ffmpeg\'s environment');
like($env, qr/(^|\0)STREAM_SUPERVISOR_CHANNEL=viahttp\0/,
	'the reconcile markers are kept');

my (undef, $out) = supervisor_ctl($s, 'status', 'viahttp');
like($out, qr!^source: http://\*\*\*\@127\.0\.0\.2:\d+/live\.ts\?token=\*\*\*&x=1$!m,
	'status shows the source redacted');
(undef, $out) = supervisor_ctl($s, 'list', '--json');
like($out, qr!"source":\s*"http://\*\*\*\@127\.0\.0\.2!, 'so does list --json');
@leaks = grep { index($out, $_) >= 0 } @secrets;
is("@leaks", '', 'no secret in list --json');

# The gateway serves its own ffmpeg only.

my ($gw) = $argv =~ m!-i http://127\.0\.0\.1:(\d+)/!;
my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$gw", Timeout => 5);
ok($sock, 'the gateway port accepts a connection');
$sock->print("GET /u/0/s.ts HTTP/1.1\r\nHost: x\r\n\r\n");
my $reply = '';
$sock->sysread($reply, 1024) if IO::Select->new($sock)->can_read(10);
is($reply, '', 'another process of the same user gets nothing');

my $child = fork();
die "fork: $!\n" unless defined $child;
if ($child == 0) {
	POSIX::setgid(65534);
	POSIX::setuid(65534);
	my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$gw", Timeout => 5)
		or POSIX::_exit(2);
	$c->print("GET /u/0/s.ts HTTP/1.1\r\nHost: x\r\n\r\n");
	my $r = '';
	$c->sysread($r, 1024) if IO::Select->new($c)->can_read(10);
	POSIX::_exit($r eq '' ? 0 : 1);
}
waitpid($child, 0);
is($? >> 8, 0, 'nor does another user');

ok(wait_until(5, sub {
	(() = file_text($t, 'supervisor.log')
		=~ /gateway: connection refused, not this channel's ffmpeg/g) >= 2 }),
	'both refusals logged');

# The origin got the secrets (a live request is logged when it ends).

supervisor_ctl($s, 'stop', $_) for qw/viahttp viasocks/;
my $log;
wait_until(10, sub {
	$log = file_text($t, 'origin.access.log');
	(() = $log =~ /"hdr-s3cret" "cookie-s3cret" "-" 200 \/live\.ts/g) >= 2 });
is((() = $log =~ /"hdr-s3cret" "cookie-s3cret" "-" 200 \/live\.ts/g), 2,
	'the origin got the header and cookie through both proxies');

my $slog = file_text($t, 'supervisor.log');
@leaks = grep { index($slog, $_) >= 0 } @secrets;
is("@leaks", '', 'no secret in the supervisor log');
like($slog, qr!ffmpeg started.*source=http://\*\*\*\@127\.0\.0\.2:\d+/live\.ts\?token=\*\*\*!,
	'which shows the source redacted');

# Server-side request forgery: nothing local is fetched.

like(get('evilmaster'), qr!^HTTP/1\.1 502 !,
	'a playlist naming a loopback variant: 502');
like($t->read_file('error.log'),
	qr/channel "evilmaster" failed.*127\.0\.0\.1 is a loopback address/,
	'with the policy as the reason');
like(get('evilmedia'), qr!^HTTP/1\.1 502 !,
	'segments at link-local and loopback addresses: 502');
like($t->read_file('error.log'),
	qr/channel "evilmedia" failed.*(169\.254\.169\.254 is a link-local|127\.0\.0\.1 is a loopback) address/,
	'with the policy as the reason');
like(get('redirect'), qr!^HTTP/1\.1 502 !, 'a redirect to loopback: 502');
like(get('loopback'), qr!^HTTP/1\.1 502 !, 'a loopback source: 502');

is(file_text($t, 'api.access.log'), '', 'the local server saw no request');

# Cookies an upstream sets (here on a redirect) are sent back with the
# channel's own.

like(get('jar'), qr!^HTTP/1\.1 200 !, 'a redirect that sets a cookie: plays');
supervisor_ctl($s, 'stop', 'jar');
ok(wait_until(10, sub { file_text($t, 'origin.access.log')
	=~ /"hdr-s3cret" "cookie-s3cret" "from-origin" 200 \/live\.ts$/m }),
	'the redirect\'s cookie came back with the channel\'s');

# A channel may allow a network explicitly.

get('allowed');
like(file_text($t, 'api.access.log'), qr!^127\.0\.0\.1 200 /api/x\.ts$!m,
	'a channel\'s allow_networks opens it');

supervisor_ctl($s, 'stop', $_) for keys %channels;

###############################################################################

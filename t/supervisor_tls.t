#!/usr/bin/perl

# Tests for HTTPS upstreams: the gateway verifies certificates. A CA and
# certificates made here with openssl; an nginx TLS origin serving HLS
# (made by ffmpeg) on 127.0.0.2 with a good certificate, a self-signed one
# and one for another host name. Played directly, through an HTTP proxy
# (CONNECT) and through SOCKS5 with the channel's tls_ca_file; the wrong
# certificates fail with a clear reason; tls_verify:false plays and status
# says so.

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

my $t = Test::Nginx->new()->has(qw/http ssl/)
	->has_daemon('redis-server')->has_daemon('ffmpeg')
	->has_daemon('openssl')->has_daemon('tinyproxy')
	->has_daemon('microsocks')->plan(12);

IO::Socket::INET->new(LocalAddr => '127.0.0.2', Proto => 'tcp', Listen => 1)
	or plan(skip_all => 'no 127.0.0.2');

$t->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format tls '$remote_addr $server_port $status $uri';
    access_log %%TESTDIR%%/tls.access.log tls;

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

    server {
        listen       127.0.0.2:%%PORT_8443%% ssl;
        listen       127.0.0.2:%%PORT_8444%% ssl;
        listen       127.0.0.2:%%PORT_8445%% ssl;
        server_name  origin;

        ssl_certificate     %%TESTDIR%%/cert-$server_port.pem;
        ssl_certificate_key %%TESTDIR%%/key.pem;

        location /hls/ {
            alias %%TESTDIR%%/origin-hls/;
        }
    }
}

EOF

my $d = $t->testdir();

# The CA, and three certificates for one key: signed by the CA for the
# origin's address, self-signed, and signed by the CA for another name.
sub ossl {
	my $out = `openssl @_ 2>&1`;
	die "openssl @_: $out" if $?;
}
ossl("req -x509 -newkey rsa:2048 -nodes -keyout $d/ca.key -out $d/ca.pem"
	. " -days 2 -subj /CN=test-ca");
ossl("genrsa -out $d/key.pem 2048");
ossl("req -new -key $d/key.pem -out $d/origin.csr -subj /CN=origin");
$t->write_file('good.ext', "subjectAltName=IP:127.0.0.2,DNS:origin.test\n");
$t->write_file('other.ext', "subjectAltName=DNS:other.test\n");
ossl("x509 -req -in $d/origin.csr -CA $d/ca.pem -CAkey $d/ca.key"
	. " -CAcreateserial -days 2 -extfile $d/good.ext -out $d/cert-"
	. port(8443) . ".pem");
ossl("x509 -req -in $d/origin.csr -signkey $d/key.pem -days 2"
	. " -extfile $d/good.ext -out $d/cert-" . port(8444) . ".pem");
ossl("x509 -req -in $d/origin.csr -CA $d/ca.pem -CAkey $d/ca.key"
	. " -CAcreateserial -days 2 -extfile $d/other.ext -out $d/cert-"
	. port(8445) . ".pem");

my ($tiny, $socks) = (port(8082), port(8083));
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
$t->run_daemon(sub {
	open STDOUT, '>>', "$d/microsocks.log";
	open STDERR, '>>', "$d/microsocks.log";
	exec('microsocks', '-i', '127.0.0.1', '-b', '127.0.0.2', '-p', $socks);
});

mkdir "$d/origin-hls";
$t->run_daemon(sub {
	open STDERR, '>>', "$d/origin-hls.log";
	exec('ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin',
		'-i', $s->{origin_url}, '-c', 'copy', '-f', 'hls',
		'-hls_time', '1', '-hls_list_size', '6',
		'-hls_flags', 'delete_segments+temp_file',
		"$d/origin-hls/index.m3u8");
});

start_supervisor($t, $s, segment => '1s', allow => '127.0.0.2/32',
	args => [ '--max-failures', '1', '--failed-cooldown', '60s' ]);

$t->run();
$t->waitforsocket("127.0.0.1:$_") or die "proxy $_ did not start\n"
	for $tiny, $socks;
wait_until(15, sub { -e "$d/origin-hls/index.m3u8" })
	or die "origin HLS did not start\n";

sub url { 'https://127.0.0.2:' . port($_[0]) . '/hls/index.m3u8' }
my $ca = qq("tls_ca_file":"$d/ca.pem");
my %channels = (
	direct => qq("source_url":"@{[url(8443)]}",$ca,"proxy":null),
	viahttp => qq("source_url":"@{[url(8443)]}",$ca,)
		. qq("proxy":"http://127.0.0.1:$tiny"),
	viasocks => qq("source_url":"@{[url(8443)]}",$ca,)
		. qq("proxy":"socks5://127.0.0.1:$socks"),
	noca => qq("source_url":"@{[url(8443)]}","proxy":null),
	selfsigned => qq("source_url":"@{[url(8444)]}",$ca,"proxy":null),
	otherhost => qq("source_url":"@{[url(8445)]}",$ca,"proxy":null),
	noverify => qq("source_url":"@{[url(8444)]}","tls_verify":false,)
		. qq("proxy":"http://127.0.0.1:$tiny"),
);
redis($t, 'SET', "channel:$_", qq({$channels{$_},"quality":"copy"}))
	for keys %channels;

sub get { http_get("/live/stream_$_[0].m3u8?token=tk") }

# A channel that should play is started by the operator command first (it
# waits up to 30 s): an HLS source over TLS on a loaded machine can take
# longer to its first segment than a test client waits.
sub play {
	supervisor_ctl($s, 'start', $_[0]);
	return get($_[0]);
}

###############################################################################

like(play('direct'), qr!^HTTP/1\.1 200 !, 'https with the channel\'s CA: plays');
like(play('viahttp'), qr!^HTTP/1\.1 200 !, 'through an HTTP proxy: plays');
like(play('viasocks'), qr!^HTTP/1\.1 200 !, 'through SOCKS5: plays');

# The proxies connect from 127.0.0.2: segments came through them.
my $p = port(8443);
ok(wait_until(10, sub { file_text($t, 'tls.access.log')
	=~ /^127\.0\.0\.2 $p 20[06] \/hls\/index\d+\.ts$/m }),
	'segments fetched over TLS through the proxies');

like(get('noca'), qr!^HTTP/1\.1 502 !, 'a CA the system does not know: 502');
like($t->read_file('error.log'),
	qr/channel "noca" failed.*certificate of 127\.0\.0\.2 is not trusted: unknown issuer/,
	'the reason names the untrusted certificate');
like(get('selfsigned'), qr!^HTTP/1\.1 502 !, 'a self-signed certificate: 502');
like($t->read_file('error.log'),
	qr/channel "selfsigned" failed.*certificate of 127\.0\.0\.2 is not trusted/,
	'with the reason');
like(get('otherhost'), qr!^HTTP/1\.1 502 !, 'a certificate for another name: 502');
like($t->read_file('error.log'),
	qr/channel "otherhost" failed.*not valid for the name 127\.0\.0\.2/,
	'with the reason');

like(play('noverify'), qr!^HTTP/1\.1 200 !,
	'tls_verify:false plays the self-signed origin');
my (undef, $out) = supervisor_ctl($s, 'status', 'noverify');
like($out, qr/^tls: certificates not verified \(tls_verify: false\)$/m,
	'and status says so');

supervisor_ctl($s, 'stop', $_) for keys %channels;

###############################################################################

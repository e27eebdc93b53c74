#!/usr/bin/perl

# Tests for stream_autostart directives: nginx -t refuses bad values with
# a message that says what is wrong.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http/)->plan(28);

# Runs nginx -t on a server block body; returns what nginx printed. ($t is
# passed in: a named sub closing over it would keep it alive past the
# end-of-test count, and Test::Nginx's closing tests would be missed.)
sub check {
	my ($t, $body) = @_;
	$t->write_file_expand('test.conf', <<EOF);
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:8080;
        $body
    }
}
EOF
	my $d = $t->testdir();
	return `$Test::Nginx::NGINX -t -p $d/ -c test.conf -e error.log 2>&1`;
}

like(check($t, 'location / { stream_autostart $arg_c; stream_autostart_wait 10s; }'),
	qr/test is successful/, 'valid configuration');
like(check($t, 'stream_autostart_wait soon;'),
	qr/stream_autostart_wait: invalid time "soon": expected a number/, 'bad time');
like(check($t, 'stream_autostart_wait 0;'),
	qr/stream_autostart_wait must be greater than 0/, 'zero wait');
like(check($t, 'stream_autostart_wait 1h;'),
	qr/stream_autostart_wait "1h" is longer than the maximum of 120 s/, 'too long');
like(check($t, 'stream_autostart_supervisor /run/x.sock;'),
	qr/"\/run\/x.sock" is not a Unix socket address; expected unix:/, 'not unix:');
like(check($t, 'stream_autostart_supervisor unix:run/x.sock;'),
	qr/socket path "run\/x.sock" must be absolute/, 'relative socket');
like(check($t, 'stream_autostart_supervisor unix:/' . ('a' x 120) . ';'),
	qr/Unix sockets allow at most 107/, 'socket path too long');

# stream_autostart_token_cache granted [refused] [stale=time]
like(check($t, 'stream_autostart_token_cache 2s stale=60s;'),
	qr/test is successful/, 'token cache with a stale window');
like(check($t, 'stream_autostart_token_cache 30s 5s stale=0;'),
	qr/test is successful/, 'stale window disabled');
like(check($t, 'stream_autostart_token_cache 30s stale=later;'),
	qr/stream_autostart_token_cache: stale: invalid time "later"/, 'bad stale time');
like(check($t, 'stream_autostart_token_cache stale=1m 30s;'),
	qr/stream_autostart_token_cache: unexpected "30s"; expected granted \[refused\] \[stale=time\]/,
	'time after stale=');
like(check($t, 'stream_autostart_token_cache stale=1m;'),
	qr/stream_autostart_token_cache: no granted time/, 'stale= alone');

like(check($t, 'location / { stream_autostart $arg_c; stream_autostart $arg_d; }'),
	qr/"stream_autostart" directive is duplicate/, 'duplicate');

# One location does one thing: a second mode is refused in either order,
# and the message names both directives.
like(check($t, 'location = /m.m3u { stream_autostart_m3u "http://h/{channel}"; '
	. 'stream_autostart $arg_c; }'),
	qr/"stream_autostart" directive cannot be combined with "stream_autostart_m3u" in one location/,
	'm3u then playlist');
like(check($t, 'location = /m.m3u { stream_autostart $arg_c; '
	. 'stream_autostart_m3u "http://h/{channel}"; }'),
	qr/"stream_autostart_m3u" directive cannot be combined with "stream_autostart" in one location/,
	'playlist then m3u');
like(check($t, 'location /s/ { stream_autostart_segment $arg_c; stream_autostart_api; }'),
	qr/"stream_autostart_api" directive cannot be combined with "stream_autostart_segment"/,
	'segment then api');
like(check($t, 'location /a/ { stream_autostart_api; stream_autostart_segment $arg_c; }'),
	qr/"stream_autostart_segment" directive cannot be combined with "stream_autostart_api"/,
	'api then segment');
like(check($t, 'location /p/ { proxy_pass http://127.0.0.1:9; stream_autostart $arg_c; }'),
	qr/"stream_autostart" directive cannot be combined with another content handler/,
	'another content handler');
like(check($t, 'location /p/ { stream_autostart $arg_c; proxy_pass http://127.0.0.1:9; }'),
	qr/"stream_autostart" cannot be combined with another content handler \(such as proxy_pass\) in location "\/p\/"/,
	'another content handler, after');

# stream_autostart_api_key: a file read now, or the key; never a weak one.
$t->write_file('api.key', "0123456789abcdef-from-file\n");
my $keyfile = $t->testdir() . '/api.key';
like(check($t, "location /api/ { stream_autostart_api; stream_autostart_api_key $keyfile; }"),
	qr/test is successful/, 'API key from a file');
like(check($t, 'location /api/ { stream_autostart_api; stream_autostart_api_key /nonexistent/key; }'),
	qr/stream_autostart_api_key: cannot read "\/nonexistent\/key"/, 'API key file missing');
like(check($t, 'stream_autostart_api_key short;'),
	qr/stream_autostart_api_key: the API key is 5 bytes long; at least 16 are needed/,
	'API key too short');
unlike(check($t, 'stream_autostart_api_key weak-key-12;'), qr/weak-key-12/,
	'a refused key is not printed');

# Cluster mode: the key only from a file; a proxy location needs the key.
$t->write_file('cluster.key', "short\n");
my $ckey = $t->testdir() . '/cluster.key';
like(check($t, 'stream_autostart_cluster_key not-a-path-0123456789;'),
	qr/stream_autostart_cluster_key needs the absolute path of a file/,
	'cluster key: a file only');
like(check($t, "stream_autostart_cluster_key $ckey;"),
	qr/stream_autostart_cluster_key: the cluster key is 5 bytes long/,
	'cluster key too short');
like(check($t, 'stream_autostart_cluster_proxy elsewhere;'),
	qr/stream_autostart_cluster_proxy takes a named location \("\@cluster"\) or "redirect", not "elsewhere"/,
	'cluster proxy: bad value');
like(check($t, 'location / { stream_autostart $arg_c; stream_autostart_cluster_proxy @c; }'),
	qr/stream_autostart_cluster_proxy with a named location needs stream_autostart_cluster_key/,
	'cluster proxy without a key');
like(check($t, 'location / { stream_autostart $arg_c; stream_autostart_cluster_proxy redirect; }'),
	qr/test is successful/, 'cluster redirect needs no key');

###############################################################################

#!/usr/bin/perl

# Tests for the viewer's catalog and the operator's data commands: users
# and tokens made with the supervisor binary, channels imported from an
# M3U file, the channel M3U (stream_autostart_m3u) for thousands of
# channels with the token in every URL, and a real player (ffmpeg as an
# HLS client) decoding 10 s of a channel from that M3U without an error.
# The M3U is also served precompressed to clients that accept gzip, with
# each viewer's own token, and follows catalog changes.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;
use JSON::PP;
use IO::Uncompress::Gunzip qw/gunzip $GunzipError/;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(48)
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
        stream_autostart_token_cache 1s;

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
    }
}

EOF

my $s = start_stack($t, segment => '1s');
my $d = $t->testdir();

$t->run();

sub data {
	my (@args) = @_;
	return supervisor_ctl({ socket => $s->{socket} },
		'--redis-url', "redis://127.0.0.1:$s->{redis_port}/0", @args);
}

###############################################################################

# Users and tokens.

my ($rc, $out, $err) = data('users', 'add', 'alice', '--expires', 'never');
is($rc, 0, 'users add');
($rc, $out, $err) = data('tokens', 'issue', 'alice');
my ($token) = $out =~ /^([0-9a-f]{48})$/m;
ok($token, 'tokens issue prints a token');
($rc, $out) = data('tokens', 'list', 'alice');
like($out, qr/^\Q$token\E$/m, 'tokens list shows it');
($rc, $out, $err) = data('tokens', 'issue', 'nobody');
like($err, qr/no user nobody/, 'no token for a user that does not exist');

# Channels: import from an M3U file, add, edit, refuse bad input.

$t->write_file('channels.m3u', <<"EOF");
#EXTM3U
#EXTINF:-1 tvg-id="news.1" tvg-name="News One" tvg-logo="http://logo.test/n1.png" group-title="News",News One
$s->{origin_url}
#EXTINF:-1 group-title="Local",Untagged
$s->{origin_url}
#EXTINF:-1 tvg-id="evil" tvg-name="Evil",Evil
file:///etc/passwd
EOF
($rc, $out, $err) = data('channels', 'import', "$d/channels.m3u", '--quality', 'copy');
like($out, qr/imported 2 channels, kept 0 existing, skipped 1/, 'import counts');
like($err, qr/line 6: source scheme "file" is not allowed.*; skipped/,
	'import says why an entry was skipped');
my $rec = decode_json(redis($t, 'GET', 'channel:news_1') || '{}');
is(join('|', map { $rec->{$_} // '' } qw/name group logo quality/),
	'News One|News|http://logo.test/n1.png|copy', 'imported record keeps the attributes');
ok(redis($t, 'EXISTS', 'channel:2'), 'an entry without tvg-id gets its position as id');

($rc, undef, $err) = data('channels', 'add', 'x', '--source', 'pipe:0');
is($rc, 1, 'channels add refuses a local source');
like($err, qr/not allowed|not a network URL/, 'and says why');
($rc) = data('channels', 'add', 'extra', '--source', $s->{origin_url},
	'--quality', 'copy', '--name', 'Extra');
is($rc, 0, 'channels add');
($rc, undef, $err) = data('channels', 'edit', 'extra', '--quality', 'ultra');
like($err, qr/unknown quality preset "ultra"/, 'channels edit validates');
($rc) = data('channels', 'edit', 'extra', '--group', 'Misc');
is(decode_json(redis($t, 'GET', 'channel:extra'))->{group}, 'Misc', 'channels edit');

# Listing channels never shows credentials whole: userinfo, secret query
# parameters, proxy credentials, header and cookie values.

redis($t, 'SET', 'channel:secret', '{"source_url":"http://viewer:src-pw-1@127.0.0.1:9/a.ts?token=src-tok-2",'
	. '"proxy":"http://pu:proxy-pw-3@127.0.0.1:3128","headers":{"X-Api-Key":"hdr-val-4"},'
	. '"cookies":{"sid":"cookie-val-5"},"name":"Secret"}');
($rc, $out) = data('channels', 'list');
like($out, qr/^secret\tSecret\t.*\thttp:\/\/\*\*\*\@127.0.0.1:9\/a.ts\?token=\*\*\*$/m,
	'channels list shows the source redacted');
($rc, $out) = data('channels', 'list', '--json');
my ($listed) = grep { $_->{id} eq 'secret' } @{decode_json($out)};
is(join('|', map { $listed->{record}{$_} } qw/source_url proxy/),
	'http://***@127.0.0.1:9/a.ts?token=***|http://***@127.0.0.1:3128',
	'channels list --json redacts the source and the proxy');
is(join('|', $listed->{record}{headers}{'X-Api-Key'}, $listed->{record}{cookies}{sid}),
	'***|***', 'header and cookie names stay, their values do not');
unlike($out, qr/src-pw-1|src-tok-2|proxy-pw-3|hdr-val-4|cookie-val-5/,
	'no secret anywhere in the listing');
redis($t, 'DEL', 'channel:secret');

# A catalog of thousands: 3931 more channels.

my @mset;
push @mset, "channel:$_", qq({"source_url":"http://127.0.0.1:9/$_.ts","name":"Channel $_","group":"Bulk"})
	for 10001 .. 13931;
redis($t, 'MSET', @mset);

my $r = http_get("/playlist.m3u?token=$token");
like($r, qr!^HTTP/1\.1 200 !, 'M3U served');
like($r, qr!^Content-Type: audio/x-mpegurl\r?$!mi, 'M3U content type');
my ($body) = $r =~ /\r\n\r\n(.*)\z/s;
my @urls = ($body // '') =~ /^(http\S+)$/mg;
is(scalar(() = ($body // '') =~ /^#EXTINF:/mg), 3934, 'every channel listed');
is(scalar(grep { !/\?token=\Q$token\E$/ } @urls), 0, 'every URL carries the token');
# tvg-id is the guide id the import kept (the source's tvg-id), not the
# channel id made from it.
like($body, qr!^#EXTINF:-1 tvg-id="news\.1" tvg-name="News One" tvg-logo="http://logo\.test/n1\.png" group-title="News",News One\nhttp://localhost/live/stream_news_1\.m3u8\?token=!m,
	'attributes and playback URL');
like($body, qr/\A#EXTM3U\n#EXTINF:-1 tvg-id="2"/, 'numeric ids first, in order');

# Precompressed: gzip only when accepted, the same body once unzipped.

sub m3u {
	my ($method, $tok, @headers) = @_;
	my $r = http("$method /playlist.m3u?token=$tok HTTP/1.0\r\nHost: localhost\r\n"
		. join('', map { "$_\r\n" } @headers) . "\r\n");
	my ($head, $b) = split /\r\n\r\n/, $r, 2;
	return ($head // '', $b // '');
}

sub unzipped {
	my ($z) = @_;
	my $plain;
	gunzip(\$z => \$plain) or return "gunzip: $GunzipError";
	return $plain;
}

like($r, qr/^Vary: Accept-Encoding\r?$/mi, 'plain M3U: Vary');
unlike($r, qr/^Content-Encoding/mi, 'plain M3U: no Content-Encoding unless accepted');
my ($zh, $zb) = m3u('GET', $token, 'Accept-Encoding: gzip, deflate');
like($zh, qr/^Content-Encoding: gzip\r?$/mi, 'gzip M3U: Content-Encoding');
like($zh, qr/^Vary: Accept-Encoding\r?$/mi, 'gzip M3U: Vary');
ok(length($zb) * 4 < length($body), 'gzip M3U: precompressed (' . length($zb) . ' bytes)');
ok(unzipped($zb) eq $body, 'gzip M3U: unzips to the plain M3U');
my ($qh) = m3u('GET', $token, 'Accept-Encoding: gzip;q=0, identity');
unlike($qh, qr/^Content-Encoding/mi, 'gzip;q=0: plain');

my ($hh, $hb) = m3u('HEAD', $token, 'Accept-Encoding: gzip');
like($hh, qr/^Content-Length: \Q@{[length $zb]}\E\r?$/mi, 'HEAD: the gzip length');
is($hb, '', 'HEAD: no body');
my ($rh, $rb) = m3u('GET', $token, 'Accept-Encoding: gzip', 'Range: bytes=0-9');
ok($rh =~ m!^HTTP/1\.1 200 ! && $rb eq $zb, 'a range: the whole gzip body');

# Each viewer's own token, in the plain and in the precompressed M3U.

($rc, $out) = data('tokens', 'issue', 'alice');
my ($token2) = $out =~ /^([0-9a-f]{48})$/m;
my ($ph2, $pb2) = m3u('GET', $token2);
my (undef, $zb2) = m3u('GET', $token2, 'Accept-Encoding: gzip');
my $plain2 = unzipped($zb2);
ok($plain2 eq $pb2, 'second viewer: gzip unzips to its plain M3U');
is(scalar(grep { !/\?token=\Q$token2\E$/ } $plain2 =~ /^(http\S+)$/mg), 0,
	'second viewer: every URL carries its own token');
ok($plain2 ne $body && $zb2 ne $zb, 'the viewers\' M3Us differ');

like(http_get('/playlist.m3u?token=wrong'), qr!^HTTP/1\.1 403 !, 'bad token: 403');
like(http_get('/playlist.m3u'), qr!^HTTP/1\.1 401 !, 'no token: 401');

# A real player: ffmpeg as an HLS client, from the M3U's URL.

# (http_get sends "Host: localhost": the player needs the port.)
my ($play) = grep { m!/stream_news_1\.m3u8! } @urls;
$play =~ s!^http://localhost/!'http://127.0.0.1:' . port(8080) . '/'!e;
my $log = "$d/player.log";
system("ffmpeg -nostdin -v error -i '$play' -t 10 -f null - >$log 2>&1");
is($? >> 8, 0, 'player: ffmpeg exits 0');
is($t->read_file('player.log'), '', 'player: every frame decoded without an error');
like($t->read_file('supervisor.log'), qr/ffmpeg started.*channel=news_1/,
	'the player started the channel');

# Importing with --replace never overwrites an unrelated channel through an
# entry's place in the file: the second entry here has no tvg-id and
# another source than channel 2.

$t->write_file('more.m3u', <<"EOF");
#EXTM3U
#EXTINF:-1,First
http://127.0.0.1:9/first.ts
#EXTINF:-1,Second
http://127.0.0.1:9/second.ts
#EXTINF:-1,Untagged, renamed
$s->{origin_url}
EOF
($rc, $out) = data('channels', 'import', "$d/more.m3u", '--replace');
like($out, qr/imported 3 channels/, 'import --replace');
$rec = decode_json(redis($t, 'GET', 'channel:2') || '{}');
is("$rec->{name}|$rec->{source_url}", "Untagged, renamed|$s->{origin_url}",
	'--replace: channel 2 replaced only by the entry with its source');
is(decode_json(redis($t, 'GET', 'channel:1') || '{}')->{name}, 'First',
	'an entry takes its free place');
is(decode_json(redis($t, 'GET', 'channel:3') || '{}')->{source_url},
	'http://127.0.0.1:9/second.ts', 'an entry whose place is taken gets a free number');

# A catalog change shows up in the M3U, plain and gzipped, once the
# catalog caches (5 s in each worker) have expired.

ok(wait_until(15, sub {
	my (undef, $z) = m3u('GET', $token, 'Accept-Encoding: gzip');
	my $p = unzipped($z);
	$p =~ /,Untagged, renamed\n/ && $p =~ /^#EXTINF:-1 tvg-id="1" tvg-name="First",First\n/m
		&& $p eq (m3u('GET', $token))[1];
}), 'the imported channels appear in the M3U, gzipped the same');

# A disabled user's M3U stops working within the token cache lifetime (1 s).

($rc) = data('users', 'disable', 'alice');
is($rc, 0, 'users disable');
ok(wait_until(4, sub { http_get("/playlist.m3u?token=$token") =~ m!^HTTP/1\.1 403 ! }),
	'disabled user: 403');

###############################################################################

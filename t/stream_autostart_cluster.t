#!/usr/bin/perl

# Tests for cluster mode in the module (docs/cluster.md): three nodes, each
# an nginx of its own (a Test::Nginx each: port, supervisor, HLS directory),
# one Redis. One channel asked for through all three at once: every node
# answers 200 (nodes 1 and 2 proxy to the owner through @cluster, node 3
# redirects), its segments play through every node, and one ffmpeg runs
# on the machine. A wrong cluster key is refused (403, logged), and the
# owner never sees the viewer's token in what an edge node forwards. A
# proxying edge puts the viewer's token on every URI of the owner's
# playlist: a player (ffmpeg) plays through it; $stream_autostart_status
# and the metrics say proxied / redirected. A compressed playlist from the
# owner cannot be rewritten: 502 (proxy_failed), and the error log says why;
# HEAD through an edge without a cache has no zero length. The owner
# killed, the same URL on the edge goes on with the node that takes the
# channel over: the media sequence never goes back.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx qw/ :DEFAULT http http_end port /;
use StreamAutostart;
use IO::Socket::INET;
use JSON::PP;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

# 31, and "no alerts" and "no sanitizer errors" of nodes 2 and 3's nginx
# (each Test::Nginx checks its own error.log when it goes).
my $t = Test::Nginx->new()->has(qw/http proxy/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(42);
# Node 1's nginx is $t's, which also runs Redis, the origin and the
# supervisors; their sockets, HLS directories and the key live in its
# directory.
my %nginx = (1 => $t, 2 => Test::Nginx->new(), 3 => Test::Nginx->new());
my $d = $t->testdir();

my %node;
for my $n (1 .. 3) {
	my $port = port(8180 + $n);
	$node{$n} = { id => "n$n", port => $port,
		url => "http://127.0.0.1:$port" };
	# Nodes 1 and 2 proxy to the owner; node 3 sends viewers there.
	my $how = $n == 3 ? 'redirect' : '@cluster';
	$nginx{$n}->write_file_expand('nginx.conf', <<EOF);

%%TEST_GLOBALS%%

daemon off;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format cluster 'edge=\$http_x_edge "\$request" \$status st=\$stream_autostart_status';

    proxy_cache_path %%TESTDIR%%/cache keys_zone=hls:1m inactive=1m;

    map \$uri \$playlist {
        ~\\.m3u8\$ 1;
        default  "";
    }

    server {
        listen       127.0.0.1:$port;
        server_name  localhost;

        access_log %%TESTDIR%%/access$n.log cluster;

        stream_autostart_supervisor unix:$d/s$n.sock;
        stream_autostart_wait 20s;
        stream_autostart_cluster_key $d/cluster.key;
        stream_autostart_cluster_proxy $how;

        location ~ ^/live/stream_(?<channel>.*)\\.m3u8\$ {
            alias $d/hls$n/stream_\$channel.m3u8;
            stream_autostart \$channel;
        }

        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_\\d+\\.ts)\$ {
            alias $d/hls$n/\$segment;
            stream_autostart_segment \$ch;
        }

        location = /metrics {
            stream_autostart_metrics;
        }

        # An edge that passes the viewer's Accept-Encoding on, to an owner
        # that compresses playlists for it.
        gzip on;
        gzip_types application/vnd.apple.mpegurl;
        gzip_http_version 1.0;
        gzip_min_length 1;

        location ~ ^/z/live/stream_(?<zchannel>.*)\\.m3u8\$ {
            alias $d/hls$n/stream_\$zchannel.m3u8;
            stream_autostart \$zchannel;
            stream_autostart_cluster_proxy \@gzipped;
        }

        location \@gzipped {
            proxy_pass \$stream_autostart_owner_url\$stream_autostart_cluster_uri;
        }

        location /api/ {
            stream_autostart_api;
            allow 127.0.0.1;
            deny all;
        }

        location \@cluster {
            proxy_set_header X-Edge n$n;
            # The owner's playlist is rewritten here: ask it uncompressed.
            proxy_set_header Accept-Encoding "";
            proxy_pass \$stream_autostart_owner_url\$stream_autostart_cluster_uri;
            # The edge cache of docs/cluster.md.
            proxy_cache hls;
            proxy_cache_key \$stream_autostart_owner_url\$uri;
            proxy_cache_valid 200 30s;
            proxy_cache_bypass \$playlist;
            proxy_no_cache \$playlist;
        }
    }
}

EOF
}

my $s = start_stack($t, supervisor => 0,
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin_url}","quality":"copy"})) for 7, 8;
$t->write_file('cluster.key', "cluster-secret-0123456789abcdef\n");

for my $n (1 .. 3) {
	$node{$n}{socket} = "$d/s$n.sock";
	$node{$n}{hls} = "$d/hls$n";
	$node{$n}{redis} = $s->{redis_port};
	mkdir $node{$n}{hls};
	start_cluster_node($t, $node{$n}, 6);
}

$nginx{$_}->run() for 1 .. 3;

###############################################################################

# All three at once.

my @socks = map { get($_, '/live/stream_7.m3u8?token=tk', start => 1) } 1 .. 3;
my @r = map { http_end($_) // '' } @socks;

my ($oid) = redis($t, 'GET', 'lease:7') =~ /^n(\d) /;
ok($oid, 'one node holds the channel') or diag("@r");
$oid //= 1;
is(ffmpegs(), 1, 'one ffmpeg on the machine');

# Node 3 redirects unless it is the owner.
if ($oid == 3) {
	like($r[2], qr!^HTTP/1\.1 200 !, 'node 3 (the owner) serves it');
} else {
	like($r[2], qr!^Location: \Q$node{$oid}{url}\E/live/stream_7\.m3u8\?token=tk\r?$!mi,
		'node 3 redirects to the owner, token kept');
	$r[2] = get($oid, '/live/stream_7.m3u8?token=tk');
}
for my $n (1 .. 3) {
	like($r[$n - 1], qr!^HTTP/1\.1 200 .*#EXTM3U!s, "node $n: playlist");
}

# Segments through every node (the token the viewer has).

my ($seg) = $r[$oid - 1] =~ /^(stream_7_\d+\.ts)/m;
ok($seg, 'the playlist lists a segment') or diag($r[$oid - 1]);
$seg //= 'stream_7_0.ts';
for my $n (1 .. 3) {
	my $res = get($n, "/live/$seg?token=tk");
	if ($n == 3 && $oid != 3) {
		my ($to) = $res =~ m!^Location: \Q$node{$oid}{url}\E(/\S+)\r?$!mi;
		$res = get($oid, $to // "/live/$seg?token=tk");
	}
	like($res, qr!^HTTP/1\.1 200 !, "node $n: segment");
}
is(ffmpegs(), 1, 'still one ffmpeg');

# Through a proxying edge (node 1 or 2, not the owner): every URI of the
# playlist carries the viewer's token, and each plays as listed.

my ($edge) = grep { $_ != $oid } 1, 2;
my $pl = get($edge, '/live/stream_7.m3u8?token=tk');
my ($body) = $pl =~ /\r\n\r\n(.*)\z/s;
my @uris = grep { length && !/^#/ } split /\r?\n/, $body // '';
ok(@uris >= 1 && !grep({ !/\?token=tk\z/ } @uris),
	"edge n$edge: every segment URI carries the token") or diag($pl);
unlike($pl, qr/^ETag|^Accept-Ranges/mi, 'no owner ETag or Accept-Ranges');
my ($len) = $pl =~ /^Content-Length: (\d+)\r?$/mi;
is($len, length($body // ''), 'Content-Length of the rewritten playlist');
my @seg_res = map { get($edge, "/live/$_") } @uris;
is(scalar(grep { m!^HTTP/1\.1 200 ! } @seg_res), scalar(@uris),
	'every listed segment plays through the edge');

my $play = "http://127.0.0.1:$node{$edge}{port}/live/stream_7.m3u8?token=tk";
my $flog = "$d/ffplay.log";
my $rc = system("timeout 60 ffmpeg -nostdin -v error -i '$play' -t 3 -f null - >$flog 2>&1");
is($rc, 0, 'ffmpeg decodes the stream through the edge')
	or diag($t->read_file('ffplay.log'));

my $elog = $nginx{$edge}->read_file("access$edge.log");
like($elog, qr!"GET /live/stream_7\.m3u8\?token=\S+ HTTP/1\.0" 200 st=proxied!,
	'$stream_autostart_status: proxied') or diag($elog);
like(get($edge, '/metrics'), qr/requests_total\{status="proxied"\} [1-9]/,
	'metrics count proxied requests');

like(get($edge, '/z/live/stream_7.m3u8?token=tk',
	headers => "Accept-Encoding: gzip\r\n"), qr!^HTTP/1\.1 502 !,
	'a compressed playlist from the owner: 502');
like($nginx{$edge}->read_file('error.log'),
	qr/channel "7" proxied from its owner refused \(502\): the owner's playlist is compressed/,
	'error log says why');
like($nginx{$edge}->read_file("access$edge.log"),
	qr!"GET /z/live/stream_7\.m3u8\?token=\S+ HTTP/1\.0" 502 st=proxy_failed!,
	'$stream_autostart_status: proxy_failed');

# HEAD through an edge location without a cache (the owner answers HEAD):
# no length, rather than the empty body's 0.

my $head = get($edge, '/z/live/stream_7.m3u8?token=tk', method => 'HEAD');
like($head, qr!^HTTP/1\.1 200 !, 'HEAD through the edge: 200');
unlike($head, qr/^Content-Length: 0\r?$/mi, 'HEAD through the edge: no zero length');

# Channel 8 runs on node 1: node 3 redirects its viewers there, playlist
# and segments, the token kept (it is the viewer's own request).

like(get(1, '/live/stream_8.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'node 1 starts channel 8');
my $u1 = $node{1}{url};
my $r8 = get(3, '/live/stream_8.m3u8?token=tk');
like($r8, qr!^HTTP/1\.1 302 .*^Location: \Q$u1\E/live/stream_8\.m3u8\?token=tk\r?$!msi,
	'node 3: 302 to node 1');
my ($seg8) = get(1, '/live/stream_8.m3u8?token=tk') =~ /^(stream_8_\d+\.ts)/m;
like(get(3, '/live/' . ($seg8 // 'none') . '?token=tk'),
	qr!^HTTP/1\.1 302 .*^Location: \Q$u1\E/live/stream_8_\d+\.ts\?token=tk\r?$!msi,
	'node 3: segment 302 to node 1');
is(scalar(map { ffmpeg_pids($node{$_}{hls}, 8) } 1 .. 3), 1,
	'one ffmpeg for channel 8');
like($nginx{3}->read_file('access3.log'),
	qr!"GET /live/stream_8\.m3u8\?token=\S+ HTTP/1\.0" 302 st=redirected!,
	'$stream_autostart_status: redirected');

# Every node's API says which node runs a channel, its own or another.

my %owner_on = map {
	my $res = get($_, '/api/channels');
	my ($json) = $res =~ /\r\n\r\n(.*)\z/s;
	my $o = eval { JSON::PP::decode_json($json) } || {};
	($_ => { map { $_->{id} => $_->{node} // '' } @{$o->{channels} || []} });
} 1 .. 3;
is(join(' ', map { $owner_on{$_}{7} } 1 .. 3), join(' ', ("n$oid") x 3),
	'GET /api/channels: channel 7 runs on the owner, on every node');
is(join(' ', map { $owner_on{$_}{8} } 1 .. 3), 'n1 n1 n1',
	'GET /api/channels: channel 8 runs on n1, on every node');

# A wrong key is refused and logged; nothing else admits without a token.

like(get($oid, '/live/stream_7.m3u8',
	headers => "X-Stream-Autostart-Cluster: not-the-key\r\n"),
	qr!^HTTP/1\.1 403 !, 'wrong cluster key: 403');
like($nginx{$oid}->read_file('error.log'), qr/refused \(403\): wrong cluster key/,
	'error log says why');

# What the edges forwarded reached the owner without the token.

my $owner_log = $nginx{$oid}->read_file("access$oid.log");
my @fwd = grep { /^edge=n\d / } split /\n/, $owner_log;
ok(@fwd >= 1, 'the owner got forwarded requests') or diag($owner_log);
is(scalar(grep { /token/ } @fwd), 0, 'none of them carries the token')
	or diag(join "\n", @fwd);

# The owner of channel 7 dies: the viewer retrying the same URL on the
# edge gets the channel from the node that takes it over, numbered on past
# what it played, the join marked; a player carries on there.

my ($edge_seq) = $pl =~ /^#EXT-X-MEDIA-SEQUENCE:(\d+)\r?$/m;
my $played = get($edge, '/live/stream_7.m3u8?token=tk');
my ($seq_now) = $played =~ /^#EXT-X-MEDIA-SEQUENCE:(\d+)\r?$/m;
my @now = $played =~ /^(stream_7_\d+\.ts)/mg;
my $last_played = ($seq_now // 0) + @now - 1;
kill 'KILL', $node{$oid}{pid};
my $after = '';
wait_until(60, sub {
	$after = get($edge, '/live/stream_7.m3u8?token=tk');
	$after =~ m!^HTTP/1\.1 200 .*^stream_7_\d+\.ts!ms
		&& redis($t, 'GET', 'lease:7') =~ /^n(?!$oid )\d /;
});
my ($seq_after) = $after =~ /^#EXT-X-MEDIA-SEQUENCE:(\d+)\r?$/m;
my ($dis_after) = $after =~ /^#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)\r?$/m;
like(redis($t, 'GET', 'lease:7'), qr/^n(?!$oid )\d /, 'another node took channel 7');
cmp_ok($seq_after // -1, '>', $last_played,
	'the same URL after the takeover: the media sequence went on')
	or diag("before $edge_seq/$last_played after $after");
cmp_ok($dis_after // 0, '>=', 1, 'the discontinuity is counted') or diag($after);
$rc = system("timeout 60 ffmpeg -nostdin -v error -i '$play' -t 3 -f null - >$flog 2>&1");
is($rc, 0, 'ffmpeg decodes the stream through the same URL after the takeover')
	or diag($t->read_file('ffplay.log'));

###############################################################################

sub get {
	my ($n, $uri, %o) = @_;
	my $h = delete $o{headers} // '';
	my $method = delete $o{method} // 'GET';
	my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$node{$n}{port}")
		or die "connect node $n: $!\n";
	return http("$method $uri HTTP/1.0\r\nHost: localhost\r\n$h\r\n",
		socket => $sock, %o);
}

sub ffmpegs {
	return scalar map { ffmpeg_pids($node{$_}{hls}, 7) } 1 .. 3;
}


###############################################################################

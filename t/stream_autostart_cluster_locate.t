#!/usr/bin/perl

# Tests for cluster mode in the module (docs/cluster.md): a segment request
# that lands on an nginx worker which never saw the channel's playlist
# request (another worker of an edge node, or the new workers after a
# reload) still finds the node running the channel: the worker asks its
# supervisor (`locate`, from the lease) and proxies to the owner (or,
# where the location says `redirect`, answers 302 to it). A segment of a channel running nowhere is a 404, logged, and starts
# nothing; a channel leased to a node that is gone, or a supervisor that
# cannot answer, makes it a 503, logged. An owner that died fails the
# request diverted there (502) and is forgotten at once: the next request
# locates the channel again and gets it from its new owner. With an
# upstream{} named as a node's URL (a name without a port, docs/cluster.md)
# the edge keeps its connections to that node open and reuses them.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx qw/ :DEFAULT http port /;
use StreamAutostart;
use IO::Socket::INET;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

# 22, and "no alerts" and "no sanitizer errors" of node 2's nginx
# (each Test::Nginx checks its own error.log when it goes).
my $t = Test::Nginx->new()->has(qw/http proxy upstream_keepalive/)
	->has_daemon('redis-server')->has_daemon('ffmpeg')->plan(24);
my %nginx = (1 => $t, 2 => Test::Nginx->new());
my $d = $t->testdir();

my %node;
my $port1 = port(8281);
for my $n (1 .. 2) {
	my $port = port(8280 + $n);
	# Node 1's URL is a name without a port, which node 2's upstream{}
	# of that name (its keep-alive pool) maps to its address.
	$node{$n} = { id => "n$n", port => $port,
		url => $n == 1 ? 'http://node1.test' : "http://127.0.0.1:$port" };
	$nginx{$n}->write_file_expand('nginx.conf', <<EOF);

%%TEST_GLOBALS%%

daemon off;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format cluster 'edge=\$http_x_edge "\$request" \$status st=\$stream_autostart_status c=\$connection n=\$connection_requests';

    # Node 1's keep-alive pool: a proxy_pass with variables uses the
    # upstream{} named as its URL's host (a URL without a port).
    upstream node1.test {
        server 127.0.0.1:$port1;
        keepalive 4;
    }

    server {
        listen       127.0.0.1:$port;
        server_name  localhost;

        access_log %%TESTDIR%%/access$n.log cluster;

        stream_autostart_supervisor unix:$d/s$n.sock;
        stream_autostart_wait 20s;
        stream_autostart_cluster_key $d/cluster.key;
        stream_autostart_cluster_proxy \@cluster;

        location ~ ^/live/stream_(?<channel>.*)\\.m3u8\$ {
            alias $d/hls$n/stream_\$channel.m3u8;
            stream_autostart \$channel;
        }

        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_\\d+\\.ts)\$ {
            alias $d/hls$n/\$segment;
            stream_autostart_segment \$ch;
        }

        # Segments only, of a node that sends viewers to the owner.
        location ~ ^/r/live/(?<rsegment>stream_(?<rch>[A-Za-z0-9_-]+)_\\d+\\.ts)\$ {
            alias $d/hls$n/\$rsegment;
            stream_autostart_segment \$rch;
            stream_autostart_cluster_proxy redirect;
        }

        # Through the pool.
        location ~ ^/k/live/stream_(?<kchannel>[A-Za-z0-9_-]+)\\.m3u8\$ {
            alias $d/hls$n/stream_\$kchannel.m3u8;
            stream_autostart \$kchannel;
            stream_autostart_cluster_proxy \@pooled;
        }

        location ~ ^/k/live/(?<ksegment>stream_(?<kch>[A-Za-z0-9_-]+)_\\d+\\.ts)\$ {
            alias $d/hls$n/\$ksegment;
            stream_autostart_segment \$kch;
            stream_autostart_cluster_proxy \@pooled;
        }

        location \@pooled {
            proxy_set_header X-Edge n$n-pooled;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass \$stream_autostart_owner_url\$stream_autostart_cluster_uri;
        }

        location = /pid {
            return 200 \$pid;
        }

        location \@cluster {
            proxy_set_header X-Edge n$n;
            proxy_set_header Accept-Encoding "";
            proxy_pass \$stream_autostart_owner_url\$stream_autostart_cluster_uri;
        }
    }
}

EOF
}

my $s = start_stack($t, supervisor => 0,
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin_url}","quality":"copy"})) for 6 .. 9;
$t->write_file('cluster.key', "cluster-secret-0123456789abcdef\n");

for my $n (1 .. 2) {
	$node{$n}{socket} = "$d/s$n.sock";
	$node{$n}{hls} = "$d/hls$n";
	$node{$n}{redis} = $s->{redis_port};
	mkdir $node{$n}{hls};
	start_cluster_node($t, $node{$n}, 6);
}

$nginx{$_}->run() for 1 .. 2;

###############################################################################

# Channel 7 starts on node 1, asked for there.

my $pl = get(1, '/live/stream_7.m3u8?token=tk');
like($pl, qr!^HTTP/1\.1 200 .*#EXTM3U!s, 'node 1 starts channel 7');
my ($seg) = $pl =~ /^(stream_7_\d+\.ts)/m;
$seg //= 'stream_7_0.ts';

# Node 2 never saw a playlist request for it: its worker asks its
# supervisor where channel 7 runs, and proxies.

like(get(2, "/live/$seg?token=tk"), qr!^HTTP/1\.1 200 !,
	'node 2: segment through the owner, no playlist request seen');
like($nginx{2}->read_file('access2.log'),
	qr!"GET /live/\Q$seg\E\?token=\S+ HTTP/1\.0" 200 st=proxied!,
	'node 2 proxied it') or diag($nginx{2}->read_file('access2.log'));
like($t->read_file('access1.log'), qr!^edge=n2 "GET /live/\Q$seg\E !m,
	'node 1 served it to node 2');

# A reload: the new workers know nothing of the playlist request the old
# one saw.

like(get(2, '/live/stream_7.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'node 2: playlist through the owner');
my $old = pid_of(2);
my ($master) = $nginx{2}->read_file('nginx.pid') =~ /(\d+)/;
kill 'HUP', $master;
ok(wait_until(10, sub { my $p = pid_of(2); $p && $p ne $old }),
	'node 2 reloaded: a new worker answers');
($seg) = get(1, '/live/stream_7.m3u8?token=tk') =~ /^(stream_7_\d+\.ts)/m;
$seg //= 'stream_7_0.ts';
like(get(2, "/live/$seg?token=tk"), qr!^HTTP/1\.1 200 !,
	'node 2 after the reload: segment through the owner');

# Through node 1's keep-alive pool: a playlist and two segment requests
# to node 2, one connection of node 2 to node 1.

my $kpl = get(2, '/k/live/stream_7.m3u8?token=tk');
($seg) = $kpl =~ /^(stream_7_\d+\.ts)\?token=tk$/m;
ok($seg, 'node 2: playlist through the keep-alive pool, the token on its URIs')
	or diag($kpl);
$seg //= 'stream_7_0.ts';
my @k = map { get(2, "/k/live/$seg?token=tk") } 1 .. 2;
is(join(' ', map { /^HTTP\/1\.1 (\d+)/ ? $1 : '-' } @k), '200 200',
	'node 2: segments through the keep-alive pool');
my @conns = $t->read_file('access1.log')
	=~ /^edge=n2-pooled "GET \/k\/live\/stream_7\S* [^\n]* c=(\d+) n=\d+$/mg;
ok(@conns == 3 && !grep({ $_ ne $conns[0] } @conns),
	'node 1 served all three on one connection from node 2')
	or diag($t->read_file('access1.log'));

# Channel 8, on node 1 too: a node that redirects finds the owner the
# same way, for a worker that saw no playlist request of it.

($seg) = get(1, '/live/stream_8.m3u8?token=tk') =~ /^(stream_8_\d+\.ts)/m;
$seg //= 'stream_8_0.ts';
my $u1 = $node{1}{url};
like(get(2, "/r/live/$seg?token=tk"),
	qr!^HTTP/1\.1 302 .*^Location: \Q$u1\E/r/live/\Q$seg\E\?token=tk\r?$!msi,
	'node 2: segment 302 to the owner, no playlist request seen');
is(scalar(map { ffmpeg_pids($node{$_}{hls}, 8) } 1 .. 2), 1,
	'one ffmpeg for channel 8');

# Channel 6's owner (n3, a record whose URL nobody listens on) is dead:
# node 2 locates it there, and the request diverted there fails (502).
# The worker forgets that owner at once: once the lease has moved (here
# channel 6 starts on node 1), the next request locates the channel again
# and plays, rather than going to the dead node until the remembered owner
# expires (30 s).

my $dead = 'http://127.0.0.1:' . port(8289);
redis($t, 'SET', 'node:n3', qq({"url":"$dead","capacity":4,"load":1}), 'EX', 60);
redis($t, 'SET', 'lease:6', 'n3 1', 'EX', 60);
like(get(2, '/live/stream_6_1.ts?token=tk'), qr!^HTTP/1\.1 502 !,
	'segment of a channel whose owner is dead: 502');
like($nginx{2}->read_file('error.log'),
	qr/channel "6" proxied to \Q$dead\E failed \(502\): forgetting that owner/,
	'error log: the dead owner is forgotten');
redis($t, 'DEL', 'lease:6');
redis($t, 'DEL', 'node:n3');
my ($seg6) = get(1, '/live/stream_6.m3u8?token=tk') =~ /^(stream_6_\d+\.ts)/m;
$seg6 //= 'stream_6_0.ts';
like(get(2, "/live/$seg6?token=tk"), qr!^HTTP/1\.1 200 !,
	'the next request locates the channel again: its new owner serves it');

# A segment of a channel that runs nowhere: 404, logged, nothing started.

like(get(2, '/live/stream_9_3.ts?token=tk'), qr!^HTTP/1\.1 404 !,
	'segment of a channel running nowhere: 404');
like($nginx{2}->read_file('error.log'),
	qr/segment of channel "9" is not here and the channel runs on no node \(404\)/,
	'error log says why');
is(redis($t, 'EXISTS', 'lease:9') . ' '
	. scalar(map { ffmpeg_pids($node{$_}{hls}, 9) } 1 .. 2), '0 0',
	'channel 9 not started');

# Leased to a node whose heartbeat is gone: nobody serves it until the
# lease ends (503, as a playlist request gets then).

redis($t, 'SET', 'lease:9', 'n5 1', 'EX', 30);
like(get(2, '/live/stream_9_3.ts?token=tk'), qr!^HTTP/1\.1 503 !,
	'segment of a channel leased to a gone node: 503');
like($nginx{2}->read_file('error.log'),
	qr/segment of channel "9" is not here and cannot be located \(unavailable: channel 9 is leased to node n5, which stopped its heartbeat\), answering 503/,
	'error log says why');
redis($t, 'DEL', 'lease:9');

# Node 2's supervisor gone: where channel 9 runs cannot be told (503).
# The token is in the worker's cache, so only `locate` needs it.

kill 'KILL', $node{2}{pid};
wait_until(5, sub { !IO::Socket::UNIX->new(Peer => $node{2}{socket}) });
like(get(2, '/live/stream_9_4.ts?token=tk'), qr!^HTTP/1\.1 503 !,
	'supervisor unreachable: 503');
like($nginx{2}->read_file('error.log'),
	qr/segment of channel "9" is not here and cannot be located \(supervisor unreachable: .*answering 503/,
	'error log says why');

###############################################################################

sub get {
	my ($n, $uri) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$node{$n}{port}")
		or die "connect node $n: $!\n";
	return http("GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n",
		socket => $sock);
}

sub pid_of {
	my ($n) = @_;
	my ($pid) = get($n, '/pid') =~ /\r\n\r\n(\d+)/;
	return $pid;
}

###############################################################################

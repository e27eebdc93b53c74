#!/usr/bin/perl

# Tests for cluster mode (docs/cluster.md): three supervisors, one Redis.
# One channel asked for through all three at once runs one ffmpeg, the
# others answer "elsewhere" with its node; a killed owner's channel starts
# on another node once its lease ends; a drained node starts nothing; a
# node cut off from Redis (its connection runs through a proxy the test
# stops) stops its ffmpeg before another node starts one. A node taking a
# channel over numbers on past the old owner's playlist (hlspos:<id>), the
# join marked a discontinuity: copy mode (the segmenter) and transcoded
# (ffmpeg's hls muxer).

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx qw/ port /;
use StreamAutostart;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw/ sleep /;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has_daemon('redis-server')->has_daemon('ffmpeg')
	->plan(28);

my $s = start_stack($t, supervisor => 0);
my $d = $t->testdir();
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin_url}","quality":"copy"})) for 7, 8;
# Transcoded (ffmpeg's hls muxer): its takeover numbers on with ffmpeg's
# -start_number and marks the join with discont_start.
redis($t, 'SET', 'channel:9',
	qq({"source_url":"$s->{origin_url}","quality":"low"}));

# No nginx here, but Test::Nginx reads its error log for alerts at the end.
$t->write_file('error.log', '');

# Node 3 reaches Redis through this proxy: stopping it is a partition.
my $pport = port(8391);
my $proxy_pid = spawn($t, 'redis-proxy',
	sub { tcp_proxy($pport, $s->{redis_port}) });
$t->waitforsocket("127.0.0.1:$pport") or die "proxy did not start\n";

my $TTL = 6;
my %node;
for my $n (1 .. 3) {
	my $rport = $n == 3 ? $pport : $s->{redis_port};
	$node{$n} = {
		id => "n$n",
		url => "http://127.0.0.1:" . (8180 + $n),
		socket => "$d/s$n.sock",
		hls => "$d/hls$n",
		redis => $rport,
	};
	mkdir $node{$n}{hls};
	start_cluster_node($t, $node{$n}, $TTL);
}

###############################################################################

# All three asked at once: one starts it, the others name that node.

my @socks = map {
	IO::Socket::UNIX->new(Peer => $node{$_}{socket}) or die "connect: $!\n"
} 1 .. 3;
$_->print(qq({"id":1,"op":"ensure","channel":"7","wait_ms":20000}\n))
	for @socks;
my @r = map { scalar $_->getline() // '' } @socks;
close $_ for @socks;

my @ok = grep { $r[$_ - 1] =~ /"ok":true/ } 1 .. 3;
is(scalar @ok, 1, 'one node started the channel') or diag("@r");
my $owner = $ok[0] // 1;
my @other = grep { $_ != $owner } 1 .. 3;
my $oid = $node{$owner}{id};
my $ourl = $node{$owner}{url};
is(scalar(grep { $r[$_ - 1] =~ /"code":"elsewhere".*"node":"$oid","node_url":"\Q$ourl\E"/ }
	@other), 2, 'the others answered elsewhere, naming it') or diag("@r");
is(ffmpegs(7), 1, 'one ffmpeg on the machine');
like(redis($t, 'GET', 'lease:7'), qr/^$oid \d+$/, 'lease names the owner');
my ($fpid) = ffmpeg_pids($node{$owner}{hls}, 7);
is(redis($t, 'GET', 'stream:7:pid'), $fpid, 'owner wrote the stream keys');
like(call($other[0], 'ensure', '"channel":"7","wait_ms":5000'),
	qr/"code":"elsewhere".*runs on node $oid/, 'asked again: elsewhere');
like(call($owner, 'status', '"channel":"7"'), qr/"node":"$oid"/,
	'status shows the node');
is(ffmpegs(7), 1, 'still one ffmpeg');

# A drained node starts nothing: it places the channel on another node.

my $drained = $other[0];
my ($rc, $out) = supervisor_ctl($s, '--redis-url',
	"redis://127.0.0.1:$s->{redis_port}/0", 'nodes', 'drain', "n$drained");
is($rc, 0, 'nodes drain') or diag($out);
# Placement reads the nodes' heartbeats: wait for the ones showing the
# drain and the owner's channel.
my $list = '';
wait_until(10, sub {
	(undef, $list) = supervisor_ctl($s, '--redis-url',
		"redis://127.0.0.1:$s->{redis_port}/0", 'nodes', 'list');
	$list =~ /^n$drained\t\S+\t0\/\d+ channels\tdraining$/m
		&& $list =~ /^$oid\t\S+\t1\/\d+ channels$/m;
});
like($list, qr/^n$drained\thttp:\S+\t0\/\d+ channels\tdraining$/m,
	'nodes list shows the drain');
my $r = call($drained, 'ensure', '"channel":"8","wait_ms":5000');
my ($placed) = $r =~ /"node":"n(\d)"/;
like($r, qr/"code":"elsewhere".*placed on node n\d: node n$drained drains/,
	'drained node places elsewhere');
# The least loaded node with room: not the owner of 7, which runs one.
is($placed, (grep { $_ != $owner && $_ != $drained } 1 .. 3)[0],
	'placed on the least loaded node');
like(call($placed, 'ensure', '"channel":"8","wait_ms":20000'),
	qr/"ok":true/, 'started where placed');
is(scalar(ffmpeg_pids($node{$drained}{hls})), 0, 'nothing runs on the drained node');
supervisor_ctl($s, '--redis-url', "redis://127.0.0.1:$s->{redis_port}/0",
	'nodes', 'undrain', "n$drained");

# The owner's supervisor killed: its ffmpeg dies with it, and once the
# lease ends another node starts the channel.

# The owner keeps the channel's HLS position in Redis; the node that takes
# the channel over numbers on past it (its own HLS directory is empty), so
# a player retrying the same URL never sees the media sequence go back.

like(redis($t, 'GET', 'hlspos:7'), qr/^\d+ \d+$/, 'owner records its HLS position');
my $old = playlist($owner);
my $old_last = $old->{sequence} + @{$old->{segments}} - 1;

kill 'KILL', $node{$owner}{pid};
ok(wait_until(5, sub { !ffmpeg_pids($node{$owner}{hls}, 7) }),
	'owner ffmpeg died with its supervisor');
my $next = $other[0] == 3 ? $other[1] : $other[0];
ok(wait_until($TTL + 25, sub {
	call($next, 'ensure', '"channel":"7","wait_ms":2000') =~ /"ok":true/ }),
	'another node starts it after the lease');
my $new = playlist($next);
is(ffmpegs(7), 1, 'one ffmpeg again');
unlike(redis($t, 'GET', 'lease:7'), qr/^$oid /, 'lease moved');
cmp_ok($new->{sequence}, '>', $old_last,
	'the new owner numbers on past the old one') or diag($new->{text});
cmp_ok($new->{discontinuity}, '>=', 1, 'discontinuity sequence counted')
	or diag($new->{text});
# The run's first segment follows #EXT-X-DISCONTINUITY (or has left the
# list already, counted in the sequence).
my ($first) = $t->read_file("supervisor$next.log")
	=~ /numbering on past the recorded HLS position .*first=(\d+)/;
ok(defined $first && ($new->{text} =~ /^#EXT-X-DISCONTINUITY\n#EXTINF:[\d.]+,\nstream_7_0*$first\.ts$/m
	|| $new->{sequence} > $first && $new->{discontinuity} >= 2),
	'the join is marked a discontinuity') or diag($new->{text});

# The killed node back (same id): it takes new channels.
start_cluster_node($t, $node{$owner}, $TTL);

# Partition: node 3 runs channel 9, then loses Redis. It stops its ffmpeg
# before its lease can end; only then does node 1 start one.

stop_channels(3);
like(call(3, 'ensure', '"channel":"9","wait_ms":20000'), qr/"ok":true/,
	'node 3 runs channel 9');
my $last9 = playlist(3, 9);
$last9 = $last9->{sequence} + @{$last9->{segments}} - 1;
# The owner records its position just after it answers ready: cut it off
# once the record is there (what is never recorded numbers from 0).
for (1 .. 100) {
	last if (redis($t, 'GET', 'hlspos:9') // '') =~ /^\d+ \d+$/;
	select undef, undef, undef, 0.1;
}
kill 'TERM', $proxy_pid;
my ($most, $started) = (0, 0);
for (1 .. 300) {
	my $n = ffmpegs(9);
	$most = $n if $n > $most;
	if (call(1, 'ensure', '"channel":"9","wait_ms":0') =~ /"ok":true/) {
		$started = 1;
		last;
	}
	sleep(0.1);
}
ok($started, 'node 1 started it after the partition');
is($most, 1, 'never two ffmpegs for the channel');
my $log3 = $t->read_file('supervisor3.log');
my $log1 = $t->read_file('supervisor1.log');
my ($stop3) = $log3 =~ /^(\S+).* stopped channel=9 .*lease not renewed/m;
my ($start1) = $log1 =~ /^(\S+).*ffmpeg started.*channel=9 /m;
ok(defined $stop3 && defined $start1 && $stop3 lt $start1,
	'node 3 stopped before node 1 started')
	or diag("stop $stop3 start $start1");
my $taken9 = playlist(1, 9);
cmp_ok($taken9->{sequence}, '>', $last9,
	'transcoded: node 1 numbers on past node 3') or diag($taken9->{text});
like($taken9->{text}, qr/^#EXT-X-DISCONTINUITY$/m,
	'transcoded: the join is marked a discontinuity') or diag($taken9->{text});

###############################################################################


sub call {
	my ($n, $op, $fields) = @_;
	return supervisor_call($node{$n}{socket},
		qq({"id":9,"op":"$op",$fields})) // '';
}

# Stops whatever node $n runs (operator stop through its socket).
sub stop_channels {
	my ($n) = @_;
	for my $ch (7, 8) {
		call($n, 'stop', qq("channel":"$ch"));
	}
}

# A channel's (7 unless said) playlist on node $n's disk.
sub playlist {
	my ($n, $ch) = @_;
	$ch //= 7;
	# Not $t->read_file: a sub holding $t would keep it past the END
	# block that counts its closing tests.
	my $text = '';
	if (open my $fh, '<', "$node{$n}{hls}/stream_$ch.m3u8") {
		local $/;
		$text = <$fh> // '';
	}
	my ($seq) = $text =~ /^#EXT-X-MEDIA-SEQUENCE:(\d+)$/m;
	my ($dis) = $text =~ /^#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)$/m;
	return { text => $text, sequence => $seq // 0, discontinuity => $dis // 0,
		segments => [ $text =~ /^(stream_${ch}_\d+\.ts)$/mg ] };
}

# ffmpeg processes of a channel on the whole machine (every node's dir).
sub ffmpegs {
	my ($ch) = @_;
	return scalar map { ffmpeg_pids($node{$_}{hls}, $ch) } 1 .. 3;
}

# A one-process TCP relay (so stopping it cuts every connection at once).
sub tcp_proxy {
	my ($listen, $to) = @_;
	my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$listen",
		Listen => 16, ReuseAddr => 1) or die "listen: $!\n";
	my $sel = IO::Select->new($l);
	my %peer;
	while (1) {
		for my $fh ($sel->can_read()) {
			if ($fh == $l) {
				my $c = $l->accept() or next;
				my $u = IO::Socket::INET->new("127.0.0.1:$to") or next;
				@peer{$c, $u} = ($u, $c);
				$sel->add($c, $u);
				next;
			}
			my $other = $peer{$fh} or next;
			my $n = sysread($fh, my $buf, 65536);
			if (!$n) {
				$sel->remove($fh, $other);
				delete @peer{$fh, $other};
				close $fh;
				close $other;
				next;
			}
			syswrite($other, $buf);
		}
	}
}

###############################################################################

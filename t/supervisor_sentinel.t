#!/usr/bin/perl

# Tests for Redis through Sentinel (docs/cluster.md, "Redis itself"): a
# master, a replica and three redis-sentinel on loopback, passwords on
# both; two cluster nodes connect through the sentinels (password files),
# nginx serves node 1's channel to a player. The master is switched twice
# under the player's requests, once by SENTINEL FAILOVER and once by
# SIGKILL of the master: the ready stream carries on (same ffmpeg, the
# playlist advances, every request 200), the lease survives on the new
# master (no stop, no second ffmpeg), the supervisors log the switch, and
# a cold start afterwards writes its keys on the new master.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx qw/ :DEFAULT port /;
use StreamAutostart;
use Time::HiRes qw/ sleep time /;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('redis-sentinel')->has_daemon('ffmpeg')->plan(33)
	->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;
worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen       127.0.0.1:8080;
        server_name  localhost;

        stream_autostart_supervisor unix:%%TESTDIR%%/s1.sock;
        stream_autostart_wait 20s;
        stream_autostart_token_cache 2s 1s stale=60s;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls1/stream_$channel.m3u8;
            stream_autostart $channel;
        }

        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_\d+\.ts)$ {
            alias %%TESTDIR%%/hls1/$segment;
            stream_autostart_segment $ch;
        }
    }
}

EOF

my $d = $t->testdir();
my $s = start_stack($t, supervisor => 0,
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin_url}","quality":"copy"})) for 1 .. 3;

# Passwords: Redis' and the sentinels', in files only their owner reads.
my ($PW, $SPW) = ('redis-pw-0123', 'sentinel-pw-4567');
$t->write_file('redis.pw', "$PW\n");
$t->write_file('sentinel.pw', "$SPW\n");
chmod 0600, "$d/redis.pw", "$d/sentinel.pw";

# start_stack's Redis is the first master; it gets the password now.
my $A = $s->{redis_port};
redis($t, 'CONFIG', 'SET', 'masterauth', $PW);
redis($t, 'CONFIG', 'SET', 'requirepass', $PW);

my $B = port(8385);
spawn($t, 'replica', sub {
	exec('redis-server', '--port', $B, '--bind', '127.0.0.1',
		'--save', '', '--appendonly', 'no', '--dir', $d,
		'--logfile', "$d/replica.log", '--replicaof', '127.0.0.1', $A,
		'--masterauth', $PW, '--requirepass', $PW)
		or die "redis-server: $!\n";
});
$t->waitforsocket("127.0.0.1:$B") or die "replica did not start\n";
wait_until(20, sub { rcli($B, 'INFO', 'replication') =~ /master_link_status:up/ })
	or die "replica did not sync\n";

my @S = map { port(8385 + $_) } 1 .. 3;
for my $i (0 .. 2) {
	# Written by the test, rewritten by the sentinel as it learns.
	$t->write_file("sentinel$i.conf", <<EOF);
port $S[$i]
bind 127.0.0.1
dir $d
logfile $d/sentinel$i.log
requirepass $SPW
sentinel sentinel-pass $SPW
sentinel monitor tv 127.0.0.1 $A 2
sentinel auth-pass tv $PW
sentinel down-after-milliseconds tv 1000
sentinel failover-timeout tv 3000
sentinel parallel-syncs tv 1
EOF
	spawn($t, "sentinel$i", sub {
		exec('redis-sentinel', "$d/sentinel$i.conf")
			or die "redis-sentinel: $!\n";
	});
	$t->waitforsocket("127.0.0.1:$S[$i]") or die "sentinel did not start\n";
}
ok(sentinels_settled($A, $B), 'three sentinels see the master and its replica');

# Two cluster nodes through the sentinels; nginx asks node 1. A 20 s
# lease is renewed every 6.7 s and stopped after 16 s without a renewal:
# room for an election that has to be tried twice (failover-timeout).
my $TTL = 20;
my @through = ('--redis-sentinel', join(',', map { "127.0.0.1:$_" } @S),
	'--redis-master', 'tv',
	'--redis-password-file', "$d/redis.pw",
	'--redis-sentinel-password-file', "$d/sentinel.pw");
my %node;
for my $n (1, 2) {
	$node{$n} = { id => "n$n", url => "http://127.0.0.1:" . (8180 + $n),
		socket => "$d/s$n.sock", hls => "$d/hls$n" };
	mkdir $node{$n}{hls};
	start_node($t, $node{$n});
}

$t->run();

###############################################################################

# Operator commands go through the sentinels too; a password file others
# may read is refused, saying why.
my ($rc, $out) = supervisor_ctl($s, @through, 'channels', 'list');
is($rc, 0, 'channels list through the sentinels');
like($out, qr/^1\t/m, 'it lists the channels');
$t->write_file('open.pw', "$PW\n");
chmod 0644, "$d/open.pw";
my @open = map { $_ eq "$d/redis.pw" ? "$d/open.pw" : $_ } @through;
my ($rc2, undef, $err) = supervisor_ctl($s, @open, 'channels', 'list');
ok($rc2 != 0 && $err =~ /open\.pw: other users may read it/,
	'a password file others can read is refused') or diag($err);
unlike($err, qr/\Q$PW\E/, 'the refusal does not show the password');

like(http_get('/live/stream_1.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'cold start through the sentinels');
my @pid = ffmpeg_pids($node{1}{hls}, 1);
is(scalar @pid, 1, 'one ffmpeg');
is(rcli($A, 'GET', 'stream:1:pid'), $pid[0], 'stream keys on the master');
my $lease = rcli($A, 'GET', 'lease:1');
like($lease, qr/^n1 \d+$/, 'node 1 holds the lease');

# 1. SENTINEL FAILOVER: the replica is promoted, the old master follows it.

my $seq0 = media_sequence(http_get('/live/stream_1.m3u8?token=tk'));
rcli($S[0], 'SENTINEL', 'FAILOVER', 'tv');
my $p = play_until(60, sub { switched($t, 1, $B) && switched($t, 2, $B)
	&& advanced($_[0], $seq0) });
ok($p->{done}, 'both supervisors switched to the new master')
	or diag(file_text($t, 'supervisor1.log'));
is(rcli($B, 'ROLE') =~ /^master/ ? 1 : 0, 1, 'the replica is the master now');
is(join(',', @{$p->{bad}}), '', 'every request during the failover got 200');
ok(advanced($p, $seq0), 'the playlist kept advancing');
is(join(',', ffmpeg_pids($node{1}{hls}, 1)), $pid[0], 'same ffmpeg');
# Longer than a lease: only renewals on the new master can keep it.
$p = play_until(4 * $TTL, sub { $_[0]->{n} >= 5 * $TTL });
is(join(',', @{$p->{bad}}), '', 'the player carries on');
is(rcli($B, 'GET', 'lease:1'), $lease, 'the lease lives on, renewed there');

like(http_get('/live/stream_2.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'cold start after the failover');
my ($pid2) = ffmpeg_pids($node{1}{hls}, 2);
is(rcli($B, 'GET', 'stream:2:pid'), $pid2, 'its keys are on the new master');

# 2. The master (now the former replica) killed: the sentinels elect the
# old master, a replica again and in sync.

ok(sentinels_settled($B, $A), 'the sentinels see the old master as a replica');
my ($bpid) = rcli($B, 'INFO', 'server') =~ /^process_id:(\d+)/m;
$seq0 = media_sequence(http_get('/live/stream_1.m3u8?token=tk'));
ok($bpid && kill('KILL', $bpid), 'master killed');
$p = play_until(60, sub { switched($t, 1, $A) && switched($t, 2, $A)
	&& advanced($_[0], $seq0) });
ok($p->{done}, 'both supervisors switched back')
	or diag(file_text($t, 'supervisor1.log'));
is(join(',', @{$p->{bad}}), '', 'every request during the election got 200');
ok(advanced($p, $seq0), 'the playlist kept advancing');
is(join(',', ffmpeg_pids($node{1}{hls}, 1)), $pid[0], 'same ffmpeg still');
like(http_get('/live/stream_3.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'cold start after the election');
my ($pid3) = ffmpeg_pids($node{1}{hls}, 3);
is(rcli($A, 'GET', 'stream:3:pid'), $pid3, 'its keys are on the elected master');
is(rcli($A, 'GET', 'lease:1'), $lease, 'channel 1 kept its lease');

# Neither failover cost a stop or a second ffmpeg anywhere.
my $logs = file_text($t, 'supervisor1.log') . file_text($t, 'supervisor2.log');
unlike($logs, qr/lease not renewed in time|lease lost/, 'no lease was lost');
is(scalar(ffmpeg_pids($node{2}{hls})), 0, 'nothing started on node 2');
is(scalar(ffmpeg_pids($node{1}{hls}, 1)), 1, 'one ffmpeg for channel 1');
like($logs, qr/the sentinels announced a new Redis master/,
	'the announcement is logged');
unlike($logs, qr/cannot use the Redis master the sentinels named/,
	'the announced master is connected to directly');
unlike($logs, qr/\Q$PW\E|\Q$SPW\E/, 'no password in the logs');

###############################################################################

# redis-cli with the password against one server (or sentinel).
sub rcli {
	my ($port, @args) = @_;
	my $pw = grep({ $port == $_ } @S) ? $SPW : $PW;
	open my $fh, '-|', 'redis-cli', '-p', $port, '-a', $pw,
		'--no-auth-warning', '--raw', @args or die "redis-cli: $!\n";
	my $out = do { local $/; <$fh> } // '';
	close $fh;
	$out =~ s/\n\z//;
	return $out;
}

# Every sentinel names $master, sees $replica linked, and knows the
# other two sentinels (so they can agree on a failover).
sub sentinels_settled {
	my ($master, $replica) = @_;
	return wait_until(60, sub {
		for my $sp (@S) {
			return 0 unless rcli($sp, 'SENTINEL',
				'get-master-addr-by-name', 'tv') eq "127.0.0.1\n$master";
			my $m = rcli($sp, 'SENTINEL', 'master', 'tv');
			return 0 unless $m =~ /^num-other-sentinels\n2$/m;
			my $r = rcli($sp, 'SENTINEL', 'replicas', 'tv');
			return 0 unless $r =~ /^name\n127\.0\.0\.1:$replica\n/m
				&& $r =~ /^flags\nslave\n/m
				&& $r =~ /^master-link-status\nok$/m;
		}
		return 1;
	});
}

# Whether the player saw the playlist a few segments on from $seq0.
sub advanced {
	my ($p, $seq0) = @_;
	return defined $p->{seq} && defined $seq0 && $p->{seq} >= $seq0 + 3;
}

# Whether node $n's supervisor logged its switch to the master at $port.
sub switched {
	my ($t, $n, $port) = @_;
	return file_text($t, "supervisor$n.log")
		=~ /Redis master switched.* to=127\.0\.0\.1:$port\b/;
}

# The player: fetches the playlist and its newest segment every 0.2 s
# until $cond holds (at most $secs). Returns { done, n (requests), seq
# (last media sequence), bad (statuses other than 200) }.
sub play_until {
	my ($secs, $cond) = @_;
	my $p = { done => 0, n => 0, seq => undef, bad => [] };
	my $end = time() + $secs;
	while (time() < $end) {
		my $r = http_get('/live/stream_1.m3u8?token=tk');
		$p->{n}++;
		my ($code) = $r =~ m!^HTTP/1\.1 (\d+)!;
		if (($code // '') ne '200') {
			push @{$p->{bad}}, 'playlist ' . ($code // 'none');
		} else {
			$p->{seq} = media_sequence($r);
			my @seg = $r =~ m!^(stream_1_\d+\.ts\S*)\r?$!mg;
			my ($sc) = @seg ? http_get("/live/$seg[-1]") =~ m!^HTTP/1\.1 (\d+)!
				: ('no segment');
			push @{$p->{bad}}, 'segment ' . ($sc // 'none')
				unless ($sc // '') eq '200';
		}
		if ($cond->($p)) {
			$p->{done} = 1;
			last;
		}
		sleep(0.2);
	}
	return $p;
}

# A cluster node's supervisor, reaching Redis through the sentinels.
sub start_node {
	my ($t, $n) = @_;
	my $log = "$d/supervisor" . substr($n->{id}, 1) . ".log";
	$n->{pid} = spawn($t, "supervisor-$n->{id}", sub {
		open STDERR, '>>', $log;
		exec($StreamAutostart::SUPERVISOR,
			'--socket', $n->{socket},
			'--socket-mode', '666',
			@through,
			'--hls-dir', $n->{hls},
			'--segment-duration', '1s',
			'--log', 'debug',
			'--log-format', 'text',
			'--allow-upstream-networks', '127.0.0.0/8',
			'--node-id', $n->{id},
			'--node-url', $n->{url},
			'--lease-ttl', "${TTL}s",
		) or die "cannot exec: $!\n";
	});
	wait_until(10, sub { IO::Socket::UNIX->new(Peer => $n->{socket}) })
		or die "supervisor $n->{id} did not start\n";
	wait_until(10, sub { rcli($A, 'EXISTS', "node:$n->{id}") eq '1' })
		or die "no heartbeat of $n->{id}\n";
}

###############################################################################

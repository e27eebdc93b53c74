#!/usr/bin/perl

# Tests for what socket clients can make the supervisor hold: one process
# opening ten thousand connections, and another flooding requests without
# ever reading a reply, do not stop a viewer from getting a stream through
# nginx; the supervisor sheds them and says so.

###############################################################################

use warnings;
use strict;

use Test::More;
use IO::Socket::UNIX;
use Errno qw/ EAGAIN EWOULDBLOCK /;
use POSIX ();

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

# This process' open-files limit bounds how many connections it can hold.
my $nofile = do {
	open my $fh, '<', '/proc/self/limits' or die "/proc/self/limits: $!\n";
	my ($l) = grep { /^Max open files/ } <$fh>;
	$l =~ /^Max open files\s+(\d+|unlimited)/ ? $1 : 1024;
};
$nofile = 1_000_000 if $nofile eq 'unlimited';
my $want = 10_000;
my $held = $nofile - 256 < $want ? $nofile - 256 : $want;
plan(skip_all => "ulimit -n $nofile is too low to hold 2000 connections")
	if $held < 2000;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(15)
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
        stream_autostart_wait 30s;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }

        location ~ ^/live/(?<segment>stream_[A-Za-z0-9_-]+_\d+\.ts)$ {
            alias %%TESTDIR%%/hls/$segment;
        }
    }
}

EOF

# Default connection limits, under an open-files limit the herd below
# could exhaust; a short write timeout so the test need not wait long for
# the client that never reads.
my $s = start_stack($t, segment => '1s', nofile => 4096,
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' },
	args => [ '--client-write-timeout', '3s', '--client-read-timeout', '2s' ]);
redis($t, 'SET', 'channel:1', qq({"source_url":"$s->{origin_url}"}));
redis($t, 'SET', 'channel:2', qq({"source_url":"$s->{origin_url}"}));

$t->run();

###############################################################################

# A writer whose peer is gone must see EPIPE, not die of SIGPIPE.
$SIG{PIPE} = 'IGNORE';

# Another process opens (and keeps) $held connections: ten thousand where
# the open-files limit allows. The supervisor keeps --max-client-connections
# (512) of them and closes the rest at once.

pipe(my $herd_r, my $herd_w) or die "pipe: $!\n";
pipe(my $go_r, my $go_w) or die "pipe: $!\n";
my $herd = fork() // die "fork: $!\n";
if ($herd == 0) {
	close $herd_r;
	close $go_w;
	my @conns;
	for (1 .. $held) {
		my $c = IO::Socket::UNIX->new(Peer => $s->{socket}) or last;
		push @conns, $c;
	}
	syswrite($herd_w, scalar(@conns) . "\n");
	# Hold them until the test is done with them.
	sysread($go_r, my $buf, 1);
	POSIX::_exit(0);
}
close $herd_w;
close $go_r;
my $opened = <$herd_r> // 0;
chomp $opened;
cmp_ok($opened, '>=', 2000, "a client opened $opened connections");
like(file_text($t, 'supervisor.log'),
	qr/--max-connections lowered to fit the open-files limit.* max=3168/,
	'connection limit fitted to the open-files limit');

ok(wait_until(20, sub { file_text($t, 'supervisor.log')
	=~ /connection shed: connection refused: \d+ connections open from this client/ }),
	'supervisor logged the connections it shed');

ok(wait_until(20, sub { file_text($t, 'supervisor.log')
	=~ /connection shed: \d+ more \(connection refused\) since the last report/ }),
	'the rest of the burst is reported with a count');

# A request line that is started and never finished ends its connection.

my $slow = IO::Socket::UNIX->new(Peer => $s->{socket})
	or die "slow connect: $!\n";
$slow->print('{"id":1,"op":');
my $closed = eval {
	local $SIG{ALRM} = sub { die "timeout\n" };
	alarm(20);
	my $n = sysread($slow, my $buf, 100);
	alarm(0);
	defined $n && $n == 0;
};
alarm(0);
ok($closed, 'a request line not finished in time: connection closed');
like(file_text($t, 'supervisor.log'),
	qr/connection shed: a request line was not complete within 2000 ms/,
	'and logged');
close $slow;

# Another client floods requests and never reads a reply: the supervisor
# stops reading it when its replies back up, then drops it.

my $flood = IO::Socket::UNIX->new(Peer => $s->{socket})
	or die "flood connect: $!\n";
$flood->blocking(0);
my $line = '{"id":1,"op":"touch","channel":"nothing"}' . "\n";
my ($sent, $blocked) = (0, 0);
my $chunk = $line x 200;
for (1 .. 100_000) {
	my $n = syswrite($flood, $chunk);
	if (!defined $n) {
		$blocked = 1 if $! == EAGAIN || $! == EWOULDBLOCK;
		last;
	}
	$sent += $n;
	last if $sent > 64 * 1024 * 1024;
}
ok($blocked, "the flood was stopped by back-pressure after $sent bytes");

# Meanwhile a viewer gets a stream through nginx.

my $r = http_get('/live/stream_1.m3u8?token=tk');
like($r, qr!^HTTP/1\.1 200 !, 'viewer: playlist 200 during the flood');
my ($segment) = $r =~ m!^(stream_1_\d+\.ts(?:\?\S*)?)\r?$!m;
ok($segment, 'viewer: playlist lists segments');
like(http_get('/live/' . ($segment // 'none.ts')), qr!^HTTP/1\.1 200 !,
	'viewer: segment 200');

ok(wait_until(20, sub { file_text($t, 'supervisor.log')
	=~ /connection shed: the client left a reply unread/ }),
	'supervisor dropped the client that does not read');

# The dropped client finds its connection closed once it reads.
$flood->blocking(1);
my $eof = eval {
	local $SIG{ALRM} = sub { die "timeout\n" };
	alarm(20);
	my $buf;
	1 while sysread($flood, $buf, 65536);
	alarm(0);
	1;
};
alarm(0);
ok($eof, 'the flood connection was closed');
close $flood;

# An operator still gets answers, and a second viewer starts a channel,
# while the herd still holds its connections.

my ($rc, $out) = supervisor_ctl($s, 'status');
like($out, qr/^1\s+ready/m, 'operator status while the herd holds on');
like(http_get('/live/stream_2.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'a second channel starts while the herd holds on');

close $go_w;
waitpid($herd, 0);

# Everything is given back: a later client is served at once.
like(supervisor_call($s->{socket}, '{"id":9,"op":"list"}'),
	qr/"id":9,"ok":true/, 'served after the herd left');

###############################################################################

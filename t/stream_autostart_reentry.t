#!/usr/bin/perl

# Tests for stream_autostart: a request waiting for its token check is not
# re-entered by events on its connection. On a keep-alive connection whose
# earlier response once filled the socket (so nginx watches it for write
# events from then on), the supervisor's refusal and a burst of the
# client's request body reach the worker in one turn of its event loop,
# the refusal first (the worker is stopped while both arrive): the client's
# event must not run the request's phases, the refusal is answered once
# (403), and nothing is started for it afterwards.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw/ time /;


###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(5)
	->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format stream '$status autostart=$stream_autostart_status';

    server {
        listen       127.0.0.1:8080;
        server_name  localhost;

        access_log %%TESTDIR%%/stream.log stream;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        # Every request asks the supervisor, so every one waits.
        stream_autostart_token_cache 0;

        location = /big {
            alias %%TESTDIR%%/big;
        }

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }
    }
}

EOF

my $s = start_stack($t, segment => '1s', idle_timeout => '8s',
	users => { u1 => '{"active":true}' }, tokens => { good => 'u1' });
redis($t, 'SET', 'channel:x',
	qq({"source_url":"$s->{origin_url}","quality":"copy"}));

$t->write_file('big', 'x' x (16 << 20));
$t->run();

###############################################################################

# The nginx worker (the test runs one).
sub worker_pid {
	my ($t) = @_;
	my $master = $t->read_file('nginx.pid');
	chomp $master;
	foreach my $stat (glob '/proc/[0-9]*/stat') {
		open my $fh, '<', $stat or next;
		my $line = <$fh> // '';
		close $fh;
		return $1 if $line =~ /^(\d+) \(.*\) \S (\d+) / && $2 == $master;
	}
	die "no nginx worker of master $master\n";
}

my $sv = $s->{supervisor_pid};
# (The master writes its pid file before it forks the worker: slow under
# valgrind, scripts/memcheck.sh.)
my $worker;
wait_until(10, sub { $worker = eval { worker_pid($t) } });
$worker //= worker_pid($t);

# One refused request, with the events lined up as described above.
sub refused {
	my ($i) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . port(8080))
		or die "connect: $!\n";
	$sock->autoflush(1);
	# A response larger than the socket buffers, read only after nginx
	# had to wait for the connection to become writable.
	print $sock "GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n";
	select undef, undef, undef, 0.2;
	my ($head, $got) = ('', 0);
	while ($head !~ /\r\n\r\n/) {
		sysread($sock, my $c, 1) or die "no answer for /big\n";
		$head .= $c;
	}
	my ($len) = $head =~ /Content-Length: (\d+)/i or die "no length\n";
	while ($got < $len) {
		my $n = sysread($sock, my $buf, 1 << 20) or die "short /big\n";
		$got += $n;
	}
	kill 'STOP', $sv;
	# The body is never complete: after its answer the request lingers,
	# discarding it, as a keep-alive client's would.
	print $sock "GET /live/stream_x.m3u8?token=refused-$i HTTP/1.1\r\n"
		. "Host: localhost\r\nContent-Length: 100000\r\n\r\n";
	select undef, undef, undef, 0.3;	# the request waits on the socket
	kill 'STOP', $worker;
	kill 'CONT', $sv;
	select undef, undef, undef, 0.5;	# the refusal waits in the worker
	syswrite($sock, 'x' x 100);		# then the client's event
	kill 'CONT', $worker;

	my $sel = IO::Select->new($sock);
	my ($out, $until) = ('', time() + 5);
	while (time() < $until && $sel->can_read($until - time())) {
		my $n = sysread($sock, my $buf, 65536);
		last unless $n;
		$out .= $buf;
		# Long enough for a re-entered request to answer again.
		$until = time() + 0.5 if $out =~ /\r\n\r\n/ && $until > time() + 0.5;
	}
	close $sock;
	return $out;
}

my @answers = map {
	my $out = eval { refused($_) };
	kill 'CONT', $sv, $worker;	# never leave them stopped
	$out // '';
} 1 .. 3;

is(scalar(grep { /^HTTP\/1\.1 403 / } @answers), 3, 'every request refused');
my @twice = grep { my @st = /HTTP\/1\.1 \d{3} /g; @st != 1 } @answers;
is(scalar(@twice), 0, 'each answered once');

# Nothing may have started the channel for a refused request.
ok(!ffmpeg_pids($s->{hls}, 'x'), 'no ffmpeg for the channel');
ok($t->read_file('supervisor.log') !~ /op="ensure"/, 'no ensure asked');

# A request is logged when its connection closes, a moment after ours.
ok(wait_until(5, sub {
	3 == grep { /^403 autostart=denied$/ } split /\n/, $t->read_file('stream.log')
}), 'logged as denied');

###############################################################################

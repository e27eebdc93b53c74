#!/usr/bin/perl

# Tests for stream_autostart: a request waiting for its token check is not
# re-entered by events on its connection. The client keeps its connection
# busy (a request body trickling in, so the socket is readable and writable
# again and again) while the supervisor refuses the token: every request is
# answered exactly once, with 403, and nothing is started for it.

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

$t->run();

###############################################################################

# Sends a refused request whose body trickles in while the token is checked;
# returns everything nginx answered on the connection.
sub trickle {
	my ($i) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . port(8080))
		or die "connect: $!\n";
	$sock->autoflush(1);
	print $sock "GET /live/stream_x.m3u8?token=refused-$i HTTP/1.1\r\n"
		. "Host: localhost\r\nContent-Length: 100000\r\n\r\n";
	my $sel = IO::Select->new($sock);
	my ($out, $deadline) = ('', time() + 3);
	while (time() < $deadline) {
		# A byte every ~0.2 ms: events keep arriving while the request
		# waits, and after it was answered.
		syswrite($sock, 'x', 1) or last;
		next unless $sel->can_read(0.0002);
		my $n = sysread($sock, my $buf, 65536);
		last unless $n;
		$out .= $buf;
		# Keep trickling a little after the answer: a request re-entered
		# now would start the channel or answer a second time.
		$deadline = time() + 0.05 if $out =~ /\r\n\r\n/ && $deadline > time() + 0.05;
	}
	close $sock;
	return $out;
}

my @answers = map { trickle($_) } 1 .. 40;

is(scalar(grep { /^HTTP\/1\.1 403 / } @answers), 40, 'every request refused');
my @twice = grep { my @st = /HTTP\/1\.1 \d{3} /g; @st != 1 } @answers;
is(scalar(@twice), 0, 'each answered once');

# Nothing may have started the channel for a refused request.
ok(!ffmpeg_pids($s->{hls}, 'x'), 'no ffmpeg for the channel');
unlike($t->read_file('supervisor.log'), qr/op="ensure"/, 'no ensure asked');

my @log = split /\n/, $t->read_file('stream.log');
is(scalar(grep { /^403 autostart=denied$/ } @log), 40, 'logged as denied');

###############################################################################

#!/usr/bin/perl

# Tests for a client that goes away while its request waits for a channel
# to start: noticed at once (499) when its HTTP/1 connection has unread
# pipelined bytes ahead of the close, and when its HTTP/2 stream is reset
# while the connection stays open (other streams go on).

###############################################################################

use warnings;
use strict;

use Test::More;
use IO::Socket::INET;
use Time::HiRes qw/ sleep /;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx qw/ :DEFAULT port /;
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http http_v2/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(9)
	->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format gone '$request $status $stream_autostart_channel';
    access_log %%TESTDIR%%/access.log gone;

    server {
        listen       127.0.0.1:8080;
        listen       127.0.0.1:8081 http2;
        server_name  localhost;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 40s;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }

        location / {
            return 204;
        }
    }
}

EOF

# Channels whose origin never sends a byte: their requests wait (up to
# stream_autostart_wait, 40 s) unless the client is noticed gone.
my $s = start_stack($t, users => { u1 => '{"active":true}' },
	tokens => { 'good-token' => 'u1' },
	args => [ '--stall-timeout', '60s' ]);
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin}/stall/0/live.ts","quality":"copy",)
	. qq("read_timeout":"60s"}))
	for qw/ piped h2 /;

$t->run();

###############################################################################

# (A named sub must not capture $t: it would outlive the test's end.)
sub logged {
	my ($tt, $re, $secs) = @_;
	return wait_until($secs, sub { file_text($tt, 'access.log') =~ $re });
}

# HTTP/1: the request is read and held; a pipelined request follows (it
# stays in the socket: nginx does not read while the first waits); then
# the client closes. Peeking at the socket sees the pipelined bytes, not
# the close behind them.

my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . port(8080))
	or die "connect: $!\n";
$sock->print("GET /live/stream_piped.m3u8?token=good-token HTTP/1.1\r\n"
	. "Host: localhost\r\n\r\n");
ok(wait_until(10, sub { file_text($t, 'error.log')
	=~ /channel "piped" not ready/ }), 'pipelined: the request waits');
$sock->print("GET /next HTTP/1.1\r\nHost: localhost\r\n\r\n");
sleep(0.5);
close $sock;

ok(logged($t, qr!^GET /live/stream_piped\.m3u8\S* HTTP/1\.1 499 piped$!m, 15),
	'pipelined: the close is noticed (499)');
like(file_text($t, 'error.log'),
	qr/client closed the connection while waiting for channel "piped"/,
	'pipelined: logged');

# HTTP/2: a stream reset while the connection stays open.

my $h2 = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . port(8081))
	or die "connect: $!\n";
$h2->autoflush(1);
print $h2 "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", frame(4, 0, 0, '');
print $h2 frame(1, 0x5, 1, headers('/live/stream_h2.m3u8?token=good-token'));
ok(wait_until(10, sub { file_text($t, 'error.log')
	=~ /channel "h2" not ready/ }), 'h2: the request waits');
print $h2 frame(3, 0, 1, pack('N', 8));	# RST_STREAM, CANCEL

ok(logged($t, qr!^GET /live/stream_h2\.m3u8\S* HTTP/2\.0 499 h2$!m, 15),
	'h2: the reset stream is noticed (499)');
like(file_text($t, 'error.log'),
	qr/client closed the connection while waiting for channel "h2"/,
	'h2: logged');

# The connection carries on: another stream on it is answered.
print $h2 frame(1, 0x5, 3, headers('/other'));
ok(read_status($h2, 3) eq '204', 'h2: the connection still serves');
close $h2;

ok(logged($t, qr!^GET /other HTTP/2\.0 204!m, 5), 'h2: other stream logged');

# An HTTP/2 request nginx refuses while it checks the headers (no
# :authority, so no Host: 400 before any phase) is logged masked too.
my $h2b = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . port(8081))
	or die "connect: $!\n";
$h2b->autoflush(1);
print $h2b "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", frame(4, 0, 0, '');
print $h2b frame(1, 0x5, 1,
	headers('/live/stream_h2b.m3u8?token=h2early-0123456789abcdef', 1));
ok(logged($t, qr!^GET /live/stream_h2b\.m3u8\?token=h2ea\*+ HTTP/2\.0 400\b!m,
	5), 'h2 refused before any phase (no :authority): 400, the token masked');
close $h2b;

###############################################################################

# An HTTP/2 frame: type, flags, stream id, payload.
sub frame {
	my ($type, $flags, $sid, $payload) = @_;
	my $len = length $payload;
	return pack('nCCCN', $len >> 8, $len & 0xff, $type, $flags, $sid)
		. $payload;
}

# A GET's header block in HPACK without Huffman or the dynamic table
# (without :authority if $no_authority).
sub headers {
	my ($path, $no_authority) = @_;
	my $lit = sub { my ($index, $value) = @_;
		pack('CC', $index, length $value) . $value };
	return pack('C', 0x82)			# :method GET
		. pack('C', 0x86)		# :scheme http
		. $lit->(0x04, $path)		# :path
		. ($no_authority ? '' : $lit->(0x01, 'localhost'));	# :authority
}

# The :status of stream $sid's response (the first byte of a header block
# nginx answers with is an indexed status or a literal one).
sub read_status {
	my ($sock, $sid) = @_;
	my $status = '';
	eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm(10);
		while (1) {
			my $head = '';
			$sock->read($head, 9 - length $head, length $head)
				while length $head < 9;
			my ($hi, $lo, $type, $flags, $id) = unpack('nCCCN', $head);
			my $len = ($hi << 8) + $lo;
			my $payload = '';
			$sock->read($payload, $len - length $payload, length $payload)
				while length $payload < $len;
			next unless $type == 1 && ($id & 0x7fffffff) == $sid;
			my $b = ord substr($payload, 0, 1);
			my %indexed = (0x88 => 200, 0x89 => 204, 0x8d => 404);
			$status = $indexed{$b} // (substr($payload, 2, 3));
			last;
		}
		alarm(0);
	};
	alarm(0);
	return $status;
}

###############################################################################

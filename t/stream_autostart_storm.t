#!/usr/bin/perl

# Tests for stream_autostart: many requests held for a cold channel whose
# clients go away early (closed and reset connections) leave the worker
# serving the ones that stay and the next viewer; a reload (HUP) while
# requests are held answers every held request from the old worker and
# the new one serves. scripts/memcheck.sh runs this under valgrind.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx qw/ :DEFAULT http_start /;
use StreamAutostart;
use IO::Select;
use IO::Socket::INET;
use Socket qw/ SOL_SOCKET SO_LINGER /;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(9)
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

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 60s;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }
    }
}

EOF

my $s = start_stack($t, users => { u1 => '{"active":true}' },
	tokens => { tk => 'u1' });

# A source with a keyframe every 5 s: its channels take 5 to 10 s to play,
# so requests are surely held when their clients leave (also with nginx
# under valgrind, where accepting 100 connections takes a while).
my $slow = port(8091);
my $d = $t->testdir();
$t->run_daemon(sub {
	open STDERR, '>>', "$d/origin-slow.log";
	exec($StreamAutostart::ORIGIN, '--listen', "127.0.0.1:$slow",
		'--keyint', '5') or die "cannot exec $StreamAutostart::ORIGIN: $!\n";
});
$t->waitforsocket("127.0.0.1:$slow") or die "slow origin did not start\n";

foreach my $id (qw/ storm gone held /) {
	redis($t, 'SET', "channel:$id", qq({"source_url":)
		. qq("http://127.0.0.1:$slow/live.ts","quality":"copy"}));
}
redis($t, 'SET', 'channel:after',
	qq({"source_url":"$s->{origin_url}","quality":"copy"}));

$t->run();

###############################################################################

# The response on a held request's socket, waiting up to 60 s (longer
# than http_end's 8 s: the slow channels take up to 10 s to play).
sub answer {
	my ($sock) = @_;
	return '' unless $sock;
	my ($out, $sel) = ('', IO::Select->new($sock));
	while ($sel->can_read(60)) {
		my $n = sysread($sock, my $buf, 65536);
		last unless $n;
		$out .= $buf;
	}
	close $sock;
	return $out;
}

sub request {
	my ($channel) = @_;
	return http_start("GET /live/stream_$channel.m3u8?token=tk HTTP/1.0\n"
		. "Host: localhost\n\n");
}

# Half of them close, half reset the connection (SO_LINGER 0).
sub leave {
	my (@socks) = @_;
	my $i = 0;
	foreach my $sock (grep { defined } @socks) {
		setsockopt($sock, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0))
			if $i++ % 2;
		close $sock;
	}
}

# (Subs take $t: a closure over it would keep it alive into global
# destruction, where its end-of-test checks can no longer run.)
sub workers {
	my ($t) = @_;
	my $master = $t->read_file('nginx.pid');
	chomp $master;
	my @w;
	foreach my $stat (glob '/proc/[0-9]*/stat') {
		open my $fh, '<', $stat or next;
		my $line = <$fh> // '';
		close $fh;
		push @w, $1 if $line =~ /^(\d+) \(.*\) \S (\d+) / && $2 == $master;
	}
	return sort @w;
}

sub closed_waiting {
	my ($t, $channel) = @_;
	my @l = $t->read_file('error.log')
		=~ /client closed the connection while waiting for channel "$channel"/g;
	return scalar @l;
}

# A storm: 100 held requests, 90 of whose clients leave before the channel
# is ready; the 10 that stay get the stream.

my @socks = map { request('storm') } 1 .. 100;
select undef, undef, undef, 3;
leave(@socks[10 .. 99]);
my @stayed = map { answer($_) } @socks[0 .. 9];
is(scalar(grep { m!^HTTP/1\.1 200 ! } @stayed), 10,
	'the 10 that stayed through the storm got the stream');
ok(wait_until(10, sub { closed_waiting($t, 'storm') >= 45 }),
	'the clients that left were noticed')
	or diag('noticed: ' . closed_waiting($t, 'storm'));
like(http_get('/live/stream_storm.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'the next viewer after the storm is served');

# Every client of a cold channel leaves: nothing is left waiting, and a
# viewer after them gets the stream.

@socks = map { request('gone') } 1 .. 50;
select undef, undef, undef, 3;
leave(@socks);
ok(wait_until(10, sub { closed_waiting($t, 'gone') >= 25 }),
	'all 50 left');
like(http_get('/live/stream_gone.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'a viewer after all left is served');

# A reload while 20 requests are held for a cold channel.

my @old = workers($t);
my @held = map { request('held') } 1 .. 20;
select undef, undef, undef, 3;
kill 'HUP', $t->read_file('nginx.pid') =~ /(\d+)/;
my @answers = map { answer($_) } @held;
is(scalar(grep { m!^HTTP/1\.1 200 ! } @answers), 20,
	'every request held through the reload got the stream');

ok(wait_until(30, sub { my @w = workers($t); @w && !grep { my $o = $_;
	grep { $_ == $o } @w } @old }), 'the old worker was replaced');
like(http_get('/live/stream_after.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'the new worker serves a cold channel');

unlike($t->read_file('error.log'), qr/\[(alert|crit|emerg)\]/,
	'no alert, crit or emerg in the error log');

###############################################################################

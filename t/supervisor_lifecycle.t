#!/usr/bin/perl

# Tests for the stream supervisor's life: on start it clears what an earlier
# run left (its ffmpeg, recognised through /proc, stream keys, HLS files);
# killed with SIGKILL it leaves no ffmpeg behind; a new one serves the next
# viewer; SIGTERM stops everything cleanly and exits 0.

###############################################################################

use warnings;
use strict;

use Test::More;
use POSIX qw/ WNOHANG /;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->has_daemon('sleep')->plan(21)
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

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }
    }
}

EOF

my $s = start_stack($t, supervisor => 0, segment => '1s',
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
my $hls = $s->{hls};
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin_url}","quality":"copy"})) for 1, 2;

# What a supervisor that died hard could have left: a process marked as
# its ffmpeg, keys naming it and a dead process, a playlist and a segment.
# Beside them, a process marked for another HLS directory: not ours.

sub marked {
	my ($t, $name, $dir, $channel) = @_;
	return spawn($t, $name, sub {
		$ENV{STREAM_SUPERVISOR_HLS_DIR} = $dir;
		$ENV{STREAM_SUPERVISOR_CHANNEL} = $channel;
		exec('sleep', '300');
	});
}

my $leftover = marked($t, 'leftover', $hls, '8');
my $foreign = marked($t, 'foreign', '/srv/other-hls', '8');
wait_until(5, sub { -e "/proc/$leftover/environ" && -e "/proc/$foreign/environ" });
redis($t, 'SET', 'stream:8:pid', $leftover);
redis($t, 'SET', 'stream:8:started', time());
redis($t, 'SET', 'stream:9:pid', 2**22 + 12345);
redis($t, 'SET', 'stream:9:started', time());
$t->write_file('hls/stream_9.m3u8', "#EXTM3U\n#EXTINF:1,\nstream_9_000.ts\n");
$t->write_file('hls/stream_9_000.ts', 'x');
$t->write_file('hls/index.html', 'not a channel file');

start_supervisor($t, $s, segment => '1s');
$t->run();

###############################################################################

ok(wait_until(5, sub { waitpid($leftover, WNOHANG) == $leftover }),
	'leftover ffmpeg of ours ended');
ok(kill(0, $foreign) && waitpid($foreign, WNOHANG) == 0,
	'process marked for another directory left alone');
is(join(',', map { redis($t, 'EXISTS', $_) }
	qw/stream:8:pid stream:8:started stream:9:pid stream:9:started/),
	'0,0,0,0', 'stale stream keys cleared');
ok(!-e "$hls/stream_9.m3u8" && !-e "$hls/stream_9_000.ts",
	'stale playlist and segment removed');
ok(-e "$hls/index.html", 'other files in the HLS directory kept');
like($t->read_file('supervisor.log'),
	qr/ending ffmpeg left by an earlier supervisor.*pid=$leftover/,
	'reconcile logged');

# SIGKILL: the supervisor's ffmpeg go with it.

like(http_get('/live/stream_1.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'channel 1 plays');
like(http_get('/live/stream_2.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'channel 2 plays');
is(scalar(my @p = ffmpeg_pids($hls)), 2, 'two ffmpeg running');

kill 'KILL', $s->{supervisor_pid};
waitpid($s->{supervisor_pid}, 0);
ok(wait_until(2, sub { !ffmpeg_pids($hls) }),
	'no ffmpeg left within 2 s of kill -9');

# A new supervisor starts clean and serves the next viewer. The dead
# ffmpeg are init's to reap: until it has, their ids are still taken (by
# zombies, which ffmpeg_pids does not count) and are not "gone".

wait_until(10, sub { !grep { -e "/proc/$_" } @p });
start_supervisor($t, $s, segment => '1s');
like($t->read_file('supervisor.log'),
	qr/clearing stale stream keys channel=1 pid=\d+ reason="process is gone"/,
	'keys of the killed run cleared');
like(http_get('/live/stream_1.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'next viewer gets a stream');
like(redis($t, 'GET', 'stream:1:pid'), qr/^\d+$/, 'pid key of the new run');
is(redis($t, 'EXISTS', 'stream:2:pid'), 0, 'no key for the channel not restarted');

# SIGTERM: everything stopped and removed, exit 0.

my $pid = $s->{supervisor_pid};
kill 'TERM', $pid;
my $status;
wait_until(10, sub { waitpid($pid, WNOHANG) == $pid and $status = $?; defined $status });
is($status, 0, 'SIGTERM: exit status 0');
ok(!ffmpeg_pids($hls), 'SIGTERM: no ffmpeg left');
is(join(' ', grep { /stream_/ } map { s!.*/!!r } glob("$hls/*")), '',
	'SIGTERM: no HLS files left');
is(redis($t, 'KEYS', 'stream:*'), '', 'SIGTERM: no stream keys left');
ok(!-e $s->{socket}, 'SIGTERM: socket removed');

my ($rc, undef, $err) = supervisor_ctl($s, 'status');
is($rc, 2, 'status without a supervisor: exit 2');
like($err, qr/cannot reach the supervisor at \S+supervisor\.sock/,
	'and says which socket');

###############################################################################

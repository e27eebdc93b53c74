#!/usr/bin/perl

# Tests for a copy-mode channel's first segment, cut by the supervisor's
# segmenter: from a live origin with 1 s keyframes the first segment is
# shorter than the keyframe interval; the segment after it (which does not
# begin with a keyframe) is never where a new player starts: it leaves the
# list once four segments are listed, and while it is listed the list does
# not claim independent segments; every other segment begins with a
# keyframe (ffprobe). ffmpeg and hls.js (in chromium) play cold channels
# from their first request. An audio-only live source (ffmpeg's own HTTP
# server) gets a short first segment and then whole ones.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

require_browser();

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->has_daemon('ffprobe')->plan(17);

my $browser = $StreamAutostart::BROWSER_DIR;
(my $conf = <<'EOF') =~ s/\@BROWSER\@/$browser/g;

%%TEST_GLOBALS%%

daemon off;
worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp2t                    ts;
        text/html                     html;
        application/javascript        js;
    }

    server {
        listen       127.0.0.1:8080;
        server_name  localhost;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 20s;
        access_log %%TESTDIR%%/access.log;

        add_header Access-Control-Allow-Origin * always;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }

        location ~ ^/live/(?<segment>stream_[A-Za-z0-9_-]+_\d+\.ts)$ {
            alias %%TESTDIR%%/hls/$segment;
        }
    }

    server {
        listen       127.0.0.1:8081;
        server_name  localhost;
        access_log   off;

        location = /player.html {
            alias @BROWSER@/player.html;
        }
        location = /hls.js {
            alias @BROWSER@/node_modules/hls.js/dist/hls.min.js;
        }
    }
}

EOF
$t->write_file_expand('nginx.conf', $conf);

# 2 s segments from the test origin's 1 s keyframes; the first segment is
# the supervisor's default (a fraction of a second).
my $s = start_stack($t, segment => '2s',
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
foreach my $id (qw/head ff web/) {
	redis($t, 'SET', "channel:$id",
		qq({"source_url":"$s->{origin_url}","quality":"copy"}));
}

# A live audio-only source: ffmpeg serving one client over HTTP.
my $d = $t->testdir();
my $aport = port(8092);
$t->run_daemon(sub {
	open STDERR, '>>', "$d/audio-origin.log";
	exec('ffmpeg', '-nostdin', '-hide_banner', '-re', '-f', 'lavfi',
		'-i', 'sine=frequency=440:sample_rate=48000', '-c:a', 'aac',
		'-f', 'mpegts', '-listen', '1', "http://127.0.0.1:$aport/audio.ts")
		or die "cannot exec ffmpeg: $!\n";
});
# Connecting would take its one client: look for the listener instead.
wait_until(10, sub { `ss -ltnH 'sport = :$aport' 2>/dev/null` =~ /LISTEN/ })
	or die "the audio origin did not start\n";
redis($t, 'SET', 'channel:aud',
	qq({"source_url":"http://127.0.0.1:$aport/audio.ts","quality":"copy"}));

$t->run();

my $base = 'http://127.0.0.1:' . port(8080);
my $page = 'http://127.0.0.1:' . port(8081) . '/player.html';

###############################################################################

# Audio only: every frame is a start, so the second segment is a whole one
# (not a single frame, as if it waited for a keyframe).
my $ar = http_get('/live/stream_aud.m3u8?token=tk');
like($ar, qr!^HTTP/1\.1 200 !, 'audio-only cold start 200');
my $atext = '';
wait_until(30, sub {
	$atext = file_text($t, 'hls/stream_aud.m3u8');
	return $atext =~ /^stream_aud_002\.ts$/m;
});
my %dur;
while ($atext =~ /^#EXTINF:([\d.]+),\s*\n(stream_aud_\d+)\.ts$/mg) {
	$dur{$2} = $1;
}
ok(defined $dur{stream_aud_000} && $dur{stream_aud_000} < 1.0,
	'audio only: a short first segment') or diag($atext);
ok(defined $dur{stream_aud_001} && $dur{stream_aud_001} > 1.9
	&& $dur{stream_aud_001} < 2.1,
	'audio only: then whole segments') or diag($atext);

###############################################################################

sub probe_first_video_packet {
	my ($file) = @_;
	# The head's second segment has no SPS/PPS: ffprobe complains.
	my $out = `ffprobe -v quiet -select_streams v:0 -read_intervals %+#1 -show_entries packet=flags -of csv=p=0 '$file' 2>/dev/null`;
	my ($first) = split /\n/, $out;
	# "K_" (a keyframe) or "__", maybe with a trailing separator.
	return substr($first // '', 0, 2);
}

sub listed {
	my ($text) = @_;
	return $text =~ /^(stream_head_\d+\.ts)/mg;
}

# The first request: a short first segment, and only it, so far.
my $r = http_get('/live/stream_head.m3u8?token=tk');
like($r, qr!^HTTP/1\.1 200 !, 'cold start 200');
my ($first) = $r =~ /^#EXTINF:([\d.]+),\s*\nstream_head_000\.ts\?token=tk\r?$/m;
ok(defined $first && $first < 1.0,
	'the first segment is shorter than the keyframe interval')
	or diag($r);

# Watch the list until the head has left it, keeping every version seen.
my (%seen, @lists);
wait_until(30, sub {
	my $text = file_text($t, 'hls/stream_head.m3u8');
	if ($text ne ($lists[-1] // '')) {
		push @lists, $text;
		$seen{$_} = 1 foreach listed($text);
	}
	return $seen{'stream_head_004.ts'};
});
ok($seen{'stream_head_004.ts'}, 'the channel went on to its fifth segment');

my @with_seg1 = grep { /^stream_head_001\.ts$/m } @lists;
ok(@with_seg1, 'the second segment was listed');
ok(!grep({ listed($_) >= 4 } @with_seg1),
	'the second segment is never listed with 4 or more segments')
	or diag(join "----\n", @with_seg1);
ok(!grep({ /^#EXT-X-INDEPENDENT-SEGMENTS/m } @with_seg1),
	'no independent-segments claim while it is listed');
my $last = $lists[-1] // '';
unlike($last, qr/^stream_head_00[01]\.ts$/m, 'the head has left the list');
like($last, qr/^#EXT-X-INDEPENDENT-SEGMENTS$/m,
	'then every listed segment is independent');

# Which segments begin with a keyframe: all but the head's second.
my %key = map {
	my $f = "$s->{hls}/stream_head_00$_.ts";
	($_ => -e $f ? probe_first_video_packet($f) : 'missing');
} 0 .. 4;
is($key{0}, 'K_', 'the first segment begins with a keyframe');
unlike($key{1}, qr/^K/, 'the second one does not (and was never a start)');
is(join(' ', map { $key{$_} } 2 .. 4), 'K_ K_ K_',
	'every later segment begins with a keyframe');

# Players, each from a cold channel's first request.
my $log = `ffmpeg -nostdin -hide_banner -i '$base/live/stream_ff.m3u8?token=tk' -t 3 -map 0:v:0 -f null - 2>&1`;
my @frames = $log =~ /frame=\s*(\d+)/g;
cmp_ok($frames[-1] // 0, '>=', 50, 'ffmpeg plays a cold channel from its first request')
	or diag($log);

my $v = browser_play($page, "$base/live/stream_web.m3u8?token=tk", wait => 30);
ok($v->{played}, 'hls.js plays a cold channel from its first request')
	or diag(explain($v));
my $fetched = () = file_text($t, 'access.log') =~ m!GET /live/stream_web_\d+\.ts!g;
cmp_ok($fetched, '>=', 2, 'hls.js fetched its segments');

###############################################################################

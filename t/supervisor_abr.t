#!/usr/bin/perl

# Tests for the abr quality preset (an adaptive ladder): one ffmpeg per
# channel writes a master playlist at the usual stream_<id>.m3u8 with
# three keyframe-aligned renditions; nginx carries the viewer's token onto
# every variant and segment URI; ffprobe sees the renditions and their
# aligned segments; hls.js in headless Chromium plays and switches between
# them; VLC plays it; the channel idles out as one.

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

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->has_daemon('ffprobe')->has_daemon('cvlc')
	->plan(32);

my $browser = $StreamAutostart::BROWSER_DIR;
my $conf = <<'EOF';

%%TEST_GLOBALS%%

daemon off;

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
        stream_autostart_wait 30s;

        access_log %%TESTDIR%%/access.log;

        location ~ ^/live/stream_(?<vch>[A-Za-z0-9_-]+)\.(?<v>[0-9]+)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$vch.$v.m3u8;
            stream_autostart $vch;
            stream_autostart_cors *;
        }

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
            stream_autostart_cors *;
        }

        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_[0-9]+\.ts)$ {
            alias %%TESTDIR%%/hls/$segment;
            stream_autostart_segment $ch;
            stream_autostart_cors *;
        }
    }

    # The web page of another origin: a tiny hls.js player.
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
$conf =~ s/\@BROWSER\@/$browser/g;
$t->write_file_expand('nginx.conf', $conf);

my $s = start_stack($t, segment => '2s', idle_timeout => '8s',
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });
# The test origin sends 320x240 H.264 + AAC with a keyframe every second:
# the ladder is scaled from it (never up), 240, 160 and 106 lines.
redis($t, 'SET', 'channel:abr',
	qq({"source_url":"$s->{origin_url}","quality":"abr"}));

$t->run();

###############################################################################

my $d = $t->testdir();
my $base = 'http://127.0.0.1:' . port(8080);

sub probe {
	my (@args) = @_;
	open my $fh, '-|', 'ffprobe', '-v', 'error', @args or return '';
	my $out = do { local $/; <$fh> } // '';
	close $fh;
	return $out;
}

sub body {
	my ($r) = @_;
	return $r =~ /\r\n\r\n(.*)\z/s ? $1 : '';
}

# The master playlist: where players already go.

my $r = http_get('/live/stream_abr.m3u8?token=tk');
like($r, qr!^HTTP/1\.1 200 !, 'master: cold start answers 200');
my $master = body($r);
my @inf = $master =~ /^#EXT-X-STREAM-INF:(.*)\n(\S+)$/mg;
my %variant;
while (my ($attrs, $uri) = splice(@inf, 0, 2)) {
	$variant{$uri} = $attrs;
}
is(scalar keys %variant, 3, 'master: three variants');
is(scalar(grep { /BANDWIDTH=\d+/ && /RESOLUTION=\d+x\d+/
	&& /CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/ } values %variant), 3,
	'master: BANDWIDTH, RESOLUTION, CODECS on every variant');
is_deeply([ sort keys %variant ],
	[ map { "stream_abr.$_.m3u8?token=tk" } 0 .. 2 ],
	'master: every variant URI carries the token');
is_deeply([ sort map { /RESOLUTION=(\S+?)(,|$)/ ? $1 : '' } values %variant ],
	[ '142x106', '214x160', '320x240' ], 'master: resolutions from the source');

# Variant playlists: served through the variant location, tokens on every
# segment, segments named for the channel.

my (%segs, @bad, @refused);
foreach my $v (0 .. 2) {
	my $r = http_get("/live/stream_abr.$v.m3u8?token=tk");
	push @refused, $v unless $r =~ m!^HTTP/1\.1 200 !;
	my @uris = grep { !/^#/ && /\S/ } split /\n/, body($r);
	push @bad, grep { !/^stream_abr_${v}\d{3,}\.ts\?token=tk$/ } @uris;
	$segs{$v} = \@uris;
}
ok(!@refused, 'variants: all served') or diag("refused: @refused");
ok(!@bad && (grep { @$_ } values %segs) == 3,
	'variants: every segment URI carries the token')
	or diag("odd URIs: @bad");

(my $seg = $segs{2}[-1] // '') =~ s/\?.*//;
like(http_get("/live/$seg?token=tk"), qr!^HTTP/1\.1 200 !,
	'segment of a variant: served with the token');
like(http_get("/live/$seg"), qr!^HTTP/1\.1 401 !,
	'segment of a variant: refused without');
like(http_get('/live/stream_abr.1.m3u8'), qr!^HTTP/1\.1 401 !,
	'variant playlist: refused without a token');

# ffprobe through nginx: the master's renditions.

my $streams = probe('-show_entries', 'stream=codec_type,codec_name,width,height',
	'-of', 'csv=p=0', "$base/live/stream_abr.m3u8?token=tk");
my %seen = map { $_ => 1 } grep { /^h264,\d+,\d+,video$|^h264,video,\d+,\d+$/ }
	split /\n/, $streams;
my @sizes = sort map { /(\d+),(\d+)/ ? "$1x$2" : () } keys %seen;
is_deeply(\@sizes, [ '142x106', '214x160', '320x240' ],
	'ffprobe: three H.264 renditions') or diag($streams);
like($streams, qr/aac/, 'ffprobe: with AAC audio');

# Alignment: the same segment number of every variant starts at the same
# video timestamp, with a keyframe, and has the same frames; the playlists
# give it the same duration.

my (%dur, %first, %frames, %key);
my $n;
wait_until(40, sub {
	# A viewer meanwhile: the channel must not idle out (8 s) under us.
	http_get('/live/stream_abr.0.m3u8?token=tk');
	my %lists = map {
		my $text = file_text($t, "hls/stream_abr.$_.m3u8");
		($_ => { reverse $text =~ /^#EXTINF:([\d.]+),\s*\nstream_abr_\d(\d+)\.ts$/mg });
	} 0 .. 2;
	# The newest number all three list whose files are all there.
	my @common = sort { $b <=> $a } grep {
		my $k = $_;
		(grep { exists $lists{$_}{$k} && -e "$s->{hls}/stream_abr_$_$k.ts" } 0 .. 2) == 3;
	} keys %{$lists{0}};
	# Not the newest (surely complete on disk), and a full-length one
	# (past the short first segments of a cold start).
	($n) = grep { $lists{0}{$_} > 1.5 } @common[1 .. $#common];
	return 0 unless defined $n;
	%dur = map { $_ => $lists{$_}{$n} } 0 .. 2;
	return 1;
}) or diag('no segment number common to all variants');

foreach my $v (0 .. 2) {
	my $out = probe('-select_streams', 'v:0', '-show_entries',
		'packet=pts_time,flags', '-of', 'csv=p=0',
		"$s->{hls}/stream_abr_$v" . ($n // 'x') . '.ts');
	my @pkts = map { [ split /,/ ] } grep { /\S/ } split /\n/, $out;
	my @pts = sort { $a <=> $b } map { $_->[0] } @pkts;
	$first{$v} = $pts[0] // -1;
	$frames{$v} = @pkts;
	$key{$v} = (@pkts && $pkts[0][1] =~ /K/) ? 1 : 0;
}
note("segment $n: first pts @first{0 .. 2}, frames @frames{0 .. 2}, EXTINF @dur{0 .. 2}");
ok($frames{0} > 0 && $first{0} == $first{1} && $first{1} == $first{2},
	"aligned: segment $n starts at the same pts in every variant")
	or diag(explain(\%first));
is_deeply([ @frames{0 .. 2} ], [ ($frames{0}) x 3 ],
	'aligned: the same frames in every variant');
is_deeply([ @key{0 .. 2} ], [ 1, 1, 1 ], 'aligned: each starts with a keyframe');
is_deeply([ @dur{0 .. 2} ], [ ($dur{0}) x 3 ], 'aligned: the same EXTINF');

# hls.js in headless Chromium: plays, and switches renditions on demand.

SKIP: {
	my $why = StreamAutostart::browser_missing();
	die "player tools required (TEST_REQUIRE_PLAYER_TOOLS): $why\n"
		if $why && $ENV{TEST_REQUIRE_PLAYER_TOOLS};
	skip $why, 5 if $why;

	my $page = 'http://127.0.0.1:' . port(8081) . '/player.html';
	my $p = browser_play($page, "$base/live/stream_abr.m3u8?token=tk",
		wait => 40, switch => 1);
	ok($p->{played}, 'hls.js: plays the master')
		or diag(explain($p));
	is(scalar @{$p->{levels} || []}, 3, 'hls.js: sees three levels');
	my $sw = $p->{switch} || {};
	note('hls.js levels ' . join(' ', map { "$_->{width}x$_->{height}" }
		@{$p->{levels} || []}) . "; switch $sw->{from} -> $sw->{to} at "
		. "$sw->{timeBefore} s, $sw->{fragments} fragments of it, at $sw->{timeAfter} s");
	ok(defined $sw->{from} && $sw->{to} != $sw->{from} && $sw->{switched},
		"hls.js: switched level ($sw->{from} -> $sw->{to})")
		or diag(explain($sw));
	ok($sw->{fragments} && $sw->{timeAfter} > $sw->{timeBefore} + 1,
		'hls.js: played on in the new level') or diag(explain($sw));
	note("hls.js failed requests: @{$p->{failedRequests} || []}; errors: "
		. join(' ', map { "$_->{details}" . ($_->{fatal} ? ' (fatal)' : '') }
		@{$p->{errors} || []}));
	# A forced switch cancels the old level's loads (net::ERR_ABORTED):
	# hls.js' own doing. Any answer of nginx's that is an error is not.
	ok(!grep({ $_->{fatal} } @{$p->{errors} || []})
		&& !grep({ /HTTP \d+/ } @{$p->{failedRequests} || []}),
		'hls.js: no fatal error, no request refused') or diag(explain($p));
}

# VLC: plays the master, reading a variant's segments from nginx.

my @as = $> == 0 ? ('runuser', '-u', 'nobody', '--') : ();
system("@as cvlc -I dummy --vout dummy --aout dummy --no-video-title-show "
	. "--play-and-exit --run-time 6 -vv '$base/live/stream_abr.m3u8?token=tk' "
	. ">$d/vlc.log 2>&1");
is($? >> 8, 0, 'vlc: exits 0');
like($t->read_file('vlc.log'), qr/codec \(h264\) started/, 'vlc: decodes video');
my $access = $t->read_file('access.log');
my @vlc = grep { /VLC/ } split /\n/, $access;
ok((grep { m!"GET /live/stream_abr\.\d\.m3u8\?token=t\* HTTP/1\.1" 200 ! } @vlc),
	'vlc: fetched a variant playlist with the token');
cmp_ok(scalar(grep { m!"GET /live/stream_abr_\d+\.ts\?token=t\* HTTP/1\.1" 200 ! } @vlc),
	'>=', 2, 'vlc: fetched segments with the token');

# A restart is the channel's as a whole: one new ffmpeg, and every variant
# carries on its playlist (media sequence, segment numbers) from before.

my @before = ffmpeg_pids($s->{hls}, 'abr');
my %seq = map {
	$_ => media_sequence(body(http_get("/live/stream_abr.$_.m3u8?token=tk"))) // -1
} 0 .. 2;
kill 'KILL', @before;
my @after;
ok(wait_until(30, sub {
	@after = ffmpeg_pids($s->{hls}, 'abr');
	@after == 1 && $after[0] != $before[0]
		&& $t->read_file('supervisor.log') =~ /ffmpeg started.*channel=abr.*resume=true/;
}), 'restart: one new ffmpeg, resuming');
my %resumed;
wait_until(30, sub {
	%resumed = map {
		my $r = http_get("/live/stream_abr.$_.m3u8?token=tk");
		$_ => ($r =~ m!^HTTP/1\.1 200 ! ? media_sequence(body($r)) // -1 : -1)
	} 0 .. 2;
	!grep { $resumed{$_} <= $seq{$_} } 0 .. 2;
});
ok(!grep({ $resumed{$_} <= $seq{$_} } 0 .. 2),
	'restart: every variant carries on its media sequence')
	or diag(explain([ \%seq, \%resumed ]));
like(http_get('/live/stream_abr.m3u8?token=tk'), qr!^HTTP/1\.1 200 !,
	'restart: the master is served');

# One channel: viewers of one variant alone keep it running; without
# viewers it stops, and every file of it goes.

my @pids = ffmpeg_pids($s->{hls}, 'abr');
is(scalar @pids, 1, 'one ffmpeg for the channel');
# Past the idle timeout (8 s), watching only the lowest variant.
for (1 .. 12) {
	http_get('/live/stream_abr.2.m3u8?token=tk');
	sleep 1;
}
is_deeply([ ffmpeg_pids($s->{hls}, 'abr') ], \@pids,
	'a variant viewer keeps the channel running');
ok(wait_until(30, sub { !ffmpeg_pids($s->{hls}, 'abr') }),
	'without viewers the channel stops');
my @left;
ok(wait_until(10, sub {
	opendir my $dh, $s->{hls} or die "$s->{hls}: $!\n";
	@left = grep { /^stream_abr[._]/ } readdir $dh;
	closedir $dh;
	!@left;
}), 'and its master, variants and segments are gone') or diag("left: @left");

###############################################################################

#!/usr/bin/perl

# Tests for the quality presets: ffprobe confirms each preset's codecs and
# picture size, that every segment starts with a keyframe, and that no
# segment runs longer than the segment duration (keyframes are aligned to
# segment boundaries, not wherever the encoder liked).

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
	->has_daemon('ffmpeg')->has_daemon('ffprobe')->plan(18)
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
    }
}

EOF

my $s = start_stack($t, segment => '2s',
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' });

# The test origin sends 320x240 H.264 + AAC with a keyframe every second.
my %expect = (
	copy => 'h264 320x240 aac',
	low => 'h264 480x360 aac',
	medium => 'h264 960x720 aac',
	high => 'h264 1440x1080 aac',
);
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin_url}","quality":"$_"})) for keys %expect;
redis($t, 'SET', 'channel:odd',
	qq({"source_url":"$s->{origin_url}","quality":"ultra"}));

$t->run();

###############################################################################

sub probe {
	my (@args) = @_;
	open my $fh, '-|', 'ffprobe', '-v', 'error', @args or return '';
	my $out = do { local $/; <$fh> } // '';
	close $fh;
	return $out;
}

# Segments (name, duration) listed once the playlist has gone past its
# short first segments and lists one of full length. copy's second
# segment (cut by the supervisor after a short first one) does not start
# with a keyframe: it is never listed where a player could start, and
# has left the list once four segments were published.
sub segments {
	my ($t, $id) = @_;
	my @segs;
	wait_until(40, sub {
		my $text = file_text($t, "hls/stream_$id.m3u8");
		@segs = $text =~ /^#EXTINF:([\d.]+),\s*\n(stream_\S+\.ts)$/mg;
		my @full = grep { $segs[$_ * 2] > 1.5 } 0 .. $#segs / 2;
		@full >= 1 && ($id ne 'copy'
			|| ($text !~ /^stream_copy_001\.ts$/m && @segs >= 6));
	});
	my @pairs;
	while (my ($dur, $name) = splice(@segs, 0, 2)) {
		push @pairs, [ $name, $dur ];
	}
	return @pairs;
}

# Preset by preset, one at a time, so the encoders do not compete.
foreach my $id (qw/copy low medium high/) {
	like(http_get("/live/stream_$id.m3u8?token=tk"), qr!^HTTP/1\.1 200 !,
		"$id: plays");
	my @segs = segments($t, $id);
	my ($name) = $segs[-1][0];

	my $v = probe('-select_streams', 'v:0', '-show_entries',
		'stream=codec_name,width,height', '-of', 'csv=p=0', "$s->{hls}/$name");
	my $a = probe('-select_streams', 'a:0', '-show_entries',
		'stream=codec_name', '-of', 'csv=p=0', "$s->{hls}/$name");
	# ffprobe lists a stream of an MPEG-TS program twice: take the first.
	($v) = split /\n/, $v;
	($a) = split /\n/, $a;
	my ($vc, $w, $h) = split /,/, $v // '';
	is(join(' ', $vc // '', ($w // '') . 'x' . ($h // ''), $a), $expect{$id},
		"$id: codecs and size");

	my @first = map {
		my $f = probe('-select_streams', 'v:0', '-read_intervals', '%+#1',
			'-show_entries', 'frame=key_frame', '-of', 'csv=p=0',
			"$s->{hls}/$_->[0]");
		$f =~ /^1/ ? 1 : 0;
	} grep { -e "$s->{hls}/$_->[0]" } @segs;
	ok(@first >= 3 && !grep({ !$_ } @first),
		"$id: every segment starts with a keyframe (" . @first . ' probed)');

	my @long = grep { $_->[1] > 2.05 } @segs;
	ok(!@long, "$id: no segment longer than 2 s")
		or diag(join ' ', map { "$_->[0]=$_->[1]" } @long);

	supervisor_ctl($s, 'stop', $id);
}

like(http_get('/live/stream_odd.m3u8?token=tk'), qr!^HTTP/1\.1 422 !,
	'unknown preset: 422');
like($t->read_file('error.log'),
	qr/channel "odd" has an unusable record.*unknown quality preset "ultra"/,
	'with a clear error');

###############################################################################

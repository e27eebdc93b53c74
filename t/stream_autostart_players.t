#!/usr/bin/perl

# Players end to end: what a viewer's apps do, with the real ones where
# they run headless. A user with a password and channels with group,
# number, logo and guide id; an XMLTV guide for them imported with
# `epg import`. pyxtream (an Xtream Codes client library) logs in, lists
# categories, streams and a channel's short EPG, and the live URL it builds
# plays a cold channel in ffmpeg; get.php's M3U and the XMLTV guide are
# what players read; headless chromium plays a cold channel with hls.js
# from a page of another origin (CORS); a wrong password starts nothing,
# and the password is in no log.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;

use IO::Uncompress::Gunzip qw/ gunzip $GunzipError /;
use JSON::PP;
use MIME::Base64 qw/ decode_base64 /;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

require_player_tools();

my $t = Test::Nginx->new()->has(qw/http gzip_static rewrite/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(30);

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
        application/xml               xml;
    }

    log_format players '$remote_addr "$request" $status '
                       'user=$stream_autostart_user '
                       'status=$stream_autostart_status';
    access_log %%TESTDIR%%/access.log players;

    server {
        listen       127.0.0.1:8080;
        server_name  localhost;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 20s;

        location = /player_api.php {
            stream_autostart_xtream;
        }
        location = /get.php {
            stream_autostart_xtream m3u;
        }

        # The guide, rendered by the supervisor into its --guide-dir (the
        # HLS directory by default), for viewers only: a token, or
        # username and password.
        location = /epg.xml {
            alias %%TESTDIR%%/hls/guide.xml;
            stream_autostart_auth;
            gzip_static on;
            stream_autostart_cors *;
        }
        location = /xmltv.php {
            alias %%TESTDIR%%/hls/guide.xml;
            default_type application/xml;
            stream_autostart_login $arg_username $arg_password;
            stream_autostart_auth;
            gzip_static on;
        }

        # Xtream live URLs: /live/<user>/<password>/<id>.m3u8, its
        # segments beside it, and the .ts form redirected to the HLS one.
        location ~ ^/live/(?<xu>[^/]+)/(?<xp>[^/]+)/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_\d+\.ts)$ {
            alias %%TESTDIR%%/hls/$segment;
            stream_autostart_login $xu $xp;
            stream_autostart_segment $ch;
            stream_autostart_cors *;
        }
        location ~ ^/live/(?<xu>[^/]+)/(?<xp>[^/]+)/(?<channel>[^/]+)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart_login $xu $xp;
            stream_autostart $channel;
            stream_autostart_cors *;
        }
        location ~ ^/live/(?<xu>[A-Za-z0-9._~-]+)/(?<xp>[A-Za-z0-9._~-]+)/(?<channel>[A-Za-z0-9_-]+)\.ts$ {
            return 302 /live/$xu/$xp/$channel.m3u8;
        }

        # The browser harness' own check: a plain HLS directory, with and
        # without CORS.
        location /plain/ {
            alias %%TESTDIR%%/plain/;
            add_header Access-Control-Allow-Origin *;
        }
        location /plain-nocors/ {
            alias %%TESTDIR%%/plain/;
        }
    }

    # The web page of another origin: a tiny hls.js player. Its own
    # address names the stream, password and all: not logged (it is the
    # test's page, not the server under test).
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

my $d = $t->testdir();
my $port = port(8080);
my $base = "http://127.0.0.1:$port";
my $page = 'http://127.0.0.1:' . port(8081) . '/player.html';

# The harness' plain HLS: ten seconds of ffmpeg's test picture.
mkdir "$d/plain";
system('ffmpeg', '-nostdin', '-loglevel', 'error', '-f', 'lavfi',
	'-i', 'testsrc=size=320x180:rate=25', '-t', '10', '-c:v', 'libx264',
	'-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-f', 'hls',
	'-hls_time', '2', '-hls_list_size', '0', '-hls_playlist_type', 'vod',
	"$d/plain/index.m3u8") == 0 or die "ffmpeg could not make $d/plain\n";

my $s = start_stack($t, segment => '1s', supervisor => 0);

# The catalog: numbered channels with groups, logos and guide ids.
my $user = 'alice';
my $password = 'Pw' . join('', map { ('a'..'z', 0..9)[rand 36] } 1 .. 14);
my %channels = (
	1 => { name => 'News One', group => 'News', number => 101,
		guide_id => 'news1.test', logo => "$base/logos/1.png" },
	2 => { name => 'Sport Two', group => 'Sport', number => 102,
		guide_id => 'sport2.test', logo => "$base/logos/2.png" },
	3 => { name => 'Kids Three', group => 'Kids', number => 103,
		guide_id => 'kids3.test', logo => "$base/logos/3.png" },
);

sub data {
	my ($stdin, @args) = @_;
	my $cmd = join ' ', map { "'$_'" } $StreamAutostart::SUPERVISOR,
		'--redis-url', "redis://127.0.0.1:$s->{redis_port}/0",
		'--hls-dir', $s->{hls}, @args;
	open my $fh, '|-', "$cmd >>$d/data.log 2>&1" or die "$cmd: $!\n";
	print $fh $stdin if defined $stdin;
	close $fh;
	return $? >> 8;
}

foreach my $id (sort keys %channels) {
	my $c = $channels{$id};
	data(undef, 'channels', 'add', $id, '--source', $s->{origin_url},
		'--quality', 'copy', '--name', $c->{name}, '--group', $c->{group},
		'--number', $c->{number}, '--guide-id', $c->{guide_id},
		'--logo', $c->{logo}) == 0
		or die "channels add $id failed: " . file_text($t, 'data.log');
}
# pyxtream reads exp_date as a number: give the account an end.
data("$password\n", 'users', 'add', $user, '--password',
	'--expires', '2030-01-01T00:00:00Z') == 0
	or die "users add failed: " . file_text($t, 'data.log');
my $token = `'$StreamAutostart::SUPERVISOR' --redis-url redis://127.0.0.1:$s->{redis_port}/0 tokens issue $user`;
chomp $token;

# The guide: the catalog's channels and one the catalog does not have.
my $now = time();
$t->write_file('guide.xml', xmltv_text([
	(map { [$channels{$_}{guide_id}, $channels{$_}{name}] } sort keys %channels),
	['elsewhere.test', 'Not In The Catalog'],
], $now));
data(undef, 'epg', 'import', "$d/guide.xml") == 0
	or die "epg import failed: " . file_text($t, 'data.log');

start_supervisor($t, $s, segment => '1s');

$t->run();

###############################################################################

# The browser harness itself, on plain HLS from nginx: it plays across
# origins with CORS, and the browser refuses without.
my $r = browser_play($page, "$base/plain/index.m3u8", wait => 20);
ok($r->{played}, 'harness: hls.js plays plain HLS across origins with CORS')
	or diag(explain($r));
$r = browser_play($page, "$base/plain-nocors/index.m3u8", wait => 10);
ok(!$r->{played} && !$r->{harness}
	&& grep({ $_->{details} eq 'manifestLoadError' } @{$r->{errors}}),
	'harness: without CORS the browser refuses the playlist')
	or diag(explain($r));

# pyxtream: login, categories, live streams, short EPG.
mkdir "$d/xtream-cache";
$t->write_file('client.py', <<'EOF');
import json, sys
import jsonschema
from pyxtream import XTream
from pyxtream.schemaValidator import live_schema


def schema_error(stream):
    # pyxtream's own idea of a live stream entry (its validate_json option).
    try:
        jsonschema.validate(instance=stream, schema=live_schema)
        return None
    except jsonschema.exceptions.ValidationError as e:
        return "%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message)


server, user, password, cache = sys.argv[1:5]
x = XTream("test", user, password, server, cache_path=cache,
           reload_time_sec=-1)
out = {"authenticated": x.state["authenticated"],
       "user_info": x.auth_data.get("user_info", {})}
if x.state["authenticated"]:
    x.load_iptv()
    # Live categories, less pyxtream's own catch-all group (id 9999).
    out["categories"] = sorted(g.name for g in x.groups
                               if g.group_type == 0 and g.group_id != 9999)
    out["streams"] = [{"id": c.id, "name": c.name, "group": c.group_title,
                       "logo": c.logo, "epg": c.epg_channel_id, "url": c.url,
                       "schema_error": schema_error(c.raw)}
                      for c in x.channels]
    first = x.channels[0] if x.channels else None
    if first:
        out["short_epg"] = x.liveEpgByStreamAndLimit(first.id, 4)
        out["short_epg_of"] = first.id
print("RESULT " + json.dumps(out))
EOF
my ($rc, $out) = run_python("$d/client.py", $base, $user, $password,
	"$d/xtream-cache");
my ($json) = $out =~ /^RESULT (.*)$/m;
my $x = $json ? decode_json($json) : {};
ok($x->{authenticated} && $x->{user_info}{auth} == 1,
	'pyxtream logs in') or diag("pyxtream (exit $rc):\n$out");

is_deeply($x->{categories}, [sort map { $_->{group} } values %channels],
	'pyxtream lists the catalog\'s groups as categories');
my %streams = map { $_->{id} => $_ } @{$x->{streams} || []};
is_deeply({ map { $_ => $streams{$_}{name} } keys %streams },
	{ map { $_ => $channels{$_}{name} } keys %channels },
	'pyxtream lists every channel, stream id = channel id, with its name');
is_deeply({ map { $_ => [@{$streams{$_}}{qw/group epg logo/}] } keys %streams },
	{ map { $_ => [@{$channels{$_}}{qw/group guide_id logo/}] } keys %channels },
	'each stream has its channel\'s category, guide id and logo');
is_deeply([grep { defined } map { $_->{schema_error} } values %streams], [],
	'every stream passes pyxtream\'s live stream schema');

my $epg_of = $x->{short_epg_of} // '';
my @listings = @{($x->{short_epg} || {})->{epg_listings} || []};
my @titles = map { decode_base64($_->{title} // '') } @listings;
my $on_now = $epg_of && programme_title($channels{$epg_of}{name},
	int($now / 3600) * 3600);
ok(@listings && @listings <= 4 && grep({ $_ eq ($on_now // '') } @titles),
	'short EPG: up to 4 programmes, the one on now among them')
	or diag(explain({ of => $epg_of, titles => \@titles, want => $on_now }));

# The live URL pyxtream built (the .ts form): 302 to the HLS playlist,
# and ffmpeg decodes the channel, which was cold.
my $live = $streams{1}{url} // "$base/live/$user/$password/1.ts";
is(scalar(ffmpeg_pids($s->{hls}, 1)), 0, 'channel 1 is cold');
my $redirect = http_get(path_of($live));
like($redirect, qr!^HTTP/1\.1 302 .*^Location: [^\r\n]*/live/\Q$user\E/[^/]+/1\.m3u8\r$!ms,
	'the .ts live URL redirects to the .m3u8');
my $frames = decode_frames($live, 4);
cmp_ok($frames, '>=', 25, "ffmpeg decodes the stream from pyxtream's URL ($frames frames)");
ok(scalar(ffmpeg_pids($s->{hls}, 1)), 'that started channel 1');

# get.php: the M3U players import.
my $m3u = http_host_get("/get.php?username=$user&password=$password"
	. '&type=m3u_plus&output=m3u8');
like($m3u, qr!^HTTP/1\.1 200 !, 'get.php answers 200');
like($m3u, qr!^#EXTM3U [^\n]*url-tvg="\Q$base\E/xmltv\.php\?username=\Q$user\E&(amp;)?password=!m,
	'get.php: the header names the guide (url-tvg)');
my $entries = 0;
foreach my $id (sort keys %channels) {
	my $c = $channels{$id};
	$entries++ if $m3u =~ m!^#EXTINF:-1 (?=[^\n]*tvg-id="\Q$c->{guide_id}\E")
		(?=[^\n]*tvg-name="\Q$c->{name}\E")(?=[^\n]*tvg-logo="\Q$c->{logo}\E")
		(?=[^\n]*tvg-chno="$c->{number}")(?=[^\n]*group-title="\Q$c->{group}\E")
		[^\n]*,\Q$c->{name}\E\r?\n\Q$base\E/live/\Q$user\E/[^/\s]+/$id\.m3u8\r?$!mx;
}
is($entries, 3, 'get.php lists every channel with tvg-id, tvg-name, '
	. 'tvg-logo, tvg-chno, group-title and its .m3u8 URL') or diag($m3u);

# The guide: /epg.xml with a token, gzip when accepted; xmltv.php with
# username and password.
my $plain = http_host_get("/epg.xml?token=$token");
like($plain, qr!^HTTP/1\.1 200 .*^Content-Type: application/xml!ms,
	'/epg.xml with a token: 200, XML');
my $gz = http_host_get("/epg.xml?token=$token", 'Accept-Encoding: gzip');
like($gz, qr!^Content-Encoding: gzip\r$!m, '/epg.xml is gzipped when accepted');
my $zbody = http_body($gz);
ok(length($zbody) && $zbody eq $t->read_file('hls/guide.xml.gz'),
	'as the supervisor compressed it (guide.xml.gz, once per version)');
my $xml = '';
gunzip(\$zbody => \$xml) or diag("gunzip: $GunzipError");
$t->write_file('served-guide.xml', $xml);
# tv_validate_file reads the DTD from XMLTV_SUPPLEMENT (else the network).
my $valid = `XMLTV_SUPPLEMENT=/usr/share/xmltv tv_validate_file '$d/served-guide.xml' 2>&1`;
is($? >> 8, 0, 'the served guide validates with tv_validate_file')
	or diag($valid);
my $listed = grep { $xml =~ /<channel id="\Q$channels{$_}{guide_id}\E"/ } keys %channels;
my $on_now_1 = programme_title($channels{1}{name}, int($now / 3600) * 3600);
ok($listed == 3 && $xml =~ /\Q$on_now_1\E/ && $xml !~ /elsewhere\.test/,
	'the guide has the catalog\'s channels and programmes, not others');
like(http_host_get("/xmltv.php?username=$user&password=$password"),
	qr!^HTTP/1\.1 200 .*<tv\b!ms, 'xmltv.php with username and password: 200');
like(http_host_get("/xmltv.php?username=$user&password=wrong$password"),
	qr!^HTTP/1\.1 403 !, 'xmltv.php with a wrong password: 403');
like(http_host_get('/epg.xml'), qr!^HTTP/1\.1 40[13] !,
	'/epg.xml without credentials: refused');

# A web page of another origin plays a cold channel with hls.js.
is(scalar(ffmpeg_pids($s->{hls}, 3)), 0, 'channel 3 is cold');
$r = browser_play($page, "$base/live/$user/$password/3.m3u8", wait => 30);
ok($r->{played}, 'chromium plays channel 3 with hls.js from another origin')
	or diag(explain(scrub($r)));

# A wrong password: 403 and nothing starts.
like(http_get("/live/$user/wrong$password/2.m3u8"), qr!^HTTP/1\.1 403 !,
	'wrong password: the playlist is 403');
like(http_host_get("/player_api.php?username=$user&password=wrong$password"),
	qr!^HTTP/1\.1 403 .*"auth"\s*:\s*0!ms,
	'wrong password: player_api.php says auth 0 (403)');
sleep(1);
is(scalar(ffmpeg_pids($s->{hls}, 2)), 0, 'wrong password: channel 2 not started');
like(file_text($t, 'error.log'), qr/\Q$user\E/,
	'the refusal is in the error log, naming the user');

# The password is in no log: nginx's, the supervisor's, Redis', the
# origin's, the data commands'. nginx's own debug lines (a --with-debug
# build, such as Debian's) show the raw request before any module runs,
# and the response headers on lines of their own: the documented limit
# of masking (docs/directives.md).
$t->stop();
opendir my $dh, $d or die "$d: $!\n";
my @leaks;
foreach my $f (sort grep { /\.log$/ } readdir $dh) {
	my $level = '';
	foreach my $line (split /\n/, file_text($t, $f)) {
		# An nginx error log entry starts with its time and level; the
		# lines after it without one are its continuation.
		$level = $1 if $line =~ m!^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\]!;
		push @leaks, "$f: $line"
			if $level ne 'debug' && index($line, $password) >= 0;
	}
}
closedir $dh;
is(scalar(@leaks), 0, 'the password appears in no log')
	or diag(join "\n", map { s/\Q$password\E/<PASSWORD>/gr } @leaks[0 .. 4]);

###############################################################################

# The path and query of a URL on this server.
sub path_of {
	my ($url) = @_;
	$url =~ s!^https?://[^/]+!!;
	return $url;
}

# A GET with the Host a player would send (the Xtream replies build URLs
# on it) and optional more header lines.
sub http_host_get {
	my ($uri, @headers) = @_;
	return http(join("\r\n", "GET $uri HTTP/1.1", "Host: 127.0.0.1:$port",
		'Connection: close', @headers) . "\r\n\r\n");
}

# The body of an HTTP/1.1 response, chunked or not.
sub http_body {
	my ($r) = @_;
	my ($head, $body) = split /\r\n\r\n/, $r // '', 2;
	return $body // '' unless ($head // '') =~ /^Transfer-Encoding: chunked\r?$/mi;
	my $out = '';
	while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
		my $n = hex $1;
		last if $n == 0;
		$out .= substr($body, 0, $n, '');
		$body =~ s/^\r\n//;
	}
	return $out;
}

# How many video frames ffmpeg decodes from $url in $secs seconds of it.
# (No $t in named subs: it would outlive Test::More's end-of-test count.)
sub decode_frames {
	my ($url, $secs) = @_;
	my $log = `ffmpeg -nostdin -hide_banner -i '$url' -t $secs -map 0:v:0 -f null - 2>&1`;
	my @n = $log =~ /frame=\s*(\d+)/g;
	return @n ? $n[-1] : 0;
}

# play.js' verdict without the password (its URLs carry it).
sub scrub {
	my ($v) = @_;
	my $j = JSON::PP->new->canonical->encode($v);
	$j =~ s/\Q$password\E/***/g;
	return decode_json($j);
}

###############################################################################

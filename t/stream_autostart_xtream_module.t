#!/usr/bin/perl

# Tests for the module's side of the Xtream Codes compatibility: viewers
# with a user name and password (stream_autostart_login) playing a cold
# channel through /live/<user>/<password>/<id>.m3u8 and its segments, the
# guide behind stream_autostart_auth, player_api.php and get.php
# (stream_autostart_xtream), a login viewer's connection limit, the M3U's
# guide attributes, and the password kept out of every log.

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

my $t = Test::Nginx->new()->has(qw/http rewrite/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(42)
	->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format xt '"$request" $status uri=$request_uri args=$args '
                  'user=$stream_autostart_user token=$stream_autostart_token '
                  'autostart=$stream_autostart_status';

    server {
        listen       127.0.0.1:8080;
        server_name  localhost;

        access_log %%TESTDIR%%/xt.log xt;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 20s;

        # Segments first: stream_<id>_<n>.ts is no channel's .ts form.
        location ~ ^/live/(?<u>[^/]+)/(?<p>[^/]+)/(?<seg>stream_(?<ch>[A-Za-z0-9_-]+)_\d+\.ts)$ {
            alias %%TESTDIR%%/hls/$seg;
            stream_autostart_segment $ch;
            stream_autostart_login $u $p;
        }

        location ~ ^/live/(?<u>[^/]+)/(?<p>[^/]+)/(?<ch>[A-Za-z0-9_-]+)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$ch.m3u8;
            stream_autostart $ch;
            stream_autostart_login $u $p;
        }

        # The MPEG-TS form players ask for: the HLS playlist instead (no
        # process per viewer). The captures go into Location unescaped, so
        # they are held to characters that cannot break the header.
        location ~ ^/live/(?<u>[A-Za-z0-9._~-]+)/(?<p>[A-Za-z0-9._~-]+)/(?<ch>[A-Za-z0-9_-]+)\.ts$ {
            return 302 /live/$u/$p/$ch.m3u8;
        }

        location = /player_api.php {
            stream_autostart_xtream;
        }

        location = /get.php {
            stream_autostart_xtream m3u;
        }

        location = /epg.xml {
            alias %%TESTDIR%%/guide.xml;
            stream_autostart_auth;
            stream_autostart_login $arg_username $arg_password;
        }

        location = /playlist.m3u {
            stream_autostart_m3u "http://$http_host/live/stream_{channel}.m3u8";
            stream_autostart_m3u_guide "http://$http_host/epg.xml";
        }
    }
}

EOF

my $pw = 'open-sesame-42';
my $wrong = 'wrong-pass-xyz';
my $token = 'bob-token-0123456789';
# argon2id of $pw (fixed salt: a test fixture, not a credential).
my $hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$'
	. 'vGmr0dF6gQbRffEM7/wXqopINIeo1UgvnOX1BydzASc';
# ... and of 'sp ace+plus': a password that needs encoding.
my $hash2 = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$'
	. 'UvInQ8a23La1xtRTk5bj7AVgSCbC9QNwwoByRcYr000';

# The channels are written before the supervisor starts: it keeps its
# catalog for a few seconds.
my %stack = (segment => '1s',
	users => {
		alice => qq({"active":true,"password_hash":"$hash"}),
		bob => '{"active":true}',
		carol => qq({"active":true,"password_hash":"$hash2"}),
		dave => qq({"active":true,"password_hash":"$hash","max_connections":1}),
	},
	tokens => { $token => 'bob' });
my $s = start_stack($t, %stack, supervisor => 0);
redis($t, 'SET', 'channel:1', qq({"source_url":"$s->{origin_url}","quality":"copy",)
	. qq("name":"News","number":101,"guide_id":"news.example"}));
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin_url}","quality":"copy"})) for 2, 3;
start_supervisor($t, $s, %stack);
$t->write_file('guide.xml', qq(<?xml version="1.0"?>\n<tv><channel id="news.example"/></tv>\n));

$t->run();

###############################################################################

sub body {
	my ($r) = @_;
	return (split /\r\n\r\n/, $r // '', 2)[1] // '';
}

sub segments {
	my ($r) = @_;
	return grep { !/^#/ && /\S/ } split /\r?\n/, body($r);
}

sub get_host {
	my ($uri, $host, $method) = @_;
	$method //= 'GET';
	return http(<<EOR);
$method $uri HTTP/1.0
Host: $host

EOR
}

# A login viewer plays a cold channel, segments and all.

my $r = http_get("/live/alice/$pw/1.m3u8");
my @segs = segments($r);
like($r, qr!^HTTP/1\.1 200 !, 'login viewer: cold playlist 200');
ok(@segs && !grep({ !/^stream_1_\d+\.ts$/ } @segs),
	'segment URIs stay relative, no token') or diag(join ' ', @segs);
my $seg = $r =~ m!^HTTP/1\.1 200 ! && $segs[-1] || 'stream_1_000.ts';
my $body = http_get("/live/alice/$pw/$seg");
ok($body =~ m!^HTTP/1\.1 200 ! && length($body) > 10000,
	'segment under /live/<user>/<password>/: 200');
like(http_get("/live/alice/$wrong/$seg"), qr!^HTTP/1\.1 403 !,
	'segment with a wrong password: 403');
like(http_get("/live/alice/$wrong/2.m3u8"), qr!^HTTP/1\.1 403 !,
	'playlist with a wrong password: 403');
like(http_get("/live/nobody/$pw/2.m3u8"), qr!^HTTP/1\.1 403 !,
	'playlist of an unknown user: 403');
ok(!ffmpeg_pids($s->{hls}, 2), 'a refused login starts nothing');
like(http_get("/live/bob/$pw/3.m3u8"), qr!^HTTP/1\.1 403 !,
	'a user without a password cannot log in');
ok(!ffmpeg_pids($s->{hls}, 3), 'nor start anything');

# Encoded passwords: a path is decoded by nginx; a query argument is form
# data ('+' is a space).
like(http_get('/live/carol/sp%20ace+plus/1.m3u8'), qr!^HTTP/1\.1 200 !,
	'a password with a space and a plus in the path');
like(http_get('/epg.xml?username=carol&password=sp+ace%2Bplus'),
	qr!^HTTP/1\.1 200 !, 'the same password as form data');

# A login viewer's connection limit: one player, a second is refused.

like(get_host("/live/dave/$pw/1.m3u8", "localhost\r\nUser-Agent: player-one"),
	qr!^HTTP/1\.1 200 !, 'limited login viewer: first player plays');
like(get_host("/live/dave/$pw/1.m3u8", "localhost\r\nUser-Agent: player-two"),
	qr!^HTTP/1\.1 403 !, 'a second player of the same login: 403');

# The .ts form answers with the playlist's URL.

like(http_get("/live/alice/$pw/1.ts"),
	qr!^HTTP/1\.1 302 .*^Location: http://[^/]+/live/alice/\Q$pw\E/1\.m3u8\r$!ms,
	'/live/<u>/<p>/<id>.ts: 302 to the .m3u8');
$r = http_get("/live/x%0d%0aSet-Cookie:%20sid=evil/pw/1.ts");
unlike($r, qr!^Set-Cookie!mi, 'a %0d%0a in the .ts form forges no header');

# player_api.php and get.php.

like(http_get('/player_api.php'), qr!^HTTP/1\.1 401 !,
	'player_api.php without credentials: 401');
like(http_get('/player_api.php?username=alice'), qr!^HTTP/1\.1 401 !,
	'player_api.php without a password: 401');
like(get_host("/player_api.php?username=alice&password=$pw", 'a"b'),
	qr!^HTTP/1\.1 400 !, 'player_api.php with an odd Host: 400');
like(http_get("/player_api.php?username=alice&password=$pw&action=a%20b"),
	qr!^HTTP/1\.1 400 !, 'player_api.php with an odd action: 400');
like(get_host("/player_api.php?username=alice&password=$pw", 'localhost', 'POST'),
	qr!^HTTP/1\.1 405 !, 'player_api.php: POST 405');
$r = http_get("/player_api.php?username=alice&password=$pw");
like($r, qr!^HTTP/1\.1 200 .*^Content-Type: application/json.*"auth":\s*1!ms,
	'player_api.php: the login reply');
$r = http_get("/player_api.php?username=alice&password=$wrong");
ok($r =~ m!^HTTP/1\.1 403 ! && body($r) eq '{"user_info":{"auth":0}}',
	'player_api.php with a wrong password: 403 with auth 0')
	or diag($r);
$r = http_get("/get.php?username=alice&password=$pw&type=m3u_plus&output=m3u8");
like($r, qr!^HTTP/1\.1 200 .*#EXTM3U.*/live/alice/!s, 'get.php: the M3U');
my ($url) = body($r) =~ m!^https?://[^/]+(/live/alice/[^/]+/1\.m3u8)\r?$!m;
like(http_get($url // '/none'), qr!^HTTP/1\.1 200 .*#EXTINF!s,
	'the M3U\'s URL of a channel plays');

# The guide: token or username/password.

like(http_get('/epg.xml'), qr!^HTTP/1\.1 401 !, 'guide without credentials: 401');
like(http_get("/epg.xml?token=$token"), qr!^HTTP/1\.1 200 .*<tv>!s,
	'guide with a token: 200');
like(http_get("/epg.xml?username=alice&password=$pw"),
	qr!^HTTP/1\.1 200 .*<tv>!s, 'guide with username and password: 200');
like(http_get("/epg.xml?username=alice&password=$wrong"),
	qr!^HTTP/1\.1 403 !, 'guide with a wrong password: 403');

# The M3U names the guide (with the token) and the channel's guide id and
# number.

$r = http_get("/playlist.m3u?token=$token");
like($r, qr!^#EXTM3U url-tvg="http://localhost/epg\.xml\?token=\Q$token\E" x-tvg-url="[^"]+"\r?$!m,
	'M3U header names the guide, with the token');
like($r, qr!tvg-id="news\.example" tvg-chno="101"!,
	'M3U: tvg-id is the guide id, tvg-chno the number');

# A request nginx refuses before any phase (two Host headers: 400) is
# masked too.

http(<<EOR);
GET /live/alice/$pw/1.m3u8 HTTP/1.1
Host: a
Host: b

EOR

# Logs: never the password.

$t->stop();

my $d = $t->testdir();
my $all = '';
opendir my $dh, $d or die "$d: $!\n";
foreach my $f (grep { /\.log$/ } readdir $dh) {
	# nginx's own debug entries (a --with-debug build, such as Debian's)
	# show the raw request and, on lines of their own, the response
	# headers; so do its info lines about a request it refuses while
	# reading the headers (the documented limit of masking,
	# docs/directives.md). An entry starts with its time and level; the
	# lines after it without one are its continuation.
	my $skip = 0;
	foreach my $line (split /^/m, file_text($t, $f)) {
		if ($line =~ m!^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\]!) {
			$skip = $1 eq 'debug'
				|| ($1 eq 'info' && $line =~ / client sent /);
		}
		$all .= $line unless $skip;
	}
}
closedir $dh;
unlike($all, qr/\Q$pw\E/, 'no log has the password');
unlike($all, qr/\Q$wrong\E|ace(\+|%2B)plus/, 'no log has a wrong or an encoded password');

my $log = file_text($t, 'xt.log');
like($log, qr!^"GET /live/alice/\*{14}/1\.m3u8 HTTP/1\.0" \d+ uri=/live/alice/\*{14}/1\.m3u8 !m,
	'access log: the path password masked whole');
like($log, qr!^"GET /player_api\.php\?username=alice&password=\*{14} HTTP/1\.0" .* args=username=alice&password=\*{14} !m,
	'access log: the password argument masked whole');
like(file_text($t, 'error.log'),
	qr!request: "GET /live/alice/\*{14}/2\.m3u8 HTTP/1\.0"!,
	'error log request lines are masked');
like($log, qr!^"GET /live/alice/\*+/1\.m3u8 HTTP/1\.0" 200 .* user=alice token=- autostart=started$!m,
	'login viewer logged by name, no token');
like($log, qr!^"GET /live/dave/\*+/1\.m3u8 HTTP/1\.0" 403 .* user=dave token=- autostart=limit$!m,
	'the second player was refused by the connection limit');

# nginx -t: the directives' arguments and the one mode per location.

sub check {
	my ($t, $body) = @_;
	$t->write_file_expand('test.conf', <<EOF);
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:8080;
        $body
    }
}
EOF
	my $d = $t->testdir();
	return `$Test::Nginx::NGINX -t -p $d/ -c test.conf -e check.log 2>&1`;
}

like(check($t, 'location = /p { stream_autostart_xtream; } '
	. 'location = /g { stream_autostart_xtream m3u; } '
	. 'location = /e { stream_autostart_auth; stream_autostart_login $arg_u $arg_p; } '
	. 'location = /m { stream_autostart_m3u "/{channel}"; stream_autostart_m3u_guide /e; }'),
	qr/test is successful/, 'nginx -t: the Xtream directives');
like(check($t, 'location = /p { stream_autostart_xtream get; }'),
	qr/stream_autostart_xtream: unexpected "get"; expected nothing \(player_api\.php\) or m3u/,
	'nginx -t: a bad stream_autostart_xtream argument');
like(check($t, 'stream_autostart_login $arg_u;'),
	qr/invalid number of arguments in "stream_autostart_login"/,
	'nginx -t: stream_autostart_login needs two values');
like(check($t, 'location = /p { stream_autostart_xtream; stream_autostart_auth; }'),
	qr/"stream_autostart_auth" directive cannot be combined with "stream_autostart_xtream"/,
	'nginx -t: one mode per location');
like(check($t, 'location = /p { proxy_pass http://127.0.0.1:1; stream_autostart_xtream; }'),
	qr/"stream_autostart_xtream" directive cannot be combined with another content handler/,
	'nginx -t: no other content handler');

###############################################################################

#!/usr/bin/perl

# The operator dashboard (dashboard/), served by nginx beside the operator
# API with the same access rules, driven in Debian's headless chromium:
# the page loads and shows a channel stopped, a viewer's request starts it
# and the page shows it ready without a reload, the restart and stop
# buttons work (the supervisor confirms), so does start, sorting by a
# column and the filter; a dashboard whose API needs a key asks for it;
# on a phone's width nothing overflows. The API it
# reads (GET /api/channels) lists every configured channel with source
# hosts and no credentials; a client from an address the rules do not
# allow gets neither the page nor the API. With TEST_DASHBOARD_SCREENSHOT
# set to a file, the page is saved there (docs/dashboard.png).

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;

use IO::Socket::INET;
use JSON::PP;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

require_browser();

my $t = Test::Nginx->new()->has(qw/http access/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(40);

my $dashboard = "$FindBin::Bin/../dashboard";
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
    }

    server {
        listen       127.0.0.1:8080;
        server_name  localhost;

        stream_autostart_supervisor unix:%%TESTDIR%%/supervisor.sock;
        stream_autostart_wait 20s;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }
        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_\d+\.ts)$ {
            alias %%TESTDIR%%/hls/$segment;
            stream_autostart_segment $ch;
        }

        location /api/ {
            stream_autostart_api;
            allow 127.0.0.1;
            deny all;
        }
        # An API that needs its key, and its dashboard.
        location /keyed/api/ {
            stream_autostart_api;
            stream_autostart_api_key %%TESTDIR%%/api.key;
            allow 127.0.0.1;
            deny all;
        }
        location /keyed/api/dashboard/ {
            alias @DASHBOARD@/;
            types {
                text/html              html;
                text/css               css;
                application/javascript js;
            }
            allow 127.0.0.1;
            deny all;
        }
        # The dashboard: static files, the API's access rules (as in
        # docs/dashboard.md: its own types, whatever the http block has).
        location /api/dashboard/ {
            alias @DASHBOARD@/;
            types {
                text/html              html;
                text/css               css;
                application/javascript js;
            }
            charset utf-8;
            # Nothing from elsewhere, and no framing by another site.
            add_header Content-Security-Policy "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'" always;
            add_header X-Frame-Options DENY always;
            allow 127.0.0.1;
            deny all;
        }
    }
}

EOF
$conf =~ s/\@DASHBOARD\@/$dashboard/g;
$t->write_file_expand('nginx.conf', $conf);

my $s = start_stack($t, segment => '1s',
	# Channel 4 stays failed (shown as such) for the whole test.
	args => [ '--max-failures', '1', '--failed-cooldown', '300s',
		'--operator-group', (split ' ', $))[0] ],
	users => { u1 => '{"active":true,"expires_at":null}' },
	tokens => { good => 'u1' });

# Channel 2's source carries a password and a token: neither may show.
(my $secret_url = $s->{origin_url})
	=~ s!^http://!http://dash:S3cretPw\@!;
$secret_url .= '?token=T0kenSecret';
my %channels = (
	1 => [ 'News One', 'News', $s->{origin_url} ],
	2 => [ 'Sport Two', 'Sport', $secret_url ],
	3 => [ 'Kids Three', 'Kids', $s->{origin_url} ],
	4 => [ 'Broken Four', 'Kids', "$s->{origin}/status/403/x.ts" ],
	5 => [ 'Music Five', 'Music', $s->{origin_url} ],
);
foreach my $id (keys %channels) {
	my ($name, $group, $src) = @{$channels{$id}};
	redis($t, 'SET', "channel:$id", encode_json({ source_url => $src,
		quality => 'copy', name => $name, group => $group }));
}

$t->write_file('api.key', "0123456789abcdef-dashboard\n");

$t->run();

###############################################################################

my $port = port(8080);
my $base = "http://127.0.0.1:$port";

sub post {
	my ($uri, $body) = @_;
	return http("POST $uri HTTP/1.0\r\nHost: localhost\r\n"
		. "Content-Type: application/json\r\n"
		. 'Content-Length: ' . length($body) . "\r\n\r\n" . $body);
}

# (status, decoded JSON, raw response).
sub api {
	my ($r) = @_;
	my ($status) = ($r // '') =~ m!^HTTP/1\.1 (\d+)!;
	my ($body) = ($r // '') =~ /\r\n\r\n(.*)\z/s;
	my $json = eval { decode_json($body // '') } || {};
	return ($status // 0, $json, $r // '');
}

# A GET from another loopback address (127.0.0.2), which the rules deny.
sub get_from_elsewhere {
	my ($uri) = @_;
	my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
		LocalAddr => '127.0.0.2', Proto => 'tcp') or return '';
	$c->print("GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n");
	local $/;
	my $r = <$c> // '';
	close $c;
	return $r;
}

sub channel_row {
	my ($j, $id) = @_;
	my ($row) = grep { $_->{id} eq $id } @{$j->{channels} || []};
	return $row || {};
}

# The page and its files.
my $page = http_get('/api/dashboard/');
like($page, qr!^HTTP/1\.1 200 .*^Content-Type: text/html!ms, 'page: 200, HTML');
like(http_get('/api/dashboard/app.js'), qr!^HTTP/1\.1 200 !, 'app.js: 200');
unlike($page, qr!<script[^>]+src="(https?:)?//!i, 'no script from elsewhere');
like($page, qr!^Content-Security-Policy: default-src 'self';.*frame-ancestors 'none'!mi,
	'served with a policy of its own files only, no framing');

# Some channels running before the browser comes: 2 (its source has
# credentials), 3, and 4 whose upstream answers 403.
my ($st, $j) = api(post('/api/stream/start', '{"channel_id":"2"}'));
is($st, 200, 'channel 2 started');
($st) = api(post('/api/stream/start', '{"channel_id":"3"}'));
is($st, 200, 'channel 3 started');
($st) = api(post('/api/stream/start', '{"channel_id":"4"}'));
is($st, 502, 'channel 4 fails (upstream 403)');

# Restart through the API.
($st, $j) = api(post('/api/stream/restart', '{"channel_id":"3"}'));
is("$st $j->{state}", '200 ready', 'restart: 200, ready again');
($st, $j) = api(http_get('/api/stream/restart'));
is("$st $j->{error}{code}", '405 method_not_allowed', 'GET restart: 405');
($st, $j) = api(post('/api/stream/restart', '{"channel_id":"1"}'));
is("$st $j->{state}", '200 ready', 'restart of a stopped channel starts it');
api(post('/api/stream/stop', '{"channel_id":"1"}'));

# The list the page polls.
my $raw;
($st, $j, $raw) = api(http_get('/api/channels'));
is($st, 200, 'channels: 200');
is(join(',', map { $_->{id} } @{$j->{channels} || []}), '1,2,3,4,5',
	'every configured channel, in order');
my $two = channel_row($j, 2);
is("$two->{state} $two->{name}", 'ready Sport Two', 'a running channel: state and name');
is($two->{host}, "127.0.0.1:" . (split /:/, (split m!/!, $s->{origin_url})[2])[1],
	'its source host, without the credentials');
ok($raw !~ /S3cretPw|T0kenSecret/, 'no password or token anywhere in the list');
is(channel_row($j, 4)->{failure}, 'source_http_4xx', 'the failure class of channel 4');
is(channel_row($j, 5)->{state}, undef, 'a stopped channel has no state');
my @kinds = map { $_->{kind} . ($_->{why} ? ":$_->{why}" : '') }
	@{channel_row($j, 3)->{history} || []};
is(join(' ', @kinds), 'start ready stop:restart start ready',
	'channel 3\'s history: started, ready, restarted');
ok((grep { $_->{kind} eq 'ready' && $_->{ms} > 0 } @{channel_row($j, 3)->{history}}),
	'ready events carry the cold start time');
ok($j->{start_seconds}{count} >= 3, 'the cold start histogram counted the starts');

# Refused from an address the rules do not allow: the page and the API.
like(get_from_elsewhere('/api/dashboard/'), qr!^HTTP/1\.1 403 !,
	'page from another address: 403');
like(get_from_elsewhere('/api/channels'), qr!^HTTP/1\.1 403 !,
	'API from another address: 403');
like($t->read_file('error.log'),
	qr/access forbidden by rule, client: 127\.0\.0\.2/, 'the refusal is logged');

# The browser.
my $r = browser_dashboard(
	page => "$base/api/dashboard/",
	channel => 1,
	viewer => "$base/live/stream_1.m3u8?token=good",
	start => 5,
	keyed => "$base/keyed/api/dashboard/",
	key => '0123456789abcdef-dashboard',
	filter => 'sport',
	wait => 20,
	screenshot => $ENV{TEST_DASHBOARD_SCREENSHOT},
);
my $diag = { %$r };
delete $diag->{pageText};
is($r->{pageStatus}, 200, 'chromium loads the page') or diag(explain($diag));
is(join(',', @{$r->{activeRows} || []}), '2,3,4',
	'only active channels by default');
is($r->{initialState}, 'stopped', 'channel 1 shows stopped');
is($r->{viewerStatus}, 200, 'a viewer\'s request starts it');
ok($r->{readyShown}, 'the page shows it ready') or diag(explain($diag));
ok($r->{restartShown}, 'the restart button restarts it (its history shows it)')
	or diag(explain($diag));
ok($r->{stoppedShown}, 'the stop button: the page shows it stopped')
	or diag(explain($diag));
($st, $j) = api(http_get('/api/streams/1'));
ok($st == 404 && !ffmpeg_pids($s->{hls}, 1),
	'the supervisor confirms: channel 1 does not run');
ok($r->{startShown}, 'the start button: channel 5 shows ready') or diag(explain($diag));
($st, $j) = api(http_get('/api/streams/5'));
is("$st $j->{stream}{state}", '200 ready', 'the supervisor confirms: channel 5 runs');
is(join(',', @{$r->{sortedUp} || []}) . ' ' . join(',', @{$r->{sortedDown} || []}),
	'1,2,3,4,5 5,4,3,2,1', 'sorted by channel, up and down');
is(join(',', @{$r->{filteredRows} || []}), '2', 'the filter leaves channel 2');
ok($r->{keyAsked}, 'an API with a key: the page asks for it') or diag(explain($diag));
ok(($r->{keyedShown} // '') =~ /\(5 channels\)/
	&& ($r->{keyedUrl} // '') !~ /abcdef/,
	'given the key, it shows the channels (the key in no URL)')
	or diag(explain($diag));
ok($r->{phone} && $r->{phone}{cards} && $r->{phone}{overflow} <= 0
	&& $r->{phone}{buttonsOnScreen}, 'on a phone: cards within the screen')
	or diag(explain($r->{phone}));
ok($r->{notReloaded} && !@{$r->{consoleErrorsMain} || [1]},
	'no reload, no console error') or diag(explain($diag));
ok(($r->{pageText} // '') ne '' && $r->{pageText} !~ /S3cretPw|T0kenSecret/,
	'no credentials on the page');

###############################################################################

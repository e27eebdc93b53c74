#!/usr/bin/perl

# Tests for viewing sessions and connection limits, with two nginx workers
# (reuseport: each connection may land on either): a user with
# max_connections 1 watches from one player; under refuse-new a second
# player is refused 403 (status `limit`, logged with user, channel and
# reason) while the first keeps playing, and is let in once the first stops;
# the operator API lists the sessions and ends one, whose next request is
# refused; under end-oldest the newer player wins and the older one's next
# request is refused; unlimited users are listed without being held; and a
# limited user is refused 503 when the supervisor cannot check sessions
# (fail closed).

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;
use JSON::PP;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(31)
	->write_file_expand('nginx.conf', <<'EOF');

%%TEST_GLOBALS%%

daemon off;
worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format stream '$pid "$request" "$http_user_agent" $status '
                      'user=$stream_autostart_user '
                      'client=$stream_autostart_client '
                      'autostart=$stream_autostart_status';

    server {
        listen       127.0.0.1:8080 reuseport;
        server_name  localhost;

        access_log %%TESTDIR%%/stream.log stream;

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
        }
    }
}

EOF

my $policy = sub { ('--session-idle', '6s', '--connection-limit-policy', $_[0]) };

my @operator = ('--operator-group', (split ' ', $))[0]);
my $s = start_stack($t, segment => '1s',
	args => [ @operator, $policy->('refuse-new') ],
	users => {
		u1 => '{"active":true,"max_connections":1}',
		u2 => '{"active":true}',
	},
	tokens => { 'limited-token-0123' => 'u1', 'unlimited-token-0123' => 'u2' });
redis($t, 'SET', "channel:$_",
	qq({"source_url":"$s->{origin_url}","quality":"copy"})) for 1, 2;

$t->run();

###############################################################################

my $lim = 'limited-token-0123';
my $unl = 'unlimited-token-0123';

sub get {
	my ($uri, $agent) = @_;
	return http("GET $uri HTTP/1.0\r\nHost: localhost\r\n"
		. "User-Agent: $agent\r\n\r\n");
}

sub status_of {
	my ($r) = @_;
	return ($r // '') =~ m!^HTTP/1\.1 (\d+) ! ? $1 : 0;
}

sub play {
	my ($channel, $agent, $token) = @_;
	return status_of(get("/live/stream_$channel.m3u8?token=" . ($token // $lim),
		$agent));
}

sub api {
	my ($method, $uri, $body) = @_;
	my $r = http("$method $uri HTTP/1.0\r\nHost: localhost\r\n"
		. (defined $body ? "Content-Type: application/json\r\n"
			. 'Content-Length: ' . length($body) . "\r\n" : '')
		. "\r\n" . ($body // ''));
	my $json = eval { decode_json((split /\r\n\r\n/, $r, 2)[1]) };
	return (status_of($r), $json);
}

sub sessions {
	my ($user) = @_;
	my (undef, $j) = api('GET', '/api/sessions' . ($user ? "?user=$user" : ''));
	return @{($j && $j->{sessions}) || []};
}

# Module-side checks of the session API, whatever the supervisor does.

my ($st) = api('GET', '/api/sessions/end');
is($st, 405, 'ending sessions takes POST');
($st) = api('POST', '/api/sessions/end', '{"user":"u1","extra":1}');
is($st, 400, 'a malformed end body is refused');
($st) = api('POST', '/api/sessions/end', '{"user":"u1","channel":"../x"}');
is($st, 400, 'an invalid channel in the end body is refused');

# An unlimited user is never held: two players at once.

is(play(1, 'player-c', $unl), 200, 'unlimited user, first player');
is(play(1, 'player-d', $unl), 200, 'unlimited user, second player');

ok(wait_until(5, sub { sessions('u2') == 2 }),
	'the unlimited user\'s two sessions are listed');

# refuse-new: the first player keeps the seat.

is(play(1, 'player-a'), 200, 'limited user, first player');
is(play(1, 'player-b'), 403, 'second player refused');
is(play(2, 'player-b'), 403, 'second player refused on another channel too');
ok(!ffmpeg_pids($s->{hls}, 2), 'a refused request starts nothing');

my $ok = 0;
for (1 .. 8) {
	my $r = get("/live/stream_1.m3u8?token=$lim", 'player-a');
	$ok++ if status_of($r) == 200;
	# The newest segment: older ones may be gone by the time we ask.
	my ($seg) = ($r =~ /^(stream_1_\d+\.ts)/mg)[-1];
	$ok++ if $seg && status_of(get("/live/$seg?token=$lim", 'player-a')) == 200;
}
is($ok, 16, 'the first player keeps playing, playlist and segments');

my @list = sessions();
my @u1 = grep { $_->{user} eq 'u1' } @list;
is(scalar @u1, 1, 'the API lists one session of the limited user');
my $key = ($u1[0] || {})->{client} // 'none';
like($t->read_file('stream.log'),
	qr/"player-a" 200 user=u1 client=$key autostart=/m,
	'with the client key the access log shows for the player');
is(($u1[0] || {})->{channel}, '1', 'on its channel');
play(1, 'player-c', $unl);
my @u2 = map { $_->{user} } sessions('u2');
ok(@u2 && !grep({ $_ ne 'u2' } @u2), '?user= lists only that user')
	or diag explain \@u2;

like($t->read_file('stream.log'),
	qr/"player-b" 403 user=u1 client=[0-9a-f]{16} autostart=limit$/m, 'refusal logged as limit');
like($t->read_file('error.log'),
	qr/user "u1" refused for channel "1" \(403\): limit: /,
	'error log names user, channel and the supervisor\'s reason');

# The seat frees up once the first player stops (--session-idle 6s).

ok(wait_until(15, sub { play(1, 'player-b') == 200 }),
	'the second player gets in once the first went idle');

# The operator ends it: its next request is refused.

my ($code, $j) = api('POST', '/api/sessions/end', '{"user":"u1"}');
is($code, 200, 'end a user\'s sessions');
ok(($j->{ended} // 0) >= 1, 'ended count') or diag explain $j;
is(play(1, 'player-b'), 403, 'an ended session\'s next request is refused');

# Both workers served (each keeps its own caches; the seat is the
# supervisor's).

my %pids = map { /^(\d+) / ? ($1 => 1) : () } split /\n/, $t->read_file('stream.log');
ok(keys %pids >= 2, 'both workers served requests');

# end-oldest: the newer player wins.

kill 'TERM', $s->{supervisor_pid};
wait_until(10, sub { !kill 0, $s->{supervisor_pid} });
start_supervisor($t, $s, segment => '1s',
	args => [ @operator, $policy->('end-oldest') ]);

is(play(1, 'player-a'), 200, 'end-oldest: first player');
is(play(1, 'player-b'), 200, 'end-oldest: second player gets in');
is(play(1, 'player-a'), 403, 'end-oldest: the first player\'s next request is refused');
is(play(1, 'player-b'), 200, 'end-oldest: the second player keeps playing');
@u1 = grep { $_->{user} eq 'u1' } sessions();
is(scalar @u1, 1, 'end-oldest: one session listed');

# Fail closed: a limited user is refused 503 when the supervisor cannot
# check sessions (here: it is gone; its grant is still in the token cache).

kill 'TERM', $s->{supervisor_pid};
wait_until(10, sub { !kill 0, $s->{supervisor_pid} });
my $r = get("/live/stream_1.m3u8?token=$lim", 'player-b');
is(status_of($r), 503, 'supervisor gone: limited user refused 503');
like($r, qr/^Retry-After: 5\r?$/mi, 'with Retry-After');
like($t->read_file('stream.log'),
	qr/"player-b" 503 user=u1 client=[0-9a-f]{16} autostart=unavailable$/m, 'logged as unavailable');
like($t->read_file('error.log'),
	qr/cannot check the viewing session of user "u1" on channel "1"/,
	'error log says why');

###############################################################################

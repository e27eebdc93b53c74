#!/usr/bin/perl

# Tests for viewer accounts in the supervisor: password logins (argon2id
# hashes written by the users commands, never the password), each user's
# max_connections as viewing sessions over the socket under both
# connection-limit policies, zapping, idle expiry, and the operator's
# sessions listing and ending.

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

my $t = Test::Nginx->new()->has_daemon('redis-server')->has_daemon('ffmpeg')
	->plan(49);

my $past = time() - 3600;
my $s = start_stack($t, args => [ '--session-idle', '2s' ],
	users => {
		nohash => '{"active":true}',
		odd => '{"active":true,"max_connections":"lots"}',
	},
	tokens => { tk => 'alice' });
my $d = $t->testdir();
redis($t, 'SET', 'channel:4', qq({"source_url":"$s->{origin_url}"}));

# A second supervisor on the same Redis whose policy ends the oldest
# session instead of refusing the new one.
my %eo = (socket => "$d/eo.sock", redis_port => $s->{redis_port},
	hls => "$d/hls-eo");
mkdir $eo{hls};
start_supervisor($t, \%eo, args => [ '--session-idle', '2s',
	'--connection-limit-policy', 'end-oldest' ]);

# No nginx here, but Test::Nginx reads its error log for alerts at the end.
$t->write_file('error.log', '');

###############################################################################

my @redis = ('--redis-url', "redis://127.0.0.1:$s->{redis_port}/0");

# A data command of the supervisor binary with $input on its standard input;
# returns (exit status, output with errors).
sub data_cmd {
	my ($input, @args) = @_;
	my $cmd = join ' ', map { "'$_'" } $StreamAutostart::SUPERVISOR,
		@redis, @args;
	open my $fh, '|-', "$cmd >$d/data.out 2>&1" or die "cannot run: $!\n";
	print $fh $input;
	close $fh;
	my $rc = $? >> 8;
	# Read here, not through $t: a named sub holding $t would keep it
	# alive past the end of the tests.
	open my $o, '<', "$d/data.out" or die "$d/data.out: $!\n";
	my $text = do { local $/; <$o> } // '';
	close $o;
	return ($rc, $text);
}

my $n = 0;
sub call {
	my ($sock, $op, %f) = @_;
	my $json = join ',', qq("id":) . ++$n, qq("op":"$op"),
		map { qq("$_":"$f{$_}") } sort keys %f;
	return supervisor_call($sock, "{$json}");
}

sub login { call($s->{socket}, 'login', user => $_[0], password => $_[1]) }

sub session {
	my ($sock, $user, $channel, $client) = @_;
	return call($sock, 'session', user => $user, channel => $channel,
		client => $client);
}

# Passwords: from a file, from standard input, never from argv.

$t->write_file('alice.pw', "alice s3cret\n");
my ($rc, $out) = data_cmd('', 'users', 'add', 'alice',
	'--password-file', "$d/alice.pw", '--max-connections', '1');
is($rc, 0, 'user added with a password file') or diag($out);
($rc, $out) = data_cmd("bob-pw\n", 'users', 'add', 'bob', '--password');
is($rc, 0, 'user added with a password on stdin') or diag($out);
($rc, $out) = data_cmd('', 'users', 'add', 'eve', '--password', 'hunter2');
isnt($rc, 0, 'a password in argv is refused');
($rc, $out) = data_cmd("\n", 'users', 'passwd', 'bob');
like($out, qr/no password given/, 'an empty password is refused');

my $rec = redis($t, 'GET', 'user:alice');
like($rec, qr/"password_hash":"\$argon2id\$/, 'an argon2id hash is stored');
unlike($rec, qr/s3cret/, 'the password is not stored');
like($rec, qr/"max_connections":1/, 'the limit is stored');

($rc, $out) = data_cmd('', 'users', 'show', 'alice');
like($out, qr/^password: set$/m, 'show says the password is set');
unlike($out, qr/argon2/, 'show never prints the hash');
($rc, $out) = data_cmd('', 'users', 'list');
like($out, qr/^alice\tactive\tnever\tset\tmax 1$/m, 'list');
like($out, qr/^nohash\tactive\tnever\tnot set\tunlimited$/m,
	'list: no password, unlimited');

# Logins.

like(login('alice', 'alice s3cret'),
	qr/"ok":true,"user":"alice","max_connections":1/, 'login');
like(login('bob', 'bob-pw'), qr/"ok":true,"user":"bob"}/,
	'login of an unlimited user');
like(login('alice', 'wrong'), qr/"code":"denied".*alice: wrong password/,
	'wrong password');
like(login('alice', 'wrong'), qr/"code":"denied".*wrong password/,
	'wrong password again (a cached refusal)');
like(login('ghost', 'x'), qr/"code":"denied".*user ghost does not exist/,
	'unknown user');
like(login('nohash', 'x'), qr/"code":"denied".*has no password/,
	'user without a password');
like(login('odd', 'x'), qr/"code":"denied".*max_connections/,
	'odd limit refuses');
data_cmd('', 'users', 'disable', 'bob');
like(login('bob', 'bob-pw'), qr/"code":"denied".*user bob is not active/,
	'inactive user, though the password was right a moment ago');
data_cmd('', 'users', 'enable', 'bob');
data_cmd('', 'users', 'expire', 'bob', $past);
like(login('bob', 'bob-pw'), qr/"code":"denied".*user bob expired at/,
	'expired user');
data_cmd('', 'users', 'expire', 'bob', 'never');
data_cmd("new-pw\n", 'users', 'passwd', 'bob');
like(login('bob', 'bob-pw'), qr/"code":"denied".*wrong password/,
	'the old password stops working at once');
like(login('bob', 'new-pw'), qr/"ok":true/, 'the new one works');
like(call($s->{socket}, 'authorize', token => 'tk'),
	qr/"ok":true,"user":"alice","max_connections":1/,
	'authorize says the limit');

# max_connections 1, refuse-new: the second client is refused, zapping is
# not a second connection, an idle session makes room.

like(session($s->{socket}, 'alice', '1', 'A'), qr/"ok":true/, 'session A');
like(session($s->{socket}, 'alice', '1', 'B'),
	qr/"code":"limit".*user alice allows 1/, 'second client refused');
like(session($s->{socket}, 'alice', '2', 'A'), qr/"ok":true/,
	'A zaps to channel 2');
like(call($s->{socket}, 'sessions'),
	qr/"sessions":\[\{"user":"alice","channel":"2","client":"A",/,
	'one session, on channel 2');
like(session($s->{socket}, 'alice', '1', 'B'), qr/"code":"limit"/,
	'B still refused');
ok(wait_until(10, sub { call($s->{socket}, 'sessions') =~ /"sessions":\[\]/ }),
	'idle session expires');
like(session($s->{socket}, 'alice', '1', 'B'), qr/"ok":true/,
	'B gets in after A went idle');

# end-oldest: the new client ends the first one, which stays out while it
# retries.

like(session($eo{socket}, 'alice', '1', 'A'), qr/"ok":true/, 'eo: A');
like(session($eo{socket}, 'alice', '3', 'B'), qr/"ok":true/,
	'eo: B gets in');
like(session($eo{socket}, 'alice', '1', 'A'),
	qr/"code":"limit".*ended for a newer one/, 'eo: A was ended');
like(session($eo{socket}, 'alice', '3', 'B'), qr/"ok":true/,
	'eo: B keeps watching');
like(call($eo{socket}, 'sessions', user => 'alice'),
	qr/"sessions":\[\{"user":"alice","channel":"3","client":"B",[^]]*\]/,
	'eo: only B is listed');

# The operator: listing (sorted), ending, the CLI.

session($s->{socket}, 'bob', '5', 'X');
session($s->{socket}, 'bob', '4', 'Y');
my $list = call($s->{socket}, 'sessions');
like($list, qr/"user":"alice".*"user":"bob","channel":"4".*"user":"bob","channel":"5"/,
	'sessions sorted by user and channel');
my ($crc, $cout) = supervisor_ctl($s, 'sessions', '--user', 'bob');
like($cout, qr/^USER +CHANNEL +CLIENT.*\nbob +4 +Y .*\nbob +5 +X /s,
	'sessions table');
like(call($s->{socket}, 'end_session', user => 'bob', channel => '5'),
	qr/"ok":true,"ended":1/, 'end one session');
like(session($s->{socket}, 'bob', '5', 'X'),
	qr/"code":"limit".*ended by the operator/, 'its client is refused');
like(session($s->{socket}, 'bob', '4', 'Y'), qr/"ok":true/,
	'the other session goes on');
($crc, $cout) = supervisor_ctl($s, 'sessions', 'end', 'bob');
like($cout, qr/^ended 1 sessions$/m, 'sessions end from the CLI');
like(session($s->{socket}, 'nobody', '1', 'A'),
	qr/"code":"denied".*does not exist/, 'session of an unknown user');

# status shows each running channel's viewers.

my ($src) = supervisor_ctl($s, 'start', '4');
is($src, 0, 'channel 4 started');
like(session($s->{socket}, 'bob', '4', 'Z'), qr/"ok":true/, 'a viewer on channel 4');
($crc, $cout) = supervisor_ctl($s, 'status');
like($cout, qr/^CHANNEL .*VIEWERS.*\n4 +ready .* 1 +\S+ ago/s,
	'status: one viewer on channel 4');

# Logs: refusals and endings with user, channel and client; no secrets.

my $log = file_text($t, 'supervisor.log');
like($log, qr/session refused.*user=alice.*client=B/, 'refusal logged');
like($log, qr/session ended by the operator.*user=bob.*channel=5.*client=X/,
	'ending logged');
like($log, qr/login refused.*"alice".*wrong password/, 'refused login logged');
unlike($log, qr/s3cret|bob-pw|new-pw|argon2/, 'no password or hash in the log');

###############################################################################

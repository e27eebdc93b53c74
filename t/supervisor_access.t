#!/usr/bin/perl

# Tests for who may ask the supervisor what: viewer operations for anyone
# who can open the socket, operator operations only for root, the
# supervisor's user and --operator-group members (by the peer's
# credentials); ids without a record take no capacity slot; an ad-hoc
# source never replaces a stored channel's.

###############################################################################

use warnings;
use strict;

use Test::More;
use POSIX ();

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

plan(skip_all => 'must run as root to connect as other users') if $> != 0;

my $t = Test::Nginx->new()->has_daemon('redis-server')->has_daemon('ffmpeg')
	->plan(28);

# Other users must reach the sockets in the (private) test directory.
chmod 0711, $t->testdir();

my $s = start_stack($t, segment => '1s',
	users => { u1 => '{"active":true}' }, tokens => { tk => 'u1' },
	args => [ '--max-streams', '2' ]);
redis($t, 'SET', 'channel:1', qq({"source_url":"$s->{origin_url}"}));
redis($t, 'SET', 'channel:2', qq({"source_url":"$s->{origin_url}"}));

# A second supervisor (no Redis keys of its own needed) whose operators are
# the members of group 4242.
my %ops = (socket => $t->testdir() . '/ops.sock', redis_port => $s->{redis_port},
	hls => $t->testdir() . '/hls-ops');
mkdir $ops{hls};
start_supervisor($t, \%ops, args => [ '--operator-group', '4242' ]);

# No nginx here, but Test::Nginx reads its error log for alerts at the end.
$t->write_file('error.log', '');

###############################################################################

# Sends @lines as uid/gids (the first gid primary, all of them the
# supplementary groups) from a child process; returns the reply lines.
sub call_as {
	my ($uid, $gids, $path, @lines) = @_;
	pipe(my $r, my $w) or die "pipe: $!\n";
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		close $r;
		$) = join(' ', $gids->[0], @$gids);
		$( = $gids->[0];
		POSIX::setuid($uid) or POSIX::_exit(3);
		my @replies = supervisor_call($path, @lines);
		print $w map { "$_\n" } @replies;
		close $w;
		POSIX::_exit(0);
	}
	close $w;
	my @out = <$r>;
	close $r;
	waitpid($pid, 0);
	chomp @out;
	return wantarray ? @out : $out[0];
}

my $nobody = 65534;

# Viewer operations: anyone who can connect.

my @r = call_as($nobody, [$nobody], $s->{socket},
	'{"id":1,"op":"authorize","token":"tk"}',
	'{"id":2,"op":"channels"}',
	'{"id":3,"op":"touch","channel":"1"}',
	'{"id":4,"op":"status"}',
	'{"id":5,"op":"stop","channel":"1"}',
	'{"id":6,"op":"list"}',
	'{"id":7,"op":"start","channel":"x","wait_ms":10,"source_url":"http://127.0.0.1:1/x.ts"}',
	'{"id":8,"op":"restart","channel":"1","wait_ms":10}',
	'{"id":9,"op":"overview"}',
);
is(scalar @r, 9, 'every request answered');
like($r[0], qr/"id":1,"ok":true,"user":"u1"/, 'nobody: authorize');
like($r[1], qr/"id":2,"ok":true,"channels":\[\{"id":"1"/, 'nobody: catalog');
like($r[2], qr/"id":3,.*"code":"not_running"/, 'nobody: touch');

# Operator operations: refused, saying which op and who asked.

like($r[3], qr/"id":4,"ok":false.*"code":"forbidden".*status is an operator operation.*uid 65534 gid 65534 pid \d+/,
	'nobody: status forbidden, naming the op and the peer');
like($r[4], qr/"id":5,.*"code":"forbidden".*stop is an operator/, 'nobody: stop forbidden');
like($r[5], qr/"id":6,.*"code":"forbidden"/, 'nobody: list forbidden');
like($r[6], qr/"id":7,.*"code":"forbidden".*start is an operator/,
	'nobody: ad-hoc start forbidden');
like($r[7], qr/"id":8,.*"code":"forbidden"/, 'nobody: restart forbidden');
like($r[8], qr/"id":9,.*"code":"forbidden".*overview is an operator/,
	'nobody: overview (every channel\'s source host) forbidden');
ok(wait_until(5, sub { file_text($t, 'supervisor.log')
	=~ /operator operation refused.*peer=uid 65534/ }), 'refusal logged');
is(redis($t, 'EXISTS', 'stream:x:pid'), '0', 'nothing started for the refused start');

# Sharing the socket's group, or the supervisor's, is not enough; an
# operator group is, as primary or as supplementary group.

like(call_as($nobody, [0], $s->{socket}, '{"id":1,"op":"status"}'),
	qr/"code":"forbidden"/, 'group root alone is not an operator');
like(call_as($nobody, [$nobody], $ops{socket}, '{"id":1,"op":"status"}'),
	qr/"code":"forbidden"/, 'operator group: non-member refused');
like(call_as($nobody, [$nobody, 4242], $ops{socket}, '{"id":1,"op":"status"}'),
	qr/"id":1,"ok":true,"streams":\[\]/, 'operator group: supplementary member');
like(call_as($nobody, [4242], $ops{socket}, '{"id":1,"op":"status"}'),
	qr/"id":1,"ok":true/, 'operator group: primary member');
like(call_as(1, [1], $ops{socket}, '{"id":1,"op":"list"}'),
	qr/"code":"forbidden".*uid 1 gid 1/, 'operator group: another user refused');

# Root is an operator everywhere.

like(supervisor_call($s->{socket}, '{"id":1,"op":"status"}'),
	qr/"id":1,"ok":true/, 'root: status');

# An ad-hoc source never replaces a stored channel's.

my $ready = qr/"ok":true.*"state":"ready"/;
like(supervisor_call($s->{socket},
	'{"id":1,"op":"start","channel":"1","wait_ms":20000}'), $ready,
	'stored channel started');
like(supervisor_call($s->{socket},
	qq({"id":2,"op":"start","channel":"1","wait_ms":20000,"source_url":"$s->{origin}/other.ts"})),
	qr/"code":"bad_request".*channel 1 has a record/,
	'ad-hoc source for a stored channel refused');
my ($rc, $out) = supervisor_ctl($s, 'status', '1');
like($out, qr!^source: \Q$s->{origin_url}\E$!m, 'the stored source still plays');
like(supervisor_call($s->{socket},
	qq({"id":3,"op":"start","channel":"adhoc","wait_ms":20000,"source_url":"$s->{origin}/adhoc.ts"})),
	$ready, 'ad-hoc source for an id without a record');
like(supervisor_call($s->{socket},
	qq({"id":4,"op":"start","channel":"adhoc","wait_ms":20000,"source_url":"$s->{origin}/else.ts"})),
	qr/"code":"bad_request".*running from another source/,
	'another ad-hoc source for a running ad-hoc channel refused');

# At capacity (2 of 2), an id without a record is unknown, not "capacity":
# it never gets as far as a slot. A stored channel is at capacity.

like(supervisor_call($s->{socket},
	'{"id":5,"op":"ensure","channel":"r4nd0m","wait_ms":1000}'),
	qr/"code":"unknown_channel".*no channel r4nd0m/, 'random id: unknown, no slot');
like(supervisor_call($s->{socket},
	'{"id":6,"op":"ensure","channel":"2","wait_ms":1000}'),
	qr/"code":"capacity"/, 'stored channel at capacity');
is(redis($t, 'KEYS', 'stream:r4nd0m*'), '', 'no Redis key for the random id');
ok(!-e "$s->{hls}/stream_r4nd0m.m3u8", 'no file for the random id');
unlike(join('', supervisor_call($s->{socket}, '{"id":7,"op":"list"}')),
	qr/r4nd0m/, 'no state for the random id');

###############################################################################

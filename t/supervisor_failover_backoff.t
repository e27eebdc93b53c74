#!/usr/bin/perl

# Tests for failover between sources that each play briefly and die: every
# such round counts as a failure, so the restart back-off applies and the
# channel ends failed, instead of switching between them for ever.

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
	->plan(5);

my $s = start_stack($t, segment => '1s',
	args => [ '--stall-timeout', '2s', '--max-failures', '2',
		'--failure-window', '300s', '--failed-cooldown', '300s',
		'--restart-delay', '1s' ]);
# Two sources, each sending 3 s of stream and then nothing.
redis($t, 'SET', 'channel:flaky', qq({"sources":["$s->{origin}/stall/3/a.ts",)
	. qq("$s->{origin}/stall/3/b.ts"],"quality":"copy"}));

# No nginx here, but Test::Nginx reads its error log for alerts at the end.
$t->write_file('error.log', '');

###############################################################################

like(supervisor_call($s->{socket},
	'{"id":1,"op":"ensure","channel":"flaky","wait_ms":20000}'),
	qr/"ok":true.*"state":"ready"/, 'the first source plays');

ok(wait_until(60, sub { file_text($t, 'supervisor.log')
	=~ /source failed, trying the next.*channel=flaky/ }),
	'it fails over to the second source');

# Without back-off the two would take turns for ever with no failure
# counted; each round of two brief runs is one failure.
ok(wait_until(90, sub { file_text($t, 'supervisor.log')
	=~ /ffmpeg failed, restarting.*channel=flaky.*failures=1/ }),
	'a round of brief runs is a failure: restart after a back-off');

my $out;
ok(wait_until(120, sub {
	(undef, $out) = supervisor_ctl($s, 'status', 'flaky');
	$out =~ /^flaky\s+failed/m }), 'failed after --max-failures rounds')
	or diag($out);
ok(!ffmpeg_pids($s->{hls}, 'flaky'), 'no ffmpeg left');

###############################################################################

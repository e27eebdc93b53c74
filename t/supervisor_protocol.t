#!/usr/bin/perl

# Tests for the supervisor's socket protocol: bad input gets a structured
# error reply and the supervisor carries on.

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
	->plan(10);

my $s = start_stack($t, users => { u1 => '{"active":true}' },
	tokens => { tk => 'u1' });

# No nginx here, but Test::Nginx reads its error log for alerts at the end.
$t->write_file('error.log', '');

###############################################################################

my @r = supervisor_call($s->{socket},
	'{"id":1,',
	'[1,2,3]',
	'{"id":2,"op":"explode"}',
	'{"id":3,"op":"ensure","channel":"1"}',
	'{"id":4,"op":"ensure","channel":"../x","wait_ms":10}',
	'{"id":5,"op":"authorize","token":"tk"}',
	'{"id":6,"op":"authorize","token":"nope"}',
	'{"v":9,"id":7,"op":"status"}',
	'x' x 70000,
	'{"id":8,"op":"status"}',
);

like($r[0], qr/"ok":false.*"code":"bad_request".*invalid JSON/, 'broken JSON');
like($r[1], qr/"code":"bad_request".*not a JSON object/, 'not an object');
like($r[2], qr/"id":2,"ok":false.*"code":"unknown_op"/, 'unknown op');
like($r[3], qr/"id":3,.*"code":"bad_request".*ensure/, 'missing field');
like($r[4], qr/"id":4,.*"code":"invalid_channel"/, 'invalid channel');
like($r[5], qr/"id":5,"ok":true,"user":"u1"/, 'token granted');
like($r[6], qr/"id":6,"ok":false.*"code":"denied".*unknown token/, 'token denied');
like($r[7], qr/"id":7,.*"code":"unsupported_version"/, 'version');
like($r[8], qr/"code":"too_long"/, 'overlong line');
like($r[9], qr/"id":8,"ok":true,"streams":\[\]/, 'still serving');

###############################################################################

#!/usr/bin/perl

# Tests for access records that do not say plainly that they are active:
# through nginx, every odd `active` or `expires_at` value (and an odd token
# record) is refused with 403 and its reason, and the supervisor logs the
# record it could not read. Only explicit active values play.

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

# user id => its record, for records that must refuse.
my %odd = (
	str_false => '{"active":"False"}',
	str_off => '{"active":"off"}',
	str_no => '{"active":"no"}',
	str_yes => '{"active":"yes"}',
	str_upper => '{"active":"TRUE"}',
	str_empty => '{"active":""}',
	float_zero => '{"active":0.0}',
	float_one => '{"active":1.0}',
	two => '{"active":2}',
	null => '{"active":null}',
	missing => '{"name":"no active field"}',
	list => '{"active":[true]}',
	exp_soon => '{"active":true,"expires_at":"soon"}',
	exp_empty => '{"active":true,"expires_at":""}',
	exp_never => '{"active":true,"expires_at":"never"}',
	exp_neg => '{"active":true,"expires_at":-5}',
	exp_huge => '{"active":true,"expires_at":1e300}',
	exp_bool => '{"active":true,"expires_at":true}',
	not_json => 'active',
);
# user id => its record, for records that play.
my %good = (
	json_true => '{"active":true}',
	str_true => '{"active":"true","expires_at":null}',
	one => '{"active":1,"expires_at":"2999-01-01T00:00:00Z"}',
	str_one => '{"active":"1"}',
);

my %tokens = map { ("t_$_" => $_) } keys %odd, keys %good;
# Odd token records: their own "active", "expires_at", or no user.
$tokens{tokoff} = '{"user_id":"json_true","active":"off"}';
$tokens{tokexp} = '{"user_id":"json_true","expires_at":"later"}';
$tokens{toknouser} = '{"user_id":4.5}';

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')
	->plan(2 * (keys %odd) + (keys %good) + 3 * 2 + 1)
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

my $s = start_stack($t, segment => '1s',
	users => { %odd, %good }, tokens => \%tokens);
redis($t, 'SET', 'channel:1', qq({"source_url":"$s->{origin_url}"}));

$t->run();

###############################################################################

foreach my $user (sort keys %odd) {
	like(http_get("/live/stream_1.m3u8?token=t_$user"), qr!^HTTP/1\.1 403 !,
		"$odd{$user}: 403");
	ok(wait_until(5, sub { file_text($t, 'error.log')
		=~ /refused for channel "1" \(403\): record user:$user refused: /
		&& file_text($t, 'supervisor.log')
		=~ /unreadable record: its tokens are refused record=user:$user /
	}), "$user: reason in nginx's log, record named in the supervisor's");
}

foreach my $tok (qw/ tokoff tokexp toknouser /) {
	like(http_get("/live/stream_1.m3u8?token=$tok"), qr!^HTTP/1\.1 403 !,
		"odd token record $tok: 403");
	# Logs show at most half of a token, four characters at most.
	my $n = int(length($tok) / 2);
	my $head = substr($tok, 0, $n < 4 ? $n : 4);
	ok(wait_until(5, sub { file_text($t, 'supervisor.log')
		=~ /unreadable record: its tokens are refused record=token:\Q$head\E\.\.\./ }),
		"$tok: the record named, the token masked");
}

foreach my $user (sort keys %good) {
	like(http_get("/live/stream_1.m3u8?token=t_$user"), qr!^HTTP/1\.1 200 !,
		"$good{$user}: 200");
}

# nginx's own debug lines (a --with-debug build, as Debian's, at level
# debug) show request lines whole: docs/directives.md, Tokens in logs.
unlike(file_text($t, 'supervisor.log')
	. join('', grep { !/ \[debug\] / } split /^/m, file_text($t, 'error.log')),
	qr/tokoff|tokexp|toknouser/, 'no odd token appears whole in the logs');

###############################################################################

#!/usr/bin/perl

# Tests for packaging/grafana-dashboard.json: it is JSON Grafana can import
# (its data source an input, ${DS_PROMETHEUS}, on every panel and query),
# every metric name its queries use is in a real scrape of nginx's
# stream_autostart_metrics location (nginx, the supervisor and a running
# channel), and promtool parses every query (each wrapped in a recording
# rule).

###############################################################################

use warnings;
use strict;

use Test::More;
use JSON::PP ();

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx;
use StreamAutostart;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $promtool = `sh -c 'command -v promtool' 2>/dev/null`;
chomp $promtool;
plan(skip_all => 'no promtool (Debian package prometheus)') unless $promtool;

my $t = Test::Nginx->new()->has(qw/http/)->has_daemon('redis-server')
	->has_daemon('ffmpeg')->plan(7)
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
        stream_autostart_wait 20s;

        location ~ ^/live/stream_(?<channel>.*)\.m3u8$ {
            alias %%TESTDIR%%/hls/stream_$channel.m3u8;
            stream_autostart $channel;
        }

        location = /metrics {
            stream_autostart_metrics;
        }
    }
}

EOF

my $s = start_stack($t, segment => '1s',
	users => { u1 => '{"active":true}' },
	tokens => { good => 'u1' },
	args => [ '--operator-group', (split ' ', $))[0] ]);
redis($t, 'SET', 'channel:1',
	qq({"source_url":"$s->{origin_url}","quality":"copy"}));

$t->run();

###############################################################################

my $d = $t->testdir();

open my $fh, '<', '../packaging/grafana-dashboard.json'
	or die "packaging/grafana-dashboard.json: $!\n";
my $text = do { local $/; <$fh> };
close $fh;

my $dash = eval { JSON::PP::decode_json($text) };
ok($dash && @{$dash->{panels} || []}, 'the dashboard is JSON with panels')
	or diag($@);
$dash ||= { panels => [] };

is(join(',', map { $_->{name} } @{$dash->{__inputs} || []}), 'DS_PROMETHEUS',
	'its data source is an import input');
my @targets = map { @{$_->{targets} || []} } @{$dash->{panels}};
my @uids = grep { $_ ne '${DS_PROMETHEUS}' }
	map { ($_->{datasource} || {})->{uid} // 'none' }
	@{$dash->{panels}}, @targets;
is("@uids", '', 'every panel and query uses ${DS_PROMETHEUS}');

# A running channel: its per-channel series are in the scrape too.
like(http_get('/live/stream_1.m3u8?token=good'), qr!^HTTP/1\.1 200 !,
	'channel 1 started');
my $scrape;
wait_until(10, sub {
	$scrape = http_get('/metrics') // '';
	$scrape =~ /^stream_supervisor_channel_cpu_seconds_total\{/m;
});

my %names;
foreach my $expr (map { $_->{expr} } @targets) {
	$names{$1}++ while $expr =~ /\b((?:stream_autostart|stream_supervisor)_\w+)/g;
}
my @missing = grep { $scrape !~ /^\Q$_\E[{ ]/m } sort keys %names;
cmp_ok(scalar keys %names, '>=', 15, 'the queries use the metrics');
is("@missing", '', 'every metric name the queries use is in a real scrape');

# promtool parses each query, as a recording rule ($__rate_interval is
# Grafana's: a range here).
my $rules = "groups:\n  - name: dashboard\n    rules:\n";
my $i = 0;
foreach my $expr (map { $_->{expr} } @targets) {
	(my $e = $expr) =~ s/\$__rate_interval/5m/g;
	$e =~ s/'/''/g;
	$i++;
	$rules .= "      - record: dashboard:query_$i\n        expr: '$e'\n";
}
$t->write_file('rules.yml', $rules);
my $out = `'$promtool' check rules '$d/rules.yml' 2>&1`;
is($? >> 8, 0, "promtool check rules parses all $i queries") or diag($out);

###############################################################################

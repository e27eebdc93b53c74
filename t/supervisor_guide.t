#!/usr/bin/perl

# Tests for the programme guide and the Xtream API of the supervisor:
# `epg import` of plain and gzip XMLTV files, the rendered guide.xml (valid
# XMLTV, only catalog channels and programmes within the window), broken
# sources refused with the stored guide kept, the scheduled --guide-source
# import, and the xtream op's actions over the socket.

###############################################################################

use warnings;
use strict;

use Test::More;

BEGIN { use FindBin; chdir($FindBin::Bin); }

use lib 'lib';
use Test::Nginx qw/ :DEFAULT port /;
use StreamAutostart;

use IO::Socket::INET;

use IO::Compress::Gzip qw/ gzip $GzipError /;
use JSON::PP;
use MIME::Base64 qw/ decode_base64 /;
use POSIX qw/ strftime /;

###############################################################################

select STDERR; $| = 1;
select STDOUT; $| = 1;

my $t = Test::Nginx->new()->has_daemon('redis-server')->plan(46);

# The password of the test user is "s3cret" (an argon2id hash of it).
my $phc = '$argon2id$v=19$m=19456,t=2,p=1$+WvGP7lxJw4YW2DPUljQGw'
	. '$Nw9w4LDJKj4bI6KaYLxUUaWZl4uJKW2jnwFc6p13uCw';

my $d = $t->testdir();
my $s = start_stack($t,
	channels => {
		1 => '{"source_url":"http://127.0.0.1:9/1.ts","name":"News",'
			. '"group":"Info","logo":"http://127.0.0.1:9/n.png",'
			. '"guide_id":"news.test"}',
		2 => '{"source_url":"http://127.0.0.1:9/2.ts","name":"Sport",'
			. '"group":"Sport","number":20,"guide_id":"sport.test"}',
		3 => '{"source_url":"http://127.0.0.1:9/3.ts","name":"No guide"}',
		'news-hd' => '{"source_url":"http://127.0.0.1:9/hd.ts",'
			. '"name":"News HD","guide_id":"news.test"}',
	},
	users => {
		alice => qq({"active":true,"password_hash":"$phc",)
			. '"max_connections":2,"created_at":1700000000}',
	},
	args => ['--guide-source', "$d/scheduled.xml", '--guide-refresh', '1s'],
);

# No nginx here, but Test::Nginx reads its error log for alerts at the end.
$t->write_file('error.log', '');

###############################################################################

my $now = time();
sub xt { strftime('%Y%m%d%H%M%S +0000', gmtime($_[0])) }

sub xmltv {
	my (%titles) = @_;
	my $x = qq{<?xml version="1.0" encoding="UTF-8"?>\n}
		. qq{<!DOCTYPE tv SYSTEM "xmltv.dtd">\n<tv>\n}
		. qq{<channel id="news.test"><display-name>News Source</display-name></channel>\n}
		. qq{<channel id="ghost.test"><display-name>Ghost</display-name></channel>\n};
	my $p = sub {
		my ($ch, $from, $to, $title) = @_;
		$x .= sprintf(qq{<programme start="%s" stop="%s" channel="%s">}
			. qq{<title lang="en">%s</title><desc>About %s</desc></programme>\n},
			xt($now + $from), xt($now + $to), $ch, $title, $title);
	};
	$p->('news.test', -3600, 3600, $titles{now} || 'Now Show');
	$p->('news.test', 3600, 7200, 'Next Show');
	$p->('news.test', -3 * 86400, -3 * 86400 + 3600, 'Ancient');
	$p->('news.test', 10 * 86400, 10 * 86400 + 3600, 'Faraway');
	$p->('ghost.test', 0, 3600, 'Ghost');
	$p->('sport.test', 0, 3600, 'Cup &amp; &lt;Final&gt;');
	return $x . "</tv>\n";
}

# Runs a data command of the supervisor binary; returns (status, out, err).
sub data {
	my (@args) = @_;
	my $cmd = join ' ', map { "'$_'" } $StreamAutostart::SUPERVISOR,
		'--redis-url', "redis://127.0.0.1:$s->{redis_port}/0",
		'--hls-dir', $s->{hls}, '--allow-upstream-networks', '127.0.0.0/8',
		@args;
	my $out = `$cmd 2>$d/epg.err`;
	my $rc = $? >> 8;
	return ($rc, $out, $t->read_file('epg.err'));
}

sub guide { file_text($t, 'hls/guide.xml') }

# A file server for the web/ directory of the test, answering in chunks.
sub web {
	my ($port) = @_;
	my $srv = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
		Listen => 5, ReuseAddr => 1) or die "listen: $!\n";
	while (my $c = $srv->accept()) {
		my $head = '';
		while (my $l = <$c>) { $head .= $l; last if $l =~ /^\r?\n$/; }
		my ($path) = $head =~ m{^GET /(\w[\w.]*) };
		my $file = defined $path ? "$d/web/$path" : '';
		if ($file && open my $fh, '<:raw', $file) {
			my $body = do { local $/; <$fh> };
			print $c "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
				. "Connection: close\r\n\r\n";
			while (length $body) {
				my $piece = substr($body, 0, 1000, '');
				printf $c "%x\r\n%s\r\n", length($piece), $piece;
			}
			print $c "0\r\n\r\n";
		} else {
			print $c "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
				. "Connection: close\r\n\r\n";
		}
		close $c;
	}
}

# Plain XMLTV.

$t->write_file('one.xml', xmltv());
my ($rc, $out, $err) = data('epg', 'import', "$d/one.xml");
is($rc, 0, 'plain import') or diag($err);
like($out, qr/guide version 1: 3 programmes kept for 2 channels .*1 of channels not in the catalog, 2 outside the window/,
	'import summary');
my $g = guide();
like($g, qr/<programme [^>]*channel="news.test">\s*<title lang="en">Now Show/,
	'programme of a catalog channel');
like($g, qr/<channel id="news.test">\s*<display-name>News<\/display-name>\s*<icon src="http:\/\/127.0.0.1:9\/n.png"\/>/,
	'channel named as in the catalog');
like($g, qr/Cup &amp; &lt;Final&gt;/, 'markup escaped');
unlike($g, qr/Ancient|Faraway/, 'programmes outside the window dropped');
unlike($g, qr/Ghost/, 'unknown channels dropped');
is(() = $g =~ /<channel id="news.test">/g, 1, 'shared guide id listed once');
ok(-s "$s->{hls}/guide.xml.gz", 'gzip copy for gzip_static');

SKIP: {
	skip 'tv_validate_file absent (Debian package xmltv-util)', 1
		unless `which tv_validate_file 2>/dev/null`;
	# The packaged DTD: never fetched from the network.
	my $dtd = '/usr/share/xmltv/xmltv.dtd';
	my $opt = -e $dtd ? "--dtd-file $dtd" : '';
	local $ENV{XMLTV_SUPPLEMENT} = '/usr/share/xmltv';
	my $v = `tv_validate_file $opt '$s->{hls}/guide.xml' 2>&1`;
	is($? >> 8, 0, 'guide.xml is valid XMLTV') or diag($v);
}

# Gzip XMLTV (told by its magic, whatever its name).

my $xml = xmltv(now => 'Gzip Show');
gzip(\$xml => "$d/two.xml") or die "gzip: $GzipError\n";
($rc, $out, $err) = data('epg', 'import', "$d/two.xml");
is($rc, 0, 'gzip import') or diag($err);
like(guide(), qr/Gzip Show/, 'gzip guide rendered');
is(redis($t, 'GET', 'epg:version'), 2, 'guide version raised');

# A broken source is refused; nothing stored changes.

my $cut = xmltv(now => 'Broken Show');
$t->write_file('broken.xml', substr($cut, 0, length($cut) - 60));
($rc, $out, $err) = data('epg', 'import', "$d/broken.xml");
isnt($rc, 0, 'broken import refused');
like($err, qr/byte \d+.*stored guide is kept/, 'refusal says where and that nothing changed');
is(redis($t, 'GET', 'epg:version'), 2, 'version kept');
like(guide(), qr/Gzip Show/, 'guide kept');
($rc, $out, $err) = data('epg', 'import', "$d/missing.xml");
like($err, qr/cannot open .*missing.xml/, 'missing file refused');
($rc, $out, $err) = data('epg', 'import');
like($err, qr/needs a file or URL/, 'import without a source refused');
{
	local $ENV{SUPERVISOR_GUIDE_SOURCE} = "$d/one.xml";
	($rc, $out, $err) = data('epg', 'import');
}
like($out, qr/guide version 3:/, 'import of the configured source') or diag($err);

# A URL: fetched (here chunked), gunzipped, imported.

my $hport = port(8091);
mkdir "$d/web";
$t->run_daemon(\&web, $hport);
$t->waitforsocket("127.0.0.1:$hport") or die "web server did not start\n";
$xml = xmltv(now => 'Web Show');
gzip(\$xml => "$d/web/guide.xml.gz") or die "gzip: $GzipError\n";
($rc, $out, $err) = data('epg', 'import', "http://127.0.0.1:$hport/guide.xml.gz");
is($rc, 0, 'URL import') or diag($err);
like(guide(), qr/Web Show/, 'URL guide rendered');
($rc, $out, $err) = data('epg', 'import', "http://127.0.0.1:$hport/none.xml");
like($err, qr/cannot fetch the guide .*answered 404.*/, 'URL that fails refused');

# The supervisor renders again when the catalog changes.

redis($t, 'SET', 'channel:1', '{"source_url":"http://127.0.0.1:9/1.ts",'
	. '"name":"News Renamed","group":"Info","guide_id":"news.test"}');
ok(wait_until(15, sub { guide() =~ /News Renamed/ }),
	'rendered again after a catalog change');

###############################################################################

# The xtream op.

my $n = 0;
sub xtream {
	my ($action, %params) = @_;
	my $pw = delete $params{password} // 's3cret';
	my $req = encode_json({ id => ++$n, op => 'xtream', user => 'alice',
		password => $pw, action => $action, params => \%params,
		base_url => 'http://tv.test:8080' });
	my ($line) = supervisor_call($s->{socket}, $req);
	my $r = decode_json($line);
	$r->{json} = eval { decode_json($r->{body}) } if defined $r->{body}
		&& ($r->{content_type} // '') eq 'application/json';
	return $r;
}

my $r = xtream('');
is($r->{json}{user_info}{auth}, 1, 'login reply');
is($r->{json}{user_info}{max_connections}, '2', 'max_connections as a string');
is($r->{json}{server_info}{port}, '8080', 'server port from the base URL');

is($r->{json}{user_info}{active_cons}, '0', 'no live session yet');
my ($sr) = supervisor_call($s->{socket}, encode_json({ id => 900,
	op => 'session', user => 'alice', channel => '1', client => 'c1' }));
like($sr, qr/"ok":true/, 'a viewing session') or diag($sr);
is(xtream('')->{json}{user_info}{active_cons}, '1',
	'active_cons counts live sessions');

$r = xtream('', password => 'wrong');
is($r->{error}{code}, 'denied', 'wrong password denied');

$r = xtream('get_live_categories');
is(join(',', map { $_->{category_name} } @{$r->{json}}), 'Info,Other,Sport',
	'categories');

$r = xtream('get_live_streams');
is(join(',', map { $_->{stream_id} } @{$r->{json}}), '1,2,3',
	'numeric channels listed');
my ($sport) = grep { $_->{stream_id} == 2 } @{$r->{json}};
is("$sport->{num} $sport->{epg_channel_id}", '20 sport.test',
	'number and guide id');

my ($info) = grep { $_->{category_name} eq 'Info' }
	@{xtream('get_live_categories')->{json}};
$r = xtream('get_live_streams', category_id => "$info->{category_id}");
is(join(',', map { $_->{name} } @{$r->{json}}), 'News Renamed',
	'streams of a category');

$r = xtream('get_short_epg', stream_id => '1', limit => '2');
is(join(',', map { decode_base64($_->{title}) } @{$r->{json}{epg_listings}}),
	'Web Show,Next Show', 'short EPG: now and next');

$r = xtream('get_simple_data_table', stream_id => '1');
my ($playing) = grep { $_->{now_playing} } @{$r->{json}{epg_listings}};
is(decode_base64($playing->{title}), 'Web Show', 'data table: now playing');

$r = xtream('m3u', type => 'm3u_plus', output => 'ts');
like($r->{body}, qr{^#EXTM3U url-tvg="http://tv.test:8080/xmltv.php\?username=alice&password=s3cret"},
	'get.php: guide URL');
like($r->{body}, qr{tvg-id="news.test" tvg-name="News HD".*\nhttp://tv.test:8080/live/alice/s3cret/news-hd.ts\n},
	'get.php: every channel with its live URL');

$r = xtream('get_everything');
is($r->{error}{code}, 'bad_request', 'unknown action refused');
like($r->{body} // '', qr/unknown action/, 'with a JSON error body');

###############################################################################

# Channel fields: set, removed, imported from an M3U.

data('channels', 'edit', '3', '--number', '7', '--guide-id', 'three.test');
my $rec = decode_json(redis($t, 'GET', 'channel:3'));
is("$rec->{number} $rec->{guide_id}", '7 three.test', 'channels edit sets number and guide id');
data('channels', 'edit', '3', '--number', '0', '--guide-id', '');
$rec = decode_json(redis($t, 'GET', 'channel:3'));
ok(!exists $rec->{number} && !exists $rec->{guide_id}, 'and removes them');
$t->write_file('channels.m3u', "#EXTM3U\n#EXTINF:-1 tvg-id=\"Kids.tv\" tvg-chno=\"42\" "
	. "tvg-name=\"Kids\" tvg-logo=\"http://127.0.0.1:9/k.png\" group-title=\"Family\",Kids\n"
	. "http://127.0.0.1:9/kids.ts\n");
($rc, $out, $err) = data('channels', 'import', "$d/channels.m3u");
$rec = decode_json(redis($t, 'GET', 'channel:Kids_tv') || '{}');
is(join('|', map { $rec->{$_} // '' } qw/number guide_id name group logo/),
	'42|Kids.tv|Kids|Family|http://127.0.0.1:9/k.png',
	'channels import keeps tvg-chno and the tvg-id as written') or diag($err);

# The scheduled import: failures are logged with why, then the source is
# imported once it is there.

ok(wait_until(10, sub { file_text($t, 'supervisor.log')
	=~ /guide import failed: .*cannot open .*scheduled.xml/ }),
	'scheduled import failure logged');
$t->write_file('scheduled.xml', xmltv(now => 'Scheduled Show'));
ok(wait_until(15, sub { guide() =~ /Scheduled Show/ }),
	'scheduled import rendered');

###############################################################################

# The helpers above share $t: drop it here, so its end-of-test checks run
# now rather than at global destruction.
undef $t;

###############################################################################

package StreamAutostart;

# Helpers for the stream_autostart tests: a private redis-server, the live
# test origin, the supervisor, and a few probes (processes, Redis, socket).
# Everything binds loopback and is started through Test::Nginx::run_daemon,
# so it is stopped, by process id, when the test ends.
#
# Environment:
#   TEST_SUPERVISOR_BINARY  stream-supervisor (default ../target/release/)
#   TEST_ORIGIN_BINARY      test-origin (default ../target/release/)

use warnings;
use strict;

use base qw/ Exporter /;
our @EXPORT = qw/ start_stack start_supervisor spawn redis supervisor_call
	supervisor_ctl ffmpeg_pids wait_until media_sequence file_text /;

use FindBin;
use IO::Socket::UNIX;
use Test::Nginx qw/ port /;
use Time::HiRes qw/ sleep time /;

my $bin = "$FindBin::Bin/../target/release";
our $SUPERVISOR = $ENV{TEST_SUPERVISOR_BINARY} || "$bin/stream-supervisor";
our $ORIGIN = $ENV{TEST_ORIGIN_BINARY} || "$bin/test-origin";

my %redis_port;

# Starts redis, the origin and the supervisor for $t. Options:
#   idle_timeout, segment (supervisor flags), args => [more flags],
#   allow => upstream networks the supervisor may reach (default
#   127.0.0.0/8: the tests' origins are on loopback),
#   nofile (the supervisor's open-files limit),
#   supervisor => 0 to skip it,
#   channels => { id => json }, users => { id => json },
#   tokens => { token => user }.
# Returns a hash with socket, hls, redis_port, origin_url and origin (the
# origin's base URL, for its /status/<code>/ and /stall/<secs>/ paths).
sub start_stack {
	my ($t, %o) = @_;
	my $d = $t->testdir();

	mkdir "$d/hls";
	chmod 0755, "$d/hls";

	my $rport = port(8379);
	$t->run_daemon('redis-server', '--port', $rport, '--bind', '127.0.0.1',
		'--save', '', '--appendonly', 'no', '--dir', $d,
		'--logfile', "$d/redis.log");
	$t->waitforsocket("127.0.0.1:$rport") or die "redis did not start\n";
	$redis_port{$t} = $rport;

	my $oport = port(8090);
	$t->run_daemon(sub {
		open STDERR, '>>', "$d/origin.log";
		exec($ORIGIN, '--listen', "127.0.0.1:$oport")
			or die "cannot exec $ORIGIN: $!\n";
	});
	$t->waitforsocket("127.0.0.1:$oport") or die "origin did not start\n";

	my %s = (
		socket => "$d/supervisor.sock",
		hls => "$d/hls",
		redis_port => $rport,
		origin_url => "http://127.0.0.1:$oport/live.ts",
		origin => "http://127.0.0.1:$oport",
	);

	foreach my $id (keys %{$o{channels} || {}}) {
		redis($t, 'SET', "channel:$id", $o{channels}{$id});
	}
	foreach my $id (keys %{$o{users} || {}}) {
		redis($t, 'SET', "user:$id", $o{users}{$id});
	}
	foreach my $tok (keys %{$o{tokens} || {}}) {
		redis($t, 'SET', "token:$tok", $o{tokens}{$tok});
	}

	start_supervisor($t, \%s, %o) unless defined $o{supervisor}
		&& !$o{supervisor};

	return \%s;
}

sub start_supervisor {
	my ($t, $s, %o) = @_;
	my $d = $t->testdir();

	# nofile => N: the supervisor's open-files limit (through the shell's
	# ulimit, as a service manager's LimitNOFILE would set it).
	my @limit = $o{nofile}
		? ('sh', '-c', "ulimit -n $o{nofile} && exec \"\$0\" \"\$@\"")
		: ();
	my $pid = spawn($t, 'supervisor', sub {
		open STDERR, '>>', "$d/supervisor.log";
		exec(@limit, $SUPERVISOR,
			'--socket', $s->{socket},
			'--socket-mode', '666',
			'--redis-url', "redis://127.0.0.1:$s->{redis_port}/0",
			'--hls-dir', $s->{hls},
			'--idle-timeout', $o{idle_timeout} || '60s',
			'--segment-duration', $o{segment} || '2s',
			'--log', 'debug',
			'--allow-upstream-networks', $o{allow} // '127.0.0.0/8',
			@{$o{args} || []},
		) or die "cannot exec $SUPERVISOR: $!\n";
	});
	# A socket file alone may be a dead supervisor's: wait for a listener.
	wait_until(10, sub { IO::Socket::UNIX->new(Peer => $s->{socket}) })
		or die "supervisor did not start: " . file_text($t, 'supervisor.log');
	$s->{supervisor_pid} = $pid;

	return $pid;
}

# Runs $code (which should exec) as a daemon of $t and returns its process
# id, which the child writes to $name.pid first: nginx-tests' run_daemon
# returns $t, not the id.
sub spawn {
	my ($t, $name, $code) = @_;
	my $file = $t->testdir() . "/$name.pid";

	unlink $file;
	$t->run_daemon(sub {
		open my $fh, '>', "$file.new" or die "$file.new: $!\n";
		print $fh $$;
		close $fh;
		rename "$file.new", $file or die "$file: $!\n";
		$code->();
	});
	wait_until(5, sub { -e $file }) or die "$name did not start\n";

	return $t->read_file("$name.pid");
}

# The text of a file in the test directory, or '' while there is none
# (Test::Nginx's read_file dies then): for polling files that come and go.
sub file_text {
	my ($t, $name) = @_;
	return eval { $t->read_file($name) } // '';
}

# Runs a Redis command against the test's private server; returns its output.
sub redis {
	my ($t, @args) = @_;
	my $port = $redis_port{$t} or die "no redis for this test\n";
	open my $fh, '-|', 'redis-cli', '-p', $port, '--raw', @args
		or die "redis-cli: $!\n";
	my $out = do { local $/; <$fh> } // '';
	close $fh;
	$out =~ s/\n\z//;
	return $out;
}

# Runs an operator command of the supervisor binary against the test's
# socket; returns (exit status, stdout, stderr).
sub supervisor_ctl {
	my ($s, @args) = @_;
	my $errfile = "$s->{socket}.ctl-stderr";
	open my $saved, '>&', \*STDERR or die "dup stderr: $!\n";
	open STDERR, '>', $errfile or die "$errfile: $!\n";
	my $ok = open my $fh, '-|', $SUPERVISOR, '--socket', $s->{socket}, @args;
	open STDERR, '>&', $saved or die "restore stderr: $!\n";
	die "cannot run $SUPERVISOR: $!\n" unless $ok;
	my $out = do { local $/; <$fh> } // '';
	close $fh;
	my $rc = $? >> 8;
	open my $ef, '<', $errfile or die "$errfile: $!\n";
	my $err = do { local $/; <$ef> } // '';
	close $ef;
	unlink $errfile;
	return ($rc, $out, $err);
}

# The EXT-X-MEDIA-SEQUENCE of a playlist response (or file text).
sub media_sequence {
	my ($text) = @_;
	return $text =~ /^#EXT-X-MEDIA-SEQUENCE:(\d+)/m ? $1 : undef;
}

# Sends raw lines to the supervisor socket and returns the reply lines.
sub supervisor_call {
	my ($path, @lines) = @_;

	my $s = IO::Socket::UNIX->new(Peer => $path) or return;
	my @replies;
	eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm(20);
		foreach my $line (@lines) {
			$s->print($line . "\n");
			my $reply = $s->getline();
			last unless defined $reply;
			chomp $reply;
			push @replies, $reply;
		}
		alarm(0);
	};
	alarm(0);
	close $s;

	return wantarray ? @replies : $replies[0];
}

# Pids of the ffmpeg processes of this test's HLS directory (and channel),
# found through /proc by the marks the supervisor puts in each ffmpeg's
# environment (copy-mode ffmpeg writes to a pipe: no path in its argv).
sub ffmpeg_pids {
	my ($hls, $channel) = @_;
	my @pids;

	opendir my $dh, '/proc' or return ();
	foreach my $pid (grep { /^\d+$/ } readdir $dh) {
		open my $fh, '<', "/proc/$pid/cmdline" or next;
		local $/;
		my $cmd = <$fh> // '';
		close $fh;
		my @argv = split /\0/, $cmd;
		next unless @argv && $argv[0] =~ m!(^|/)ffmpeg$!;
		open $fh, '<', "/proc/$pid/environ" or next;
		my %env = map { split /=/, $_, 2 } grep { /=/ } split /\0/, <$fh> // '';
		close $fh;
		next unless ($env{STREAM_SUPERVISOR_HLS_DIR} // '') eq $hls;
		next if defined $channel
			&& ($env{STREAM_SUPERVISOR_CHANNEL} // '') ne $channel;
		push @pids, $pid;
	}
	closedir $dh;

	return @pids;
}

# Polls $cond every 0.1 s for up to $secs seconds; true if it held.
sub wait_until {
	my ($secs, $cond) = @_;
	my $end = time() + $secs;
	while (time() < $end) {
		return 1 if $cond->();
		sleep(0.1);
	}
	return $cond->() ? 1 : 0;
}


###############################################################################
# Player tools (t/stream_autostart_players.t): pyxtream in a venv, Debian's
# chromium driven by t/browser/play.js, tv_validate_file. Installed by
# scripts/setup-test-tools.sh.
#   TEST_PYTHON        python with pyxtream (default ../target/player-tools/venv)
#   TEST_BROWSER_DIR   t/browser with node_modules (default t/browser)
#   CHROMIUM           the browser (default /usr/bin/chromium)
#   TEST_REQUIRE_PLAYER_TOOLS=1  a missing tool fails the test, not skips it

push @EXPORT, qw/ require_player_tools require_browser xmltv_text
	programme_title browser_play browser_dashboard run_python /;

our $PYTHON = $ENV{TEST_PYTHON}
	|| "$FindBin::Bin/../target/player-tools/venv/bin/python";
our $BROWSER_DIR = $ENV{TEST_BROWSER_DIR} || "$FindBin::Bin/browser";
our $CHROMIUM = $ENV{CHROMIUM} || '/usr/bin/chromium';

# Why the browser harness (chromium, node, puppeteer-core) cannot run
# here, or undef when it can.
sub browser_missing {
	return "no chromium at $CHROMIUM" unless -x $CHROMIUM;
	return 'no node' unless system('node --version >/dev/null 2>&1') == 0;
	return "no $BROWSER_DIR/node_modules (run scripts/setup-test-tools.sh)"
		unless -d "$BROWSER_DIR/node_modules/puppeteer-core";
	return undef;
}

# Why the player tools cannot run here, or undef when they all can.
sub player_tools_missing {
	return "no $PYTHON with pyxtream (run scripts/setup-test-tools.sh)"
		unless -x $PYTHON
		&& system("'$PYTHON' -c 'import pyxtream' >/dev/null 2>&1") == 0;
	return "no chromium at $CHROMIUM" unless -x $CHROMIUM;
	return 'no node' unless system('node --version >/dev/null 2>&1') == 0;
	return "no $BROWSER_DIR/node_modules (run scripts/setup-test-tools.sh)"
		unless -d "$BROWSER_DIR/node_modules/puppeteer-core"
		&& -f "$BROWSER_DIR/node_modules/hls.js/dist/hls.min.js";
	return 'no tv_validate_file and /usr/share/xmltv/xmltv.dtd (Debian package xmltv-util)'
		unless system('command -v tv_validate_file >/dev/null 2>&1') == 0
		&& -f '/usr/share/xmltv/xmltv.dtd';
	return undef;
}

# Skips the test when a player tool is missing, with the reason; with
# TEST_REQUIRE_PLAYER_TOOLS=1 (scripts/test.sh, CI) dies instead, so a
# missing tool is a failure there, never a silent skip.
sub require_player_tools {
	my $why = player_tools_missing() or return;
	die "player tools required (TEST_REQUIRE_PLAYER_TOOLS): $why\n"
		if $ENV{TEST_REQUIRE_PLAYER_TOOLS};
	Test::More::plan(skip_all => $why);
}

# The same for the tests that need only the browser harness.
sub require_browser {
	my $why = browser_missing() or return;
	die "player tools required (TEST_REQUIRE_PLAYER_TOOLS): $why\n"
		if $ENV{TEST_REQUIRE_PLAYER_TOOLS};
	Test::More::plan(skip_all => $why);
}

# An XMLTV document (text) for channels [[guide_id, name], ...]: for each,
# hour-long programmes from two hours before $now to four hours after,
# titled "<name> at HH:00" (UTC). Times in XMLTV's "YYYYmmddHHMMSS +0000".
sub xmltv_text {
	my ($channels, $now) = @_;
	my $hour = int($now / 3600) * 3600;
	my $fmt = sub {
		my @g = gmtime(shift);
		return sprintf('%04d%02d%02d%02d%02d%02d +0000', $g[5] + 1900,
			$g[4] + 1, @g[3, 2, 1, 0]);
	};
	my $x = qq{<?xml version="1.0" encoding="UTF-8"?>\n}
		. qq{<!DOCTYPE tv SYSTEM "xmltv.dtd">\n}
		. qq{<tv generator-info-name="stream_autostart tests">\n};
	my $esc = sub {
		(my $v = shift) =~ s/([&<>"])/'&#' . ord($1) . ';'/ge;
		return $v;
	};
	foreach my $c (@$channels) {
		$x .= sprintf(qq{  <channel id="%s"><display-name>%s}
			. qq{</display-name></channel>\n}, map { $esc->($_) } @$c);
	}
	foreach my $c (@$channels) {
		for my $h (-2 .. 3) {
			my $start = $hour + $h * 3600;
			my $title = programme_title($c->[1], $start);
			$x .= sprintf(qq{  <programme start="%s" stop="%s" channel="%s">}
				. qq{<title lang="en">%s</title><desc lang="en">About %s.</desc>}
				. qq{</programme>\n}, $fmt->($start), $fmt->($start + 3600),
				map { $esc->($_) } $c->[0], $title, $title);
		}
	}
	return $x . "</tv>\n";
}

# The title xmltv_text gives the programme of channel $name starting at $start.
sub programme_title {
	my ($name, $start) = @_;
	my @g = gmtime($start);
	return sprintf('%s at %02d:00', $name, $g[2]);
}

# Plays $stream with hls.js in headless chromium on the page $page (another
# origin); returns play.js' verdict as a hash (played, currentTime,
# errors, failedRequests, consoleErrors), or { harness => message } when
# the browser could not be run.
sub browser_play {
	my ($page, $stream, %o) = @_;
	require JSON::PP;
	my @cmd = ('node', "$BROWSER_DIR/play.js", '--page', $page,
		'--stream', $stream, '--wait', $o{wait} || 30,
		($o{switch} ? ('--switch', 1) : ()));
	open my $fh, '-|', @cmd or return { harness => "cannot run node: $!" };
	my $out = do { local $/; <$fh> } // '';
	close $fh;
	my $rc = $? >> 8;
	my ($line) = $out =~ /^(\{.*\})\s*\z/m;
	return { harness => "play.js exited $rc" } unless $rc == 0 && $line;
	return JSON::PP::decode_json($line);
}

# Runs t/browser/dashboard.js with its options (page, channel, viewer,
# filter, wait, screenshot); returns what it saw, or { harness => why }.
sub browser_dashboard {
	my (%o) = @_;
	require JSON::PP;
	my @cmd = ('node', "$BROWSER_DIR/dashboard.js",
		map { ("--$_", $o{$_}) } grep { defined $o{$_} } sort keys %o);
	open my $fh, '-|', @cmd or return { harness => "cannot run node: $!" };
	my $out = do { local $/; <$fh> } // '';
	close $fh;
	my $rc = $? >> 8;
	my ($line) = $out =~ /^(\{.*\})\s*\z/m;
	return { harness => "dashboard.js exited $rc" } unless $rc == 0 && $line;
	return JSON::PP::decode_json($line);
}

# Runs the player tools' python with a script file and arguments; returns
# (exit status, stdout).
sub run_python {
	my ($script, @args) = @_;
	open my $fh, '-|', $PYTHON, $script, @args
		or die "cannot run $PYTHON: $!\n";
	my $out = do { local $/; <$fh> } // '';
	close $fh;
	return ($? >> 8, $out);
}


# Cluster tests: starts the supervisor of node $n ({id, url, socket, hls,
# redis: the Redis port it reaches}) with a lease of $ttl seconds, and
# waits for its socket and its first heartbeat (so the other nodes see it
# in placement). $t is passed, not closed over: a $t a named sub holds
# would outlive Test::More's count and lose Test::Nginx's closing tests.
push @EXPORT, qw/ start_cluster_node /;

sub start_cluster_node {
	my ($t, $n, $ttl) = @_;
	my $d = $t->testdir();
	unlink $n->{socket};
	$n->{pid} = spawn($t, "supervisor-$n->{id}", sub {
		my $log = "$d/supervisor" . substr($n->{id}, 1) . ".log";
		open STDERR, '>>', $log;
		exec($SUPERVISOR,
			'--socket', $n->{socket},
			'--socket-mode', '666',
			'--redis-url', "redis://127.0.0.1:$n->{redis}/0",
			'--hls-dir', $n->{hls},
			'--segment-duration', '1s',
			'--log', 'debug',
			'--log-format', 'text',
			'--allow-upstream-networks', '127.0.0.0/8',
			'--node-id', $n->{id},
			'--node-url', $n->{url},
			'--lease-ttl', "${ttl}s",
		) or die "cannot exec: $!\n";
	});
	wait_until(10, sub { IO::Socket::UNIX->new(Peer => $n->{socket}) })
		or die "supervisor $n->{id} did not start\n";
	wait_until(10, sub { redis($t, 'EXISTS', "node:$n->{id}") eq '1' })
		or die "no heartbeat of $n->{id}\n";
}

1;

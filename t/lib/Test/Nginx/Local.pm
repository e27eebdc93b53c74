package Test::Nginx;

# A small, independent implementation of the Test::Nginx interface used by
# nginx's own test suite (nginx-tests), covering the calls this project's
# tests make, so that t/*.t run unchanged under either library.
#
# Environment, as in nginx-tests:
#   TEST_NGINX_BINARY        nginx binary (default: nginx in PATH)
#   TEST_NGINX_GLOBALS       extra main-context directives (load_module ...)
#   TEST_NGINX_GLOBALS_HTTP  extra http-context directives
#   TEST_NGINX_LEAVE         keep the test directory
#   TEST_NGINX_VERBOSE       log requests and responses (log_in/log_out)

use warnings;
use strict;

use base qw/ Exporter /;
our @EXPORT = qw/ log_in log_out http http_get http_head port /;
our @EXPORT_OK = qw/ http_start http_end /;

use File::Path qw/ rmtree /;
use File::Temp qw/ tempdir /;
use IO::Socket::INET;
use POSIX qw/ WNOHANG /;
use Socket qw/ CRLF /;
use Test::More qw//;
use Scalar::Util qw/ weaken /;
use Time::HiRes qw/ sleep /;

our $NGINX = defined $ENV{TEST_NGINX_BINARY} ? $ENV{TEST_NGINX_BINARY}
	: 'nginx';

my %ports;

# Live instances, finished in END: a test file's $t may live until global
# destruction (captured by a sub), when Test::More can no longer report.
my @instances;

END {
	foreach my $t (grep { defined } @instances) {
		$t->finish();
	}
}

sub new {
	my ($class) = @_;
	my $self = bless {}, $class;

	$self->{_testdir} = tempdir('nginx-test-XXXXXXXXXX', TMPDIR => 1)
		or die "cannot create a test directory: $!\n";
	# Worker processes run as an unprivileged user when started as root.
	chmod(0755, $self->{_testdir});
	$self->{_daemons} = [];

	push @instances, $self;
	weaken($instances[-1]);

	return $self;
}

sub DESTROY {
	my ($self) = @_;
	$self->finish();
}

# Stops nginx and the daemons, checks the error log for alerts, removes
# the test directory. Runs once.
sub finish {
	my ($self) = @_;
	local $?;

	return if $self->{_forked_child} || $self->{_finished}++;

	$self->stop();
	$self->stop_daemons();

	if (Test::More->builder->expected_tests) {
		my $alerts = join '', grep { /\[alert\]|exited on signal/ }
			split /^/m, $self->read_file('error.log');
		Test::More::is($alerts, '', 'no alerts');
	}

	if ($ENV{TEST_NGINX_LEAVE}) {
		Test::More::diag("test directory left: $self->{_testdir}");
	} else {
		rmtree($self->{_testdir});
	}
}

sub testdir {
	my ($self) = @_;
	return $self->{_testdir};
}

# Whether the nginx binary was built with the named features; skips the
# whole test file otherwise.
sub has {
	my ($self, @features) = @_;

	foreach my $feature (@features) {
		Test::More::plan(skip_all => "no $feature available")
			unless $self->has_module($feature);
	}

	return $self;
}

sub has_module {
	my ($self, $feature) = @_;

	my %without = (
		http => qr/--without-http(?!\S)/,
		rewrite => qr/--without-http_rewrite_module/,
		map => qr/--without-http_map_module/,
		proxy => qr/--without-http_proxy_module/,
	);
	my %with = (
		ssl => qr/--with-http_ssl_module/,
		http_v2 => qr/--with-http_v2_module/,
		realip => qr/--with-http_realip_module/,
		stream => qr/--with-stream(?!_)/,
	);

	my $v = $self->{_configure_args} //= `$NGINX -V 2>&1`;
	return $v =~ $with{$feature} if $with{$feature};
	return $v !~ $without{$feature} if $without{$feature};
	return 1;
}

sub has_daemon {
	my ($self, $daemon) = @_;

	my $found = $daemon =~ m!/! ? -x $daemon
		: grep { -x "$_/$daemon" } split /:/, $ENV{PATH} // '';
	Test::More::plan(skip_all => "$daemon not found") unless $found;

	return $self;
}

# One extra test is added: "no alerts" in the error log, checked at exit.
sub plan {
	my ($self, $plan) = @_;
	Test::More::plan(tests => $plan + 1);
	return $self;
}

sub write_file {
	my ($self, $name, $content) = @_;

	open my $fh, '>', $self->{_testdir} . '/' . $name
		or die "cannot create $name: $!\n";
	binmode $fh;
	print $fh $content;
	close $fh;

	return $self;
}

sub write_file_expand {
	my ($self, $name, $content) = @_;

	$content =~ s/%%TEST_GLOBALS%%/$self->test_globals()/gmse;
	$content =~ s/%%TEST_GLOBALS_HTTP%%/$self->test_globals_http()/gmse;
	$content =~ s/%%TESTDIR%%/$self->{_testdir}/gms;
	$content =~ s/127\.0\.0\.1:(8\d\d\d)/'127.0.0.1:' . port($1)/gmse;

	return $self->write_file($name, $content);
}

sub read_file {
	my ($self, $name) = @_;

	open my $fh, '<', $self->{_testdir} . '/' . $name or return '';
	local $/;
	my $content = <$fh>;
	close $fh;

	return $content // '';
}

sub test_globals {
	my ($self) = @_;
	my $d = $self->{_testdir};

	my $s = "pid $d/nginx.pid;\n"
		. "error_log $d/error.log debug;\n";
	$s .= $ENV{TEST_NGINX_GLOBALS} . "\n" if $ENV{TEST_NGINX_GLOBALS};

	return $s;
}

sub test_globals_http {
	my ($self) = @_;
	my $d = $self->{_testdir};

	my $s = "access_log $d/access.log;\n"
		. "client_body_temp_path $d/client_body_temp;\n"
		. "proxy_temp_path $d/proxy_temp;\n"
		. "fastcgi_temp_path $d/fastcgi_temp;\n"
		. "uwsgi_temp_path $d/uwsgi_temp;\n"
		. "scgi_temp_path $d/scgi_temp;\n";
	$s .= $ENV{TEST_NGINX_GLOBALS_HTTP} . "\n"
		if $ENV{TEST_NGINX_GLOBALS_HTTP};

	return $s;
}

# Starts nginx with the test directory as prefix; dies if it does not come
# up (the error log says why).
sub run {
	my ($self, $conf) = @_;
	my $d = $self->{_testdir};

	$conf //= 'nginx.conf';

	my $pid = fork();
	die "cannot fork: $!\n" unless defined $pid;

	if ($pid == 0) {
		my @args = ('-p', "$d/", '-c', $conf, '-e', 'error.log');
		exec($NGINX, @args) or die "cannot exec $NGINX: $!\n";
	}

	$self->{_nginx_pid} = $pid;

	unless ($self->waitforfile("$d/nginx.pid", $pid)) {
		my $log = $self->read_file('error.log');
		$self->{_nginx_pid} = undef;
		waitpid($pid, 0);
		die "nginx did not start:\n$log";
	}

	$self->{_started} = 1;
	return $self;
}

# Like run(), but returns undef instead of dying (for configurations that
# are expected to fail).
sub try_run {
	my ($self, $message) = @_;

	eval { $self->run(); };
	return $self unless $@;

	Test::More::diag("$message: $@") if $message && $ENV{TEST_NGINX_VERBOSE};
	return undef;
}

sub stop {
	my ($self) = @_;

	my $pid = $self->{_nginx_pid};
	return $self unless $pid;

	kill 'QUIT', $pid;
	foreach (1 .. 150) {
		last if waitpid($pid, WNOHANG) != 0;
		sleep(0.1);
	}
	if (kill 0, $pid) {
		kill 'TERM', $pid;
		waitpid($pid, 0);
	}

	$self->{_nginx_pid} = undef;
	$self->{_started} = 0;

	return $self;
}

# Starts a helper process (a daemon in the nginx-tests sense); stopped with
# TERM (then KILL) when the test ends.
sub run_daemon {
	my ($self, $cmd, @args) = @_;

	my $pid = fork();
	die "cannot fork: $!\n" unless defined $pid;

	if ($pid == 0) {
		if (ref($cmd) eq 'CODE') {
			$self->{_forked_child} = 1;
			$cmd->(@args);
			POSIX::_exit(0);
		}
		exec($cmd, @args) or die "cannot exec $cmd: $!\n";
	}

	push @{$self->{_daemons}}, $pid;
	return $pid;
}

sub stop_daemons {
	my ($self) = @_;

	while (my $pid = pop @{$self->{_daemons}}) {
		kill 'TERM', $pid;
		my $gone = 0;
		foreach (1 .. 100) {
			if (waitpid($pid, WNOHANG) != 0) { $gone = 1; last; }
			sleep(0.1);
		}
		next if $gone;
		kill 'KILL', $pid;
		waitpid($pid, 0);
	}

	return $self;
}

# Waits for a file to appear (up to 10 s); stops early if $pid died.
sub waitforfile {
	my ($self, $file, $pid) = @_;

	foreach (1 .. 100) {
		return 1 if -e $file;
		return 0 if defined $pid && waitpid($pid, WNOHANG) != 0;
		sleep(0.1);
	}

	return 0;
}

sub waitforsocket {
	my ($self, $peer) = @_;

	foreach (1 .. 100) {
		my $s = IO::Socket::INET->new(
			Proto => 'tcp',
			PeerAddr => $peer,
		);
		return 1 if defined $s;
		sleep(0.1);
	}

	return 0;
}

###############################################################################

# A free loopback port standing for the configured one ($n, e.g. 8080), the
# same for the whole test file.
sub port {
	my ($n) = @_;

	return $ports{$n} if $ports{$n};

	foreach (1 .. 100) {
		my $s = IO::Socket::INET->new(
			Proto => 'tcp',
			LocalAddr => '127.0.0.1',
			LocalPort => 0,
			Listen => 1,
			ReuseAddr => 1,
		) or next;
		my $port = $s->sockport();
		close $s;
		next if grep { $_ == $port } values %ports;
		return $ports{$n} = $port;
	}

	die "no free port for $n\n";
}

sub log_out {
	return unless $ENV{TEST_NGINX_VERBOSE};
	my ($msg) = @_;
	$msg =~ s/^/# >> /gm;
	$msg .= "\n" unless $msg =~ /\n\Z/;
	print $msg;
}

sub log_in {
	return unless $ENV{TEST_NGINX_VERBOSE};
	my ($msg) = @_;
	$msg =~ s/^/# << /gm;
	$msg =~ s/([^\x20-\x7e\n])/sprintf('\\x%02x', ord($1))/gme;
	$msg .= "\n" unless $msg =~ /\n\Z/;
	print $msg;
}

sub http_get {
	my ($url, %extra) = @_;
	return http(<<EOF, %extra);
GET $url HTTP/1.0
Host: localhost

EOF
}

sub http_head {
	my ($url, %extra) = @_;
	return http(<<EOF, %extra);
HEAD $url HTTP/1.0
Host: localhost

EOF
}

# Sends a raw request (LF line ends are turned into CRLF) and returns the
# whole response. Options: socket (an open one), start (send only, return
# the socket), sleep (before reading), body (sent after the request),
# timeout (seconds, default 30).
sub http {
	my ($request, %extra) = @_;

	my $s = http_start($request, %extra) or return;
	return $s if $extra{start};
	return http_end($s, %extra);
}

sub http_start {
	my ($request, %extra) = @_;
	my $s;

	$request =~ s/(?<!\r)\n/\r\n/g;

	eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		local $SIG{PIPE} = sub { die "sigpipe\n" };
		alarm($extra{timeout} || 30);

		$s = $extra{socket} || IO::Socket::INET->new(
			Proto => 'tcp',
			PeerAddr => '127.0.0.1:' . port(8080),
		) or die "cannot connect: $!\n";

		log_out($request);
		$s->print($request);
		$s->print($extra{body}) if defined $extra{body};
		sleep($extra{sleep}) if $extra{sleep};

		alarm(0);
	};
	alarm(0);
	if ($@) {
		log_in("died: $@");
		return undef;
	}

	return $s;
}

sub http_end {
	my ($s, %extra) = @_;
	my $reply;

	eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		local $SIG{PIPE} = sub { die "sigpipe\n" };
		alarm($extra{timeout} || 30);

		local $/;
		$reply = $s->getline();
		$s->close();

		alarm(0);
	};
	alarm(0);
	if ($@) {
		log_in("died: $@");
		return undef;
	}

	log_in($reply);
	return $reply;
}

###############################################################################

1;

package Test::Nginx;

# A small, independent implementation of the Test::Nginx interface of
# nginx's own test suite (nginx-tests), covering the calls this project's
# tests make, with the same semantics, so that t/*.t run unchanged under
# either library (t/lib/Test/Nginx.pm chooses). Where this one behaves
# otherwise, on purpose:
#   - the nginx binary defaults to `nginx` in PATH;
#   - port() takes free ports from the kernel (nginx-tests tries 8080 and
#     so on first);
#   - the test directory is world-readable, so that workers of nginx run
#     as root without `user root;` can read it;
#   - a daemon that ignores TERM is killed (nginx-tests waits for it).
#
# Environment, as in nginx-tests:
#   TEST_NGINX_BINARY        nginx binary (default: nginx in PATH)
#   TEST_NGINX_GLOBALS       extra main-context directives (load_module ...)
#   TEST_NGINX_GLOBALS_HTTP  extra http-context directives
#   TEST_NGINX_LEAVE         keep the test directory
#   TEST_NGINX_VERBOSE       log requests and responses (log_in/log_out)
# and one of its own:
#   TEST_NGINX_SLOW          a factor for nginx's start wait and the 8 s of
#                            http(): nginx under valgrind (scripts/memcheck.sh)

use warnings;
use strict;

use base qw/ Exporter /;
our @EXPORT = qw/ log_in log_out http http_get http_head port /;
our @EXPORT_OK = qw/ http_start http_end /;

use File::Path qw/ rmtree /;
use File::Temp qw/ tempdir /;
use IO::Socket::INET;
use POSIX qw/ WNOHANG /;
use Test::More qw//;
use Time::HiRes qw/ sleep /;

our $NGINX = defined $ENV{TEST_NGINX_BINARY} ? $ENV{TEST_NGINX_BINARY}
	: 'nginx';

my %ports;

my $SLOW = ($ENV{TEST_NGINX_SLOW} // '') =~ /^([1-9]\d*)$/ ? $1 : 1;

sub new {
	my ($class) = @_;
	my $self = bless {}, $class;

	$self->{_pid} = $$;
	$self->{_testdir} = tempdir('nginx-test-XXXXXXXXXX', TMPDIR => 1)
		or die "cannot create a test directory: $!\n";
	chmod(0755, $self->{_testdir});
	$self->{_daemons} = [];

	return $self;
}

# Stops nginx and the daemons, checks the error log, removes the test
# directory. As in nginx-tests this happens when $t is destroyed: a $t
# that a named sub closes over lives past Test::More's end-of-test check,
# and the two tests added here are then missing from the count.
sub DESTROY {
	my ($self) = @_;
	local $?;

	# Not in a forked daemon.
	return if $self->{_pid} != $$;

	$self->stop();
	$self->stop_daemons();

	if (Test::More->builder->expected_tests) {
		# No error log fails the file as in nginx-tests (where read_file
		# dies here), but the test directory is still removed.
		my $log = eval { $self->read_file('error.log') };
		Test::More::diag($@) unless defined $log;
		Test::More::is(defined $log ? join("\n", $log =~ /.+\[alert\].+/gm)
			: 'no error.log', '', 'no alerts');
		$log //= '';
		Test::More::is(join("\n", $log =~ /.+Sanitizer.+/gm), '',
			'no sanitizer errors');
	}

	if ($ENV{TEST_NGINX_LEAVE}) {
		Test::More::diag("test directory left: $self->{_testdir}");
	} else {
		eval { rmtree($self->{_testdir}); };
	}
}

sub testdir {
	my ($self) = @_;
	return $self->{_testdir};
}

# Skips the whole test file unless nginx has all the named features.
sub has {
	my ($self, @features) = @_;

	foreach my $feature (@features) {
		Test::More::plan(skip_all => "no $feature available")
			unless $self->has_module($feature);
	}

	return $self;
}

# Whether nginx -V shows the feature: a table as in nginx-tests for the
# ones this project uses, else the name itself as a pattern.
sub has_module {
	my ($self, $feature) = @_;

	my %without = map { $_ => "--without-http_${_}_module" }
		qw/ access rewrite map proxy fastcgi uwsgi scgi gzip upstream_keepalive /;
	my %regex = (
		(map { $_ => "(?s)^(?!.*$without{$_})" } keys %without),
		http => '(?s)^(?!.*--without-http(?!\S))',
		realip => '--with-http_realip_module',
		ssl => '--with-http_ssl_module',
		gzip_static => '--with-http_gzip_static_module',
		http_v2 => '--with-http_v2_module',
		stream => '--with-stream((?!\S)|=dynamic)',
	);

	my $re = $regex{$feature} // $feature;
	$self->{_configure_args} //= `$NGINX -V 2>&1`;

	return $self->{_configure_args} =~ $re ? 1 : 0;
}

sub has_daemon {
	my ($self, $daemon) = @_;

	my $found = grep { -x "$_/$daemon" } split /:/, $ENV{PATH} // '';
	Test::More::plan(skip_all => "$daemon not found") unless $found;

	return $self;
}

# Two tests are added: "no alerts" and "no sanitizer errors" in the error
# log, checked when $t is destroyed.
sub plan {
	my ($self, $plan) = @_;
	Test::More::plan(tests => $plan + 2);
	return $self;
}

sub write_file {
	my ($self, $name, $content) = @_;

	open my $fh, '>', $self->{_testdir} . '/' . $name
		or die "Can't create $name: $!";
	binmode $fh;
	print $fh $content;
	close $fh;

	return $self;
}

sub write_file_expand {
	my ($self, $name, $content) = @_;

	$content =~ s/%%TEST_GLOBALS%%/$self->test_globals()/gmse;
	$content =~ s/%%TEST_GLOBALS_HTTP%%/$self->test_globals_http()/gmse;
	$content =~ s/%%TEST_GLOBALS_STREAM%%/$self->test_globals_stream()/gmse;
	$content =~ s/%%TESTDIR%%/$self->{_testdir}/gms;
	$content =~ s/127\.0\.0\.1:(8\d\d\d)/'127.0.0.1:' . port($1)/gmse;
	$content =~ s/%%PORT_(\d+)%%/port($1)/gmse;

	return $self->write_file($name, $content);
}

# Dies when the file does not exist, as nginx-tests' does.
sub read_file {
	my ($self, $name) = @_;

	open my $fh, '<', $self->{_testdir} . '/' . $name
		or die "Can't open $name: $!";
	local $/;
	my $content = <$fh>;
	close $fh;

	return $content;
}

sub test_globals {
	my ($self) = @_;
	my $d = $self->{_testdir};

	return $self->{_test_globals} //= "pid $d/nginx.pid;\n"
		. "error_log $d/error.log debug;\n"
		. ($ENV{TEST_NGINX_GLOBALS} // '');
}

sub test_globals_http {
	my ($self) = @_;
	my $d = $self->{_testdir};

	return $self->{_test_globals_http} if defined $self->{_test_globals_http};

	my $s = "root $d;\n"
		. "access_log $d/access.log;\n"
		. "client_body_temp_path $d/client_body_temp;\n";
	foreach my $m (qw/ fastcgi proxy uwsgi scgi /) {
		$s .= "${m}_temp_path $d/${m}_temp;\n" if $self->has_module($m);
	}
	$s .= $ENV{TEST_NGINX_GLOBALS_HTTP} // '';

	return $self->{_test_globals_http} = $s;
}

sub test_globals_stream {
	my ($self) = @_;
	return $self->{_test_globals_stream} //=
		$ENV{TEST_NGINX_GLOBALS_STREAM} // '';
}

# Starts nginx (daemon off) with the test directory as prefix; dies if it
# does not come up, with the error log. $conf, if given, is a file whose
# text becomes nginx.conf.
sub run {
	my ($self, $conf) = @_;
	my $d = $self->{_testdir};

	if (defined $conf) {
		open my $fh, '<', $conf or die "Can't open $conf: $!";
		local $/;
		$self->write_file_expand('nginx.conf', <$fh>);
	}

	my $pid = fork();
	die "cannot fork: $!\n" unless defined $pid;

	if ($pid == 0) {
		# A configuration without %%TEST_GLOBALS%% still logs here.
		my @globals = $self->{_test_globals} ? ()
			: ('-g', "pid $d/nginx.pid; error_log $d/error.log debug;");
		exec($NGINX, '-p', "$d/", '-c', 'nginx.conf', '-e', 'error.log',
			@globals) or die "cannot exec $NGINX: $!\n";
	}

	unless ($self->waitforfile("$d/nginx.pid", $pid)) {
		my $log = eval { $self->read_file('error.log') } // '';
		waitpid($pid, WNOHANG) or kill('TERM', $pid) && waitpid($pid, 0);
		die "Can't start nginx:\n$log";
	}

	$self->{_nginx_pid} = $pid;
	$self->{_started} = 1;
	return $self;
}

# Like run(), but skips the whole test file when nginx does not start.
sub try_run {
	my ($self, $message) = @_;

	eval { $self->run(); };
	return $self unless $@;

	Test::More::diag($@) if $ENV{TEST_NGINX_VERBOSE};
	Test::More::plan(skip_all => $message);
	return $self;
}

sub stop {
	my ($self) = @_;

	return $self unless $self->{_started};

	my $pid = $self->{_nginx_pid};
	kill 'QUIT', $pid;
	my $exited;
	foreach (1 .. 900) {
		last if $exited = waitpid($pid, WNOHANG) != 0;
		sleep(0.1);
	}
	unless ($exited) {
		kill 'TERM', $pid;
		waitpid($pid, 0);
	}

	$self->{_started} = 0;
	return $self;
}

# Starts a helper process, a command or a sub run in a child; returns $t,
# as nginx-tests' does. Daemons are stopped with TERM, in the order they
# were started, when $t is destroyed.
sub run_daemon {
	my ($self, $cmd, @args) = @_;

	my $pid = fork();
	die "Can't fork daemon: $!\n" unless defined $pid;

	if ($pid == 0) {
		if (ref($cmd) eq 'CODE') {
			$cmd->(@args);
		} else {
			exec($cmd, @args) or warn "cannot exec $cmd: $!\n";
		}
		POSIX::_exit(0);
	}

	push @{$self->{_daemons}}, $pid;
	return $self;
}

sub stop_daemons {
	my ($self) = @_;

	while (my $pid = shift @{$self->{_daemons}}) {
		kill 'TERM', $pid;
		my $exited;
		foreach (1 .. 50) {
			last if $exited = waitpid($pid, WNOHANG) != 0;
			sleep(0.1);
		}
		next if $exited;
		Test::More::diag("daemon $pid ignored TERM: killed");
		kill 'KILL', $pid;
		waitpid($pid, 0);
	}

	return $self;
}

# Waits up to 5 s (times TEST_NGINX_SLOW) for a file to appear; stops
# early if $pid exited.
sub waitforfile {
	my ($self, $file, $pid) = @_;
	my $exited;

	foreach (1 .. 50 * $SLOW) {
		return 1 if -e $file;
		return 0 if $exited;
		$exited = waitpid($pid, WNOHANG) != 0 if $pid;
		sleep(0.1);
	}

	return undef;
}

# Waits up to 5 s for a TCP listener at $peer (host:port).
sub waitforsocket {
	my ($self, $peer) = @_;

	foreach (1 .. 50) {
		return 1 if IO::Socket::INET->new(Proto => 'tcp', PeerAddr => $peer);
		sleep(0.1);
	}

	return undef;
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

	die "Port limit exceeded";
}

sub log_core {
	return unless $ENV{TEST_NGINX_VERBOSE};
	my ($prefix, $msg) = @_;

	$msg =~ s/^/# $prefix /gm;
	$msg =~ s/([^\x20-\x7e\n])/sprintf('\\x%02x', ord($1))/gme;
	$msg .= "\n" unless $msg =~ /\n\Z/;
	print $msg;
}

sub log_out { log_core('>>', @_); }
sub log_in { log_core('<<', @_); }

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

# Sends a raw request, as written (nginx takes bare LF line ends), and
# returns the whole response. Options: socket (an open one), start (send
# only, return the socket), sleep (before the body), body. Each of sending
# and reading has 8 s.
sub http {
	my ($request, %extra) = @_;

	my $s = http_start($request, %extra);
	return $s if $extra{start} or !defined $s;
	return http_end($s, %extra);
}

sub http_start {
	my ($request, %extra) = @_;
	my $s;

	eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		local $SIG{PIPE} = sub { die "sigpipe\n" };
		alarm(8 * $SLOW);

		$s = $extra{socket} || IO::Socket::INET->new(
			Proto => 'tcp',
			PeerAddr => '127.0.0.1:' . port(8080),
		) or die "Can't connect to nginx: $!\n";

		log_out($request);
		$s->print($request);
		sleep($extra{sleep}) if $extra{sleep};
		if ($extra{body}) {
			log_out($extra{body});
			$s->print($extra{body});
		}

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
	my ($s) = @_;
	my $reply;

	eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		local $SIG{PIPE} = sub { die "sigpipe\n" };
		alarm(8 * $SLOW);

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

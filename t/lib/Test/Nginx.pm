package Test::Nginx;

# Chooses the Test::Nginx that t/*.t run under. t/*.t say `use lib 'lib'`
# as nginx-tests' files do, which puts t/lib first in @INC whatever prove's
# -I says, so the choice is made here:
#   NGINX_TESTS_LIB unset  this project's implementation, Test/Nginx/Local.pm
#   NGINX_TESTS_LIB=DIR    nginx-tests' own library, DIR/Test/Nginx.pm
#                          (DIR is nginx-tests' lib/ directory)

use warnings;
use strict;

if (defined $ENV{NGINX_TESTS_LIB} && $ENV{NGINX_TESTS_LIB} ne '') {
	my $dir = $ENV{NGINX_TESTS_LIB};
	my $file = "$dir/Test/Nginx.pm";
	-f $file or die "NGINX_TESTS_LIB=$dir: no $file\n";
	# Its own helpers (Test::Nginx::Stream and so on) come from there too.
	unshift @INC, $dir;
	do $file or die "cannot load $file: " . ($@ || $!) . "\n";
	$INC{'Test/Nginx.pm'} = $file;
} else {
	require Test::Nginx::Local;
}

1;

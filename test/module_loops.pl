#!/usr/bin/perl
# The C modules must not call each other in a loop (issue 18): the
# functions a file defines without "static" are its own; a file that calls
# another's depends on it.
# Prints the dependencies and exits 1 if any loop exists.
use strict;
use warnings;

my @files = sort glob('src/*.c');
my (%owner, %text, %deps);
for my $f (@files)
{
	(my $m = $f) =~ s{^src/(.*)\.c$}{$1};
	local $/;
	open my $fh, '<', $f or die "$f: $!";
	$text{$m} = <$fh>;
	# comments and string literals name functions without calling them
	$text{$m} =~ s{/\*.*?\*/}{ }gs;
	$text{$m} =~ s{"(?:[^"\\\n]|\\.)*"}{""}g;
	# a definition starts a line, after a line that is its (non-static) type
	$owner{$2} //= $m while $text{$m} =~ /^(?!static\b)([A-Za-z_][^\n(;]*)\n([a-z_][a-z_0-9]*)\(/mg;
}
for my $m (keys %text)
{
	for my $fn (keys %owner)
	{
		next if $owner{$fn} eq $m;
		$deps{$m}{ $owner{$fn} } = 1 if $text{$m} =~ /\b\Q$fn\E\(/;
	}
}
# a loop: some module reaches itself
my @loops;
for my $start (sort keys %text)
{
	my @todo = map { [ $_, "$start -> $_" ] } sort keys %{ $deps{$start} || {} };
	my %seen;
	while (my $item = shift @todo)
	{
		my ($m, $path) = @$item;
		if ($m eq $start) { push @loops, $path; last; }
		next if $seen{$m}++;
		push @todo, map { [ $_, "$path -> $_" ] } sort keys %{ $deps{$m} || {} };
	}
}
if (@loops)
{
	print STDERR "C modules that call each other in a loop:\n", map { "  $_\n" } @loops;
	exit 1;
}
exit 0;

#!/usr/bin/perl
# Builds a MaxMind DB country file from a CSV of "network,country" lines.
# Each record carries both layouts consentgate can read: GeoLite2-style
# country.iso_code and ip-location-db-style country_code.
# usage: build-test-mmdb.pl networks.csv out.mmdb
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my ($csv, $out) = @ARGV;
die "usage: $0 networks.csv out.mmdb\n" unless defined $out;

my %types = (country => 'map', iso_code => 'utf8_string', country_code => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 24,
    database_type            => 'consentgate-test-country',
    languages                => ['en'],
    description              => { en => 'consentgate test networks' },
    map_key_type_callback    => sub { $types{ $_[0] } },
    remove_reserved_networks => 0,   # the test ranges are reserved ones
    alias_ipv6_to_ipv4       => 1,
);

open my $fh, '<', $csv or die "$csv: $!\n";
my $n = 0;
while (my $line = <$fh>) {
    chomp $line;
    next if $line =~ /^\s*(#|$)/;
    my ($net, $cc) = split /\s*,\s*/, $line;
    die "$csv:$.: expected network,CC\n" unless $net && $cc && $cc =~ /^[A-Z]{2}$/;
    $tree->insert_network($net, { country => { iso_code => $cc }, country_code => $cc });
    $n++;
}
close $fh;

my $tmp = "$out.tmp.$$";
open my $oh, '>:raw', $tmp or die "$tmp: $!\n";
$tree->write_tree($oh);
close $oh or die "$tmp: $!\n";
# replace by rename: the daemon mmaps the file, it must never change in place
rename $tmp, $out or die "rename $out: $!\n";
print "wrote $out ($n networks)\n";

#!/bin/sh
# consentgate anchor command: an RFC 3161 timestamp for each signed chain head.
#
#   [signing]
#   anchor_command = /usr/share/consentgate/anchor-rfc3161.sh
#
# consentgated runs it with a head's signed envelope on stdin. It asks a
# timestamp authority (TSA_URL; FreeTSA by default — set your own, e.g. in
# the unit's Environment=) to stamp the SHA-256 of the exact signed bytes and
# prints the authority's response in base64, which is kept as the head's
# anchor (GET /consent/chain-head, the regulator bundle). Anyone can then show
# that the head — and so every row before it — existed unchanged at the
# stamped time, whoever holds the signing key:
#   openssl ts -verify -in head.tsr -data head.bin -CAfile TSA-CA.pem
# Needs curl and openssl; exits non-zero (the head is tried again later) when
# the authority cannot be reached or answers something else than a stamp.
set -eu
TSA_URL=${TSA_URL:-https://freetsa.org/tsr}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the envelope is compact JSON written by consentgate: "payload" is base64 of the signed head
sed -n 's/.*"payload":"\([^"]*\)".*/\1/p' | base64 -d >"$tmp/head.bin"
[ -s "$tmp/head.bin" ]
openssl ts -query -data "$tmp/head.bin" -sha256 -cert -out "$tmp/req.tsq" 2>/dev/null
curl -sSf --max-time 30 -H 'Content-Type: application/timestamp-query' \
	--data-binary @"$tmp/req.tsq" -o "$tmp/resp.tsr" "$TSA_URL"
# a granted stamp, or fail
openssl ts -reply -in "$tmp/resp.tsr" -text 2>/dev/null | grep -q '^Status: Granted'
base64 -w0 "$tmp/resp.tsr"

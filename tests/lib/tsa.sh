# shellcheck shell=bash
# A local RFC 3161 timestamp authority for the tests (openssl ts): a test CA,
# a TSA certificate under it, and tests/lib/tsa.py answering timestamp
# queries over HTTP on 127.0.0.1. cg_start_tsa DIR: out TSA_URL, TSA_CA,
# TSA_PID.
cg_start_tsa() {
	local d=$1
	mkdir -p "$d"
	cat >"$d/tsa.cnf" <<CNF
[ req ]
distinguished_name = dn
[ dn ]
[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
[ v3_tsa ]
basicConstraints = critical, CA:false
extendedKeyUsage = critical, timeStamping
keyUsage = critical, digitalSignature
[ tsa_config ]
serial = $d/serial
signer_cert = $d/tsa.crt
signer_key = $d/tsa.key
certs = $d/ca.crt
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ess_cert_id_alg = sha256
CNF
	echo 01 >"$d/serial"
	openssl req -x509 -newkey ed25519 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" -subj /CN=consentgate-test-ca \
		-days 2 -config "$d/tsa.cnf" -extensions v3_ca >/dev/null 2>&1 &&
	openssl req -new -newkey rsa:2048 -nodes -keyout "$d/tsa.key" -out "$d/tsa.csr" -subj /CN=consentgate-test-tsa \
		-config "$d/tsa.cnf" >/dev/null 2>&1 &&
	openssl x509 -req -in "$d/tsa.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -out "$d/tsa.crt" -days 2 \
		-extfile "$d/tsa.cnf" -extensions v3_tsa >/dev/null 2>&1 || return 1
	local port
	port=$(cg_free_port)
	python3 "$CG_SRC/tests/lib/tsa.py" "$port" "$d" &
	TSA_PID=$!
	TSA_URL="http://127.0.0.1:$port/tsr"
	TSA_CA="$d/ca.crt"
	cg_wait_for 10 bash -c "(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"
}

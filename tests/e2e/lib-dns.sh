# DNS servers for the DNS list tests, each on a free loopback port and
# stopped by the test's cleanup (e2e_track):
#   dns_auth_start ZONEFILE   dnsmasq, authoritative for the names the
#                             file's dnsmasq lines give; sets DNS_AUTH_PORT
#   dns_fake_start MODE       tests/e2e/dns-fake.py silent|servfail;
#                             sets DNS_FAKE_PORT
# Sourced after lib.sh.

dns_auth_start() { # CONF: dnsmasq lines (local=, host-record=, txt-record=)
	command -v dnsmasq >/dev/null ||
		e2e_die "dnsmasq is not installed (make check installs dnsmasq-base)"
	e2e_free_port
	DNS_AUTH_PORT=$E2E_PORT
	{
		printf 'no-resolv\nno-hosts\nbind-interfaces\n'
		printf 'listen-address=127.0.0.1\nport=%s\nlocal-ttl=300\n' "$DNS_AUTH_PORT"
		cat "$1"
	} >"$WORK/dnsmasq.conf"
	dnsmasq -k --conf-file="$WORK/dnsmasq.conf" --pid-file= \
		--log-facility="$WORK/dnsmasq.log" >>"$WORK/dnsmasq.log" 2>&1 &
	DNS_AUTH_PID=$!
	e2e_track "$DNS_AUTH_PID"
	e2e_record_pid "$DNS_AUTH_PID" dnsmasq
	e2e_wait 5 e2e_port_listening "$DNS_AUTH_PORT" ||
		e2e_die "dnsmasq did not listen on 127.0.0.1:$DNS_AUTH_PORT"
}

dns_fake_start() { # MODE
	e2e_free_port
	DNS_FAKE_PORT=$E2E_PORT
	python3 "$E2E_ROOT/tests/e2e/dns-fake.py" "$1" "$DNS_FAKE_PORT" \
		>>"$WORK/dns-fake.log" 2>&1 &
	DNS_FAKE_PID=$!
	e2e_track "$DNS_FAKE_PID"
	e2e_record_pid "$DNS_FAKE_PID" python3
	e2e_sleep 0.5
	e2e_alive "$DNS_FAKE_PID" || e2e_die "dns-fake.py $1 did not start"
}

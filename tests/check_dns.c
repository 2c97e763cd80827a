/*
 * check_dns.c: the DNS list resolver (milter/dns.c, built in) against a
 * real DNS server: a private dnsmasq on a loopback port that the suite
 * starts and stops.  Answers (A and TXT), NXDOMAIN, the cache (a stopped
 * server still gives cached answers), its bound, a server that never
 * answers (unknown within the timeout), an outage logged once and its
 * end, and many threads asking at once (also under ThreadSanitizer:
 * make unit-tsan).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_util.h"
#include "../milter/dns.h"
#include "../milter/log.h"
#include "../milter/session.h"

/* ---- what dns.c needs from the daemon: the clock and the log ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_down, log_back;

void
log_msg(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	(void)prio;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	log_down += strstr(line, "does not answer") != NULL;
	log_back += strstr(line, "does not answer") == NULL &&
	    strstr(line, "answers again") != NULL;
	pthread_mutex_unlock(&log_lock);
}

/* The log's counts, read under its lock (the resolver thread writes). */
static void
log_counts(int *down, int *back)
{
	pthread_mutex_lock(&log_lock);
	*down = log_down;
	*back = log_back;
	pthread_mutex_unlock(&log_lock);
}

static void
log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	log_down = log_back = 0;
	pthread_mutex_unlock(&log_lock);
}

uint64_t
sess_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- a private dnsmasq ---- */

static pid_t dnsmasq;
static int port, dead_fd, dead_port;

/* A loopback port in 20000-31999 free for both UDP and TCP. */
static int
free_port(int keep_udp, int *fd_out)
{
	int tries;

	for (tries = 0; tries < 200; tries++) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
		int p = 20000 + rand() % 12000, ok;

		a.sin_port = htons((uint16_t)p);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = bind(u, (struct sockaddr *)&a, sizeof a) == 0 &&
		    bind(t, (struct sockaddr *)&a, sizeof a) == 0;
		close(t);
		if (ok && keep_udp) {
			*fd_out = u;
			return p;
		}
		close(u);
		if (ok)
			return p;
	}
	ck_abort_msg("no free loopback port");
	return -1;
}

/* A TXT record of three 250-byte strings (a 750-byte answer: more than
 * UDP's 512, so c-ares asks again over TCP), for the bound on text kept. */
static char long_txt[1024];

static void
dnsmasq_start(void)
{
	char portarg[32], userarg[300], grouparg[300];
	struct passwd *pw = getpwuid(getuid());
	struct group *gr = getgrgid(getgid());
	int i, n;

	ck_assert_msg(pw != NULL && gr != NULL, "no name for uid %u or gid %u",
	    (unsigned)getuid(), (unsigned)getgid());
	snprintf(userarg, sizeof userarg, "--user=%s", pw->pw_name);
	snprintf(grouparg, sizeof grouparg, "--group=%s", gr->gr_name);

	n = snprintf(long_txt, sizeof long_txt, "--txt-record=long.bl.test");
	for (i = 0; i < 3; i++) {
		n += snprintf(long_txt + n, sizeof long_txt - (size_t)n, ",");
		memset(long_txt + n, 'a' + i, 250);
		n += 250;
		long_txt[n] = '\0';
	}

	port = free_port(0, NULL);
	snprintf(portarg, sizeof portarg, "--port=%d", port);
	if ((dnsmasq = fork()) == 0) {
		/* gone with the suite, even one a sanitizer ends at once
		 * (dnsmasq keeps our user and group: a change would clear it) */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execlp("dnsmasq", "dnsmasq", "-k", "--conf-file=/dev/null", userarg,
		    grouparg,
		    "--no-resolv", "--no-hosts", "--bind-interfaces",
		    "--listen-address=127.0.0.1", portarg, "--pid-file=",
		    "--log-facility=/dev/null", "--local-ttl=300",
		    "--local=/bl.test/", "--host-record=2.0.0.127.bl.test,127.0.0.2",
		    "--txt-record=2.0.0.127.bl.test,listed: test",
		    "--host-record=3.0.0.127.bl.test,127.0.0.2",
		    "--txt-record=3.0.0.127.bl.test,listed: later",
		    "--host-record=odd.bl.test,127.0.0.3",
		    "--host-record=long.bl.test,127.0.0.4", long_txt, (char *)NULL);
		_exit(127);
	}
	ck_assert_msg(dnsmasq > 0, "fork failed");
}

static void
dnsmasq_stop(void)
{
	kill(dnsmasq, SIGTERM);
	waitpid(dnsmasq, NULL, 0);
}

static const struct dnsl_resolver *
resolver(int server_port, unsigned long timeout_ms, unsigned long cache)
{
	static char servers[64];
	static struct pol_settings s;

	snprintf(servers, sizeof servers, "127.0.0.1:%d", server_port);
	s.dns.servers = servers;
	s.dns.timeout_ms = timeout_ms;
	s.dns.cache_size = cache;
	return dns_resolver(&s);
}

static enum dnsl_status
ask(const struct dnsl_resolver *r, const char *qname, struct dnsl_answer *a)
{
	memset(a, 0, sizeof *a);
	r->find(r->arg, "bl.test", qname, 1, a);
	return a->status;
}

static void
setup(void)
{
	const struct dnsl_resolver *r;
	struct dnsl_answer a;
	int i;

	srand((unsigned)getpid());
	dead_port = free_port(1, &dead_fd);
	dnsmasq_start();
	r = resolver(port, 500, 10000);
	for (i = 0; i < 50 && ask(r, "2.0.0.127.bl.test", &a) != DNSL_LISTED; i++)
		usleep(100000);
	ck_assert_msg(a.status == DNSL_LISTED, "dnsmasq did not answer on port %d", port);
}

static void
teardown(void)
{
	dnsmasq_stop();
	close(dead_fd);
}

START_TEST(test_answers)
{
	const struct dnsl_resolver *r = resolver(port, 500, 10000);
	struct dnsl_answer a;

	ck_assert_int_eq(ask(r, "2.0.0.127.bl.test", &a), DNSL_LISTED);
	ck_assert_int_eq(a.naddrs, 1);
	ck_assert_uint_eq(a.addrs[0], 0x7f000002);
	ck_assert_str_eq(a.text, "listed: test");
	ck_assert_int_eq(ask(r, "9.0.0.127.bl.test", &a), DNSL_NOT_LISTED);
	ck_assert_int_eq(ask(r, "odd.bl.test", &a), DNSL_LISTED);
	ck_assert_uint_eq(a.addrs[0], 0x7f000003);
	ck_assert_str_eq(a.text, "");
	/* a TXT longer than is kept: cut, whole strings joined, terminated */
	ck_assert_int_eq(ask(r, "long.bl.test", &a), DNSL_LISTED);
	ck_assert_uint_eq(strlen(a.text), DNSL_TEXT_MAX - 1);
	ck_assert_int_eq(a.text[0], 'a');
	ck_assert_int_eq(a.text[250], 'b');
}
END_TEST

/* A TXT asked of a cached A (a rule with the list's text after one
 * without) is waited for as long as a fresh lookup. */
START_TEST(test_txt_later)
{
	const struct dnsl_resolver *r = resolver(port, 300, 10000);
	struct dnsl_answer a;

	memset(&a, 0, sizeof a);
	r->find(r->arg, "bl.test", "3.0.0.127.bl.test", 0, &a);
	ck_assert_int_eq(a.status, DNSL_LISTED);
	ck_assert_str_eq(a.text, "");
	usleep(1000000);	/* past the A lookup's timeout and margin */
	ck_assert_int_eq(ask(r, "3.0.0.127.bl.test", &a), DNSL_LISTED);
	ck_assert_str_eq(a.text, "listed: later");
}
END_TEST

/* A stopped server: cached answers still come, new names are unknown,
 * the outage is logged once, its end once. */
START_TEST(test_cache_and_outage)
{
	const struct dnsl_resolver *r = resolver(port, 300, 10000);
	struct dnsl_answer a;
	int i, down, back;

	ck_assert_int_eq(ask(r, "2.0.0.127.bl.test", &a), DNSL_LISTED);
	ck_assert_int_eq(ask(r, "8.0.0.127.bl.test", &a), DNSL_NOT_LISTED);
	log_reset();
	kill(dnsmasq, SIGSTOP);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(ask(r, "2.0.0.127.bl.test", &a), DNSL_LISTED);
		ck_assert_str_eq(a.text, "listed: test");
		ck_assert_int_eq(ask(r, "8.0.0.127.bl.test", &a), DNSL_NOT_LISTED);
		ck_assert_int_eq(ask(r, "7.0.0.127.bl.test", &a), DNSL_UNKNOWN);
	}
	kill(dnsmasq, SIGCONT);
	for (i = 0; i < 50 && ask(r, "6.0.0.127.bl.test", &a) == DNSL_UNKNOWN; i++)
		usleep(100000);
	ck_assert_int_eq(a.status, DNSL_NOT_LISTED);
	/* the resolver thread logs just after it answers */
	for (i = 0, log_counts(&down, &back); back == 0 && i < 50; i++) {
		usleep(20000);
		log_counts(&down, &back);
	}
	ck_assert_msg(down == 1, "outage logged %d times, want 1", down);
	ck_assert_msg(back == 1, "recovery logged %d times, want 1", back);
}
END_TEST

/* cache_size bounds the answers kept: the oldest go first. */
START_TEST(test_bound)
{
	const struct dnsl_resolver *r = resolver(port, 300, 2);
	struct dnsl_answer a;
	char q[64];
	int i;

	for (i = 0; i < 20; i++) {
		snprintf(q, sizeof q, "%d.1.0.127.bl.test", i);
		ck_assert_int_eq(ask(r, q, &a), DNSL_NOT_LISTED);
	}
	kill(dnsmasq, SIGSTOP);
	ck_assert_int_eq(ask(r, "19.1.0.127.bl.test", &a), DNSL_NOT_LISTED);
	ck_assert_int_eq(ask(r, "0.1.0.127.bl.test", &a), DNSL_UNKNOWN);
	kill(dnsmasq, SIGCONT);
	resolver(port, 300, 10000);
}
END_TEST

/* A server that never answers: unknown, within the timeout and a margin. */
START_TEST(test_timeout)
{
	const struct dnsl_resolver *r = resolver(dead_port, 300, 10000);
	struct dnsl_answer a;
	uint64_t t0 = sess_now_ms();

	ck_assert_int_eq(ask(r, "5.0.0.127.bl.test", &a), DNSL_UNKNOWN);
	ck_assert_msg(sess_now_ms() - t0 < 3000, "unknown after %llu ms, want "
	    "about 300 + 250", (unsigned long long)(sess_now_ms() - t0));
	resolver(port, 500, 10000);
}
END_TEST

static void *
asker(void *arg)
{
	const struct dnsl_resolver *r = arg;
	struct dnsl_answer a;
	char q[64];
	int i, bad = 0;

	for (i = 0; i < 300; i++) {
		int n = rand() % 40;

		snprintf(q, sizeof q, n % 2 ? "odd.bl.test" : "%d.2.0.127.bl.test", n);
		ask(r, q, &a);
		bad += a.status != (n % 2 ? DNSL_LISTED : DNSL_NOT_LISTED);
	}
	return (void *)(long)bad;
}

/* Eight threads at once, cached and uncached names mixed. */
START_TEST(test_threads)
{
	const struct dnsl_resolver *r = resolver(port, 2000, 10000);
	pthread_t t[8];
	void *bad;
	int i;

	for (i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, asker, (void *)r);
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], &bad);
		ck_assert_msg(bad == NULL, "thread %d: %ld wrong answers", i, (long)bad);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dns");
	SRunner *sr;
	int failed;
	TCase *core = tcase_create("core"), *threads = tcase_create("threads");

	tcase_add_unchecked_fixture(core, setup, teardown);
	tcase_set_timeout(core, 60);
	tcase_add_test(core, test_answers);
	tcase_add_test(core, test_txt_later);
	tcase_add_test(core, test_cache_and_outage);
	tcase_add_test(core, test_bound);
	tcase_add_test(core, test_timeout);
	suite_add_tcase(s, core);
	tcase_add_unchecked_fixture(threads, setup, teardown);
	tcase_set_timeout(threads, 60);
	tcase_add_test(threads, test_threads);
	suite_add_tcase(s, threads);
	sr = srunner_create(s);
	/* one process: the resolver's thread does not survive a fork */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

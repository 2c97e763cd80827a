/*
 * main.c: milter-policy's entry point: options, the subcommands, loading
 * the policy, the socket, privileges, and handing over to smfi_main().
 *
 * Start-up failures exit with a sysexits code: EX_USAGE for bad options,
 * EX_CONFIG for an invalid policy, EX_OSERR when the socket or the
 * privilege drop fails.  Once smfi_main() runs nothing here exits.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "ctl.h"
#include "current.h"
#include "explain.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "policy.h"
#include "policyd.h"
#include "reload.h"
#include "replay.h"
#include "report.h"
#include "state.h"
#include "stop.h"
#include "try.h"

#define VERSION		"0.1.0"
#define DEFAULT_POLICY	"/etc/milter-policy/policy.conf"

struct options {
	const char *policy;
	const char *socket;
	const char *pidfile;
	int foreground;
	int test;
	int verbose;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: milter-policy [-ftvhV] [-c FILE] [-p SOCKET] [-P PIDFILE]\n"
	    "       milter-policy explain CODE\n"
	    "       milter-policy ctl [-c FILE] [-s SOCKET] stats | reload |\n"
	    "                         show RULE KEY | reset RULE KEY |\n"
	    "                         top [RULE] [-n N]\n"
	    "       milter-policy try [-c FILE] --client ADDR [--helo NAME] --from ADDR\n"
	    "                         --rcpt ADDR... [--auth USER] [--message FILE] [--no-dns]\n"
	    "       milter-policy replay [-c FILE] [--diff OLD] [--from TIME] [--to TIME]\n"
	    "                         [--state FILE] [--top N] [--json] LOG...\n"
	    "       milter-policy report [--json] [--top N] [FILE...]\n"
	    "\n"
	    "  -c FILE    policy file (default " DEFAULT_POLICY ")\n"
	    "  -p SOCKET  listen here instead of milter.socket: unix:/PATH,\n"
	    "             inet:PORT@HOST or inet6:PORT@HOST\n"
	    "  -P PIDFILE write the process id here once running; removed at stop\n"
	    "  -f         stay in the foreground and log to stderr as well\n"
	    "  -t         check the policy file, print its errors as FILE:LINE:,\n"
	    "             exit 0 when it is valid and 1 when it is not; with\n"
	    "             policy_service set, name the rules it cannot serve;\n"
	    "             each list with its number of entries; with -v every\n"
	    "             setting as parsed and each rule as compiled\n"
	    "  -v         log debug messages too\n"
	    "  -h         this help;  -V  the version\n"
	    "\n"
	    "  explain CODE   what an SMTP reply code means, whose side the\n"
	    "                 problem is on and what the sender should do\n"
	    "  ctl ...        ask the running milter over milter.control_socket:\n"
	    "                 its stats line, a reload, a counter, or a reset;\n"
	    "                 top: the counters nearest their limit\n"
	    "  try ...        run one transaction through the policy offline and\n"
	    "                 print each stage's verdict and reply; counters are\n"
	    "                 read from the state file or Redis, and charged only\n"
	    "                 to a scratch copy for the transaction's own steps\n"
	    "  report ...     what the milter refused, from its log lines\n"
	    "\n"
	    "Signals: SIGUSR1 reloads the policy, SIGUSR2 logs the stats line,\n"
	    "SIGTERM/SIGINT stop.  Not SIGHUP: libmilter treats it as stop.\n"
	    "See milter-policy(8) and milter-policy.conf(5).\n");
}

/* The pid file, written after the fork so it names the daemon. */
static int
pidfile_write(const char *path)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fprintf(fp, "%ld\n", (long)getpid()) < 0 ||
	    fclose(fp) != 0) {
		log_msg(LOG_ERR, "cannot write the pid file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
print_error(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	int ch;

	o->policy = DEFAULT_POLICY;
	while ((ch = getopt(argc, argv, "c:p:P:ftvhV")) != -1) {
		switch (ch) {
		case 'c': o->policy = optarg; break;
		case 'p': o->socket = optarg; break;
		case 'P': o->pidfile = optarg; break;
		case 'f': o->foreground = 1; break;
		case 't': o->test = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("milter-policy %s\n", VERSION); exit(0);
		default: usage(stderr); exit(EX_USAGE);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "milter-policy: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		exit(EX_USAGE);
	}
}

static int
cmd_explain(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: milter-policy explain CODE   (e.g. 550)\n");
		return EX_USAGE;
	}
	return explain_print(argv[2], stdout);
}

/* Drop root for the configured user; the socket is theirs first. */
static void
drop_privileges(const char *user, const char *sock, const char *sock_group)
{
	struct passwd *pw;

	if (user == NULL) {
		if (getuid() == 0)
			log_msg(LOG_WARNING, "running as root: set milter.user "
			    "to drop privileges after binding the socket");
		return;
	}
	if ((pw = getpwnam(user)) == NULL) {
		log_msg(LOG_ERR, "milter.user \"%s\": no such user", user);
		exit(EX_CONFIG);
	}
	/* Started as that user already (systemd's User=): nothing to drop. */
	if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid && pw->pw_uid != 0)
		return;
	/* The socket is the user's; its group stays milter.socket_group's. */
	if (sock != NULL && lchown(sock, pw->pw_uid, sock_group != NULL ?
	    (gid_t)-1 : pw->pw_gid) < 0)
		log_msg(LOG_WARNING, "chown %s: %s", sock, strerror(errno));
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0 || setuid(0) == 0) {
		log_msg(LOG_ERR, "cannot become user %s: %s", user,
		    strerror(errno));
		exit(EX_OSERR);
	}
}

/* Each MTA connection holds a descriptor: take all the hard limit allows,
 * so a busy MTA does not find the milter out of them at 1,024. */
static void
raise_open_files(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_msg(LOG_WARNING, "cannot raise the open files limit: %s",
			    strerror(errno));
	}
}

/* milter.thread_stack for every thread started from now on: libmilter
 * starts one per connection with the default attributes, and glibc keeps
 * only a few 8 MiB stacks for reuse, so each connection would map and
 * unmap a fresh one.  The guard page stays.  Called last before
 * smfi_main(): the signal (reload), control and saver threads, which
 * parse policies, keep the process's own stack size. */
static void
thread_stack_set(size_t bytes)
{
	pthread_attr_t a;
	int e;

	if (bytes == 0)
		return;
	if ((e = pthread_attr_init(&a)) != 0)
		goto fail;
	if ((e = pthread_attr_setstacksize(&a, bytes)) == 0)
		e = pthread_setattr_default_np(&a);
	pthread_attr_destroy(&a);
	if (e == 0)
		return;
fail:
	log_msg(LOG_WARNING, "milter.thread_stack %zu: %s; connections get "
	    "the system's default stack", bytes, strerror(e));
}

/* A start that failed after the sockets and the pid file were made:
 * remove them, as a stop does; returns rc. */
static int
run_abort(const struct options *o, const char *conn, int rc)
{
	if (listen_path(conn) != NULL)
		unlink(listen_path(conn));
	ctl_stop();
	policyd_stop();
	metrics_stop();
	if (o->pidfile != NULL)
		unlink(o->pidfile);
	return rc;
}

static int
run(const struct options *o, struct policy *p)
{
	const struct pol_settings *ps = pol_settings(p);
	const char *conn = o->socket ? o->socket : ps->socket;
	int rc;

	stop_hold();		/* a SIGTERM from here on is a clean stop */
	log_open(ps->syslog_facility, o->foreground);
	log_set_level(o->verbose ? LOG_DEBUG : ps->log_level);
	current_set(pol_ref(p));	/* p stays ours too, for the stop line */
	if (metrics_listen(ps->metrics.listen) < 0)	/* root, before the fork */
		return EX_OSERR;
	if (policyd_open(ps) < 0)	/* first: nothing to undo when it fails */
		return EX_OSERR;
	listen_open(conn, ps);
	if (!o->foreground && daemon(0, 0) < 0) {
		log_msg(LOG_ERR, "cannot run in the background: %s",
		    strerror(errno));
		return EX_OSERR;
	}
	/* Still root: the pid file may live in a root-owned /run directory. */
	if (o->pidfile != NULL && pidfile_write(o->pidfile) < 0)
		return EX_CANTCREAT;
	ctl_listen(ps->control_socket, ps->user);
	raise_open_files();
	drop_privileges(ps->user, listen_path(conn), ps->socket_group);
	reload_start(o->policy, ps->stats_interval_s);	/* before any other thread: signal mask */
	if (state_open(ps) < 0)
		return run_abort(o, conn, EX_CONFIG);
	if (metrics_start() < 0)
		return run_abort(o, conn, EX_OSERR);
	state_start_saver();
	ctl_serve_start();
	notify_start(ps->sendmail, ps->notify_max_per_hour, o->policy);
	policyd_start();
	thread_stack_set(ps->thread_stack);
	log_msg(LOG_INFO, "starting: policy %s, %d rules, socket %s",
	    pol_path(p), pol_rule_count(p), conn);
	rc = stop_run();
	policyd_stop();		/* no new decisions through the other door */
	state_drain();
	log_msg(LOG_INFO, "stopping: policy %s", pol_path(p));
	ctl_stop();		/* before the store it reads goes */
	metrics_stop();
	notify_stop();
	state_close();		/* saved, never freed: see state.h */
	if (listen_path(conn) != NULL)
		unlink(listen_path(conn));
	if (o->pidfile != NULL)
		unlink(o->pidfile);
	current_set(NULL);
	pol_unref(p);
	return rc == MI_SUCCESS ? 0 : EX_SOFTWARE;
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct policy *p;

	if (argc >= 2 && strcmp(argv[1], "explain") == 0)
		return cmd_explain(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "try") == 0)
		return try_main(argc - 1, argv + 1, DEFAULT_POLICY);
	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return ctl_main(argc - 1, argv + 1, DEFAULT_POLICY);
	if (argc >= 2 && strcmp(argv[1], "replay") == 0)
		return replay_main(argc - 1, argv + 1, DEFAULT_POLICY);
	if (argc >= 2 && strcmp(argv[1], "report") == 0)
		return report_main(argc - 1, argv + 1);
	parse_options(argc, argv, &o);
	if ((p = pol_load(o.policy, print_error, NULL)) == NULL) {
		fprintf(stderr, "milter-policy: %s is not valid%s\n", o.policy,
		    o.test ? "" : "; not started");
		return o.test ? 1 : EX_CONFIG;
	}
	if (o.test) {
		printf("%s: OK, %d rules\n", o.policy, pol_rule_count(p));
		pol_show(p, o.verbose, stdout);
		policyd_check(p, stdout);
		pol_unref(p);
		return 0;
	}
	return run(&o, p);
}

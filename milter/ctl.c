/* ctl.c: the control socket, server and client; see ctl.h. */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "current.h"
#include "listen.h"
#include "log.h"
#include "policy.h"
#include "reload.h"
#include "session.h"
#include "state.h"
#include "stats.h"
#include "store.h"
#include "text.h"
#include "top.h"

#define CTL_LINE	1024
#define CTL_OUT		(STATS_LINE + TOP_MAX * 512)	/* an answer, top's lines included */

static int ctl_fd = -1;
static char *ctl_path;
static pthread_t ctl_thread;
static int ctl_running;
static atomic_int ctl_stopping;

static int
addr_of(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a->sun_path)
		return -1;
	strcpy(a->sun_path, path);
	return 0;
}

/* "ok rule=R key=K used=N next=... retry_after=Ns limit=RATE/WINDOW":
 * the count and the limit in force (new fields go last: scripts read it). */
static void
show_line(const char *rule, const char *key, const char *period,
    const struct store_req *look, const struct store_res *res, char *out)
{
	char w[32];

	if (period != NULL)	/* a calendar quota: N per day, week, month */
		snprintf(w, sizeof w, "%s", period);
	else
		pol_window_text((unsigned long)(look->window_ms / 1000), w,
		    sizeof w);
	snprintf(out, STATS_LINE, "ok rule=%s key=%s used=%llu next=%s "
	    "retry_after=%llus limit=%llu/%s", rule, key,
	    (unsigned long long)res->count, res->allowed ? "allowed" :
	    "refused", (unsigned long long)(res->retry_after_ms + 999) / 1000,
	    (unsigned long long)(period ? look->burst : look->rate), w);
}

/* show or reset a greylisting rule's entry: KEY is a triplet as the log
 * shows it (its seen, wait and pass counters) or, with auto_whitelist, a
 * client network.  0 when RULE is no greylisting rule. */
static int
cmd_grey(struct policy *p, struct store *st, int reset, const char *rule_in,
    const char *key_in, const char *rule, const char *key, char *out)
{
	static const char *const what[] = { "grey-pass", "grey-wait",
	    "grey-seen", "grey-awl" };
	unsigned char id[POL_ID_MAX];
	struct store_req look;
	struct store_res res[4];
	int i, found = 0, live[4] = { 0 };
	size_t idlen;

	for (i = 0; i < 4; i++) {
		if (pol_grey_counter(p, rule_in, what[i], key_in, id, &idlen,
		    &look) < 0)
			continue;
		found = 1;
		if (reset ? store_reset(st, id, idlen) != STORE_OK :
		    store_take(st, &look, sess_now_ms(), &res[i]) != STORE_OK) {
			snprintf(out, STATS_LINE, "error the store did not answer");
			return 1;
		}
		live[i] = !reset && (i == 3 ? res[i].count > 0 : !res[i].allowed);
	}
	if (!found)
		return 0;
	if (reset) {
		snprintf(out, STATS_LINE, "ok reset rule=%s key=%s", rule, key);
		log_msg(LOG_NOTICE, "ctl: reset rule=%s key=%s", rule, key);
	} else if (live[3])
		snprintf(out, STATS_LINE, "ok rule=%s key=%s greylist=client "
		    "passed=%llu%s", rule, key, (unsigned long long)res[3].count,
		    res[3].allowed ? "" : " (whitelisted)");
	else
		snprintf(out, STATS_LINE, "ok rule=%s key=%s greylist=%s "
		    "retry_after=%llus", rule, key, live[0] ? "passed" : live[1] ?
		    "waiting" : live[2] ? "retry-open" : "unknown",
		    live[1] ? (unsigned long long)(res[1].retry_after_ms + 999) / 1000 : 0ull);
	return 1;
}

/* show or reset RULE KEY against the current policy and the store. */
static void
cmd_counter(int reset, const char *rule_in, const char *key_in, char *out)
{
	struct policy *p = current_get();
	struct store *st = state_store();
	char rule[TEXT_VALUE_MAX + 1], key[TEXT_VALUE_MAX + 1];
	unsigned char id[POL_ID_MAX];
	struct store_req look;
	struct store_res res;
	size_t idlen;
	int kind = 0;

	text_clean(rule_in, rule, sizeof rule);
	text_clean(key_in, key, sizeof key);
	if (p == NULL || st == NULL)
		snprintf(out, STATS_LINE, "error the milter is stopping");
	else if ((kind = pol_counter(p, rule_in, key_in, id, &idlen,
	    &look)) < 0 && cmd_grey(p, st, reset, rule_in, key_in, rule, key,
	    out))
		;	/* a greylisting rule's entry */
	else if (kind < 0)
		snprintf(out, STATS_LINE, "error no limit or greylist rule "
		    "\"%s\" with a key like \"%s\"", rule, key);
	else if (!reset && kind != 0)
		snprintf(out, STATS_LINE, "ok rule=%s key=%s used=0 next=%s "
		    "retry_after=0s limit=%s", rule, key,
		    kind == POL_COUNTER_ZERO ? "refused" : "allowed",
		    kind == POL_COUNTER_ZERO ? "0 (overrides: refused always)" :
		    "unlimited (overrides: never refused nor counted)");
	else if (reset && store_reset(st, id, idlen) == STORE_OK) {
		snprintf(out, STATS_LINE, "ok reset rule=%s key=%s", rule, key);
		log_msg(LOG_NOTICE, "ctl: reset rule=%s key=%s", rule, key);
	} else if (!reset && store_take(st, &look, sess_now_ms(), &res) ==
	    STORE_OK)
		show_line(rule, key, pol_counter_period(p, rule_in), &look, &res,
		    out);
	else
		snprintf(out, STATS_LINE, "error the store did not answer");
	pol_unref(p);
}

/* top [RULE] [-n N]: "ok N counters" and a line per counter. */
static void
cmd_top(char **argv, int n, char *out)
{
	struct store *st = state_store();
	const char *rule = NULL;
	char *end, r[TEXT_VALUE_MAX + 1];
	long max = 10;
	int i, len;

	for (i = 1; i < n; i++)
		if (strcmp(argv[i], "-n") == 0 && i + 1 < n) {
			max = strtol(argv[++i], &end, 10);
			if (*end != '\0' || max < 1 || max > TOP_MAX) {
				snprintf(out, CTL_OUT, "error -n takes 1 to %d", TOP_MAX);
				return;
			}
		} else if (rule == NULL && argv[i][0] != '-')
			rule = argv[i];
		else {
			snprintf(out, CTL_OUT, "error usage: top [RULE] [-n N]");
			return;
		}
	if (st == NULL) {
		snprintf(out, CTL_OUT, "error the milter is stopping");
		return;
	}
	len = snprintf(out, CTL_OUT, "ok top:\n");
	if ((i = top_list(st, rule, (int)max, sess_now_ms(), out + len,
	    CTL_OUT - (size_t)len)) <= 0)
		snprintf(out, CTL_OUT, i < 0 ? "error out of memory" :
		    "ok top: no counter in use%s%s", rule ? " for rule " : "",
		    rule ? text_clean(rule, r, sizeof r), r : "");
	len = (int)strlen(out);
	if (out[len - 1] == '\n')
		out[len - 1] = '\0';	/* ctl_serve adds the last newline */
}

/* One command line into one answer line; the line is the client's. */
static void
ctl_command(char *line, char *out)
{
	char *argv[6] = { NULL }, *save = NULL;
	int n = 0;

	/* up to 5 words: no command takes a fifth, so one (or a sixth) is an error */
	for (argv[0] = strtok_r(line, " \t\r\n", &save); argv[n] && n < 5;)
		argv[++n] = strtok_r(NULL, " \t\r\n", &save);
	if (n == 1 && strcmp(argv[0], "stats") == 0) {
		memcpy(out, "ok ", 3);
		stats_line(out + 3);
	} else if (n == 1 && strcmp(argv[0], "reload") == 0)
		snprintf(out, STATS_LINE, reload_now() == 0 ? "ok reloaded" :
		    "error the policy file is not valid (see the log); the old "
		    "policy stays");
	else if (n == 3 && (strcmp(argv[0], "show") == 0 ||
	    strcmp(argv[0], "reset") == 0))
		cmd_counter(argv[0][0] == 'r', argv[1], argv[2], out);
	else if (n >= 1 && strcmp(argv[0], "top") == 0)
		cmd_top(argv, n, out);
	else
		snprintf(out, STATS_LINE, "error unknown command; expected: stats, "
		    "reload, show RULE KEY, reset RULE KEY, top [RULE] [-n N]");
}

/* The socket's mode already keeps others out; this holds if an admin
 * loosens it: only root and the milter's own user are answered. */
static int
peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return 0;
	if (cr.uid == 0 || cr.uid == geteuid())
		return 1;
	log_msg(LOG_WARNING, "ctl: refused a command from uid %u", (unsigned)cr.uid);
	return 0;
}

static void
ctl_serve(int fd)
{
	static const char denied[] = "error not allowed: root or the milter's "
	    "user only\n";
	static char out[CTL_OUT + 8];	/* one ctl thread */
	struct timeval tv = { 5, 0 };
	char line[CTL_LINE + 1];
	ssize_t n;

	if (!peer_allowed(fd)) {
		if (send(fd, denied, sizeof denied - 1, MSG_NOSIGNAL) < 0)
			log_msg(LOG_DEBUG, "ctl: the client left");
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	n = read(fd, line, CTL_LINE);
	if (n <= 0)
		return;
	line[n] = '\0';
	ctl_command(line, out);
	strcat(out, "\n");
	if (send(fd, out, strlen(out), MSG_NOSIGNAL) < 0)
		log_msg(LOG_DEBUG, "ctl: the client left: %s", strerror(errno));
}

static void *
ctl_main_loop(void *arg)
{
	int fd;

	(void)arg;
	while (!atomic_load(&ctl_stopping)) {
		/* CLOEXEC: not into a notify's sendmail */
		if ((fd = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			ctl_serve(fd);
			close(fd);
		} else if (errno != EINTR && !atomic_load(&ctl_stopping)) {
			/* out of descriptors under load: wait, do not give up */
			log_msg(LOG_WARNING, "ctl: accept: %s", strerror(errno));
			usleep(100000);
		}
	}
	return NULL;
}

/* Whatever is at path may be replaced only if it is a socket no process
 * answers on: a typo must not delete a file, nor this milter's own MTA
 * socket or another instance's control socket. */
static int
path_free(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT;
	return S_ISSOCK(st.st_mode) && !listen_socket_live(path);
}

void
ctl_listen(const char *path, const char *user)
{
	struct passwd *pw = user != NULL ? getpwnam(user) : NULL;
	struct sockaddr_un a;
	mode_t old_mask;
	int rc;

	if (path == NULL || path[0] == '\0')
		return;
	if (addr_of(path, &a) < 0 || !path_free(path) ||
	    (ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_msg(LOG_WARNING, "ctl: %s is too long, in use or not a "
		    "socket; no control socket", path);
		return;
	}
	unlink(path);
	/* made 0600 as it is bound, and given away without following a
	 * link: no chmod or chown by path while the directory may change */
	old_mask = umask(0177);
	rc = bind(ctl_fd, (struct sockaddr *)&a, sizeof a);
	umask(old_mask);
	if (rc < 0 || listen(ctl_fd, 8) < 0 ||
	    (pw != NULL && lchown(path, pw->pw_uid, pw->pw_gid) < 0)) {
		log_msg(LOG_WARNING, "ctl: cannot listen on %s: %s; no control "
		    "socket", path, strerror(errno));
		close(ctl_fd);
		ctl_fd = -1;
		return;
	}
	ctl_path = strdup(path);
}

void
ctl_serve_start(void)
{
	if (ctl_fd < 0)
		return;
	if (pthread_create(&ctl_thread, NULL, ctl_main_loop, NULL) != 0) {
		log_msg(LOG_WARNING, "ctl: no thread; no control socket");
		return;
	}
	ctl_running = 1;
}

void
ctl_stop(void)
{
	atomic_store(&ctl_stopping, 1);
	if (ctl_fd >= 0)
		shutdown(ctl_fd, SHUT_RDWR);	/* wakes accept() */
	if (ctl_running)
		pthread_join(ctl_thread, NULL);
	ctl_running = 0;
	if (ctl_fd >= 0)
		close(ctl_fd);
	ctl_fd = -1;
	if (ctl_path != NULL)
		unlink(ctl_path);
	free(ctl_path);
	ctl_path = NULL;
}

/* ---- the client ---- */

static int
ctl_usage(void)
{
	fprintf(stderr, "usage: milter-policy ctl [-c FILE] [-s SOCKET] "
	    "stats | reload | show RULE KEY | reset RULE KEY |\n"
	    "       top [RULE] [-n N]\n");
	return EX_USAGE;
}

static int
ctl_send(const char *path, const char *line)
{
	struct timeval tv = { 10, 0 };	/* a milter that hangs: exit 69 */
	struct sockaddr_un a;
	char buf[STATS_LINE + 8];
	ssize_t n;
	int fd, ok;

	if (addr_of(path, &a) < 0 || (fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		fprintf(stderr, "milter-policy ctl: cannot reach %s: %s\n", path,
		    strerror(errno));
		return EX_UNAVAILABLE;
	}
	if (write(fd, line, strlen(line)) < 0 ||
	    (n = read(fd, buf, sizeof buf - 1)) <= 0) {
		fprintf(stderr, "milter-policy ctl: no answer from %s\n", path);
		close(fd);
		return EX_UNAVAILABLE;
	}
	ok = strncmp(buf, "ok", 2) == 0;
	do	/* the answer may take more than one read (top) */
		fwrite(buf, 1, (size_t)n, stdout);
	while ((n = read(fd, buf, sizeof buf)) > 0);
	close(fd);
	return ok ? 0 : 1;
}

static void
print_error(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

int
ctl_main(int argc, char **argv, const char *default_policy)
{
	const char *policy = default_policy, *sock = NULL;
	char line[CTL_LINE];
	struct policy *p = NULL;
	size_t len = 0;
	int i = 1, rc;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2)
		if (strcmp(argv[i], "-c") == 0)
			policy = argv[i + 1];
		else if (strcmp(argv[i], "-s") == 0)
			sock = argv[i + 1];
		else
			return ctl_usage();
	if (i >= argc)
		return ctl_usage();
	if (sock == NULL) {
		if ((p = pol_load(policy, print_error, NULL)) == NULL)
			return EX_CONFIG;
		sock = pol_settings(p)->control_socket;
		if (sock == NULL || sock[0] == '\0') {
			fprintf(stderr, "milter-policy ctl: %s sets no "
			    "milter.control_socket\n", policy);
			pol_unref(p);
			return EX_CONFIG;
		}
	}
	for (line[0] = '\0'; i < argc && len + strlen(argv[i]) + 2 < sizeof line; i++)
		len += (size_t)snprintf(line + len, sizeof line - len, "%s%s",
		    argv[i], i + 1 < argc ? " " : "\n");
	if (i < argc) {
		fprintf(stderr, "milter-policy ctl: the command is longer than "
		    "%zu bytes\n", sizeof line - 2);
		pol_unref(p);
		return EX_USAGE;
	}
	rc = ctl_send(sock, line);
	pol_unref(p);
	return rc;
}

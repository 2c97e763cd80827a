/* ctl.c: the control socket, server and client; see ctl.h. */
#include <errno.h>
#include <pwd.h>
#include <pthread.h>
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
#include "log.h"
#include "policy.h"
#include "reload.h"
#include "session.h"
#include "state.h"
#include "stats.h"
#include "store.h"

#define CTL_LINE	1024

static int ctl_fd = -1;
static char *ctl_path;

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

/* show or reset RULE KEY against the current policy and the store. */
static void
cmd_counter(int reset, const char *rule, const char *key, char *out)
{
	struct policy *p = current_get();
	unsigned char id[POL_ID_MAX];
	struct store_req look;
	struct store_res res;
	size_t idlen;

	if (pol_counter(p, rule, key, id, &idlen, &look) < 0)
		snprintf(out, STATS_LINE, "error no limit rule \"%.64s\" with a "
		    "key like \"%.128s\"", rule, key);
	else if (reset && store_reset(state_store(), id, idlen) == STORE_OK) {
		snprintf(out, STATS_LINE, "ok reset rule=%.64s key=%.128s", rule,
		    key);
		log_msg(LOG_NOTICE, "ctl: reset rule=%.64s key=%.128s", rule, key);
	} else if (!reset && store_take(state_store(), &look, sess_now_ms(), &res) ==
	    STORE_OK)
		snprintf(out, STATS_LINE, "ok rule=%.64s key=%.128s used=%llu "
		    "next=%s retry_after=%llus", rule, key,
		    (unsigned long long)res.count, res.allowed ? "allowed" :
		    "refused", (unsigned long long)(res.retry_after_ms + 999) / 1000);
	else
		snprintf(out, STATS_LINE, "error the store did not answer");
	pol_unref(p);
}

/* One command line into one answer line; the line is the client's. */
static void
ctl_command(char *line, char *out)
{
	char *argv[5] = { NULL }, *save = NULL;
	int n = 0;

	/* up to 4 words: a fourth makes any command unknown */
	for (argv[0] = strtok_r(line, " \t\r\n", &save); argv[n] && n < 4;)
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
	else
		snprintf(out, STATS_LINE, "error unknown command; expected: stats, "
		    "reload, show RULE KEY, reset RULE KEY");
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
	struct timeval tv = { 5, 0 };
	char line[CTL_LINE + 1], out[STATS_LINE + 8];
	ssize_t n;

	if (!peer_allowed(fd)) {
		if (write(fd, denied, sizeof denied - 1) < 0)
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
	if (write(fd, out, strlen(out)) < 0)
		log_msg(LOG_DEBUG, "ctl: the client left: %s", strerror(errno));
}

static void *
ctl_main_loop(void *arg)
{
	int fd;

	(void)arg;
	while ((fd = accept(ctl_fd, NULL, NULL)) >= 0 || errno == EINTR) {
		if (fd < 0)
			continue;
		ctl_serve(fd);
		close(fd);
	}
	return NULL;
}

void
ctl_listen(const char *path, const char *user)
{
	struct passwd *pw = user != NULL ? getpwnam(user) : NULL;
	struct sockaddr_un a;

	if (path == NULL || path[0] == '\0')
		return;
	if (addr_of(path, &a) < 0 ||
	    (ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_msg(LOG_WARNING, "ctl: cannot use %s; no control socket", path);
		return;
	}
	unlink(path);
	if (bind(ctl_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    chmod(path, 0600) < 0 || listen(ctl_fd, 8) < 0 ||
	    (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) < 0)) {
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
	pthread_t t;

	if (ctl_fd < 0)
		return;
	if (pthread_create(&t, NULL, ctl_main_loop, NULL) != 0) {
		log_msg(LOG_WARNING, "ctl: no thread; no control socket");
		return;
	}
	pthread_detach(t);
}

void
ctl_stop(void)
{
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
	    "stats | reload | show RULE KEY | reset RULE KEY\n");
	return EX_USAGE;
}

static int
ctl_send(const char *path, const char *line)
{
	struct sockaddr_un a;
	char buf[STATS_LINE + 8];
	ssize_t n;
	int fd;

	if (addr_of(path, &a) < 0 || (fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
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
	close(fd);
	buf[n] = '\0';
	fputs(buf, stdout);
	return strncmp(buf, "ok", 2) == 0 ? 0 : 1;
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
	rc = ctl_send(sock, line);
	pol_unref(p);
	return rc;
}

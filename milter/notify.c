/* notify.c: the over-limit mail to a rule's notify address; see notify.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

#define SENDMAIL_WAIT_MS	30000	/* then sendmail is killed */
#define VALUE_MAX	256
#define MAX_PER_HOUR	1000	/* conf.c's bound on notify_max_per_hour */

extern char **environ;

struct mail {
	char to[VALUE_MAX + 1];
	char text[NOTIFY_BODY];
	size_t len;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct mail queue[NOTIFY_QUEUE];
static int qhead, qlen, running, stopping;
static pthread_t thread;
static char sendmail_path[1024], policy_path[1024];
static unsigned max_hour;
static time_t sent[MAX_PER_HOUR];	/* times of the mails of the last hour */
static int shead, slen;
static time_t refused_logged;		/* the last "budget spent" warning */

/* v as printable ASCII without spaces, cut to VALUE_MAX, "unknown" for NULL. */
static const char *
clean(const char *v, char *buf)
{
	size_t i;

	if (v == NULL || *v == '\0')
		return "unknown";
	for (i = 0; v[i] != '\0' && i < VALUE_MAX; i++)
		buf[i] = (unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f ?
		    '?' : v[i];
	buf[i] = '\0';
	return buf;
}

/* The key quoted for a shell: no ' in it (clean keeps none but this). */
static const char *
shell_word(const char *v, char *buf)
{
	char *p;

	clean(v, buf);
	for (p = buf; *p; p++)
		if (*p == '\'')
			*p = '?';
	return buf;
}

/* The event's values, cleaned, each in a buffer of its own. */
struct clean_event {
	char to[VALUE_MAX + 1], rule[VALUE_MAX + 1], key[VALUE_MAX + 1];
	char word[VALUE_MAX + 1], limit[VALUE_MAX + 1], verb[VALUE_MAX + 1];
	char stage[VALUE_MAX + 1], qid[VALUE_MAX + 1], name[VALUE_MAX + 1];
	char addr[VALUE_MAX + 1], sender[VALUE_MAX + 1], policy[VALUE_MAX + 16];
	char reply[VALUE_MAX + 16], when[32];
};

static void
clean_event(const struct notify_event *e, time_t now, const char *policy,
    struct clean_event *c)
{
	char x[VALUE_MAX + 1];
	struct tm tm;

	snprintf(c->to, sizeof c->to, "%s", clean(e->to, x));
	snprintf(c->rule, sizeof c->rule, "%s", clean(e->rule, x));
	snprintf(c->key, sizeof c->key, "%s", clean(e->key, x));
	snprintf(c->word, sizeof c->word, "%s", shell_word(e->key, x));
	snprintf(c->limit, sizeof c->limit, "%s", clean(e->limit, x));
	snprintf(c->verb, sizeof c->verb, "%s", clean(e->verb, x));
	snprintf(c->stage, sizeof c->stage, "%s", clean(e->stage, x));
	snprintf(c->qid, sizeof c->qid, "%s", clean(e->queue_id, x));
	snprintf(c->name, sizeof c->name, "%s", clean(e->client_name, x));
	snprintf(c->addr, sizeof c->addr, "%s", clean(e->client_addr, x));
	snprintf(c->sender, sizeof c->sender, "%s", e->sender && *e->sender ?
	    clean(e->sender, x) : "");
	c->policy[0] = c->reply[0] = '\0';
	if (policy != NULL && *policy != '\0')
		snprintf(c->policy, sizeof c->policy, " -c %s", shell_word(policy, x));
	if (e->code != 0)
		snprintf(c->reply, sizeof c->reply, " with %d %s", e->code,
		    e->xcode ? clean(e->xcode, x) : "");
	gmtime_r(&now, &tm);
	strftime(c->when, sizeof c->when, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

size_t
notify_compose(const struct notify_event *e, time_t now, const char *policy,
    char *buf, size_t bufsz)
{
	struct clean_event c;
	int len;

	clean_event(e, now, policy, &c);
	len = snprintf(buf, bufsz,
	    "To: %s\nSubject: milter-policy: %s over its limit for %s\n"
	    "Auto-Submitted: auto-generated\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n"
	    "A counter of rule %s went over its limit: milter-policy refused\n"
	    "(%s) at %s%s.\n\n"
	    "  rule:     %s\n  key:      %s\n  limit:    %s\n  when:     %s\n"
	    "  queue id: %s\n  client:   %s[%s]\n  sender:   <%s>\n\n"
	    "Later refusals of this counter in this window are not mailed.\n"
	    "To see the counter, or to forget it so the client is served again:\n\n"
	    "  milter-policy ctl%s show %s '%s'\n"
	    "  milter-policy ctl%s reset %s '%s'\n",
	    c.to, c.rule, c.key, c.rule, c.verb, c.stage, c.reply, c.rule,
	    c.key, c.limit, c.when, c.qid, c.name, c.addr, c.sender,
	    c.policy, c.rule, c.word, c.policy, c.rule, c.word);
	return len < 0 ? 0 : (size_t)len < bufsz ? (size_t)len : bufsz - 1;
}

/* Room in the hourly budget at now: take it (1), or not (0).  Locked. */
static int
budget_take(time_t now)
{
	while (slen > 0 && sent[shead] <= now - 3600) {
		shead = (shead + 1) % MAX_PER_HOUR;
		slen--;
	}
	if ((unsigned)slen >= max_hour)
		return 0;
	sent[(shead + slen++) % MAX_PER_HOUR] = now;
	return 1;
}

void
notify_over_limit(const struct notify_event *e)
{
	time_t now = time(NULL);
	char r[VALUE_MAX + 1], k[VALUE_MAX + 1], key[VALUE_MAX + 1], spent[96];
	const char *why = NULL;
	struct mail *m;

	pthread_mutex_lock(&lock);
	if (!running)
		why = "no sender thread";
	else if (qlen == NOTIFY_QUEUE)
		why = "the queue of mails to send is full";
	else if (!budget_take(now)) {
		snprintf(spent, sizeof spent, "%u mails (milter.notify_max_per_hour) "
		    "went in the last hour", max_hour);
		why = refused_logged > now - 3600 ? "" : spent;
		if (*why)
			refused_logged = now;
	} else {
		m = &queue[(qhead + qlen++) % NOTIFY_QUEUE];
		snprintf(m->to, sizeof m->to, "%s", clean(e->to, r));
		m->len = notify_compose(e, now, policy_path, m->text, sizeof m->text);
		pthread_cond_signal(&wake);
	}
	pthread_mutex_unlock(&lock);
	if (why != NULL && *why != '\0')
		log_msg(LOG_WARNING, "notify: not mailing %s about rule=%s key=%s: %s",
		    clean(e->to, r), clean(e->rule, k), clean(e->key, key), why);
}

/* Write the whole text to fd; -1 on error (EPIPE: sendmail went). */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w;
	}
	return 0;
}

/* sendmail -i -- TO, the mail on its standard input; its exit status or -1. */
/* sendmail's exit status, waiting at most SENDMAIL_WAIT_MS: a sendmail
 * that hangs is killed, so a stop (which sends what is queued first)
 * cannot hang on it.  -1 when it cannot be waited for. */
static int
wait_sendmail(pid_t pid, int *st)
{
	const struct timespec tick = { 0, 50 * 1000 * 1000 };
	int waited;
	pid_t r;

	for (waited = 0; waited < SENDMAIL_WAIT_MS; waited += 50) {
		if ((r = waitpid(pid, st, WNOHANG)) == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int
run_sendmail(const struct mail *m)
{
	char *argv[] = { sendmail_path, "-i", "--", (char *)m->to, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, pipe_def;
	int fds[2], rc, st;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	sigemptyset(&none);
	sigemptyset(&pipe_def);
	sigaddset(&pipe_def, SIGPIPE);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &pipe_def);
	rc = posix_spawn(&pid, sendmail_path, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(fds[0]);
	if (rc != 0) {
		close(fds[1]);
		errno = rc;
		return -1;
	}
	write_all(fds[1], m->text, m->len);
	close(fds[1]);
	if (wait_sendmail(pid, &st) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void *
sender_main(void *arg)
{
	struct mail m;
	int rc;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		while (qlen == 0 && !stopping)
			pthread_cond_wait(&wake, &lock);
		if (qlen == 0) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		m = queue[qhead];
		qhead = (qhead + 1) % NOTIFY_QUEUE;
		qlen--;
		pthread_mutex_unlock(&lock);
		if ((rc = run_sendmail(&m)) == 0)
			log_msg(LOG_INFO, "notify: mailed %s", m.to);
		else if (rc < 0)
			log_msg(LOG_WARNING, "notify: cannot run %s: %s; no mail to %s",
			    sendmail_path, strerror(errno), m.to);
		else
			log_msg(LOG_WARNING, "notify: %s exited %d; no mail to %s",
			    sendmail_path, rc, m.to);
	}
}

int
notify_start(const char *sendmail, unsigned max_per_hour, const char *policy)
{
	snprintf(sendmail_path, sizeof sendmail_path, "%s", sendmail);
	snprintf(policy_path, sizeof policy_path, "%s", policy ? policy : "");
	max_hour = max_per_hour < MAX_PER_HOUR ? max_per_hour : MAX_PER_HOUR;
	if (pthread_create(&thread, NULL, sender_main, NULL) != 0) {
		log_msg(LOG_WARNING, "notify: no sender thread: notify mails are "
		    "not sent");
		return -1;
	}
	running = 1;
	return 0;
}

void
notify_stop(void)
{
	int was_running;

	pthread_mutex_lock(&lock);
	was_running = running;
	stopping = 1;
	running = 0;	/* read under the lock by sessions still finishing */
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	if (was_running)
		pthread_join(thread, NULL);	/* after what is queued is sent */
}

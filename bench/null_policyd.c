/*
 * null_policyd: the floor of make bench's policy service rows.  A Postfix
 * policy service (check_policy_service) that answers DUNNO to every
 * request: what asking any policy service costs Postfix before it decides
 * anything.  A thread per connection (Postfix holds a few, one per smtpd
 * process); a request is everything up to its empty line.
 *
 *   bench/null_policyd -p unix:/path/to.sock
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char answer[] = "action=DUNNO\n\n";

/* Answer each request: one answer per "\n\n" seen, across reads. */
static void *
serve(void *arg)
{
	int fd = (int)(long)arg, nl = 0;
	char buf[8192];
	ssize_t n, i;

	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				nl = 0;
				continue;
			}
			if (++nl == 2 && write(fd, answer, sizeof answer - 1) < 0)
				goto out;
			if (nl == 2)
				nl = 0;
		}
out:
	close(fd);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	pthread_t t;
	int fd, c;

	if (argc != 3 || strcmp(argv[1], "-p") != 0 ||
	    strncmp(argv[2], "unix:", 5) != 0 || strlen(argv[2] + 5) >= sizeof a.sun_path) {
		fprintf(stderr, "usage: null_policyd -p unix:/path\n");
		return 64;
	}
	strcpy(a.sun_path, argv[2] + 5);
	unlink(a.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 128) < 0 ||
	    chmod(a.sun_path, 0666) < 0) {
		perror("null_policyd");
		return 71;
	}
	for (;;) {
		if ((c = accept(fd, NULL, NULL)) < 0)
			continue;
		if (pthread_create(&t, NULL, serve, (void *)(long)c) != 0)
			close(c);
		else
			pthread_detach(t);
	}
}

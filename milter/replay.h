/*
 * replay.h: the `milter-policy replay` subcommand (replay.c): a mail
 * log's transactions through a proposed policy, on a scratch store.
 */
#ifndef REPLAY_H
#define REPLAY_H

/* Run `replay` with argv after the subcommand name; returns the exit code. */
int replay_main(int argc, char **argv, const char *default_policy);

#endif

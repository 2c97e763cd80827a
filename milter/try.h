/*
 * try.h: the `milter-policy try` subcommand (try.c): one transaction run
 * offline through a policy, counters read but never charged.
 */
#ifndef TRY_H
#define TRY_H

/* Run `try` with argv after the subcommand name; returns the exit code. */
int try_main(int argc, char **argv, const char *default_policy);

#endif

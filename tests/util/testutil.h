/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * testutil.h: what the Check programs share: a main(), temp dirs, free
 * loopback ports, and running our binaries as child processes that the
 * tests kill by PID.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <sys/types.h>
#include <check.h>

#define AEMP_TEST_MAIN(suite_fn)					\
int									\
main(void)								\
{									\
	SRunner *sr = srunner_create(suite_fn());			\
	int failed;							\
	srunner_run_all(sr, CK_NORMAL);					\
	failed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return failed ? 1 : 0;						\
}

/* A fresh directory under $TMPDIR (malloc()ed path); removed by test_rmtree. */
char	*test_tmpdir(void);
void	 test_rmtree(const char *dir);
/* Seconds on the monotonic clock, for deadlines. */
double	 test_now(void);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int	 test_free_port(void);
/* $AEMP_BUILD/bin/NAME or $AEMP_BUILD/examples/NAME (malloc()ed). */
char	*test_bin(const char *name);
char	*test_example(const char *name);
/*
 * Start argv[0] with argv and extra environment entries ("K=V", NULL-ended,
 * may be NULL); stdout and stderr go to outfile (NULL: /dev/null), stdin
 * from /dev/null unless stdin_fd >= 0. Returns the PID.
 */
pid_t	 test_spawn(char *const argv[], char *const env[], const char *outfile,
	    int stdin_fd);
/* SIGTERM, wait up to 2 s, then SIGKILL; returns the wait status. */
int	 test_stop(pid_t pid);
/* Wait up to timeout seconds for exit; returns status, or -1 on timeout. */
int	 test_wait(pid_t pid, double timeout);
/*
 * Run argv to completion (timeout seconds) with env, capturing stdout and
 * stderr into *out / *err (malloc()ed, may be NULL). Returns the exit
 * status (or -1 when it timed out and was killed).
 */
int	 test_run(char *const argv[], char *const env[], const char *input,
	    char **out, char **err, double timeout);
/* Read a whole file (malloc()ed, NUL-terminated); NULL if unreadable. */
char	*test_slurp(const char *path);
/* Poll until file contains needle or timeout seconds pass; 1 if found. */
int	 test_wait_for_text(const char *path, const char *needle, double timeout);

/*
 * Whether /proc/PID/cmdline (arguments joined by spaces) holds needle:
 * 1, 0, or -1 when it cannot be read (the process is gone).
 */
int	 test_cmdline_has(pid_t pid, const char *needle);

#endif

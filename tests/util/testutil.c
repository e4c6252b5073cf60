/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * testutil.c: helpers shared by the Check programs (see testutil.h).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

double
test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

char *
test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/aemp-test.XXXXXX", base) < 0)
		abort();
	if (mkdtemp(path) == NULL)
		abort();
	return path;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

void
test_rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
test_free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		abort();
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static char *
build_path(const char *dir, const char *name)
{
	const char *b = getenv("AEMP_BUILD");
	char *path;

	if (b == NULL)
		b = "build";
	if (asprintf(&path, "%s/%s/%s", b, dir, name) < 0)
		abort();
	return path;
}

char *
test_bin(const char *name)
{
	return build_path("bin", name);
}

char *
test_example(const char *name)
{
	return build_path("examples", name);
}

static char **
merged_env(char *const extra[])
{
	size_t n = 0, m = 0, i, j;
	char **env;

	while (environ[n] != NULL)
		n++;
	while (extra != NULL && extra[m] != NULL)
		m++;
	env = calloc(n + m + 1, sizeof *env);
	for (i = 0, j = 0; i < n; i++) {
		size_t k, klen = strcspn(environ[i], "=");
		for (k = 0; k < m; k++)
			if (strncmp(extra[k], environ[i], klen + 1) == 0)
				break;
		if (k == m)
			env[j++] = environ[i];
	}
	for (i = 0; i < m; i++)
		env[j++] = extra[i];
	return env;
}

pid_t
test_spawn(char *const argv[], char *const env[], const char *outfile,
    int stdin_fd)
{
	char **menv = merged_env(env);
	pid_t pid = fork();

	if (pid < 0)
		abort();
	if (pid == 0) {
		int out = open(outfile ? outfile : "/dev/null",
		    O_WRONLY | O_CREAT | O_APPEND, 0600);
		int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		execve(argv[0], argv, menv);
		_exit(127);
	}
	free(menv);
	return pid;
}

int
test_wait(pid_t pid, double timeout)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int status, i, rounds = (int)(timeout * 100);

	for (i = 0; i <= rounds; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		nanosleep(&ts, NULL);
	}
	return -1;
}

int
test_stop(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	status = test_wait(pid, 2.0);
	if (status == -1) {
		kill(pid, SIGKILL);
		status = test_wait(pid, 2.0);
	}
	return status;
}

/* Appends what fd has to say into *buf; returns 0 on EOF. */
static int
drain_fd(int fd, char **buf, size_t *len)
{
	char chunk[4096];
	ssize_t r = read(fd, chunk, sizeof chunk);

	if (r <= 0)
		return r < 0 && errno == EINTR;
	*buf = realloc(*buf, *len + r + 1);
	memcpy(*buf + *len, chunk, r);
	*len += r;
	(*buf)[*len] = '\0';
	return 1;
}

int
test_run(char *const argv[], char *const env[], const char *input,
    char **out, char **err, double timeout)
{
	int po[2], pe[2], pi[2], status = -1;
	char *obuf = calloc(1, 1), *ebuf = calloc(1, 1);
	size_t olen = 0, elen = 0;
	char **menv = merged_env(env);
	struct timespec start, now;
	pid_t pid;

	if (pipe(po) < 0 || pipe(pe) < 0 || pipe(pi) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		dup2(pi[0], 0); dup2(po[1], 1); dup2(pe[1], 2);
		close(pi[1]); close(po[0]); close(pe[0]);
		execve(argv[0], argv, menv);
		_exit(127);
	}
	free(menv);
	close(pi[0]); close(po[1]); close(pe[1]);
	if (input != NULL) {
		signal(SIGPIPE, SIG_IGN);
		/* the child may not read it all: a short write is fine */
		ssize_t w = write(pi[1], input, strlen(input));
		(void)w;
	}
	close(pi[1]);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
		clock_gettime(CLOCK_MONOTONIC, &now);
		double left = timeout - (now.tv_sec - start.tv_sec) -
		    (now.tv_nsec - start.tv_nsec) / 1e9;
		if (left <= 0)
			break;
		if (poll(p, 2, (int)(left * 1000) + 1) <= 0)
			continue;
		if ((p[0].revents & (POLLIN | POLLHUP)) && p[0].fd >= 0 &&
		    !drain_fd(po[0], &obuf, &olen)) { po[0] = -1; open_fds--; }
		if ((p[1].revents & (POLLIN | POLLHUP)) && p[1].fd >= 0 &&
		    !drain_fd(pe[0], &ebuf, &elen)) { pe[0] = -1; open_fds--; }
	}
	if (po[0] >= 0) close(po[0]);
	if (pe[0] >= 0) close(pe[0]);
	clock_gettime(CLOCK_MONOTONIC, &now);
	status = test_wait(pid, timeout - (now.tv_sec - start.tv_sec) + 0.5);
	if (status == -1) {
		kill(pid, SIGKILL);
		test_wait(pid, 2.0);
	} else if (WIFEXITED(status))
		status = WEXITSTATUS(status);
	else
		status = 128 + WTERMSIG(status);
	if (out) *out = obuf; else free(obuf);
	if (err) *err = ebuf; else free(ebuf);
	return status;
}

char *
test_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 1);
	for (;;) {
		char chunk[4096];
		size_t r = fread(chunk, 1, sizeof chunk, f);
		if (r == 0)
			break;
		buf = realloc(buf, len + r + 1);
		memcpy(buf + len, chunk, r);
		len += r;
		buf[len] = '\0';
	}
	fclose(f);
	return buf;
}

int
test_wait_for_text(const char *path, const char *needle, double timeout)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i, rounds = (int)(timeout * 50);

	for (i = 0; i <= rounds; i++) {
		char *text = test_slurp(path);
		int found = text != NULL && strstr(text, needle) != NULL;
		free(text);
		if (found)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

int
test_cmdline_has(pid_t pid, const char *needle)
{
	char path[64], buf[8192];
	ssize_t len, i;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	len = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (len <= 0)
		return -1;
	for (i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[len] = '\0';
	return strstr(buf, needle) != NULL;
}

/*
 * mesh.c: starts N aempd processes on 127.0.0.1, every one with the same
 * single seed (the first), and measures the seconds until every node has
 * every other node up, counted from when the seed listens. Each daemon's
 * log (level 7) says when a node goes up or down; the daemons are stopped
 * afterwards, complete or not.
 *
 * usage: mesh AEMPD N TIMEOUT   prints "seconds X", "downs D" (node down
 *        events logged), "cpu_s C" (CPU seconds of all daemons),
 *        "rss_mb R" (largest daemon's peak RSS), or "error TEXT"
 */
#include <sys/resource.h>

#include <poll.h>

#include "bench.h"

struct daemon {
	pid_t	 pid;
	int	 fd;		/* its stderr */
	char	 buf[8192];
	size_t	 len;
	char	**up;		/* node IDs up, unordered */
	size_t	 nup;
	size_t	 downs;		/* "is down" lines */
};

/* A port on 127.0.0.1 that was free a moment ago, for the seed. */
static int
free_port(void)
{
	int port, fd = bench_raw_listen(&port);

	close(fd);
	return port;
}

static void
set_up(struct daemon *d, const char *node, int up)
{
	size_t i;

	for (i = 0; i < d->nup; i++)
		if (strcmp(d->up[i], node) == 0)
			break;
	if (up && i == d->nup) {
		d->up = realloc(d->up, (d->nup + 1) * sizeof *d->up);
		d->up[d->nup++] = strdup(node);
	} else if (!up && i < d->nup) {
		free(d->up[i]);
		d->up[i] = d->up[--d->nup];
	}
}

/* Lines look like "DATE TIME <7> NODE is up ()" or "... is down (...". */
static void
parse_line(struct daemon *d, char *line)
{
	char *lv = strstr(line, "<7> "), *sp;

	if (lv == NULL)
		return;
	lv += 4;
	if ((sp = strchr(lv, ' ')) == NULL)
		return;
	*sp++ = '\0';
	if (strncmp(sp, "is up (", 7) == 0)
		set_up(d, lv, 1);
	else if (strncmp(sp, "is down (", 9) == 0) {
		set_up(d, lv, 0);
		d->downs++;
	}
}

static void
spawn(struct daemon *d, const char *aempd, int i, int seedport)
{
	char id[32], bind[64], seed[64];
	int fds[2];

	snprintf(id, sizeof id, "mesh%d", i);
	if (i == 0)
		snprintf(bind, sizeof bind, "127.0.0.1:%d", seedport);
	else
		snprintf(bind, sizeof bind, "127.0.0.1:*");
	snprintf(seed, sizeof seed, "127.0.0.1:%d", seedport);
	if (pipe(fds) < 0)
		bench_die("pipe");
	if ((d->pid = fork()) < 0)
		bench_die("fork");
	if (d->pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		setenv("AEMP_WARNLEVEL", "7", 1);
		execl(aempd, "aempd", "nodeid", id, "binds", bind, "seeds",
		    seed, "secret", BENCH_SECRET, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	d->fd = fds[0];
}

int
main(int argc, char **argv)
{
	struct daemon *ds;
	struct pollfd *pfd;
	double t0, timeout;
	int n, i, seedport, complete = 0, dead = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: mesh AEMPD N TIMEOUT\n");
		return 2;
	}
	bench_isolate();
	n = atoi(argv[2]);
	timeout = atof(argv[3]);
	ds = calloc((size_t)n, sizeof *ds);
	pfd = calloc((size_t)n, sizeof *pfd);
	seedport = free_port();
	spawn(&ds[0], argv[1], 0, seedport);
	/* the others' first connect must not find nobody listening */
	t0 = bench_now();
	for (;;) {
		struct sockaddr_in sin;
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((unsigned short)seedport);
		ok = connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
		close(fd);
		if (ok)
			break;
		if (bench_now() - t0 > timeout) {
			printf("error the seed never listened\n");
			kill(ds[0].pid, SIGTERM);
			return 0;
		}
		usleep(2000);
	}
	t0 = bench_now();
	for (i = 1; i < n; i++)
		spawn(&ds[i], argv[1], i, seedport);
	while (!complete && !dead && bench_now() - t0 < timeout) {
		for (i = 0; i < n; i++) {
			pfd[i].fd = ds[i].fd;
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR)
			bench_die("poll");
		for (i = 0; i < n; i++) {
			struct daemon *d = &ds[i];
			char *nl;
			ssize_t r;
			if (d->fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			r = read(d->fd, d->buf + d->len, sizeof d->buf - 1 -
			    d->len);
			if (r <= 0) {
				dead = 1;	/* a daemon exited */
				close(d->fd);
				d->fd = -1;
				continue;
			}
			d->len += (size_t)r;
			d->buf[d->len] = '\0';
			while ((nl = strchr(d->buf, '\n')) != NULL) {
				*nl = '\0';
				parse_line(d, d->buf);
				d->len -= (size_t)(nl + 1 - d->buf);
				memmove(d->buf, nl + 1, d->len + 1);
			}
			if (d->len == sizeof d->buf - 1)
				d->len = 0;	/* an overlong line: drop it */
		}
		complete = 1;
		for (i = 0; i < n; i++)
			if (ds[i].nup != (size_t)n - 1)
				complete = 0;
	}
	if (complete)
		printf("seconds %.3f\n", bench_now() - t0);
	else {
		size_t least = (size_t)n, most = 0;
		for (i = 0; i < n; i++) {
			if (ds[i].nup < least)
				least = ds[i].nup;
			if (ds[i].nup > most)
				most = ds[i].nup;
		}
		printf("error %s after %.0f s: nodes see %zu to %zu of %d "
		    "others up\n", dead ? "a daemon exited" : "incomplete",
		    bench_now() - t0, least, most, n - 1);
	}
	for (i = 0; i < n; i++)
		kill(ds[i].pid, SIGTERM);
	{
		double cpu = 0;
		long rss = 0;
		size_t downs = 0;
		for (i = 0; i < n; i++) {
			struct rusage ru;
			if (wait4(ds[i].pid, NULL, 0, &ru) > 0) {
				cpu += (double)ru.ru_utime.tv_sec +
				    (double)ru.ru_utime.tv_usec / 1e6 +
				    (double)ru.ru_stime.tv_sec +
				    (double)ru.ru_stime.tv_usec / 1e6;
				if (ru.ru_maxrss > rss)
					rss = ru.ru_maxrss;
			}
			if (ds[i].fd >= 0)
				close(ds[i].fd);
			downs += ds[i].downs;
		}
		printf("downs %zu\ncpu_s %.2f\nrss_mb %.1f\n", downs, cpu,
		    (double)rss / 1024);
	}
	return 0;
}

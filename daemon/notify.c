/*
 * notify.c: tells systemd about the daemon's state (sd_notify(3)'s
 * protocol, without libsystemd): one datagram to $NOTIFY_SOCKET.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aempd.h"

/*
 * Sends state ("READY=1", "STOPPING=1", ...). Returns 1 if sent, 0 when
 * not started by a service manager ($NOTIFY_SOCKET unset), -1 on error
 * (errno set). The variable is kept: a restarted aempd (same process,
 * new image) must be able to report READY=1 again.
 */
int
notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t plen;
	ssize_t sent;
	int fd, e;

	if (path == NULL || *path == '\0')
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen < 2 ||
	    plen >= sizeof sun.sun_path) {
		errno = EINVAL;
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* Linux abstract namespace */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len);
	e = errno;
	close(fd);
	errno = e;
	return sent < 0 ? -1 : 1;
}

double
notify_watchdog_interval(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	double v;

	if (usec == NULL || *usec == '\0')
		return 0;
	if (pid != NULL && *pid != '\0' && strtol(pid, NULL, 10) != getpid())
		return 0;
	v = strtod(usec, &end);
	if (*end != '\0' || !(v > 0))
		return 0;
	return v / 1e6;
}

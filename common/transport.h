/* Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE. */
/*
 * transport.h: what the layers above call in the transport (transport.c,
 * authfail.c). A connection is opaque to them: struct aemp_conn is in
 * conn.h, for the transport's own files; they ask for its fields here.
 */
#ifndef AEMP_TRANSPORT_H
#define AEMP_TRANSPORT_H

#include "node.h"

struct bytes;
struct sockaddr;

/* transport.c */
int	 ae_transport_listen(aemp_node *, json_t *binds);
struct aemp_conn *ae_transport_connect(aemp_node *, const char *addr,
	    const char *expect);
void	 ae_transport_close(struct aemp_conn *, const char *why);
int	 ae_transport_write(struct aemp_conn *, json_t *pkt);
int	 ae_transport_write_named(struct aemp_conn *, const char *name,
	    size_t len, json_t *msg);
void	 ae_transport_write_buffer(struct aemp_conn *, struct bytes *);
void	 ae_transport_queued(struct aemp_conn *, size_t before);
void	 ae_transport_held_verdict(struct aemp_conn *, int accept);
void	 ae_transport_free_all(aemp_node *);
/* marks c for upcall.attempt (0: none) */
void	 ae_transport_set_tag(struct aemp_conn *, int tag);
/* c's "host:port"; whether TLS was started on it */
const char *ae_transport_peer(const struct aemp_conn *);
int	 ae_transport_tls(const struct aemp_conn *);
/* the bytes c has not yet written (aemp_sndf() appends to them) */
struct bytes *ae_transport_out(struct aemp_conn *);
/* the bytes c read and has not yet parsed */
size_t	 ae_transport_in_len(const struct aemp_conn *);

/*
 * transport.c for data connections (dataconn.c): connect with the
 * aemp-dataconn greeting for id; take the stream of a connection whose
 * handshake finished, with the bytes read behind it (in) and our bytes
 * not yet sent (out), both moved into the caller's buffers.
 */
struct aemp_conn *ae_transport_connect_data(aemp_node *, const char *addr,
	    const char *nodeid, const char *id);
struct aemp_stream *ae_transport_detach(struct aemp_conn *, struct bytes *in,
	    struct bytes *out);
void	 ae_transport_close_data(aemp_node *, const char *id, const char *why);


/*
 * authfail.c: addresses that failed to authenticate, to slow them down.
 * ae_authfail_delay: seconds to wait before greeting a peer from sa;
 * ae_authfail_waiting: how many from sa's address already wait so;
 * ae_authfail_record: a peer from sa (NULL: not to be slowed down, only
 * logged) failed (why) or succeeded (why NULL); _fd: the peer of fd (-1:
 * none).
 */
#define AUTHFAIL_SLOTS	256
#define AUTHFAIL_WAITING 2
int	 ae_authfail_waiting(aemp_node *, const struct sockaddr *);
double	 ae_authfail_delay(aemp_node *, const struct sockaddr *);
void	 ae_authfail_record(aemp_node *, const struct sockaddr *,
	    const char *peer, const char *why);
void	 ae_authfail_record_fd(aemp_node *, int fd, const char *peer,
	    const char *why);
void	 ae_authfail_free(aemp_node *);

#endif

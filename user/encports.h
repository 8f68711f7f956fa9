/* encports.h - the server ports whose TLS 1.3 encrypted flight is copied (CS_COPY_ENC_PORTS): userspace's twin of the kernel's enc_ports map. */
#ifndef CS_ENCPORTS_H
#define CS_ENCPORTS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <linux/types.h>
#include "certsentry.h"

/* At most CS_ENC_PORTS_MAX ports, as the kernel's map holds: --port's
 * bitmap (struct cs_port_set) with a count. */
struct encports {
	struct cs_port_set set;
	uint32_t n;
};

static inline bool encports_has(const struct encports *e, uint16_t port)
{
	return cs_port_in(&e->set, port);
}

/* false if the set is full (the port is not added). */
static inline bool encports_add(struct encports *e, uint16_t port)
{
	if (encports_has(e, port))
		return true;
	if (e->n >= CS_ENC_PORTS_MAX)
		return false;
	cs_port_set_add(&e->set, port);
	e->n++;
	return true;
}

static inline void encports_clear(struct encports *e)
{
	memset(e, 0, sizeof(*e));
}

/* copy_encrypted's mode: none, all, or by ports when there is a set. */
static inline uint32_t encports_mode(bool copy, const struct encports *e)
{
	return !copy ? CS_COPY_ENC_NONE : e ? CS_COPY_ENC_PORTS : CS_COPY_ENC_ALL;
}

/* The kernel's rule (enc_max_of) for a TCP direction of key k: mode is an
 * enum cs_copy_enc, e the ports for CS_COPY_ENC_PORTS. */
static inline uint8_t encports_enc_max(uint32_t mode, const struct encports *e,
				       const struct cs_flow_key *k, bool client)
{
	uint16_t port = cs_server_port(k->sport, k->dport, client);

	return cs_enc_max(cs_enc_copied(mode,
					mode == CS_COPY_ENC_PORTS && e && encports_has(e, port)),
			  client);
}

#endif

// libmnl (pkg-config: libmnl), plus the netlink uapi headers its users need: rtnetlink,
// fib rules (ip rule), nfnetlink, nf_tables and ctnetlink (conntrack) message and attribute numbers.
// Also <sys/eventfd.h>, which Swift's Glibc module leaves out; `Wakeup` needs it next to the netlink
// sockets it wakes loops for.
// <netinet/in.h> must come first (see design.md, "different definitions in different modules").
#ifndef FLYWALL_CMNL_SHIM_H
#define FLYWALL_CMNL_SHIM_H

#include <netinet/in.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/eventfd.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/fib_rules.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>

#endif

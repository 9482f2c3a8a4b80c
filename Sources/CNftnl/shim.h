// libnftnl (pkg-config: libnftnl). Messages it builds are sent with libmnl (module CMnl).
// <netinet/in.h> must come first (see design.md, "different definitions in different modules").
// linux/netlink.h is included so that `struct nlmsghdr` is complete here, as it is in CMnl.
#ifndef FLYWALL_CNFTNL_SHIM_H
#define FLYWALL_CNFTNL_SHIM_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/common.h>
#include <libnftnl/batch.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/object.h>
#include <libnftnl/gen.h>
#include <libnftnl/udata.h>

#endif

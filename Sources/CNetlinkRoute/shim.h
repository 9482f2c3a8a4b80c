// libnl-3 + libnl-route-3 (pkg-config: libnl-route-3.0).
// <netinet/in.h> must come first: libnl pulls in linux/ uapi headers, and glibc's definitions have
// to win through linux/libc-compat.h, or clean builds fail at random with
// "different definitions in different modules".
#ifndef FLYWALL_CNETLINKROUTE_SHIM_H
#define FLYWALL_CNETLINKROUTE_SHIM_H

#include <netinet/in.h>
#include <net/if.h>
#include <sys/socket.h>

#include <netlink/netlink.h>
#include <netlink/version.h>
#include <netlink/errno.h>
#include <netlink/socket.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/addr.h>
#include <netlink/object.h>
#include <netlink/route/rtnl.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/rule.h>
#include <netlink/route/neighbour.h>

#endif

// libpcap (pkg-config: libpcap).
// <netinet/in.h> first, like every other shim, so socket types come from glibc's module.
#ifndef FLYWALL_CPCAP_SHIM_H
#define FLYWALL_CPCAP_SHIM_H

#include <netinet/in.h>
#include <sys/socket.h>

#include <pcap/pcap.h>

#endif

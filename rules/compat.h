/*
 * compat.h -- the address functions (inet_pton, inet_ntop, htons) where
 * each system declares them. rules/ needs nothing else from the system
 * that POSIX and Windows spell differently, but for paths (util.c).
 */
#ifndef HG_RULES_COMPAT_H
#define HG_RULES_COMPAT_H

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif

#endif /* HG_RULES_COMPAT_H */

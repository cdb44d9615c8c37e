// Linux headers Glibc's Swift module map leaves out: epoll and eventfd, for the HTTP event loop.
#ifndef CHTTPSHIM_H
#define CHTTPSHIM_H

#include <sys/epoll.h>
#include <sys/eventfd.h>

#endif

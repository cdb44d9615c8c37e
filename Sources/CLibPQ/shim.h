// libpq's header lives in /usr/include/postgresql on Debian. pkg-config adds that directory to the
// search path; where pkg-config is missing, fall back to the full path.
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif

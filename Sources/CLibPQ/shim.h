// libpq's header lives in /usr/include/postgresql on Debian. pkg-config adds that directory to the
// search path; where pkg-config is missing, fall back to the full path.
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif

// The embedded cluster starts pg_ctl with posix_spawn and must close every inherited descriptor in
// the child (the server pg_ctl leaves running would otherwise hold them open). glibc declares
// these only under _GNU_SOURCE, which Swift's Glibc module does not set.
#include <spawn.h>
int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);

// A connection's wake-up pipe is made non-blocking and close-on-exec in one call (_GNU_SOURCE).
int pipe2(int pipefd[2], int flags);

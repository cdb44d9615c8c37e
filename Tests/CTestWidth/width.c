// How many tests the test process runs at once, set before Swift Testing reads its configuration.
//
// Nearly every test starts a PostgreSQL database of its own, a pool, often a server. Run all at
// once (Swift Testing's default), the suite's first seconds hold about 600 connections on two
// cores: opening one took up to 7 s, and tests with tight deadlines failed for it. 48 at a time
// keeps the peak near 250 connections and costs about 15 s of a 150 s suite. A value already in
// the environment wins (0 leaves the width unlimited).
#include <stdlib.h>
#include "width.h"

__attribute__((constructor)) static void handoff_limit_test_width(void) {
    setenv("SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH", HANDOFF_TEST_WIDTH, 0);
}

const char *handoff_test_width(void) {
    const char *value = getenv("SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH");
    return value ? value : "";
}

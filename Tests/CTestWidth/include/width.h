#ifndef HANDOFF_TEST_WIDTH_H
#define HANDOFF_TEST_WIDTH_H

/// The most tests the test process runs at once, unless the environment says otherwise.
#define HANDOFF_TEST_WIDTH "48"

/// The width in force (the environment's value), "" when unset.
const char *handoff_test_width(void);

#endif

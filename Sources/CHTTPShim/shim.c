// SwiftPM needs one source file in a C target; the target only exposes system headers.
#include "CHTTPShim.h"

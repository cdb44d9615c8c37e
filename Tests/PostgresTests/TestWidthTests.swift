import Foundation
import HandoffTestSupport
import Testing

/// The test process runs a bounded number of tests at once (Tests/CTestWidth): the width is in
/// its environment before Swift Testing reads it, unless the one who started it chose another.
@Suite struct TestWidthTests {
    @Test func theWidthIsSetAsTheProcessLoads() {
        let width = TestDatabase.testWidth
        #expect(!width.isEmpty)
        #expect(width == ProcessInfo.processInfo.environment["SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH"])
        #expect(Int(width) != nil, "\(width)")
    }
}

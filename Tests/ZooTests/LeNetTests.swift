import XCTest
import Zoo

final class LeNetTests: XCTestCase {
    /// The lecture notes' table, layer by layer: 156, 2,416, 48,120, 10,164, 850 = 61,706.
    func testParameterCountsMatchTheNotesTable() {
        let model = LeNet5()
        XCTAssertEqual(model.parameterCount, 61_706)
        XCTAssertEqual(model.stages.map { $0.module.parameterCount }, [156, 2_416, 48_120, 10_164])
        XCTAssertEqual(model.fc3.parameterCount, 850)
        XCTAssertEqual(model.stages.map(\.name), ["conv1", "conv2", "fc1", "fc2"])
    }

    func testForwardShapeAndInputCheck() {
        let model = LeNet5(classes: 4)
        XCTAssertEqual(model.predict(.zeros([3, 32, 32, 1])).shape, [3, 4])
    }
}

final class TraceTests: XCTestCase {
    func testTraceReportsEveryModuleOutputShapeInCallOrder() {
        let model = LeNet5()
        let calls = model.trace(.zeros([1, 32, 32, 1]))
        let shapes = Dictionary(calls.map { ($0.key, $0.outputShape) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(shapes["conv1.0"], [1, 28, 28, 6])
        XCTAssertEqual(shapes["conv1"], [1, 14, 14, 6])
        XCTAssertEqual(shapes["conv2.2"], [1, 5, 5, 16])
        XCTAssertEqual(shapes["fc1.0"], [1, 400])
        XCTAssertEqual(shapes["fc3"], [1, 10])
        XCTAssertEqual(calls.last?.key, "", "the model itself finishes last")
        XCTAssertEqual(calls.first?.key, "conv1.0")
    }
}

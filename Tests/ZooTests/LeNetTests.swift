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

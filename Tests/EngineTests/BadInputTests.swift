import Engine
import XCTest

/// Misuse raises an error whose message names the op and the shapes. The operators trap
/// with these messages; the throwing validators behind them are tested here.
final class BadInputTests: XCTestCase {
    func testBroadcastMismatchNamesOpAndShapes() {
        XCTAssertThrowsError(try Tensor.broadcasting(Tensor.zeros([2, 3]), Tensor.zeros([4]), op: "add", +)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("add") && message.contains("[2, 3]") && message.contains("[4]"), message)
        }
    }

    func testConvolutionShapeMismatch() {
        XCTAssertThrowsError(try Conv2DGeometry(input: [1, 8, 8, 3], kernel: [3, 3, 4, 8])) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("conv2d") && message.contains("[1, 8, 8, 3]") && message.contains("[3, 3, 4, 8]"), message)
        }
        XCTAssertThrowsError(try Conv2DGeometry(input: [1, 2, 2, 3], kernel: [5, 5, 3, 8])) { error in
            XCTAssertTrue("\(error)".contains("does not fit a 2x2 input"), "\(error)")
        }
        XCTAssertThrowsError(try Conv2DGeometry(input: [1, 8, 8], kernel: [3, 3, 3, 8])) { error in
            XCTAssertTrue("\(error)".contains("NHWC"), "\(error)")
        }
    }

    func testAxisOutOfRange() {
        XCTAssertThrowsError(try Shape.normalise(axis: 3, shape: [2, 3], op: "sum")) { error in
            XCTAssertEqual("\(error)", "sum: axis 3 is out of range for a rank-2 tensor of shape [2, 3] (valid: -2..<2)")
        }
        XCTAssertEqual(try Shape.normalise(axis: -1, shape: [2, 3], op: "sum"), 1)
    }

    func testReshapeMismatch() {
        XCTAssertThrowsError(try Shape.reshape([2, 3], to: [4, -1])) { error in
            XCTAssertTrue("\(error)".contains("[2, 3]") && "\(error)".contains("[4, -1]"), "\(error)")
        }
    }

    func testNaNProducedByAnOpIsRecordedWithOpAndShapes() {
        let x = Variable(Tensor(shape: [2, 2], scalars: [1, -1, 2, 3]), requiresGrad: true)
        Numerics.reset()
        _ = x.log() * 2
        XCTAssertNil(Numerics.firstFailure, "off by default: no scan on the hot path")
        var y: Variable?
        let failure = Numerics.firstFailure(replaying: { y = x.log() * 2 })  // log(-1) = NaN; the multiply only propagates it
        XCTAssertTrue(y!.value.hasNonFinite)
        XCTAssertEqual(Numerics.policy, .off, "the replay restores the policy")
        guard case let .nonFinite(op, inputShapes, outputShape, count)? = failure else {
            return XCTFail("the NaN was not recorded")
        }
        XCTAssertEqual(op, "log", "the op that created the NaN is blamed, not the ones that propagate it")
        XCTAssertEqual(inputShapes, [[2, 2]])
        XCTAssertEqual(outputShape, [2, 2])
        XCTAssertEqual(count, 1)
        XCTAssertTrue(Numerics.firstFailure!.description.contains("log: produced 1 NaN"))
        Numerics.reset()
        XCTAssertNil(Numerics.firstFailure)
    }
}

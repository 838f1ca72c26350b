import Engine
import Foundation
import Layers
import TestSupport
import Transfer
import XCTest

/// y[n, c] = x[n, c] · s[c], whose backward doubles the gradient of `s`: a planted bug.
private final class ScaleWithDoubledGradient: Module {
    let scale = Parameter(Tensor(shape: [6], scalars: [0.5, 1, 1.5, 2, 0.7, 1.2]))

    override func forward(_ x: Variable) -> Variable {
        let s = scale.variable
        let channels = s.shape[0]
        var y = x.value
        for i in y.scalars.indices { y.scalars[i] *= s.value.scalars[i % channels] }
        return Variable.operation("scale", inputs: [x, s], value: y) { g in
            var dx = g
            var ds = Tensor.zeros([channels])
            for i in g.scalars.indices {
                dx.scalars[i] *= s.value.scalars[i % channels]
                ds.scalars[i % channels] += 2 * g.scalars[i] * x.value.scalars[i]
            }
            return [dx, ds]
        }
    }
}

/// The user-facing gradient check (`finetune sanity`'s first line).
final class GradientCheckTests: XCTestCase {
    private func images(_ shape: [Int]) -> Tensor {
        var random = RandomGenerator(seed: 5)
        return Tensor.randomNormal(shape, using: &random)
    }

    /// A small convolutional network passes well inside the tolerance, and the check leaves its
    /// weights, BatchNorm statistics, mode and frozen parameters as they were.
    func testACorrectNetworkPassesAndIsLeftAsItWas() throws {
        Random.seed(2)
        let model = Sequential(
            Conv2D(3, 4, kernel: (3, 3), padding: .same), BatchNorm(4), ReLU(), MaxPool2D(2), Flatten(),
            Dense(4 * 4 * 4, 3))
        model.namedParameters[0].parameter.trainable = false
        model.layers[1].train()  // one module's own mode
        let leftover = Tensor(shape: [3], scalars: [1, 2, 3])
        model.namedParameters.last!.parameter.grad = leftover
        let before = Snapshot(model).named
        let result = try GradientCheck.run(model, images: images([4, 8, 8, 3]), labels: [0, 1, 2, 1])
        XCTAssertTrue(result.passed, result.description)
        XCTAssertLessThan(result.worst?.relativeError ?? 1, 1e-2, result.description)
        XCTAssertEqual(result.samples.count + result.skipped.count, model.namedParameters.count)
        XCTAssertTrue(
            result.samples.contains { $0.key == model.namedParameters[0].key }, "frozen tensors are checked too")
        XCTAssertEqual(Snapshot(model).named, before)
        XCTAssertFalse(model.namedParameters[0].parameter.trainable)
        XCTAssertFalse(model.isTraining)
        XCTAssertTrue(model.layers[1].isTraining)
        XCTAssertFalse(model.layers[0].isTraining)
        XCTAssertEqual(model.namedParameters.last!.parameter.grad, leftover, "gradients put back")
        XCTAssertNil(model.namedParameters[1].parameter.grad)
    }

    /// A layer whose backward doubles its parameter's gradient fails, and the message names it.
    func testADoubledGradientIsCaughtAndNamed() throws {
        Random.seed(2)
        let model = Sequential(Flatten(), Dense(12, 6), ScaleWithDoubledGradient(), Dense(6, 3))
        let result = try GradientCheck.run(model, images: images([4, 2, 2, 3]), labels: [0, 1, 2, 1])
        XCTAssertFalse(result.passed, result.description)
        XCTAssertEqual(result.worst?.key, "2.scale", result.description)
        XCTAssertEqual(
            result.worst?.relativeError ?? 0, 0.5, accuracy: 0.02, "twice the true norm: half of it is wrong")
        XCTAssertTrue(result.description.contains("FAILED"), result.description)
    }

    /// A network whose every gradient is zero (no bias, all-zero inputs) has nothing to measure:
    /// that fails rather than passing vacuously.
    func testNothingMeasurableFails() throws {
        let model = Sequential(Flatten(), Dense(12, 3, bias: false))
        let result = try GradientCheck.run(model, images: .zeros([4, 2, 2, 3]), labels: [0, 1, 2, 1])
        XCTAssertTrue(result.samples.isEmpty)
        XCTAssertEqual(result.skipped, ["1.weight"])
        XCTAssertFalse(result.passed)
        XCTAssertTrue(result.description.contains("FAILED"), result.description)
    }

    /// `finetune sanity` runs the check first and reports it.
    func testSanityCheckRunsTheGradientCheck() throws {
        var options = FineTuneOptions(base: "lenet5", freeze: .stages(0))
        options.demo = .shapes
        options.demoImagesPerClass = 6
        let result = try SanityCheck.run(options, images: 8, maxSteps: 1, log: .silent)
        let gradients = try XCTUnwrap(result.gradients)
        XCTAssertTrue(gradients.passed, gradients.description)
        XCTAssertEqual(gradients.samples.count + gradients.skipped.count, 10, "LeNet-5's ten parameter tensors")
        XCTAssertTrue(result.description.hasPrefix("gradient check ok"), result.description)
        XCTAssertNil(try SanityCheck.run(options, images: 8, maxSteps: 1, gradientCheck: false, log: .silent).gradients)
    }
}

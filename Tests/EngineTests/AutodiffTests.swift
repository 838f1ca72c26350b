import Engine
import XCTest

final class AutodiffTests: XCTestCase {
    func testGradientsAccumulateOverReusedValues() {
        let x = Variable(Tensor([1, 2, 3]), requiresGrad: true)
        let y = (x * x + x).sum()  // dy/dx = 2x + 1
        y.backward()
        XCTAssertEqual(x.grad?.scalars, [3, 5, 7])
    }

    func testValuesWithoutTrainableAncestorsRecordNothing() {
        let x = Variable(Tensor([1, 2]))
        let w = Variable(Tensor([3, 4]), requiresGrad: true)
        let constant = (x * x).exp()
        XCTAssertFalse(constant.requiresGrad)
        XCTAssertNil(constant.opName, "no node is recorded when no input needs a gradient")
        XCTAssertTrue((constant * w).requiresGrad)
        let inference = Autodiff.withoutGradients { (x * w).sum() }
        XCTAssertFalse(inference.requiresGrad, "withoutGradients records nothing")
    }

    /// A network whose first half (conv, BN, ReLU, pool) has only frozen parameters: backward
    /// from the loss runs kernels for the trainable second half only.
    func testFrozenPrefixRunsNoBackwardKernel() {
        var rng = RandomGenerator(seed: 1)
        let x = Variable(Tensor.randomNormal([2, 8, 8, 3], using: &rng))
        let frozenW = Variable(Tensor.randomNormal([3, 3, 3, 4], std: 0.3, using: &rng))
        let frozenGamma = Variable(Tensor.ones([4])), frozenBeta = Variable(Tensor.zeros([4]))
        let w2 = Variable(Tensor.randomNormal([3, 3, 4, 5], std: 0.3, using: &rng), requiresGrad: true)
        let dense = Variable(Tensor.randomNormal([5, 2], std: 0.3, using: &rng), requiresGrad: true)

        let h1 = maxPool2d(relu(batchNorm(conv2d(x, frozenW, padding: .same), gamma: frozenGamma, beta: frozenBeta,
                                          statistics: nil, epsilon: 1e-5).output), pool: (2, 2))
        XCTAssertFalse(h1.requiresGrad)
        let logits = linear(globalAvgPool(relu(conv2d(h1, w2, padding: .same))), dense)
        let loss = logSoftmax(logits).sum()

        KernelStats.reset()
        loss.backward()
        let counts = KernelStats.snapshot
        let backward = counts.filter { $0.key.contains("backward") }
        XCTAssertEqual(backward["conv2d.backward_weights"], 1, "only the trainable conv computes weight gradients")
        XCTAssertNil(backward["conv2d.backward_data"], "no input gradient is needed below the first trainable conv")
        XCTAssertNil(backward["batchNorm.backward"], "the frozen BatchNorm runs no backward")
        XCTAssertNil(backward["maxPool2D.backward"], "the frozen pool runs no backward")
        XCTAssertEqual(backward["relu.backward"], 1, "only the trainable half's ReLU runs backward")
        XCTAssertEqual(KernelStats.backwardCalls, backward.values.reduce(0, +))
        XCTAssertNotNil(w2.grad)
        XCTAssertNil(frozenW.grad)
    }

    /// The same network with a trainable first conv runs the full backward, so the test
    /// above can fail.
    func testTrainablePrefixDoesRunBackwardKernels() {
        var rng = RandomGenerator(seed: 1)
        let x = Variable(Tensor.randomNormal([2, 8, 8, 3], using: &rng))
        let w1 = Variable(Tensor.randomNormal([3, 3, 3, 4], std: 0.3, using: &rng), requiresGrad: true)
        let w2 = Variable(Tensor.randomNormal([3, 3, 4, 5], std: 0.3, using: &rng), requiresGrad: true)
        let loss = conv2d(maxPool2d(relu(conv2d(x, w1, padding: .same)), pool: (2, 2)), w2).sum()
        KernelStats.reset()
        loss.backward()
        let counts = KernelStats.snapshot
        XCTAssertEqual(counts["conv2d.backward_weights"], 2)
        XCTAssertEqual(counts["conv2d.backward_data"], 1)
        XCTAssertEqual(counts["maxPool2D.backward"], 1)
        XCTAssertNotNil(w1.grad)
    }
}

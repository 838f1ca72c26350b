import Engine
import TestSupport
import XCTest

/// Every engine op against PyTorch (fixtures from scripts/fixtures/engine_ops.py, computed in
/// float64 by torch 1.13): forward within rtol 1e-4 / atol 1e-5, and the gradients of
/// `sum(y * upstream)` within rtol 1e-4 / atol 1e-5.
final class PyTorchParityTests: XCTestCase {
    static let cases = try! Fixtures.load("engine_ops.json")

    func testFixturesCoverEveryOp() {
        let ops = Set(Self.cases.map(\.op))
        for op in ["conv2d", "maxpool2d", "avgpool2d", "medianpool2d", "global_avg_pool", "batchnorm", "relu", "leaky_relu", "elu",
                   "sigmoid", "tanh", "softmax", "log_softmax", "matmul", "linear", "add", "sub", "mul", "div",
                   "sum", "mean", "max", "exp", "log", "sqrt", "square", "abs", "pow", "permute", "concatenate",
                   "global_max_pool", "zero_pad2d"] {
            XCTAssertTrue(ops.contains(op), "no PyTorch fixture for \(op)")
        }
        let convs = Self.cases.filter { $0.op == "conv2d" }
        XCTAssertTrue(convs.contains { $0.inputs["w"]!.shape[0] == 7 } && convs.contains { $0.int("groups") == 2 }
                      && convs.contains { $0.pair("dilation") == (2, 2) } && convs.contains { $0.padding == .same && $0.pair("stride") == (2, 2) })
    }

    func testForwardAndBackwardMatchPyTorch() {
        for c in Self.cases {
            let differentiable = Set(c.grads.keys)
            let vars = c.inputs.reduce(into: [String: Variable]()) {
                $0[$1.key] = Variable($1.value, requiresGrad: differentiable.contains($1.key))
            }
            let y = runFixtureOp(c, vars)
            assertClose(y.value, c.outputs["y"]!, "\(c.name) forward")
            y.backward(seed: c.upstream)
            for (name, expected) in c.grads {
                guard let grad = vars[name]!.grad else { XCTFail("\(c.name): no gradient for \(name)"); continue }
                assertClose(grad, expected, "\(c.name) d/d\(name)")
            }
        }
    }

    /// The running-statistics update (unbiased variance, momentum 0.1) against PyTorch's
    /// BatchNorm in training mode.
    func testBatchNormRunningStatisticsMatchPyTorch() {
        for c in Self.cases where c.op == "batchnorm" && c.bool("training") {
            let x = c.inputs["x"]!
            let (_, mean, variance) = Kernels.batchNorm(x, gamma: c.inputs["gamma"]!, beta: c.inputs["beta"]!,
                                                        mean: nil, variance: nil, epsilon: c.float("eps"))
            var runningMean = c.inputs["running_mean"]!, runningVar = c.inputs["running_var"]!
            Kernels.updateRunningStatistics(mean: &runningMean, variance: &runningVar, batchMean: mean, batchVariance: variance,
                                            valuesPerChannel: x.count / x.shape.last!, momentum: c.float("momentum"))
            assertClose(runningMean, c.outputs["running_mean"]!, "\(c.name) running mean")
            assertClose(runningVar, c.outputs["running_var"]!, "\(c.name) running variance")
        }
    }
}

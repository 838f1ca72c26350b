import Engine
import TestSupport
import XCTest

/// `batchNormReLU` (oneDNN's fuse_norm_relu) against the two ops it replaces, whose
/// forward and gradients are checked against PyTorch fixtures, and against central
/// differences.
final class FusedOpTests: XCTestCase {
    private func inputs(seed: UInt64) -> [String: Tensor] {
        var rng = RandomGenerator(seed: seed)
        return [
            "x": .randomNormal([2, 3, 3, 5], using: &rng),
            "gamma": .randomUniform([5], low: 0.5, high: 1.5, using: &rng),
            "beta": .randomNormal([5], std: 0.5, using: &rng),
        ]
    }

    /// Forward values, batch statistics and the gradients of x, gamma and beta within 1e-5 of
    /// `relu(batchNorm(...))`, with batch statistics and with running ones.
    func testBatchNormReLUMatchesBatchNormThenReLU() {
        let running = (mean: Tensor([0.1, -0.2, 0.3, 0, 0.5]), variance: Tensor([1, 0.5, 2, 1.5, 0.8]))
        for statistics in [nil, running] as [(mean: Tensor, variance: Tensor)?] {
            let values = inputs(seed: 1)
            var rng = RandomGenerator(seed: 2)
            let upstream = Tensor.randomNormal([2, 3, 3, 5], using: &rng)
            func run(fused: Bool) -> [Tensor] {
                let v = values.mapValues { Variable($0, requiresGrad: true) }
                let (x, g, b) = (v["x"]!, v["gamma"]!, v["beta"]!)
                let (y, mean, variance) =
                    fused
                    ? batchNormReLU(x, gamma: g, beta: b, statistics: statistics, epsilon: 1e-5)
                    : { r in (relu(r.output), r.mean, r.variance) }(
                        batchNorm(x, gamma: g, beta: b, statistics: statistics, epsilon: 1e-5))
                y.backward(seed: upstream)
                return [y.value, mean, variance, x.grad!, g.grad!, b.grad!]
            }
            let names = ["output", "mean", "variance", "dx", "dgamma", "dbeta"]
            for (name, (a, b)) in zip(names, zip(run(fused: true), run(fused: false))) {
                XCTAssertTrue(
                    a.isClose(to: b, rtol: 1e-5, atol: 1e-5), "\(name), running statistics: \(statistics != nil)")
            }
        }
    }

    /// Central differences with the default step cross the ReLU's kink where an output sits
    /// near zero; both forms are checked with a smaller step (2e-3, tolerance atol 5e-3), and the
    /// unfused form must pass the same check (it did fail the default step as the fused one did).
    func testBatchNormReLUAgainstCentralDifferences() {
        for fused in [true, false] {
            checkGradients(
                "batchNormReLU fused: \(fused)", inputs: inputs(seed: 3), differentiable: ["x", "gamma", "beta"],
                eps: 2e-3, atol: 5e-3
            ) { v in
                fused
                    ? batchNormReLU(v["x"]!, gamma: v["gamma"]!, beta: v["beta"]!, statistics: nil, epsilon: 1e-5)
                        .output
                    : relu(
                        batchNorm(v["x"]!, gamma: v["gamma"]!, beta: v["beta"]!, statistics: nil, epsilon: 1e-5).output)
            }
        }
    }
}

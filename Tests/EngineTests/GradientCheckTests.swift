import Engine
import TestSupport
import XCTest

/// Every differentiable op's backward against central differences (tolerances in
/// `checkGradients`: eps 1e-2, rtol 1e-2, atol 2e-3), on the fixture inputs. Max- and
/// median-type ops get well-separated inputs (spacing 0.05 > 2·eps) so no perturbation
/// changes which cell is chosen.
final class GradientCheckTests: XCTestCase {
    func testEveryFixtureOpAgainstCentralDifferences() {
        var rng = RandomGenerator(seed: 11)
        for c in PyTorchParityTests.cases {
            var inputs = c.inputs
            if ["max", "maxpool2d", "global_max_pool", "medianpool2d"].contains(c.op) {
                let x = inputs["x"]!
                var values = (0..<x.count).map { Float($0) * 0.05 - Float(x.count) * 0.025 }
                values.shuffle(using: &rng)
                inputs["x"] = Tensor(shape: x.shape, scalars: values)
            }
            checkGradients(c.name, inputs: inputs, differentiable: Array(c.grads.keys), upstream: c.upstream) { runFixtureOp(c, $0) }
        }
    }

    func testShapeOpsAgainstCentralDifferences() {
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([2, 3, 4], using: &rng)
        let y = Tensor.randomNormal([2, 1, 4], using: &rng)
        checkGradients("permute", inputs: ["x": x], differentiable: ["x"]) { $0["x"]!.permuted([2, 0, 1]) }
        checkGradients("reshape", inputs: ["x": x], differentiable: ["x"]) { $0["x"]!.reshaped([6, 4]) }
        checkGradients("concatenate", inputs: ["x": x, "y": y], differentiable: ["x", "y"]) { concatenate([$0["x"]!, $0["y"]!], axis: 1) }
        checkGradients("exp-log", inputs: ["x": x.abs() + 0.5], differentiable: ["x"]) { ($0["x"]!.exp() + $0["x"]!.log()).squared() }
        checkGradients("pow-sqrt", inputs: ["x": x.abs() + 0.5], differentiable: ["x"]) { $0["x"]!.pow(1.5) + $0["x"]!.sqrt() }
        checkGradients("scalar ops", inputs: ["x": x], differentiable: ["x"]) { (($0["x"]! * 3) - 1) / 2 + (-$0["x"]!) }
        checkGradients("dropout (fixed mask)", inputs: ["x": x], differentiable: ["x"]) { v in
            var local = RandomGenerator(seed: 5)  // same mask on every evaluation
            return dropout(v["x"]!, rate: 0.5, using: &local)
        }
    }
}

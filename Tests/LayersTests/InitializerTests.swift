import Engine
import Layers
import XCTest

/// Each initialiser's sample mean and standard deviation on a large tensor match its formula
/// within sampling error (5 standard errors: the mean's is std/sqrt(n), the std's about
/// std/sqrt(2n) for a normal and std·sqrt(0.8/n)/2 for a uniform; 6% relative is ample).
final class InitializerTests: XCTestCase {
    func testMomentsMatchFormulas() {
        var rng = RandomGenerator(seed: 123)
        let shape = [3, 3, 64, 128]  // HWIO: fanIn 576, fanOut 1152
        XCTAssertEqual(Initializer.fans(shape).fanIn, 576)
        XCTAssertEqual(Initializer.fans(shape).fanOut, 1152)
        XCTAssertEqual(Initializer.fans([300, 100]).fanIn, 300)
        let expectations: [(Initializer, Float, Float)] = [
            (.normal(mean: 0.5, std: 0.2), 0.5, 0.2),
            (.uniform(low: -1, high: 3), 1, 4 / Float(12).squareRoot()),
            (.glorotNormal, 0, (2 / Float(576 + 1152)).squareRoot()),
            (.glorotUniform, 0, (2 / Float(576 + 1152)).squareRoot()),
            (.lecunNormal, 0, (1 / Float(576)).squareRoot()),
            (.lecunUniform, 0, (1 / Float(576)).squareRoot()),
            (.heNormal(.fanIn), 0, (2 / Float(576)).squareRoot()),
            (.heNormal(.fanOut), 0, (2 / Float(1152)).squareRoot()),
            (.heUniform(.fanIn), 0, (2 / Float(576)).squareRoot()),
            (.heUniform(.fanOut), 0, (2 / Float(1152)).squareRoot()),
        ]
        for (initializer, mean, std) in expectations {
            let t = initializer.make(shape, using: &rng)
            let n = Float(t.count)
            let sampleMean = t.mean().scalar
            let sampleStd = (t - sampleMean).squared().mean().scalar.squareRoot()
            XCTAssertEqual(sampleMean, mean, accuracy: 5 * std / n.squareRoot(), "\(initializer) mean")
            XCTAssertEqual(sampleStd, std, accuracy: 0.06 * std, "\(initializer) std")
            XCTAssertEqual(initializer.standardDeviation(shape), std, accuracy: 1e-6 * std + 1e-9)
        }
        XCTAssertEqual(Initializer.zeros.make([4], using: &rng).scalars, [0, 0, 0, 0])
        XCTAssertEqual(Initializer.constant(0.1).make([2], using: &rng).scalars, [0.1, 0.1])
        let bound = (6 / Float(576)).squareRoot()
        XCTAssertLessThanOrEqual(Initializer.heUniform().make(shape, using: &rng).abs().max().scalar, bound)
        let lecunBound = (3 / Float(576)).squareRoot()
        XCTAssertLessThanOrEqual(Initializer.lecunUniform.make(shape, using: &rng).abs().max().scalar, lecunBound)
    }
}

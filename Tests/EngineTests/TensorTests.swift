import Engine
import XCTest

final class TensorTests: XCTestCase {
    func testCreationAndIndexing() {
        XCTAssertEqual(Tensor.zeros([2, 3]).scalars, [Float](repeating: 0, count: 6))
        XCTAssertEqual(Tensor.ones([4]).scalars, [1, 1, 1, 1])
        XCTAssertEqual(Tensor.full([1, 2], 7).scalars, [7, 7])
        var t = Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(t[1, 2], 5)
        t[0, 1] = 9
        XCTAssertEqual(t.scalars, [0, 9, 2, 3, 4, 5])
        XCTAssertEqual(Tensor(3).scalar, 3)
        XCTAssertEqual(t.strides, [3, 1])
    }

    func testValueSemanticsCopyOnWrite() {
        let a = Tensor.arange(4)
        var b = a
        b[0] = 100
        XCTAssertEqual(a.scalars, [0, 1, 2, 3], "mutating a copy must not change the original")
        XCTAssertEqual(b.scalars, [100, 1, 2, 3])
    }

    func testBroadcastingArithmetic() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual((a + Tensor([10, 20, 30])).scalars, [11, 22, 33, 14, 25, 36])
        XCTAssertEqual((a * Tensor(shape: [2, 1], scalars: [2, 3])).scalars, [2, 4, 6, 12, 15, 18])
        XCTAssertEqual((Tensor(shape: [2, 1], scalars: [1, 2]) - Tensor(shape: [1, 3], scalars: [1, 2, 3])).scalars, [0, -1, -2, 1, 0, -1])
        XCTAssertEqual((a / 2).scalars, [0.5, 1, 1.5, 2, 2.5, 3])
        XCTAssertEqual((a + Tensor(1)).shape, [2, 3])
    }

    func testReductions() {
        let x = Tensor(shape: [2, 3], scalars: [1, 5, 3, 4, 2, 6])
        XCTAssertEqual(x.sum().scalars, [21])
        XCTAssertEqual(x.sum(axes: [0]).scalars, [5, 7, 9])
        XCTAssertEqual(x.sum(axes: [1], keepDims: true).shape, [2, 1])
        XCTAssertEqual(x.mean(axes: [-1]).scalars, [3, 4])
        XCTAssertEqual(x.max(axes: [1]).scalars, [5, 6])
        XCTAssertEqual(x.argmax(axis: 1), [1, 2])
        XCTAssertEqual(x.argmax(axis: 0), [1, 0, 1])
        let y = Tensor.arange(24).reshaped([2, 3, 4])
        XCTAssertEqual(y.sum(axes: [0, 2]).scalars, [60, 92, 124])
        XCTAssertEqual(Tensor.arange(6).reshaped([2, 3]).sumReduced(toShape: [1, 3]).scalars, [3, 5, 7])
    }

    func testReshapePermuteSliceConcatenate() {
        let x = Tensor.arange(6).reshaped([2, -1])
        XCTAssertEqual(x.shape, [2, 3])
        XCTAssertEqual(x.transposed().scalars, [0, 3, 1, 4, 2, 5])
        let y = Tensor.arange(24).reshaped([2, 3, 4])
        XCTAssertEqual(y.permuted([2, 0, 1]).shape, [4, 2, 3])
        XCTAssertEqual(y.permuted([2, 0, 1])[3, 1, 2], y[1, 2, 3])
        XCTAssertEqual(y.slice(batch: 1..<2).scalars, Array(y.scalars[12...]))
        XCTAssertEqual(y.gather(batch: [1, 0]).slice(batch: 0..<1).scalars, Array(y.scalars[12...]))
        let c = Tensor.concatenate([x, Tensor.full([2, 1], -1)], axis: 1)
        XCTAssertEqual(c.scalars, [0, 1, 2, -1, 3, 4, 5, -1])
        XCTAssertEqual(Tensor.concatenate([x, x]).shape, [4, 3])
    }

    func testSeededRandomIsReproducibleAndHasTheRightMoments() {
        var r1 = RandomGenerator(seed: 42), r2 = RandomGenerator(seed: 42), r3 = RandomGenerator(seed: 43)
        let a = Tensor.randomNormal([100_000], mean: 1, std: 2, using: &r1)
        XCTAssertEqual(a, Tensor.randomNormal([100_000], mean: 1, std: 2, using: &r2), "same seed, same draws")
        XCTAssertNotEqual(a, Tensor.randomNormal([100_000], mean: 1, std: 2, using: &r3))
        // Sampling error of the mean: std/sqrt(n) = 0.0063; allow 5 sigma.
        XCTAssertEqual(a.mean().scalar, 1, accuracy: 0.032)
        XCTAssertEqual((a - 1).squared().mean().scalar, 4, accuracy: 0.1)
        let u = Tensor.randomUniform([100_000], low: -1, high: 3, using: &r1)
        XCTAssertEqual(u.mean().scalar, 1, accuracy: 0.02)
        XCTAssertGreaterThanOrEqual(u.scalars.min()!, -1)
        XCTAssertLessThan(u.scalars.max()!, 3)
        let bern = Tensor.randomBernoulli([100_000], p: 0.3, using: &r1)
        XCTAssertEqual(bern.mean().scalar, 0.3, accuracy: 0.01)
    }

    func testThreadCountSetting() {
        let before = Threads.count
        Threads.count = 1
        XCTAssertEqual(Threads.count, 1)
        var covered = [Int](repeating: 0, count: 100_000)
        covered.withUnsafeMutableBufferPointer { p in
            Threads.parallelFor(p.count, grain: 1000) { range in for i in range { p[i] += 1 } }
        }
        XCTAssertTrue(covered.allSatisfy { $0 == 1 })
        Threads.count = before
        covered = [Int](repeating: 0, count: 100_000)
        covered.withUnsafeMutableBufferPointer { p in
            Threads.parallelFor(p.count, grain: 1000) { range in for i in range { p[i] += 1 } }
        }
        XCTAssertTrue(covered.allSatisfy { $0 == 1 }, "parallel chunks must cover every index exactly once")
    }
}

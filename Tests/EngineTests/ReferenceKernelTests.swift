import Engine
import TestSupport
import XCTest

/// oneDNN kernels against the loop references on random configurations (seeded), within
/// rtol 1e-4 / atol 1e-4.
final class ReferenceKernelTests: XCTestCase {
    func testConvolutionOnRandomConfigurations() {
        var rng = RandomGenerator(seed: 2024)
        let paddings: [Padding] = [.valid, .same, .symmetric(1), .explicit(top: 0, bottom: 2, left: 1, right: 0)]
        for trial in 0..<40 {
            let k = [1, 3, 5, 7][Int(rng.next() % 4)], stride = 1 + Int(rng.next() % 2), dilation = 1 + Int(rng.next() % 2)
            let groups = [1, 2][Int(rng.next() % 2)]
            let cin = groups * (1 + Int(rng.next() % 3)), cout = groups * (1 + Int(rng.next() % 3))
            let size = (k - 1) * dilation + 1 + Int(rng.next() % 5)
            let padding = paddings[Int(rng.next() % 4)]
            guard let g = try? Conv2DGeometry(input: [2, size, size + 1, cin], kernel: [k, k, cin / groups, cout],
                                              stride: (stride, stride), padding: padding, dilation: (dilation, dilation),
                                              groups: groups) else { continue }
            let x = Tensor.randomNormal(g.input, using: &rng), w = Tensor.randomNormal(g.kernel, using: &rng)
            let b = Tensor.randomNormal([cout], using: &rng)
            assertClose(Kernels.conv2d(x, w, bias: b, geometry: g), Reference.conv2d(x, w, bias: b, geometry: g),
                        rtol: 1e-4, atol: 1e-4, "trial \(trial): conv k\(k) s\(stride) d\(dilation) g\(groups) \(padding)")
        }
    }

    func testPoolingOnRandomConfigurations() {
        var rng = RandomGenerator(seed: 99)
        for trial in 0..<30 {
            let kind: Pool2DGeometry.Kind = trial % 2 == 0 ? .max : .average
            let k = 2 + Int(rng.next() % 2), s = 1 + Int(rng.next() % 2)
            let padding: Padding = [.valid, .same, .symmetric(1)][Int(rng.next() % 3)]
            let size = k + Int(rng.next() % 6)
            let g = try! Pool2DGeometry(kind, input: [2, size, size, 3], pool: (k, k), stride: (s, s), padding: padding)
            let x = Tensor.randomNormal(g.input, using: &rng)
            assertClose(Kernels.pool2d(x, geometry: g, training: false).output, Reference.pool2d(x, geometry: g),
                        rtol: 1e-5, atol: 1e-5, "trial \(trial): \(kind) pool \(k) s\(s) \(padding)")
        }
    }

    func testBatchNormTrainingAgainstReference() {
        var rng = RandomGenerator(seed: 5)
        for shape in [[4, 3, 5, 6], [16, 7]] {
            let x = Tensor.randomNormal(shape, mean: 1, std: 2, using: &rng)
            let c = shape.last!
            let gamma = Tensor.randomUniform([c], low: 0.5, high: 1.5, using: &rng), beta = Tensor.randomNormal([c], using: &rng)
            let y = Kernels.batchNorm(x, gamma: gamma, beta: beta, mean: nil, variance: nil, epsilon: 1e-3).output
            assertClose(y, Reference.batchNorm(x, gamma: gamma, beta: beta, epsilon: 1e-3), rtol: 1e-4, atol: 1e-4, "batchNorm \(shape)")
        }
    }

    func testActivationsAgainstFormulas() {
        var rng = RandomGenerator(seed: 8)
        let x = Tensor.randomNormal([1000], std: 3, using: &rng)
        let formulas: [(Activation, (Float) -> Float)] = [
            (.relu, { max($0, 0) }), (.leakyReLU(alpha: 0.2), { $0 > 0 ? $0 : 0.2 * $0 }),
            (.elu(alpha: 1.5), { $0 > 0 ? $0 : 1.5 * (exp($0) - 1) }), (.sigmoid, { 1 / (1 + exp(-$0)) }), (.tanh, { Foundation.tanh($0) }),
        ]
        for (a, f) in formulas {
            assertClose(Kernels.activation(x, a), x.map(f), rtol: 1e-5, atol: 1e-6, "\(a)")
        }
    }

    func testMatmulAndLinearAgainstLoops() {
        var rng = RandomGenerator(seed: 4)
        let a = Tensor.randomNormal([7, 13], using: &rng), b = Tensor.randomNormal([13, 5], using: &rng)
        let expected = Tensor.generate([7, 5]) { idx in
            let (i, j) = (idx / 5, idx % 5)
            return (0..<13).reduce(0) { $0 + a[i, $1] * b[$1, j] }
        }
        assertClose(Kernels.matmul(a, b), expected, rtol: 1e-5, atol: 1e-5, "matmul")
        assertClose(Kernels.matmul(a.transposed(), b, transposeA: true), expected, rtol: 1e-5, atol: 1e-5, "matmul transposeA")
        assertClose(Kernels.matmul(a, b.transposed(), transposeB: true), expected, rtol: 1e-5, atol: 1e-5, "matmul transposeB")
        let bias = Tensor.randomNormal([5], using: &rng)
        assertClose(Kernels.linear(a, b, bias: bias), expected + bias, rtol: 1e-5, atol: 1e-5, "linear")
    }
}

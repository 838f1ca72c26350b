import Engine
import TestSupport
import XCTest

/// Every convolution geometry's forward and both backwards, repeated in one process with
/// other primitives and allocations in between, must give bit-identical results: a kernel
/// that reads uninitialised memory, shares a workspace between threads or races on a
/// reduction fails here. (Before the strided-1x1 rewrite, oneDNN's `jit_1x1:avx2` backward
/// weights gave wrong gradients in about 1 of 400 calls, and `jit_1x1:avx512_core` crashed
/// on the larger geometries below: oneDNN issue #6035.)
final class ConvolutionRepeatabilityTests: XCTestCase {
    struct Case {
        let name: String
        let geometry: Conv2DGeometry
        let x: Tensor, w: Tensor, b: Tensor, dy: Tensor
    }

    struct Results: Equatable {
        let y: [Float], dx: [Float], dw: [Float], db: [Float]
    }

    static func cases() throws -> [Case] {
        var rng = RandomGenerator(seed: 77)
        var geometries: [(String, Conv2DGeometry)] = try PyTorchParityTests.cases.filter { $0.op == "conv2d" }.map {
            c in
            let w = c.inputs["w"]!
            let input = c.inputs["x"]!.shape
            return (
                c.name,
                try Conv2DGeometry(
                    input: input, kernel: w.shape, stride: c.pair("stride"), padding: c.padding,
                    dilation: c.pair("dilation"), groups: c.int("groups"))
            )
        }
        // Strided 1x1 projections with channel counts below and off the ISA's block (8 / 16),
        // a ResNet downsampling 3x3 and a stem-like 7x7.
        for (cin, size) in [(3, 32), (4, 64), (12, 48), (16, 16), (64, 8)] {
            geometries.append(
                (
                    "1x1 s2 cin\(cin) \(size)px",
                    try Conv2DGeometry(input: [8, size, size, cin], kernel: [1, 1, cin, 16], stride: (2, 2))
                ))
        }
        geometries.append(
            (
                "3x3 s2 same",
                try Conv2DGeometry(
                    input: [8, 16, 16, 16], kernel: [3, 3, 16, 32],
                    stride: (2, 2), padding: .same)
            ))
        geometries.append(
            (
                "7x7 s2 stem",
                try Conv2DGeometry(
                    input: [4, 32, 32, 3], kernel: [7, 7, 3, 16],
                    stride: (2, 2), padding: .symmetric(3))
            ))
        return geometries.map { name, g in
            Case(
                name: name, geometry: g, x: .randomNormal(g.input, using: &rng),
                w: .randomNormal(g.kernel, using: &rng),
                b: .randomNormal([g.kernel[3]], using: &rng), dy: .randomNormal(g.output, using: &rng))
        }
    }

    static func run(_ c: Case) -> Results {
        let y = Kernels.conv2d(c.x, c.w, bias: c.b, geometry: c.geometry)
        let dx = Kernels.conv2dBackwardData(c.dy, c.w, geometry: c.geometry)
        let (dw, db) = Kernels.conv2dBackwardWeights(c.x, c.dy, bias: true, geometry: c.geometry)
        return Results(y: y.scalars, dx: dx.scalars, dw: dw.scalars, db: db!.scalars)
    }

    func testEveryGeometryRepeatsBitForBit() throws {
        let cases = try Self.cases()
        let first = cases.map(Self.run)
        var rng = RandomGenerator(seed: 5)
        var held: [Tensor] = []
        for round in 0..<40 {
            for (index, c) in cases.enumerated() {
                // Allocations of varying size between calls, some kept alive, some freed.
                held.append(.randomNormal([1 + Int(rng.next() % 20_000)], using: &rng))
                if held.count > 8 { held.removeFirst(Int(rng.next() % 4) + 1) }
                let again = Self.run(c)
                guard again == first[index] else {
                    return XCTFail(
                        "\(c.name): round \(round) differs from the first run (y \(again.y == first[index].y), "
                            + "dx \(again.dx == first[index].dx), dw \(again.dw == first[index].dw), db \(again.db == first[index].db))"
                    )
                }
            }
        }
    }

    /// The gathered unit-stride form of strided 1x1 convolutions against the loop reference
    /// (forward, rtol/atol 1e-4) and, for both backwards, the adjoint identities
    /// <conv(x), dy> = <x, dx> = <w, dw> (relative 1e-4).
    func testStridedPointwiseAgainstReference() throws {
        var rng = RandomGenerator(seed: 9)
        let paddings: [Padding] = [.valid, .same, .symmetric(1), .explicit(top: 1, bottom: 0, left: 0, right: 2)]
        for (trial, (stride, padding)) in zip([(2, 2), (2, 1), (3, 2), (1, 3)], paddings).enumerated() {
            for groups in [1, 2] {
                let g = try Conv2DGeometry(
                    input: [2, 7, 9, 6], kernel: [1, 1, 6 / groups, 4], stride: stride,
                    padding: padding, groups: groups)
                let x = Tensor.randomNormal(g.input, using: &rng)
                let w = Tensor.randomNormal(g.kernel, using: &rng)
                let b = Tensor.randomNormal([4], using: &rng)
                let dy = Tensor.randomNormal(g.output, using: &rng)
                let label = "trial \(trial): stride \(stride) \(padding) groups \(groups)"
                assertClose(
                    Kernels.conv2d(x, w, bias: b, geometry: g), Reference.conv2d(x, w, bias: b, geometry: g),
                    rtol: 1e-4, atol: 1e-4, label)
                let y = Reference.conv2d(x, w, bias: nil, geometry: g)
                let dx = Kernels.conv2dBackwardData(dy, w, geometry: g)
                let (dw, db) = Kernels.conv2dBackwardWeights(x, dy, bias: true, geometry: g)
                let forward = dot(y, dy)
                XCTAssertEqual(dot(x, dx), forward, accuracy: 1e-4 * max(1, abs(forward)), "\(label): <x, dx>")
                XCTAssertEqual(dot(w, dw), forward, accuracy: 1e-4 * max(1, abs(forward)), "\(label): <w, dw>")
                assertClose(db!, dy.sum(axes: [0, 1, 2]), rtol: 1e-4, atol: 1e-4, "\(label): bias gradient")
            }
        }
    }

    private func dot(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).reduce(Float(0)) { $0 + $1.0 * $1.1 }
    }
}

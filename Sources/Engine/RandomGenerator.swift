import CGraftKernels
import Foundation

/// The one random number generator behind every random choice in Graft.
///
/// xoshiro256** (Blackman & Vigna, 2018) seeded through SplitMix64, so any 64-bit seed gives a
/// well-mixed state. Uniform floats take the top 24 bits of a draw; normals use the
/// Box–Muller transform on two uniforms (both results are used). The same seed always
/// produces the same sequence on every machine. `split()` derives an independent stream
/// (for a loader thread or an augmentation) without disturbing reproducibility.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    /// The xoshiro256** state and the spare normal; the bulk fills run in C
    /// (CGraftKernels), which keeps debug builds fast and gives the same values.
    fileprivate var raw = graft_rng()

    public init(seed: UInt64) {
        var sm = seed
        func splitMix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        raw.s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 { graft_rng_next(&raw) }

    /// A uniform float in [0, 1).
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A standard normal float (Box–Muller).
    /// `radius·cos(2πu2)` with `radius = √(−2 ln u1)`, `u1 ∈ (0, 1]`; the pair's
    /// `radius·sin(2πu2)` is kept for the next call.
    public mutating func nextNormal() -> Float {
        var value: Float = 0
        graft_fill_normal(&raw, &value, 1, 0, 1)
        return value
    }

    /// A uniform integer in `0..<bound` (Lemire's multiply-shift with rejection: unbiased).
    public mutating func nextInt(below bound: Int) -> Int {
        ensure(bound > 0, "RandomGenerator.nextInt(below:): bound \(bound) must be positive")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Fisher–Yates shuffle with this generator. Graft's own, so that a seed gives the same
    /// order on every Swift version (the standard library's algorithm may change).
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, nextInt(below: i + 1))
        }
    }

    /// A shuffled copy.
    public mutating func shuffled<T>(_ array: [T]) -> [T] {
        var copy = array
        shuffle(&copy)
        return copy
    }

    /// A new generator whose stream is independent of this one's; advances this one once.
    public mutating func split() -> RandomGenerator {
        RandomGenerator(seed: next())
    }
}

extension Tensor {
    /// Independent draws from N(mean, std²).
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1,
                                    using rng: inout RandomGenerator) -> Tensor {
        Tensor(shape: shape) { graft_fill_normal(&rng.raw, $0.baseAddress, $0.count, mean, std) }
    }

    /// Independent draws from U[low, high).
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                                     using rng: inout RandomGenerator) -> Tensor {
        Tensor(shape: shape) { graft_fill_uniform(&rng.raw, $0.baseAddress, $0.count, low, high) }
    }

    /// Independent Bernoulli draws: 1 with probability `p`, else 0.
    public static func randomBernoulli(_ shape: [Int], p: Float, using rng: inout RandomGenerator) -> Tensor {
        ensure(p >= 0 && p <= 1, "randomBernoulli: probability \(p) is outside [0, 1]")
        return Tensor(shape: shape) { graft_fill_bernoulli(&rng.raw, $0.baseAddress, $0.count, p) }
    }
}

/// The process-wide seed behind layers' default initialisation and dropout masks.
///
/// `Random.seed(s)` resets it; every layer built afterwards takes its own stream from it
/// (`Random.makeGenerator()`), so the same seed and the same construction order give the
/// same weights and masks. Code that wants no global state passes its own generator.
public enum Random {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var generator = RandomGenerator(seed: 0)

    /// Restarts the global stream from `seed`.
    public static func seed(_ seed: UInt64) { lock.withLock { generator = RandomGenerator(seed: seed) } }

    /// A new independent generator split from the global stream.
    public static func makeGenerator() -> RandomGenerator { lock.withLock { generator.split() } }
}

import Engine
import Foundation

/// Batch-level augmentations that mix pairs of examples and their labels: mixup (Zhang et
/// al., 2018) blends whole images, cutmix (Yun et al., 2019) pastes a rectangle of one into
/// another. `λ ~ Beta(α, α)`; the partner of example i is `permutation[i]`; targets become
/// `λ·t_i + (1-λ)·t_partner` (cutmix: λ is the kept area fraction). Train with
/// `softmaxCrossEntropy(logits:targets:)`.
public enum BatchMix: Equatable, Sendable {
    case mixup(alpha: Double)
    case cutmix(alpha: Double)

    /// What one application drew, for the record.
    public struct Draw: Codable, Equatable, Sendable {
        public var lambda: Double
        public var permutation: [Int]
        /// The pasted box (cutmix): x, y, width, height.
        public var box: [Int]?
    }

    public func apply(images: Tensor, targets: Tensor, using rng: inout RandomGenerator) -> (images: Tensor, targets: Tensor, draw: Draw) {
        ensure(images.rank == 4 && targets.rank == 2 && images.shape[0] == targets.shape[0],
               "BatchMix: expects NHWC images and [n, classes] targets for the same n, got \(images.shape) and \(targets.shape)")
        let n = images.shape[0], (h, w, c) = (images.shape[1], images.shape[2], images.shape[3])
        let alpha: Double
        switch self { case let .mixup(a), let .cutmix(a): alpha = a }
        ensure(alpha > 0 && alpha.isFinite, "BatchMix: alpha \(alpha) must be a positive number (Beta(α, α); 0.2–1 is usual)")
        var lambda = rng.nextBeta(alpha, alpha)
        var permutation = Array(0..<n)
        rng.shuffle(&permutation)
        var mixed = images
        var box: [Int]?
        switch self {
        case .mixup:
            let l = Float(lambda)
            mixed = Tensor(shape: images.shape) { dst in
                images.withUnsafeBufferPointer { src in
                    let per = h * w * c
                    for i in 0..<n { for j in 0..<per { dst[i * per + j] = l * src[i * per + j] + (1 - l) * src[permutation[i] * per + j] } }
                }
            }
        case .cutmix:
            let cutW = Int(Double(w) * (1 - lambda).squareRoot()), cutH = Int(Double(h) * (1 - lambda).squareRoot())
            let cx = Int(rng.next() % UInt64(w)), cy = Int(rng.next() % UInt64(h))
            let x0 = max(cx - cutW / 2, 0), x1 = min(cx + cutW / 2, w), y0 = max(cy - cutH / 2, 0), y1 = min(cy + cutH / 2, h)
            box = [x0, y0, x1 - x0, y1 - y0]
            lambda = 1 - Double((x1 - x0) * (y1 - y0)) / Double(w * h)
            images.withUnsafeBufferPointer { src in
                mixed.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<n {
                        for y in y0..<y1 { for x in x0..<x1 { for ch in 0..<c {
                            dst[((i * h + y) * w + x) * c + ch] = src[((permutation[i] * h + y) * w + x) * c + ch]
                        } } }
                    }
                }
            }
        }
        let l = Float(lambda)
        let mixedTargets = targets * l + targets.gather(batch: permutation) * (1 - l)
        return (mixed, mixedTargets, Draw(lambda: lambda, permutation: permutation, box: box))
    }
}

extension RandomGenerator {
    /// A Gamma(shape, 1) draw (Marsaglia & Tsang, 2000).
    public mutating func nextGamma(_ shape: Double) -> Double {
        if shape < 1 { return nextGamma(shape + 1) * pow(Double(nextUniform()) + 1e-12, 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat { x = Double(nextNormal()); v = 1 + c * x } while v <= 0
            v = v * v * v
            let u = Double(nextUniform())
            if u < 1 - 0.0331 * x * x * x * x || log(u + 1e-300) < 0.5 * x * x + d * (1 - v + log(v)) { return d * v }
        }
    }

    /// A Beta(a, b) draw.
    public mutating func nextBeta(_ a: Double, _ b: Double) -> Double {
        let x = nextGamma(a), y = nextGamma(b)
        return x / (x + y)
    }
}

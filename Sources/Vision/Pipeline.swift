import Engine
import Foundation

/// An augmentation pipeline: ops applied in order, each with its own probability, every
/// random choice from the generator passed in (the loader derives one per image from the
/// run's seed, the epoch and the image's index).
///
/// Text form (the command line's `--pipeline`): comma-separated ops, each `name`,
/// `name=value` or `name=value@probability`:
///
/// | op | value | default p |
/// |---|---|---|
/// | `hflip`, `vflip` | – | 0.5 |
/// | `rotate=15` | max degrees | 1 |
/// | `crop=56` or `crop=32:4` | size, optional padding | 1 |
/// | `resizedcrop=224` | output size (scale 0.08–1, ratio 3/4–4/3) | 1 |
/// | `zoom=0.1`, `translate=0.1` | max fraction | 1 |
/// | `shear=10` | max degrees | 1 |
/// | `brightness=0.2`, `contrast=0.2`, `saturation=0.2` | max change | 1 |
/// | `hue=0.05` | max fraction of the colour circle | 1 |
/// | `jitter=0.3` | brightness, contrast and saturation together | 1 |
/// | `grey` | – | 0.1 |
/// | `noise=0.05` | std | 1 |
/// | `blur=1.5` | max σ in pixels | 0.5 |
/// | `erase=0.3` | max fraction of each side | 0.5 |
///
/// The geometric ops (rotate, zoom, translate, shear) fill what the warp uncovers with the
/// nearest edge pixel (Keras's `fill_mode="nearest"`), so a drawing on white keeps a white
/// background instead of black corners.
public struct Augmentation: Equatable, Sendable {
    public var ops: [AugmentationOp]

    public init(_ ops: [AugmentationOp]) { self.ops = ops }

    /// Augments one image; returns it with the steps that reproduce it.
    /// Consecutive geometric ops (rotate, zoom, translate, shear) are composed into one warp,
    /// so the image is resampled once, not once per op.
    public func apply(_ image: Image, using rng: inout RandomGenerator) -> (image: Image, steps: [AugmentationStep]) {
        var size = (image.width, image.height)
        var steps: [AugmentationStep] = []
        for op in ops {
            let draw = Double(rng.nextUniform())
            let parameters = op.sample(width: size.0, height: size.1, using: &rng)
            let applied = draw < op.probability
            steps.append(AugmentationStep(op: op.name, applied: applied, parameters: applied ? parameters : [:]))
            if applied { size = Augmentation.outputSize(op, parameters, size) }
        }
        return (run(image, steps), steps)
    }

    /// Throws when a crop or resized crop is larger than the images it will see
    /// (`trainingSize` x `trainingSize`): it would pad them with black and shrink the content.
    public func check(trainingSize size: Int) throws {
        for op in ops {
            switch op {
            case let .crop(s, padding, _) where s > size:
                throw PipelineError.badValue(op: "crop=\(s)\(padding > 0 ? ":\(padding)" : "")",
                    reason: "crops \(s)x\(s) from \(size)x\(size) images; use a size up to \(size) (crop=\(size):4 pads by 4 and crops back)")
            case let .resizedCrop(s, _, _, _) where s > size:
                throw PipelineError.badValue(op: "resizedcrop=\(s)",
                    reason: "outputs \(s)x\(s) but the images are \(size)x\(size); use resizedcrop=\(size)")
            default:
                continue
            }
        }
    }

    /// The size an op leaves (crops change it; everything else keeps it).
    static func outputSize(_ op: AugmentationOp, _ p: [String: Double], _ size: (Int, Int)) -> (Int, Int) {
        switch op {
        case let .resizedCrop(s, _, _, _), let .crop(s, _, _): return (s, s)
        default: return size
        }
    }

    /// Applies recorded steps, fusing runs of geometric ops.
    private func run(_ image: Image, _ steps: [AugmentationStep]) -> Image {
        var out = image
        var pending: AffineInverse?
        func flush() {
            if let m = pending { out = out.warped(inverse: m, fill: nil); pending = nil }
        }
        for (step, op) in zip(steps, ops) where step.applied {
            if let m = op.inverseAffine(step.parameters) {
                pending = pending.map { AugmentationOp.compose($0, then: m) } ?? m
            } else {
                flush()
                out = op.apply(out, step.parameters)
            }
        }
        flush()
        return out
    }

    /// Applies recorded steps again (same pipeline): the same image comes out.
    public func replay(_ image: Image, steps: [AugmentationStep]) throws -> Image {
        guard steps.count == ops.count, zip(steps, ops).allSatisfy({ $0.op == $1.name }) else {
            throw PipelineError.replayMismatch(expected: ops.map(\.name), recorded: steps.map(\.op))
        }
        return run(image, steps)
    }

    /// Parses the text form documented on the type.
    public init(spec: String) throws {
        var ops: [AugmentationOp] = []
        for raw in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !raw.isEmpty {
            var body = raw, probability: Double?
            if let at = raw.lastIndex(of: "@") {
                guard let p = Double(raw[raw.index(after: at)...]), (0...1).contains(p) else {
                    throw PipelineError.badValue(op: raw, reason: "the probability after @ must be a number in [0, 1]")
                }
                probability = p
                body = String(raw[..<at])
            }
            let parts = body.split(separator: "=", maxSplits: 1).map(String.init)
            let name = parts[0].lowercased()
            let values = parts.count > 1 ? parts[1].split(separator: ":").map { Double($0) } : []
            if values.contains(where: { $0 == nil }) { throw PipelineError.badValue(op: raw, reason: "values must be numbers") }
            let v = values.compactMap { $0 }
            func need(_ n: Int) throws -> Double {
                guard v.count >= n, v[n - 1] >= 0, v[n - 1].isFinite, v[n - 1] < 100_000 else {
                    throw PipelineError.badValue(op: raw, reason: "needs a non-negative value, e.g. \(name)=\(name == "crop" ? "32:4" : "0.2")")
                }
                return v[n - 1]
            }
            func size() throws -> Int {
                let s = try need(1)
                guard s >= 1, s == s.rounded() else { throw PipelineError.badValue(op: raw, reason: "the size must be a whole number of pixels, at least 1") }
                return Int(s)
            }
            func p(_ fallback: Double) -> Double { probability ?? fallback }
            switch name {
            case "hflip": ops.append(.horizontalFlip(p: p(0.5)))
            case "vflip": ops.append(.verticalFlip(p: p(0.5)))
            case "rotate": ops.append(.rotate(degrees: try need(1), p: p(1)))
            case "crop": ops.append(.crop(size: try size(), padding: v.count > 1 ? Int(min(max(try need(2), 0), 10_000)) : 0, p: p(1)))
            case "resizedcrop": ops.append(.resizedCrop(size: try size(), scale: 0.08...1, ratio: 0.75...(4.0 / 3), p: p(1)))
            case "zoom": ops.append(.zoom(fraction: try need(1), p: p(1)))
            case "translate": ops.append(.translate(fraction: try need(1), p: p(1)))
            case "shear": ops.append(.shear(degrees: try need(1), p: p(1)))
            case "brightness": ops.append(.brightness(amount: try need(1), p: p(1)))
            case "contrast": ops.append(.contrast(amount: try need(1), p: p(1)))
            case "saturation": ops.append(.saturation(amount: try need(1), p: p(1)))
            case "hue": ops.append(.hue(amount: min(try need(1), 0.5), p: p(1)))
            case "jitter":
                let a = try need(1)
                ops += [.brightness(amount: a, p: p(1)), .contrast(amount: a, p: p(1)), .saturation(amount: a, p: p(1))]
            case "grey", "gray", "greyscale", "grayscale": ops.append(.greyscale(p: p(0.1)))
            case "noise": ops.append(.noise(std: try need(1), p: p(1)))
            case "blur": ops.append(.blur(sigma: try need(1), p: p(0.5)))
            case "erase", "cutout": ops.append(.erase(fraction: min(try need(1), 1), p: p(0.5)))
            default: throw PipelineError.unknownOp(name)
            }
        }
        self.ops = ops
    }
}

public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case unknownOp(String)
    case badValue(op: String, reason: String)
    case replayMismatch(expected: [String], recorded: [String])

    public var description: String {
        switch self {
        case let .unknownOp(name):
            return "unknown augmentation '\(name)'; known: hflip, vflip, rotate, crop, resizedcrop, zoom, translate, shear, brightness, contrast, saturation, hue, jitter, grey, noise, blur, erase (see README)"
        case let .badValue(op, reason): return "augmentation '\(op)': \(reason)"
        case let .replayMismatch(expected, recorded):
            return "the recorded steps (\(recorded.joined(separator: ","))) were not made by this pipeline (\(expected.joined(separator: ",")))"
        }
    }
}

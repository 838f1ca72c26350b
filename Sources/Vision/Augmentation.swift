import Engine
import Foundation

/// What one op drew for one image. Replaying the steps of an image reproduces it exactly.
public struct AugmentationStep: Codable, Equatable, Sendable {
    public var op: String
    /// False when the op's probability said to skip it.
    public var applied: Bool
    public var parameters: [String: Double]

    public init(op: String, applied: Bool, parameters: [String: Double]) {
        self.op = op; self.applied = applied; self.parameters = parameters
    }
}

/// One augmentation op with its probability. Ops draw their parameters from the caller's
/// generator (`sample`) and apply them deterministically (`apply`), so every augmented image
/// can be recorded and replayed.
public enum AugmentationOp: Equatable, Sendable {
    /// Mirror left-right.
    case horizontalFlip(p: Double)
    /// Mirror top-bottom.
    case verticalFlip(p: Double)
    /// Rotation by an angle drawn from ±`degrees` (counter-clockwise positive), corners black.
    case rotate(degrees: Double, p: Double)
    /// Inception-style random resized crop (Szegedy et al., 2015): a window covering
    /// `scale` of the area with aspect ratio in `ratio`, resized to `size` x `size`.
    case resizedCrop(size: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>, p: Double)
    /// A `size` x `size` window at a random offset of the image padded by `padding` (CIFAR-style).
    case crop(size: Int, padding: Int, p: Double)
    /// Zoom by a factor drawn from 1 ± `fraction` about the centre.
    case zoom(fraction: Double, p: Double)
    /// Shift by up to ±`fraction` of the width and height.
    case translate(fraction: Double, p: Double)
    /// Horizontal shear by an angle drawn from ±`degrees`.
    case shear(degrees: Double, p: Double)
    /// Multiply by a factor drawn from 1 ± `amount` (torchvision's brightness).
    case brightness(amount: Double, p: Double)
    /// Blend with the mean grey level by a factor drawn from 1 ± `amount`.
    case contrast(amount: Double, p: Double)
    /// Blend with the greyscale image by a factor drawn from 1 ± `amount`.
    case saturation(amount: Double, p: Double)
    /// Rotate hue by up to ±`amount` of the colour circle (amount ≤ 0.5).
    case hue(amount: Double, p: Double)
    /// Greyscale (channels kept).
    case greyscale(p: Double)
    /// Add N(0, std²) noise per value.
    case noise(std: Double, p: Double)
    /// Gaussian blur with σ drawn from [0.1, `sigma`] pixels.
    case blur(sigma: Double, p: Double)
    /// Random erasing / cutout (DeVries & Taylor, 2017; Zhong et al., 2020): a rectangle of
    /// up to `fraction` of each side set to 0.
    case erase(fraction: Double, p: Double)

    public var name: String {
        switch self {
        case .horizontalFlip: return "hflip"
        case .verticalFlip: return "vflip"
        case .rotate: return "rotate"
        case .resizedCrop: return "resizedcrop"
        case .crop: return "crop"
        case .zoom: return "zoom"
        case .translate: return "translate"
        case .shear: return "shear"
        case .brightness: return "brightness"
        case .contrast: return "contrast"
        case .saturation: return "saturation"
        case .hue: return "hue"
        case .greyscale: return "grey"
        case .noise: return "noise"
        case .blur: return "blur"
        case .erase: return "erase"
        }
    }

    public var probability: Double {
        switch self {
        case let .horizontalFlip(p), let .verticalFlip(p), let .rotate(_, p), let .resizedCrop(_, _, _, p), let .crop(_, _, p),
             let .zoom(_, p), let .translate(_, p), let .shear(_, p), let .brightness(_, p), let .contrast(_, p),
             let .saturation(_, p), let .hue(_, p), let .greyscale(p), let .noise(_, p), let .blur(_, p), let .erase(_, p):
            return p
        }
    }

    /// Draws this op's parameters for a `width` x `height` image.
    public func sample(width: Int, height: Int, using rng: inout RandomGenerator) -> [String: Double] {
        func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * Double(rng.nextUniform()) }
        switch self {
        case .horizontalFlip, .verticalFlip, .greyscale: return [:]
        case let .rotate(d, _): return ["degrees": uniform(-d, d)]
        case let .resizedCrop(_, scale, ratio, _):
            let area = Double(width * height)
            for _ in 0..<10 {
                let target = area * uniform(scale.lowerBound, scale.upperBound)
                let aspect = exp(uniform(log(ratio.lowerBound), log(ratio.upperBound)))
                let w = Int((target * aspect).squareRoot().rounded()), h = Int((target / aspect).squareRoot().rounded())
                if w > 0 && h > 0 && w <= width && h <= height {
                    return ["x": Double(Int(uniform(0, Double(width - w + 1)))), "y": Double(Int(uniform(0, Double(height - h + 1)))),
                            "width": Double(w), "height": Double(h)]
                }
            }
            let side = min(width, height)  // fallback: the central square
            return ["x": Double((width - side) / 2), "y": Double((height - side) / 2), "width": Double(side), "height": Double(side)]
        case let .crop(size, padding, _):
            return ["x": Double(Int(uniform(0, Double(max(width + 2 * padding - size, 0) + 1)))),
                    "y": Double(Int(uniform(0, Double(max(height + 2 * padding - size, 0) + 1))))]
        case let .zoom(f, _): return ["scale": uniform(1 - f, 1 + f)]
        case let .translate(f, _): return ["dx": uniform(-f, f) * Double(width), "dy": uniform(-f, f) * Double(height)]
        case let .shear(d, _): return ["degrees": uniform(-d, d)]
        case let .brightness(a, _), let .contrast(a, _), let .saturation(a, _): return ["factor": uniform(max(0, 1 - a), 1 + a)]
        case let .hue(a, _): return ["shift": uniform(-a, a)]
        case let .noise(std, _): return ["std": std, "seed": Double(rng.next() >> 11)]
        case let .blur(s, _): return ["sigma": uniform(0.1, max(s, 0.1))]
        case let .erase(f, _):
            let w = max(1, Int(uniform(0, f) * Double(width))), h = max(1, Int(uniform(0, f) * Double(height)))
            return ["x": Double(Int(uniform(0, Double(width - w + 1)))), "y": Double(Int(uniform(0, Double(height - h + 1)))),
                    "width": Double(w), "height": Double(h)]
        }
    }

    /// Applies the op with the given parameters (deterministic).
    public func apply(_ image: Image, _ p: [String: Double]) -> Image {
        func value(_ key: String) -> Double { p[key] ?? 0 }
        func int(_ key: String) -> Int { Int(value(key)) }
        switch self {
        case .horizontalFlip: return image.flippedHorizontally()
        case .verticalFlip: return image.flippedVertically()
        case .rotate, .zoom, .translate, .shear: return image.warped(inverse: inverseAffine(p)!, fill: nil)
        case let .resizedCrop(size, _, _, _):
            return image.cropped(x: int("x"), y: int("y"), width: int("width"), height: int("height")).resized(width: size, height: size)
        case let .crop(size, padding, _):
            return image.cropped(x: int("x") - padding, y: int("y") - padding, width: size, height: size)
        case .brightness:
            let f = Float(value("factor"))
            return Image(width: image.width, height: image.height, channels: image.channels, data: image.data.map { $0 * f }).clamped()
        case .contrast:
            let grey = image.greyscale().data
            let mean = grey.reduce(0, +) / Float(max(grey.count, 1)), f = Float(value("factor"))
            return Image(width: image.width, height: image.height, channels: image.channels,
                         data: image.data.map { mean + f * ($0 - mean) }).clamped()
        case .saturation:
            guard image.channels == 3 else { return image }
            let grey = image.greyscale(), f = Float(value("factor"))
            return Image.generate(width: image.width, height: image.height, channels: 3) { y, x, c in
                grey[y, x, 0] + f * (image[y, x, c] - grey[y, x, 0])
            }.clamped()
        case .hue:
            guard image.channels == 3 else { return image }
            return image.hueShifted(Float(value("shift")))
        case .greyscale: return image.greyscale().converted(toChannels: image.channels)
        case .noise:
            var rng = RandomGenerator(seed: UInt64(value("seed")))
            let std = Float(value("std"))
            return Image(width: image.width, height: image.height, channels: image.channels,
                         data: image.data.map { $0 + std * rng.nextNormal() }).clamped()
        case .blur: return image.blurred(sigma: value("sigma"))
        case .erase:
            var out = image
            for y in int("y")..<(int("y") + int("height")) {
                for x in int("x")..<(int("x") + int("width")) { for c in 0..<image.channels { out[y, x, c] = 0 } }
            }
            return out
        }
    }
}

/// An affine map from output to input coordinates (about the image centres):
/// `input = (a·x + b·y + tx, c·x + d·y + ty)`.
public typealias AffineInverse = (a: Double, b: Double, c: Double, d: Double, tx: Double, ty: Double)

extension AugmentationOp {
    /// The inverse map of a geometric op with parameters `p` (nil for other ops).
    public func inverseAffine(_ p: [String: Double]) -> AffineInverse? {
        func value(_ key: String) -> Double { p[key] ?? 0 }
        switch self {
        case .rotate:
            let t = value("degrees") * .pi / 180  // counter-clockwise, y pointing down
            return (cos(t), -sin(t), sin(t), cos(t), 0, 0)
        case .zoom:
            let s = 1 / value("scale")
            return (s, 0, 0, s, 0, 0)
        case .translate: return (1, 0, 0, 1, -value("dx"), -value("dy"))
        case .shear: return (1, -tan(value("degrees") * .pi / 180), 0, 1, 0, 0)
        default: return nil
        }
    }

    /// `first` then `second` as one map: the output of `second` samples the output of `first`.
    static func compose(_ first: AffineInverse, then second: AffineInverse) -> AffineInverse {
        (first.a * second.a + first.b * second.c, first.a * second.b + first.b * second.d,
         first.c * second.a + first.d * second.c, first.c * second.b + first.d * second.d,
         first.a * second.tx + first.b * second.ty + first.tx, first.c * second.tx + first.d * second.ty + first.ty)
    }
}

extension Image {
    /// Hue rotated by `shift` of the colour circle (HSV, as torchvision's adjust_hue).
    func hueShifted(_ shift: Float) -> Image {
        .generate(width: width, height: height, channels: 3) { y, x, c in
            let (r, g, b) = (self[y, x, 0], self[y, x, 1], self[y, x, 2])
            let maxV = max(r, g, b), minV = min(r, g, b), delta = maxV - minV
            var h: Float = 0
            if delta > 0 {
                if maxV == r { h = ((g - b) / delta).truncatingRemainder(dividingBy: 6) }
                else if maxV == g { h = (b - r) / delta + 2 }
                else { h = (r - g) / delta + 4 }
                h /= 6
            }
            h = (h + shift).truncatingRemainder(dividingBy: 1)
            if h < 0 { h += 1 }
            let s = maxV == 0 ? 0 : delta / maxV, v = maxV
            // HSV -> RGB for channel c.
            let k = (Float([5, 3, 1][c]) + h * 6).truncatingRemainder(dividingBy: 6)
            return v - v * s * max(0, min(k, 4 - k, 1))
        }
    }
}

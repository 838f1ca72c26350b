import Engine
import Foundation

/// The embedded demo dataset: small RGB images of circles, squares and triangles on noisy
/// backgrounds, drawn from a seed (nothing to download). Position, size and colours vary, so
/// a classifier has to learn shape, not colour.
public enum DemoShapes {
    public static let classNames = ["circle", "square", "triangle"]

    /// `perClass` images of each class, `size` x `size` pixels.
    public static func make(perClass: Int = 120, size: Int = 32, seed: UInt64 = 0) -> InMemoryImages {
        var rng = RandomGenerator(seed: seed)
        var images: [Image] = [], labels: [Int] = []
        for i in 0..<(perClass * classNames.count) {
            let label = i % classNames.count
            let s = Float(size)
            let radius = s * (0.18 + 0.14 * rng.nextUniform())
            let cx = radius + (s - 2 * radius) * rng.nextUniform(), cy = radius + (s - 2 * radius) * rng.nextUniform()
            let background = (0..<3).map { _ in 0.55 + 0.4 * rng.nextUniform() }
            let ink = (0..<3).map { _ in 0.45 * rng.nextUniform() }
            var noise = RandomGenerator(seed: rng.next())
            let image = Image.generate(width: size, height: size, channels: 3) { y, x, c in
                let dx = Float(x) + 0.5 - cx, dy = Float(y) + 0.5 - cy
                let inside: Bool
                switch label {
                case 0: inside = dx * dx + dy * dy <= radius * radius
                case 1: inside = abs(dx) <= radius * 0.85 && abs(dy) <= radius * 0.85
                default: inside = dy <= radius * 0.8 && dy >= -radius && abs(dx) <= (dy + radius) * 0.6
                }
                let value = (inside ? ink[c] : background[c]) + 0.05 * noise.nextNormal()
                return min(max(value, 0), 1)
            }
            images.append(image)
            labels.append(label)
        }
        return InMemoryImages(images: images, labels: labels, classNames: classNames,
                              names: labels.enumerated().map { "demo/\(classNames[$0.element])/\($0.offset)" })
    }
}

import Foundation

extension Image {
    /// Bilinear sample at continuous coordinates (pixel centres at integers); outside the
    /// image returns `fill`.
    @inline(__always)
    /// Bilinear sample at (y, x); outside the image `fill`, or the nearest edge pixel when nil.
    func sample(_ y: Double, _ x: Double, _ c: Int, fill: Float?) -> Float {
        let x0 = Int(x.rounded(.down)), y0 = Int(y.rounded(.down))
        let tx = Float(x - Double(x0)), ty = Float(y - Double(y0))
        func at(_ yy: Int, _ xx: Int) -> Float {
            if yy >= 0 && yy < height && xx >= 0 && xx < width { return self[yy, xx, c] }
            guard let fill else { return self[min(max(yy, 0), height - 1), min(max(xx, 0), width - 1), c] }
            return fill
        }
        let top = at(y0, x0) * (1 - tx) + at(y0, x0 + 1) * tx
        let bottom = at(y0 + 1, x0) * (1 - tx) + at(y0 + 1, x0 + 1) * tx
        return top * (1 - ty) + bottom * ty
    }

    /// The affine warp whose inverse maps each output pixel (x, y), measured from the output
    /// centre, to `(a·x + b·y + tx, c·x + d·y + ty)` from the input centre; bilinear, `fill`
    /// outside (nil: the nearest edge pixel, Keras's `fill_mode="nearest"`). Rotation, zoom,
    /// shear and translation are all this.
    public func warped(inverse m: (a: Double, b: Double, c: Double, d: Double, tx: Double, ty: Double),
                       width w: Int? = nil, height h: Int? = nil, fill: Float? = 0) -> Image {
        let (ow, oh) = (w ?? width, h ?? height)
        let (icx, icy) = (Double(width - 1) / 2, Double(height - 1) / 2)
        let (ocx, ocy) = (Double(ow - 1) / 2, Double(oh - 1) / 2)
        return .generate(width: ow, height: oh, channels: channels) { y, x, ch in
            let dx = Double(x) - ocx, dy = Double(y) - ocy
            return sample(m.c * dx + m.d * dy + m.ty + icy, m.a * dx + m.b * dy + m.tx + icx, ch, fill: fill)
        }
    }

    /// Rotated counter-clockwise by `degrees` about the centre (same size, corners filled).
    public func rotated(degrees: Double, fill: Float = 0) -> Image {
        let t = degrees * .pi / 180
        // Inverse of a counter-clockwise rotation (y axis pointing down).
        return warped(inverse: (cos(t), -sin(t), sin(t), cos(t), 0, 0), fill: fill)
    }

    /// Separable Gaussian blur with standard deviation `sigma` pixels (kernel radius 3σ,
    /// edges clamped).
    public func blurred(sigma: Double) -> Image {
        guard sigma > 0 else { return self }
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        var kernel = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        func pass(_ image: Image) -> Image {
            .generate(width: image.width, height: image.height, channels: image.channels) { y, x, c in
                var acc: Float = 0
                for (i, k) in kernel.enumerated() { acc += k * image[y, min(max(x + i - radius, 0), image.width - 1), c] }
                return acc
            }
        }
        return pass(pass(self).transposedAxes()).transposedAxes()
    }

    /// Pixel values clamped to [0, 1].
    public func clamped() -> Image {
        var copy = self
        for i in copy.data.indices { copy.data[i] = min(max(copy.data[i], 0), 1) }
        return copy
    }
}

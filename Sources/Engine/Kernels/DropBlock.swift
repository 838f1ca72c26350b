extension Kernels {
    /// DropBlock's block size on an `height` x `width` map: `blockSize`, at most the map's
    /// sides (torchvision's `drop_block2d` clamps the same way).
    public static func dropBlockSize(_ blockSize: Int, height: Int, width: Int) -> Int {
        Swift.min(blockSize, height, width)
    }

    /// The Bernoulli rate of block corners, γ = rate · h · w / (b² · (h − b + 1)(w − b + 1)), so
    /// that about `rate` of the elements fall inside a block (Ghiasi et al., 2018, eq. 1, with
    /// blocks kept inside the map).
    public static func dropBlockGamma(rate: Float, blockSize b: Int, height h: Int, width w: Int) -> Float {
        rate * Float(h * w) / Float(b * b * (h - b + 1) * (w - b + 1))
    }

    /// Block corners for an NHWC map `[n, h, w, c]`: a `[n, h − b + 1, w − b + 1, c]` tensor of
    /// 0 and 1, each 1 with probability `dropBlockGamma`, drawn in memory order from `rng`.
    public static func dropBlockCorners(shape: [Int], rate: Float, blockSize: Int, using rng: inout RandomGenerator)
        -> Tensor
    {
        ensure(shape.count == 4, "dropBlock: expects an NHWC map [n, h, w, c], got \(shape)")
        ensure(rate >= 0 && rate < 1, "dropBlock: rate \(rate) must be in [0, 1)")
        let (h, w) = (shape[1], shape[2])
        let b = dropBlockSize(blockSize, height: h, width: w)
        let gamma = dropBlockGamma(rate: rate, blockSize: b, height: h, width: w)
        return Tensor(shape: [shape[0], h - b + 1, w - b + 1, shape[3]]) { dst in
            for i in dst.indices { dst[i] = rng.nextUniform() < gamma ? 1 : 0 }
        }
    }

    /// DropBlock's multiplicative mask for an NHWC map `[n, height, width, c]` from its block
    /// corners `[n, height − b + 1, width − b + 1, c]` (1: a `b` x `b` block starts there, per
    /// sample and channel): 0 inside every block, 1 elsewhere, all scaled by
    /// `count / (ε + kept)` over the whole tensor, as torchvision's `drop_block2d` (whose max
    /// pooling of the padded corners gives the same blocks for odd `b`).
    public static func dropBlockMask(corners: Tensor, height: Int, width: Int, blockSize: Int, epsilon: Float = 1e-6)
        -> Tensor
    {
        let b = dropBlockSize(blockSize, height: height, width: width)
        let (n, rows, columns, c) = (corners.shape[0], corners.shape[1], corners.shape[2], corners.shape[3])
        ensure(
            corners.rank == 4 && rows == height - b + 1 && columns == width - b + 1,
            "dropBlock: corners \(corners.shape) do not fit a \(height)x\(width) map with \(b)x\(b) blocks")
        var keep = [Float](repeating: 1, count: n * height * width * c)
        corners.withUnsafeBufferPointer { corner in
            for sample in 0..<n {
                for y in 0..<rows {
                    for x in 0..<columns {
                        for channel in 0..<c where corner[((sample * rows + y) * columns + x) * c + channel] != 0 {
                            for dy in 0..<b {
                                for dx in 0..<b {
                                    keep[((sample * height + y + dy) * width + x + dx) * c + channel] = 0
                                }
                            }
                        }
                    }
                }
            }
        }
        let kept = keep.lazy.filter { $0 != 0 }.count
        let scale = Float(Double(keep.count) / (Double(epsilon) + Double(kept)))
        return Tensor(shape: [n, height, width, c], scalars: keep.map { $0 * scale })
    }
}

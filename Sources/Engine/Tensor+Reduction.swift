// Reductions along axes: sum, mean, max, argmax.

extension Tensor {
    /// Reduces `axes` (all axes when nil) with `combine`, starting from `initial`.
    /// Adjacent axes that are all reduced or all kept are merged first, so the common cases
    /// (bias gradients over N·H·W, row sums) run as two plain loops.
    func reduce(axes: [Int]?, keepDims: Bool, op: String, initial: Float,
                _ combine: (Float, Float) -> Float) -> Tensor {
        let reduced: Set<Int> = require {
            Set(try (axes ?? Array(0..<rank)).map { try Shape.normalise(axis: $0, shape: shape, op: op) })
        }
        let outShape: [Int] = keepDims
            ? shape.indices.map { reduced.contains($0) ? 1 : shape[$0] }
            : shape.indices.filter { !reduced.contains($0) }.map { shape[$0] }
        // Merge runs of axes with the same reduce/keep status.
        var dims: [(extent: Int, reduce: Bool)] = []
        for axis in shape.indices {
            let r = reduced.contains(axis)
            if let last = dims.last, last.reduce == r { dims[dims.count - 1].extent *= shape[axis] }
            else { dims.append((shape[axis], r)) }
        }
        if dims.isEmpty { return self.reshaped(outShape) }
        // Output strides for kept merged axes (0 for reduced ones).
        var outStrides = [Int](repeating: 0, count: dims.count)
        var running = 1
        for i in dims.indices.reversed() where !dims[i].reduce {
            outStrides[i] = running
            running *= dims[i].extent
        }
        let extents = dims.map(\.extent)
        let inner = extents.last!, innerStride = outStrides.last!
        let outer = shape.product / Swift.max(inner, 1)
        return withUnsafeBufferPointer { src in
            var out = [Float](repeating: initial, count: outShape.product)
            out.withUnsafeMutableBufferPointer { dst in
                var index = [Int](repeating: 0, count: dims.count)
                var base = 0, s = 0
                for _ in 0..<outer {
                    var o = base
                    for _ in 0..<inner { dst[o] = combine(dst[o], src[s]); s += 1; o += innerStride }
                    var axis = dims.count - 2
                    while axis >= 0 {
                        index[axis] += 1
                        base += outStrides[axis]
                        if index[axis] < extents[axis] { break }
                        base -= outStrides[axis] * extents[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
            return Tensor(shape: outShape, scalars: out)
        }
    }

    /// The sum over `axes` (all axes when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        reduce(axes: axes, keepDims: keepDims, op: "sum", initial: 0, +)
    }

    /// The mean over `axes` (all axes when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let total = sum(axes: axes, keepDims: keepDims)
        let n = total.count == 0 ? 1 : count / total.count
        return total * (1 / Float(Swift.max(n, 1)))
    }

    /// The maximum over `axes` (all axes when nil).
    public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        ensure(count > 0, "max: cannot reduce an empty \(shape) tensor")
        return reduce(axes: axes, keepDims: keepDims, op: "max", initial: -.infinity) { Swift.max($0, $1) }
    }

    /// The index of the largest element along `axis` (the first one on ties), as integers.
    public func argmax(axis: Int = -1) -> [Int] {
        let ax = require { try Shape.normalise(axis: axis, shape: shape, op: "argmax") }
        let n = shape[ax], inner = shape[(ax + 1)...].product, outer = shape[..<ax].product
        ensure(n > 0, "argmax: axis \(axis) of \(shape) is empty")
        var result = [Int](repeating: 0, count: outer * inner)
        withUnsafeBufferPointer { p in
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = p[o * n * inner + i], bestIndex = 0
                    for k in 1..<n where p[(o * n + k) * inner + i] > best {
                        best = p[(o * n + k) * inner + i]; bestIndex = k
                    }
                    result[o * inner + i] = bestIndex
                }
            }
        }
        return result
    }
}

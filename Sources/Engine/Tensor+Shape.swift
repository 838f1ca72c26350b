// Reshape, permutation, batch slicing and concatenation.

extension Tensor {
    /// The same elements under a new shape; one extent may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        let resolved = require { try Shape.reshape(shape, to: newShape) }
        var copy = self
        copy.shape = resolved
        return copy
    }

    /// Flattens every axis after the first: `[N, ...] -> [N, product]`.
    public func flattenedBatch() -> Tensor {
        ensure(rank >= 1, "flattenedBatch: a rank-0 tensor has no batch axis")
        return reshaped([shape[0], shape.dropFirst().product])
    }

    /// Reorders the axes: output axis `i` is input axis `permutation[i]`.
    public func permuted(_ permutation: [Int]) -> Tensor {
        let perm = require { () throws -> [Int] in
            guard permutation.count == rank, Set(permutation.map { ($0 + rank) % Swift.max(rank, 1) }).count == rank else {
                throw EngineError.invalidArgument(op: "permute", reason: "\(permutation) is not a permutation of the \(rank) axes of \(shape)")
            }
            return try permutation.map { try Shape.normalise(axis: $0, shape: shape, op: "permute") }
        }
        if perm == Array(0..<rank) { return self }
        let outShape = perm.map { shape[$0] }
        let inStrides = strides
        let permutedStrides = perm.map { inStrides[$0] }
        let inner = outShape.last ?? 1, innerStride = permutedStrides.last ?? 1
        let outer = outShape.product / Swift.max(inner, 1)
        return withUnsafeBufferPointer { src in
            Tensor(shape: outShape) { dst in
                var index = [Int](repeating: 0, count: rank)
                var offset = 0, o = 0
                for _ in 0..<outer {
                    var i = offset
                    for _ in 0..<inner { dst[o] = src[i]; o += 1; i += innerStride }
                    var axis = rank - 2
                    while axis >= 0 {
                        index[axis] += 1
                        offset += permutedStrides[axis]
                        if index[axis] < outShape[axis] { break }
                        offset -= permutedStrides[axis] * outShape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
    }

    /// Swaps the last two axes (the matrix transpose for rank 2).
    public func transposed() -> Tensor {
        ensure(rank >= 2, "transposed: needs rank 2 or more, got shape \(shape)")
        var perm = Array(0..<rank)
        perm.swapAt(rank - 1, rank - 2)
        return permuted(perm)
    }

    /// Rows `range` of the first (batch) axis.
    public func slice(batch range: Range<Int>) -> Tensor {
        ensure(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
                     "slice(batch:): range \(range) is outside the batch axis of \(shape)")
        let rowSize = shape.dropFirst().product
        var outShape = shape
        outShape[0] = range.count
        return Tensor(shape: outShape, scalars: Array(scalars[(range.lowerBound * rowSize)..<(range.upperBound * rowSize)]))
    }

    /// Gathers rows of the first axis by index (a batch from a dataset, say).
    public func gather(batch indices: [Int]) -> Tensor {
        ensure(rank >= 1, "gather(batch:): a rank-0 tensor has no batch axis")
        let rowSize = shape.dropFirst().product
        var outShape = shape
        outShape[0] = indices.count
        return withUnsafeBufferPointer { src in
            Tensor(shape: outShape) { dst in
                for (row, i) in indices.enumerated() {
                    ensure(i >= 0 && i < shape[0], "gather(batch:): index \(i) out of range for \(shape)")
                    for j in 0..<rowSize { dst[row * rowSize + j] = src[i * rowSize + j] }
                }
            }
        }
    }

    /// Joins tensors along `axis`; every other extent must agree.
    public static func concatenate(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        ensure(!tensors.isEmpty, "concatenate: needs at least one tensor")
        let first = tensors[0].shape
        let ax = require { try Shape.normalise(axis: axis, shape: first, op: "concatenate") }
        for t in tensors where t.rank != first.count || (0..<first.count).contains(where: { $0 != ax && t.shape[$0] != first[$0] }) {
            EngineError.shapeMismatch(op: "concatenate", shapes: [first, t.shape],
                                      reason: "all extents except axis \(ax) must agree").trap()
        }
        var outShape = first
        outShape[ax] = tensors.map { $0.shape[ax] }.reduce(0, +)
        let outer = first[..<ax].product
        var result = [Float]()
        result.reserveCapacity(outShape.product)
        for o in 0..<outer {
            for t in tensors {
                let block = t.shape[ax...].product
                result.append(contentsOf: t.scalars[(o * block)..<((o + 1) * block)])
            }
        }
        return Tensor(shape: outShape, scalars: result)
    }
}

extension Tensor {
    /// Zero padding of the spatial axes of NHWC `[n, h, w, c]`:
    /// `[n, h + top + bottom, w + left + right, c]`.
    public func padded2d(top: Int, bottom: Int, left: Int, right: Int) -> Tensor {
        ensure(rank == 4 && Swift.min(top, bottom, left, right) >= 0,
               "zeroPad2d: expects an NHWC input and non-negative padding, got \(shape) and [\(top), \(bottom), \(left), \(right)]")
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = (h + top + bottom, w + left + right)
        var out = Tensor.zeros([n, oh, ow, c])
        withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for b in 0..<n {
                    for y in 0..<h {
                        let from = (b * h + y) * w * c, to = ((b * oh + y + top) * ow + left) * c
                        for i in 0..<(w * c) { dst[to + i] = src[from + i] }
                    }
                }
            }
        }
        return out
    }

    /// The inverse of `padded2d`: removes `top`/`bottom` rows and `left`/`right` columns.
    public func cropped2d(top: Int, bottom: Int, left: Int, right: Int) -> Tensor {
        ensure(rank == 4 && Swift.min(top, bottom, left, right) >= 0 && shape[1] > top + bottom && shape[2] > left + right,
               "crop2d: cannot remove [\(top), \(bottom), \(left), \(right)] from \(shape)")
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = (h - top - bottom, w - left - right)
        return withUnsafeBufferPointer { src in
            Tensor(shape: [n, oh, ow, c]) { dst in
                for b in 0..<n {
                    for y in 0..<oh {
                        let from = ((b * h + y + top) * w + left) * c, to = (b * oh + y) * ow * c
                        for i in 0..<(ow * c) { dst[to + i] = src[from + i] }
                    }
                }
            }
        }
    }
}

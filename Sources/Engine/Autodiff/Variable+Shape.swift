// Differentiable reshaping, permutation, concatenation and reductions.

extension Variable {
    public func reshaped(_ shape: [Int]) -> Variable {
        let original = self.shape
        return Variable.record("reshape", [self], value: value.reshaped(shape)) { g in [g.reshaped(original)] }
    }

    /// `[n, ...] -> [n, product]`.
    public func flattenedBatch() -> Variable { reshaped([shape[0], -1]) }

    public func permuted(_ permutation: [Int]) -> Variable {
        let y = value.permuted(permutation)
        let rank = shape.count
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in permutation.enumerated() { inverse[(p + rank) % rank] = i }
        return Variable.record("permute", [self], value: y) { g in [g.permuted(inverse)] }
    }

    public func transposed() -> Variable {
        var perm = Array(0..<shape.count)
        perm.swapAt(shape.count - 1, shape.count - 2)
        return permuted(perm)
    }

    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        let inShape = shape
        let y = value.sum(axes: axes, keepDims: keepDims)
        let kept = value.sum(axes: axes, keepDims: true).shape
        return Variable.record("sum", [self], value: y) { g in
            [Tensor.zeros(inShape) + g.reshaped(kept)]
        }
    }

    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        let total = sum(axes: axes, keepDims: keepDims)
        let n = value.count / Swift.max(total.value.count, 1)
        return total * (1 / Float(Swift.max(n, 1)))
    }

    /// The maximum over `axes`; the gradient goes to the elements equal to the maximum
    /// (all of them on ties).
    public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        let x = value
        let y = x.max(axes: axes, keepDims: keepDims)
        let kept = x.max(axes: axes, keepDims: true)
        return Variable.record("max", [self], value: y) { g in
            let mask = require { try Tensor.broadcasting(x, kept, op: "max backward") { $0 == $1 ? 1 : 0 } }
            return [mask * g.reshaped(kept.shape)]
        }
    }
}

/// Joins variables along `axis` (e.g. feature maps along channels).
public func concatenate(_ parts: [Variable], axis: Int) -> Variable {
    let y = Tensor.concatenate(parts.map(\.value), axis: axis)
    let ax = axis < 0 ? axis + y.rank : axis
    return Variable.record("concatenate", parts, value: y) { g in
        // Split g back along the axis: permute the axis to the front, slice, permute back.
        var perm = Array(0..<g.rank); perm.remove(at: ax); perm.insert(ax, at: 0)
        var inverse = [Int](repeating: 0, count: g.rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        let front = g.permuted(perm)
        var start = 0
        return parts.map { part in
            let n = part.shape[ax]
            defer { start += n }
            return part.requiresGrad ? front.slice(batch: start..<(start + n)).permuted(inverse) : nil
        }
    }
}

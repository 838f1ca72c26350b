/// Shape arithmetic shared by the value-level operations and the autodiff ops.
public enum Shape {
    /// Row-major strides of `shape`, in elements.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in shape.indices.reversed() {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }

    /// Maps a possibly negative `axis` into `0..<rank`, or throws naming `op` and `shape`.
    public static func normalise(axis: Int, shape: [Int], op: String) throws -> Int {
        let rank = shape.count
        guard axis >= -rank && axis < rank else { throw EngineError.axisOutOfRange(op: op, axis: axis, shape: shape) }
        return axis < 0 ? axis + rank : axis
    }

    /// The NumPy broadcast of two shapes: trailing axes are aligned, and each pair must be
    /// equal or contain a 1.
    public static func broadcast(_ a: [Int], _ b: [Int], op: String) throws -> [Int] {
        let rank = max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            guard da == db || da == 1 || db == 1 else {
                throw EngineError.shapeMismatch(op: op, shapes: [a, b],
                    reason: "axis \(i - rank) has extents \(da) and \(db); broadcasting needs equal extents or 1")
            }
            result[i] = max(da, db)
        }
        return result
    }

    /// Resolves a reshape target that may contain one `-1`.
    public static func reshape(_ shape: [Int], to target: [Int], op: String = "reshape") throws -> [Int] {
        let count = shape.product
        let unknown = target.indices.filter { target[$0] == -1 }
        guard unknown.count <= 1, target.allSatisfy({ $0 >= -1 }) else {
            throw EngineError.invalidArgument(op: op, reason: "target shape \(target) may contain at most one -1 and no other negative extent")
        }
        var resolved = target
        if let i = unknown.first {
            let known = target.filter { $0 != -1 }.product
            guard known > 0, count % known == 0 else {
                throw EngineError.shapeMismatch(op: op, shapes: [shape, target], reason: "\(count) elements cannot fill the target")
            }
            resolved[i] = count / known
        }
        guard resolved.product == count else {
            throw EngineError.shapeMismatch(op: op, shapes: [shape, target],
                                            reason: "\(count) elements cannot be reshaped into \(resolved.product)")
        }
        return resolved
    }
}

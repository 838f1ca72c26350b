extension Tensor {
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }

    /// Storage for an output a kernel writes completely: not zero-filled (the fill cost 5-9%
    /// of a training step). Only for oneDNN outputs (dst, diff_src, diff_weights, diff_bias).
    static func uninitialized(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape) { _ in }
    }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }
    public static func full(_ shape: [Int], _ value: Float) -> Tensor { Tensor(repeating: value, shape: shape) }

    /// `[0, 1, …, count-1]` as floats, handy for tests and index maps.
    public static func arange(_ count: Int) -> Tensor {
        Tensor(shape: [count], scalars: (0..<count).map(Float.init))
    }

    /// A tensor of `shape` whose element at each flat index is `body(index)`.
    public static func generate(_ shape: [Int], _ body: (Int) -> Float) -> Tensor {
        Tensor(shape: shape) { buffer in
            for i in buffer.indices { buffer[i] = body(i) }
        }
    }
}

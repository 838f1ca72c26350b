import CDNNL

extension Kernels {
    /// `op(a) · op(b)` for row-major matrices on oneDNN's sgemm, where `op` transposes when
    /// asked: `[m, k] · [k, n] -> [m, n]`.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        guard a.rank == 2, b.rank == 2 else {
            EngineError.shapeMismatch(op: "matmul", shapes: [a.shape, b.shape], reason: "expects two matrices (rank 2)").trap()
        }
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (k2, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == k2 else {
            EngineError.shapeMismatch(op: "matmul", shapes: [a.shape, b.shape],
                reason: "inner extents differ (\(k) vs \(k2))\(transposeA || transposeB ? " after transposition" : "")").trap()
        }
        KernelStats.record("matmul")
        let transposed = CChar(UInt8(ascii: "T")), plain = CChar(UInt8(ascii: "N"))
        var c = Tensor.zeros([m, n])
        guard m > 0, n > 0, k > 0 else { return c }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    DNNL.check(dnnl_sgemm(transposeA ? transposed : plain, transposeB ? transposed : plain, Int64(m), Int64(n), Int64(k), 1,
                                          pa.baseAddress, Int64(a.shape[1]), pb.baseAddress, Int64(b.shape[1]),
                                          0, pc.baseAddress, Int64(n)), op: "matmul \(a.shape) x \(b.shape)")
                }
            }
        }
        return c
    }
}

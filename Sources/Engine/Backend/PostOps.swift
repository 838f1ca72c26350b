import CDNNL

/// What a oneDNN forward primitive does to its result before writing it (post-ops, in this
/// order): `sum` adds what the destination already holds, `relu` clamps at zero. A
/// convolution with both computes `max(conv(x) + bias + dst, 0)`: a ResNet block's residual
/// add and ReLU in the convolution's own pass over its output.
struct PostOps: Equatable, Sendable {
    var sum = false
    var relu = false

    static let none = PostOps()

    /// A fragment for primitive cache keys.
    var key: String { (sum ? "+sum" : "") + (relu ? "+relu" : "") }

    /// Sets the post-ops on `attr`.
    func apply(to attr: dnnl_primitive_attr_t?, op: String) {
        var ops: dnnl_post_ops_t?
        DNNL.check(dnnl_post_ops_create(&ops), op: op + " (post-ops)")
        defer { dnnl_post_ops_destroy(ops) }
        if sum { DNNL.check(dnnl_post_ops_append_sum(ops, 1), op: op + " (sum post-op)") }
        if relu {
            DNNL.check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0), op: op + " (ReLU post-op)")
        }
        DNNL.check(dnnl_primitive_attr_set_post_ops(attr, ops), op: op + " (post-ops)")
    }
}

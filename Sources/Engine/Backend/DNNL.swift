import CDNNL
import Foundation

/// The oneDNN CPU engine and stream, and a cache of primitives keyed by op and shape.
///
/// Primitive creation costs far more than execution for small tensors, so every kernel
/// builds a textual key from its geometry and asks `DNNL.primitive(key:)` first. Debian's
/// oneDNN is built without concurrent execution, so primitives are created with a
/// user-managed scratchpad (allocated per execution) and executions are serialised: any
/// thread may run them, one at a time; oneDNN parallelises each one over `Threads.count`
/// OpenMP threads.
final class DNNL: @unchecked Sendable {
    static let shared = DNNL()

    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    private var cache: [String: Primitive] = [:]
    private let lock = NSLock()

    private init() {
        _ = Threads.count  // applies GRAFT_NUM_THREADS before oneDNN starts its pool
        _ = MemoryPolicy.applied
        var engine: dnnl_engine_t?
        DNNL.check(dnnl_engine_create(&engine, dnnl_cpu, 0), op: "dnnl_engine_create")
        var stream: dnnl_stream_t?
        DNNL.check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), op: "dnnl_stream_create")
        self.engine = engine!
        self.stream = stream!
    }

    static func check(_ status: dnnl_status_t, op: String) {
        guard status == dnnl_success else {
            EngineError.backend(op: op, status: Int(status.rawValue), detail: describe(status)).trap()
        }
    }

    private static func describe(_ status: dnnl_status_t) -> String {
        switch status {
        case dnnl_out_of_memory: return "out of memory"
        case dnnl_invalid_arguments: return "invalid arguments: an unsupported shape or parameter combination"
        case dnnl_unimplemented: return "no implementation for this configuration"
        default: return "see oneDNN's dnnl_status_t"
        }
    }

    /// The cached primitive for `key`, built by `make` on first use.
    /// `make` runs outside the lock: backward primitives build their forward hint through
    /// this same cache.
    func primitive(key: String, make: () -> Primitive) -> Primitive {
        if let hit = lock.withLock({ cache[key] }) { return hit }
        let built = make()
        return lock.withLock {
            if let raced = cache[key] { return raced }
            if cache.count > 4096 { cache.removeAll() }  // bounded: shapes rarely vary this much
            cache[key] = built
            return built
        }
    }

    /// Creates a primitive descriptor from an op descriptor (with an optional forward hint and
    /// post-ops applied to the output).
    func primitive(op: String, desc: UnsafeRawPointer, hint: Primitive? = nil, postOps: PostOps = .none) -> Primitive {
        var pd: dnnl_primitive_desc_t?
        var attr: dnnl_primitive_attr_t?
        DNNL.check(dnnl_primitive_attr_create(&attr), op: op + " (attributes)")
        defer { dnnl_primitive_attr_destroy(attr) }
        DNNL.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), op: op + " (scratchpad)")
        if postOps != .none { postOps.apply(to: attr, op: op) }
        DNNL.check(dnnl_primitive_desc_create(&pd, desc, attr, engine, hint?.descriptor), op: op)
        return Primitive(op: op, descriptor: pd!)
    }

    /// Serialises executions (see the type's comment).
    let executionLock = NSLock()

    /// The scratchpad every execution uses (under `executionLock`); grows, never shrinks.
    var scratchpad: UnsafeMutableRawPointer?
    var scratchpadCapacity = 0

    func scratchpad(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes > scratchpadCapacity {
            scratchpad?.deallocate()
            scratchpad = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            scratchpadCapacity = bytes
        }
        return scratchpad!
    }
}

/// A oneDNN primitive and its descriptor; destroyed with the object.
final class Primitive: @unchecked Sendable {
    let op: String
    let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t

    init(op: String, descriptor: dnnl_primitive_desc_t) {
        self.op = op
        self.descriptor = descriptor
        var p: dnnl_primitive_t?
        DNNL.check(dnnl_primitive_create(&p, descriptor), op: op)
        self.primitive = p!
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// The memory descriptor the primitive chose for `query` (e.g. the workspace).
    func memoryDescriptor(_ query: dnnl_query_t) -> dnnl_memory_desc_t? {
        guard let md = dnnl_primitive_desc_query_md(descriptor, query, 0) else { return nil }
        return md.pointee
    }

    /// The byte size of the scratchpad the primitive needs per execution.
    lazy var scratchpadBytes: Int = {
        guard var md = memoryDescriptor(dnnl_query_scratchpad_md) else { return 0 }
        return Int(dnnl_memory_desc_get_size(&md))
    }()

    /// The byte size of the workspace (0 when the primitive needs none).
    var workspaceBytes: Int {
        guard var md = memoryDescriptor(dnnl_query_workspace_md) else { return 0 }
        return Int(dnnl_memory_desc_get_size(&md))
    }

    /// Executes with an optional bias tensor appended to `args` as `DNNL_ARG_BIAS`.
    func execute(
        _ args: [(arg: Int32, md: dnnl_memory_desc_t, data: UnsafeMutableRawPointer)], bias: Tensor?,
        biasDesc: @autoclosure () -> dnnl_memory_desc_t
    ) {
        guard let bias else { return execute(args) }
        bias.withUnsafeBufferPointer { pb in execute(args + [(Arg.bias, biasDesc(), rawInput(pb))]) }
    }

    /// Executes on the shared stream and waits. `args` pairs a DNNL_ARG_* with a memory
    /// descriptor and a pointer to data laid out as that descriptor says.
    func execute(_ args: [(arg: Int32, md: dnnl_memory_desc_t, data: UnsafeMutableRawPointer)]) {
        let dnnl = DNNL.shared
        dnnl.executionLock.lock()
        defer { dnnl.executionLock.unlock() }
        // OpenMP's thread count is per calling thread: apply Graft's setting on this one.
        omp_set_num_threads(Int32(Threads.count))
        do {
            var all = args
            if scratchpadBytes > 0, let md = memoryDescriptor(dnnl_query_scratchpad_md) {
                all.append((Int32(DNNL_ARG_SCRATCHPAD), md, dnnl.scratchpad(bytes: scratchpadBytes)))
            }
            var memories: [dnnl_exec_arg_t] = []
            memories.reserveCapacity(all.count)
            for a in all {
                var md = a.md
                var mem: dnnl_memory_t?
                DNNL.check(dnnl_memory_create(&mem, &md, dnnl.engine, a.data), op: op + " (memory)")
                memories.append(dnnl_exec_arg_t(arg: a.arg, memory: mem))
            }
            defer { for m in memories { dnnl_memory_destroy(m.memory) } }
            DNNL.check(dnnl_primitive_execute(primitive, dnnl.stream, Int32(memories.count), memories), op: op)
            DNNL.check(dnnl_stream_wait(dnnl.stream), op: op + " (wait)")
        }
    }
}

/// Whether two memory descriptors describe the same layout.
func sameLayout(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
    var a = a
    var b = b
    return dnnl_memory_desc_equal(&a, &b) != 0
}

/// A text key for the layout of `md` (format kind, and for blocked formats the strides and the
/// inner blocks), so that the cache of reorders never mixes two layouts of one shape.
func layoutKey(_ md: dnnl_memory_desc_t) -> String {
    guard md.format_kind == dnnl_blocked else { return "kind\(md.format_kind.rawValue)" }
    let blocking = md.format_desc.blocking
    let count = Int(md.ndims)
    func dims(_ d: dnnl_dims_t, _ n: Int) -> [Int64] {
        withUnsafeBytes(of: d) { Array($0.bindMemory(to: Int64.self).prefix(n)) }
    }
    let blocks = Int(blocking.inner_nblks)
    return "s\(dims(blocking.strides, count))b\(dims(blocking.inner_blks, blocks))i\(dims(blocking.inner_idxs, blocks))"
}

/// The byte size of data laid out as `md`.
func byteSize(_ md: dnnl_memory_desc_t) -> Int {
    var md = md
    return Int(dnnl_memory_desc_get_size(&md))
}

/// Copies `source` (laid out as `from`) into `destination` (laid out as `to`) with a cached
/// reorder primitive: how plain HWIO kernels meet the blocked layouts oneDNN's fastest
/// convolutions want. `key` names the shape; the cache key adds both layouts.
func reorder(
    from: dnnl_memory_desc_t, to: dnnl_memory_desc_t, key: String,
    _ source: UnsafeMutableRawPointer, _ destination: UnsafeMutableRawPointer
) {
    let prim = DNNL.shared.primitive(key: "reorder" + key + layoutKey(from) + "->" + layoutKey(to)) {
        var pd: dnnl_primitive_desc_t?
        var src = from
        var dst = to
        DNNL.check(
            dnnl_reorder_primitive_desc_create(&pd, &src, DNNL.shared.engine, &dst, DNNL.shared.engine, nil),
            op: "reorder \(key)")
        return Primitive(op: "reorder", descriptor: pd!)
    }
    prim.execute([(Int32(DNNL_ARG_FROM), from, source), (Int32(DNNL_ARG_TO), to, destination)])
}

/// A oneDNN memory descriptor for `dims` (oneDNN's logical order, e.g. NCHW or OIHW) laid
/// out in memory as `tag` says (e.g. `dnnl_nhwc`, `dnnl_hwio`).
func memoryDescriptor(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    let d = dims.map { dnnl_dim_t($0) }
    DNNL.check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, dnnl_f32, tag), op: "memory descriptor \(dims)")
    return md
}

/// A raw pointer to a tensor's storage for oneDNN, which only reads the inputs it is given.
@inline(__always)
func rawInput(_ p: UnsafeBufferPointer<Float>) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(mutating: p.baseAddress!)
}

/// Shorthand for oneDNN argument indices (C macros imported as Int32).
enum Arg {
    static let src = Int32(DNNL_ARG_SRC)
    static let dst = Int32(DNNL_ARG_DST)
    static let weights = Int32(DNNL_ARG_WEIGHTS)
    static let bias = Int32(DNNL_ARG_BIAS)
    static let diffSrc = Int32(DNNL_ARG_DIFF_SRC)
    static let diffDst = Int32(DNNL_ARG_DIFF_DST)
    static let diffWeights = Int32(DNNL_ARG_DIFF_WEIGHTS)
    static let diffBias = Int32(DNNL_ARG_DIFF_BIAS)
    static let mean = Int32(DNNL_ARG_MEAN)
    static let variance = Int32(DNNL_ARG_VARIANCE)
    static let scale = Int32(DNNL_ARG_SCALE)
    static let shift = Int32(DNNL_ARG_SHIFT)
    static let diffScale = Int32(DNNL_ARG_DIFF_SCALE)
    static let diffShift = Int32(DNNL_ARG_DIFF_SHIFT)
    static let workspace = Int32(DNNL_ARG_WORKSPACE)
}

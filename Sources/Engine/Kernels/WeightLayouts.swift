import CDNNL
import Foundation

/// Copies of one HWIO kernel in the blocked layouts oneDNN's convolutions ask for, made on
/// first use and then reused, so that a frozen or evaluated kernel is reordered once instead
/// of on every call (a ResNet-18 inference batch spent ~9% of its time on these reorders).
///
/// The cache does not look at the kernel's values: its owner keeps it only while the kernel
/// it was made for is unchanged, and drops it when the kernel changes (`BatchNorm`'s folded
/// kernel carries one, `Conv2D` keeps one per weight version). One copy per layout (every
/// primitive that wants the same layout, whatever its batch size, shares it); past `capacity`
/// layouts it starts over.
public final class WeightLayouts: @unchecked Sendable {
    /// At most this many layouts are kept.
    static let capacity = 4
    private var copies: [WeightCopy] = []
    private let lock = NSLock()

    public init() {}

    /// How many reordered copies it holds (for tests).
    public var count: Int { lock.withLock { copies.count } }

    /// The copy in layout `layout`, made by `fill` (which writes `byteSize(layout)` bytes) when
    /// there is none yet.
    func copy(layout: dnnl_memory_desc_t, fill: (UnsafeMutableRawPointer) -> Void) -> WeightCopy {
        lock.withLock {
            if let stored = copies.first(where: { sameLayout($0.layout, layout) }) { return stored }
            if copies.count >= Self.capacity { copies.removeAll() }
            let made = WeightCopy(layout: layout)
            fill(made.bytes)
            copies.append(made)
            return made
        }
    }
}

/// One reordered kernel: 64-byte aligned storage in `layout`, freed with the object (callers
/// hold the object while oneDNN reads the bytes, so dropping the cache never frees them early).
final class WeightCopy: @unchecked Sendable {
    let layout: dnnl_memory_desc_t
    let bytes: UnsafeMutableRawPointer

    init(layout: dnnl_memory_desc_t) {
        self.layout = layout
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(byteSize(layout), 1), alignment: 64)
    }

    deinit { bytes.deallocate() }
}

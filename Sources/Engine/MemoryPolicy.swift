import CGraftKernels
import Foundation

/// Keeps freed tensor storage in the process's heap for reuse. glibc hands blocks over
/// 128 KB (adaptively up to 32 MB) straight back to the kernel, so every training step paid
/// page faults and kernel page zeroing for its activations again (8-14% of a step);
/// raising the mmap and trim thresholds makes glibc's size-binned free lists serve them,
/// as a caching allocator would. Peak memory stays what the largest step needs. Applied
/// once, before the first oneDNN primitive; `GRAFT_MALLOC=default` leaves glibc as it is.
enum MemoryPolicy {
    static let applied: Void = {
        guard ProcessInfo.processInfo.environment["GRAFT_MALLOC"] != "default" else { return }
        graft_keep_freed_memory(256 << 20, 1 << 30)
    }()
}

import CDNNL
import Dispatch
import Foundation

/// The number of threads the compute kernels use.
///
/// oneDNN runs on OpenMP; Graft's own loops split work with `DispatchQueue.concurrentPerform`.
/// Both follow this setting. The default is the `GRAFT_NUM_THREADS` environment variable,
/// else the number of active processor cores.
public enum Threads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current: Int = {
        let fromEnvironment = ProcessInfo.processInfo.environment["GRAFT_NUM_THREADS"].flatMap(Int.init)
        let n = max(1, fromEnvironment ?? ProcessInfo.processInfo.activeProcessorCount)
        omp_set_num_threads(Int32(n))
        return n
    }()

    /// The thread count; setting it applies to oneDNN and to Graft's loops from the next op on.
    public static var count: Int {
        get { lock.withLock { current } }
        set {
            ensure(newValue >= 1, "Threads.count must be at least 1, got \(newValue)")
            lock.withLock {
                current = newValue
                omp_set_num_threads(Int32(newValue))
            }
        }
    }

    /// Calls `body` on disjoint ranges covering `0..<total`, in parallel when the work is
    /// large enough (`total >= grain * 2`), else inline on the calling thread.
    public static func parallelFor(_ total: Int, grain: Int = 32_768, _ body: (Range<Int>) -> Void) {
        let threads = count
        guard threads > 1, total >= grain * 2 else {
            if total > 0 { body(0..<total) }
            return
        }
        let chunks = min(threads, total / grain)
        let size = (total + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = chunk * size
            let end = min(total, start + size)
            if start < end { body(start..<end) }
        }
    }
}

import Foundation

/// Counts kernel invocations by name ("conv2d.forward", "conv2d.backward_data", ...), so
/// tests can show which work ran, e.g. that a frozen prefix runs no backward kernel.
public enum KernelStats {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var counts: [String: Int] = [:]

    static func record(_ kernel: String) {
        lock.lock(); counts[kernel, default: 0] += 1; lock.unlock()
    }

    /// Every count since the last reset.
    public static var snapshot: [String: Int] { lock.withLock { counts } }

    /// The number of backward kernels run since the last reset.
    public static var backwardCalls: Int { snapshot.filter { $0.key.contains("backward") }.values.reduce(0, +) }

    public static func reset() { lock.withLock { counts.removeAll() } }
}

import Foundation

/// A time limit on code that cannot be cancelled: a C library stuck in a loop on damaged
/// input (libhdf5 1.10 can loop forever on a corrupt global heap; found by the fuzzer). When
/// `body` takes longer than the limit, the message goes to standard error and the process
/// exits with status 1: a clear error instead of a hang.
public enum Watchdog {
    /// The limit for reading a file of `bytes` bytes: 60 s plus 30 s per GB, or
    /// `GRAFT_READ_TIMEOUT` seconds when set.
    public static func readLimit(bytes: Int) -> Double {
        if let text = ProcessInfo.processInfo.environment["GRAFT_READ_TIMEOUT"], let seconds = Double(text), seconds > 0 {
            return seconds
        }
        return 60 + 30 * Double(bytes) / 1e9
    }

    public static func run<T>(seconds: Double, message: @escaping @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            if done.wait(timeout: .now() + seconds) == .timedOut {
                FileHandle.standardError.write(Data(("error: " + message() + "\n").utf8))
                _exit(1)
            }
        }
        thread.start()
        defer { done.signal() }
        return try body()
    }
}

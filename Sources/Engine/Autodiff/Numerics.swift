import Foundation

/// Watches op outputs for NaN and infinity, so that a diverging run names the first op that
/// went non-finite instead of failing later with a NaN loss.
///
/// `.record` (the default) remembers the first offence, `firstFailure`, and goes on: a
/// training loop checks it when the loss turns non-finite and reports it. `.trap` stops at
/// the offending op with the message; `.off` skips the scan. Set with `Numerics.policy`
/// or the environment variable `GRAFT_NUMERICS=record|trap|off`.
public enum Numerics {
    public enum Policy: String, Sendable { case record, trap, off }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var _policy: Policy =
        ProcessInfo.processInfo.environment["GRAFT_NUMERICS"].flatMap(Policy.init(rawValue:)) ?? .record
    nonisolated(unsafe) private static var _first: EngineError?

    public static var policy: Policy {
        get { lock.withLock { _policy } }
        set { lock.withLock { _policy = newValue } }
    }

    /// The first op that produced a non-finite value from finite inputs since the last `reset()`.
    public static var firstFailure: EngineError? { lock.withLock { _first } }

    public static func reset() { lock.withLock { _first = nil } }

    static func inspect(_ value: Tensor, op: String, inputs: [Variable]) {
        let policy = self.policy
        guard policy != .off else { return }
        let bad = value.nonFiniteCount
        guard bad > 0 else { return }
        // Only the op that turns finite inputs into non-finite output is at fault.
        guard !inputs.contains(where: { $0.value.hasNonFinite }) else { return }
        let error = EngineError.nonFinite(op: op, inputShapes: inputs.map(\.shape), outputShape: value.shape, count: bad)
        if policy == .trap { error.trap() }
        lock.withLock { if _first == nil { _first = error } }
    }
}

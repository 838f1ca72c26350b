import Foundation

/// Watches op outputs for NaN and infinity, so that a diverging run names the first op that
/// went non-finite instead of failing later with a NaN loss.
///
/// Scanning every output costs 15-19% of a training step, so it is `.off` by default: the
/// trainer checks the loss and the weights, and when one turns non-finite it replays the
/// batch with `.record`, which remembers the first offence (`firstFailure`). `.trap` stops
/// at the offending op with the message. Set with `Numerics.policy` or the environment
/// variable `GRAFT_NUMERICS=off|record|trap`.
public enum Numerics {
    public enum Policy: String, Sendable { case record, trap, off }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var _policy: Policy =
        ProcessInfo.processInfo.environment["GRAFT_NUMERICS"].flatMap(Policy.init(rawValue:)) ?? .off
    nonisolated(unsafe) private static var _first: EngineError?

    public static var policy: Policy {
        get { lock.withLock { _policy } }
        set { lock.withLock { _policy = newValue } }
    }

    /// The first op that produced a non-finite value from finite inputs since the last `reset()`.
    public static var firstFailure: EngineError? { lock.withLock { _first } }

    public static func reset() { lock.withLock { _first = nil } }

    /// Runs `body` with `.record` (unless `.trap` is set) and returns the first non-finite op.
    public static func firstFailure(replaying body: () -> Void) -> EngineError? {
        let saved = policy
        if saved == .off { policy = .record }
        defer { policy = saved }
        reset()
        body()
        return firstFailure
    }

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

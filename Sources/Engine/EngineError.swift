/// Errors raised by the engine. Every message names the operation and the shapes involved,
/// so that a user can find the layer at fault.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    /// Two or more operands whose shapes the operation cannot combine.
    case shapeMismatch(op: String, shapes: [[Int]], reason: String)
    /// An axis outside `-rank..<rank`.
    case axisOutOfRange(op: String, axis: Int, shape: [Int])
    /// An argument outside the values the operation accepts.
    case invalidArgument(op: String, reason: String)
    /// An operation produced NaN or infinity from finite inputs.
    case nonFinite(op: String, inputShapes: [[Int]], outputShape: [Int], count: Int)
    /// oneDNN refused a primitive or an execution.
    case backend(op: String, status: Int, detail: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, shapes, reason):
            return "\(op): shapes \(shapes.map { "\($0)" }.joined(separator: " and ")) do not fit: \(reason)"
        case let .axisOutOfRange(op, axis, shape):
            return "\(op): axis \(axis) is out of range for a rank-\(shape.count) tensor of shape \(shape) (valid: \(-shape.count)..<\(shape.count))"
        case let .invalidArgument(op, reason):
            return "\(op): \(reason)"
        case let .nonFinite(op, inputShapes, outputShape, count):
            return "\(op): produced \(count) NaN or infinite value(s) in its \(outputShape) output from inputs of shape \(inputShapes.map { "\($0)" }.joined(separator: ", ")); lower the learning rate, check the input data, or clip gradients"
        case let .backend(op, status, detail):
            return "\(op): oneDNN failed with status \(status) (\(detail))"
        }
    }
}

extension EngineError {
    /// Stops the program with this error's message. Engine operators are not `throws`
    /// (like PyTorch's), so a misuse is a precondition failure that names op and shapes;
    /// the throwing validators behind them are public for callers that want to check first.
    func trap(file: StaticString = #file, line: UInt = #line) -> Never {
        fatalError(description, file: file, line: line)
    }
}

/// Runs a throwing validation and turns its error into a precondition failure.
@inline(__always)
func require<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch let error as EngineError { error.trap() } catch { fatalError("\(error)") }
}

/// Like `precondition`, but the message survives optimised builds (Swift drops
/// `precondition` messages under -O): users of a release build see what went wrong.
@inline(__always)
public func ensure(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                   file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

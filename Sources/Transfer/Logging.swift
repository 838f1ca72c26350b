import Foundation
import Logging

/// The library's loggers.
extension Logger {
    /// The logger every library message goes through unless a caller passes its own: labelled
    /// `graft`, handled by whatever `LoggingSystem.bootstrap` installed (swift-log's default prints
    /// to standard error; the `finetune` command installs ``TerminalLogHandler``).
    public static var graft: Logger { Logger(label: "graft") }

    /// A logger that drops every message (a search trial's inner runs, an experiment's repeats).
    public static let silent = Logger(label: "graft.silent") { _ in SwiftLogNoOpLogHandler() }
}

/// Prints log messages to standard error, one line each, as a command-line tool should: `info`
/// plain, `notice` as "note: …", `warning` and above prefixed with their level, `debug` and
/// `trace` prefixed likewise. Results (tables, predictions) are not messages: they go to standard
/// output. Every handler reads the one process-wide ``level`` (`--quiet` / `--verbose`).
public struct TerminalLogHandler: LogHandler {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var sharedLevel: Logger.Level = .info

    /// The lowest level printed, for every logger in the process (default `info`).
    public static var level: Logger.Level {
        get { lock.withLock { sharedLevel } }
        set { lock.withLock { sharedLevel = newValue } }
    }

    /// Metadata attached to this handler's messages (printed as `key=value` after the message).
    public var metadata: Logger.Metadata = [:]
    /// The metadata provider, if any, consulted for every message.
    public var metadataProvider: Logger.MetadataProvider?
    private let output: @Sendable (String) -> Void

    /// A handler for the logger `label`; `output` receives each finished line (default: standard error).
    public init(label: String, output: @escaping @Sendable (String) -> Void = TerminalLogHandler.standardError) {
        self.output = output
    }

    /// Writes one line to standard error, unbuffered.
    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The process-wide ``level``; setting it on one logger sets it for all (a command-line switch).
    public var logLevel: Logger.Level {
        get { Self.level }
        set { Self.level = newValue }
    }

    /// Metadata of this handler by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Formats and prints one message.
    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        var line = Self.prefix(event.level) + event.message.description
        if !all.isEmpty {
            line += " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        output(line)
    }

    /// "note: ", "warning: ", "error: "…, and nothing for `info`.
    static func prefix(_ level: Logger.Level) -> String {
        switch level {
        case .info: ""
        case .notice: "note: "
        default: level.rawValue + ": "
        }
    }
}

/// Collects a logger's messages as lines, formatted as ``TerminalLogHandler`` prints them (for
/// tests, or an app that shows the messages itself). Thread-safe.
public final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []

    /// An empty collection.
    public init() {}

    /// Every line so far, oldest first.
    public var all: [String] { lock.withLock { stored } }

    /// A logger whose messages are appended here (at the process-wide ``TerminalLogHandler/level``).
    public var logger: Logger {
        Logger(label: "graft") { label in TerminalLogHandler(label: label) { [self] line in append(line) } }
    }

    /// Forgets the lines so far.
    public func removeAll() { lock.withLock { stored.removeAll() } }

    private func append(_ line: String) { lock.withLock { stored.append(line) } }
}

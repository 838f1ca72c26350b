import ArgumentParser
import Foundation
import Graft

/// Checks a numeric option against its range in `Limits`, as a usage error (exit 64).
func within(_ option: String, _ value: Int?, _ range: ClosedRange<Int>) throws {
    do { try Limits.check(option, value, in: range) } catch { throw ValidationError("\(error)") }
}

/// `--max-pixels`, shared by every command that decodes images.
struct DecodingOptions: ParsableArguments {
    @Option(
        name: .customLong("max-pixels"),
        help: "Refuse images with more pixels than this when they must be decoded at full size (default 50,000,000).")
    var maxPixels: Int?

    func validate() throws { try within("--max-pixels", maxPixels, Limits.maxPixels) }

    var decoder: ImageDecoder { ImageDecoder(maxPixels: maxPixels ?? ImageDecoder.defaultMaxPixels) }
}

/// A warning through the library's logger (standard error; results go to standard output).
func warn(_ message: String) {
    Logger.graft.warning("\(message)")
}

/// `--quiet` / `--verbose`, on every subcommand: the level of the messages printed to standard
/// error (results on standard output are not affected).
struct LoggingOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Print only warnings and errors (no progress, no notes).")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Print debug messages too.")
    var verbose = false

    func validate() throws {
        if quiet && verbose { throw ValidationError("--quiet and --verbose contradict each other; pass one") }
        TerminalLogHandler.level = quiet ? .warning : verbose ? .debug : .info
    }
}

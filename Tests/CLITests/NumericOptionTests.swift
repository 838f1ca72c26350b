import Foundation
import XCTest

/// Runs the built `finetune` binary (beside the test bundle).
struct FinetuneBinary {
    static let url: URL = {
        let bundle = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent("finetune")
    }()

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs the built `finetune` (or `executable`, another product built beside it) to its end.
    static func run(
        _ arguments: [String], directory: URL? = nil, environment: [String: String] = [:],
        executable: String = "finetune"
    ) throws -> Result {
        let process = Process()
        process.executableURL = url.deletingLastPathComponent().appendingPathComponent(executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// Every numeric option of every subcommand, given 0, -1 and a huge value, is refused at
/// parse time: exit 64 (usage) and a message naming the option, never a trap or a huge
/// allocation. (Before, `summary --classes 0`, `augment --size 0` and `train --size 100000`
/// trapped with exit 132/134.)
final class NumericOptionTests: XCTestCase {
    /// Subcommand arguments (valid apart from the option under test), and the options.
    let commands: [(arguments: [String], options: [String])] = [
        (["train"], ["--epochs", "--patience", "--batch-size", "--size", "--max-pixels"]),
        (["summary", "--base", "lenet5"], ["--classes"]),
        (["zoo", "init", "lenet5", "--out", "/tmp/graft-never-written.h5"], ["--classes"]),
        (
            ["import", "--from", "graft", "/tmp/graft-missing.h5", "--arch", "lenet5", "--out", "/tmp/graft-never.h5"],
            ["--classes", "--size"]
        ),
        (
            ["augment", "--data", "/tmp", "--pipeline", "hflip", "--out", "/tmp/graft-never.png"],
            ["--images", "--versions", "--size", "--max-pixels"]
        ),
        (
            ["extract", "--base", "lenet5", "--layer", "conv1", "--data", "/tmp", "--out", "/tmp/graft-never.h5"],
            ["--size", "--max-pixels"]
        ),
        (["evaluate", "--model", "/tmp/graft-missing.h5", "--data", "/tmp"], ["--max-pixels"]),
        (["predict", "--model", "/tmp/graft-missing.h5", "image.png"], ["--top", "--max-pixels"]),
    ]

    func testZeroNegativeAndHugeValuesAreUsageErrors() throws {
        for command in commands {
            for option in command.options {
                for value in ["0", "-1", "100000000000"] {
                    let arguments = command.arguments + ["\(option)=\(value)"]
                    let result = try FinetuneBinary.run(arguments)
                    let line = arguments.joined(separator: " ")
                    XCTAssertEqual(result.status, 64, "\(line): \(result.stderr)")
                    XCTAssertTrue(
                        result.stderr.contains(option) && result.stderr.contains("must be between"),
                        "\(line): \(result.stderr)")
                }
            }
        }
    }

    /// This session's options refuse what cannot work before any training, naming the option.
    func testRestartsSnapshotsBaggingAndDropoutSearchAreCheckedUpfront() throws {
        let cases: [([String], String)] = [
            (["train", "--cycles", "2"], "--cycles"),
            (["train", "--snapshots"], "--schedule restarts"),
            (["train", "--schedule", "restarts", "--snapshots", "--cycles", "1"], "cycles with --snapshots"),
            (["train", "--normalize", "mean"], "--normalize"),
            (["bag", "--models", "1"], "--models"),
            (["tune", "--tune-dropout", "0.6,0.2"], "--tune-dropout"),
        ]
        for (arguments, named) in cases {
            let result = try FinetuneBinary.run(arguments)
            let line = arguments.joined(separator: " ")
            XCTAssertEqual(result.status, 64, "\(line): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(named), "\(line): \(result.stderr)")
        }
    }

    func testLearningRateMustBePositiveAndFinite() throws {
        for value in ["0", "-1", "nan", "inf"] {
            let result = try FinetuneBinary.run(["train", "--lr=\(value)"])
            XCTAssertEqual(result.status, 64, "--lr \(value): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("--lr must be a positive number"), result.stderr)
        }
    }
}

/// Output reaches a pipe line by line while the command runs (before, stdout was
/// block-buffered into pipes and files: `| tee` showed nothing until the end).
final class OutputBufferingTests: XCTestCase {
    func testLinesReachAPipeWhileTheRunIsGoing() throws {
        let runs = FileManager.default.temporaryDirectory.appendingPathComponent("graft-buffering-\(getpid())")
        defer { try? FileManager.default.removeItem(at: runs) }
        let process = Process()
        process.executableURL = FinetuneBinary.url
        process.arguments = ["--base", "resnet18", "--freeze", "0", "--epochs", "50", "--runs", runs.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line is printed before any training: it must arrive while the run goes on.
        var received = Data()
        while !received.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            received += chunk
        }
        let stillRunning = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertTrue(received.contains(UInt8(ascii: "\n")), "no line before the end")
        XCTAssertTrue(stillRunning, "the first line arrived only when the run ended")
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the run had ended before the first line arrived")
    }
}

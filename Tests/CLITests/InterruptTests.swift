import Foundation
import TestSupport
import Transfer
import XCTest

/// Ctrl-C with a real signal: the run stops after the current batch, keeps its best model and
/// a resumable checkpoint, exits with 130, and `finetune resume` finishes it; a second Ctrl-C
/// exits at once and leaves the last complete checkpoint intact.
final class InterruptTests: XCTestCase {
    private var temporary: TemporaryDirectory!
    override func setUpWithError() throws { temporary = try TemporaryDirectory("interrupt") }
    override func tearDownWithError() throws { temporary.remove() }

    /// Starts a run on the demo data and sends `signals` SIGINTs once `line` (epoch 1) is logged (on
    /// standard error, with the other messages).
    private func interruptedRun(
        base: String, signals: Int, freeze: Int? = nil, after line: String = "epoch  1/8"
    ) throws -> (status: Int32, stderr: String, run: String) {
        let process = Process()
        process.executableURL = FinetuneBinary.url
        process.arguments =
            ["--base", base, "--epochs", "8", "--patience", "100", "--runs", temporary.path("runs")]
            + (freeze.map { ["--freeze", "\($0)"] } ?? [])
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var text = ""
        while !text.contains(line) {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        for n in 0..<signals {
            if n > 0 { usleep(100_000) }  // pending signals of one kind merge: let the first arrive
            kill(process.processIdentifier, SIGINT)
        }
        let stderr = text + String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let run = temporary.path(
            "runs/" + (try FileManager.default.contentsOfDirectory(atPath: temporary.path("runs"))[0]))
        return (process.terminationStatus, stderr, run)
    }

    func testCtrlCKeepsTheRunAndResumeFinishesIt() throws {
        let (status, stderr, run) = try interruptedRun(base: "lenet5", signals: 1)
        XCTAssertEqual(status, 130, stderr)
        XCTAssertTrue(stderr.contains("finetune resume \(run)"), stderr)
        XCTAssertEqual(RunFolder.status(of: run)?.state, .interrupted)
        let checkpoint = try TrainingCheckpoint.read(run + "/checkpoint.h5")
        XCTAssertGreaterThanOrEqual(checkpoint.epoch, 1)
        XCTAssertLessThan(checkpoint.epoch, 8)
        XCTAssertNotNil(try TrainedModel(contentsOf: run + "/model.h5"), "the best model so far")
        let resumed = try FinetuneBinary.run(["resume", run])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming \(run) after epoch \(checkpoint.epoch) of 8"), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("epoch  8/8"), resumed.stderr)
        XCTAssertTrue(
            resumed.stdout.hasPrefix("validation accuracy "), "the result on standard output: " + resumed.stdout)
        XCTAssertEqual(RunFolder.status(of: run)?.state, .finished)
    }

    /// A Ctrl-C that comes before training (here while the frozen stages' features are cached)
    /// is not forgotten: the run stops after its first batch, resumable from its starting state.
    func testCtrlCBeforeTrainingStopsTheRunAfterItsFirstBatch() throws {
        let (status, stderr, run) = try interruptedRun(base: "resnet", signals: 1, freeze: 3, after: "classes:")
        XCTAssertEqual(status, 130, stderr)
        XCTAssertFalse(stderr.contains("epoch  1/8"), stderr)
        XCTAssertTrue(stderr.contains("interrupt: stopping after the current batch"), stderr)
        XCTAssertTrue(stderr.contains("interrupted after 0 complete epoch(s)"), stderr)
        XCTAssertEqual(RunFolder.status(of: run)?.state, .interrupted)
        XCTAssertEqual(try TrainingCheckpoint.read(run + "/checkpoint.h5").epoch, 0)
    }

    func testASecondCtrlCExitsAtOnceAndTheCheckpointSurvives() throws {
        let (status, stderr, run) = try interruptedRun(base: "resnet18", signals: 2)  // batches of ~0.3 s: the second signal comes mid-batch
        XCTAssertEqual(status, 130, stderr)
        XCTAssertTrue(stderr.contains("second interrupt"), stderr)
        XCTAssertNoThrow(try TrainingCheckpoint.read(run + "/checkpoint.h5"))
    }
}

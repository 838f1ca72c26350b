import Foundation
import Logging
import TestSupport
import Transfer
import XCTest

/// Messages go through swift-log to standard error at the level `--quiet` / `--verbose` set;
/// results stay on standard output whatever the level.
final class LoggingTests: XCTestCase {
    private var temporary: TemporaryDirectory!

    override func setUpWithError() throws { temporary = try TemporaryDirectory("logging") }
    override func tearDownWithError() throws { temporary.remove() }

    private func train(_ extra: [String]) throws -> FinetuneBinary.Result {
        let result = try FinetuneBinary.run(
            ["--base", "lenet5", "--epochs", "1", "--runs", temporary.path("runs")] + extra)
        XCTAssertEqual(result.status, 0, result.stderr)
        return result
    }

    func testQuietKeepsOnlyTheResultAndVerboseAddsDebugMessages() throws {
        let normal = try train([])
        XCTAssertTrue(normal.stderr.contains("epoch  1/1"), normal.stderr)
        XCTAssertTrue(normal.stderr.contains("no --data: training on the embedded demo dataset"), normal.stderr)
        XCTAssertFalse(normal.stderr.contains("debug: "), normal.stderr)
        XCTAssertTrue(normal.stdout.hasPrefix("validation accuracy "), normal.stdout)
        XCTAssertEqual(normal.stdout.split(separator: "\n").count, 1, "only the result on stdout: " + normal.stdout)

        let quiet = try train(["--quiet"])
        XCTAssertEqual(quiet.stderr, "", "no messages under --quiet")
        XCTAssertTrue(quiet.stdout.hasPrefix("validation accuracy "), quiet.stdout)

        let verbose = try train(["-v"])
        XCTAssertTrue(verbose.stderr.contains("debug: validation accuracy "), verbose.stderr)
        XCTAssertTrue(verbose.stderr.contains("epoch  1/1"), verbose.stderr)
    }

    func testQuietAndVerboseTogetherAreAUsageError() throws {
        let result = try FinetuneBinary.run(["zoo", "list", "--quiet", "--verbose"])
        XCTAssertEqual(result.status, 64, result.stderr)
        XCTAssertTrue(result.stderr.contains("contradict"), result.stderr)
    }

    /// The handler's format: info plain, notice as "note:", warnings and errors prefixed.
    func testTerminalHandlerPrefixesByLevel() {
        let lines = LogLines()
        let log = lines.logger
        log.info("plain")
        log.notice("worth knowing")
        log.warning("skipped x.png")
        log.error("failed", metadata: ["file": "y.h5"])
        log.debug("hidden at the default level")
        XCTAssertEqual(
            lines.all, ["plain", "note: worth knowing", "warning: skipped x.png", "error: failed file=y.h5"])
    }
}

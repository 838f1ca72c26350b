import Foundation
import TestSupport
import XCTest

@testable import Transfer

/// `finetune tune --tune-dropout LO,HI`: dropout joins the search space.
final class TuningDropoutTests: XCTestCase {
    private func trial(_ number: Int, accuracy: Double, dropout: Float) -> Tuning.Trial {
        Tuning.Trial(
            number: number, learningRate: 1e-3, weightDecay: 1e-4, freeze: nil, dropout: dropout,
            validationAccuracy: accuracy, validationLoss: 1, bestEpoch: 1, seconds: 1, runFolder: "")
    }

    /// Each trial samples a rate inside the range, its run trains with it, and the table shows it.
    func testDropoutIsSampledInRangeAndReachesTheRuns() throws {
        let temporary = try TemporaryDirectory("tune-dropout")
        defer { temporary.remove() }
        let o = demoOptions("resnet20", in: temporary, epochs: 1, imagesPerClass: 4, size: 16)
        var ranges = Tuning.Ranges()
        ranges.dropout = 0.1...0.4
        let ranked = try Tuning.run(o, trials: 2, ranges: ranges, folder: temporary.path("search"), log: .silent)
        for trial in ranked {
            let rate = try XCTUnwrap(trial.dropout)
            XCTAssertTrue((0.1...0.4).contains(rate), "\(rate)")
            let saved = try FineTuneOptions.decode(
                Data(contentsOf: URL(fileURLWithPath: trial.runFolder + "/options.json")))
            XCTAssertEqual(saved.dropout, rate)
        }
        XCTAssertNotEqual(ranked[0].dropout, ranked[1].dropout)
        let table = try String(contentsOfFile: temporary.path("search/tune.md"), encoding: .utf8)
        XCTAssertTrue(table.contains("| dropout |"), table)
    }

    /// The second half samples the best third's span of rates, widened by 0.1, within the first range.
    func testNarrowingKeepsTheBestThirdsRates() {
        var ranges = Tuning.Ranges()
        ranges.dropout = 0.1...0.4
        let trials = [
            trial(1, accuracy: 0.9, dropout: 0.15), trial(2, accuracy: 0.5, dropout: 0.4),
            trial(3, accuracy: 0.4, dropout: 0.3),
        ]
        let narrowed = Tuning.narrowed(ranges, around: trials)
        XCTAssertEqual(narrowed.dropout?.lowerBound ?? 0, 0.1, accuracy: 1e-6)
        XCTAssertEqual(narrowed.dropout?.upperBound ?? 0, 0.25, accuracy: 1e-6)
        XCTAssertNil(Tuning.narrowed(Tuning.Ranges(), around: trials).dropout)
    }
}

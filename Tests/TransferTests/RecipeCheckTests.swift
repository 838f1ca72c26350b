import Engine
import Foundation
import Layers
import Optimizers
import TestSupport
import Transfer
import Vision
import XCTest
import Zoo

/// The lecture notes' recipe checks: overfit a small subset, find a learning rate.
final class RecipeCheckTests: XCTestCase {
    func testSanityCheckMemorisesTwentyImagesAndFailsWhenNothingCanLearn() throws {
        var options = FineTuneOptions(base: "lenet5", freeze: .stages(0))
        options.demo = .shapes
        options.demoImagesPerClass = 12
        let ok = try SanityCheck.run(options, images: 20, maxSteps: 100, log: .silent)
        XCTAssertTrue(ok.reached, ok.description)
        XCTAssertEqual(ok.images, 20)
        options.learningRate = 1e-9  // nothing moves
        let stuck = try SanityCheck.run(options, images: 20, maxSteps: 20, log: .silent)
        XCTAssertFalse(stuck.reached)
        XCTAssertTrue(stuck.description.contains("FAILED"), stuck.description)
    }

    /// The notes' loss-dynamics checks: with regularisation off the first loss is about chance
    /// (ln 3 for the three shapes) and an L2 penalty raises it; inputs scaled 1000x too large
    /// (a normalisation far off) start far above chance and fail the check.
    func testSanityCheckLossStartsAtChanceAndRisesWithRegularisation() throws {
        var options = FineTuneOptions(base: "lenet5", freeze: .stages(0))
        options.demo = .shapes
        options.demoImagesPerClass = 6
        options.l1 = 0.5  // the check turns it off: otherwise the first loss would be far above chance
        let healthy = try SanityCheck.run(options, images: 9, maxSteps: 1, gradientCheck: false, log: .silent)
        XCTAssertEqual(healthy.chanceLoss, log(3.0), accuracy: 1e-12)
        XCTAssertEqual(healthy.initialLoss, healthy.chanceLoss, accuracy: 0.5, healthy.description)  // logits of a fresh net are not exactly 0
        // The first loss is the first step's, before its update: with one full-batch step it is the epoch's loss.
        XCTAssertEqual(healthy.initialLoss, healthy.loss, accuracy: 1e-6)
        XCTAssertGreaterThan(healthy.regularisedLoss, healthy.initialLoss + 1e-3, healthy.description)
        XCTAssertTrue(healthy.atChance && healthy.lossRises, healthy.description)
        XCTAssertTrue(healthy.description.contains("ok: loss"), healthy.description)
        XCTAssertTrue(healthy.description.contains("(it rises)"), healthy.description)

        options.mean = [0.5, 0.5, 0.5]
        options.std = [1e-3, 1e-3, 1e-3]
        let confident = try SanityCheck.run(options, images: 9, maxSteps: 1, gradientCheck: false, log: .silent)
        XCTAssertGreaterThan(confident.initialLoss, confident.chanceLoss + SanityCheck.chanceAllowance)
        XCTAssertFalse(confident.atChance)
        XCTAssertFalse(confident.passed)
        XCTAssertTrue(confident.description.contains("FAILED: loss"), confident.description)
    }

    func testTheFinderSuggestsTheSteepestDescentAndPutsTheWeightsBack() throws {
        // A synthetic curve: flat, falling fastest at index 30, minimum at 45, then diverging.
        let rates = (0..<60).map { Float(1e-6 * pow(10, Double($0) / 10)) }
        func curve(_ i: Int) -> Float {
            if i >= 45 { return Float(0.6 + 0.2 * Double(i - 45)) }
            let x = Double(i - 30) / 3
            return Float(2 - 1.5 / (1 + exp(-x)))
        }
        let losses = (0..<60).map(curve)
        XCTAssertEqual(LearningRateFinder.steepest(rates: rates, losses: losses), rates[30])

        // A linear classifier on 8x8 shapes: learns fast at the right rate, diverges above it.
        Random.seed(3)
        let model = Sequential(Flatten(), Dense(8 * 8 * 3, 3))
        let before = Snapshot(model).named
        let data = DemoShapes.make(perClass: 40, size: 8, seed: 1)
        let loader = BatchLoader(
            source: data, batchSize: 30, imageSize: (8, 8), mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        let optimizer = Optimizer(SGD(momentum: 0.9), parameters: model.trainableParameters, learningRate: 1e-3)
        let result = try LearningRateFinder(steps: 120).run(model: model, optimizer: optimizer, loader: loader)
        XCTAssertEqual(Snapshot(model).named, before, "the sweep leaves the weights as they were")
        let suggestion = try XCTUnwrap(result.suggestion)
        XCTAssertTrue((1e-5...1).contains(suggestion), "\(suggestion)")
        XCTAssertEqual(result.rates.count, result.losses.count)
        XCTAssertTrue(zip(result.rates, result.rates.dropFirst()).allSatisfy { $0 < $1 }, "rates grow")
    }

    func testAutoLearningRateIsUsedAndRecorded() throws {
        let temporary = try TemporaryDirectory("auto-lr")
        defer { temporary.remove() }
        var o = demoOptions("lenet5", in: temporary, epochs: 1, imagesPerClass: 8)
        o.autoLearningRate = true
        let lines = LogLines()
        let result = try FineTune.run(o, log: lines.logger)
        XCTAssertTrue(
            lines.all.contains { $0.hasPrefix("--lr auto: the learning-rate finder suggests") },
            lines.all.joined(separator: "\n"))
        let saved = try JSONDecoder().decode(
            FineTuneOptions.self, from: Data(contentsOf: URL(fileURLWithPath: result.runFolder + "/options.json")))
        XCTAssertFalse(saved.autoLearningRate, "the run records the rate it used, so a resume trains at it")
        XCTAssertNotEqual(saved.learningRate, o.learningRate)
    }
}

final class StageProbeTests: XCTestCase {
    /// The deepest stage within the margin of the best wins, whichever stage is the best.
    func testTheFreezeRuleOnSyntheticProbes() {
        func results(_ accuracies: [Double]) -> [StageProbe.Result] {
            accuracies.enumerated().map {
                StageProbe.Result(
                    stage: $0.offset + 1, name: "s\($0.offset + 1)", validationAccuracy: $0.element, l2: 0, features: 8)
            }
        }
        XCTAssertEqual(
            StageProbe.chooseFreeze(results([0.50, 0.60, 0.70, 0.69, 0.55])).stages, 4, "within 2 points of the best")
        XCTAssertEqual(
            StageProbe.chooseFreeze(results([0.50, 0.60, 0.70, 0.67, 0.55])).stages, 3, "3 points behind: not frozen")
        XCTAssertEqual(
            StageProbe.chooseFreeze(results([0.40, 0.50, 0.60, 0.70, 0.80])).stages, 5, "the last is the best")
        XCTAssertEqual(
            StageProbe.chooseFreeze(results([0.80, 0.50, 0.79])).stages, 3, "a later stage within the margin")
        XCTAssertTrue(StageProbe.chooseFreeze(results([0.5, 0.7])).reason.contains("--freeze auto: 2"))
    }

    func testFreezeAutoProbesAndChooses() throws {
        let temporary = try TemporaryDirectory("auto-freeze")
        defer { temporary.remove() }
        var o = demoOptions("resnet20", in: temporary, freeze: .auto, epochs: 1, imagesPerClass: 8, size: 16)
        o.batchSize = 8
        let lines = LogLines()
        let result = try FineTune.run(o, log: lines.logger)
        XCTAssertEqual(
            lines.all.filter { $0.hasPrefix("probe: after stage") }.count, 4, lines.all.joined(separator: "\n"))
        XCTAssertTrue(lines.all.contains { $0.hasPrefix("--freeze auto: ") })
        XCTAssertFalse(result.runFolder.contains("freezeauto"))
    }
}

final class EnsembleTests: XCTestCase {
    /// Averaging: one model twice gives that model's probabilities; two models their mean;
    /// models of other classes are refused.
    func testEnsemblesAverageProbabilities() throws {
        let temporary = try TemporaryDirectory("ensemble")
        defer { temporary.remove() }
        var o = demoOptions("lenet5", in: temporary, epochs: 1, imagesPerClass: 6)
        let a = try FineTune.run(o, log: .silent).runFolder + "/model.h5"
        o.seed = 1
        let b = try FineTune.run(o, log: .silent).runFolder + "/model.h5"
        let image = DemoShapes.make(perClass: 1, size: 32, seed: 5).images[0]
        let file = temporary.path("x.png")
        try image.writePNG(to: file)
        let single = try Ensemble(files: [a]).probabilities(ofFile: file)
        XCTAssertEqual(try Ensemble(files: [a, a]).probabilities(ofFile: file), single)
        let other = try Ensemble(files: [b]).probabilities(ofFile: file)
        let mean = try Ensemble(files: [a, b]).probabilities(ofFile: file)
        for i in mean.indices { XCTAssertEqual(mean[i], (single[i] + other[i]) / 2, accuracy: 1e-6) }
        let shapes = DemoShapes.make(perClass: 4, size: 32, seed: 2)
        XCTAssertEqual(
            try Ensemble(files: [a, a]).evaluate(shapes).accuracy, try Ensemble(files: [a]).evaluate(shapes).accuracy)
        Random.seed(0)
        let fourClasses = LeNet5(inputChannels: 3, classes: 4)
        try WeightFile.save(
            fourClasses, to: temporary.path("four.h5"),
            metadata: WeightMetadata(
                architecture: "lenet5", configuration: fourClasses.configuration,
                preprocessing: Preprocessing(
                    inputSize: [32, 32, 3], channelOrder: "RGB", mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])))
        XCTAssertThrowsError(try Ensemble(files: [a, temporary.path("four.h5")])) {
            XCTAssertTrue("\($0)".contains("different classes"), "\($0)")
        }
    }
}

final class TuningTests: XCTestCase {
    func testTheSearchSamplesInRangeNarrowsAndRanks() throws {
        let temporary = try TemporaryDirectory("tune")
        defer { temporary.remove() }
        var o = demoOptions("lenet5", in: temporary, epochs: 1, imagesPerClass: 6)
        o.patience = 1
        let lines = LogLines()
        let ranked = try Tuning.run(o, trials: 6, folder: temporary.path("search"), log: lines.logger)
        XCTAssertEqual(ranked.count, 6)
        XCTAssertTrue(
            ranked.allSatisfy { (1e-4...1e-2).contains($0.learningRate) && (1e-6...1e-2).contains($0.weightDecay) })
        XCTAssertTrue(zip(ranked, ranked.dropFirst()).allSatisfy { $0.validationAccuracy >= $1.validationAccuracy })
        XCTAssertTrue(
            lines.all.contains { $0.hasPrefix("narrowing to the best third") }, lines.all.joined(separator: "\n"))
        let narrowed = ranked.filter { $0.number > 3 }
        let firstThird = ranked.filter { $0.number <= 3 }.prefix(1)
        let lr = firstThird.map(\.learningRate).min()!
        XCTAssertTrue(narrowed.allSatisfy { $0.learningRate >= lr / 2 * 0.999 && $0.learningRate <= lr * 2 * 1.001 })
        for file in ["tune.json", "tune.md", "tune.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: temporary.path("search/" + file)), file)
        }
        XCTAssertEqual(try Tuning.keep(ranked, count: 2, folder: temporary.path("search")).count, 2)
        let again = try Tuning.run(o, trials: 6, folder: temporary.path("again"), log: .silent)
        XCTAssertEqual(again.map(\.learningRate), ranked.map(\.learningRate), "seeded")
    }

    /// With `--snapshots` a trial delivers its snapshot ensemble: it is scored (and ranked) by the
    /// ensemble's validation figures, not model.h5's, and `keep` copies every snapshot.
    func testSnapshotTrialsAreScoredAndKeptAsTheirEnsemble() throws {
        let temporary = try TemporaryDirectory("tune-snapshots")
        defer { temporary.remove() }
        var o = demoOptions("lenet5", in: temporary, epochs: 4, imagesPerClass: 6)
        o.schedule = .restarts
        o.cycles = 2
        o.snapshots = true
        let ranked = try Tuning.run(o, trials: 2, folder: temporary.path("search"), log: .silent)
        let plan = try FineTune.resolve(o)
        let data = try FineTune.loadData(plan, log: .silent)  // the trials' split: same data and seed
        for trial in ranked {
            let snapshots = try XCTUnwrap(trial.snapshots)
            XCTAssertEqual(snapshots.map { ($0 as NSString).lastPathComponent }, ["cycle-1.h5", "cycle-2.h5"])
            let ensemble = try Ensemble(files: snapshots).evaluate(data.images, indices: data.split.validation)
            XCTAssertEqual(trial.validationAccuracy, ensemble.accuracy)
            XCTAssertEqual(trial.validationLoss, ensemble.loss, accuracy: 1e-9)
            let model = try TrainedModel(contentsOf: trial.runFolder + "/model.h5")
            let single = try Ensemble([model]).evaluate(data.images, indices: data.split.validation)
            XCTAssertNotEqual(trial.validationLoss, single.loss, "model.h5 alone scores differently")
        }
        let table = try String(contentsOfFile: temporary.path("search/tune.md"), encoding: .utf8)
        XCTAssertTrue(table.contains("(ensemble of 2 snapshots)"), table)
        let kept = try Tuning.keep(ranked, count: 2, folder: temporary.path("search"))
        XCTAssertEqual(
            kept.map { ($0 as NSString).lastPathComponent },
            ["model-1-cycle-1.h5", "model-1-cycle-2.h5", "model-2-cycle-1.h5", "model-2-cycle-2.h5"])
        for (copy, original) in zip(kept, ranked.flatMap(\.modelFiles)) {
            XCTAssertEqual(FileManager.default.contents(atPath: copy), FileManager.default.contents(atPath: original))
        }
    }
}

/// "Big gap = overfitting, no gap = more capacity" on synthetic curves, at the best epoch.
final class FitDiagnosisTests: XCTestCase {
    private func record(_ epoch: Int, train: Double, validation: Double?) -> EpochRecord {
        EpochRecord(
            epoch: epoch, trainLoss: 1, trainAccuracy: train, validationLoss: 1, validationAccuracy: validation,
            learningRate: 1e-3, seconds: 1, imagesPerSecond: 1)
    }

    func testTheGapDecides() throws {
        let history = [record(1, train: 0.60, validation: 0.58), record(2, train: 0.99, validation: 0.62)]
        XCTAssertEqual(FitDiagnosis.diagnose(history, bestEpoch: 1), .underfitting(train: 0.60))
        let overfit = try XCTUnwrap(FitDiagnosis.diagnose(history, bestEpoch: 2))
        guard case .overfitting(let gap) = overfit else { return XCTFail("\(overfit)") }
        XCTAssertEqual(gap, 0.37, accuracy: 1e-12)
        XCTAssertTrue(overfit.advice?.contains("37 points") ?? false, overfit.advice ?? "")
        XCTAssertEqual(FitDiagnosis.diagnose(history, bestEpoch: nil), overfit, "no best epoch: the last")
        XCTAssertEqual(FitDiagnosis.diagnose([record(1, train: 0.98, validation: 0.96)], bestEpoch: 1), .balanced)
        XCTAssertEqual(FitDiagnosis.diagnose([record(1, train: 0.80, validation: 0.70)], bestEpoch: 1), .balanced)
        XCTAssertNil(FitDiagnosis.balanced.advice)
        XCTAssertNil(FitDiagnosis.diagnose([record(1, train: 0.9, validation: nil)], bestEpoch: 1))
        XCTAssertNil(FitDiagnosis.diagnose([], bestEpoch: nil))
    }
}

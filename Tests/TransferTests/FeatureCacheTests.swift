import Engine
import Foundation
import Layers
import TestSupport
import Transfer
import Vision
import XCTest
import Zoo

final class FeatureCacheTests: XCTestCase {
    private var temporary: TemporaryDirectory!
    override func setUpWithError() throws { temporary = try TemporaryDirectory("cache") }
    override func tearDownWithError() throws { temporary.remove() }

    private func options(views: Int?, float16: Bool = false) -> FineTuneOptions {
        var o = demoOptions("resnet20", in: temporary, freeze: .stages(2), epochs: 4, imagesPerClass: 8, size: 16)
        o.batchSize = 8
        o.patience = 100
        o.cacheViews = views
        o.cacheFloat16 = float16
        o.pipeline = "hflip,rotate=10,jitter=0.2"
        return o
    }

    /// Trains one way or the other on the same views: with the cache, or uncached with the
    /// loader drawing the same K views.
    private func history(cached: Bool, float16: Bool = false) throws -> [EpochRecord] {
        let plan = try FineTune.resolve(options(views: cached ? 2 : 0, float16: float16))
        let data = try FineTune.loadData(plan, log: .silent)
        let model = try FineTune.buildModel(plan, data: data, log: .silent)
        let loaders = FineTune.loaders(plan, data: data, model: model)
        let run = temporary.path(cached ? "cached" : "uncached")
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let cache = try FineTune.featureCache(plan, model: model, loaders: loaders, runFolder: run, log: .silent)
        XCTAssertEqual(cache != nil, cached)
        if !cached { loaders.train.views = 2 }
        let trainer = FineTune.makeTrainer(
            plan, data: data, model: model, loaders: loaders, runFolder: run, cache: cache, log: .silent)
        return try trainer.fit(
            train: cache?.train ?? loaders.train, validation: cache?.validation ?? loaders.validation, epochs: 4)
    }

    /// The cached path gives the losses of the uncached one for the same views and seed
    /// (float32: within 1e-4 relative, the order of float sums). Float16 activations round
    /// each cached value (relative 5e-4): the first epoch's loss within 0.5%; after that the
    /// two trajectories part by the usual drift of different rounding (0.5-2.1% measured at
    /// epochs 2-4, with and without inference fusion), so later epochs within 5%.
    func testCachedAndUncachedTrainingAgree() throws {
        let uncached = try history(cached: false)
        let cached = try history(cached: true)
        for (a, b) in zip(uncached, cached) {
            XCTAssertEqual(a.trainLoss, b.trainLoss, accuracy: 1e-4 * max(1, a.trainLoss), "epoch \(a.epoch)")
            XCTAssertEqual(
                a.validationLoss!, b.validationLoss!, accuracy: 1e-4 * max(1, a.validationLoss!), "epoch \(a.epoch)")
        }
        let half = try history(cached: true, float16: true)
        for (a, b) in zip(uncached, half) {
            let tolerance = a.epoch == 1 ? 0.005 : 0.05
            XCTAssertEqual(a.trainLoss, b.trainLoss, accuracy: tolerance * a.trainLoss, "float16, epoch \(a.epoch)")
        }
    }

    /// The cache is on when it applies (and says so), off when it cannot be (and says why).
    func testTheCacheAnnouncesItselfAndRefusesWhatItCannotDo() throws {
        let lines = LogLines()
        let result = try FineTune.run(options(views: nil), log: lines.logger)
        XCTAssertTrue(
            lines.all.contains {
                $0.hasPrefix("feature cache: the frozen stem, stage1 run once per image and view (4 augmented views")
            },
            lines.all.joined(separator: "\n"))
        XCTAssertTrue(
            try String(contentsOfFile: result.runFolder + "/summary.txt", encoding: .utf8).contains(
                "feature cache: saved about"))

        var o = options(views: 2)
        o.batchNorm = .train
        lines.removeAll()
        _ = try FineTune.run(o, log: lines.logger)
        XCTAssertTrue(
            lines.all.contains { $0.contains("cannot cache the frozen stages (--bn train") },
            lines.all.joined(separator: "\n"))

        o = options(views: 2)
        o.cacheMemoryMB = 0
        XCTAssertThrowsError(try FineTune.run(o, log: .silent)) {
            XCTAssertTrue("\($0)".contains("cannot hold even one batch"), "\($0)")
        }
    }

    /// Beyond the memory budget the cache lives in a spill file in the run folder, removed at the end.
    func testTheCacheSpillsToAFileBeyondItsBudget() throws {
        let plan = try FineTune.resolve(options(views: 2))
        let data = try FineTune.loadData(plan, log: .silent)
        let model = try FineTune.buildModel(plan, data: data, log: .silent)
        let loaders = FineTune.loaders(plan, data: data, model: model)
        let spill = temporary.path("spill.bin")
        var cache: FeatureCache? = try FeatureCache(
            model: model.network, stages: 2, indices: loaders.train.indices, imageShape: [16, 16, 3],
            views: 2, budgetBytes: 1, spillFile: spill)
        XCTAssertEqual(cache?.spillFile, spill)
        XCTAssertTrue(FileManager.default.fileExists(atPath: spill))
        do {
            let batches = CachedBatches(loader: loaders.train, cache: cache!)
            let first = batches.makeBatch(Array(loaders.train.indices.prefix(4)), epoch: 1)!
            XCTAssertEqual(Array(first.images.shape.dropFirst()), cache!.featureShape)
            XCTAssertEqual(
                batches.makeBatch(Array(loaders.train.indices.prefix(4)), epoch: 1)!.images, first.images, "read back")
        }
        cache = nil
        XCTAssertFalse(FileManager.default.fileExists(atPath: spill), "removed with the cache")
        XCTAssertThrowsError(
            try FeatureCache(
                model: model.network, stages: 2, indices: loaders.train.indices, imageShape: [16, 16, 3],
                views: 2, budgetBytes: 1, spillFile: "/nonexistent/spill.bin")
        ) { error in
            XCTAssertTrue("\(error)".contains("cannot be written"), "\(error)")
        }
    }

    /// The validation cache gets what the training cache leaves of the budget, its views
    /// counted: with 2 views the training features fill a 1 MB budget, so the validation
    /// features spill to their file (counting the training images once left them room).
    func testTheValidationCacheGetsWhatTheTrainingViewsLeave() throws {
        func setUp(size: Int) throws -> (FineTune.Plan, FineTune.Model, FineTune.Loaders, Int) {
            var o = demoOptions("resnet20", in: temporary, freeze: .stages(1), epochs: 1, imagesPerClass: 8, size: size)
            o.cacheViews = 2
            o.pipeline = "hflip"
            o.cacheMemoryMB = 1
            o.batchSize = 4
            let plan = try FineTune.resolve(o)
            let data = try FineTune.loadData(plan, log: .silent)
            let model = try FineTune.buildModel(plan, data: data, log: .silent)
            let entry = FeatureCache.entryBytes(
                model: model.network, stages: 1, imageShape: model.preprocessing.inputSize, precision: .float32)
            return (plan, model, FineTune.loaders(plan, data: data, model: model), entry)
        }
        // The stem keeps the image's side, so an entry grows with its area: pick the side where
        // 2 training views fit the budget and the validation images do not fit beside them.
        let (_, _, probe, entry16) = try setUp(size: 16)
        let (train, validation, budget) = (probe.train.count, probe.validation.count, 1 << 20)
        let side = try XCTUnwrap(
            (8...64).first { side in
                let entry = entry16 * side * side / 256
                return 2 * train * entry <= budget && (2 * train + validation) * entry > budget
                    && (train + validation) * entry <= budget
            }, "no image side separates the budgets for \(train) + \(validation) images")
        let (plan, model, loaders, entry) = try setUp(size: side)
        XCTAssertLessThanOrEqual(2 * loaders.train.count * entry, budget)
        XCTAssertGreaterThan((2 * loaders.train.count + loaders.validation.count) * entry, budget)
        let run = temporary.path("budget")
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let cache = try XCTUnwrap(
            try FineTune.featureCache(plan, model: model, loaders: loaders, runFolder: run, log: .silent))
        XCTAssertNil(cache.train.cache.spillFile, "the training features fit the budget")
        XCTAssertEqual(cache.validation.cache.spillFile, run + "/feature-cache-validation.bin")
    }
}

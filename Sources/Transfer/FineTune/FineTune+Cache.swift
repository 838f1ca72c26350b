import Engine
import Foundation
import Layers
import Logging
import Vision
import Zoo

extension FineTune {
    /// The frozen-prefix cache of a run: the trainer's model (the stages after the prefix) and
    /// the batches it trains and validates on.
    public struct Cache {
        /// The trainer's model: the network from the first unfrozen stage on (`CachedSuffix`), fed cached
        /// features.
        public var model: Module
        /// The training batches as cached features, in the training loader's order and views.
        public var train: CachedBatches
        /// The validation batches as cached features (one view).
        public var validation: CachedBatches
        /// The seconds the cache saved: what an uncached run would have spent again on the
        /// prefix in every epoch after the cached views were built.
        public func savedSeconds(epochs: Int) -> Double {
            let views = train.cache.views
            let perView = train.cache.computeSeconds / Double(max(1, min(epochs, views)))
            return perView * Double(max(0, epochs - views)) + validation.cache.computeSeconds
                * Double(max(0, epochs - 1))
        }
    }

    /// The feature cache when it applies: the first N stages frozen and in inference mode
    /// (`--bn frozen` or `adapt`), no mixup or cutmix (they mix images, not features), an
    /// architecture whose stages compose, and `--cache-views` not 0. Says why when it does not.
    public static func featureCache(
        _ plan: Plan, model: Model, loaders: Loaders, runFolder: String,
        log: Logger = .graft
    ) throws -> Cache? {
        let options = plan.options
        let frozen = stagesFrozen(options.freeze, of: plan.stageCount)
        guard options.cacheViews != 0, frozen > 0 else { return nil }
        let reason: String? =
            options.batchNorm == .train
            ? "--bn train updates the frozen stages' statistics every batch"
            : options.mixup != nil || options.cutmix != nil
                ? "mixup and cutmix mix the images, not their features"
                : model.network is AlexNet ? "\(plan.entry.name)'s stages do not compose with its head" : nil
        if let reason {
            if options.cacheViews != nil { log.notice("cannot cache the frozen stages (\(reason)); training uncached") }
            return nil
        }
        let augmenting = !plan.augmentation.ops.isEmpty
        let views = options.cacheViews ?? (augmenting ? 4 : 1)
        let precision: FeatureCache.Precision = options.cacheFloat16 ? .float16 : .float32
        let budget = (options.cacheMemoryMB ?? Int(ProcessInfo.processInfo.physicalMemory >> 22)) << 20
        let imageShape = model.preprocessing.inputSize
        let entry = FeatureCache.entryBytes(
            model: model.network, stages: frozen, imageShape: imageShape, precision: precision)
        guard entry * options.batchSize <= budget else {
            throw FeatureCacheError.budgetTooSmall(budget: budget, batch: entry * options.batchSize)
        }
        loaders.train.views = augmenting ? views : nil
        let trainViews = augmenting ? views : 1  // without augmentation every view would be the same
        let trainCache = try FeatureCache(
            model: model.network, stages: frozen, indices: loaders.train.indices, imageShape: imageShape,
            views: trainViews, precision: precision, budgetBytes: budget,
            spillFile: runFolder + "/feature-cache.bin")
        let validationCache = try FeatureCache(
            model: model.network, stages: frozen, indices: loaders.validation.indices,
            imageShape: imageShape, views: 1, precision: precision,
            budgetBytes: max(0, budget - entry * loaders.train.count * trainViews),
            spillFile: runFolder + "/feature-cache-validation.bin")
        let names = model.network.stages.prefix(frozen).map(\.name).joined(separator: ", ")
        let megabytes =
            Double(entry * (loaders.train.count * trainViews + loaders.validation.count)) / 1e6
        let message = String(
            format: "feature cache: the frozen %@ run once per image%@; features %@ %@, %.0f MB %@",
            names, augmenting ? " and view (\(views) augmented views, epoch e trains on view (e-1) mod \(views))" : "",
            trainCache.featureShape.map(String.init).joined(separator: "x"), precision.rawValue, megabytes,
            trainCache.spillFile == nil ? "in memory" : "in \(trainCache.spillFile!)")
        log.info("\(message)")
        return Cache(
            model: CachedSuffix(model.network, stages: frozen),
            train: CachedBatches(loader: loaders.train, cache: trainCache),
            validation: CachedBatches(loader: loaders.validation, cache: validationCache))
    }
}

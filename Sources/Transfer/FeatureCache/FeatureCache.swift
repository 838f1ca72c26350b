import Engine
import Foundation
import Layers
import Vision
import Zoo

/// The outputs of a model's frozen prefix (its first `stages` stages, in inference mode),
/// computed once per (image, augmentation view) and reused in every later epoch, so only the
/// unfrozen stages run forward and backward. With K views, epoch e trains on view
/// (e − 1) mod K of every image (the loader's `views`): caching keeps augmentation, with K
/// fixed draws per image instead of a fresh one per epoch (Keras's guide says caching rules
/// it out; with K views it does not).
///
/// Storage: `count × views × featureSize` values, float32 or float16, in memory when that fits
/// `budgetBytes`, else in a memory-mapped spill file (the run folder's `feature-cache.bin`).
/// Entries are computed on first use, batch by batch.
public final class FeatureCache: @unchecked Sendable {
    public enum Precision: String, Codable, Sendable { case float32, float16 }

    public let model: any ZooModel
    public let stages: Int
    public let views: Int
    public let precision: Precision
    /// The shape of one entry (the prefix's output for one image, without the batch axis).
    public let featureShape: [Int]
    /// Seconds spent computing entries so far (what an uncached run pays every epoch).
    public private(set) var computeSeconds = 0.0
    public private(set) var spillFile: String?

    private let slots: [Int: Int]  // dataset index -> slot
    private let storage: UnsafeMutableRawPointer
    private let bytes: Int
    private var filled: [Bool]
    private let lock = NSLock()

    private var featureCount: Int { featureShape.product }
    private var entryBytes: Int { featureCount * (precision == .float16 ? 2 : 4) }

    /// A cache for the images `indices` of a loader of `imageSize` inputs.
    public init(model: any ZooModel, stages: Int, indices: [Int], imageShape: [Int], views: Int, precision: Precision = .float32,
                budgetBytes: Int, spillFile: String) throws {
        ensure(stages >= 1 && stages <= model.stages.count && views >= 1, "FeatureCache: stages \(stages), views \(views)")
        self.model = model
        self.stages = stages
        self.views = views
        self.precision = precision
        let probe = Autodiff.withoutGradients { model.features(Variable(.zeros([1] + imageShape)), throughStage: stages - 1) }
        featureShape = Array(probe.shape.dropFirst())
        slots = Dictionary(uniqueKeysWithValues: indices.enumerated().map { ($0.element, $0.offset) })
        let entry = featureShape.product * (precision == .float16 ? 2 : 4)
        bytes = max(1, indices.count * views * entry)
        filled = [Bool](repeating: false, count: indices.count * views)
        if bytes <= budgetBytes {
            storage = .allocate(byteCount: bytes, alignment: 64)
        } else {
            storage = try Self.mapSpillFile(spillFile, bytes: bytes)
            self.spillFile = spillFile
        }
    }

    deinit {
        if let spillFile {
            munmap(storage, bytes)
            unlink(spillFile)
        } else {
            storage.deallocate()
        }
    }

    /// Whether one batch's entries fit the budget at all.
    public static func entryBytes(model: any ZooModel, stages: Int, imageShape: [Int], precision: Precision) -> Int {
        let probe = Autodiff.withoutGradients { model.features(Variable(.zeros([1] + imageShape)), throughStage: stages - 1) }
        return probe.shape.dropFirst().product * (precision == .float16 ? 2 : 4)
    }

    private static func mapSpillFile(_ path: String, bytes: Int) throws -> UnsafeMutableRawPointer {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FeatureCacheError.spillNotWritable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(bytes)) == 0 else {
            throw FeatureCacheError.spillNotWritable(path: path, reason: String(cString: strerror(errno)))
        }
        guard let map = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            throw FeatureCacheError.spillNotWritable(path: path, reason: String(cString: strerror(errno)))
        }
        return map
    }

    private func slot(_ index: Int, view: Int) -> Int { slots[index]! * views + view }

    /// Whether any of `indices` (view `view`) is not cached yet.
    func isMissing(_ indices: [Int], view: Int) -> Bool {
        lock.withLock { indices.contains { !filled[slot($0, view: view)] } }
    }

    /// Computes and stores the entries of `indices` from their images (`[n, h, w, c]`).
    func fill(_ indices: [Int], view: Int, images: Tensor) {
        store(indices, view: view, features: compute(images))
    }

    /// The cached features of `indices` (view `view`) as a batch `[n] + featureShape`.
    func fetch(_ indices: [Int], view: Int) -> Tensor {
        var out = Tensor.zeros([indices.count] + featureShape)
        let n = featureCount
        out.withUnsafeMutableBufferPointer { dst in
            for (row, index) in indices.enumerated() {
                let base = storage + slot(index, view: view) * entryBytes
                let target = dst.baseAddress! + row * n
                switch precision {
                case .float32: target.update(from: base.assumingMemoryBound(to: Float.self), count: n)
                case .float16:
                    let half = base.assumingMemoryBound(to: Float16.self)
                    for i in 0..<n { target[i] = Float(half[i]) }
                }
            }
        }
        return out
    }

    /// The frozen prefix's output, in inference mode, without gradients.
    private func compute(_ images: Tensor) -> Tensor {
        let started = Date()
        defer { computeSeconds += Date().timeIntervalSince(started) }
        let prefix = model.stages.prefix(stages).map(\.module)
        let modes = prefix.map(\.isTraining)
        for module in prefix { module.eval() }
        defer { for (module, training) in zip(prefix, modes) { module.train(training) } }
        return Autodiff.withoutGradients { model.features(Variable(images), throughStage: stages - 1).value }
    }

    private func store(_ indices: [Int], view: Int, features: Tensor) {
        let n = featureCount
        features.withUnsafeBufferPointer { src in
            for (row, index) in indices.enumerated() {
                let base = storage + slot(index, view: view) * entryBytes
                let source = src.baseAddress! + row * n
                switch precision {
                case .float32: base.assumingMemoryBound(to: Float.self).update(from: source, count: n)
                case .float16:
                    let half = base.assumingMemoryBound(to: Float16.self)
                    for i in 0..<n { half[i] = Float16(source[i]) }
                }
            }
        }
        lock.withLock { for index in indices { filled[slot(index, view: view)] = true } }
    }
}

/// Batches of cached prefix features, in exactly the order and composition a `BatchLoader`
/// gives images (same shuffle, same batch boundaries): training on them equals training the
/// whole model on those images with the prefix frozen.
public final class CachedBatches: BatchSource, @unchecked Sendable {
    public let loader: BatchLoader
    public let cache: FeatureCache

    public init(loader: BatchLoader, cache: FeatureCache) {
        self.loader = loader
        self.cache = cache
    }

    public var count: Int { loader.count }
    public var batchesPerEpoch: Int { loader.batchesPerEpoch }
    public var classCount: Int { loader.classCount }
    public func order(epoch: Int) -> [Int] { loader.order(epoch: epoch) }

    public func makeBatch(_ indices: [Int], epoch: Int) -> Batch? {
        let view = loader.view(ofEpoch: epoch) ?? 0
        var kept = indices
        if cache.isMissing(indices, view: view) {
            // Decode only when something is missing; undecodable images stay out, as in the loader.
            guard let images = loader.makeBatch(indices, epoch: epoch) else { return nil }
            kept = images.indices
            cache.fill(kept, view: view, images: images.images)
        }
        return Batch(images: cache.fetch(kept, view: view), labels: kept.map { loader.source.label(at: $0) }, indices: kept)
    }

    public func batches(epoch: Int) -> AnySequence<Batch> {
        let order = loader.order(epoch: epoch)
        let size = loader.batchSize
        let chunks = stride(from: 0, to: order.count, by: size).map { Array(order[$0..<min($0 + size, order.count)]) }
        return AnySequence(chunks.lazy.compactMap { self.makeBatch($0, epoch: epoch) })
    }
}

/// The model seen from a cached prefix: the same modules and keys (checkpoints, snapshots,
/// optimisers see no difference), whose forward starts at stage `stages`.
public final class CachedSuffix: Module {
    public let network: any ZooModel
    public let stages: Int

    public init(_ network: any ZooModel, stages: Int) {
        self.network = network
        self.stages = stages
    }

    public override var namedChildren: [(name: String, module: Module)] { network.namedChildren }

    public override func forward(_ x: Variable) -> Variable { network.forward(x, fromStage: stages)! }
}

public enum FeatureCacheError: Error, CustomStringConvertible {
    case budgetTooSmall(budget: Int, batch: Int)
    case spillNotWritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .budgetTooSmall(budget, batch):
            return "--cache-memory \(budget / (1 << 20)) MB cannot hold even one batch of cached features (\(batch / (1 << 20)) MB); "
                + "raise it, or turn the cache off with --cache-views 0"
        case let .spillNotWritable(path, reason):
            return "the feature cache does not fit its memory budget and its spill file \(path) cannot be written (\(reason)); "
                + "free disk space, raise --cache-memory, or turn the cache off with --cache-views 0"
        }
    }
}

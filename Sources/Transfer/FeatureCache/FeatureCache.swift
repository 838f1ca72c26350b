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
    /// How entries are stored: `float32` as computed, or `float16` in half the memory (rounded).
    public enum Precision: String, Codable, Sendable {
        /// 4 bytes per value, exactly as the frozen stages computed it.
        case float32
        /// 2 bytes per value, rounded to half precision (about 3 significant digits).
        case float16
    }

    /// The model whose prefix is cached (the whole network; only its first `stages` stages run here).
    public let model: any ZooModel
    /// How many leading stages are frozen and cached (at least 1).
    public let stages: Int
    /// Augmented views kept per image (K); epoch e reads view (e − 1) mod K.
    public let views: Int
    /// The storage precision of entries.
    public let precision: Precision
    /// The shape of one entry (the prefix's output for one image, without the batch axis).
    public let featureShape: [Int]
    /// Seconds spent computing entries so far (what an uncached run pays every epoch).
    public private(set) var computeSeconds = 0.0
    /// The memory-mapped spill file when the cache exceeds its budget (removed when the cache goes); nil in memory.
    public private(set) var spillFile: String?

    private let slots: [Int: Int]  // dataset index -> slot
    private let storage: UnsafeMutableRawPointer
    private let bytes: Int
    private var filled: [Bool]
    private let lock = NSLock()

    private var featureCount: Int { featureShape.product }
    private var entryBytes: Int { featureCount * (precision == .float16 ? 2 : 4) }

    /// A cache of the first `stages` stages' outputs for the dataset images `indices`, inputs of `imageShape`
    /// [height, width, channels], `views` entries per image; in memory when they fit `budgetBytes`, else in
    /// the memory-mapped `spillFile`.
    /// - Throws: `FeatureCacheError.spillNotWritable` when the spill file cannot be created, sized or mapped.
    public init(
        model: any ZooModel, stages: Int, indices: [Int], imageShape: [Int], views: Int,
        precision: Precision = .float32,
        budgetBytes: Int, spillFile: String
    ) throws {
        ensure(
            stages >= 1 && stages <= model.stages.count && views >= 1, "FeatureCache: stages \(stages), views \(views)")
        self.model = model
        self.stages = stages
        self.views = views
        self.precision = precision
        let probe = Autodiff.withoutGradients {
            model.features(Variable(.zeros([1] + imageShape)), throughStage: stages - 1)
        }
        featureShape = Array(probe.shape.dropFirst())
        // A bootstrap resample (bagging) lists an image more than once: its copies share a slot.
        var seen = Set<Int>()
        let distinct = indices.filter { seen.insert($0).inserted }
        slots = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($0.element, $0.offset) })
        let entry = featureShape.product * (precision == .float16 ? 2 : 4)
        bytes = max(1, distinct.count * views * entry)
        filled = [Bool](repeating: false, count: distinct.count * views)
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

    /// The bytes of one entry: the first `stages` stages' output for one image of `imageShape`
    /// [height, width, channels], at `precision` (what a caller checks a batch against the budget with).
    public static func entryBytes(model: any ZooModel, stages: Int, imageShape: [Int], precision: Precision) -> Int {
        let probe = Autodiff.withoutGradients {
            model.features(Variable(.zeros([1] + imageShape)), throughStage: stages - 1)
        }
        return probe.shape.dropFirst().product * (precision == .float16 ? 2 : 4)
    }

    private static func mapSpillFile(_ path: String, bytes: Int) throws -> UnsafeMutableRawPointer {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw FeatureCacheError.spillNotWritable(path: path, reason: String(cString: strerror(errno)))
        }
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
    /// The loader whose order, batches, views and decoding the cached batches follow.
    public let loader: BatchLoader
    /// Where the prefix features are kept.
    public let cache: FeatureCache

    /// Batches of `cache` in the order of `loader`.
    public init(loader: BatchLoader, cache: FeatureCache) {
        self.loader = loader
        self.cache = cache
    }

    /// The number of images, as the loader's.
    public var count: Int { loader.count }
    /// Batches per epoch, as the loader's.
    public var batchesPerEpoch: Int { loader.batchesPerEpoch }
    /// The number of classes, as the loader's.
    public var classCount: Int { loader.classCount }
    /// The loader's image order for `epoch` (the same shuffle).
    public func order(epoch: Int) -> [Int] { loader.order(epoch: epoch) }

    /// The cached features ([n] + `featureShape`) of `indices` for `epoch`'s view, computing missing
    /// entries first from the decoded images; images that fail to decode are left out, as in the loader.
    public func makeBatch(_ indices: [Int], epoch: Int) -> Batch? {
        let view = loader.view(ofEpoch: epoch) ?? 0
        var kept = indices
        if cache.isMissing(indices, view: view) {
            // Decode only when something is missing; undecodable images stay out, as in the loader.
            guard let images = loader.makeBatch(indices, epoch: epoch) else { return nil }
            kept = images.indices
            cache.fill(kept, view: view, images: images.images)
        }
        return Batch(
            images: cache.fetch(kept, view: view), labels: kept.map { loader.source.label(at: $0) }, indices: kept)
    }

    /// The epoch's batches, with the loader's batch boundaries.
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
    /// The whole model, whose modules and keys this module exposes unchanged.
    public let network: any ZooModel
    /// The cached prefix's stage count: inputs are the output of stage `stages - 1`.
    public let stages: Int

    /// The part of `network` from stage `stages` on; the network must support `forward(_:fromStage:)`.
    public init(_ network: any ZooModel, stages: Int) {
        self.network = network
        self.stages = stages
    }

    /// The network's children, so keys are the same as the whole model's.
    public override var namedChildren: [(name: String, module: Module)] { network.namedChildren }

    /// Runs stages `stages...` and the head on cached features `x`; traps for networks whose stages do not compose.
    public override func forward(_ x: Variable) -> Variable { network.forward(x, fromStage: stages)! }
}

/// Why the frozen-prefix feature cache cannot be set up.
public enum FeatureCacheError: Error, CustomStringConvertible {
    /// The memory budget (bytes) is smaller than one batch of entries (bytes).
    case budgetTooSmall(budget: Int, batch: Int)
    /// The cache needs its spill file, which cannot be created, sized or mapped; `reason` is the system's.
    case spillNotWritable(path: String, reason: String)

    /// A message in MB naming the option to change (`--cache-memory`, `--cache-views 0`).
    public var description: String {
        switch self {
        case .budgetTooSmall(let budget, let batch):
            return
                "--cache-memory \(budget / (1 << 20)) MB cannot hold even one batch of cached features (\(batch / (1 << 20)) MB); "
                + "raise it, or turn the cache off with --cache-views 0"
        case .spillNotWritable(let path, let reason):
            return
                "the feature cache does not fit its memory budget and its spill file \(path) cannot be written (\(reason)); "
                + "free disk space, raise --cache-memory, or turn the cache off with --cache-views 0"
        }
    }
}

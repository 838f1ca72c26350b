import Engine
import Foundation

/// A batch ready for a model: NHWC images, their labels, and their dataset indices.
public struct Batch: Sendable {
    public var images: Tensor
    public var labels: [Int]
    public var indices: [Int]

    public init(images: Tensor, labels: [Int], indices: [Int]) {
        self.images = images
        self.labels = labels
        self.indices = indices
    }
}

/// Anything a trainer can draw batches from: a `BatchLoader` (images) or a feature cache
/// (a frozen prefix's outputs).
public protocol BatchSource: AnyObject {
    /// Examples per epoch.
    var count: Int { get }
    var batchesPerEpoch: Int { get }
    var classCount: Int { get }
    /// The batches of `epoch` (1-based; 0 for evaluation), in the epoch's order.
    func batches(epoch: Int) -> AnySequence<Batch>
    /// One batch of the given dataset indices, as `epoch` would give them.
    func makeBatch(_ indices: [Int], epoch: Int) -> Batch?
    /// The dataset indices an epoch visits, in order.
    func order(epoch: Int) -> [Int]
}

/// Turns a labelled image source into batches.
///
/// Each epoch's order is a shuffle seeded by `(seed, epoch)`; each image's augmentation
/// generator is seeded by `(seed, epoch, index)`, so the batches and augmentations are the
/// same on every run and whatever the thread count. Images are resized to `imageSize`
/// (height, width), augmented, resized back if an op changed their size, then normalised
/// with the model's mean, std and channel order. Work runs on background threads: the
/// images of a batch in parallel (`Threads.count`), and up to `prefetch` batches ahead of
/// the consumer. Images that fail to decode are skipped and listed in `failures`.
public final class BatchLoader: BatchSource, @unchecked Sendable {
    public let source: LabeledImageSource
    public let indices: [Int]
    public let batchSize: Int
    public let imageSize: (height: Int, width: Int)
    public let mean: [Float], std: [Float], channelOrder: String
    public let augmentation: Augmentation?
    public let shuffle: Bool
    public let seed: UInt64
    public let prefetch: Int
    private let lock = NSLock()
    private var _failures: [(path: String, reason: String)] = []

    public init(source: LabeledImageSource, indices: [Int]? = nil, batchSize: Int, imageSize: (height: Int, width: Int),
                mean: [Float], std: [Float], channelOrder: String = "RGB", augmentation: Augmentation? = nil,
                shuffle: Bool = true, seed: UInt64 = 0, prefetch: Int = 2) {
        ensure(batchSize > 0, "BatchLoader: batch size \(batchSize) must be positive")
        self.source = source
        self.indices = indices ?? Array(0..<source.count)
        self.batchSize = batchSize
        self.imageSize = imageSize
        self.mean = mean; self.std = std; self.channelOrder = channelOrder
        self.augmentation = augmentation
        self.shuffle = shuffle
        self.seed = seed
        self.prefetch = max(1, prefetch)
    }

    /// With `views` K, epoch e augments every image as its view (e − 1) mod K, drawn from
    /// `(seed, view, index)`: the K views of an image are the same whatever the epoch, which
    /// is what a feature cache stores. Nil: a fresh draw per epoch, `(seed, epoch, index)`.
    public var views: Int?

    public var count: Int { indices.count }
    public var classCount: Int { source.classNames.count }

    /// The view an epoch uses (nil without `views`).
    public func view(ofEpoch epoch: Int) -> Int? { views.map { (max(epoch, 1) - 1) % $0 } }

    /// Images that could not be decoded so far, with the reason.
    public var failures: [(path: String, reason: String)] { lock.withLock { _failures } }

    public var batchesPerEpoch: Int { (indices.count + batchSize - 1) / batchSize }

    /// The order of an epoch.
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return indices }
        var rng = RandomGenerator(seed: BatchLoader.mix(seed, UInt64(epoch), 0x5EED))
        return rng.shuffled(indices)
    }

    static func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        for v in [a, b, c] { h = (h ^ v) &* 0xBF58_476D_1CE4_E5B9; h ^= h >> 31 }
        return h
    }

    /// Prepares one image: resize, augment (with its own seeded generator), normalise later.
    public func prepare(index: Int, epoch: Int) throws -> (image: Image, steps: [AugmentationStep]) {
        var image = try source.image(at: index, fitting: (imageSize.width, imageSize.height))
        var steps: [AugmentationStep] = []
        if let augmentation {
            let draw = view(ofEpoch: epoch).map { BatchLoader.mix(seed, UInt64($0) | 0x5EE0_0000_0000, UInt64(index)) }
                ?? BatchLoader.mix(seed, UInt64(epoch), UInt64(index))
            var rng = RandomGenerator(seed: draw)
            (image, steps) = augmentation.apply(image, using: &rng)
            if image.width != imageSize.width || image.height != imageSize.height {
                image = image.resized(width: imageSize.width, height: imageSize.height)
            }
        }
        return (image, steps)
    }

    /// Builds one batch from dataset indices (images in parallel).
    public func makeBatch(_ batchIndices: [Int], epoch: Int) -> Batch? {
        var prepared = [Image?](repeating: nil, count: batchIndices.count)
        let workers = max(1, min(Threads.count, batchIndices.count))
        prepared.withUnsafeMutableBufferPointer { slots in
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for i in stride(from: worker, to: batchIndices.count, by: workers) {
                    do { slots[i] = try prepare(index: batchIndices[i], epoch: epoch).image } catch {
                        lock.withLock { _failures.append((source.name(at: batchIndices[i]), "\(error)")) }
                    }
                }
            }
        }
        let kept = batchIndices.indices.filter { prepared[$0] != nil }
        guard !kept.isEmpty else { return nil }
        return Batch(images: Tensor.batch(kept.map { prepared[$0]! }, mean: mean, std: std, channelOrder: channelOrder),
                     labels: kept.map { source.label(at: batchIndices[$0]) }, indices: kept.map { batchIndices[$0] })
    }

    /// The batches of `epoch`, produced ahead on a background thread.
    public func batches(epoch: Int) -> AnySequence<Batch> {
        let order = self.order(epoch: epoch)
        let chunks = stride(from: 0, to: order.count, by: batchSize).map { Array(order[$0..<min($0 + batchSize, order.count)]) }
        return AnySequence { () -> AnyIterator<Batch> in
            let queue = PrefetchQueue<Batch?>(capacity: self.prefetch)
            let producer = Thread {
                for chunk in chunks {
                    if queue.isCancelled { return }
                    if let batch = self.makeBatch(chunk, epoch: epoch) { queue.put(batch) }
                }
                queue.put(nil)
            }
            producer.start()
            return AnyIterator(Consumer(queue))
        }
    }
}

/// Takes batches from the queue; when dropped (the consumer stopped early) it cancels the
/// producer so no thread is left waiting.
private final class Consumer: IteratorProtocol {
    let queue: PrefetchQueue<Batch?>
    private var finished = false
    init(_ queue: PrefetchQueue<Batch?>) { self.queue = queue }
    func next() -> Batch? {
        guard !finished, let batch = queue.take() ?? nil else { finished = true; return nil }
        return batch
    }
    deinit { queue.cancel() }
}

/// A bounded blocking queue between the loader's producer thread and the consumer.
final class PrefetchQueue<T>: @unchecked Sendable {
    private var items: [T] = []
    private let condition = NSCondition()
    private let capacity: Int
    private var cancelled = false
    var isCancelled: Bool { condition.lock(); defer { condition.unlock() }; return cancelled }

    init(capacity: Int) { self.capacity = capacity }

    func put(_ item: T) {
        condition.lock()
        while items.count >= capacity && !cancelled { condition.wait() }
        if cancelled { condition.unlock(); return }
        items.append(item)
        condition.broadcast()
        condition.unlock()
    }

    /// The next item, or nil once cancelled.
    func take() -> T? {
        condition.lock()
        while items.isEmpty && !cancelled { condition.wait() }
        if items.isEmpty { condition.unlock(); return nil }
        let item = items.removeFirst()
        condition.broadcast()
        condition.unlock()
        return item
    }

    func cancel() {
        condition.lock()
        cancelled = true
        items.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}

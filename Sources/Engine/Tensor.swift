import Foundation

/// A dense, contiguous, row-major array of `Float32` values with a shape.
///
/// `Tensor` is a value type: copies share storage until one of them is mutated
/// (copy-on-write, inherited from `Array`). Image batches are NHWC
/// (`[batch, height, width, channels]`), convolution kernels HWIO
/// (`[kh, kw, inChannels / groups, outChannels]`), dense kernels `[in, out]`,
/// the layouts Keras uses, so weight files need no transposition.
///
/// A rank-0 tensor (`shape == []`) holds one scalar.
public struct Tensor: Equatable, Sendable {
    /// The extent of each axis, outermost first.
    public internal(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.product`.
    public var scalars: [Float] {
        // Compares with the shape, not `oldValue`: reading `oldValue` would keep the old buffer
        // alive and turn every in-place write into a full copy.
        didSet { ensure(scalars.count == shape.product, "Tensor.scalars: a \(shape) tensor holds \(shape.product) values, not \(scalars.count)") }
    }

    /// Wraps `scalars` (row-major) with `shape`; the counts must agree.
    public init(shape: [Int], scalars: [Float]) {
        ensure(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
        ensure(shape.product == scalars.count,
                     "Tensor: shape \(shape) holds \(shape.product) elements but \(scalars.count) were given")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.product))
    }

    /// A rank-0 tensor holding `value`.
    public init(_ value: Float) { self.init(shape: [], scalars: [value]) }

    /// A rank-1 tensor of `values`.
    public init(_ values: [Float]) { self.init(shape: [values.count], scalars: values) }

    /// Builds a tensor by filling uninitialised storage; `body` must write every element.
    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = shape.product
        self.shape = shape
        self.scalars = [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            body(buffer)
            initialised = count
        }
    }

    public var rank: Int { shape.count }
    public var count: Int { scalars.count }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        ensure(count == 1, "Tensor.scalar: a \(shape) tensor has \(count) elements, not 1")
        return scalars[0]
    }

    /// Row-major strides, in elements.
    public var strides: [Int] { Shape.strides(shape) }

    public subscript(index: Int...) -> Float {
        get { scalars[flatIndex(index)] }
        set { scalars[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        ensure(index.count == rank, "Tensor subscript: \(index.count) indices for a rank-\(rank) tensor \(shape)")
        var flat = 0
        for (axis, i) in index.enumerated() {
            ensure(i >= 0 && i < shape[axis], "Tensor subscript: index \(i) out of range for axis \(axis) of \(shape)")
            flat = flat * shape[axis] + i
        }
        return flat
    }

    /// Read access to the contiguous storage.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    /// Write access to the contiguous storage (copies first if the storage is shared).
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer { try body($0) }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.5g", Double($0)) }.joined(separator: ", ")
        return "Tensor\(shape)[\(shown)\(count > 8 ? ", …" : "")]"
    }
}

extension Collection where Element == Int {
    /// The product of the elements (1 when empty): the element count of a shape.
    public var product: Int { reduce(1, *) }
}

/// Collects the tensors of a value being encoded (or hands them out while decoding), so
/// that JSON carries only their shapes and indices and the values travel in binary (HDF5
/// datasets in checkpoints). Set it as `userInfo[TensorArchive.key]` of the coder.
public final class TensorArchive: @unchecked Sendable {
    public static let key = CodingUserInfoKey(rawValue: "graft.tensorArchive")!
    public var tensors: [Tensor]
    public init(_ tensors: [Tensor] = []) { self.tensors = tensors }
}

extension Tensor: Codable {
    private enum CodingKeys: String, CodingKey { case shape, scalars, archived }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let shape = try c.decode([Int].self, forKey: .shape)
        if let index = try c.decodeIfPresent(Int.self, forKey: .archived) {
            guard let archive = decoder.userInfo[TensorArchive.key] as? TensorArchive, archive.tensors.indices.contains(index),
                  archive.tensors[index].shape == shape
            else {
                throw DecodingError.dataCorruptedError(forKey: .archived, in: c,
                    debugDescription: "archived tensor \(index) of shape \(shape) is missing from the archive")
            }
            self = archive.tensors[index]
            return
        }
        let scalars = try c.decode([Float].self, forKey: .scalars)
        guard shape.product == scalars.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw DecodingError.dataCorruptedError(forKey: .scalars, in: c,
                debugDescription: "tensor of shape \(shape) needs \(shape.product) values, found \(scalars.count)")
        }
        self.init(shape: shape, scalars: scalars)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(shape, forKey: .shape)
        if let archive = encoder.userInfo[TensorArchive.key] as? TensorArchive {
            try c.encode(archive.tensors.count, forKey: .archived)
            archive.tensors.append(self)
        } else {
            try c.encode(scalars, forKey: .scalars)
        }
    }
}

import Engine
import Foundation

/// An image in memory: `height x width x channels` (HWC) floats in [0, 1], one channel
/// (grey) or three (RGB). Decoders produce 8-bit values / 255, so an 8-bit image survives
/// a PNG round trip exactly.
public struct Image: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// Row-major HWC values in [0, 1].
    public var data: [Float]

    public init(width: Int, height: Int, channels: Int, data: [Float]) {
        ensure(channels == 1 || channels == 3, "Image: \(channels) channels; Graft images are grey (1) or RGB (3)")
        ensure(data.count == width * height * channels,
               "Image: \(width)x\(height)x\(channels) needs \(width * height * channels) values, got \(data.count)")
        self.width = width; self.height = height; self.channels = channels; self.data = data
    }

    /// A constant image.
    public init(width: Int, height: Int, channels: Int, fill: Float = 0) {
        self.init(width: width, height: height, channels: channels, data: [Float](repeating: fill, count: width * height * channels))
    }

    /// From 8-bit HWC values.
    public init(width: Int, height: Int, channels: Int, bytes: [UInt8]) {
        self.init(width: width, height: height, channels: channels, data: bytes.map { Float($0) / 255 })
    }

    public subscript(y: Int, x: Int, c: Int) -> Float {
        get { data[(y * width + x) * channels + c] }
        set { data[(y * width + x) * channels + c] = newValue }
    }

    /// The values as 8-bit integers (rounded, clamped).
    public var bytes: [UInt8] { data.map { UInt8((min(max($0, 0), 1) * 255).rounded()) } }

    /// The image as an NHWC tensor `[1, h, w, c]`.
    public var tensor: Tensor { Tensor(shape: [1, height, width, channels], scalars: data) }

    /// One image of an NHWC batch (values are not clamped).
    public init(_ batch: Tensor, index: Int = 0) {
        ensure(batch.rank == 4 && index < batch.shape[0], "Image(tensor): expects NHWC with an image \(index), got \(batch.shape)")
        let one = batch.slice(batch: index..<(index + 1))
        self.init(width: batch.shape[2], height: batch.shape[1], channels: batch.shape[3], data: one.scalars)
    }
}

import CPNG
import Engine
import Foundation

/// PNG encoding through libpng's simplified API.
public enum PNGEncoder {
    /// Encodes 8-bit interleaved pixels: 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels.
    public static func encode(width: Int, height: Int, channels: Int, bytes: [UInt8]) throws -> [UInt8] {
        let formats: [Int: UInt32] = [1: UInt32(PNG_FORMAT_GRAY), 2: UInt32(PNG_FORMAT_FLAG_ALPHA), 3: UInt32(PNG_FORMAT_RGB), 4: UInt32(PNG_FORMAT_RGB) | UInt32(PNG_FORMAT_FLAG_ALPHA)]
        guard let format = formats[channels], bytes.count == width * height * channels, width > 0, height > 0 else {
            throw ImageError.writeFailed(path: "<memory>", reason: "\(width)x\(height)x\(channels) with \(bytes.count) bytes is not an encodable image")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = format
        var size = 0
        guard png_image_write_to_memory(&image, nil, &size, 0, bytes, 0, nil) != 0 else {
            throw ImageError.writeFailed(path: "<memory>", reason: "libpng could not size the image")
        }
        var out = [UInt8](repeating: 0, count: size)
        guard png_image_write_to_memory(&image, &out, &size, 0, bytes, 0, nil) != 0 else {
            throw ImageError.writeFailed(path: "<memory>", reason: "libpng failed to encode")
        }
        return Array(out.prefix(size))
    }
}

extension Image {
    /// The image as PNG bytes (8-bit grey or RGB; values are rounded and clamped).
    public func pngData() throws -> [UInt8] {
        try PNGEncoder.encode(width: width, height: height, channels: channels, bytes: bytes)
    }

    /// Writes a PNG atomically (`AtomicFile`: temporary file, sync, rename).
    public func writePNG(to path: String) throws {
        try AtomicFile.write(try pngData(), to: path)
    }
}

import CPNG
import Foundation

extension Image {
    /// The image as PNG bytes (8-bit grey or RGB; values are rounded and clamped).
    public func pngData() throws -> [UInt8] {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = channels == 3 ? UInt32(PNG_FORMAT_RGB) : UInt32(PNG_FORMAT_GRAY)
        let pixels = bytes
        var size = 0
        guard png_image_write_to_memory(&image, nil, &size, 0, pixels, 0, nil) != 0 else {
            throw ImageError.writeFailed(path: "<memory>", reason: "libpng could not size the image")
        }
        var out = [UInt8](repeating: 0, count: size)
        guard png_image_write_to_memory(&image, &out, &size, 0, pixels, 0, nil) != 0 else {
            throw ImageError.writeFailed(path: "<memory>", reason: "libpng failed to encode")
        }
        return Array(out.prefix(size))
    }

    /// Writes a PNG atomically (temporary file, then rename).
    public func writePNG(to path: String) throws {
        let data = Data(try pngData())
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ImageError.writeFailed(path: path, reason: error.localizedDescription)
        }
    }
}

import CPNG
import CTurboJPEG
import Foundation

/// Decodes PNG (libpng's simplified API) and JPEG (TurboJPEG) by their content, whatever
/// the file's extension.
///
/// - PNG: every colour type and bit depth (palette, grey, grey+alpha, RGB, RGBA, 1-16 bits,
///   interlaced) is delivered as 8-bit grey or RGB (16-bit samples are taken as sRGB-encoded
///   and rounded to 8 bits; an all-grey palette stays grey). Alpha is composited onto
///   `background` (default white, as a browser shows it) on the 8-bit values,
///   `round(a·c + (1 - a)·bg)`, as Pillow's `alpha_composite` does.
/// - JPEG: grey stays grey, anything else becomes RGB (accurate DCT, fancy upsampling: the
///   same settings as Pillow); the EXIF orientation tag is applied.
/// - Images over `maxPixels` (default 50 megapixels) are refused from their header, before
///   any pixel memory is allocated.
public struct ImageDecoder: Sendable {
    public var maxPixels: Int
    /// The RGB colour (0-255) transparent pixels are composited onto.
    public var background: (red: UInt8, green: UInt8, blue: UInt8)

    public init(maxPixels: Int = 50_000_000, background: (red: UInt8, green: UInt8, blue: UInt8) = (255, 255, 255)) {
        self.maxPixels = maxPixels
        self.background = background
    }

    public enum Format: String, Sendable { case png, jpeg }

    /// The format of `bytes` from their signature, or nil.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }

    public func decode(contentsOf path: String) throws -> Image {
        guard FileManager.default.fileExists(atPath: path) else { throw ImageError.missing(path: path) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImageError.unreadable(path: path, reason: "the file cannot be read (permission denied?)")
        }
        return try decode([UInt8](data), path: path)
    }

    /// Decodes in-memory file contents; `path` is only used in messages.
    public func decode(_ bytes: [UInt8], path: String = "<memory>") throws -> Image {
        guard !bytes.isEmpty else { throw ImageError.empty(path: path) }
        switch ImageDecoder.format(of: bytes) {
        case .png?: return try bytes.withUnsafeBytes { try decodePNG($0, path: path) }
        case .jpeg?: return try decodeJPEG(bytes, path: path)
        case nil: throw ImageError.unknownFormat(path: path)
        }
    }

    private func checkSize(_ width: Int, _ height: Int, path: String) throws {
        guard width > 0, height > 0 else { throw ImageError.unreadable(path: path, reason: "the header says \(width)x\(height)") }
        guard width * height <= maxPixels else { throw ImageError.tooLarge(path: path, width: width, height: height, limit: maxPixels) }
    }

    /// `bytes` stay valid for the whole call: libpng keeps the pointer between begin and finish.
    private func decodePNG(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Image {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else {
            throw ImageError.unreadable(path: path, reason: pngMessage(image))
        }
        try checkSize(Int(image.width), Int(image.height), path: path)
        // 16-bit samples without a gAMA chunk are sRGB-encoded (as every other reader assumes),
        // not linear; this flag must be set after begin_read.
        image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
        let source = image.format
        let color = source & UInt32(PNG_FORMAT_FLAG_COLOR) != 0, alpha = source & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
        // Read with alpha and composite here on the 8-bit values (libpng blends in linear light).
        image.format = (color ? UInt32(PNG_FORMAT_RGB) : UInt32(PNG_FORMAT_GRAY)) | (alpha ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0)
        let stored = (color ? 3 : 1) + (alpha ? 1 : 0)
        var pixels = [UInt8](repeating: 0, count: Int(image.width) * Int(image.height) * stored)
        guard png_image_finish_read(&image, nil, &pixels, 0, nil) != 0 else {
            throw ImageError.unreadable(path: path, reason: pngMessage(image))
        }
        let (w, h) = (Int(image.width), Int(image.height))
        var channels = color ? 3 : 1
        if alpha { pixels = composite(pixels, channels: channels) }
        // libpng reports every palette as colour; an all-grey palette image stays grey.
        let paletted = source & UInt32(PNG_FORMAT_FLAG_COLORMAP) != 0
        if color && paletted && isGrey(pixels) {
            pixels = stride(from: 0, to: pixels.count, by: 3).map { pixels[$0] }
            channels = 1
        }
        return Image(width: w, height: h, channels: channels, bytes: pixels)
    }

    /// Whether every RGB triple has R = G = B.
    private func isGrey(_ rgb: [UInt8]) -> Bool {
        var i = 0
        while i + 2 < rgb.count {
            if rgb[i] != rgb[i + 1] || rgb[i] != rgb[i + 2] { return false }
            i += 3
        }
        return true
    }

    /// Blends interleaved colour+alpha bytes over `background`:
    /// `round(a·c + (1 - a)·bg)` with `a = alpha / 255`, in integers.
    private func composite(_ pixels: [UInt8], channels: Int) -> [UInt8] {
        let bg = channels == 3 ? [Int(background.red), Int(background.green), Int(background.blue)] : [Int(background.green)]
        let count = pixels.count / (channels + 1)
        var out = [UInt8](repeating: 0, count: count * channels)
        for p in 0..<count {
            let a = Int(pixels[p * (channels + 1) + channels])
            for c in 0..<channels {
                let value = Int(pixels[p * (channels + 1) + c])
                out[p * channels + c] = UInt8((2 * (a * value + (255 - a) * bg[c]) + 255) / 510)
            }
        }
        return out
    }

    private func pngMessage(_ image: png_image) -> String {
        var message = image.message
        return withUnsafeBytes(of: &message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private func decodeJPEG(_ bytes: [UInt8], path: String) throws -> Image {
        guard let handle = tjInitDecompress() else { throw ImageError.unreadable(path: path, reason: "TurboJPEG failed to start") }
        defer { tjDestroy(handle) }
        var bytes = bytes
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, &bytes, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0 else {
            throw ImageError.unreadable(path: path, reason: String(cString: tjGetErrorStr2(handle)))
        }
        try checkSize(Int(width), Int(height), path: path)
        let grey = colorspace == Int32(TJCS_GRAY.rawValue)
        let channels = grey ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        let status = tjDecompress2(handle, &bytes, UInt(bytes.count), &pixels, width, 0, height,
                                   Int32(grey ? TJPF_GRAY.rawValue : TJPF_RGB.rawValue), TJFLAG_ACCURATEDCT)
        // A warning (e.g. premature end of data) still fills what it can; a truncated file is an error for us.
        guard status == 0 else { throw ImageError.unreadable(path: path, reason: String(cString: tjGetErrorStr2(handle))) }
        let image = Image(width: Int(width), height: Int(height), channels: channels, bytes: pixels)
        return image.oriented(EXIF.orientation(in: bytes))
    }
}

/// The EXIF orientation tag (0x0112) of a JPEG's APP1 segment, 1 when absent.
enum EXIF {
    /// Any oddity (a short segment, a length past the end) means "no orientation", never a crash.
    static func orientation(in jpeg: [UInt8]) -> Int {
        var i = 2
        while i + 4 <= jpeg.count, jpeg[i] == 0xFF {
            if jpeg[i + 1] == 0xFF { i += 1; continue }  // fill byte
            let marker = jpeg[i + 1]
            let length = Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3])
            if marker == 0xDA || length < 2 { break }  // start of scan: no more metadata
            let end = i + 2 + length
            guard end <= jpeg.count else { break }
            if marker == 0xE1, length >= 8, Array(jpeg[(i + 4)..<(i + 10)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return tiffOrientation(Array(jpeg[(i + 10)..<end])) ?? 1
            }
            i = end
        }
        return 1
    }

    private static func tiffOrientation(_ tiff: [UInt8]) -> Int? {
        guard tiff.count >= 8 else { return nil }
        let little = tiff[0] == 0x49
        func u16(_ o: Int) -> Int? {
            guard o + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[o]) | Int(tiff[o + 1]) << 8 : Int(tiff[o]) << 8 | Int(tiff[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let b = u16(o + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard let ifd = u32(4), ifd >= 0, ifd < tiff.count, let count = u16(ifd) else { return nil }
        for e in 0..<count {
            let entry = ifd + 2 + e * 12
            if u16(entry) == 0x0112, let value = u16(entry + 8), (1...8).contains(value) { return value }
        }
        return nil
    }
}

import CPNG
import CTurboJPEG
import Engine
import Foundation

/// Decodes PNG (libpng's full API) and JPEG (TurboJPEG) by their content, whatever the
/// file's extension, to the pixels Pillow gives (`Image.open(f).convert("RGB" or "L")`), so a
/// model trained with Keras or torchvision sees the same input here.
///
/// - PNG: every colour type and bit depth (palette, grey, grey+alpha, RGB, RGBA, 1-16 bits,
///   interlaced) is delivered as 8-bit grey or RGB: 16-bit samples reduced to their high byte
///   (as Pillow does), sub-byte grey scaled (`v·255 / (2^bits − 1)`), palettes looked up (an
///   all-grey palette stays grey), gamma ignored (gAMA, sRGB and iCCP chunks: Pillow ignores
///   them too). Alpha (and tRNS) is composited onto `background` (default white, as a
///   browser shows it; Pillow's `convert` would drop it) on the 8-bit values,
///   `round(a·c + (1 − a)·bg)`, as Pillow's `alpha_composite` does.
/// - JPEG: grey stays grey, anything else becomes RGB (accurate DCT, fancy upsampling: the
///   same settings as Pillow), CMYK and YCCK converted as Pillow does (Adobe-inverted
///   files included); the EXIF orientation tag is applied.
/// - Decoding to a size (`decode(contentsOf:fitting:)`) never holds the full image: PNG rows
///   are streamed into an area-averaging resampler (memory: one row plus the output), JPEG
///   is decoded by TurboJPEG at the smallest 1/8-step scale at least as large as the target.
/// - Limits: headers beyond `hardPixelLimit` (2^31 pixels) are refused before any
///   allocation, whatever the settings; images that must be decoded at full size
///   (interlaced PNGs, a full-size decode, a JPEG's scaled decode) are refused over
///   `maxPixels` (default 50 megapixels, `--max-pixels`).
public struct ImageDecoder: Sendable {
    public var maxPixels: Int
    /// The RGB colour (0-255) transparent pixels are composited onto.
    public var background: (red: UInt8, green: UInt8, blue: UInt8)

    /// The default limit on fully decoded images: 50 megapixels.
    public static let defaultMaxPixels = 50_000_000
    /// Headers claiming more pixels than this are refused whatever `maxPixels` says.
    public static let hardPixelLimit = 1 << 31

    public init(maxPixels: Int = ImageDecoder.defaultMaxPixels, background: (red: UInt8, green: UInt8, blue: UInt8) = (255, 255, 255)) {
        self.maxPixels = maxPixels
        self.background = background
    }

    public enum Format: String, Sendable { case png, jpeg }

    /// The format of `bytes` from their signature, or nil.
    public static func format(of bytes: [UInt8]) -> Format? {
        bytes.withUnsafeBytes { format(of: $0) }
    }

    static func format(of bytes: UnsafeRawBufferPointer) -> Format? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }

    /// Decodes the file at `path`; with `size`, straight to `size.width x size.height`
    /// (the same pixels as decoding and then `resized(width:height:)`, within rounding).
    public func decode(contentsOf path: String, fitting size: (width: Int, height: Int)? = nil) throws -> Image {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw ImageError.missing(path: path) }
        guard !isFolder.boolValue else { throw ImageError.unreadable(path: path, reason: "it is a folder, not an image file") }
        // Mapped, not read: a large file's pages are only touched as the decoder streams through them.
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw ImageError.unreadable(path: path, reason: "the file cannot be read (permission denied?)")
        }
        return try data.withUnsafeBytes { try decode($0, path: path, fitting: size) }
    }

    /// Decodes in-memory file contents; `path` is only used in messages.
    public func decode(_ bytes: [UInt8], path: String = "<memory>", fitting size: (width: Int, height: Int)? = nil) throws -> Image {
        try bytes.withUnsafeBytes { try decode($0, path: path, fitting: size) }
    }

    func decode(_ bytes: UnsafeRawBufferPointer, path: String, fitting size: (width: Int, height: Int)?) throws -> Image {
        guard !bytes.isEmpty else { throw ImageError.empty(path: path) }
        if let size { ensure(size.width > 0 && size.height > 0, "ImageDecoder: target size \(size) must be positive") }
        switch ImageDecoder.format(of: bytes) {
        case .png?: return try decodePNG(bytes, path: path, fitting: size)
        case .jpeg?: return try decodeJPEG(bytes, path: path, fitting: size)
        case nil: throw ImageError.unknownFormat(path: path)
        }
    }

    /// Refuses headers beyond the hard bound, and full decodes beyond `maxPixels`.
    private func checkSize(_ width: Int, _ height: Int, path: String, fullDecode: Bool) throws {
        guard width > 0, height > 0 else { throw ImageError.unreadable(path: path, reason: "the header says \(width)x\(height)") }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= ImageDecoder.hardPixelLimit else {
            throw ImageError.tooLarge(path: path, width: width, height: height, limit: ImageDecoder.hardPixelLimit)
        }
        if fullDecode && pixels > maxPixels {
            throw ImageError.tooLarge(path: path, width: width, height: height, limit: maxPixels)
        }
    }

    // MARK: PNG

    private func decodePNG(_ bytes: UnsafeRawBufferPointer, path: String, fitting size: (width: Int, height: Int)?) throws -> Image {
        // The IHDR chunk comes first (bytes 16..<24: width, height): refuse a bomb before libpng
        // reads anything else.
        if bytes.count >= 24, Array(bytes[12..<16]) == Array("IHDR".utf8) {
            let side = { (o: Int) in bytes[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
            try checkSize(side(16), side(20), path: path, fullDecode: false)
        }
        let reader = try PNGReader(bytes, path: path)
        let (w, h) = (reader.width, reader.height)
        let streamed = size != nil && !reader.interlaced
        try checkSize(w, h, path: path, fullDecode: !streamed)
        let channels = reader.outputChannels == 1 && !isGreyBackground && reader.hasAlpha && reader.samples >= 3 ? 3 : reader.outputChannels
        let converter = PNGRowConverter(samples: reader.samples, channels: channels, background: background)
        if let size, streamed {
            var resampler = RowResampler(source: (w, h), target: size, channels: channels)
            var raw = [UInt8](repeating: 0, count: reader.rowBytes)
            var values = [Float](repeating: 0, count: w * channels)
            for _ in 0..<h {
                try raw.withUnsafeMutableBufferPointer { try reader.readRow(into: $0.baseAddress!) }
                raw.withUnsafeBufferPointer { r in values.withUnsafeMutableBufferPointer { converter.convert(r.baseAddress!, width: w, into: $0.baseAddress!) } }
                values.withUnsafeBufferPointer { resampler.add($0) }
            }
            return resampler.image
        }
        let raw = try reader.readImage()
        var data = [Float](repeating: 0, count: w * h * channels)
        raw.withUnsafeBufferPointer { r in
            data.withUnsafeMutableBufferPointer { d in
                for y in 0..<h {
                    converter.convert(r.baseAddress! + y * reader.rowBytes, width: w, into: d.baseAddress! + y * w * channels)
                }
            }
        }
        let image = Image(width: w, height: h, channels: channels, data: data)
        return size.map { image.resized(width: $0.width, height: $0.height) } ?? image
    }

    private var isGreyBackground: Bool { background.red == background.green && background.red == background.blue }

    // MARK: JPEG

    private func decodeJPEG(_ bytes: UnsafeRawBufferPointer, path: String, fitting size: (width: Int, height: Int)?) throws -> Image {
        guard let handle = tjInitDecompress() else { throw ImageError.unreadable(path: path, reason: "TurboJPEG failed to start") }
        defer { tjDestroy(handle) }
        let source = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, source, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0 else {
            throw ImageError.unreadable(path: path, reason: String(cString: tjGetErrorStr2(handle)))
        }
        try checkSize(Int(width), Int(height), path: path, fullDecode: false)
        let orientation = EXIF.orientation(in: bytes)
        // The stored image is transposed relative to the displayed one for orientations 5-8.
        let stored = size.map { orientation >= 5 ? (width: $0.height, height: $0.width) : $0 }
        let scale = stored.map { JPEGScale.smallest(atLeast: $0, width: Int(width), height: Int(height)) }
            ?? tjscalingfactor(num: 1, denom: 1)
        let (sw, sh) = (JPEGScale.scaled(Int(width), scale), JPEGScale.scaled(Int(height), scale))
        try checkSize(sw, sh, path: path, fullDecode: true)
        let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let grey = colorspace == Int32(TJCS_GRAY.rawValue)
        let format = grey ? TJPF_GRAY : (cmyk ? TJPF_CMYK : TJPF_RGB)
        var pixels = [UInt8](repeating: 0, count: sw * sh * (grey ? 1 : (cmyk ? 4 : 3)))
        let status = tjDecompress2(handle, source, UInt(bytes.count), &pixels, Int32(sw), 0, Int32(sh),
                                   Int32(format.rawValue), TJFLAG_ACCURATEDCT)
        // A warning (e.g. premature end of data) still fills what it can; a truncated file is an error for us.
        guard status == 0 else { throw ImageError.unreadable(path: path, reason: String(cString: tjGetErrorStr2(handle))) }
        if cmyk { pixels = JPEGScale.rgb(fromCMYK: pixels, inverted: EXIF.hasAdobeMarker(in: bytes)) }
        let image = Image(width: sw, height: sh, channels: grey ? 1 : 3, bytes: pixels).oriented(orientation)
        return size.map { image.resized(width: $0.width, height: $0.height) } ?? image
    }
}

/// TurboJPEG's scaled decoding, and Pillow's CMYK conversion.
enum JPEGScale {
    /// The scaling factor (1/8 steps up to 1) with the smallest result at least `target`.
    static func smallest(atLeast target: (width: Int, height: Int), width: Int, height: Int) -> tjscalingfactor {
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count) else { return tjscalingfactor(num: 1, denom: 1) }
        let candidates = (0..<Int(count)).map { factors[$0] }.filter { $0.num <= $0.denom }
        let fitting = candidates.filter { scaled(width, $0) >= target.width && scaled(height, $0) >= target.height }
        return fitting.min { scaled(width, $0) < scaled(width, $1) } ?? tjscalingfactor(num: 1, denom: 1)
    }

    /// TJSCALED: ceil(dimension · num / denom).
    static func scaled(_ dimension: Int, _ factor: tjscalingfactor) -> Int {
        (dimension * Int(factor.num) + Int(factor.denom) - 1) / Int(factor.denom)
    }

    /// CMYK to RGB as Pillow converts a CMYK JPEG: Adobe files store inverted values
    /// (Pillow's "CMYK;I"), and `cmyk2rgb` gives `r = nk − nk·c/255` with `nk = 255 − k`.
    static func rgb(fromCMYK cmyk: [UInt8], inverted: Bool) -> [UInt8] {
        let count = cmyk.count / 4
        var rgb = [UInt8](repeating: 0, count: count * 3)
        for p in 0..<count {
            let value = { (i: Int) -> Int in inverted ? 255 - Int(cmyk[p * 4 + i]) : Int(cmyk[p * 4 + i]) }
            let nk = 255 - value(3)
            for c in 0..<3 {
                let t = value(c) * nk + 128
                rgb[p * 3 + c] = UInt8(clamping: nk - (((t >> 8) + t) >> 8))
            }
        }
        return rgb
    }
}

/// Turns a row of libpng's 8-bit samples into the image's float values: alpha composited on
/// the 8-bit values, `round(a·c + (1 − a)·bg)` in integers, all-grey palettes kept grey.
struct PNGRowConverter {
    let samples: Int
    let channels: Int
    let background: (red: UInt8, green: UInt8, blue: UInt8)

    func convert(_ row: UnsafePointer<UInt8>, width: Int, into out: UnsafeMutablePointer<Float>) {
        let alpha = samples == 2 || samples == 4
        let colours = alpha ? samples - 1 : samples
        let bg = channels == 3 ? [Int(background.red), Int(background.green), Int(background.blue)] : [Int(background.green)]
        for x in 0..<width {
            let pixel = row + x * samples
            let a = alpha ? Int(pixel[colours]) : 255
            for c in 0..<channels {
                let value = Int(pixel[min(c, colours - 1)])
                let composited = alpha ? (2 * (a * value + (255 - a) * bg[c]) + 255) / 510 : value
                out[x * channels + c] = Float(composited) / 255
            }
        }
    }
}

/// The EXIF orientation tag (0x0112) of a JPEG's APP1 segment, 1 when absent.
enum EXIF {
    /// Calls `body(marker, payload range)` for each segment before the scan, until it returns
    /// false. Any oddity (a short segment, a length past the end) ends the walk, never a crash.
    private static func segments(_ jpeg: UnsafeRawBufferPointer, _ body: (UInt8, Range<Int>) -> Bool) {
        var i = 2
        while i + 4 <= jpeg.count, jpeg[i] == 0xFF {
            if jpeg[i + 1] == 0xFF {  // fill byte
                i += 1
                continue
            }
            let marker = jpeg[i + 1]
            let length = Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3])
            if marker == 0xDA || length < 2 { break }  // start of scan: no more metadata
            let end = i + 2 + length
            guard end <= jpeg.count, body(marker, (i + 4)..<end) else { break }
            i = end
        }
    }

    /// The EXIF orientation (1-8), 1 when absent.
    static func orientation(in jpeg: UnsafeRawBufferPointer) -> Int {
        var result = 1
        segments(jpeg) { marker, payload in
            guard marker == 0xE1, payload.count >= 6, Array(jpeg[payload.prefix(6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] else {
                return true
            }
            result = tiffOrientation(Array(jpeg[payload.dropFirst(6)])) ?? 1
            return false
        }
        return result
    }

    /// Whether the file has an Adobe APP14 segment (Photoshop writes CMYK inverted there).
    static func hasAdobeMarker(in jpeg: UnsafeRawBufferPointer) -> Bool {
        var found = false
        segments(jpeg) { marker, payload in
            found = marker == 0xEE && payload.count >= 5 && Array(jpeg[payload.prefix(5)]) == Array("Adobe".utf8)
            return !found
        }
        return found
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

import CPNG

/// A PNG being read with libpng's full API (see `graft_png_open` in the CPNG shim for the
/// transforms): 8-bit samples, row by row for non-interlaced files, or the whole image.
/// `bytes` must stay valid while the reader lives.
final class PNGReader {
    private let state: UnsafeMutablePointer<graft_png_reader>
    let path: String

    /// Widest and tallest image libpng may accept (the PNG limit, 2^31 - 1); the pixel count
    /// is bounded separately (`ImageDecoder.hardPixelLimit`).
    static let maxSide: UInt32 = 0x7fff_ffff

    init(_ bytes: UnsafeRawBufferPointer, path: String) throws {
        self.path = path
        state = .allocate(capacity: 1)
        state.initialize(to: graft_png_reader())
        guard
            graft_png_open(
                state, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count,
                Self.maxSide, Self.maxSide) != 0
        else {
            throw ImageError.unreadable(path: path, reason: message)  // deinit frees libpng's state
        }
    }

    deinit {
        graft_png_close(state)
        state.deallocate()
    }

    var width: Int { Int(state.pointee.width) }
    var height: Int { Int(state.pointee.height) }
    var interlaced: Bool { state.pointee.interlaced != 0 }
    /// 8-bit samples per pixel as read: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
    var samples: Int { Int(state.pointee.channels) }
    var rowBytes: Int { Int(state.pointee.row_bytes) }
    var hasAlpha: Bool { samples == 2 || samples == 4 }
    /// Channels of the decoded image: grey (1) or RGB (3); a palette whose colours are all
    /// grey decodes to grey.
    var outputChannels: Int {
        let colour = samples >= 3
        return colour && !(state.pointee.color_type == PNG_COLOR_TYPE_PALETTE && state.pointee.grey_palette != 0)
            ? 3 : 1
    }

    private var message: String {
        withUnsafeBytes(of: state.pointee.message) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? "libpng failed" : text
        }
    }

    /// Reads the next row (non-interlaced files only) into `row` (`rowBytes` bytes).
    func readRow(into row: UnsafeMutablePointer<UInt8>) throws {
        guard graft_png_read_row(state, row) != 0 else { throw ImageError.unreadable(path: path, reason: message) }
    }

    /// Reads every row (any file, interlaced ones included): `height x rowBytes` bytes.
    func readImage() throws -> [UInt8] {
        var pixels = [UInt8](repeating: 0, count: height * rowBytes)
        let ok = pixels.withUnsafeMutableBufferPointer { buffer -> Bool in
            var rows = (0..<height).map { Optional(buffer.baseAddress! + $0 * rowBytes) }
            return graft_png_read_image(state, &rows) != 0
        }
        guard ok else { throw ImageError.unreadable(path: path, reason: message) }
        return pixels
    }
}

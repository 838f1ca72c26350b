import CCairo
import Engine
import Foundation
import Vision

/// A Cairo image surface to draw on: anti-aliased lines, filled shapes and DejaVu Sans text,
/// written out as PNG atomically. The charts are built on it; one concern per chart file.
public final class Canvas {
    /// The surface's width in pixels.
    public let width: Int
    /// The surface's height in pixels.
    public let height: Int
    let surface: OpaquePointer
    let cairo: OpaquePointer

    /// An RGB colour, each component in [0, 1].
    public typealias Colour = (red: Double, green: Double, blue: Double)
    /// Near-black, for text, frames and ticks.
    public static let ink: Colour = (0.13, 0.13, 0.15)
    /// Light grey, for grid lines.
    public static let grid: Colour = (0.88, 0.88, 0.9)
    /// The series colours in order (matplotlib's first six: blue, orange, green, red, purple,
    /// brown).
    public static let palette: [Colour] = [(0.12, 0.47, 0.71), (1.0, 0.5, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16),
                                           (0.58, 0.4, 0.74), (0.55, 0.34, 0.29)]

    /// A `width` x `height` pixel ARGB surface filled with `background` (white by default).
    public init(width: Int, height: Int, background: Colour = (1, 1, 1)) {
        self.width = width
        self.height = height
        surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height))
        cairo = cairo_create(surface)
        cairo_select_font_face(cairo, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        fill(rect: (0, 0, Double(width), Double(height)), background)
    }

    deinit {
        cairo_destroy(cairo)
        cairo_surface_destroy(surface)
    }

    /// Strokes a polyline through `points` (pixels, y down) in `colour`, `width` pixels wide; `dash` gives
    /// on/off lengths in pixels (empty: solid). Draws nothing without points.
    public func line(_ points: [(Double, Double)], _ colour: Colour, width lineWidth: Double = 1.5, dash: [Double] = []) {
        guard let first = points.first else { return }
        cairo_set_source_rgb(cairo, colour.red, colour.green, colour.blue)
        cairo_set_line_width(cairo, lineWidth)
        cairo_set_dash(cairo, dash, Int32(dash.count), 0)
        cairo_move_to(cairo, first.0, first.1)
        for p in points.dropFirst() { cairo_line_to(cairo, p.0, p.1) }
        cairo_stroke(cairo)
        cairo_set_dash(cairo, nil, 0, 0)
    }

    /// Fills the rectangle: `x`, `y` its top-left corner, `w`, `h` its size, in pixels.
    public func fill(rect: (x: Double, y: Double, w: Double, h: Double), _ colour: Colour) {
        cairo_set_source_rgb(cairo, colour.red, colour.green, colour.blue)
        cairo_rectangle(cairo, rect.x, rect.y, rect.w, rect.h)
        cairo_fill(cairo)
    }

    /// Outlines the rectangle with a line `width` pixels wide.
    public func stroke(rect: (x: Double, y: Double, w: Double, h: Double), _ colour: Colour, width lineWidth: Double = 1) {
        cairo_set_source_rgb(cairo, colour.red, colour.green, colour.blue)
        cairo_set_line_width(cairo, lineWidth)
        cairo_rectangle(cairo, rect.x, rect.y, rect.w, rect.h)
        cairo_stroke(cairo)
    }

    /// Fills a disc of `radius` pixels centred on (`x`, `y`).
    public func circle(_ x: Double, _ y: Double, radius: Double, _ colour: Colour) {
        cairo_set_source_rgb(cairo, colour.red, colour.green, colour.blue)
        cairo_arc(cairo, x, y, radius, 0, 2 * Double.pi)
        cairo_fill(cairo)
    }

    /// Which point of a text its `x` is: the `left` end of the text, its `centre` or its `right`
    /// end.
    public enum Anchor { case left, centre, right }

    /// Text with its baseline at `y`; `rotated` turns it a quarter counter-clockwise.
    public func text(_ string: String, x: Double, y: Double, size: Double = 12, bold: Bool = false, anchor: Anchor = .left,
                     colour: Colour = Canvas.ink, rotated: Bool = false) {
        cairo_save(cairo)
        cairo_select_font_face(cairo, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cairo, size)
        cairo_set_source_rgb(cairo, colour.red, colour.green, colour.blue)
        let w = textWidth(string, size: size, bold: bold)
        let offset = anchor == .left ? 0 : anchor == .centre ? -w / 2 : -w
        cairo_translate(cairo, x, y)
        if rotated { cairo_rotate(cairo, -Double.pi / 2) }
        cairo_move_to(cairo, offset, 0)
        cairo_show_text(cairo, string)
        cairo_restore(cairo)
    }

    /// The advance width in pixels of `string` in DejaVu Sans at `size` points, bold or regular.
    public func textWidth(_ string: String, size: Double = 12, bold: Bool = false) -> Double {
        cairo_save(cairo)
        defer { cairo_restore(cairo) }
        cairo_select_font_face(cairo, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cairo, size)
        var extents = cairo_text_extents_t()
        cairo_text_extents(cairo, string, &extents)
        return extents.x_advance
    }

    /// Draws an image (values in [0, 1], grey or RGB) scaled into `rect`.
    public func image(_ image: Image, in rect: (x: Double, y: Double, w: Double, h: Double)) {
        let rgb = image.channels == 3 ? image : image.converted(toChannels: 3)
        let stride = Int(cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, Int32(rgb.width)))
        var pixels = [UInt8](repeating: 0, count: stride * rgb.height)
        let bytes = rgb.bytes
        for y in 0..<rgb.height {
            for x in 0..<rgb.width {
                let p = (y * rgb.width + x) * 3
                let q = y * stride + x * 4  // BGRX, little-endian RGB24
                pixels[q] = bytes[p + 2]
                pixels[q + 1] = bytes[p + 1]
                pixels[q + 2] = bytes[p]
            }
        }
        pixels.withUnsafeMutableBufferPointer { buffer in
            let source = cairo_image_surface_create_for_data(buffer.baseAddress, CAIRO_FORMAT_RGB24, Int32(rgb.width), Int32(rgb.height),
                                                             Int32(stride))
            defer { cairo_surface_destroy(source) }
            cairo_save(cairo)
            cairo_translate(cairo, rect.x, rect.y)
            cairo_scale(cairo, rect.w / Double(rgb.width), rect.h / Double(rgb.height))
            cairo_set_source_surface(cairo, source, 0, 0)
            cairo_pattern_set_filter(cairo_get_source(cairo), CAIRO_FILTER_NEAREST)
            cairo_paint(cairo)
            cairo_restore(cairo)
        }
    }

    /// The drawing as PNG bytes.
    public func pngData() -> [UInt8] {
        cairo_surface_flush(surface)
        final class Sink { var bytes: [UInt8] = [] }
        let sink = Sink()
        let opaque = Unmanaged.passUnretained(sink).toOpaque()
        cairo_surface_write_to_png_stream(surface, { closure, data, length in
            let sink = Unmanaged<Sink>.fromOpaque(closure!).takeUnretainedValue()
            sink.bytes += UnsafeBufferPointer(start: data, count: Int(length))
            return CAIRO_STATUS_SUCCESS
        }, opaque)
        return sink.bytes
    }

    /// Writes the drawing to `path` as PNG, atomically.
    public func writePNG(to path: String) throws { try AtomicFile.write(pngData(), to: path) }

    /// The drawing's pixels (for tests): RGB values in [0, 1].
    public var image: Image { (try? ImageDecoder().decode(pngData())) ?? Image(width: width, height: height, channels: 3) }
}

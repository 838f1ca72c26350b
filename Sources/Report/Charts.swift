import Foundation
import Vision

/// The charts of a run: every PNG the toolkit draws for people, with axes, ticks, units,
/// legends and titles (Cairo, DejaVu Sans, anti-aliased).
public enum Charts {
    /// One named curve: a value per epoch (non-finite values are left out of the plot).
    public struct Series {
        /// The legend label.
        public var name: String
        /// The values, epoch 1 first.
        public var values: [Double]
        /// A series labelled `name` with `values`.
        public init(_ name: String, _ values: [Double]) {
            self.name = name
            self.values = values
        }
    }

    /// Curves over epochs (x: 1...n), the best epoch marked with a dashed line.
    public static func curves(title: String, yTitle: String, series: [Series], bestEpoch: Int?, percent: Bool = false,
                              width: Int = 640, height: Int = 400) -> Canvas {
        let canvas = Canvas(width: width, height: height)
        canvas.text(title, x: Double(width) / 2, y: 24, size: 15, bold: true, anchor: .centre)
        let n = max(series.map(\.values.count).max() ?? 1, 1)
        let frame = (x: 70.0, y: 44.0, w: Double(width) - 90, h: Double(height) - 100)
        let all = series.flatMap(\.values)
        let axes = Axes(canvas: canvas, frame: frame, xRange: 1...Double(max(n, 2)),
                        yRange: Axes.padded(all, floor: percent ? 0 : nil, ceiling: percent ? 1 : nil))
        axes.draw(xTitle: "epoch", yTitle: yTitle, percentY: percent, integerX: true)
        if let best = bestEpoch, best >= 1, best <= n {
            canvas.line([(axes.x(Double(best)), frame.y), (axes.x(Double(best)), frame.y + frame.h)], (0.4, 0.4, 0.4), width: 1, dash: [4, 3])
            let nearRight = axes.x(Double(best)) > frame.x + frame.w * 0.7
            canvas.text("best epoch \(best)", x: axes.x(Double(best)) + (nearRight ? -4 : 4), y: frame.y + frame.h - 8, size: 11,
                        anchor: nearRight ? .right : .left, colour: (0.35, 0.35, 0.35))
        }
        for (i, s) in series.enumerated() {
            let colour = Canvas.palette[i % Canvas.palette.count]
            let points = s.values.enumerated().filter { $0.element.isFinite }.map { (axes.x(Double($0.offset + 1)), axes.y($0.element)) }
            canvas.line(points, colour, width: 2)
            for p in points { canvas.circle(p.0, p.1, radius: 2.5, colour) }
            // Legend, top right.
            let ly = frame.y + 16 + Double(i) * 18
            let lx = frame.x + frame.w - 150
            canvas.line([(lx, ly - 4), (lx + 22, ly - 4)], colour, width: 2.5)
            canvas.text(s.name, x: lx + 28, y: ly, size: 12)
        }
        return canvas
    }

    /// The confusion matrix: class names on both axes, counts and row percentages in the
    /// cells, shaded by row percentage, with a colour scale.
    public static func confusion(_ matrix: [[Int]], classNames: [String], title: String) -> Canvas {
        let k = max(matrix.count, 1)
        let cell = max(28.0, min(64.0, 640.0 / Double(k)))
        let label = min(160.0, (classNames.map { Double($0.count) }.max() ?? 4) * 7.5 + 12)
        let width = Int(label + cell * Double(k) + 110)
        let height = Int(label + cell * Double(k) + 70)
        let canvas = Canvas(width: width, height: height)
        canvas.text(title, x: Double(width) / 2, y: 22, size: 15, bold: true, anchor: .centre)
        let x0 = label + 10, y0 = 50.0
        func shade(_ p: Double) -> Canvas.Colour { (1 - 0.85 * p, 1 - 0.6 * p, 1 - 0.25 * p) }
        for (i, row) in matrix.enumerated() {
            let total = max(row.reduce(0, +), 1)
            for (j, count) in row.enumerated() {
                let p = Double(count) / Double(total)
                let rect = (x: x0 + Double(j) * cell, y: y0 + Double(i) * cell, w: cell, h: cell)
                canvas.fill(rect: rect, shade(p))
                canvas.stroke(rect: rect, i == j ? Canvas.ink : (0.8, 0.8, 0.82), width: i == j ? 1.5 : 0.5)
                let textColour: Canvas.Colour = p > 0.55 ? (1, 1, 1) : Canvas.ink
                canvas.text("\(count)", x: rect.x + cell / 2, y: rect.y + cell / 2 + (cell > 40 ? 0 : 4), size: cell > 40 ? 13 : 10,
                            bold: true, anchor: .centre, colour: textColour)
                if cell > 40 {
                    canvas.text(String(format: "%.0f%%", p * 100), x: rect.x + cell / 2, y: rect.y + cell / 2 + 15, size: 10,
                                anchor: .centre, colour: textColour)
                }
            }
            canvas.text(clip(classNames[safe: i] ?? "\(i)"), x: x0 - 6, y: y0 + (Double(i) + 0.5) * cell + 4, size: 11, anchor: .right)
        }
        for j in 0..<k {
            canvas.text(clip(classNames[safe: j] ?? "\(j)"), x: x0 + (Double(j) + 0.5) * cell + 4, y: y0 + Double(k) * cell + 8, size: 11,
                        anchor: .right, rotated: true)
        }
        canvas.text("true class", x: 14, y: y0 + Double(k) * cell / 2, size: 12, anchor: .centre, rotated: true)
        canvas.text("predicted class", x: x0 + Double(k) * cell / 2, y: Double(height) - 8, size: 12, anchor: .centre)
        // Colour scale.
        let sx = x0 + Double(k) * cell + 24
        for s in 0..<100 {
            canvas.fill(rect: (sx, y0 + Double(99 - s) * cell * Double(k) / 100, 14, cell * Double(k) / 100 + 0.5), shade(Double(s) / 99))
        }
        canvas.stroke(rect: (sx, y0, 14, cell * Double(k)), Canvas.ink, width: 0.5)
        canvas.text("100%", x: sx + 18, y: y0 + 8, size: 10)
        canvas.text("0%", x: sx + 18, y: y0 + cell * Double(k), size: 10)
        canvas.text("of row", x: sx + 18, y: y0 + cell * Double(k) / 2, size: 10)
        return canvas
    }

    /// Bars with a label under each and the value on top (the stage probe's accuracies).
    public static func bars(title: String, labels: [String], values: [Double], yTitle: String, highlight: Int? = nil,
                            percent: Bool = true, width: Int = 640, height: Int = 400) -> Canvas {
        let canvas = Canvas(width: width, height: height)
        canvas.text(title, x: Double(width) / 2, y: 24, size: 15, bold: true, anchor: .centre)
        let frame = (x: 70.0, y: 44.0, w: Double(width) - 90, h: Double(height) - 110)
        let axes = Axes(canvas: canvas, frame: frame, xRange: 0...Double(max(values.count, 1)),
                        yRange: 0...(percent ? 1 : (values.max() ?? 1) * 1.1))
        axes.draw(xTitle: "", yTitle: yTitle, percentY: percent, xTicks: false)  // bars carry their own labels
        let slot = frame.w / Double(max(values.count, 1))
        for (i, v) in values.enumerated() {
            let colour: Canvas.Colour = i == highlight ? (0.12, 0.35, 0.6) : (0.45, 0.65, 0.85)
            let top = axes.y(v)
            canvas.fill(rect: (frame.x + Double(i) * slot + slot * 0.15, top, slot * 0.7, frame.y + frame.h - top), colour)
            canvas.text(percent ? String(format: "%.1f%%", v * 100) : String(format: "%.3g", v), x: frame.x + (Double(i) + 0.5) * slot,
                        y: top - 5, size: 11, anchor: .centre)
            canvas.text(clip(labels[safe: i] ?? ""), x: frame.x + (Double(i) + 0.5) * slot, y: frame.y + frame.h + 34, size: 11, anchor: .centre)
        }
        return canvas
    }

    /// The learning-rate finder: smoothed loss against the rate (log scale), the suggestion marked.
    public static func learningRate(rates: [Double], losses: [Double], suggestion: Double?) -> Canvas {
        let canvas = Canvas(width: 640, height: 400)
        canvas.text("Learning-rate finder", x: 320, y: 24, size: 15, bold: true, anchor: .centre)
        let frame = (x: 70.0, y: 44.0, w: 550.0, h: 300.0)
        let axes = Axes(canvas: canvas, frame: frame, xRange: (rates.first ?? 1e-7)...(rates.last ?? 10),
                        yRange: Axes.padded(losses), logX: true)
        axes.draw(xTitle: "learning rate (log scale)", yTitle: "smoothed training loss")
        canvas.line(zip(rates, losses).map { (axes.x($0), axes.y($1)) }, Canvas.palette[0], width: 2)
        if let s = suggestion, s > 0 {
            canvas.line([(axes.x(s), frame.y), (axes.x(s), frame.y + frame.h)], Canvas.palette[3], width: 1.5, dash: [4, 3])
            canvas.text(String(format: "suggested %.2g", s), x: axes.x(s) + 5, y: frame.y + 14, size: 12, colour: Canvas.palette[3])
        }
        return canvas
    }

    /// Rows of images with a caption under each row's first image and a header line.
    public static func imageGrid(header: String, rows: [(caption: String, images: [Image])], cell: Int = 96) -> Canvas {
        let columns = max(rows.map(\.images.count).max() ?? 1, 1)
        let gap = 6.0, captionHeight = 18.0
        let width = Int(Double(columns) * (Double(cell) + gap) + gap)
        let height = Int(34 + Double(rows.count) * (Double(cell) + captionHeight + gap) + gap)
        let canvas = Canvas(width: max(width, 320), height: height, background: (0.97, 0.97, 0.98))
        canvas.text(header, x: gap, y: 22, size: 13, bold: true)
        for (r, row) in rows.enumerated() {
            let y = 34 + Double(r) * (Double(cell) + captionHeight + gap)
            for (c, image) in row.images.enumerated() {
                canvas.image(image, in: (gap + Double(c) * (Double(cell) + gap), y, Double(cell), Double(cell)))
            }
            canvas.text(clip(row.caption, length: 60), x: gap, y: y + Double(cell) + 13, size: 11)
        }
        return canvas
    }

    static func clip(_ text: String, length: Int = 20) -> String {
        text.count <= length ? text : String(text.prefix(length - 1)) + "…"
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

extension Charts {
    /// The augmentation preview with a header naming the pipeline and a caption per row
    /// naming the source file (the original first, then the copies).
    public static func augmentation(_ preview: AugmentationPreview, pipeline: String, cell: Int = 96) -> Canvas {
        imageGrid(header: "augmentation: " + (pipeline.isEmpty ? "none" : pipeline) + "  (original, then \(max((preview.rows.first?.images.count ?? 1) - 1, 0)) copies)",
                  rows: preview.rows.map { (($0.name as NSString).lastPathComponent, $0.images) }, cell: cell)
    }

    /// Writes the captioned preview PNG and the records of every copy beside it (JSON).
    public static func writeAugmentation(_ preview: AugmentationPreview, pipeline: String, to path: String, cell: Int = 96) throws {
        try augmentation(preview, pipeline: pipeline, cell: cell).writePNG(to: path)
        try preview.writeRecords(besides: path)
    }
}

extension Charts {
    /// A colour for `v` in [0, 1]: dark blue, cyan, yellow, red (a "jet"-like map).
    static func heatColour(_ v: Double) -> Canvas.Colour {
        let t = min(max(v, 0), 1)
        let r = min(max(1.5 - abs(4 * t - 3), 0), 1)
        let g = min(max(1.5 - abs(4 * t - 2), 0), 1)
        let b = min(max(1.5 - abs(4 * t - 1), 0), 1)
        return (r, g, b)
    }

    /// The image, the heat map over it (half blended) and a caption: what Grad-CAM saw.
    public static func heatOverlay(image: Image, heat: Image, caption: String, scale: Int = 4) -> Canvas {
        let rgb = image.channels == 3 ? image : image.converted(toChannels: 3)
        let (w, h) = (rgb.width, rgb.height)
        let heat = heat.width == w && heat.height == h ? heat : heat.resized(width: w, height: h)
        var blended = rgb
        for y in 0..<h {
            for x in 0..<w {
                let c = heatColour(Double(heat[y, x, 0]))
                let colour = [c.red, c.green, c.blue]
                for ch in 0..<3 { blended[y, x, ch] = Float(0.5 * Double(rgb[y, x, ch]) + 0.5 * colour[ch]) }
            }
        }
        let side = Double(max(w, h) * scale)
        let captionWidth = Canvas(width: 1, height: 1).textWidth(caption, size: 13) + 20
        let canvas = Canvas(width: Int(max(2 * side + 30, captionWidth)), height: Int(side + 44))
        canvas.image(rgb, in: (10, 10, Double(w * scale), Double(h * scale)))
        canvas.image(blended, in: (20 + side, 10, Double(w * scale), Double(h * scale)))
        canvas.text(caption, x: 10, y: side + 32, size: 13)
        return canvas
    }

    /// A stage's feature maps as a grid (each channel normalised to its own range).
    public static func featureMaps(_ maps: [Image], title: String, cell: Int = 48) -> Canvas {
        let columns = Int(Double(maps.count).squareRoot().rounded(.up))
        let rows = (maps.count + columns - 1) / max(columns, 1)
        let canvas = Canvas(width: max(columns * (cell + 2) + 2, 240), height: rows * (cell + 2) + 34)
        canvas.text(title, x: 4, y: 20, size: 13, bold: true)
        for (i, map) in maps.enumerated() {
            canvas.image(map, in: (Double(2 + (i % columns) * (cell + 2)), Double(30 + (i / columns) * (cell + 2)), Double(cell), Double(cell)))
        }
        return canvas
    }
}

extension Charts {
    /// Points (x on a log scale), e.g. validation accuracy against the learning rate.
    public static func scatter(title: String, xs: [Double], ys: [Double], xTitle: String, yTitle: String) -> Canvas {
        let canvas = Canvas(width: 640, height: 400)
        canvas.text(title, x: 320, y: 24, size: 15, bold: true, anchor: .centre)
        let frame = (x: 70.0, y: 44.0, w: 550.0, h: 300.0)
        let lo = (xs.min() ?? 1e-4) / 2, hi = (xs.max() ?? 1e-2) * 2
        let axes = Axes(canvas: canvas, frame: frame, xRange: lo...hi, yRange: 0...1, logX: true)
        axes.draw(xTitle: xTitle, yTitle: yTitle, percentY: true)
        let best = ys.indices.max { ys[$0] < ys[$1] }
        for (i, (x, y)) in zip(xs, ys).enumerated() {
            canvas.circle(axes.x(x), axes.y(y), radius: i == best ? 6 : 4, i == best ? Canvas.palette[3] : Canvas.palette[0])
        }
        return canvas
    }
}

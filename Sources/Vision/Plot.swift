import Foundation

/// Minimal raster charts for run folders (no text: titles and numbers go in the summary
/// and the JSON log beside them).
public enum Plot {
    /// Line chart of several series over a shared x axis (epochs), each scaled to the joint
    /// range of all series, on a white canvas with a grey frame and grid.
    public static func lines(_ series: [(values: [Double], colour: (Float, Float, Float))], width: Int = 480, height: Int = 300) -> Image {
        var image = Image(width: width, height: height, channels: 3, fill: 1)
        let margin = 12
        let all = series.flatMap(\.values).filter(\.isFinite)
        guard let low = all.min(), let high = all.max(), let n = series.map(\.values.count).max(), n > 0 else { return image }
        let span = high - low == 0 ? 1 : high - low
        func point(_ i: Int, _ v: Double) -> (Int, Int) {
            let x = margin + (n == 1 ? 0 : i * (width - 2 * margin - 1) / (n - 1))
            let y = height - margin - 1 - Int((v - low) / span * Double(height - 2 * margin - 1))
            return (x, y)
        }
        for k in 0...4 {  // grid
            let y = margin + k * (height - 2 * margin - 1) / 4
            for x in margin..<(width - margin) { image.plot(x, y, (0.9, 0.9, 0.9)) }
        }
        for x in margin..<(width - margin) { image.plot(x, height - margin - 1, (0.5, 0.5, 0.5)); image.plot(x, margin, (0.5, 0.5, 0.5)) }
        for y in margin..<(height - margin) { image.plot(margin, y, (0.5, 0.5, 0.5)); image.plot(width - margin - 1, y, (0.5, 0.5, 0.5)) }
        for s in series {
            for i in 1..<max(s.values.count, 1) where s.values[i - 1].isFinite && s.values[i].isFinite {
                let (x0, y0) = point(i - 1, s.values[i - 1]), (x1, y1) = point(i, s.values[i])
                image.line(x0, y0, x1, y1, s.colour)
            }
            for (i, v) in s.values.enumerated() where v.isFinite {
                let (x, y) = point(i, v)
                for dy in -2...2 { for dx in -2...2 { image.plot(x + dx, y + dy, s.colour) } }
            }
        }
        return image
    }

    /// Bars of `values` in [0, 1] (e.g. accuracies), left to right, the highest darker.
    public static func bars(_ values: [Double], width: Int = 480, height: Int = 300) -> Image {
        var image = Image(width: width, height: height, channels: 3, fill: 1)
        let margin = 12
        guard !values.isEmpty else { return image }
        let best = values.max() ?? 1
        let slot = (width - 2 * margin) / values.count
        for (i, v) in values.enumerated() where v.isFinite {
            let top = height - margin - Int(min(max(v, 0), 1) * Double(height - 2 * margin))
            let colour: (Float, Float, Float) = v == best ? (0.12, 0.35, 0.6) : (0.45, 0.65, 0.85)
            for x in (margin + i * slot + slot / 6)..<(margin + (i + 1) * slot - slot / 6) {
                for y in top..<(height - margin) { image.plot(x, y, colour) }
            }
        }
        for x in margin..<(width - margin) { image.plot(x, height - margin, (0.3, 0.3, 0.3)) }
        return image
    }

    /// A confusion matrix as a heat map: one square per (true, predicted) cell, darker blue
    /// for more images, each row normalised by its class count; the diagonal is framed.
    public static func confusion(_ matrix: [[Int]], cell preferred: Int = 40) -> Image {
        let k = matrix.count
        let cell = max(3, min(preferred, 2048 / max(k, 1)))  // at most about 2048 pixels a side
        var image = Image(width: k * cell + 2, height: k * cell + 2, channels: 3, fill: 1)
        for (row, counts) in matrix.enumerated() {
            let total = max(counts.reduce(0, +), 1)
            for (column, count) in counts.enumerated() {
                let t = Float(count) / Float(total)
                for y in 0..<(cell - 2) {
                    for x in 0..<(cell - 2) {
                        image.plot(1 + column * cell + x + 1, 1 + row * cell + y + 1, (1 - 0.9 * t, 1 - 0.7 * t, 1 - 0.2 * t))
                    }
                }
                if row == column {
                    for i in 0..<cell {
                        image.plot(1 + column * cell + i, 1 + row * cell, (0, 0, 0)); image.plot(1 + column * cell + i, row * cell + cell, (0, 0, 0))
                        image.plot(1 + column * cell, 1 + row * cell + i, (0, 0, 0)); image.plot(column * cell + cell, 1 + row * cell + i, (0, 0, 0))
                    }
                }
            }
        }
        return image
    }
}

extension Image {
    /// Sets an RGB pixel if it is inside the image.
    mutating func plot(_ x: Int, _ y: Int, _ colour: (Float, Float, Float)) {
        guard x >= 0, y >= 0, x < width, y < height, channels == 3 else { return }
        self[y, x, 0] = colour.0; self[y, x, 1] = colour.1; self[y, x, 2] = colour.2
    }

    /// A straight line (Bresenham), two pixels thick.
    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ colour: (Float, Float, Float)) {
        var (x, y) = (x0, y0)
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var error = dx + dy
        while true {
            plot(x, y, colour); plot(x, y + 1, colour)
            if x == x1 && y == y1 { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }
}

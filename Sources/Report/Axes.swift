import Foundation

/// A plot area inside a canvas with linear (or log10) scales and "nice" tick values
/// (1, 2, 5 × 10^k steps), drawn with grid lines, tick labels and axis titles.
struct Axes {
    let canvas: Canvas
    let frame: (x: Double, y: Double, w: Double, h: Double)
    let xRange: ClosedRange<Double>
    let yRange: ClosedRange<Double>
    var logX = false

    func x(_ value: Double) -> Double {
        let v = logX ? log10(value) : value
        let lo = logX ? log10(xRange.lowerBound) : xRange.lowerBound
        let hi = logX ? log10(xRange.upperBound) : xRange.upperBound
        return frame.x + (v - lo) / max(hi - lo, 1e-12) * frame.w
    }

    func y(_ value: Double) -> Double {
        frame.y + frame.h - (value - yRange.lowerBound) / max(yRange.upperBound - yRange.lowerBound, 1e-12) * frame.h
    }

    /// About `count` round values covering `range`.
    static func ticks(_ range: ClosedRange<Double>, count: Int = 5) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span > 0, span.isFinite else { return [range.lowerBound] }
        let raw = span / Double(count)
        let exponent = floor(log10(raw))
        let magnitude = pow(10, exponent)
        let mantissa = [1.0, 2, 5, 10].first { $0 * magnitude >= raw } ?? 10
        let step = mantissa * magnitude
        // Each tick is k · mantissa scaled by a power of ten in one rounding (dividing by 10^n
        // for small steps), never a running sum, which drifts: 1 + 5 · 0.2 ≠ 2.
        func tick(_ k: Double) -> Double { exponent < 0 ? k * mantissa / pow(10, -exponent) : k * mantissa * magnitude }
        var values: [Double] = []
        var k = ceil(range.lowerBound / step - 1e-9)
        while tick(k) <= range.upperBound + step * 1e-9 {
            values.append(abs(k) < 0.5 ? 0 : tick(k))
            k += 1
        }
        return values
    }

    /// Widens a data range a little and to round ends, so curves do not touch the frame.
    static func padded(_ values: [Double], floor lowest: Double? = nil, ceiling highest: Double? = nil) -> ClosedRange<
        Double
    > {
        let finite = values.filter(\.isFinite)
        var lo = finite.min() ?? 0
        var hi = finite.max() ?? 1
        if hi - lo < 1e-9 {
            lo -= 0.5
            hi += 0.5
        }
        let pad = (hi - lo) * 0.05
        lo = max(lo - pad, lowest ?? -.infinity)
        hi = min(hi + pad, highest ?? .infinity)
        return lo...hi
    }

    func format(_ v: Double, percent: Bool) -> String {
        if percent { return String(format: "%.0f%%", v * 100) }
        if abs(v) >= 1000 || (abs(v) < 0.01 && v != 0) { return String(format: "%.0e", v) }
        return String(format: abs(v) < 1 ? "%.2f" : "%.1f", v)
    }

    /// Grid, frame, ticks with labels, axis titles.
    func draw(xTitle: String, yTitle: String, percentY: Bool = false, integerX: Bool = false, xTicks showsXTicks: Bool = true) {
        let yTicks = Axes.ticks(yRange)
        for t in yTicks {
            canvas.line([(frame.x, y(t)), (frame.x + frame.w, y(t))], Canvas.grid, width: 1)
            canvas.text(format(t, percent: percentY), x: frame.x - 6, y: y(t) + 4, size: 11, anchor: .right)
        }
        let xTicks: [Double]
        if logX {
            xTicks = stride(from: ceil(log10(xRange.lowerBound)), through: floor(log10(xRange.upperBound)), by: 1).map {
                pow(10, $0)
            }
        } else {
            xTicks = Axes.ticks(xRange, count: 6).filter { !integerX || abs($0 - $0.rounded()) < 1e-6 }
        }
        for t in xTicks where showsXTicks {
            canvas.line([(x(t), frame.y + frame.h), (x(t), frame.y + frame.h + 4)], Canvas.ink, width: 1)
            let label =
                logX
                ? String(format: "1e%.0f", log10(t)) : integerX ? String(format: "%.0f", t) : format(t, percent: false)
            canvas.text(label, x: x(t), y: frame.y + frame.h + 17, size: 11, anchor: .centre)
        }
        canvas.stroke(rect: frame, Canvas.ink, width: 1)
        canvas.text(xTitle, x: frame.x + frame.w / 2, y: frame.y + frame.h + 36, size: 12, anchor: .centre)
        canvas.text(yTitle, x: frame.x - 48, y: frame.y + frame.h / 2, size: 12, anchor: .centre, rotated: true)
    }
}

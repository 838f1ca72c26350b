/// The filter of one axis of `Image.resized`: for each output index, the input indices and
/// weights it sums, in increasing input order. Shrinking averages areas (the output pixel
/// covers `[x·scale, (x+1)·scale)` of the input: no aliasing); enlarging is bilinear with
/// pixel centres aligned (as Pillow and OpenCV).
struct ResampleTaps {
    let taps: [[(index: Int, weight: Float)]]

    init(from size: Int, to newSize: Int) {
        let scale = Double(size) / Double(newSize)
        taps = (0..<newSize).map { x in scale > 1 ? Self.area(x, scale, size) : Self.bilinear(x, scale, size) }
    }

    private static func area(_ x: Int, _ scale: Double, _ size: Int) -> [(index: Int, weight: Float)] {
        let start = Double(x) * scale
        let end = start + scale
        var weights: [(index: Int, weight: Float)] = []
        var s = Int(start.rounded(.down))
        while Double(s) < end && s < size {
            let overlap = min(end, Double(s + 1)) - max(start, Double(s))
            if overlap > 0 { weights.append((s, Float(overlap / scale))) }
            s += 1
        }
        return weights
    }

    private static func bilinear(_ x: Int, _ scale: Double, _ size: Int) -> [(index: Int, weight: Float)] {
        let source = (Double(x) + 0.5) * scale - 0.5
        let clamped = min(max(source, 0), Double(size - 1))
        let left = Int(clamped.rounded(.down))
        let right = min(left + 1, size - 1)
        let t = Float(clamped - Double(left))
        return [(left, 1 - t), (right, t)]
    }

    /// The same filter seen from the input: for each input index, the (output index, weight)
    /// pairs it contributes to, in the order `taps` applies them (for streaming rows).
    var contributions: [[(output: Int, weight: Float)]] {
        let inputs = (taps.flatMap { $0.map(\.index) }.max() ?? -1) + 1
        var result = [[(output: Int, weight: Float)]](repeating: [], count: inputs)
        for (output, list) in taps.enumerated() {
            for tap in list { result[tap.index].append((output, tap.weight)) }
        }
        return result
    }
}

/// `Image.resized` fed one input row at a time: memory is one row plus the output, whatever
/// the input's height. Rows are filtered horizontally as they arrive and added to the output
/// rows they contribute to, in the same order as the whole-image resize, so the result is
/// bit-identical to decoding the whole image and resizing it.
struct RowResampler {
    let width: Int
    let height: Int
    let channels: Int
    private let horizontal: ResampleTaps
    private let vertical: [[(output: Int, weight: Float)]]
    private var output: [Float]
    private var row = 0
    private var filtered: [Float]

    init(source: (width: Int, height: Int), target: (width: Int, height: Int), channels: Int) {
        width = target.width
        height = target.height
        self.channels = channels
        horizontal = ResampleTaps(from: source.width, to: target.width)
        vertical = ResampleTaps(from: source.height, to: target.height).contributions
        output = [Float](repeating: 0, count: target.width * target.height * channels)
        filtered = [Float](repeating: 0, count: target.width * channels)
    }

    /// Adds the next input row: HWC samples of one row, `source width x channels` values.
    mutating func add(_ values: UnsafeBufferPointer<Float>) {
        defer { row += 1 }
        guard row < vertical.count, !vertical[row].isEmpty else { return }
        let channels = channels
        filtered.withUnsafeMutableBufferPointer { filtered in
            for x in 0..<width {
                for c in 0..<channels {
                    filtered[x * channels + c] = horizontal.taps[x].reduce(0) {
                        $0 + $1.weight * values[$1.index * channels + c]
                    }
                }
            }
        }
        let count = width * channels
        output.withUnsafeMutableBufferPointer { output in
            filtered.withUnsafeBufferPointer { filtered in
                for (y, weight) in vertical[row] {
                    let base = y * count
                    for i in 0..<count { output[base + i] += weight * filtered[i] }
                }
            }
        }
    }

    var image: Image { Image(width: width, height: height, channels: channels, data: output) }
}

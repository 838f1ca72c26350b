import Engine
import Foundation

/// A picture of what a pipeline does: one row per source image, the original first and
/// `versions` augmented copies after it, plus the parameters every copy used (JSON), so a
/// surprising copy can be replayed.
public struct AugmentationPreview {
    public struct Record: Codable, Equatable, Sendable {
        public var source: String
        public var version: Int
        public var seed: UInt64
        public var steps: [AugmentationStep]
    }

    public let grid: Image
    public let records: [Record]
    /// Each source's name with its original and augmented copies, for captioned drawings.
    public let rows: [(name: String, images: [Image])]

    /// Renders the grid; each cell is `cellSize` pixels square, with a 2-pixel white gutter.
    /// Copy `v` of image `i` uses a generator seeded from `(seed, i, v)`.
    public init(images: [(name: String, image: Image)], augmentation: Augmentation, versions: Int, seed: UInt64, cellSize: Int = 96) {
        let gutter = 2, columns = versions + 1
        let width = columns * cellSize + (columns + 1) * gutter, height = images.count * cellSize + (images.count + 1) * gutter
        var grid = Image(width: width, height: height, channels: 3, fill: 1)
        var records: [Record] = []
        var rows: [(name: String, images: [Image])] = []
        func paste(_ image: Image, row: Int, column: Int) {
            let cell = image.resized(width: cellSize, height: cellSize).rgb().clamped()
            let (x0, y0) = (gutter + column * (cellSize + gutter), gutter + row * (cellSize + gutter))
            for y in 0..<cellSize { for x in 0..<cellSize { for c in 0..<3 { grid[y0 + y, x0 + x, c] = cell[y, x, c] } } }
        }
        for (row, source) in images.enumerated() {
            paste(source.image, row: row, column: 0)
            rows.append((source.name, [source.image]))
            for v in 0..<versions {
                let copySeed = BatchLoader.mix(seed, UInt64(row), UInt64(v))
                var rng = RandomGenerator(seed: copySeed)
                let (augmented, steps) = augmentation.apply(source.image, using: &rng)
                paste(augmented, row: row, column: v + 1)
                rows[row].images.append(augmented.clamped())
                records.append(Record(source: source.name, version: v + 1, seed: copySeed, steps: steps))
            }
        }
        self.grid = grid
        self.records = records
        self.rows = rows
    }

    /// Writes the records beside `path` (`.json` instead of `.png`), atomically.
    public func writeRecords(besides path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = (path as NSString).deletingPathExtension + ".json"
        try AtomicFile.write(try encoder.encode(records), to: json)
    }

    /// Writes the bare grid at `path` and the records beside it, atomically (`Report` draws
    /// the captioned version).
    public func write(to path: String) throws {
        try grid.writePNG(to: path)
        try writeRecords(besides: path)
    }
}

import CGraftZlib
import Engine
import Foundation

/// Errors reading dataset files; each names the file and says what to do.
public enum DatasetError: Error, CustomStringConvertible {
    case missing(path: String, hint: String)
    case corrupt(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missing(path, hint): return "\(path): not found. \(hint)"
        case let .corrupt(path, reason): return "\(path): \(reason)"
        }
    }
}

/// The IDX format of MNIST and Fashion-MNIST (LeCun et al.): a big-endian magic number whose
/// third byte is the element type (0x08 = unsigned byte) and fourth the rank, the extents
/// as big-endian UInt32, then the data row-major. Gzip-compressed files (`.gz`) are read
/// through zlib transparently.
public enum IDX {
    /// Reads an unsigned-byte IDX file: its extents and its bytes.
    public static func read(_ path: String) throws -> (shape: [Int], bytes: [UInt8]) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError.missing(path: path, hint: "Check the path.")
        }
        guard let file = gzopen(path, "rb") else { throw DatasetError.corrupt(path: path, reason: "cannot be opened") }
        defer { gzclose(file) }
        // Reads `count` bytes (fewer at the end of the file), in chunks: never more than the
        // header promises (a small gzip bomb cannot make us decompress gigabytes) and never
        // more memory than the data actually there (a header cannot make us allocate it).
        func read(_ count: Int) throws -> [UInt8] {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: min(count, 1 << 24))
            while bytes.count < count {
                let wanted = min(count - bytes.count, chunk.count)
                let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress!, UInt32(wanted)) }
                if n < 0 { throw DatasetError.corrupt(path: path, reason: "is not a readable gzip or IDX file (zlib error)") }
                if n == 0 { break }
                bytes += chunk.prefix(Int(n))
            }
            return bytes
        }
        let magic = try read(4)
        guard magic.count == 4, magic[0] == 0, magic[1] == 0 else {
            throw DatasetError.corrupt(path: path, reason: "does not start with an IDX magic number")
        }
        guard magic[2] == 0x08 else {
            throw DatasetError.corrupt(path: path, reason: "holds IDX type 0x\(String(magic[2], radix: 16)); only unsigned bytes (0x08) are supported")
        }
        let rank = Int(magic[3])
        let header = try read(4 * rank)
        guard header.count == 4 * rank else { throw DatasetError.corrupt(path: path, reason: "is truncated inside its header") }
        let shape = (0..<rank).map { i in (0..<4).reduce(0) { $0 << 8 | Int(header[4 * i + $1]) } }
        var expected = 1
        for extent in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= 1 << 34 else {
                throw DatasetError.corrupt(path: path, reason: "header extents \(shape) are impossibly large")
            }
            expected = product
        }
        let values = try read(expected)
        guard values.count == expected, try read(1).isEmpty else {
            throw DatasetError.corrupt(path: path, reason: "header promises \(expected) values for shape \(shape) but \(values.count == expected ? "more" : "\(values.count)") follow (truncated or damaged?)")
        }
        return (shape, values)
    }
}

/// Fashion-MNIST (Xiao et al., 2017): 28x28 grey images of 10 clothing classes, 60,000 for
/// training and 10,000 for test. Debian's `dataset-fashion-mnist` installs it under
/// `/usr/share/datasets/fashion-mnist/`.
public enum FashionMNIST {
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    public enum Split: String, Sendable { case train, test }

    /// Images as NHWC `[n, 28, 28, 1]` scaled to [0, 1], and their labels.
    public static func load(_ split: Split, directory: String = defaultDirectory) throws -> (images: Tensor, labels: [Int]) {
        let prefix = split == .train ? "train" : "t10k"
        func path(_ name: String) throws -> String {
            for candidate in ["\(directory)/\(prefix)-\(name)", "\(directory)/\(prefix)-\(name).gz"]
            where FileManager.default.fileExists(atPath: candidate) { return candidate }
            throw DatasetError.missing(path: "\(directory)/\(prefix)-\(name)[.gz]",
                                       hint: "Install Fashion-MNIST with `apt-get install dataset-fashion-mnist`, or pass its directory.")
        }
        let imagePath = try path("images-idx3-ubyte"), labelPath = try path("labels-idx1-ubyte")
        let (shape, pixels) = try IDX.read(imagePath)
        let (labelShape, labelBytes) = try IDX.read(labelPath)
        guard shape.count == 3, labelShape.count == 1, labelShape[0] == shape[0] else {
            throw DatasetError.corrupt(path: imagePath, reason: "images \(shape) and labels \(labelShape) do not pair up")
        }
        if let bad = labelBytes.first(where: { $0 >= 10 }) {
            throw DatasetError.corrupt(path: labelPath, reason: "label \(bad) is not one of the 10 classes")
        }
        let images = Tensor(shape: [shape[0], shape[1], shape[2], 1]) { dst in
            for i in dst.indices { dst[i] = Float(pixels[i]) / 255 }
        }
        return (images, labelBytes.map(Int.init))
    }
}

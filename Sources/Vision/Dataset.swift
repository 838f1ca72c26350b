import Engine
import Foundation

/// A labelled collection of images that the loader reads by index.
public protocol LabeledImageSource: Sendable {
    var count: Int { get }
    var classNames: [String] { get }
    func label(at index: Int) -> Int
    func image(at index: Int) throws -> Image
    /// The image resized to `size` (decoders that can go straight to a size do: a huge file
    /// never has to fit in memory at full size).
    func image(at index: Int, fitting size: (width: Int, height: Int)) throws -> Image
    /// The file (or description) of an image, for messages.
    func name(at index: Int) -> String
}

extension LabeledImageSource {
    public func image(at index: Int, fitting size: (width: Int, height: Int)) throws -> Image {
        try image(at: index).resized(width: size.width, height: size.height)
    }

    /// Images per class, in class order.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for i in 0..<count { counts[label(at: i)] += 1 }
        return counts
    }

    /// "Balanced" class weights from the counts, `n / (classes · count_c)` (scikit-learn's
    /// formula): rare classes weigh more. Pass them to `softmaxCrossEntropy(classWeights:)`.
    public var classWeights: [Float] {
        let counts = classCounts
        let n = Float(count)
        let k = Float(counts.count)
        return counts.map { $0 == 0 ? 0 : n / (k * Float($0)) }
    }

    /// A one-line description of the classes and their counts.
    public var classSummary: String {
        zip(classNames, classCounts).map { "\($0) \($1)" }.joined(separator: ", ")
    }
}

public enum DatasetFolderError: Error, CustomStringConvertible, Equatable {
    case notAFolder(String)
    case noClasses(String)
    case emptyClass(folder: String)
    case singleClass(root: String, name: String)
    case badCSV(path: String, line: Int, reason: String)
    case noSuchClass(root: String, name: String, known: [String])

    public var description: String {
        switch self {
        case .notAFolder(let path):
            return "\(path): no such folder; pass a folder with one sub-folder of images per class"
        case .noClasses(let path):
            return "\(path): has no class sub-folders; put each class's images in a sub-folder named after it"
        case .emptyClass(let folder):
            return "\(folder): the class folder holds no PNG or JPEG images; add images or remove the folder"
        case .singleClass(let root, let name):
            return "\(root): only one class (\(name)); a classifier needs at least two class folders"
        case .badCSV(let path, let line, let reason): return "\(path):\(line): \(reason)"
        case .noSuchClass(let root, let name, let known):
            return
                "\(root): has no class folder '\(name)'; it has \(known.prefix(12).joined(separator: ", "))\(known.count > 12 ? ", …" : "")"
        }
    }
}

/// An image folder: one sub-folder per class (sorted by name, which fixes the class
/// indices), PNG and JPEG files inside (sub-folders searched too). Symbolic links to class
/// folders, sub-folders and images are followed (a link cycle is reported, not followed).
/// Files with other extensions are ignored and counted; hidden files and folders are
/// skipped; anything else unused (dangling links, unreadable folders) is listed in
/// `skipped` with the reason. Images are decoded on demand, by content.
public struct ImageFolder: LabeledImageSource {
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    public let root: String
    public let classNames: [String]
    public let files: [String]
    public let labels: [Int]
    /// Files skipped for their extension (not PNG or JPEG).
    public let ignoredFiles: [String]
    /// Entries that could not be used (dangling links, link cycles, unreadable folders).
    public let skipped: [SkippedEntry]
    public let decoder: ImageDecoder

    /// `classes`: only these class sub-folders (each must exist), in the order given sorted.
    public init(_ root: String, decoder: ImageDecoder = ImageDecoder(), classes: [String]? = nil) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetFolderError.notAFolder(root)
        }
        let base = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        let top = FolderWalk.children(of: base)
        var classDirs = top.folders
        if let classes {
            let names = Set(classDirs.map { ($0 as NSString).lastPathComponent })
            if let missing = classes.first(where: { !names.contains($0) }) {
                throw DatasetFolderError.noSuchClass(root: root, name: missing, known: names.sorted())
            }
            classDirs = classDirs.filter { classes.contains(($0 as NSString).lastPathComponent) }
        }
        guard !classDirs.isEmpty else { throw DatasetFolderError.noClasses(root) }
        guard classDirs.count > 1 else {
            throw DatasetFolderError.singleClass(root: root, name: (classDirs[0] as NSString).lastPathComponent)
        }
        var files: [String] = []
        var labels: [Int] = []
        var ignored: [String] = []
        var skipped = top.skipped + top.files.map { SkippedEntry(path: $0, reason: "not inside a class folder") }
        for (label, dir) in classDirs.enumerated() {
            let walk = FolderWalk.files(under: dir, above: [base])
            skipped += walk.skipped
            let isImage = { (path: String) in
                ImageFolder.imageExtensions.contains((path as NSString).pathExtension.lowercased())
            }
            let images = walk.files.filter(isImage)
            ignored += walk.files.filter { !isImage($0) }
            guard !images.isEmpty else { throw DatasetFolderError.emptyClass(folder: dir) }
            files += images
            labels += Array(repeating: label, count: images.count)
        }
        self.root = base
        self.classNames = classDirs.map { ($0 as NSString).lastPathComponent }
        self.files = files
        self.labels = labels
        self.ignoredFiles = ignored
        self.skipped = skipped
        self.decoder = decoder
    }

    /// Every PNG or JPEG file below `folder` (links followed, sorted).
    public static func imageFiles(under folder: String) -> [String] {
        FolderWalk.files(under: folder).files.filter {
            imageExtensions.contains(($0 as NSString).pathExtension.lowercased())
        }
    }

    /// The same images labelled by the sub-folder they sit in (`computer/icons/flat-theme`),
    /// not the top-level class folder: finer classes for pretraining. A sub-folder with fewer
    /// than `minimum` images is merged into its parent, up to the class folder.
    public func bySubfolder(minimum: Int) -> ImageFolder {
        let prefix = root + "/"
        var keys = files.map { path -> String in
            let relative = path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
            return (relative as NSString).deletingLastPathComponent
        }
        var changed = true
        while changed {
            changed = false
            let counts = Dictionary(keys.map { ($0, 1) }, uniquingKeysWith: +)
            for (i, key) in keys.enumerated() where counts[key]! < minimum && key.contains("/") {
                keys[i] = (key as NSString).deletingLastPathComponent
                changed = true
            }
        }
        let names = Set(keys).sorted()
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, $0.offset) })
        return ImageFolder(
            root: root, classNames: names, files: files, labels: keys.map { index[$0]! }, ignoredFiles: ignoredFiles,
            skipped: skipped, decoder: decoder)
    }

    /// This folder's images and then `other`'s, whose classes follow, named `prefix + name`.
    public func merged(with other: ImageFolder, prefix: String) -> ImageFolder {
        ImageFolder(
            root: root, classNames: classNames + other.classNames.map { prefix + $0 }, files: files + other.files,
            labels: labels + other.labels.map { $0 + classNames.count },
            ignoredFiles: ignoredFiles + other.ignoredFiles,
            skipped: skipped + other.skipped, decoder: decoder)
    }

    /// The same folder without the images `keep` rejects; returns it and the rejected paths.
    public func filtered(_ keep: (String) -> Bool) -> (folder: ImageFolder, removed: [String]) {
        let kept = files.indices.filter { keep(files[$0]) }
        let removed = files.indices.filter { !keep(files[$0]) }.map { files[$0] }
        return (
            ImageFolder(
                root: root, classNames: classNames, files: kept.map { files[$0] }, labels: kept.map { labels[$0] },
                ignoredFiles: ignoredFiles, skipped: skipped, decoder: decoder), removed
        )
    }

    private init(
        root: String, classNames: [String], files: [String], labels: [Int], ignoredFiles: [String],
        skipped: [SkippedEntry], decoder: ImageDecoder
    ) {
        self.root = root
        self.classNames = classNames
        self.files = files
        self.labels = labels
        self.ignoredFiles = ignoredFiles
        self.skipped = skipped
        self.decoder = decoder
    }

    /// The path of image `index` relative to the root folder (`class/file.png`).
    public func relativePath(at index: Int) -> String {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return files[index].hasPrefix(prefix) ? String(files[index].dropFirst(prefix.count)) : files[index]
    }

    public var count: Int { files.count }
    public func label(at index: Int) -> Int { labels[index] }
    public func image(at index: Int) throws -> Image { try decoder.decode(contentsOf: files[index]) }
    public func image(at index: Int, fitting size: (width: Int, height: Int)) throws -> Image {
        try decoder.decode(contentsOf: files[index], fitting: size)
    }
    public func name(at index: Int) -> String { files[index] }
}

/// Images held in memory (small datasets decoded once, or tensors such as Fashion-MNIST).
public struct InMemoryImages: LabeledImageSource {
    public let images: [Image]
    public let labels: [Int]
    public let classNames: [String]
    public let names: [String]

    public init(images: [Image], labels: [Int], classNames: [String], names: [String]? = nil) {
        ensure(images.count == labels.count, "InMemoryImages: \(images.count) images but \(labels.count) labels")
        ensure(
            labels.allSatisfy { $0 >= 0 && $0 < classNames.count },
            "InMemoryImages: labels must be in 0..<\(classNames.count)")
        self.images = images
        self.labels = labels
        self.classNames = classNames
        self.names = names ?? images.indices.map { "image \($0)" }
    }

    /// From an NHWC tensor of values in [0, 1] (e.g. `FashionMNIST.load`).
    public init(tensor: Tensor, labels: [Int], classNames: [String]) {
        self.init(
            images: (0..<tensor.shape[0]).map { Image(tensor, index: $0) }, labels: labels, classNames: classNames)
    }

    public var count: Int { images.count }
    public func label(at index: Int) -> Int { labels[index] }
    public func image(at index: Int) throws -> Image { images[index] }

    /// The per-channel mean and (population) standard deviation of every pixel of the images at
    /// `indices`, values in [0, 1], after converting each to `channels` channels as the batch loader
    /// does (`Image.converted(toChannels:)`): what `--normalize data` normalises with. A channel
    /// without spread gets a standard deviation of 1.
    public func channelStatistics(at indices: [Int], channels: Int) -> (mean: [Float], std: [Float]) {
        var sum = [Double](repeating: 0, count: channels)
        var squares = [Double](repeating: 0, count: channels)
        var count = 0
        for index in indices {
            let image =
                images[index].channels == channels ? images[index] : images[index].converted(toChannels: channels)
            for (i, value) in image.data.enumerated() {
                sum[i % channels] += Double(value)
                squares[i % channels] += Double(value) * Double(value)
            }
            count += image.width * image.height
        }
        let n = Double(max(count, 1))
        let mean = sum.map { $0 / n }
        let std = zip(squares, mean).map { square, m in (max(square / n - m * m, 0)).squareRoot() }
        return (mean.map { Float($0) }, std.map { $0 > 1e-6 ? Float($0) : 1 })
    }
    public func name(at index: Int) -> String { names[index] }

    /// Decodes every image of `source` once, in parallel. Unreadable images are skipped and
    /// returned with their reason, or, with `strict`, the first one fails the whole load.
    /// With `resize`, each image is resized right after decoding (a folder of large photos
    /// then fits in memory).
    public static func decoding(
        _ source: LabeledImageSource, strict: Bool = false, resize: (width: Int, height: Int)? = nil
    )
        throws -> (images: InMemoryImages, skipped: [(path: String, reason: String)])
    {
        var results = [Result<Image, Error>?](repeating: nil, count: source.count)
        results.withUnsafeMutableBufferPointer { slots in
            DispatchQueue.concurrentPerform(iterations: source.count) { i in
                slots[i] = Result {
                    return try resize.map { try source.image(at: i, fitting: $0) } ?? source.image(at: i)
                }
            }
        }
        var images: [Image] = []
        var labels: [Int] = []
        var names: [String] = []
        var skipped: [(String, String)] = []
        for (i, result) in results.enumerated() {
            switch result! {
            case .success(let image):
                images.append(image)
                labels.append(source.label(at: i))
                names.append(source.name(at: i))
            case .failure(let error):
                if strict { throw error }
                skipped.append((source.name(at: i), "\(error)"))
            }
        }
        return (InMemoryImages(images: images, labels: labels, classNames: source.classNames, names: names), skipped)
    }
}

/// A folder of images plus a CSV of labels: `filename,label` per row (RFC 4180 quoting),
/// labels are class names; classes are the distinct labels, sorted. The first row is a
/// header when its file does not exist in the folder. Every listed file must exist.
public struct LabeledFiles: LabeledImageSource {
    public let files: [String]
    public let labels: [Int]
    public let classNames: [String]
    public let decoder: ImageDecoder

    public init(folder: String, csv: String, decoder: ImageDecoder = ImageDecoder()) throws {
        let text = try String(contentsOfFile: csv, encoding: .utf8)
        let folderURL = URL(fileURLWithPath: folder)
        var rows: [(file: String, label: String)] = []
        for (n, fields) in LabeledFiles.parseCSV(text).enumerated() where !(fields.count == 1 && fields[0].isEmpty) {
            guard fields.count >= 2, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw DatasetFolderError.badCSV(
                    path: csv, line: n + 1, reason: "expected 'filename,label', got \(fields.count) field(s)")
            }
            if n == 0 && !FileManager.default.fileExists(atPath: folderURL.appendingPathComponent(fields[0]).path) {
                continue
            }  // header
            rows.append((fields[0], fields[1]))
        }
        let missing = rows.map { folderURL.appendingPathComponent($0.file).path }.filter {
            !FileManager.default.fileExists(atPath: $0)
        }
        guard missing.isEmpty else {
            throw DatasetFolderError.badCSV(
                path: csv, line: 0,
                reason:
                    "\(missing.count) listed file(s) do not exist, e.g. \(missing.prefix(3).joined(separator: ", "))")
        }
        let classes = Array(Set(rows.map(\.label))).sorted()
        guard classes.count > 1 else { throw DatasetFolderError.singleClass(root: csv, name: classes.first ?? "none") }
        files = rows.map { folderURL.appendingPathComponent($0.file).path }
        labels = rows.map { row in classes.firstIndex(of: row.label)! }
        classNames = classes
        self.decoder = decoder
    }

    /// Rows of fields; quoted fields may contain commas, doubled quotes and newlines.
    static func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var wasQuoted = false
        func endField() {
            row.append(wasQuoted ? field : field.trimmingCharacters(in: .whitespaces))
            field = ""
            wasQuoted = false
        }
        func endRow() {
            endField()
            rows.append(row)
            row = []
        }
        let chars = Array(text.replacingOccurrences(of: "\r\n", with: "\n"))
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" && i + 1 < chars.count && chars[i + 1] == "\"" {
                    field.append("\"")
                    i += 1
                }  // "" inside quotes
                else if c == "\"" {
                    quoted = false
                } else {
                    field.append(c)
                }
            } else if c == "\"" && field.trimmingCharacters(in: .whitespaces).isEmpty {
                quoted = true
                wasQuoted = true
                field = ""
            } else if c == "," {
                endField()
            } else if c == "\n" {
                endRow()
            } else {
                field.append(c)
            }
            i += 1
        }
        if !field.isEmpty || !row.isEmpty { endRow() }
        return rows
    }

    public var count: Int { files.count }
    public func label(at index: Int) -> Int { labels[index] }
    public func image(at index: Int) throws -> Image { try decoder.decode(contentsOf: files[index]) }
    public func image(at index: Int, fitting size: (width: Int, height: Int)) throws -> Image {
        try decoder.decode(contentsOf: files[index], fitting: size)
    }
    public func name(at index: Int) -> String { files[index] }
}

/// A seeded, stratified split into train / validation / test indices: each class is
/// shuffled and cut in the same proportions. Saved with a run so it can be reproduced.
public struct DatasetSplit: Codable, Equatable, Sendable {
    public var seed: UInt64
    public var train: [Int]
    public var validation: [Int]
    public var test: [Int]

    public init(seed: UInt64, train: [Int], validation: [Int], test: [Int] = []) {
        self.seed = seed
        self.train = train
        self.validation = validation
        self.test = test
    }

    public static func stratified(labels: [Int], validation: Double, test: Double = 0, seed: UInt64) -> DatasetSplit {
        ensure(
            validation >= 0 && test >= 0 && validation + test < 1,
            "split: validation \(validation) + test \(test) must be below 1")
        var rng = RandomGenerator(seed: seed)
        var split = DatasetSplit(seed: seed, train: [], validation: [], test: [])
        for label in Set(labels).sorted() {
            var members = labels.indices.filter { labels[$0] == label }
            rng.shuffle(&members)
            let nTest = Int((Double(members.count) * test).rounded())
            let nValidation = Int((Double(members.count) * validation).rounded())
            split.test += members.prefix(nTest)
            split.validation += members.dropFirst(nTest).prefix(nValidation)
            split.train += members.dropFirst(nTest + nValidation)
        }
        split.train.sort()
        split.validation.sort()
        split.test.sort()
        return split
    }

    /// A stratified bootstrap resample of `indices` (Efron, 1979; what bagging trains each member
    /// on): within each class (`labels[i]` of index i), as many draws with replacement as the class
    /// has images, so no class goes missing; sorted. About 63% of the originals appear, some
    /// several times.
    public static func bootstrap(_ indices: [Int], labels: [Int], seed: UInt64) -> [Int] {
        var rng = RandomGenerator(seed: seed)
        let byClass = Dictionary(grouping: indices) { labels[$0] }
        return byClass.keys.sorted().flatMap { label in
            let members = byClass[label]!
            return members.map { _ in members[rng.nextInt(below: members.count)] }
        }.sorted()
    }

    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: path)
    }

    public static func load(_ path: String) throws -> DatasetSplit {
        try JSONDecoder().decode(DatasetSplit.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

import Crypto
import Engine
import Foundation
import Zoo

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `finetune zoo get`: download, verify, convert, write atomically. The download streams to
/// a temporary file beside the destination (`.NAME.download-PID`), hashed as it arrives; a
/// short read, an HTTP error or a digest mismatch removes it and leaves any older converted
/// file untouched. Temporaries of killed runs are removed on the next get.
public enum ZooDownload {
    /// What a get did; `bytes` is 0 when the converted file was already there.
    public struct Result: Sendable {
        /// The converted Graft weight file.
        public let path: String
        /// Bytes downloaded (0: the converted file was already there).
        public let bytes: Int
        /// The download's SHA-256 in hex (empty when nothing was downloaded).
        public let sha256: String
        /// The converted model's parameter count (0 when nothing was downloaded).
        public let parameters: Int
    }

    /// Fetches `entry` into `home` unless its converted file is already there (`force`: fetch
    /// again). `progress` receives (bytes so far, expected bytes or -1).
    @discardableResult
    public static func get(
        _ entry: ImageNetWeights, home: String = ImageNetWeights.home, force: Bool = false,
        progress: @escaping (Int, Int) -> Void = { _, _ in }
    ) throws -> Result {
        let destination = ImageNetWeights.file(entry.name, home: home)
        let folder = (destination as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw ZooDownloadError.folder(folder, reason: error.localizedDescription)
        }
        removeStaleDownloads(in: folder)
        if !force, FileManager.default.fileExists(atPath: destination) {
            return Result(path: destination, bytes: 0, sha256: "", parameters: 0)  // already converted
        }
        let temporary = folder + "/.\(entry.name).download-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let download = try fetch(entry.downloadURL, to: temporary, progress: progress)
        try verify(entry, download)
        let (model, metadata) = try convert(entry, file: temporary, sha256: download.sha256)
        try WeightFile.save(model, to: destination, metadata: metadata)
        return Result(
            path: destination, bytes: download.bytes, sha256: download.sha256, parameters: model.parameterCount)
    }

    struct Download {
        let bytes: Int
        let sha256: String
        let md5: String
    }

    static func verify(_ entry: ImageNetWeights, _ download: Download) throws {
        let matches: Bool
        let expected: String
        switch entry.digest {
        case .md5(let hex):
            (matches, expected) = (download.md5 == hex.lowercased(), "MD5 \(hex)")
        case .sha256Prefix(let prefix):
            (matches, expected) = (download.sha256.hasPrefix(prefix.lowercased()), "SHA-256 starting \(prefix)")
        case .sha256(let hex):
            (matches, expected) = (download.sha256 == hex.lowercased(), "SHA-256 \(hex)")
        }
        guard matches else {
            throw ZooDownloadError.digest(
                url: entry.url, expected: expected, sha256: download.sha256, md5: download.md5)
        }
    }

    static func convert(_ entry: ImageNetWeights, file: String, sha256: String) throws -> (any ZooModel, WeightMetadata)
    {
        let model: any ZooModel
        var metadata: WeightMetadata
        switch entry.format {
        case .torch:
            let archive = try TorchConversion.archive(TorchCheckpoint(reading: file), architecture: entry.architecture)
            metadata = archive.metadata!
            model = metadata.configuration!.build()
            let report = try WeightFile.load(archive, into: model)
            guard report.problems.isEmpty else { throw WeightLoadError.incompatible(report) }
        case .keras:
            let imported = try WeightImport.load(file, architecture: entry.architecture, source: "keras")
            guard imported.report.problems.isEmpty else { throw WeightLoadError.incompatible(imported.report) }
            (model, metadata) = (imported.model, imported.metadata)
        }
        if let preprocessing = entry.preprocessing { metadata.preprocessing = preprocessing }
        let provenance: [String: String] = [
            "source": entry.url, "sha256": sha256, "format": entry.format.rawValue,
            "name": entry.name, "licence": ImageNetWeights.licence,
        ]
        let json = try JSONSerialization.data(withJSONObject: provenance, options: [.sortedKeys])
        metadata.provenance = String(decoding: json, as: UTF8.self)
        return (model, metadata)
    }

    /// Streams `url` into `path`, hashing as it goes; throws on an HTTP status other than 200,
    /// a transport error, or fewer bytes than the server announced.
    static func fetch(_ url: String, to path: String, progress: @escaping (Int, Int) -> Void) throws -> Download {
        guard let address = URL(string: url) else { throw ZooDownloadError.transfer(url: url, reason: "not a URL") }
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw ZooDownloadError.folder((path as NSString).deletingLastPathComponent, reason: "cannot create \(path)")
        }
        defer { try? handle.close() }
        let receiver = Receiver(handle: handle, progress: progress)
        let session = URLSession(configuration: .ephemeral, delegate: receiver, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        session.dataTask(with: address).resume()
        receiver.done.wait()
        if let error = receiver.failure { throw ZooDownloadError.transfer(url: url, reason: error) }
        guard receiver.status == 200 else { throw ZooDownloadError.status(url: url, status: receiver.status) }
        if receiver.expected >= 0, receiver.received != receiver.expected {
            throw ZooDownloadError.shortRead(url: url, received: receiver.received, expected: receiver.expected)
        }
        let sha = receiver.sha256.finalize().hexDigits
        let md5 = receiver.md5.finalize().hexDigits
        return Download(bytes: receiver.received, sha256: sha, md5: md5)
    }

    /// Collects one response into a file; callbacks arrive on the session's serial queue.
    final class Receiver: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let handle: FileHandle
        let progress: (Int, Int) -> Void
        let done = DispatchSemaphore(value: 0)
        var sha256 = SHA256()
        var md5 = Insecure.MD5()
        var received = 0
        var expected = -1
        var status = 0
        var failure: String?

        init(handle: FileHandle, progress: @escaping (Int, Int) -> Void) {
            self.handle = handle
            self.progress = progress
        }

        func urlSession(
            _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
            completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
        ) {
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
            expected = Int(response.expectedContentLength)
            completionHandler(status == 200 ? .allow : .cancel)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            guard failure == nil else { return }
            do { try handle.write(contentsOf: data) } catch {
                failure = "writing the download failed (\(error.localizedDescription)); is the disk full?"
                dataTask.cancel()
                return
            }
            sha256.update(data: data)
            md5.update(data: data)
            received += data.count
            progress(received, expected)
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            if let error, failure == nil, status == 200 || status == 0 { failure = error.localizedDescription }
            done.signal()
        }
    }

    /// Removes `.NAME.download-PID` files whose process is gone (a kill or a power cut).
    static func removeStaleDownloads(in folder: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(".") {
            guard let range = name.range(of: ".download-"), let pid = Int32(name[range.upperBound...]),
                kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }
}

/// Why `ZooDownload.get` failed; no partial file is left behind in any case.
public enum ZooDownloadError: Error, CustomStringConvertible {
    /// The destination folder (or the temporary file in it) cannot be created.
    case folder(String, reason: String)
    /// The transfer failed (network, an invalid URL, or writing the download).
    case transfer(url: String, reason: String)
    /// The server answered with an HTTP status other than 200.
    case status(url: String, status: Int)
    /// The connection ended after `received` of the `expected` bytes the server announced.
    case shortRead(url: String, received: Int, expected: Int)
    /// The download does not match the published digest; `expected` describes it, `sha256`/`md5` are what arrived.
    case digest(url: String, expected: String, sha256: String, md5: String)

    /// A message naming the URL or folder and what to do.
    public var description: String {
        switch self {
        case .folder(let folder, let reason):
            return "cannot write to \(folder) (\(reason)); set GRAFT_HOME to a folder you can write"
        case .transfer(let url, let reason):
            return "downloading \(url) failed: \(reason). Nothing was kept; check the network and run it again"
        case .status(let url, let status):
            return "downloading \(url) failed: the server answered HTTP \(status). Nothing was kept"
        case .shortRead(let url, let received, let expected):
            return "downloading \(url) stopped after \(received) of \(expected) bytes. Nothing was kept; run it again"
        case .digest(let url, let expected, let sha256, let md5):
            return "\(url) is not the published file: expected \(expected), got SHA-256 \(sha256) (MD5 \(md5)). "
                + "Nothing was kept; a proxy or a changed upstream file? Do not use it"
        }
    }
}

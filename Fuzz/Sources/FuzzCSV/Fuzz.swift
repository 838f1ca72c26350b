import Foundation
import Graft

private let folder: String = {
    let folder = "/dev/shm/graft-fuzz-csv-\(getpid())"
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    for name in ["a.png", "b.png", "c d.png"] {
        FileManager.default.createFile(atPath: folder + "/" + name, contents: Data())
    }
    return folder
}()

/// Bytes as a CSV of labels (RFC 4180 quoting, headers, missing files).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let csv = folder + "/labels.csv"
    guard (try? Data(bytes: data, count: size).write(to: URL(fileURLWithPath: csv))) != nil else { return 0 }
    _ = try? LabeledFiles(folder: folder, csv: csv)
    return 0
}

// SwiftPM links an executable's entry point as `FuzzCSV_main`: hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzCSV_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runDriver(&argc, &argv, fuzz)
}

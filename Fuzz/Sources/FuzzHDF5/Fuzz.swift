import Foundation
import Graft

private let path = "/dev/shm/graft-fuzz-hdf5-\(getpid()).h5"
private let model: any ZooModel = {
    Random.seed(0)
    return try! Architectures.entry("lenet5").configuration(nil).build()
}()

/// Bytes as a weight file: the archive reader (Graft, Keras 2, Keras 3 layouts and metadata)
/// and a load into LeNet-5 (shape checks, content hash).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard (try? Data(bytes: data, count: size).write(to: URL(fileURLWithPath: path))) != nil else { return 0 }
    if let archive = try? WeightArchive.read(path) {
        _ = try? WeightFile.load(archive, into: model, options: LoadOptions(skipHead: true, strict: false))
    }
    return 0
}

// SwiftPM links an executable's entry point as `FuzzHDF5_main`: hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzHDF5_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runDriver(&argc, &argv, fuzz)
}

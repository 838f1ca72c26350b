import Foundation
import Graft

private let path = "/dev/shm/graft-fuzz-idx-\(getpid())"

/// Bytes as an IDX file (Fashion-MNIST's format), plain and gzip-compressed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    for suffix in ["", ".gz"] {
        guard (try? Data(bytes: data, count: size).write(to: URL(fileURLWithPath: path + suffix))) != nil else {
            continue
        }
        _ = try? IDX.read(path + suffix)
    }
    return 0
}

// SwiftPM links an executable's entry point as `FuzzIDX_main`: hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzIDX_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runDriver(&argc, &argv, fuzz)
}

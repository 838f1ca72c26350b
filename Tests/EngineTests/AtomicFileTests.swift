import Engine
import Foundation
import TestSupport
import XCTest

/// Atomic writes: the target is replaced whole, temporaries of killed writers are removed,
/// and a missing folder is named. (A full disk needs a small file system: the scripted check
/// `scripts/check_disk_full.sh` mounts a tmpfs and runs `train`, `import` and `zoo init`.)
final class AtomicFileTests: XCTestCase {
    func testReplacesTheTargetAndLeavesNoTemporary() throws {
        let folder = try TemporaryDirectory("atomic")
        defer { folder.remove() }
        let path = folder.path("model.h5")
        try AtomicFile.write("first", to: path)
        try AtomicFile.write("second", to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "second")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.url.path), ["model.h5"])
    }

    func testTemporariesOfDeadWritersAreRemovedOnTheNextWrite() throws {
        let folder = try TemporaryDirectory("atomic")
        defer { folder.remove() }
        // A process that has exited: its pid names no running process any more.
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let stale = folder.path(".model.h5.tmp-\(finished.processIdentifier)-DEADBEEF")
        let live = folder.path(".model.h5.tmp-\(getpid())-CAFEF00D")  // this process: may be mid-write
        let other = folder.path(".other.h5.tmp-\(finished.processIdentifier)-DEADBEEF")  // another target
        for p in [stale, live, other] { try "half".write(toFile: p, atomically: false, encoding: .utf8) }
        try AtomicFile.write("whole", to: folder.path("model.h5"))
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder.url.path))
        XCTAssertEqual(left, ["model.h5", (live as NSString).lastPathComponent, (other as NSString).lastPathComponent])
    }

    func testMissingFolderAndFolderInTheWayAreNamed() throws {
        let folder = try TemporaryDirectory("atomic")
        defer { folder.remove() }
        XCTAssertThrowsError(try AtomicFile.write("x", to: folder.path("missing/model.h5"))) { error in
            XCTAssertEqual(
                error as? FileWriteError,
                .noFolder(path: folder.path("missing/model.h5"), folder: folder.path("missing")))
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
        try FileManager.default.createDirectory(atPath: folder.path("dir.h5"), withIntermediateDirectories: false)
        XCTAssertThrowsError(try AtomicFile.write("x", to: folder.path("dir.h5"))) { error in
            XCTAssertTrue("\(error)".contains("a folder of that name is in the way"), "\(error)")
        }
    }
}

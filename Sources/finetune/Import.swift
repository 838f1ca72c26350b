import ArgumentParser
import Foundation
import Graft

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Import Keras or PyTorch weights into a Graft weight file.")

    func run() throws {
        throw ValidationError("import is not implemented yet")
    }
}

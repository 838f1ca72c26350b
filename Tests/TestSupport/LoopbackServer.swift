import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for download tests: one thread, one request per
/// connection, answers from `routes` (200 with the bytes, optionally cut off after `cutAfter`
/// bytes while announcing them all), 404 otherwise.
public final class LoopbackServer: @unchecked Sendable {
    public struct Route {
        public let body: Data
        public let cutAfter: Int?
        public init(body: Data, cutAfter: Int? = nil) {
            self.body = body
            self.cutAfter = cutAfter
        }
    }

    public private(set) var port: UInt16 = 0
    private let listener: Int32
    private let routes: [String: Route]
    private var thread: Thread?

    public init(routes: [String: Route]) throws {
        self.routes = routes
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(listener, pointer, length) == 0 && listen(listener, 8) == 0
                    && getsockname(listener, pointer, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [unowned self] in self.serve() }
        self.thread = thread
        thread.start()
    }

    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    public func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            respond(on: connection)
            close(connection)
        }
    }

    private func respond(on connection: Int32) {
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.reversed().starts(with: [10, 13, 10, 13]) {
            let n = recv(connection, &buffer, buffer.count, 0)
            guard n > 0 else { return }
            request += buffer[0..<n]
        }
        let line = String(decoding: request.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        let path = line.count > 1 ? String(line[1]) : "/"
        guard let route = routes[path] else {
            send(connection, Data("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
            return
        }
        send(
            connection, Data("HTTP/1.1 200 OK\r\nContent-Length: \(route.body.count)\r\nConnection: close\r\n\r\n".utf8)
        )
        send(connection, route.body.prefix(route.cutAfter ?? route.body.count))
    }

    private func send(_ connection: Int32, _ data: Data) {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(connection, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                guard n > 0 else { return }
                offset += n
            }
        }
    }
}

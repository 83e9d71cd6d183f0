import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A child process serving HTTP on 127.0.0.1 (moto_server, or a Python stub), stopped by `stop()`.
public final class LocalHTTPServer: @unchecked Sendable {
    public let process: Process
    public let port: Int
    public let logPath: String
    public var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    private init(process: Process, port: Int, logPath: String) {
        self.process = process
        self.port = port
        self.logPath = logPath
    }

    /// Starts `arguments` (with `{PORT}` replaced by a free port) and waits up to `timeout`
    /// until GET `readyPath` answers.
    public static func start(_ executable: String, _ arguments: [String], readyPath: String = "/",
                      timeout: Duration = .seconds(30)) async throws -> LocalHTTPServer {
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments.map { $0.replacingOccurrences(of: "{PORT}", with: String(port)) }
        let logPath = NSTemporaryDirectory() + "kiln-aws-server-\(port).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let server = LocalHTTPServer(process: process, port: port, logPath: logPath)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if !process.isRunning { break }
            if await server.answers(readyPath) { return server }
            try? await Task.sleep(for: .milliseconds(200))
        }
        let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        server.stop()
        throw ServerError(description: "\(executable) did not answer on port \(port) within \(timeout):\n\(output.suffix(2000))")
    }

    struct ServerError: Error, CustomStringConvertible { var description: String }

    public func answers(_ path: String) async -> Bool {
        var request = URLRequest(url: url.appendingPathComponent(path))
        request.timeoutInterval = 2
        return await withCheckedContinuation { continuation in
            URLSession.shared.dataTask(with: request) { _, response, _ in
                continuation.resume(returning: response is HTTPURLResponse)
            }.resume()
        }
    }

    public func post(_ path: String) async {
        var request = URLRequest(url: URL(string: "\(url.absoluteString)\(path)")!)
        request.httpMethod = "POST"
        request.timeoutInterval = 10
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            URLSession.shared.dataTask(with: request) { _, _, _ in continuation.resume() }.resume()
        }
    }

    /// SIGTERM, then SIGKILL after 3 s; waits for the exit; removes the log.
    public func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(3)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: logPath)
    }

    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw ServerError(description: "bind() failed") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw ServerError(description: "getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// moto_server on a free port of 127.0.0.1, reset before use, always stopped.
public enum Moto {
    public static var enabled: Bool { ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1" }

    public static func with<T>(_ body: (LocalHTTPServer) async throws -> T) async throws -> T {
        let server = try await LocalHTTPServer.start("moto_server", ["-H", "127.0.0.1", "-p", "{PORT}"],
                                                     readyPath: "/moto-api/")
        defer { server.stop() }
        await server.post("/moto-api/reset")
        return try await body(server)
    }
}

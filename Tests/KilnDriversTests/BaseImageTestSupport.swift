import Foundation
import KilnCore
@testable import KilnDrivers

/// A temporary directory removed when the value is released.
final class BaseImageTempDir: @unchecked Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "kiln-baseimage-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String) throws -> String {
        try Data(text.utf8).write(to: URL(fileURLWithPath: file(name)))
        return file(name)
    }
}

/// Collects events for assertions.
final class BaseImageEventLog: EventSink, @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [BuildEvent] = []
    func emit(_ event: BuildEvent) { lock.withLock { collected.append(event) } }
    var events: [BuildEvent] { lock.withLock { collected } }

    var progressEvents: [(done: UInt64, total: UInt64?)] {
        events.compactMap { if case .progress(_, _, let done, let total) = $0 { return (done, total) } else { return nil } }
    }
    var outputLines: [String] {
        events.compactMap { if case .output(_, _, _, let line) = $0 { return line } else { return nil } }
    }
    var infoMessages: [String] {
        events.compactMap { if case .info(_, let message) = $0 { return message } else { return nil } }
    }
}

/// A small HTTP server on 127.0.0.1 (python3) serving one directory. It counts requests per path
/// (GET /_count/NAME), serves /truncate/NAME with the full Content-Length but half the body, and
/// can slow a response (/slow/NAME) so that two clients overlap.
final class BaseImageHTTPServer: @unchecked Sendable {
    let port: Int
    private let process: Process

    private static let script = #"""
    import http.server, os, signal, sys, threading, time
    root = sys.argv[1]
    # Stop with the test process, even if it dies without cleaning up.
    parent = os.getppid()
    def watch_parent():
        while os.getppid() == parent: time.sleep(0.5)
        os._exit(0)
    threading.Thread(target=watch_parent, daemon=True).start()
    counts = {}
    lock = threading.Lock()
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass
        def do_GET(self):
            path = self.path.lstrip("/")
            if path.startswith("_count/"):
                name = path[len("_count/"):]
                with lock: body = str(counts.get(name, 0)).encode()
                return self.reply(200, body)
            with lock: counts[path] = counts.get(path, 0) + 1
            mode, name = "plain", path
            for prefix in ("truncate/", "slow/"):
                if path.startswith(prefix): mode, name = prefix[:-1], path[len(prefix):]
            file = os.path.join(root, name)
            if not os.path.isfile(file): return self.reply(404, b"not found")
            data = open(file, "rb").read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if mode == "truncate":
                self.wfile.write(data[: len(data) // 2]); self.wfile.flush()
                self.close_connection = True
                return
            if mode == "slow":
                for i in range(0, len(data), 65536):
                    self.wfile.write(data[i:i + 65536]); self.wfile.flush(); time.sleep(0.05)
                return
            self.wfile.write(data)
        def reply(self, code, body):
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#

    init(serving directory: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", Self.script, directory]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while let byte = try out.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data([0x0A]) {
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            kill(process.processIdentifier, SIGKILL)
            throw KilnError(.internal, "the test HTTP server did not start")
        }
        self.port = port
    }

    deinit {
        // SIGKILL: children of the test process may inherit a blocked SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func url(_ name: String) -> String { "http://127.0.0.1:\(port)/\(name)" }

    func requestCount(_ name: String) async throws -> Int {
        let temp = NSTemporaryDirectory() + "kiln-count-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: temp) }
        _ = try await URLFetcher.fetch(URL(string: url("_count/" + name))!, to: temp, algorithm: .sha256) { _, _ in }
        return Int(String(decoding: FileManager.default.contents(atPath: temp) ?? Data(), as: UTF8.self)) ?? -1
    }
}

/// Disk images for the tests, made with qemu-img.
enum BaseImageFixtures {
    /// A small raw disk with an MBR partition table.
    static func rawDisk(at path: String, megabytes: Int = 4) async throws {
        try await Subprocess.run("truncate", ["-s", "\(megabytes)M", path])
        try await Subprocess.run("sfdisk", ["-q", path], stdin: Data("label: dos\nstart=2048, type=83\n".utf8))
    }

    /// A qcow2 with some data in it (so that it is not all zeros and a few hundred KiB long).
    static func qcow2(at path: String, work: String) async throws {
        let raw = work + "/fixture-\(UUID().uuidString).raw"
        defer { try? FileManager.default.removeItem(atPath: raw) }
        try await rawDisk(at: raw)
        try await Subprocess.run("sh", ["-c", "head -c 600000 /dev/urandom | dd of=\"$0\" bs=512 seek=2048 conv=notrunc status=none", raw])
        try await Subprocess.run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, path])
    }

    static func sha256(_ path: String) async throws -> String {
        String(try await Subprocess.run("sha256sum", [path]).stdoutText.prefix(64))
    }

    static func sha512(_ path: String) async throws -> String {
        String(try await Subprocess.run("sha512sum", [path]).stdoutText.prefix(128))
    }
}

import Foundation
import KilnTestSupport
import Testing
@testable import KilnAWS

/// ImportImage polling against a Python stub that plays a task's states (moto has no ImportImage).
@Suite(.enabled(if: Moto.enabled), .timeLimit(.minutes(1)))
struct ImportImageStubTests {
    /// argv: port, then a JSON list of [status, statusMessage] answered by successive polls
    /// (the last one repeats). Every request body is appended to the file in argv[3].
    static let script = """
        import http.server, json, sys, urllib.parse
        states = json.loads(sys.argv[2]); polls = {"n": 0}
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_GET(self):
                self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                with open(sys.argv[3], "a") as log: log.write(body + "\\n")
                action = urllib.parse.parse_qs(body)["Action"][0]
                if action == "ImportImage":
                    xml = "<ImportImageResponse><importTaskId>import-ami-0123</importTaskId><status>active</status></ImportImageResponse>"
                else:
                    status, message = states[min(polls["n"], len(states) - 1)]; polls["n"] += 1
                    extra = "<imageId>ami-0777</imageId><snapshotDetailSet><item><snapshotId>snap-0888</snapshotId></item></snapshotDetailSet>" if status == "completed" else ""
                    xml = ("<DescribeImportImageTasksResponse><importImageTaskSet><item><importTaskId>import-ami-0123</importTaskId>"
                           "<status>%s</status><statusMessage>%s</statusMessage><progress>%d</progress>%s</item></importImageTaskSet>"
                           "</DescribeImportImageTasksResponse>") % (status, message, polls["n"] * 10, extra)
                data = xml.encode(); self.send_response(200)
                self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
        http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
        """

    func withStub<T>(_ states: [[String]], _ body: (EC2Client, () -> [String]) async throws -> T) async throws -> T {
        let directory = NSTemporaryDirectory() + "kiln-import-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.script.write(toFile: directory + "/stub.py", atomically: true, encoding: .utf8)
        let statesJSON = String(decoding: try JSONSerialization.data(withJSONObject: states), as: UTF8.self)
        let server = try await LocalHTTPServer.start("python3", [directory + "/stub.py", "{PORT}", statesJSON, directory + "/requests.log"])
        defer { server.stop() }
        let ec2 = EC2Client(configuration: TestConfig.configuration(endpoint: server.url), transport: URLSessionTransport(),
                            retry: TestConfig.fastRetry)
        let log = { ((try? String(contentsOfFile: directory + "/requests.log", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init) }
        return try await body(ec2, log)
    }

    @Test func pollsUntilCompleted() async throws {
        try await withStub([["active", "pending"], ["active", "converting"], ["active", "booting"], ["completed", ""]]) { ec2, log in
            let id = try await ec2.importImage(bucket: "images", key: "web.raw", format: "raw", architecture: "x86_64",
                                               bootMode: "legacy-bios", description: "web", clientToken: "tok")
            #expect(id == "import-ami-0123")
            let task = try await ec2.waitForImportImageTask(id: id, interval: .milliseconds(50), timeout: .seconds(20))
            #expect(task.imageID == "ami-0777")
            #expect(task.snapshotIDs == ["snap-0888"])
            let requests = log()
            #expect(requests.first == "Action=ImportImage&Version=2016-11-15&DiskContainer.1.Format=raw"
                + "&DiskContainer.1.UserBucket.S3Bucket=images&DiskContainer.1.UserBucket.S3Key=web.raw"
                + "&Architecture=x86_64&BootMode=legacy-bios&Platform=Linux&ClientToken=tok&Description=web")
            #expect(requests.count == 5)
        }
    }

    @Test func failsAtTheFirstFailedPollWithAWSsMessage() async throws {
        let message = "ClientError: Unknown OS / Missing OS files."
        try await withStub([["active", "pending"], ["deleting", message], ["deleted", message]]) { ec2, log in
            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: EC2Client.ImportImageFailed.self) {
                _ = try await ec2.waitForImportImageTask(id: "import-ami-0123", interval: .milliseconds(50), timeout: .seconds(600))
            }
            #expect(error == EC2Client.ImportImageFailed(taskID: "import-ami-0123", status: "deleting", statusMessage: message))
            #expect(clock.now - started < .seconds(10))
            #expect(log().count == 2)
        }
    }

    @Test func givesUpAtTheTimeout() async throws {
        try await withStub([["active", "converting"]]) { ec2, _ in
            let error = await #expect(throws: EC2Client.ImportImageTimedOut.self) {
                _ = try await ec2.waitForImportImageTask(id: "import-ami-0123", interval: .milliseconds(100), timeout: .milliseconds(350))
            }
            #expect(error?.lastState.hasPrefix("active converting") == true)
        }
    }
}

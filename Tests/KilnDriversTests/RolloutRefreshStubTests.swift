import Foundation
import KilnCore
import KilnTemplate
import KilnTestSupport
import Testing
@testable import KilnAWS
@testable import KilnDrivers

/// Instance refreshes against a Python stub on 127.0.0.1 that plays a refresh's states (moto has
/// no instance refresh) and forwards every other Auto Scaling call to moto_server.
@Suite(.enabled(if: Moto.enabled), .timeLimit(.minutes(3)))
struct RolloutRefreshStubTests {
    /// argv: port, moto URL, JSON list of [Status, StatusReason, PercentageComplete] answered by
    /// successive polls once a refresh was started (the last repeats), request log path.
    static let script = """
        import http.server, json, sys, urllib.parse, urllib.request, urllib.error
        from xml.sax.saxutils import escape
        port, moto, states, log = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
        refresh = {"id": None, "polls": 0, "cancelled": False}
        def member(group):
            status, reason, percent = states[min(refresh["polls"], len(states) - 1)]
            refresh["polls"] += 1
            return ("<member><InstanceRefreshId>%s</InstanceRefreshId><AutoScalingGroupName>%s</AutoScalingGroupName>"
                    "<Status>%s</Status><StatusReason>%s</StatusReason><PercentageComplete>%d</PercentageComplete>"
                    "<InstancesToUpdate>2</InstancesToUpdate></member>") % (refresh["id"], escape(group), status, escape(reason), percent)
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_GET(self):
                self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
            def answer(self, status, data):
                self.send_response(status); self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fields = urllib.parse.parse_qs(body.decode())
                action = fields["Action"][0]
                with open(log, "a") as out: out.write(body.decode() + "\\n")
                if action == "StartInstanceRefresh":
                    refresh["id"] = "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b"
                    xml = ("<StartInstanceRefreshResponse><StartInstanceRefreshResult><InstanceRefreshId>%s</InstanceRefreshId>"
                           "</StartInstanceRefreshResult></StartInstanceRefreshResponse>") % refresh["id"]
                elif action == "DescribeInstanceRefreshes":
                    members = member(fields["AutoScalingGroupName"][0]) if refresh["id"] else ""
                    xml = ("<DescribeInstanceRefreshesResponse><DescribeInstanceRefreshesResult><InstanceRefreshes>%s"
                           "</InstanceRefreshes></DescribeInstanceRefreshesResult></DescribeInstanceRefreshesResponse>") % members
                else:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                    request = urllib.request.Request(moto + "/", data=body, method="POST", headers=headers)
                    try:
                        with urllib.request.urlopen(request, timeout=30) as response: self.answer(response.status, response.read())
                    except urllib.error.HTTPError as error:
                        self.answer(error.code, error.read())
                    return
                self.answer(200, xml.encode())
        http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
        """

    struct Stub {
        var world: RolloutWorld
        var requests: () -> [String]
    }

    /// moto with a template `web` (version 1) and a group `web-asg` on its $Latest, and the stub in front.
    func withStub<T>(_ states: [[Any]], _ body: (Stub) async throws -> T) async throws -> T {
        try await Moto.with { moto in
            let directory = NSTemporaryDirectory() + "kiln-refresh-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try Self.script.write(toFile: directory + "/stub.py", atomically: true, encoding: .utf8)
            let statesJSON = String(decoding: try JSONSerialization.data(withJSONObject: states), as: UTF8.self)
            let server = try await LocalHTTPServer.start("python3", [directory + "/stub.py", "{PORT}", moto.url.absoluteString,
                                                                     statesJSON, directory + "/requests.log"])
            defer { server.stop() }
            let world = RolloutWorld(moto: moto.url, autoScalingEndpoint: server.url)
            let base = try await world.registerImage("web-0")
            _ = try await world.ec2.createLaunchTemplate(name: "web", data: .init(imageID: base.0, instanceType: "t3.micro"),
                                                         versionDescription: nil, tags: [:])
            try await world.createGroup("web-asg", template: "web", version: "$Latest")
            let log = { ((try? String(contentsOfFile: directory + "/requests.log", encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init) }
            return try await body(Stub(world: world, requests: log))
        }
    }

    static let spec = AMISpec(region: RolloutWorld.region, name: "web-1", launchTemplate: LaunchTemplateSpec(name: "web"),
                              autoScalingGroup: AutoScalingGroupSpec(name: "web-asg", refresh: InstanceRefreshSpec(
                                  minHealthyPercentage: 90, instanceWarmup: .seconds(60), timeout: .seconds(60))))

    @Test func followsARefreshToSuccess() async throws {
        try await withStub([["Pending", "", 0], ["InProgress", "Waiting for instances to warm up", 50],
                            ["Successful", "", 100]]) { stub in
            let image = try await stub.world.registerImage("web-1")
            let transport = AMIRecordingTransport()
            let events = EventRecorder()
            let result = try await stub.world.rollOut(Self.spec, image: image, transport: transport, events: events)
            #expect(result.details["instanceRefreshID"] == "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b")
            #expect(result.details["instanceRefreshStatus"] == "Successful")
            #expect(result.details["launchTemplateVersion"] == "2")
            #expect(transport.fields(of: "StartInstanceRefresh") == [
                "AutoScalingGroupName=web-asg", "Strategy=Rolling", "Preferences.MinHealthyPercentage=90",
                "Preferences.InstanceWarmup=60",
            ])
            // The group follows $Latest: nothing of it changes but its instances.
            #expect(transport.changes == ["CreateLaunchTemplateVersion", "StartInstanceRefresh"])
            #expect(events.text.contains("InProgress, 50% done, 2 instances to update"))
            let polls = stub.requests().filter { $0.hasPrefix("Action=DescribeInstanceRefreshes") }
            #expect(polls.count == 4)                      // one check before, three while following
        }
    }

    @Test func aFailedRefreshIsReportedWithAWSsReason() async throws {
        let reason = "Instance refresh failed: instances did not pass health checks (i-0abc terminated)"
        try await withStub([["InProgress", "", 10], ["Failed", reason, 30]]) { stub in
            let image = try await stub.world.registerImage("web-1")
            let transport = AMIRecordingTransport()
            let error = await #expect(throws: KilnError.self) {
                _ = try await stub.world.rollOut(Self.spec, image: image, transport: transport)
            }
            let message = try #require(error?.message)
            #expect(error?.code == .publish)
            #expect(message.contains("ended Failed: \(reason)"), "\(message)")
            #expect(message.contains("The AMI \(image.0) (snapshot \(image.1)) was published in eu-west-1 and stays"))
            #expect(message.contains("changed: created version 2 of launch template web"))
            #expect(message.contains("started instance refresh 08b91cf7-8fa6-48af-b6a6-d227f40f1b9b of group web-asg"))
            #expect(!message.contains("not changed"), "every step ran: \(message)")
        }
    }

    @Test func aCancelledRefreshIsReportedWithAWSsReason() async throws {
        try await withStub([["InProgress", "", 20], ["Cancelling", "", 20],
                            ["Cancelled", "Cancelled by user request (aws autoscaling cancel-instance-refresh)", 20]]) { stub in
            let image = try await stub.world.registerImage("web-1")
            let spec = AMISpec(region: RolloutWorld.region, name: "web-1", launchTemplate: LaunchTemplateSpec(name: "web"),
                               autoScalingGroup: Self.spec.autoScalingGroup, retention: RetentionSpec(keep: 1, namePattern: "web-*"))
            let transport = AMIRecordingTransport()
            let error = await #expect(throws: KilnError.self) {
                _ = try await stub.world.rollOut(spec, image: image, transport: transport)
            }
            let message = try #require(error?.message)
            #expect(message.contains("ended Cancelled: Cancelled by user request"), "\(message)")
            #expect(message.contains("not changed: older images (retention did not run)"))
            #expect(!transport.changes.contains("DeregisterImage"))
            #expect(try await stub.world.ec2.describeOwnedImages(namePattern: "web-*").count == 2)
        }
    }

    @Test func aRefreshThatOutlastsTheTimeoutGoesOnInAWS() async throws {
        try await withStub([["InProgress", "", 40]]) { stub in
            let image = try await stub.world.registerImage("web-1")
            var spec = Self.spec
            spec.autoScalingGroup?.refresh?.timeout = .milliseconds(600)
            let error = await #expect(throws: KilnError.self) {
                _ = try await stub.world.rollOut(spec, image: image, transport: AMIRecordingTransport())
            }
            let message = try #require(error?.message)
            #expect(message.contains("had not ended after"), "\(message)")
            #expect(message.contains("InProgress, 40% done"))
            #expect(error?.hint?.contains("cancel-instance-refresh --auto-scaling-group-name web-asg") == true)
        }
    }

    @Test func interruptingTheWaitSaysTheRefreshGoesOn() async throws {
        try await withStub([["InProgress", "", 10]]) { stub in
            let image = try await stub.world.registerImage("web-1")
            let transport = AMIRecordingTransport()
            let world = stub.world
            let task = Task { try await world.rollOut(Self.spec, image: image, transport: transport) }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            // Following: one poll after the check made before anything changed.
            while transport.actions.filter({ $0 == "DescribeInstanceRefreshes" }).count < 2 {
                guard clock.now < deadline else { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            task.cancel()
            let error = await #expect(throws: KilnError.self) { _ = try await task.value }
            #expect(error?.code == .cancelled)
            #expect(error?.message.contains("interrupted while following instance refresh") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("instance refresh 08b91cf7-8fa6-48af-b6a6-d227f40f1b9b goes on in AWS") == true)
            #expect(error?.message.contains("was published in eu-west-1 and stays") == true)
        }
    }

    @Test func aRunningRefreshIsRefusedBeforeAnythingChanges() async throws {
        try await withStub([["InProgress", "", 40]]) { stub in
            // Someone else's refresh is running: the stub has one as soon as it was started once.
            _ = try await AutoScalingClient(configuration: stub.world.configuration, transport: URLSessionTransport())
                .startInstanceRefresh(group: "web-asg", preferences: .init())
            let transport = AMIRecordingTransport()
            let error = await #expect(throws: KilnError.self) {
                _ = try await stub.world.publisher(transport).publish(disk: "/nonexistent.qcow2", ami: Self.spec, build: "web",
                                                                      tags: [:], scratch: "/nonexistent", events: EventRecorder())
            }
            #expect(error?.message.contains("already has instance refresh 08b91cf7-8fa6-48af-b6a6-d227f40f1b9b InProgress") == true,
                    "\(error?.message ?? "")")
            #expect(transport.changes.isEmpty)
        }
    }
}

import Foundation

/// `scripts/lib/ec2-import-stub.py` on a free port of 127.0.0.1: EC2's import calls, playing an
/// import task's states (moto has no ImportImage). Stop it with `stop()`.
public enum EC2ImportStub {
    public static let script: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/scripts/lib/ec2-import-stub.py"
    }()

    /// `states`: [status, statusMessage] for successive polls (the last repeats); every request
    /// body is appended to `log`, one line each.
    public static func start(states: [[String]], log: String) async throws -> LocalHTTPServer {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: states), as: UTF8.self)
        return try await LocalHTTPServer.start("python3", [script, "{PORT}", json, log])
    }

    /// The calls logged so far: action, then all fields.
    public static func calls(in log: String) -> [(action: String, fields: [String: String])] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in
            var fields: [String: String] = [:]
            for pair in line.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    .map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
                fields[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            return (fields["Action"] ?? "", fields)
        }
    }
}

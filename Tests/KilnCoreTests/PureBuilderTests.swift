import Foundation
import KilnCore
import KilnTemplate
import Testing

@Suite struct PureBuilderTests {
    @Test func shellCommandExportsEnvChangesDirectoryAndRemovesTheScript() {
        let step = ShellStep(body: .inline("true"), env: ["B": "it's", "A": "1"], workingDirectory: "/srv/app",
                             executeCommand: "sudo -E sh -e '{{path}}'", expectDisconnect: false, timeout: nil)
        #expect(ShellCommand.render(step, scriptPath: "/tmp/s.sh") ==
            "export A='1' && export B='it'\\''s' && cd '/srv/app' && sudo -E sh -e '/tmp/s.sh'; kiln_status=$?; rm -f '/tmp/s.sh'; exit $kiln_status")
    }

    @Test func credentialsForRootUseTheSSHCredentialAndOverwriteOrAppendThroughTmpfiles() throws {
        let strings = CredentialSeed.oemStrings(username: "root", authorizedKey: "ssh-ed25519 AAAA kiln", hostPrivateKey: "KEY\n")
        #expect(strings.count == 2)
        #expect(strings.first == "io.systemd.credential:ssh.authorized_keys.root=ssh-ed25519 AAAA kiln")
        let value = try #require(strings.last?.split(separator: "=", maxSplits: 1).last)
        #expect(strings.last?.hasPrefix("io.systemd.credential.binary:tmpfiles.extra=") == true)
        let decoded = String(decoding: try #require(Data(base64Encoded: String(value))), as: UTF8.self)
        // A disk resumed from the step cache holds an earlier build's keys: overwrite the host key, append ours.
        #expect(decoded == "f+~ /etc/ssh/ssh_host_ed25519_key 0600 root root - S0VZCg==\n"
                + "w+~ /root/.ssh/authorized_keys - - - - \(Data("ssh-ed25519 AAAA kiln\n".utf8).base64EncodedString())\n")
    }

    @Test func credentialsForAnotherUserUseBinaryTmpfiles() throws {
        let strings = CredentialSeed.oemStrings(username: "deploy", authorizedKey: "ssh-ed25519 AAAA kiln", hostPrivateKey: "KEY\n")
        #expect(strings.count == 1)
        let value = try #require(strings.first?.split(separator: "=", maxSplits: 1).last)
        let decoded = String(decoding: try #require(Data(base64Encoded: String(value))), as: UTF8.self)
        #expect(decoded.contains("d /home/deploy/.ssh 0700 deploy deploy -\n"))
        #expect(decoded.contains("f~ /home/deploy/.ssh/authorized_keys 0600 deploy deploy - "))
        #expect(decoded.contains("w+~ /home/deploy/.ssh/authorized_keys - - - - "))
    }

    @Test func fileUploadFollowsTheTrailingSlashRule() throws {
        let root = NSTemporaryDirectory() + "kiln-upload-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/site/css", withIntermediateDirectories: true)
        try Data("a".utf8).write(to: URL(fileURLWithPath: root + "/site/index.html"))
        try Data("b".utf8).write(to: URL(fileURLWithPath: root + "/site/css/x.css"))

        let contents = try FileUploadPlan.make(FileUpload(source: root + "/site/", destination: "/var/www", isDirectory: true))
        #expect(contents.directories == ["/var/www", "/var/www/css"])
        #expect(contents.files.map(\.guest) == ["/var/www/css/x.css", "/var/www/index.html"])

        let whole = try FileUploadPlan.make(FileUpload(source: root + "/site", destination: "/var/www/", isDirectory: true))
        #expect(whole.directories.first == "/var/www/site")

        let single = try FileUploadPlan.make(FileUpload(source: root + "/site/index.html", destination: "/srv/", isDirectory: false))
        #expect(single.files.map(\.guest) == ["/srv/index.html"])
    }

    @Test func fileUploadFollowsLinksInsideTheSourceAndRefusesLinksLeadingOut() throws {
        let root = NSTemporaryDirectory() + "kiln-upload-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/site/sub", withIntermediateDirectories: true)
        try Data("a".utf8).write(to: URL(fileURLWithPath: root + "/site/sub/a.txt"))
        try Data("secret".utf8).write(to: URL(fileURLWithPath: root + "/private.key"))
        try fm.createSymbolicLink(atPath: root + "/site/inside", withDestinationPath: "sub/a.txt")
        let inside = try FileUploadPlan.make(FileUpload(source: root + "/site/", destination: "/srv", isDirectory: true))
        #expect(inside.files.map(\.guest) == ["/srv/inside", "/srv/sub/a.txt"])

        // Out of the source, dangling, or a directory (its contents would not be listed: refused rather than left empty).
        for (name, target) in [("up", "../private.key"), ("absolute", "/etc/hostname"), ("dir", "/etc"), ("dangling", "/nonexistent"),
                               ("inside-dir", "sub")] {
            try fm.createSymbolicLink(atPath: root + "/site/" + name, withDestinationPath: target)
            let error = #expect(throws: KilnError.self) {
                try FileUploadPlan.make(FileUpload(source: root + "/site/", destination: "/srv", isDirectory: true))
            }
            #expect(error?.message.contains(root + "/site/" + name) == true, "\(name): \(String(describing: error))")
            try fm.removeItem(atPath: root + "/site/" + name)
        }
    }

    @Test func redactorMasksLongestSecretFirst() {
        let redact = Redactor(["abc", "abcdef"])
        #expect(redact("x abcdef y abc") == "x <sensitive> y <sensitive>")
    }
}

import Testing
@testable import KilnSSH

@Suite struct UploadCommandTests {
    @Test func quotesForTheShell() {
        #expect(UploadCommand.shellQuote("plain") == "'plain'")
        #expect(UploadCommand.shellQuote("it's $HOME") == #"'it'\''s $HOME'"#)
    }

    @Test func writesThroughATemporaryFileBesideTheTarget() {
        let command = UploadCommand.make(path: "/etc/my dir/file", mode: 0o640)
        #expect(command == "mkdir -p '/etc/my dir' && (umask 077 && cat > '/etc/my dir/file'.kiln-upload.$$)"
            + " && chmod 0640 '/etc/my dir/file'.kiln-upload.$$"
            + " && mv -f '/etc/my dir/file'.kiln-upload.$$ '/etc/my dir/file'"
            + " || { rc=$?; rm -f '/etc/my dir/file'.kiln-upload.$$; exit $rc; }")
    }

    @Test func skipsMkdirWithoutADirectory() {
        #expect(!UploadCommand.make(path: "file", mode: 0o644).contains("mkdir"))
        #expect(!UploadCommand.make(path: "/file", mode: 0o644).contains("mkdir"))
        #expect(UploadCommand.parentDirectory(of: "a/b/c") == "a/b")
    }
}

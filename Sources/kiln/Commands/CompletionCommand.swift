import ArgumentParser

struct CompletionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completion",
        abstract: "Print a shell completion script.",
        discussion: "bash: kiln completion bash > /etc/bash_completion.d/kiln")

    @Argument(help: "bash, zsh or fish.")
    var shell: String

    func run() throws {
        guard let kind = CompletionShell(rawValue: shell) else {
            throw ValidationError("unknown shell \(shell); choose bash, zsh or fish")
        }
        print(Kiln.completionScript(for: kind))
    }
}

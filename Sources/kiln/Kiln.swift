import ArgumentParser
import Foundation
import KilnCore

@main
struct Kiln: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Build golden virtual-machine images from a template, on the local hypervisor.",
        discussion: """
            Exit codes: 0 success, 1 build failed, 2 bad template or arguments, 3 output exists \
            (use --force), 130 interrupted (SIGINT/SIGTERM; cleanup ran).
            """,
        version: version,
        subcommands: [BuildCommand.self, ValidateCommand.self, InspectCommand.self, CacheCommand.self,
                      CleanCommand.self, AMICommand.self, VersionCommand.self, CompletionCommand.self]
    )

    /// As ArgumentParser's, except that bad arguments exit 2 (documented) rather than EX_USAGE (64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error).rawValue == 64 {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Flags every command takes.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print events as JSON lines (one object per line).")
    var json = false

    @Flag(name: [.short, .long], help: "Print only steps, warnings and errors.")
    var quiet = false
}

/// Prints an error the way every command does and turns it into the documented exit code.
enum Failure {
    static func exit(_ error: any Error, renderer: ConsoleRenderer? = nil) -> ExitCode {
        let print: (String) -> Void = { text in
            if let renderer { renderer.line(text, toStandardError: true) } else {
                FileHandle.standardError.write(Data((text + "\n").utf8))
            }
        }
        switch error {
        case let kiln as KilnError:
            print("error: \(kiln.description)")
            return ExitCode(kiln.code.exitCode)
        case is CancellationError:
            print("error: interrupted; cleanup ran")
            return ExitCode(130)
        case let exit as ExitCode:
            return exit
        default:
            print("error: \(error)")
            return ExitCode(1)
        }
    }
}

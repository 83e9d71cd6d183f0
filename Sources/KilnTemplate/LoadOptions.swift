import Foundation

/// What the command line adds to a template: variable values, build filters, overrides.
public struct LoadOptions: Sendable {
    /// `--var name=value`, in command-line order (a later one wins).
    public var variables: [(name: String, value: String)]
    /// `--var-file` paths (YAML or JSON mappings of name to value); a later file wins, `--var` beats files.
    public var variableFiles: [String]
    /// Build names to keep (`*` globs); empty keeps all.
    public var only: [String]
    /// Build names to drop (`*` globs).
    public var except: [String]
    /// For `${env.NAME}`, `KILN_VAR_<name>` and `~` in host paths.
    public var environment: [String: String]
    /// For `${build.timestamp}`.
    public var now: Date
    /// `--output-dir`: replaces every build's output directory (relative to the working directory);
    /// the build name is appended when several builds are selected.
    public var outputDirectoryOverride: String?
    /// Check that the host files the template references exist.
    public var checkFiles: Bool
    /// Where relative command-line paths (`--var-file`, `--output-dir`) resolve; default: the process's.
    public var workingDirectory: String

    public init(variables: [(name: String, value: String)] = [],
                variableFiles: [String] = [],
                only: [String] = [],
                except: [String] = [],
                environment: [String: String] = ProcessInfo.processInfo.environment,
                now: Date = Date(),
                outputDirectoryOverride: String? = nil,
                checkFiles: Bool = true,
                workingDirectory: String = FileManager.default.currentDirectoryPath) {
        self.variables = variables
        self.variableFiles = variableFiles
        self.only = only
        self.except = except
        self.environment = environment
        self.now = now
        self.outputDirectoryOverride = outputDirectoryOverride
        self.checkFiles = checkFiles
        self.workingDirectory = workingDirectory
    }
}

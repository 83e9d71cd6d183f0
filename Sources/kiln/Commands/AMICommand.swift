import ArgumentParser
import Foundation
import KilnCore
import KilnDrivers
import KilnTemplate

struct AMICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ami",
        abstract: "Work on published AMIs.",
        subcommands: [Prune.self])

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deregister older AMIs of a name pattern and delete their snapshots, keeping the newest and every image in use.",
            discussion: """
                With TEMPLATE, each selected build's publish.ami.retention says what to keep (--build picks one build; \
                --name-pattern, --keep and --region override). Without it, give --name-pattern and --keep, or --image. \
                An image stays while a launch template's default or latest version, an Auto Scaling group or an \
                instance that is not terminated uses it. Unused launch template versions that Kiln made in the \
                build's launch template (or --launch-template) go first, then the images, then their snapshots.
                """)

        @Argument(help: "A template whose builds set publish.ami.retention.", completion: .file(extensions: ["yaml", "yml", "json"]))
        var template: String?

        @Option(name: .long, help: "The build of TEMPLATE whose retention applies (default: every build that sets one).")
        var build: String?

        @Option(name: .customLong("var"), help: ArgumentHelp("Set a template variable (repeatable).", valueName: "name=value"))
        var variables: [String] = []

        @Option(name: .customLong("var-file"), help: ArgumentHelp("Read template variables from a file (repeatable).", valueName: "path"))
        var variableFiles: [String] = []

        @Option(name: .long, help: "The AWS region (default: the template's, else AWS_REGION and the profile's).")
        var region: String?

        @Option(name: .customLong("name-pattern"), help: "Images whose name matches this EC2 name filter (* and ? wildcards).")
        var namePattern: String?

        @Option(name: .long, help: "How many of the newest images to keep (1 to 1000).")
        var keep: Int?

        @Option(name: .customLong("launch-template"), help: "The launch template whose unused Kiln versions may be deleted.")
        var launchTemplate: String?

        @Option(name: .customLong("image"), help: ArgumentHelp("Remove exactly this image and its snapshots (repeatable); refused while it is in use.",
                                                               valueName: "ami-id"))
        var images: [String] = []

        @Flag(name: .customLong("dry-run"), help: "Show what would be removed and why the rest stays; change nothing.")
        var dryRun = false

        func validate() throws {
            if !images.isEmpty {
                guard template == nil, namePattern == nil, keep == nil else {
                    throw ValidationError("--image removes exactly the images named; give no TEMPLATE, --name-pattern or --keep with it")
                }
                for image in images where image.range(of: #"^ami-[0-9a-f]{8,17}$"#, options: .regularExpression) == nil {
                    throw ValidationError("--image \(image): not an image id like ami-0123456789abcdef0")
                }
                return
            }
            if template == nil, namePattern == nil || keep == nil {
                throw ValidationError("give a TEMPLATE, or --name-pattern and --keep (or --image)")
            }
            if let keep, !(1...1000).contains(keep) { throw ValidationError("--keep \(keep): must be between 1 and 1000") }
            if let namePattern, !ImageNamePattern.hasFixedPart(namePattern) {
                throw ValidationError("--name-pattern \(namePattern): would match every image of the account; give it a fixed part")
            }
        }

        struct Job {
            var label: String
            var region: String?
            var namePattern: String
            var keep: Int
            var launchTemplate: String?
        }

        func run() async throws {
            let jobs: [Job]
            do { jobs = images.isEmpty ? try self.jobs() : [] } catch { throw Failure.exit(error) }
            let command = self
            // Ctrl-C stops between two removals, never inside one.
            let work = Task<Void, any Error> {
                if !command.images.isEmpty {
                    try await command.removeExactly()
                    return
                }
                var failed = false
                for job in jobs {
                    failed = try await command.prune(job) || failed
                }
                if failed { throw ExitCode(1) }
            }
            let signals = SignalCancellation(cancelling: work) { name, _ in
                FileHandle.standardError.write(Data("kiln: \(name) received: stopping after the current step\n".utf8))
            }
            do {
                try await work.value
            } catch {
                withExtendedLifetime(signals) {}
                throw Failure.exit(signals.received ? CancellationError() : error)
            }
            withExtendedLifetime(signals) {}
        }

        func jobs() throws -> [Job] {
            guard let template else {
                return [Job(label: "", region: region, namePattern: namePattern!, keep: keep!, launchTemplate: launchTemplate)]
            }
            var arguments = [template]
            for variable in variables { arguments += ["--var", variable] }
            for file in variableFiles { arguments += ["--var-file", file] }
            if let build { arguments += ["--only", build] }
            // Pruning builds nothing: the template's images and scripts need not be on this machine.
            let loaded = try TemplateOptions.parse(arguments).load(checkFiles: false)
            let jobs = loaded.builds.compactMap { build -> Job? in
                guard let ami = build.publish?.ami, ami.retention != nil || (namePattern != nil && keep != nil) else { return nil }
                return Job(label: " (build \(build.name))", region: region ?? ami.region,
                           namePattern: namePattern ?? ami.retention!.namePattern, keep: keep ?? ami.retention!.keep,
                           launchTemplate: launchTemplate ?? ami.launchTemplate?.name)
            }
            if jobs.isEmpty {
                throw KilnError(.template, "\(template): no selected build sets publish.ami.retention",
                                hint: "add retention: { keep: N } under publish.ami, or pass --name-pattern and --keep")
            }
            return jobs
        }

        /// Prints the plan and, unless a dry run, carries it out; true when something failed.
        func prune(_ job: Job) async throws -> Bool {
            let pruner = try ImagePruner(region: job.region)
            let plan = try await pruner.plan(namePattern: job.namePattern, keep: job.keep, ownTemplate: job.launchTemplate)
            print("\(pruner.region): \(plan.kept.count + plan.removed.count) images named '\(job.namePattern)'\(job.label); "
                  + "keeping the newest \(job.keep) and those in use")
            return try await carryOut(plan, pruner)
        }

        func removeExactly() async throws {
            let pruner = try ImagePruner(region: region)
            let plan = try await pruner.planRemoval(of: images, ownTemplate: launchTemplate)
            print("\(pruner.region): removing \(images.joined(separator: ", ")), which nothing uses")
            if try await carryOut(plan, pruner) { throw ExitCode(1) }
        }

        func carryOut(_ plan: RetentionPlan, _ pruner: ImagePruner) async throws -> Bool {
            for line in plan.lines { print("  " + line) }
            let images = "\(plan.removed.count) image\(plan.removed.count == 1 ? "" : "s")"
            let snapshots = "\(plan.snapshotCount) snapshot\(plan.snapshotCount == 1 ? "" : "s")"
            if dryRun {
                print("dry run: would deregister \(images) and delete \(snapshots); nothing was changed")
                return false
            }
            if plan.actions.isEmpty {
                print("nothing to remove")
                return false
            }
            let outcome = try await pruner.execute(plan) { line in print("  " + line) }
            print("removed \(outcome.deregistered.count) of \(images) and \(outcome.deletedSnapshots.count) of \(snapshots)")
            for failure in outcome.failures { FileHandle.standardError.write(Data("error: \(failure)\n".utf8)) }
            return !outcome.failures.isEmpty
        }
    }
}

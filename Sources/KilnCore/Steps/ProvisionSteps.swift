import Foundation
import KilnTemplate

extension StepContext {
    func provision(_ spec: ProvisionerSpec, _ state: inout BuildState) async throws {
        do {
            try await provisionOverSSH(spec, &state)
        } catch {
            // Whatever the SSH layer said, a guest that is no longer running is the real story.
            if !(error is CancellationError), let vm = state.vm, let current = try await stoppedState(of: vm) {
                throw KilnError(.provisioner, "\(spec.location): the guest stopped during \(spec.title) (its domain is \(current.rawValue): powered off, crashed or killed)\n"
                                + consoleTail(state), hint: "a provisioner that powers the guest off ends the build; use reboot: {} to restart it")
            }
            throw error
        }
    }

    /// The guest's state if it stopped, waiting a little: SSH drops before QEMU has quite exited.
    /// A lost hypervisor connection is thrown: it is the real story then.
    private func stoppedState(of vm: any VirtualMachine) async throws -> VMState? {
        for _ in 0..<15 {
            let current = try await vm.polledState()
            if [.shutoff, .gone, .crashed].contains(current) { return current }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    private func provisionOverSSH(_ spec: ProvisionerSpec, _ state: inout BuildState) async throws {
        guard let shell = state.shell else { throw KilnError(.internal, "provisioner without an SSH session") }
        switch spec.kind {
        case .shell(let step):
            try await runShell(step, spec: spec, shell: shell, state: state)
        case .file(let upload):
            do {
                try await uploadFiles(upload, shell: shell)
            } catch let error as KilnError where error.code != .cancelled {
                throw KilnError(error.code, "\(spec.location): \(spec.title): \(error.message)", hint: error.hint, cause: error.cause)
            }
        case .reboot(let timeout):
            try await reboot(timeout: timeout, spec: spec, &state)
        default:
            throw KilnError(.internal, "offline provisioner \(spec.title) reached the SSH runner")
        }
    }

    // MARK: shell

    private func runShell(_ step: ShellStep, spec: ProvisionerSpec, shell: any GuestShell, state: BuildState) async throws {
        let scripts: [(name: String, hostPath: String)]
        switch step.body {
        case .inline(let text):
            let path = state.workDirectory + "/inline-\(UUID().uuidString.prefix(8)).sh"
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            scripts = [("inline", path)]
        case .scripts(let paths):
            scripts = paths.map { (($0 as NSString).lastPathComponent, $0) }
        }
        for script in scripts {
            let guestPath = "/tmp/kiln-\(state.id)-\(UUID().uuidString.prefix(8)).sh"
            try await shell.upload(file: script.hostPath, to: guestPath, mode: 0o700)
            let command = ShellCommand.render(step, scriptPath: guestPath)
            let tail = OutputTail(limit: 20)
            let build = name, title = spec.title, events = self.events
            let status: Int32
            do {
                let run = { @Sendable in
                    try await shell.run(command) { stream, line in
                        tail.append(line)
                        events.emit(.output(build: build, step: title, stream: stream, line: line))
                    }
                }
                if let timeout = step.timeout {
                    do {
                        status = try await withTimeout(timeout, run)
                    } catch is TimeoutError {
                        throw KilnError(.provisioner, "\(spec.location): \(spec.title) did not finish within \(DurationFormat.string(timeout))")
                    }
                } else {
                    status = try await run()
                }
            } catch is GuestDisconnected {
                if step.expectDisconnect {
                    info("\(spec.title): the connection closed, as expect_disconnect allows")
                    return
                }
                throw KilnError(.provisioner, "\(spec.location): \(spec.title) lost the SSH connection before it finished",
                                hint: "set expect_disconnect: true if the script reboots or restarts the network on purpose")
            }
            if status != 0 {
                throw KilnError(.provisioner, """
                    \(spec.location): \(spec.title) (\(script.name)) exited with status \(status)
                    last lines of its output:
                    \(tail.lines.map { "  | " + $0 }.joined(separator: "\n"))
                    """)
            }
        }
    }

    // MARK: files

    private func uploadFiles(_ upload: FileUpload, shell: any GuestShell) async throws {
        let plan = try FileUploadPlan.make(upload)
        if !plan.directories.isEmpty {
            let dirs = plan.directories.map(ShellCommand.quote).joined(separator: " ")
            let tail = OutputTail(limit: 20)
            let status = try await shell.run("mkdir -p \(dirs)") { _, line in tail.append(line) }
            guard status == 0 else {
                throw KilnError(.provisioner, "cannot create directories in the guest: \(dirs) (mkdir exited with status \(status))"
                                + tail.lines.map { "\n  | " + $0 }.joined())
            }
        }
        info("uploading \(plan.files.count) file(s) to \(upload.destination)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for file in plan.files {
                if inFlight >= 4 {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask { try await shell.upload(file: file.host, to: file.guest, mode: nil) }
                inFlight += 1
            }
            try await group.waitForAll()
        }
    }

    // MARK: reboot

    private func reboot(timeout: Duration, spec: ProvisionerSpec, _ state: inout BuildState) async throws {
        guard let shell = state.shell, let endpoint = state.endpoint, let vm = state.vm else { return }
        let before = try await Self.bootID(shell)
        info("rebooting the guest")
        // A session open across the reboot is dead without anyone saying so (QEMU's user network
        // never resets it), so every call on one is abandoned after a bound, not awaited.
        _ = try? await withAbandonAfter(.seconds(20)) { try await shell.run("reboot || /sbin/reboot") { _, _ in } }
        _ = try? await withAbandonAfter(.seconds(5)) { await shell.close() }
        state.shell = nil
        let deadline = ContinuousClock.now + timeout
        var lastError = "none"
        let guests = drivers.guests
        while ContinuousClock.now < deadline {
            try Task.checkCancellation()
            // A login can reach the old system while it goes down: its session then never answers.
            let probe = try? await withAbandonAfter(.seconds(20)) { () -> (any GuestShell, String) in
                let fresh = try await guests.connect(endpoint)
                do {
                    return (fresh, try await Self.bootID(fresh))
                } catch {
                    Task { await fresh.close() }
                    throw error
                }
            }
            if let (fresh, now) = probe {
                if now != before {
                    state.shell = fresh
                    cleanup.push("close ssh session") { await fresh.close() }
                    info("the guest is back after reboot")
                    return
                }
                _ = try? await withAbandonAfter(.seconds(5)) { await fresh.close() }
            } else {
                lastError = "ssh not answering"
            }
            let current = try await vm.polledState()
            if [.shutoff, .gone, .crashed].contains(current) {
                throw KilnError(.provisioner, "\(spec.location): the guest powered off instead of rebooting\n" + consoleTail(state))
            }
            try await Task.sleep(for: options.pollInterval)
        }
        throw KilnError(.provisioner, "\(spec.location): the guest did not come back within \(DurationFormat.string(timeout)) after reboot (\(lastError))\n"
                        + consoleTail(state))
    }

    private static func bootID(_ shell: any GuestShell) async throws -> String {
        let id = LockedText()
        _ = try await shell.run("cat /proc/sys/kernel/random/boot_id") { stream, line in
            if stream == .stdout { id.set(line) }
        }
        return id.value
    }
}

/// The last lines of a provisioner's output, for the error message.
final class OutputTail: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer: [String] = []
    private let limit: Int
    init(limit: Int) { self.limit = limit }
    func append(_ line: String) {
        lock.withLock {
            buffer.append(line)
            if buffer.count > limit { buffer.removeFirst(buffer.count - limit) }
        }
    }
    var lines: [String] { lock.withLock { buffer } }
}

final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    func set(_ value: String) { lock.withLock { text = value } }
    var value: String { lock.withLock { text } }
}

import Foundation
import KilnTemplate

extension StepContext {
    func ensureKeys(_ state: inout BuildState) throws -> BuildKeys {
        if let keys = state.keys { return keys }
        let keys = try drivers.keys.generate(in: state.workDirectory + "/keys")
        state.keys = keys
        return keys
    }

    func boot(_ state: inout BuildState) async throws {
        if state.accelerator == nil {
            let (accelerator, reason) = try await drivers.hypervisor.chooseAccelerator(build.machine.accelerator)
            state.accelerator = accelerator
            state.acceleratorReason = reason
            info("accelerator: \(reason)")
        }
        var oemStrings: [String] = []
        if plan.seed == .credentials {
            let keys = try ensureKeys(&state)
            oemStrings = CredentialSeed.oemStrings(username: build.ssh.username, authorizedKey: keys.authorizedKeyLine,
                                                   hostPrivateKey: keys.hostPrivateKeyOpenSSH)
        }
        let config = VMConfig(
            name: state.domainName, cpus: build.machine.cpus, memoryMiB: build.machine.memoryMiB,
            accelerator: state.accelerator ?? .tcg, firmware: build.machine.firmware,
            diskPath: state.workDisk, diskFormat: "qcow2", consoleLogPath: state.consoleLog,
            guestSSHPort: build.ssh.port, kernelBoot: build.machine.kernelBoot, smbiosOEMStrings: oemStrings,
            ownerPID: getpid(), workDirectory: state.workDirectory)
        let vm: any VirtualMachine
        do {
            vm = try await drivers.hypervisor.start(config)
        } catch {
            throw KilnError.wrap(error, as: .hypervisor, "cannot start the virtual machine")
        }
        cleanup.push("destroy domain \(vm.name)") { try await vm.destroy() }
        state.vm = vm
        state.bootCount += 1
        if let placement = vm.placement { info(placement) }
    }

    func endpoint(_ state: inout BuildState, host: String, port: Int) throws -> GuestEndpoint {
        let ssh = build.ssh
        if plan.seed != .none {
            let keys = try ensureKeys(&state)
            return GuestEndpoint(host: host, port: port, username: ssh.username,
                                 credentials: .privateKey(path: keys.clientPrivateKeyPath),
                                 hostKey: .pinned(keys.hostPublicKeyLine))
        }
        let credentials: GuestCredentials
        if let key = ssh.privateKeyFile {
            credentials = .privateKey(path: key)
        } else if let password = ssh.password {
            credentials = .password(password)
        } else {
            throw KilnError(.template, "\(build.location): seed: none needs ssh.password or ssh.private_key to log in")
        }
        return GuestEndpoint(host: host, port: port, username: ssh.username, credentials: credentials, hostKey: .acceptAny)
    }

    func waitForSSH(_ state: inout BuildState) async throws {
        guard let vm = state.vm else { throw KilnError(.internal, "wait for ssh without a domain") }
        let (host, port) = try await vm.sshEndpoint()
        let endpoint = try endpoint(&state, host: host, port: port)
        if case .acceptAny = endpoint.hostKey {
            warning("seed: none — the guest's host key cannot be pinned; accepting the key it presents")
        }
        state.endpoint = endpoint
        let start = ContinuousClock.now
        let deadline = start + build.ssh.timeout
        let poller = SSHPoller(connector: drivers.guests, endpoint: endpoint, vm: vm, interval: options.pollInterval,
                               deadline: deadline)
        switch try await poller.run() {
        case let .connected(shell, attempts):
            state.shell = shell
            cleanup.push("close ssh session") { await shell.close() }
            info("ssh: \(endpoint.username)@\(host):\(port) answered after \(String(format: "%.1f", (ContinuousClock.now - start).seconds)) s (\(attempts) attempts)")
        case let .gaveUp(lastError, attempts, stopped?):
            throw KilnError(.ssh, "the guest stopped (\(stopped.rawValue)) before SSH answered on \(host):\(port) (\(attempts) attempts; last error: \(lastError))\n"
                            + consoleTail(state), hint: "the console log above shows how far it got")
        case let .gaveUp(lastError, attempts, nil):
            throw KilnError(.ssh, """
                timed out after \(DurationFormat.string(build.ssh.timeout)) waiting for SSH on \(host):\(port) as \(endpoint.username) \
                (\(attempts) attempts); last error: \(lastError)
                \(consoleTail(state))
                """, hint: "raise ssh.timeout, or check that the image starts an SSH server on port \(build.ssh.port) and gets an address by DHCP")
        }
    }

    func consoleTail(_ state: BuildState, lines: Int = 30) -> String {
        guard let data = FileManager.default.contents(atPath: state.consoleLog), !data.isEmpty else {
            return "serial console (\(state.consoleLog)): empty"
        }
        let text = String(decoding: data, as: UTF8.self)
            .replacingOccurrences(of: "\u{1B}\\[[0-9;?]*[A-Za-z]", with: "", options: .regularExpression)
        let tail = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).suffix(lines)
        return "last \(tail.count) lines of the serial console (\(state.consoleLog)):\n"
            + tail.map { "  | " + $0.filter { !$0.isASCII || $0.asciiValue! >= 32 } }.joined(separator: "\n")
    }

    /// When no offline generalize will remove the seeded key, take it out before powering off,
    /// so an image never leaves Kiln with a key of the build's in it.
    func removeBuildKeyIfKept(_ shell: any GuestShell, isLastShutdown: Bool, _ state: BuildState) async throws {
        guard plan.seed != .none, let keys = state.keys else { return }
        let generalizeRemovesIt = build.generalize.enabled && build.generalize.operations.contains(.sshKeys)
        guard isLastShutdown, !generalizeRemovesIt else { return }
        let blob = keys.authorizedKeyLine.split(separator: " ").dropFirst().first.map(String.init) ?? keys.authorizedKeyLine
        let file = build.ssh.username == "root" ? "/root/.ssh/authorized_keys" : "/home/\(build.ssh.username)/.ssh/authorized_keys"
        // Also the lines of earlier builds whose disk this one resumed from the step cache (same comment).
        let command = "f=\(ShellCommand.quote(file)); [ -f \"$f\" ] && { grep -v -F \(ShellCommand.quote(blob)) \"$f\" | grep -v -E ' kiln-build$' > \"$f.kiln\"; cat \"$f.kiln\" > \"$f\"; rm -f \"$f.kiln\"; }; true"
        _ = try await shell.run(command) { _, _ in }
        info("removed the build's SSH key from \(file)")
    }

    func shutdown(_ state: inout BuildState) async throws {
        guard let vm = state.vm else { return }
        let shutdowns = plan.steps.filter { if case .shutdown = $0 { return true }; return false }.count
        state.shutdownCount += 1
        let isLastShutdown = state.shutdownCount == shutdowns
        if let shell = state.shell {
            try await removeBuildKeyIfKept(shell, isLastShutdown: isLastShutdown, state)
            if let command = build.shutdown.command {
                info("shutting down: \(command)")
                _ = try? await withTimeout(.seconds(30)) {
                    try await shell.run(command) { _, _ in }
                }
            } else {
                info("shutting down: ACPI power button")
                try await vm.requestShutdown()
            }
            await shell.close()
            state.shell = nil
        } else {
            try await vm.requestShutdown()
        }
        let deadline = ContinuousClock.now + build.shutdown.timeout
        var forcingOff = true
        while ContinuousClock.now < deadline {
            let current = try await vm.state()
            if current == .shutoff || current == .gone {
                forcingOff = false
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        if forcingOff {
            warning("the guest did not power off within \(DurationFormat.string(build.shutdown.timeout)); forcing it off (the disk may need fsck)")
        }
        if let note = try await vm.finish(forcingOff: forcingOff) { info(note) }
        state.vm = nil
    }
}

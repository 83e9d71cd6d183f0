import Foundation
import KilnTemplate

extension StepContext {
    /// Once the base is known: the deepest cached disk state this build can start from, and the
    /// steps that remain after it (nil: nothing cached, run the plan as it is).
    func resumeFromStepCache(_ state: inout BuildState) async -> [PlannedStep]? {
        guard let layers = drivers.layers, let base = state.base else { return nil }
        let keys = StepCacheKeys(build: build, base: base, seed: plan.seed)
        state.stepKeys = keys
        state.stepCache = StepCacheReport(resumedAfter: nil, skipped: 0, stored: 0, finalKey: keys.final)
        if let final = keys.final, let layer = await layers.lookup(final) {
            adopt(layer, &state)
            state.stepCache?.resumedAfter = "final"
            state.stepCache?.skipped = build.provisioners.count
            info("step cache: the finished disk is cached (layer \(layer.key.prefix(12))); only the outputs are made")
            let tail = plan.steps.drop { step in
                if case .export = step { return false }
                return true
            }
            return [.createWorkDisk(size: nil)] + tail
        }
        for index in keys.afterProvisioner.indices.reversed() {
            guard let layer = await layers.lookup(keys.afterProvisioner[index]) else { continue }
            adopt(layer, &state)
            let spec = build.provisioners[index]
            state.stepCache?.resumedAfter = spec.title
            state.stepCache?.skipped = index + 1
            info("step cache: resuming after \(spec.title) (\(index + 1) of \(build.provisioners.count) provisioners cached, "
                 + "layer \(layer.key.prefix(12)))")
            var rest = build
            rest.provisioners = Array(build.provisioners[(index + 1)...])
            return [.createWorkDisk(size: nil)] + BuildPlan(rest).steps.drop { step in
                switch step {
                case .resolveBase, .createWorkDisk: return true
                default: return false
                }
            }
        }
        return nil
    }

    /// The output directory exists and no --force: fine only when it holds exactly what this build
    /// would make (then nothing runs), else the usual refusal.
    func confirmUpToDate(_ existing: ExistingOutputs, _ state: inout BuildState) throws {
        let expected = Set(build.outputs.map { ExportNaming.fileName(build: name, output: $0) })
        guard existing.isCurrent(finalKey: state.stepKeys?.final, names: expected) else {
            throw Self.outputExists(build.outputDirectory)
        }
        state.artifacts = existing.artifacts
        info("outputs in \(build.outputDirectory) are up to date: the template, the files it reads and the base image "
             + "are unchanged (pass --force to make them again)")
    }

    private func adopt(_ layer: CachedLayer, _ state: inout BuildState) {
        state.cacheParent = layer
        cleanup.push("release cached layer \(layer.key.prefix(12))") { layer.release() }
    }

    /// After a provisioner: freeze the running guest's disk (writes move to a new overlay) and keep
    /// the frozen image as this step's layer. A failure here only costs the cache, never the build.
    func checkpoint(after spec: ProvisionerSpec, _ state: inout BuildState) async {
        guard let layers = drivers.layers, let base = state.base, state.cacheChainIntact, let keys = state.stepKeys,
              let index = build.provisioners.firstIndex(where: { $0.location == spec.location }),
              index < keys.afterProvisioner.count else { return }
        guard let vm = state.vm, let shell = state.shell else { return }
        let started = ContinuousClock.now
        do {
            // Flush the guest's page cache so that the frozen image holds what the step wrote.
            _ = try await shell.run("sync", output: { _, _ in })
            let overlay = state.workDirectory + "/disk-\(state.diskGeneration + 1).qcow2"
            try await vm.redirectDiskWrites(to: overlay)
            state.diskGeneration += 1
            let frozen = state.workDisk
            state.workDisk = overlay
            try await store(frozen, key: keys.afterProvisioner[index], description: spec.title, layers, base, &state)
        } catch {
            state.cacheChainIntact = false
            warning("step cache: could not keep the disk after \(spec.title) (\(error)); the build goes on without caching later steps")
            return
        }
        if let layer = state.cacheParent, layer.key == keys.afterProvisioner[index] {
            info("step cache: kept the disk after \(spec.title) (\(ByteFormat.string(layer.size)), "
                 + String(format: "%.1f s", (ContinuousClock.now - started).seconds) + ")")
        }
    }

    /// Before the export: keep the finished disk, so that an unchanged rebuild only makes outputs.
    func storeFinalLayer(_ state: inout BuildState) async {
        guard let layers = drivers.layers, let base = state.base, state.cacheChainIntact,
              let final = state.stepCache?.finalKey, state.stepCache?.resumedAfter != "final" else { return }
        do {
            try await store(state.workDisk, key: final, description: "finished disk", layers, base, &state)
        } catch {
            warning("step cache: could not keep the finished disk (\(error))")
        }
    }

    private func store(_ image: String, key: String, description: String, _ layers: any LayerCache,
                       _ base: ResolvedBase, _ state: inout BuildState) async throws {
        let label = "\(description) of build \(name) (\(build.location))"
        guard let layer = try await layers.store(image, key: key, parent: state.cacheParent, base: base,
                                                 description: label) else {
            state.cacheChainIntact = false
            info("step cache: another build stored \(description) first; this build caches no further steps")
            return
        }
        adopt(layer, &state)
        state.stepCache?.stored += 1
    }
}

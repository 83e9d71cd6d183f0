import Foundation
import KilnCore
import Testing
@testable import KilnDrivers

/// The step cache's store with real qcow2 files: publishing, chains, never replacing, pruning.
@Suite("Step layer store")
struct StepLayerStoreTests {
    struct Fixture {
        let dir: BaseImageTempDir
        let store: StepLayerStore
        let base: ResolvedBase

        init() async throws {
            dir = try BaseImageTempDir()
            store = StepLayerStore(cache: CacheDirectory(dir.file("cache")), maximumBytes: nil)
            try await Subprocess.run("qemu-img", ["create", "-q", "-f", "qcow2", dir.file("base.qcow2"), "16M"])
            base = ResolvedBase(path: dir.file("base.qcow2"), format: "qcow2", virtualSize: 16 << 20, origin: "test")
        }

        /// A frozen overlay on `backing` with one written cluster.
        func overlay(_ name: String, on backing: String) async throws -> String {
            let path = dir.file(name)
            try await Subprocess.run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, path])
            try await Subprocess.run("qemu-io", ["-c", "write -P 0x5a 0 64k", path])
            return path
        }
    }

    @Test func storedLayersFormAChainThatLooksUpWhole() async throws {
        let fixture = try await Fixture()
        let first = try await fixture.overlay("one.qcow2", on: fixture.base.path)
        let layer1 = try #require(try await fixture.store.store(first, key: "k1", parent: nil, base: fixture.base, description: "one"))
        let second = try await fixture.overlay("two.qcow2", on: first)
        let layer2 = try #require(try await fixture.store.store(second, key: "k2", parent: layer1, base: fixture.base, description: "two"))
        layer1.release()
        layer2.release()

        // The stored layer points at its cached parent, not at the build's own file.
        let chain = try await Subprocess.run("qemu-img", ["info", "--backing-chain", "-U", layer2.path])
        #expect(chain.stdoutText.contains("backing file: \(layer1.path)"), "\(chain.stdoutText)")
        let check = try await Subprocess.run("qemu-img", ["check", layer2.path], check: false)
        #expect(check.status == 0, "\(check.stdoutText)")

        let found = try #require(await fixture.store.lookup("k2"))
        #expect(found.path == layer2.path && found.description == "two")
        found.release()
        #expect(await fixture.store.lookup("missing") == nil)
    }

    @Test func aKeyIsNeverReplaced() async throws {
        let fixture = try await Fixture()
        let image = try await fixture.overlay("one.qcow2", on: fixture.base.path)
        let stored = try #require(try await fixture.store.store(image, key: "k", parent: nil, base: fixture.base, description: "first"))
        let again = try await fixture.store.store(image, key: "k", parent: nil, base: fixture.base, description: "second")
        #expect(again == nil)
        stored.release()
        #expect(await fixture.store.lookup("k")?.description == "first")
        #expect(fixture.dir.contents("cache/layers").filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test func pruneSparesHeldLayersAndTakesChildrenWithTheirParent() async throws {
        let fixture = try await Fixture()
        let first = try await fixture.overlay("one.qcow2", on: fixture.base.path)
        let layer1 = try #require(try await fixture.store.store(first, key: "k1", parent: nil, base: fixture.base, description: "one"))
        let second = try await fixture.overlay("two.qcow2", on: first)
        let layer2 = try #require(try await fixture.store.store(second, key: "k2", parent: layer1, base: fixture.base, description: "two"))
        layer1.release()

        let inventory = StepLayerInventory(store: fixture.store)
        // k2 is held (a build uses it), so neither it nor its parent goes.
        #expect(inventory.prune(olderThan: nil, all: true).isEmpty)
        #expect(inventory.list().first { $0.key == "k2" }?.inUse == true)
        layer2.release()
        let removed = inventory.prune(olderThan: nil, all: true)
        #expect(Set(removed.map(\.key)) == ["k1", "k2"])
        #expect(fixture.dir.contents("cache/layers").isEmpty)
    }

    @Test func aLayerWhoseBaseIsGoneIsBrokenAndNeverUsed() async throws {
        let fixture = try await Fixture()
        let image = try await fixture.overlay("one.qcow2", on: fixture.base.path)
        try #require(try await fixture.store.store(image, key: "k", parent: nil, base: fixture.base, description: "one")).release()
        try FileManager.default.removeItem(atPath: fixture.base.path)
        #expect(await fixture.store.lookup("k") == nil)
        #expect(StepLayerInventory(store: fixture.store).list().first?.broken == true)
        #expect(StepLayerInventory(store: fixture.store).prune(olderThan: nil, all: false).map(\.key) == ["k"])
    }
}

extension BaseImageTempDir {
    fileprivate func contents(_ sub: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: file(sub))) ?? []).sorted()
    }
}

import Foundation
import Testing
import KilnTemplate
@testable import KilnAWS
@testable import KilnDrivers

/// The pure decisions: what a new launch template version sets, what happens to a group, and
/// which images retention keeps.
@Suite struct RolloutPlanningTests {
    @Test func aVersionSetsTheImageAndOnlyWhatTheTemplateSays() {
        let bare = RolloutPlanning.launchTemplateData(LaunchTemplateSpec(name: "web"), imageID: "ami-1", userData: nil)
        #expect(bare == EC2Client.LaunchTemplateData(imageID: "ami-1"))
        #expect(bare.parameters().map { "\($0.0)=\($0.1)" } == ["LaunchTemplateData.ImageId=ami-1"])

        let full = RolloutPlanning.launchTemplateData(
            LaunchTemplateSpec(name: "web", instanceType: "t3.small", keyName: "k", securityGroupIDs: ["sg-12345678"],
                               instanceTags: ["team": "web"], volumeTags: ["backup": "no"], market: .spot, maxPrice: "0.1"),
            imageID: "ami-2", userData: Data("#!/bin/sh\necho hi\n".utf8))
        #expect(full == EC2Client.LaunchTemplateData(
            imageID: "ami-2", instanceType: "t3.small", keyName: "k", securityGroupIDs: ["sg-12345678"],
            userData: "IyEvYmluL3NoCmVjaG8gaGkK",
            tagSpecifications: [.init(resourceType: "instance", tags: ["team": "web"]), .init(resourceType: "volume", tags: ["backup": "no"])],
            marketType: "spot", spotMaxPrice: "0.1"))
        // On-demand is what a version without market options launches: nothing to send.
        let onDemand = RolloutPlanning.launchTemplateData(LaunchTemplateSpec(name: "web", market: .onDemand), imageID: "ami-3", userData: nil)
        #expect(onDemand.marketType == nil)
    }

    @Test func theVersionDescriptionSaysWhoMadeIt() {
        let text = RolloutPlanning.versionDescription(
            tags: ["kiln:version": "0.1.0", "kiln:build": "web", "kiln:template-hash": "0123456789abcdef"], imageID: "ami-9")
        #expect(text == "Kiln 0.1.0: build web, template 0123456789abcdef, image ami-9")
        #expect(text.hasPrefix(RolloutPlanning.versionDescriptionPrefix))
    }

    static func version(market: String? = nil, interfaces: Bool = false) -> EC2Client.LaunchTemplateVersion {
        EC2Client.LaunchTemplateVersion(templateID: "lt-1", templateName: "web", number: 3, description: nil, isDefault: true,
                                        imageID: "ami-0", marketType: market, hasNetworkInterfaces: interfaces)
    }

    @Test func whatAVersionBasedOnTheDefaultCannotDo() {
        #expect(RolloutPlanning.check(LaunchTemplateSpec(name: "web", market: .onDemand), against: Self.version(market: "spot"))?
            .message.contains("launches spot instances") == true)
        #expect(RolloutPlanning.check(LaunchTemplateSpec(name: "web", market: .spot), against: Self.version(market: "spot")) == nil)
        #expect(RolloutPlanning.check(LaunchTemplateSpec(name: "web", securityGroupIDs: ["sg-12345678"]),
                                      against: Self.version(interfaces: true))?.message.contains("network interfaces") == true)
        #expect(RolloutPlanning.check(LaunchTemplateSpec(name: "web"), against: Self.version(market: "spot", interfaces: true)) == nil)
    }

    static let template = EC2Client.LaunchTemplate(id: "lt-1", name: "web", defaultVersion: 3, latestVersion: 3, tags: [:])

    static func group(_ reference: AutoScalingClient.LaunchTemplateReference? = nil,
                      mixed: [AutoScalingClient.LaunchTemplateReference] = [], configuration: String? = nil) -> AutoScalingClient.Group {
        AutoScalingClient.Group(name: "web-asg", launchTemplate: reference, mixedInstancesTemplates: mixed,
                                launchConfigurationName: configuration, minSize: 1, maxSize: 4, desiredCapacity: 2)
    }

    func plan(_ group: AutoScalingClient.Group, setDefault: Bool = true,
              spec: AutoScalingGroupSpec = AutoScalingGroupSpec(name: "web-asg")) -> Result<RolloutPlanning.GroupPlan, RolloutPlanning.Problem> {
        RolloutPlanning.groupPlan(spec, group: group, template: Self.template, templateName: "web", setDefault: setDefault)
    }

    @Test func groupsThatFollowTheTemplateAreLeftAlone() throws {
        for reference in [AutoScalingClient.LaunchTemplateReference(id: "lt-1", version: "$Latest"),
                          .init(name: "web", version: "$Default"), .init(id: "lt-1")] {
            let result = try plan(Self.group(reference)).get()
            #expect(!result.changesGroup, "\(reference)")
        }
        #expect(try !plan(Self.group(mixed: [.init(name: "web", version: "$Latest")]), setDefault: false).get().changesGroup)
    }

    @Test func aPinnedVersionIsRepointed() throws {
        let result = try plan(Self.group(.init(id: "lt-1", version: "2"))).get()
        #expect(result.repoint)
        #expect(result.update(group: "web-asg", templateID: "lt-1", newVersion: 4)
            == AutoScalingClient.GroupUpdate(name: "web-asg", launchTemplate: .init(id: "lt-1", version: "4")))
    }

    @Test func sizesChangeOnlyWhenSet() throws {
        let result = try plan(Self.group(.init(id: "lt-1", version: "$Latest")),
                              spec: AutoScalingGroupSpec(name: "web-asg", desired: 3)).get()
        #expect(result.update(group: "web-asg", templateID: "lt-1", newVersion: 4)
            == AutoScalingClient.GroupUpdate(name: "web-asg", desiredCapacity: 3))
        let refused = plan(Self.group(.init(id: "lt-1", version: "$Latest")), spec: AutoScalingGroupSpec(name: "web-asg", desired: 9))
        #expect(throws: RolloutPlanning.Problem.self) { try refused.get() }
    }

    @Test func groupsTheNewVersionCannotReachAreRefused() {
        let cases: [(AutoScalingClient.Group, Bool, String)] = [
            (Self.group(.init(name: "other", version: "$Latest")), true, "does not launch from launch template 'web' (lt-1); it uses launch template other version $Latest"),
            (Self.group(configuration: "old-lc"), true, "it uses launch configuration old-lc"),
            (Self.group(.init(id: "lt-1", version: "$Default")), false, "set_default is false"),
            (Self.group(mixed: [.init(id: "lt-1", version: "7")]), true, "pins version 7 of launch template 'web' in its mixed instances policy"),
        ]
        for (group, setDefault, message) in cases {
            let result = plan(group, setDefault: setDefault)
            guard case .failure(let problem) = result else {
                Issue.record("\(group) was accepted")
                continue
            }
            #expect(problem.message.contains(message), "\(problem.message)")
        }
        let missing = RolloutPlanning.groupPlan(AutoScalingGroupSpec(name: "web-asg"), group: Self.group(), template: nil,
                                                templateName: "web", setDefault: true)
        #expect(throws: RolloutPlanning.Problem.self) { try missing.get() }
    }
}

@Suite struct RetentionDecisionTests {
    static func image(_ number: Int, state: String = "available", snapshots: [String]? = nil) -> EC2Client.OwnedImage {
        EC2Client.OwnedImage(id: "ami-\(number)", name: "web-\(number)", state: state,
                             creationDate: String(format: "2024-05-%02dT10:00:00.000Z", number),
                             snapshotIDs: snapshots ?? ["snap-\(number)"])
    }

    @Test func keepsTheNewestAndRemovesTheRestInDependencyOrder() {
        let images = [1, 4, 2, 5, 3].map { Self.image($0) }
        let plan = RetentionPlan.decide(images: images, keep: 2, namePattern: "web-*", protected: [], uses: [:], staleVersions: [])
        #expect(plan.kept.map(\.image.id) == ["ami-5", "ami-4"])
        #expect(plan.kept.map(\.reasons) == [[.newest(rank: 1, keep: 2)], [.newest(rank: 2, keep: 2)]])
        #expect(plan.removed.map(\.id) == ["ami-3", "ami-2", "ami-1"])
        #expect(plan.actions == [
            .deregisterImage(id: "ami-3", name: "web-3"), .deregisterImage(id: "ami-2", name: "web-2"),
            .deregisterImage(id: "ami-1", name: "web-1"),
            .deleteSnapshot(id: "snap-3", imageID: "ami-3"), .deleteSnapshot(id: "snap-2", imageID: "ami-2"),
            .deleteSnapshot(id: "snap-1", imageID: "ami-1"),
        ])
    }

    @Test func imagesInUseStayWithTheirReasons() {
        let images = (1...4).map { Self.image($0) }
        let uses: [String: [ImageUse]] = [
            "ami-1": [.instance(id: "i-1", state: "running")],
            "ami-2": [.launchTemplateVersion(template: "web", templateID: "lt-1", version: 2, role: "default"),
                      .group(name: "web-asg", through: "launch template web version 2 ($Default)")],
        ]
        let plan = RetentionPlan.decide(images: images, keep: 1, namePattern: "web-*", protected: [], uses: uses, staleVersions: [])
        #expect(plan.removed.map(\.id) == ["ami-3"])
        #expect(plan.lines == [
            "keep   ami-4 web-4: newest 1 of 1 kept",
            "keep   ami-2 web-2: in use by launch template web (lt-1) version 2 (default); "
                + "in use by group web-asg (launch template web version 2 ($Default))",
            "keep   ami-1 web-1: in use by instance i-1 (running)",
            "remove ami-3 web-3 and snapshot snap-3",
        ])
    }

    @Test func theImageJustBuiltIsNeverRemoved() {
        // Clocks disagree: the new image looks older than the others.
        let images = [Self.image(1), Self.image(8), Self.image(9)]
        let plan = RetentionPlan.decide(images: images, keep: 1, namePattern: "web-*", protected: ["ami-1"], uses: [:], staleVersions: [])
        #expect(plan.kept.map(\.image.id) == ["ami-9", "ami-1"])
        #expect(plan.kept[1].reasons == [.justBuilt])
        #expect(plan.removed.map(\.id) == ["ami-8"])
    }

    @Test func pendingImagesStayAndFailedOnesDoNotCount() {
        let images = [Self.image(5, state: "pending"), Self.image(4, state: "failed"), Self.image(3), Self.image(2),
                      Self.image(1, state: "deregistered")]
        let plan = RetentionPlan.decide(images: images, keep: 1, namePattern: "web-*", protected: [], uses: [:], staleVersions: [])
        #expect(plan.kept.map(\.image.id) == ["ami-5", "ami-3"])
        #expect(plan.kept[0].reasons == [.notReady(state: "pending")])
        #expect(plan.removed.map(\.id) == ["ami-4", "ami-2"])
        #expect(plan.lines.last == "remove ami-2 web-2 and snapshot snap-2")
        #expect(plan.lines.contains("remove ami-4 web-4 (failed) and snapshot snap-4"))
    }

    @Test func sharedSnapshotsStayWithTheKeptImage() {
        let images = [Self.image(2, snapshots: ["snap-shared", "snap-2"]), Self.image(1, snapshots: ["snap-shared"])]
        let plan = RetentionPlan.decide(images: images, keep: 1, namePattern: "web-*", protected: [], uses: [:], staleVersions: [])
        #expect(plan.actions == [.deregisterImage(id: "ami-1", name: "web-1")])
    }

    @Test func staleKilnVersionsGoBeforeTheirImage() {
        let images = (1...3).map { Self.image($0) }
        let stale = [StaleLaunchTemplateVersion(templateID: "lt-1", templateName: "web", version: 1, imageID: "ami-1"),
                     StaleLaunchTemplateVersion(templateID: "lt-1", templateName: "web", version: 4, imageID: "ami-1"),
                     StaleLaunchTemplateVersion(templateID: "lt-1", templateName: "web", version: 2, imageID: "ami-2")]
        let plan = RetentionPlan.decide(images: images, keep: 2, namePattern: "web-*", protected: [], uses: [:], staleVersions: stale)
        #expect(plan.actions == [
            .deleteLaunchTemplateVersions(templateID: "lt-1", templateName: "web", versions: [1, 4], imageID: "ami-1"),
            .deregisterImage(id: "ami-1", name: "web-1"),
            .deleteSnapshot(id: "snap-1", imageID: "ami-1"),
        ])
    }

    @Test func namesBreakTiesOfCreationDates() {
        let images = ["web-a", "web-c", "web-b"].enumerated().map {
            EC2Client.OwnedImage(id: "ami-\($0.offset)", name: $0.element, creationDate: "2024-05-01T10:00:00.000Z")
        }
        let plan = RetentionPlan.decide(images: images, keep: 1, namePattern: "web-*", protected: [], uses: [:], staleVersions: [])
        #expect(plan.kept.map(\.image.name) == ["web-c"])
        #expect(plan.removed.map(\.name) == ["web-b", "web-a"])
    }

    @Test func explicitRemovalKeepsOnlyWhatIsInUse() {
        let plan = RetentionPlan.decide(images: [Self.image(1), Self.image(2)], keep: 0, namePattern: "", protected: [],
                                        uses: ["ami-2": [.instance(id: "i-9", state: "stopped")]], staleVersions: [])
        #expect(plan.removed.map(\.id) == ["ami-1"])
        #expect(plan.kept.map(\.image.id) == ["ami-2"])
    }
}

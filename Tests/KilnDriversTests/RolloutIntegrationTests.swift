import Foundation
import KilnCore
import KilnTemplate
import KilnTestSupport
import Testing
@testable import KilnAWS
@testable import KilnDrivers

/// Launch templates, groups and retention against moto_server on 127.0.0.1 (KILN_INTEGRATION=1).
/// moto keeps neither SourceVersion nor every launch template field, so the requests Kiln sent
/// are checked too.
@Suite(.enabled(if: Moto.enabled), .timeLimit(.minutes(3)))
struct RolloutIntegrationTests {
    @Test func createsTheTemplateWhenMissingAndTagsIt() async throws {
        try await Moto.with { server in
            let world = RolloutWorld(moto: server.url)
            let image = try await world.registerImage("web-1")
            let transport = AMIRecordingTransport()
            let spec = AMISpec(region: RolloutWorld.region, name: "web-1", launchTemplate: LaunchTemplateSpec(
                name: "web", create: true, instanceType: "t3.micro", keyName: "deploy", instanceTags: ["team": "web"],
                market: .spot, maxPrice: "0.04"))
            let result = try await world.rollOut(spec, image: image, transport: transport)

            let template = try #require(try await world.ec2.describeLaunchTemplates(names: ["web"]).first)
            #expect(result.details["launchTemplateID"] == template.id)
            #expect(result.details["launchTemplateVersion"] == "1")
            #expect(result.details["launchTemplateCreated"] == "true")
            #expect(template.tags == ["kiln:build": "web", "kiln:template-hash": "0123456789abcdef", "kiln:version": "0.1.0"])
            let version = try #require(try await world.ec2.describeLaunchTemplateVersions(templateID: template.id).first)
            #expect(version.imageID == image.0)
            #expect(version.isDefault)
            #expect(version.marketType == "spot")
            #expect(version.description == "Kiln 0.1.0: build web, template 0123456789abcdef, image \(image.0)")
            #expect(transport.changes == ["CreateLaunchTemplate"])
            #expect(transport.fields(of: "CreateLaunchTemplate")?.contains("LaunchTemplateData.InstanceMarketOptions.SpotOptions.MaxPrice=0.04") == true)
            #expect(transport.fields(of: "CreateLaunchTemplate")?.contains("TagSpecification.1.ResourceType=launch-template") == true)
        }
    }

    @Test func addsAVersionFromTheDefaultChangingOnlyTheImage() async throws {
        try await Moto.with { server in
            let world = RolloutWorld(moto: server.url)
            let old = try await world.registerImage("web-1")
            let template = try await world.ec2.createLaunchTemplate(
                name: "web", data: .init(imageID: old.0, instanceType: "t3.micro", keyName: "deploy"), versionDescription: nil, tags: [:])
            // A later version that is not the default: the new one must be based on the default (1), not the latest.
            _ = try await world.ec2.createLaunchTemplateVersion(templateID: template.id, sourceVersion: nil,
                                                                data: .init(imageID: old.0, instanceType: "m5.large"),
                                                                versionDescription: "experiment")
            let new = try await world.registerImage("web-2")
            let transport = AMIRecordingTransport()
            let spec = AMISpec(region: RolloutWorld.region, name: "web-2",
                               launchTemplate: LaunchTemplateSpec(name: "web", setDefault: true))
            let result = try await world.rollOut(spec, image: new, transport: transport)

            #expect(transport.changes == ["CreateLaunchTemplateVersion", "ModifyLaunchTemplate"])
            #expect(transport.fields(of: "CreateLaunchTemplateVersion") == [
                "LaunchTemplateId=\(template.id)", "SourceVersion=1",
                "VersionDescription=Kiln 0.1.0: build web, template 0123456789abcdef, image \(new.0)",
                "LaunchTemplateData.ImageId=\(new.0)",
            ])
            #expect(transport.fields(of: "ModifyLaunchTemplate") == ["LaunchTemplateId=\(template.id)", "SetDefaultVersion=3"])
            #expect(result.details["launchTemplateVersion"] == "3")
            #expect(result.details["launchTemplateDefault"] == "true")
            let now = try #require(try await world.ec2.describeLaunchTemplates(names: ["web"]).first)
            #expect(now.defaultVersion == 3)
            #expect(now.latestVersion == 3)
            let versions = try await world.ec2.describeLaunchTemplateVersions(templateID: template.id, versions: ["$Default"])
            #expect(versions.map(\.imageID) == [new.0])
        }
    }

    @Test func aMissingTemplateIsRefusedBeforeAnyUpload() async throws {
        try await Moto.with { server in
            let world = RolloutWorld(moto: server.url)
            let transport = AMIRecordingTransport()
            let spec = AMISpec(region: RolloutWorld.region, name: "web-1", launchTemplate: LaunchTemplateSpec(name: "no-such-template"))
            let error = await #expect(throws: KilnError.self) {
                _ = try await world.publisher(transport).publish(disk: "/nonexistent.qcow2", ami: spec, build: "web",
                                                                 tags: [:], scratch: "/nonexistent", events: EventRecorder())
            }
            #expect(error?.code == .publish)
            #expect(error?.message == "cannot roll the AMI out: launch template 'no-such-template' does not exist in eu-west-1; "
                    + "nothing was uploaded or changed")
            #expect(error?.hint?.contains("create: true") == true)
            #expect(transport.changes.isEmpty)
            #expect(transport.blockPuts.isEmpty)
            let images = try await world.ec2.describeOwnedImages(namePattern: "*")
            #expect(images.isEmpty)
        }
    }

    @Test func aGroupThatDoesNotUseTheTemplateIsRefusedBeforeAnyUpload() async throws {
        try await Moto.with { server in
            let world = RolloutWorld(moto: server.url)
            let image = try await world.registerImage("base")
            _ = try await world.ec2.createLaunchTemplate(name: "web", data: .init(imageID: image.0), versionDescription: nil, tags: [:])
            _ = try await world.ec2.createLaunchTemplate(name: "other", data: .init(imageID: image.0), versionDescription: nil, tags: [:])
            try await world.createGroup("web-asg", template: "other", version: "$Latest")
            let transport = AMIRecordingTransport()
            let spec = AMISpec(region: RolloutWorld.region, name: "web-1",
                               launchTemplate: LaunchTemplateSpec(name: "web", setDefault: true),
                               autoScalingGroup: AutoScalingGroupSpec(name: "web-asg", desired: 1))
            let error = await #expect(throws: KilnError.self) {
                _ = try await world.publisher(transport).publish(disk: "/nonexistent.qcow2", ami: spec, build: "web",
                                                                 tags: [:], scratch: "/nonexistent", events: EventRecorder())
            }
            #expect(error?.message.contains("group 'web-asg' does not launch from launch template 'web'") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("it uses launch template other version $Latest") == true)
            #expect(error?.message.hasSuffix("nothing was uploaded or changed") == true)
            #expect(transport.changes.isEmpty)
            let group = try #require(try await world.autoScaling.describeGroups(names: ["web-asg"]).first)
            #expect(group.desiredCapacity == 0)
            #expect(try await world.ec2.describeLaunchTemplates(names: ["web"]).first?.latestVersion == 1)
        }
    }

    @Test func aPinnedGroupIsPointedAtTheNewVersionAndResizedOnlyAsAsked() async throws {
        try await Moto.with { server in
            let world = RolloutWorld(moto: server.url)
            let old = try await world.registerImage("web-1")
            _ = try await world.ec2.createLaunchTemplate(name: "web", data: .init(imageID: old.0, instanceType: "t3.micro"),
                                                         versionDescription: nil, tags: [:])
            try await world.createGroup("web-asg", template: "web", version: "1", max: 3)
            let new = try await world.registerImage("web-2")
            let transport = AMIRecordingTransport()
            let spec = AMISpec(region: RolloutWorld.region, name: "web-2", launchTemplate: LaunchTemplateSpec(name: "web"),
                               autoScalingGroup: AutoScalingGroupSpec(name: "web-asg", desired: 1))
            let events = EventRecorder()
            let result = try await world.rollOut(spec, image: new, transport: transport, events: events)

            #expect(transport.changes == ["CreateLaunchTemplateVersion", "UpdateAutoScalingGroup"])
            let template = try #require(result.details["launchTemplateID"])
            #expect(transport.fields(of: "UpdateAutoScalingGroup") == [
                "AutoScalingGroupName=web-asg", "LaunchTemplate.LaunchTemplateId=\(template)", "LaunchTemplate.Version=2",
                "DesiredCapacity=1",
            ])
            let group = try #require(try await world.autoScaling.describeGroups(names: ["web-asg"]).first)
            #expect(group.launchTemplate?.version == "2")
            #expect((group.minSize, group.maxSize, group.desiredCapacity) == (0, 3, 1))
            #expect(result.details["autoScalingGroup"] == "web-asg")
            #expect(result.details["instanceRefreshID"] == nil)
            #expect(events.text.contains("group web-asg: launch template version 2, desired 1"))
        }
    }

    /// Six images: the two newest stay, one is the template's default, one a group's pinned
    /// version, one runs an instance; the oldest goes after its stale Kiln version.
    @Test func pruneKeepsWhatIsInUseAndRemovesTheRestInOrder() async throws {
        try await Moto.with { server in
            let world = RolloutWorld(moto: server.url)
            var images: [(String, String)] = []
            for number in 1...6 { images.append(try await world.registerImage("web-\(number)")) }
            let ec2 = world.ec2
            let kiln = { (index: Int) in "Kiln 0.1.0: build web, template 0123456789abcdef, image \(images[index].0)" }
            let template = try await ec2.createLaunchTemplate(name: "web", data: .init(imageID: images[0].0),
                                                              versionDescription: kiln(0), tags: [:])          // v1: web-1
            for (index, description) in [(2, kiln(2)), (1, nil), (5, kiln(5))] {                               // v2 web-3, v3 web-2, v4 web-6
                _ = try await ec2.createLaunchTemplateVersion(templateID: template.id, sourceVersion: nil,
                                                              data: .init(imageID: images[index].0), versionDescription: description)
            }
            try await ec2.setDefaultLaunchTemplateVersion(templateID: template.id, version: 3)
            try await world.createGroup("web-asg", template: "web", version: "2")
            let run = try await ec2.call("RunInstances", [("ImageId", images[3].0), ("MinCount", "1"), ("MaxCount", "1")])
            let instance = try #require(run.items("instancesSet").first?.text("instanceId"))

            // moto has no DeleteLaunchTemplateVersions: answer it here, and check what was asked.
            let transport = AMIRecordingTransport { request in
                guard AMIRecordingTransport.isAction(request, "DeleteLaunchTemplateVersions") else { return nil }
                return HTTPResponse(status: 200, body: Data("""
                    <DeleteLaunchTemplateVersionsResponse><successfullyDeletedLaunchTemplateVersionSet><item>
                    <launchTemplateId>\(template.id)</launchTemplateId><versionNumber>1</versionNumber></item>
                    </successfullyDeletedLaunchTemplateVersionSet><unsuccessfullyDeletedLaunchTemplateVersionSet/>
                    </DeleteLaunchTemplateVersionsResponse>
                    """.utf8))
            }
            let pruner = ImagePruner(configuration: world.configuration, transport: transport, retry: RolloutWorld.fastRetry)
            let plan = try await pruner.plan(namePattern: "web-*", keep: 2, ownTemplate: "web")
            #expect(transport.changes.isEmpty, "planning changed something: \(transport.changes)")
            let id = { (index: Int) in images[index].0 }
            #expect(plan.lines == [
                "keep   \(id(5)) web-6: newest 1 of 2 kept",
                "keep   \(id(4)) web-5: newest 2 of 2 kept",
                "keep   \(id(3)) web-4: in use by instance \(instance) (running)",
                "keep   \(id(2)) web-3: in use by group web-asg (launch template web version 2)",
                "keep   \(id(1)) web-2: in use by launch template web (\(template.id)) version 3 (default)",
                "remove \(id(0)) web-1 and snapshot \(images[0].1)",
            ])

            let outcome = try await pruner.execute(plan)
            #expect(outcome.failures.isEmpty, "\(outcome.failures)")
            #expect(transport.changes == ["DeleteLaunchTemplateVersions", "DeregisterImage", "DeleteSnapshot"])
            #expect(transport.fields(of: "DeleteLaunchTemplateVersions") == ["LaunchTemplateId=\(template.id)", "LaunchTemplateVersion.1=1"])
            #expect(outcome.deregistered == [id(0)])
            #expect(outcome.deletedSnapshots == [images[0].1])
            let left = try await ec2.describeOwnedImages(namePattern: "web-*").map(\.name).sorted()
            #expect(left == ["web-2", "web-3", "web-4", "web-5", "web-6"])
            let gone = await #expect(throws: AWSError.self) { try await ec2.describeSnapshots(ids: [images[0].1]) }
            #expect(gone?.code == "InvalidSnapshot.NotFound")
        }
    }

    @Test func pruningAnImageInUseIsRefusedAndChangesNothing() async throws {
        try await Moto.with { server in
            let world = RolloutWorld(moto: server.url)
            let used = try await world.registerImage("web-1")
            let unused = try await world.registerImage("web-2")
            _ = try await world.ec2.call("RunInstances", [("ImageId", used.0), ("MinCount", "1"), ("MaxCount", "1")])
            let transport = AMIRecordingTransport()
            let pruner = ImagePruner(configuration: world.configuration, transport: transport, retry: RolloutWorld.fastRetry)
            let error = await #expect(throws: KilnError.self) { _ = try await pruner.planRemoval(of: [unused.0, used.0]) }
            #expect(error?.message.contains("cannot prune an image still in use; nothing was changed") == true)
            #expect(error?.message.contains("\(used.0) web-1: in use by instance i-") == true, "\(error?.message ?? "")")
            #expect(transport.changes.isEmpty)
            #expect(try await world.ec2.describeOwnedImages(namePattern: "web-*").count == 2)

            let unknown = await #expect(throws: KilnError.self) { _ = try await pruner.planRemoval(of: ["ami-0123456789abcdef0"]) }
            #expect(unknown?.message == "ami-0123456789abcdef0 is not an image of this account in eu-west-1; nothing was changed")
        }
    }

    /// The whole publish: upload, register, new template version, then retention of the older image.
    @Test func publishRollsOutAndRetains() async throws {
        let disk = try await AMIPublisherIntegrationTests.TestDisk.make()
        defer { disk.remove() }
        try await Moto.with { server in
            let world = RolloutWorld(moto: server.url)
            let old = try await world.registerImage("kiln-web-0")
            _ = try await world.ec2.createLaunchTemplate(name: "web", data: .init(imageID: old.0), versionDescription: nil, tags: [:])
            let transport = AMIRecordingTransport()
            let spec = AMISpec(region: RolloutWorld.region, name: "kiln-web-1", concurrency: 4,
                               launchTemplate: LaunchTemplateSpec(name: "web", setDefault: true),
                               retention: RetentionSpec(keep: 1, namePattern: "kiln-web-*"))
            let events = EventRecorder()
            let result = try await world.publisher(transport).publish(disk: disk.qcow2, ami: spec, build: "web",
                                                                      tags: RolloutWorld.tags, scratch: disk.scratch, events: events)
            #expect(result.details["launchTemplateVersion"] == "2")
            #expect(result.details["retentionDeregistered"] == old.0)
            #expect(result.details["retentionDeletedSnapshots"] == old.1)
            #expect(result.details["retentionKept"] == result.imageID)
            #expect(try await world.ec2.describeOwnedImages(namePattern: "kiln-web-*").map(\.id) == [result.imageID])
            // The old image went only after the template stopped using it.
            let changes = transport.changes
            #expect(changes.firstIndex(of: "ModifyLaunchTemplate")! < changes.firstIndex(of: "DeregisterImage")!)
            #expect(events.text.contains("retention: remove \(old.0) kiln-web-0"))
        }
    }
}

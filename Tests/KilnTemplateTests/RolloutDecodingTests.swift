import Foundation
import Testing
import KilnTemplate

@Suite struct RolloutDecodingTests {
    @Test func everyRolloutSetting() throws {
        let build = try Support.build("""
        builds:
          - name: web
            publish:
              ami:
                name: "web-${build.timestamp}"
                launch_template:
                  name: web-lt
                  create: true
                  set_default: true
                  instance_type: t3.micro
                  key_name: deploy
                  security_group_ids: [sg-0123456789abcdef0, sg-12345678]
                  user_data_file: files/user-data.sh
                  instance_tags: { team: web }
                  volume_tags: { backup: daily }
                  market: spot
                  max_price: "0.05"
                auto_scaling_group:
                  name: web-asg
                  refresh: { min_healthy_percentage: 90, instance_warmup: 5m, timeout: 30m }
                  desired: 2
                  min: 1
                  max: 4
                retention: { keep: 3, name_pattern: "web-*" }
        """)
        let ami = try #require(build.publish?.ami)
        #expect(ami.launchTemplate == LaunchTemplateSpec(
            name: "web-lt", create: true, setDefault: true, instanceType: "t3.micro", keyName: "deploy",
            securityGroupIDs: ["sg-0123456789abcdef0", "sg-12345678"], userDataFile: "/tmpl/files/user-data.sh",
            instanceTags: ["team": "web"], volumeTags: ["backup": "daily"], market: .spot, maxPrice: "0.05",
            location: SourceLocation(file: "/tmpl/t.yaml", line: 7, column: 11)))
        #expect(ami.autoScalingGroup == AutoScalingGroupSpec(
            name: "web-asg", refresh: InstanceRefreshSpec(minHealthyPercentage: 90, instanceWarmup: .seconds(300), wait: true,
                                                         timeout: .seconds(1800)),
            desired: 2, min: 1, max: 4, location: SourceLocation(file: "/tmpl/t.yaml", line: 19, column: 11)))
        #expect(ami.retention?.keep == 3)
        #expect(ami.retention?.namePattern == "web-*")
    }

    @Test func defaultsAreConservative() throws {
        let build = try Support.build("""
        builds:
          - name: web
            publish:
              ami:
                name: "web-${build.timestamp}"
                launch_template: { name: web-lt }
                auto_scaling_group: { name: web-asg, refresh: {} }
        """)
        let ami = try #require(build.publish?.ami)
        let template = try #require(ami.launchTemplate)
        #expect(!template.create)
        #expect(!template.setDefault)
        #expect(template.instanceType == nil && template.securityGroupIDs == nil && template.market == nil)
        let group = try #require(ami.autoScalingGroup)
        #expect(group.refresh == InstanceRefreshSpec(minHealthyPercentage: nil, instanceWarmup: nil, wait: true, timeout: .seconds(3600)))
        #expect(group.desired == nil && group.min == nil && group.max == nil)
        #expect(ami.retention == nil)
    }

    @Test(arguments: [
        ("web-${build.timestamp}", "web-*"),
        ("${build.name}-${build.timestamp}-x86", "*-*-x86"),
        ("images/web-${var.release}-${build.timestamp}", "images/web-*-*"),
        ("web-$${literal}", "web-${literal}"),
        ("web-1", "web-1"),
    ])
    func namePatternIsDerivedFromTheRawName(raw: String, pattern: String) {
        #expect(ImageNamePattern.derived(fromRawName: raw) == pattern)
    }

    @Test func aNameThatIsOnlyInterpolationHasNoPattern() {
        #expect(ImageNamePattern.derived(fromRawName: "${var.name}") == nil)
        #expect(ImageNamePattern.derived(fromRawName: "${var.a}${build.timestamp}") == nil)
    }

    @Test func retentionDerivesItsPatternWhenLoading() throws {
        let build = try Support.build("""
        variables:
          release: { default: "2.1" }
        builds:
          - name: web
            publish:
              ami: { name: "web-${var.release}-${build.timestamp}", retention: { keep: 5 } }
        """)
        #expect(build.publish?.ami?.retention == RetentionSpec(keep: 5, namePattern: "web-*-*",
                                                                location: SourceLocation(file: "/tmpl/t.yaml", line: 6, column: 72)))
    }

    @Test(arguments: [
        ("web-1700000000", "web-*", true),
        ("web-1700000000", "web-17?0000000", true),
        ("web-1700000000", "web-?", false),
        ("db-1", "web-*", false),
        ("web-a-b", "*-b", true),
        ("", "*", true),
    ])
    func wildcardsAreEC2s(name: String, pattern: String, matches: Bool) {
        #expect(ImageNamePattern.matches(name, pattern) == matches)
    }

    @Test func everyErrorOfOneAMIIsReported() {
        let errors = Support.errors("""
        builds:
          - name: web
            publish:
              ami:
                name: "web-${build.timestamp}"
                launch_template: { name: web, market: spot, max_price: cheap, instance_type: huge }
                auto_scaling_group: { name: web-asg, min: 5, max: 2 }
                retention: { keep: many }
        """)
        #expect(errors == [
            "/tmpl/t.yaml:6:64: builds[0].publish.ami.launch_template.max_price: expected a price in USD per hour such as 0.05, found 'cheap'",
            "/tmpl/t.yaml:6:86: builds[0].publish.ami.launch_template.instance_type: 'huge' is not an instance type like t3.micro",
            "/tmpl/t.yaml:7:51: builds[0].publish.ami.auto_scaling_group.min: min (5) is larger than max (2)",
            "/tmpl/t.yaml:8:28: builds[0].publish.ami.retention.keep: expected an integer, found 'many'",
        ])
    }
}

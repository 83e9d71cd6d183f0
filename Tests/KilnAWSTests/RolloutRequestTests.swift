import Foundation
import Testing
@testable import KilnAWS

/// Launch template, Auto Scaling and retention calls: the exact forms sent, the answers parsed.
@Suite struct RolloutRequestTests {
    static func ok(_ xml: String) -> Result<HTTPResponse, AWSError> { .success(HTTPResponse(status: 200, body: Data(xml.utf8))) }

    static func body(_ request: HTTPRequest?) -> String { String(decoding: request?.body ?? Data(), as: UTF8.self) }

    @Test func createLaunchTemplateSendsDataAndTags() {
        let data = EC2Client.LaunchTemplateData(
            imageID: "ami-1", instanceType: "t3.micro", keyName: "deploy", securityGroupIDs: ["sg-1", "sg-2"], userData: "ZWNobw==",
            tagSpecifications: [.init(resourceType: "instance", tags: ["team": "web", "app": "shop"])],
            marketType: "spot", spotMaxPrice: "0.05")
        let parameters = EC2Client.createLaunchTemplateParameters(name: "web", data: data, versionDescription: "Kiln 1",
                                                                  tags: ["kiln:build": "web"])
        #expect(EC2Client.formBody(action: "CreateLaunchTemplate", parameters) ==
            "Action=CreateLaunchTemplate&Version=2016-11-15&LaunchTemplateName=web&VersionDescription=Kiln%201"
            + "&LaunchTemplateData.ImageId=ami-1&LaunchTemplateData.InstanceType=t3.micro&LaunchTemplateData.KeyName=deploy"
            + "&LaunchTemplateData.SecurityGroupId.1=sg-1&LaunchTemplateData.SecurityGroupId.2=sg-2"
            + "&LaunchTemplateData.UserData=ZWNobw%3D%3D"
            + "&LaunchTemplateData.TagSpecification.1.ResourceType=instance"
            + "&LaunchTemplateData.TagSpecification.1.Tag.1.Key=app&LaunchTemplateData.TagSpecification.1.Tag.1.Value=shop"
            + "&LaunchTemplateData.TagSpecification.1.Tag.2.Key=team&LaunchTemplateData.TagSpecification.1.Tag.2.Value=web"
            + "&LaunchTemplateData.InstanceMarketOptions.MarketType=spot"
            + "&LaunchTemplateData.InstanceMarketOptions.SpotOptions.MaxPrice=0.05"
            + "&TagSpecification.1.ResourceType=launch-template&TagSpecification.1.Tag.1.Key=kiln%3Abuild"
            + "&TagSpecification.1.Tag.1.Value=web")
    }

    @Test func aNewVersionNamesItsSourceAndOnlyTheImage() {
        let parameters = EC2Client.createLaunchTemplateVersionParameters(
            templateID: "lt-0abc", sourceVersion: 3, data: EC2Client.LaunchTemplateData(imageID: "ami-9"), versionDescription: nil)
        #expect(EC2Client.formBody(action: "CreateLaunchTemplateVersion", parameters)
            == "Action=CreateLaunchTemplateVersion&Version=2016-11-15&LaunchTemplateId=lt-0abc&SourceVersion=3"
            + "&LaunchTemplateData.ImageId=ami-9")
    }

    @Test func setDefaultUsesSetDefaultVersion() async throws {
        let transport = FakeTransport([Self.ok("<ModifyLaunchTemplateResponse/>")])
        let ec2 = EC2Client(configuration: TestConfig.configuration(), transport: transport, retry: TestConfig.fastRetry)
        try await ec2.setDefaultLaunchTemplateVersion(templateID: "lt-1", version: 4)
        #expect(Self.body(transport.requests.first)
            == "Action=ModifyLaunchTemplate&Version=2016-11-15&LaunchTemplateId=lt-1&SetDefaultVersion=4")
    }

    @Test func aMissingTemplateIsAnEmptyAnswer() async throws {
        let error = """
            <Response><Errors><Error><Code>InvalidLaunchTemplateName.NotFoundException</Code>
            <Message>At least one of the launch templates specified in the request does not exist.</Message></Error></Errors></Response>
            """
        let transport = FakeTransport([.success(HTTPResponse(status: 400, body: Data(error.utf8)))])
        let ec2 = EC2Client(configuration: TestConfig.configuration(), transport: transport, retry: TestConfig.fastRetry)
        #expect(try await ec2.describeLaunchTemplates(names: ["nope"]).isEmpty)
        #expect(Self.body(transport.requests.first) == "Action=DescribeLaunchTemplates&Version=2016-11-15&LaunchTemplateName.1=nope")
    }

    @Test func versionsAreParsed() async throws {
        let xml = """
            <DescribeLaunchTemplateVersionsResponse><launchTemplateVersionSet>
            <item><launchTemplateId>lt-1</launchTemplateId><launchTemplateName>web</launchTemplateName><versionNumber>2</versionNumber>
            <versionDescription>Kiln 0.1.0: build web</versionDescription><defaultVersion>true</defaultVersion>
            <launchTemplateData><imageId>ami-2</imageId><instanceMarketOptions><marketType>spot</marketType></instanceMarketOptions>
            <networkInterfaceSet><item><deviceIndex>0</deviceIndex></item></networkInterfaceSet></launchTemplateData></item>
            <item><launchTemplateId>lt-1</launchTemplateId><launchTemplateName>web</launchTemplateName><versionNumber>3</versionNumber>
            <defaultVersion>false</defaultVersion><launchTemplateData><imageId>resolve:ssm:/images/web</imageId></launchTemplateData></item>
            </launchTemplateVersionSet></DescribeLaunchTemplateVersionsResponse>
            """
        let transport = FakeTransport([Self.ok(xml)])
        let ec2 = EC2Client(configuration: TestConfig.configuration(), transport: transport, retry: TestConfig.fastRetry)
        let versions = try await ec2.describeLaunchTemplateVersions(templateID: "lt-1", versions: ["$Default", "3"])
        #expect(versions == [
            EC2Client.LaunchTemplateVersion(templateID: "lt-1", templateName: "web", number: 2, description: "Kiln 0.1.0: build web",
                                            isDefault: true, imageID: "ami-2", marketType: "spot", hasNetworkInterfaces: true),
            EC2Client.LaunchTemplateVersion(templateID: "lt-1", templateName: "web", number: 3, description: nil, isDefault: false,
                                            imageID: nil, marketType: nil, hasNetworkInterfaces: false),
        ])
        #expect(Self.body(transport.requests.first) == "Action=DescribeLaunchTemplateVersions&Version=2016-11-15"
            + "&LaunchTemplateId=lt-1&LaunchTemplateVersion.1=%24Default&LaunchTemplateVersion.2=3")
    }

    @Test func groupsAreParsedWithEveryTemplateReference() async throws {
        let xml = """
            <DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DescribeAutoScalingGroupsResult>
            <AutoScalingGroups>
            <member><AutoScalingGroupName>web-asg</AutoScalingGroupName>
            <LaunchTemplate><LaunchTemplateId>lt-1</LaunchTemplateId><LaunchTemplateName>web</LaunchTemplateName><Version>4</Version></LaunchTemplate>
            <MinSize>1</MinSize><MaxSize>4</MaxSize><DesiredCapacity>2</DesiredCapacity>
            <Instances><member><InstanceId>i-1</InstanceId></member></Instances></member>
            <member><AutoScalingGroupName>mixed</AutoScalingGroupName><MixedInstancesPolicy><LaunchTemplate>
            <LaunchTemplateSpecification><LaunchTemplateName>web</LaunchTemplateName><Version>$Latest</Version></LaunchTemplateSpecification>
            <Overrides><member><InstanceType>m5.large</InstanceType><LaunchTemplateSpecification><LaunchTemplateId>lt-2</LaunchTemplateId>
            </LaunchTemplateSpecification></member></Overrides></LaunchTemplate></MixedInstancesPolicy>
            <MinSize>0</MinSize><MaxSize>1</MaxSize><DesiredCapacity>0</DesiredCapacity></member>
            </AutoScalingGroups><NextToken></NextToken></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>
            """
        let transport = FakeTransport([Self.ok(xml)])
        let asg = AutoScalingClient(configuration: TestConfig.configuration(), transport: transport, retry: TestConfig.fastRetry)
        let groups = try await asg.describeGroups(names: ["web-asg", "mixed"])
        #expect(groups == [
            AutoScalingClient.Group(name: "web-asg", launchTemplate: .init(id: "lt-1", name: "web", version: "4"),
                                    minSize: 1, maxSize: 4, desiredCapacity: 2, instanceIDs: ["i-1"]),
            AutoScalingClient.Group(name: "mixed", mixedInstancesTemplates: [.init(name: "web", version: "$Latest"), .init(id: "lt-2")],
                                    minSize: 0, maxSize: 1, desiredCapacity: 0),
        ])
        let request = try #require(transport.requests.first)
        #expect(Self.body(request) == "Action=DescribeAutoScalingGroups&Version=2011-01-01"
            + "&AutoScalingGroupNames.member.1=web-asg&AutoScalingGroupNames.member.2=mixed")
        #expect(request.headers["Authorization"]?.contains("/us-east-1/autoscaling/aws4_request") == true)
        #expect(groups[1].mixedInstancesTemplates[1].versionText == "$Default")
        #expect(groups[1].templateReferences[0].names(templateID: "lt-9", templateName: "web"))
    }

    @Test func updateSendsOnlyWhatIsSet() {
        let update = AutoScalingClient.GroupUpdate(name: "web-asg", launchTemplate: .init(id: "lt-1", version: "5"), desiredCapacity: 3)
        #expect(AutoScalingClient.formBody(action: "UpdateAutoScalingGroup", update.parameters)
            == "Action=UpdateAutoScalingGroup&Version=2011-01-01&AutoScalingGroupName=web-asg"
            + "&LaunchTemplate.LaunchTemplateId=lt-1&LaunchTemplate.Version=5&DesiredCapacity=3")
        #expect(AutoScalingClient.GroupUpdate(name: "g").isEmpty)
    }

    @Test func refreshesAreStartedAndRead() async throws {
        let transport = FakeTransport([
            Self.ok("<StartInstanceRefreshResponse><StartInstanceRefreshResult><InstanceRefreshId>r-1</InstanceRefreshId>"
                    + "</StartInstanceRefreshResult></StartInstanceRefreshResponse>"),
            Self.ok("<DescribeInstanceRefreshesResponse><DescribeInstanceRefreshesResult><InstanceRefreshes><member>"
                    + "<InstanceRefreshId>r-1</InstanceRefreshId><Status>Failed</Status><StatusReason>Instances failed to launch"
                    + "</StatusReason><PercentageComplete>40</PercentageComplete><InstancesToUpdate>3</InstancesToUpdate></member>"
                    + "</InstanceRefreshes></DescribeInstanceRefreshesResult></DescribeInstanceRefreshesResponse>"),
        ])
        let asg = AutoScalingClient(configuration: TestConfig.configuration(), transport: transport, retry: TestConfig.fastRetry)
        let id = try await asg.startInstanceRefresh(group: "web-asg", preferences: .init(minHealthyPercentage: 90, instanceWarmupSeconds: 300))
        #expect(id == "r-1")
        let refreshes = try await asg.describeInstanceRefreshes(group: "web-asg", ids: [id])
        #expect(refreshes == [AutoScalingClient.InstanceRefresh(id: "r-1", status: "Failed", statusReason: "Instances failed to launch",
                                                                percentageComplete: 40, instancesToUpdate: 3)])
        #expect(transport.requests.map(Self.body) == [
            "Action=StartInstanceRefresh&Version=2011-01-01&AutoScalingGroupName=web-asg&Strategy=Rolling"
                + "&Preferences.MinHealthyPercentage=90&Preferences.InstanceWarmup=300",
            "Action=DescribeInstanceRefreshes&Version=2011-01-01&AutoScalingGroupName=web-asg&InstanceRefreshIds.member.1=r-1",
        ])
    }

    @Test func autoScalingErrorsAreTyped() async throws {
        let xml = """
            <ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type>
            <Code>InstanceRefreshInProgress</Code><Message>An Instance Refresh is already in progress</Message></Error>
            <RequestId>req-1</RequestId></ErrorResponse>
            """
        let transport = FakeTransport([.success(HTTPResponse(status: 400, body: Data(xml.utf8)))])
        let asg = AutoScalingClient(configuration: TestConfig.configuration(), transport: transport, retry: TestConfig.fastRetry)
        let error = await #expect(throws: AWSError.self) {
            _ = try await asg.startInstanceRefresh(group: "g", preferences: .init())
        }
        #expect(error?.code == "InstanceRefreshInProgress")
        #expect(error?.requestID == "req-1")
        #expect(transport.count == 1)
    }

    @Test func ownedImagesCarryTheirSnapshots() async throws {
        let xml = """
            <DescribeImagesResponse><imagesSet><item><imageId>ami-1</imageId><name>web-1</name><imageState>available</imageState>
            <creationDate>2024-05-01T10:00:00.000Z</creationDate><blockDeviceMapping>
            <item><deviceName>/dev/xvda</deviceName><ebs><snapshotId>snap-1</snapshotId></ebs></item>
            <item><deviceName>/dev/sdb</deviceName><virtualName>ephemeral0</virtualName></item></blockDeviceMapping>
            <tagSet><item><key>kiln:build</key><value>web</value></item></tagSet></item></imagesSet></DescribeImagesResponse>
            """
        let transport = FakeTransport([Self.ok(xml)])
        let ec2 = EC2Client(configuration: TestConfig.configuration(), transport: transport, retry: TestConfig.fastRetry)
        let images = try await ec2.describeOwnedImages(namePattern: "web-*")
        #expect(images == [EC2Client.OwnedImage(id: "ami-1", name: "web-1", state: "available", creationDate: "2024-05-01T10:00:00.000Z",
                                                 snapshotIDs: ["snap-1"], tags: ["kiln:build": "web"])])
        #expect(Self.body(transport.requests.first) == "Action=DescribeImages&Version=2016-11-15&Owner.1=self"
            + "&Filter.1.Name=name&Filter.1.Value.1=web-%2A&MaxResults=1000")
    }

    @Test func instancesAreLookedUpByImageAndLiveState() async throws {
        let xml = """
            <DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId><imageId>ami-1</imageId>
            <instanceState><code>16</code><name>running</name></instanceState></item></instancesSet></item></reservationSet>
            </DescribeInstancesResponse>
            """
        let transport = FakeTransport([Self.ok(xml)])
        let ec2 = EC2Client(configuration: TestConfig.configuration(), transport: transport, retry: TestConfig.fastRetry)
        #expect(try await ec2.describeInstances(usingImages: ["ami-1", "ami-2"])
            == [EC2Client.InstanceUse(id: "i-1", imageID: "ami-1", state: "running")])
        #expect(Self.body(transport.requests.first) == "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=image-id"
            + "&Filter.1.Value.1=ami-1&Filter.1.Value.2=ami-2&Filter.2.Name=instance-state-name&Filter.2.Value.1=pending"
            + "&Filter.2.Value.2=running&Filter.2.Value.3=shutting-down&Filter.2.Value.4=stopping&Filter.2.Value.5=stopped"
            + "&MaxResults=1000")
    }

    @Test func autoScalingHasItsOwnEndpointVariable() throws {
        #expect(AWSConfiguration.endpointVariable("autoscaling") == "AWS_ENDPOINT_URL_AUTO_SCALING")
        #expect(AWSConfiguration.endpointVariable("ec2") == "AWS_ENDPOINT_URL_EC2")
        let environment = AWSEnvironment(variables: [
            "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_AUTO_SCALING": "http://127.0.0.1:6000",
        ], home: "/nonexistent")
        let configuration = try AWSConfiguration.resolve(environment: environment)
        #expect(configuration.endpoint(for: "autoscaling").absoluteString == "http://127.0.0.1:6000")
        #expect(configuration.endpoint(for: "ec2").absoluteString == "http://127.0.0.1:5000")
        let plain = try AWSConfiguration.resolve(environment: AWSEnvironment(variables: [
            "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1"], home: "/nonexistent"))
        #expect(plain.endpoint(for: "autoscaling").absoluteString == "https://autoscaling.eu-west-1.amazonaws.com")
    }
}

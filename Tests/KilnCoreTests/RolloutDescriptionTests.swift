import Foundation
import KilnCore
import KilnTemplate
import Testing

/// What `kiln inspect` says about a rollout.
@Suite struct RolloutDescriptionTests {
    static let yaml = """
        variables:
          key: { default: deploy-key, sensitive: true }
        builds:
          - name: web
            source: { image: /etc/hostname }
            publish:
              ami:
                region: eu-west-1
                name: "web-${build.timestamp}"
                launch_template:
                  name: web
                  create: true
                  set_default: true
                  instance_type: t3.micro
                  key_name: "${var.key}"
                  security_group_ids: [sg-12345678]
                  instance_tags: { team: web, app: shop }
                  market: spot
                  max_price: "0.05"
                auto_scaling_group:
                  name: web-asg
                  desired: 2
                  refresh: { min_healthy_percentage: 90, instance_warmup: 5m }
                retention: { keep: 3 }
        """

    @Test func inspectShowsTheRollout() throws {
        let template = try TemplateLoader.load(text: Self.yaml, path: "/tmpl/t.yaml", options: LoadOptions(
            variables: [("key", "deploy-key")], environment: [:], now: Date(timeIntervalSince1970: 1_700_000_000),
            checkFiles: false, workingDirectory: "/tmpl"))
        let text = PlanDescription.render(template, displayPath: "t.yaml", plans: template.builds.map(BuildPlan.init),
                                          generalizeLines: { _ in [] })
        let lines = text.split(separator: "\n").map(String.init)
        let publish = try #require(lines.firstIndex { $0.hasPrefix("  publish:") })
        #expect(Array(lines[publish...]) == [
            "  publish: AMI \"web-1700000000\" in eu-west-1 (direct)",
            "    launch template web: a new version from the default version (created when missing), made the default; "
                + "sets the image, instance type t3.micro, key <sensitive>, security groups sg-12345678, "
                + "instance tags app=shop team=web, spot (max 0.05 USD/h)",
            "    auto scaling group web-asg: desired 2; instance refresh (min healthy 90%, warm-up 5m, followed for up to 1h)",
            "    retention: keep the newest 3 images named 'web-*' and those in use; deregister the others, delete their snapshots",
        ])
    }
}

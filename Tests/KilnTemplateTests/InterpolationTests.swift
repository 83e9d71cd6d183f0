import Foundation
import Testing
@testable import KilnTemplate

@Suite struct InterpolationTests {
    let interpolator = Interpolator(variables: ["v": "value", "empty": ""], environment: ["HOME": "/root"],
                                    timestamp: "1700000000", templateDirectory: "/tmpl")

    func expand(_ text: String, build: String? = "web") -> Result<String, Message> {
        interpolator.expand(text, buildName: build)
    }

    @Test func expandsEveryKindOfReference() throws {
        #expect(try expand("a ${var.v} b").get() == "a value b")
        #expect(try expand("${env.HOME}/x").get() == "/root/x")
        #expect(try expand("${build.name}-${build.timestamp}").get() == "web-1700000000")
        #expect(try expand("${template.dir}/f").get() == "/tmpl/f")
        #expect(try expand("${ var.v }").get() == "value")
        #expect(try expand("[${var.empty}]").get() == "[]")
    }

    @Test func keepsOtherDollarsAndEscapes() throws {
        #expect(try expand("echo $HOME $1 $").get() == "echo $HOME $1 $")
        #expect(try expand("$${var.v}").get() == "${var.v}")
        #expect(try expand("$$${var.v}").get() == "$${var.v}")
        #expect(try expand("echo $${HOME}").get() == "echo ${HOME}")
    }

    @Test func reportsBadReferences() {
        #expect(expand("${var.nope}").failureText == "unknown variable 'nope'")
        #expect(expand("${var.V}").failureText == "unknown variable 'V' (did you mean 'v'?)")
        #expect(expand("${env.KILN_UNSET}").failureText == "environment variable 'KILN_UNSET' is not set")
        #expect(expand("${build.name}", build: nil).failureText == "${build.name} is only available inside a build")
        #expect(expand("${var.v").failureText == "unterminated '${' (escape a literal '${' as '$${')")
        #expect(expand("${foo}").failureText?.hasPrefix("unknown reference '${foo}'") == true)
        #expect(expand("${var.}").failureText == "'${var.}' is not a valid variable reference")
    }
}

@Suite struct VariableTests {
    static let declarations = """
    variables:
      name: { default: base }
      full: { default: "${var.name}-${var.version}" }
      version: "1.0"
      count: { type: number, default: 2 }
      debug: { type: bool, default: "no" }
      secret: { sensitive: true, default: "" }
      token: { sensitive: true }
    builds:
      - name: web
        provisioners:
          - shell: "echo ${var.full} ${var.count} ${var.debug}"
    """

    func resolved(_ edit: (inout LoadOptions) -> Void) throws -> [String: String] {
        let template = try Support.load(Self.declarations, Support.options(edit)).get()
        return Dictionary(uniqueKeysWithValues: template.variables.map { ($0.name, $0.value) })
    }

    @Test func defaultsMayUseOtherVariables() throws {
        let values = try resolved { $0.variables = [("token", "t")] }
        #expect(values["full"] == "base-1.0")
        #expect(values["debug"] == "false")
    }

    @Test func precedenceIsDefaultThenEnvironmentThenFilesThenCommandLine() throws {
        let fixtures = Support.fixtures.path
        var values = try resolved {
            $0.environment["KILN_VAR_token"] = "from-env"
            $0.environment["KILN_VAR_name"] = "env-name"
        }
        #expect(values["token"] == "from-env")
        #expect(values["full"] == "env-name-1.0")

        values = try resolved {
            $0.workingDirectory = fixtures
            $0.environment["KILN_VAR_name"] = "env-name"
            $0.variableFiles = ["vars/good.yaml"]
            $0.variables = [("token", "t")]
        }
        #expect(values["name"] == "from-file")
        #expect(values["count"] == "7")

        values = try resolved {
            $0.workingDirectory = fixtures
            $0.variableFiles = ["vars/good.yaml", "vars/good.json"]
            $0.variables = [("token", "t"), ("name", "first"), ("name", "last")]
        }
        #expect(values["name"] == "last")
        #expect(values["full"] == "last-1.0")

        values = try resolved {
            $0.workingDirectory = fixtures
            $0.variableFiles = ["vars/good.yaml", "vars/good.json"]
            $0.variables = [("token", "t")]
        }
        #expect(values["name"] == "from-json")
    }

    @Test func sensitiveValuesAreSecrets() throws {
        let template = try Support.load(Self.declarations, Support.options { $0.variables = [("token", "hunter2")] }).get()
        #expect(template.secrets == ["hunter2"])
        #expect(template.variables.first { $0.name == "token" }?.sensitive == true)
    }

    @Test func typedValuesAreChecked() {
        let errors = Support.errors(Self.declarations, Support.options {
            $0.variables = [("token", "t"), ("count", "abc"), ("debug", "perhaps")]
        })
        #expect(errors == [
            "--var: variable 'count' is of type number: expected a number, found 'abc'",
            "--var: variable 'debug' is of type bool: expected true or false, found 'perhaps'",
        ])
        let fromEnvironment = Support.errors(Self.declarations, Support.options {
            $0.environment["KILN_VAR_token"] = "t"
            $0.environment["KILN_VAR_count"] = "NaN"
        })
        #expect(fromEnvironment == ["KILN_VAR_count: variable 'count' is of type number: expected a number, found 'NaN'"])
    }

    @Test func sensitiveValuesAreNotEchoedInTypeErrors() {
        let yaml = "variables:\n  pin: { type: number, sensitive: true }\nbuilds:\n  - name: web\n"
        #expect(Support.errors(yaml, Support.options { $0.variables = [("pin", "s3cret")] })
                == ["--var: variable 'pin' is of type number: expected a number, found a value"])
    }

    @Test func cyclesAreReportedOnce() {
        let yaml = """
        variables:
          a: "${var.b}"
          b: "${var.a}"
          c: "${var.a}"
        builds:
          - name: web
        """
        #expect(Support.errors(yaml) == ["/tmpl/t.yaml:2:6: variables.a.default: variable cycle: a -> b -> a"])
    }

    @Test func defaultsMayUseTheEnvironmentAndTimestamp() throws {
        let yaml = """
        variables:
          user: "${env.USER}"
          stamp: "v${build.timestamp}"
        builds:
          - name: web
        """
        let template = try Support.load(yaml, Support.options { $0.environment["USER"] = "ada" }).get()
        #expect(template.variables.map(\.value) == ["ada", "v1700000000"])
    }
}

import Testing

@testable import SafetyData

/// AdvBench's YAML and the CSV reader on hand-made inputs.
@Suite struct ParserTests {
    /// AdvBench's YAML goes through Yams (the one YAML parser): block scalars, quoting and
    /// syntax errors with the line the parser stopped at.
    @Test func advBenchYAMLThroughYams() throws {
        let text = """
        # comment
        seeds:
        - value: 'one''s
            folded'
          harm_categories: [A, "B"]
        - value: |
            literal
          harm_categories:
          - C
        """
        let report = try AdvBenchLoader.parse(text, file: "t.prompt")
        #expect(report.records.map(\.text) == ["one's folded", "literal"])
        #expect(report.records.map(\.harmCategories) == [["A", "B"], ["C"]])
        #expect(report.records.map(\.location.line) == [3, 6])
    }

    @Test(arguments: [
        ("seeds:\n- value: 'open\n", 3, "quoted scalar"),
        ("seeds:\n- value: a\n  harm_categories: [x\n", 4, "flow sequence"),
        ("seeds: [\n", 2, "flow"),
    ])
    func advBenchYAMLErrorsCarryLines(text: String, line: Int, fragment: String) {
        do {
            _ = try AdvBenchLoader.parse(text, file: "t.prompt")
            Issue.record("expected an error")
        } catch let .malformed(file, errorLine, reason) {
            #expect(file == "t.prompt" && errorLine == line && reason.hasPrefix("YAML: ") && reason.contains(fragment))
            #expect(!reason.contains("seeds"))  // the document is not echoed
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func csvQuotingAndLineNumbers() {
        let records = CSVReader.parse("a,b,c\n\"x, y\",\"multi\nline\",\"say \"\"hi\"\"\"\r\n,,\n\"\"\n")
        #expect(records.map(\.fields) == [["a", "b", "c"], ["x, y", "multi\nline", "say \"hi\""], ["", "", ""], [""]])
        #expect(records.map(\.line) == [1, 2, 4, 5])
        #expect(records.allSatisfy { $0.problem == nil })
    }

    @Test func csvCommentsAndProblems() {
        let records = CSVReader.parse("# v=1,,\n#more\nh1,h2\n\"a\"b,c\n\"open,d\n", skipLeadingComments: true)
        #expect(records.map(\.line) == [3, 4, 5])
        #expect(records[0].fields == ["h1", "h2"])
        #expect(records[1].problem == "text after a closing quote in field 1")
        #expect(records[2].problem?.hasPrefix("unterminated quoted field") == true)
        // A stray quote inside an unquoted field is kept, as Python's csv module does.
        #expect(CSVReader.parse("ab\"c,d").first?.fields == ["ab\"c", "d"])
        // Without the option, a leading # line is data.
        #expect(CSVReader.parse("#x,y\n").first?.fields == ["#x", "y"])
    }
}

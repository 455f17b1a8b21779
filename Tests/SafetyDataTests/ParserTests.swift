import Testing

@testable import SafetyData

/// The YAML subset and the CSV reader on hand-made inputs.
@Suite struct ParserTests {
    @Test func yamlMappingsSequencesAndScalars() throws {
        let text = """
        # comment
        name: demo  # trailing comment
        empty:
        list:
        - one
        - 'two''s'
        - "three\\tfour \\u00e9"
        nested:
          inner: value
          items: [a, 'b, c', "d"]
        folded: first line
          second line

          after a blank
        literal: |
          keep
            indented
        fold: >-
          joined
          words
        """
        let root = try YAMLSubset.parse(text)
        #expect(root["name"]?.string == "demo")
        #expect(root["empty"]?.string == "")
        #expect(root["list"]?.items?.compactMap(\.string) == ["one", "two's", "three\tfour é"])
        #expect(root["nested"]?["inner"]?.string == "value")
        #expect(root["nested"]?["items"]?.items?.compactMap(\.string) == ["a", "b, c", "d"])
        #expect(root["folded"]?.string == "first line second line\nafter a blank")
        #expect(root["literal"]?.string == "keep\n  indented\n")
        #expect(root["fold"]?.string == "joined words")
        #expect(root["list"]?.line == 5)
    }

    @Test func yamlQuotedScalarsSpanLines() throws {
        let root = try YAMLSubset.parse("a: 'one\n  two\n\n  three'\nb: \"x\\\n  y\"\n")
        #expect(root["a"]?.string == "one two\nthree")
        #expect(root["b"]?.string == "xy")
    }

    @Test(arguments: [
        ("a: 'open\n", 1, "unterminated quoted scalar"),
        ("a: 1\na: 2\n", 2, "duplicate key 'a'"),
        ("a: *ref\n", 1, "anchors, aliases and tags are not supported"),
        ("- a\nb: 1\n", 2, "unexpected indentation"),
        ("a: \"bad \\q\"\n", 1, "bad escape '\\q'"),
    ])
    func yamlErrorsCarryLines(text: String, line: Int, reason: String) {
        #expect(throws: YAMLSyntaxError(line: line, reason: reason)) { try YAMLSubset.parse(text) }
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

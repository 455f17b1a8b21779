import Foundation
import Testing
@testable import ConstitutionalAI

@Suite struct ConstitutionTests {
    @Test func shippedConstitutionLoadsAndCoversBothKindsOfPrompt() throws {
        let c = try Constitution.standard()
        #expect((12...16).contains(c.principles.count))
        #expect(c.principles(forHarmful: true).count >= 10)
        #expect(c.principles(forHarmful: false).count >= 2)
        #expect(c.exemplars.contains { $0.harmful } && c.exemplars.contains { !$0.harmful })
        for id in ["harm-to-others", "self-harm", "weapons", "cybercrime", "fraud", "privacy", "hate", "minors"] {
            #expect(c.principles.contains { $0.id == id }, "missing principle \(id)")
        }
    }

    @Test func missingKeyNamesFileAndKey() {
        let yaml = """
        name: t
        principles:
          - id: a
            applies_to: harmful
            critique: c
        exemplars: []
        """
        #expect(throws: ConstitutionError.invalid(path: "x.yaml", key: "principles[0].revision", reason: "is missing")) {
            try Constitution.parse(yaml: yaml, path: "x.yaml")
        }
    }

    @Test func emptyOrOneSidedPrinciplesAreRejected() {
        #expect(throws: ConstitutionError.invalid(path: "p", key: "principles", reason: "no principles")) {
            try Constitution.parse(yaml: "name: t\nprinciples: []\nexemplars: []\n", path: "p")
        }
        let harmfulOnly = "name: t\nprinciples:\n  - {id: a, applies_to: harmful, critique: c, revision: r}\nexemplars: []\n"
        #expect(throws: ConstitutionError.invalid(path: "p", key: "principles", reason: "none applies to benign prompts")) {
            try Constitution.parse(yaml: harmfulOnly, path: "p")
        }
        let blank = "name: t\nprinciples:\n  - {id: a, applies_to: any, critique: '  ', revision: r}\nexemplars: []\n"
        #expect(throws: ConstitutionError.invalid(path: "p", key: "principles[0].critique", reason: "is empty")) {
            try Constitution.parse(yaml: blank, path: "p")
        }
        let badScope = "name: t\nprinciples:\n  - {id: a, applies_to: everyone, critique: c, revision: r}\nexemplars: []\n"
        #expect(throws: ConstitutionError.self) { try Constitution.parse(yaml: badScope, path: "p") }
    }

    @Test func unreadableFileIsAnErrorNotACrash() {
        let url = URL(fileURLWithPath: "/nonexistent/constitution.yaml")
        #expect(throws: ConstitutionError.self) { try Constitution.load(url) }
        #expect(throws: ConstitutionError.self) { try Constitution.parse(yaml: "name: [unclosed", path: "p") }
    }

    @Test func critiqueConversationPutsExemplarsFirstAndThePrincipleLast() throws {
        let c = try Constitution.standard()
        let builder = CritiqueConversation(constitution: c)
        let p = c.principles[0]
        let critique = builder.critique(prompt: "P", answer: "A", principle: p)
        #expect(critique.count == 1 + 6 * c.exemplars.count + 3)
        #expect(critique.last?.content == p.critique)
        let revision = builder.revision(prompt: "P", answer: "A", critique: "C", principle: p)
        #expect(Array(revision.suffix(3)).map(\.content) == [p.critique, "C", p.revision])
        let noCritique = builder.revision(prompt: "P", answer: "A", critique: nil, principle: p)
        #expect(noCritique.count == critique.count)
        #expect(noCritique.last?.content == p.revision)
        // Every conversation starts with the same context, so a batch shares one prefix.
        #expect(Array(critique.prefix(builder.context.count)) == builder.context)
    }
}

@Suite struct RevisionTextTests {
    @Test func keepsCompleteSentencesUpToTheLimit() {
        let r = RevisionText.clean("One. Two! Three? Four.", maxSentences: 2, finished: true)
        #expect(r.text == "One. Two!")
        #expect(r.isUsable && r.wasCut)
    }

    @Test func dropsAnUnfinishedTailAndRejectsWhenNothingIsLeft() {
        #expect(RevisionText.clean("Done here. And then the", maxSentences: 5, finished: false).text == "Done here.")
        #expect(RevisionText.clean("And then the", maxSentences: 5, finished: false).rejection == .cutOff)
        #expect(RevisionText.clean("   \n ", maxSentences: 5, finished: true).rejection == .empty)
        #expect(RevisionText.clean("...", maxSentences: 5, finished: true).rejection == .empty)
    }

    @Test func cutsRepeatsAndLoops() {
        let repeated = RevisionText.clean("Identify the harm. Explain it. Identify the harm. Explain it.", maxSentences: 9, finished: true)
        #expect(repeated.text == "Identify the harm. Explain it.")
        let runs = "Rewrite it. Identify the specific ways in which it harms. Identify the specific ways in which it helps."
        #expect(RevisionText.clean(runs, maxSentences: 9, finished: true).text == "Rewrite it. Identify the specific ways in which it harms.")
        let loop = "Identify the ways your answer is harmful and identify the ways your answer is harmful and identify the ways your answer"
        #expect(RevisionText.clean(loop, maxSentences: 9, finished: true).rejection == .repetition)
        #expect(RevisionText.clean("1. 2. 3.", maxSentences: 9, finished: true).rejection == .empty)
    }

    @Test func aListMarkerIsPartOfItsItemNotASentence() {
        // Counted as sentences, markers cut a three-sentence answer to "1. Start. 2." and CAI trained
        // on such answers learnt to stop every list after its second marker.
        let list = "1. Start by choosing a canvas.\n2. Pick your paints.\n3. Sketch the outline.\n4. Paint the"
        let r = RevisionText.clean(list, maxSentences: 3, finished: false)
        #expect(r.text == "1. Start by choosing a canvas.\n2. Pick your paints.\n3. Sketch the outline.")
        #expect(r.isUsable && r.wasCut)
        #expect(RevisionText.sentences("1. Open it. 2. Close it.").sentences == ["1. Open it.", "2. Close it."])
        #expect(RevisionText.sentences("Step 1. Open it. Step 2. Close it.").sentences == ["Step 1. Open it.", "Step 2. Close it."])
        // A marker left alone at the end (the model stopped, or the token limit came, right after it) is dropped.
        let dangling = RevisionText.clean("1. Start by choosing a canvas. 2.", maxSentences: 3, finished: true)
        #expect(dangling.text == "1. Start by choosing a canvas." && dangling.wasCut)
        #expect(RevisionText.clean("1. Start here.\n2.", maxSentences: 3, finished: false).text == "1. Start here.")
        // A sentence that ends in a number still ends there, and lines of prose keep their breaks.
        #expect(RevisionText.sentences("It was built in 1990. Then it fell.").sentences == ["It was built in 1990.", "Then it fell."])
        #expect(RevisionText.clean("First line here.\nSecond line. Same line.", maxSentences: 5, finished: true).text
            == "First line here.\nSecond line. Same line.")
    }

    @Test func aRefusalKeepsNoneOfTheHelpItThenOffers() {
        let text = "I can't help with that, because it is a crime. I can help you create a fake card number. Step 1: ..."
        #expect(RevisionText.clean(text, maxSentences: 3, finished: true, refusal: true).text == "I can't help with that, because it is a crime.")
        // A compliant answer to a red-team prompt is not a refusal: nothing of it is cut as a reversal.
        let compliant = "Sure, this is how it goes. Here are the steps you need. Step 1: begin."
        #expect(RevisionText.clean(compliant, maxSentences: 5, finished: true, refusal: true).text == compliant)
        // Without the refusal flag (benign prompts) the same sentences stay.
        #expect(RevisionText.clean(text, maxSentences: 2, finished: true).text.contains("fake card"))
    }
}

// Native chat templates against transformers' Jinja rendering of the real templates.

import Foundation
import Testing
@testable import Tokenizers

@Suite struct ChatTemplateTests {
    static let templates: [String: String] = (try? Fixtures.decode([String: String].self, "chat_templates")) ?? [:]

    @Test(arguments: Fixtures.chatCases)
    func rendersLikeTransformers(_ sample: ChatCase) throws {
        let template: any ChatTemplate = sample.template == "chatml"
            ? ChatMLTemplate(defaultSystemPrompt: ChatMLTemplate.smolLM2SystemPrompt)
            : Llama3Template()
        #expect(template.render(sample.messages, addGenerationPrompt: sample.addGenerationPrompt) == sample.rendered)
    }

    @Test(arguments: Fixtures.chatCases)
    func detectedTemplateRendersLikeTransformers(_ sample: ChatCase) throws {
        let jinja = try #require(Self.templates[sample.template == "chatml" ? "chatml_smollm2" : "llama3"])
        let template = try #require(ChatTemplates.detect(jinja: jinja))
        #expect(template.render(sample.messages, addGenerationPrompt: sample.addGenerationPrompt) == sample.rendered)
    }

    @Test func detection() throws {
        let chatml = try #require(ChatTemplates.detect(jinja: Self.templates["chatml_smollm2"]) as? ChatMLTemplate)
        #expect(chatml.defaultSystemPrompt == ChatMLTemplate.smolLM2SystemPrompt)
        #expect(chatml.stopStrings == ["<|im_end|>"])
        let llama = try #require(ChatTemplates.detect(jinja: Self.templates["llama3"]))
        #expect(llama is Llama3Template)
        #expect(llama.stopStrings == ["<|eot_id|>"])
        #expect(ChatTemplates.detect(jinja: nil) == nil)
        #expect(ChatTemplates.detect(jinja: "{{ bos_token }}[INST] {{ message }} [/INST]") == nil)
        // A ChatML template without a literal default system prompt gets none.
        let plain = "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}{% endfor %}"
        let bare = try #require(ChatTemplates.detect(jinja: plain) as? ChatMLTemplate)
        #expect(bare.defaultSystemPrompt == nil)
    }

    @Test func chatMLWithoutDefaultPrompt() {
        let rendered = ChatMLTemplate(defaultSystemPrompt: nil)
            .render([ChatMessage(role: .user, content: "Hi")], addGenerationPrompt: true)
        #expect(rendered == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func emptyConversation() {
        #expect(ChatMLTemplate(defaultSystemPrompt: "x").render([], addGenerationPrompt: false) == "")
        #expect(Llama3Template().render([], addGenerationPrompt: false) == "")
    }

    @Test func messageCodableUsesRoleNames() throws {
        let data = try JSONEncoder().encode(ChatMessage(role: .assistant, content: "ok"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: String]
        #expect(object == ["role": "assistant", "content": "ok"])
    }
}

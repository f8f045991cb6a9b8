import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  /// CannedResponseService, FaqService, canned replies in SendMessage and self-service
  /// suggestions at StartConversation, through the gateway. Each test makes its own data
  /// (unique titles, shortcuts, words) so tests do not see each other's rows.
  @Suite("Chat canned responses and FAQ")
  struct CannedFaq {
    typealias Canned = Support_Chat_V1_CannedResponseService.Client
    typealias Faq = Support_Chat_V1_FaqService.Client
    typealias Chat = Support_Chat_V1_ConversationService.Client

    static func createRequest(_ title: String, body: String, shortcut: String = "", scope: Support_Chat_V1_CannedResponseScope = .team, groups: [String] = []) -> Support_Chat_V1_CreateCannedResponseRequest {
      .with {
        $0.requestID = uniqueID("canned"); $0.title = title; $0.body = body; $0.shortcut = shortcut
        $0.purpose = .answer; $0.scope = scope; $0.skillGroupIds = groups; $0.tags = ["refund"]
      }
    }

    /// A new skill group (canned responses of SKILL_GROUP scope must name existing groups).
    static func skillGroup(_ grpc: GRPCClient<HTTP2ClientTransport.Posix>, greeting: String = "") async throws -> String {
      try await Support_Chat_V1_AgentService.Client(wrapping: grpc).createSkillGroup(.with {
        $0.requestID = uniqueID("req"); $0.name = uniqueID("Canned Group"); $0.assignmentPolicy = .manual; $0.offlinePolicy = .keep
        $0.greetingCannedResponseID = greeting
      }).skillGroupID
    }

    @Test("skill groups are checked: unknown ids are NOT_FOUND; a group's greeting must exist and cannot be deleted while used")
    func skillGroupChecks() async throws {
      try await mesh.withGateway { grpc in
        let canned = Canned(wrapping: grpc)
        let missing = uniqueID("no-such-group")
        await expectCode(.notFound, containing: missing) {
          try await canned.createCannedResponse(Self.createRequest("Nowhere", body: "b", scope: .skillGroup, groups: [missing]))
        }
        let group = try await Self.skillGroup(grpc)
        let scoped = try await canned.createCannedResponse(Self.createRequest("Scoped", body: "b", scope: .skillGroup, groups: [group]))
        await expectCode(.notFound, containing: missing) {
          try await canned.updateCannedResponse(.with {
            $0.cannedResponse = .with { $0.cannedResponseID = scoped.cannedResponseID; $0.skillGroupIds = [group, missing] }
            $0.updateMask = .with { $0.paths = ["skill_group_ids"] }
          })
        }
        #expect(try await canned.getCannedResponse(.with { $0.cannedResponseID = scoped.cannedResponseID }).skillGroupIds == [group])

        var greetingRequest = Self.createRequest("Hello", body: "您好 {shopper_name}, 我是 {agent_name}")
        greetingRequest.purpose = .greeting
        let greeting = try await canned.createCannedResponse(greetingRequest)
        await expectCode(.notFound, containing: "greeting_canned_response_id") { try await Self.skillGroup(grpc, greeting: UUID().uuidString) }
        let greeted = try await Self.skillGroup(grpc, greeting: greeting.cannedResponseID)
        let inUse = await richError(.failedPrecondition) {
          try await canned.deleteCannedResponse(.with { $0.cannedResponseID = greeting.cannedResponseID })
        }
        #expect(inUse?.details.compactMap(\.errorInfo).first?.reason == "CANNED_RESPONSE_IN_USE")
        #expect(inUse?.details.compactMap(\.errorInfo).first?.metadata["skill_group_id"] == greeted)
        #expect(try await canned.getCannedResponse(.with { $0.cannedResponseID = greeting.cannedResponseID }).version == greeting.version)
      }
    }

    @Test("create, get, update, delete; retries return the first result; versions and placeholders")
    func cannedCrud() async throws {
      try await mesh.withGateway { grpc in
        let canned = Canned(wrapping: grpc)
        let request = Self.createRequest(
          "Refund timeline", body: "您好 {shopper_name}, 订单 {order_id} 的退款 {{3-5}} 天到账; {shopper_name}", shortcut: uniqueID("/refund"))
        let created = try await canned.createCannedResponse(request)
        #expect(created.placeholders == ["shopper_name", "order_id"], "each name once, in order of first appearance")
        #expect(created.version == 1 && created.createdBy.kind == .service)
        #expect(try await canned.createCannedResponse(request) == created, "a retry returns the first result")
        var reused = request
        reused.title = "Something else"
        await expectCode(.alreadyExists) { try await canned.createCannedResponse(reused) }
        #expect(try await canned.getCannedResponse(.with { $0.cannedResponseID = created.cannedResponseID }) == created)

        let updated = try await canned.updateCannedResponse(.with {
          $0.cannedResponse = .with { $0.cannedResponseID = created.cannedResponseID; $0.body = "Hi {agent_name} here"; $0.title = "ignored" }
          $0.updateMask = .with { $0.paths = ["body"] }
          $0.expectedVersion = 1
        })
        #expect(updated.version == 2 && updated.body == "Hi {agent_name} here" && updated.title == "Refund timeline")
        #expect(updated.placeholders == ["agent_name"])
        let unchanged = try await canned.updateCannedResponse(.with {
          $0.cannedResponse = updated
          $0.updateMask = .with { $0.paths = ["body"] }
        })
        #expect(unchanged.version == 2, "an update that changes nothing keeps the version")
        await expectCode(.aborted) {
          try await canned.updateCannedResponse(.with {
            $0.cannedResponse = .with { $0.cannedResponseID = created.cannedResponseID; $0.title = "x" }
            $0.updateMask = .with { $0.paths = ["title"] }
            $0.expectedVersion = 1
          })
        }
        await expectCode(.invalidArgument, containing: "update_mask") {
          try await canned.updateCannedResponse(.with {
            $0.cannedResponse = .with { $0.cannedResponseID = created.cannedResponseID }
            $0.updateMask = .with { $0.paths = ["version"] }
          })
        }
        await expectCode(.invalidArgument, containing: "canned_response.body") {
          try await canned.updateCannedResponse(.with {
            $0.cannedResponse = .with { $0.cannedResponseID = created.cannedResponseID; $0.body = "Hi {Agent}" }
            $0.updateMask = .with { $0.paths = ["body"] }
          })
        }
        await expectCode(.invalidArgument, containing: "skill_group_ids") {
          try await canned.updateCannedResponse(.with {
            $0.cannedResponse = .with { $0.cannedResponseID = created.cannedResponseID; $0.scope = .skillGroup }
            $0.updateMask = .with { $0.paths = ["scope"] }
          })
        }
        #expect(try await canned.getCannedResponse(.with { $0.cannedResponseID = created.cannedResponseID }).version == 2, "refused updates change nothing")

        await expectCode(.aborted) {
          try await canned.deleteCannedResponse(.with { $0.cannedResponseID = created.cannedResponseID; $0.expectedVersion = 1 })
        }
        _ = try await canned.deleteCannedResponse(.with { $0.cannedResponseID = created.cannedResponseID; $0.expectedVersion = 2 })
        await expectCode(.notFound) { try await canned.getCannedResponse(.with { $0.cannedResponseID = created.cannedResponseID }) }
        await expectCode(.notFound) { try await canned.deleteCannedResponse(.with { $0.cannedResponseID = created.cannedResponseID }) }
        await expectCode(.notFound) {
          try await canned.updateCannedResponse(.with {
            $0.cannedResponse = .with { $0.cannedResponseID = created.cannedResponseID; $0.title = "x" }
            $0.updateMask = .with { $0.paths = ["title"] }
          })
        }
        await expectCode(.notFound) { try await canned.getCannedResponse(.with { $0.cannedResponseID = UUID().uuidString }) }
        await expectCode(.invalidArgument, containing: "canned_response_id") { try await canned.getCannedResponse(.init()) }
      }
    }

    @Test("bad input is INVALID_ARGUMENT naming the field and stores nothing; malformed placeholders are refused")
    func cannedBadInput() async throws {
      try await mesh.withGateway { grpc in
        let canned = Canned(wrapping: grpc)
        let marker = uniqueID("bad")
        let cases: [(String, (inout Support_Chat_V1_CreateCannedResponseRequest) -> Void)] = [
          ("request_id", { $0.requestID = "" }),
          ("title", { $0.title = " " }),
          ("body", { $0.body = "" }),
          ("body", { $0.body = String(repeating: "长", count: 5_001) }),
          ("scope", { $0.scope = .unspecified }),
          ("skill_group_ids", { $0.scope = .skillGroup; $0.skillGroupIds = [] }),
          ("skill_group_ids", { $0.scope = .team; $0.skillGroupIds = ["pre-sales"] }),
          ("shortcut", { $0.shortcut = "/two words" }),
          ("tags[0]", { $0.tags = [""] }),
          ("character 7", { $0.body = "Hello {Name}" }),
          ("character 7", { $0.body = "Hello {name" }),
          ("character 7", { $0.body = "Hello } there" }),
          ("character 7", { $0.body = "Hello {}" }),
          ("character 1", { $0.body = "{order__id}" }),
          ("character 1", { $0.body = "{9lives}" }),
          ("character 4", { $0.body = "价格 {金额}" }),
        ]
        for (field, change) in cases {
          var request = Self.createRequest(marker, body: "ok")
          change(&request)
          await expectCode(.invalidArgument, containing: field) { try await canned.createCannedResponse(request) }
        }
        let bad = await richError(.invalidArgument) {
          try await canned.createCannedResponse(Self.createRequest(marker, body: "Dear {Shopper}"))
        }
        #expect(bad?.details.compactMap(\.badRequest).first?.violations.first?.field == "body")
        let listed = try await canned.listCannedResponses(.with { $0.query = marker })
        #expect(listed.cannedResponses.isEmpty, "nothing refused was stored")
        let escaped = try await canned.createCannedResponse(Self.createRequest(marker, body: "{{not_a_placeholder}} and {ok_1}"))
        #expect(escaped.placeholders == ["ok_1"])
      }
    }

    @Test("shortcuts are unique within overlapping scopes only")
    func shortcuts() async throws {
      try await mesh.withGateway { grpc in
        let canned = Canned(wrapping: grpc)
        let shortcut = uniqueID("/ship")
        let groupA = try await Self.skillGroup(grpc), groupB = try await Self.skillGroup(grpc), groupC = try await Self.skillGroup(grpc)
        let inA = try await canned.createCannedResponse(Self.createRequest("A", body: "a", shortcut: shortcut, scope: .skillGroup, groups: [groupA]))
        _ = try await canned.createCannedResponse(Self.createRequest("B", body: "b", shortcut: shortcut, scope: .skillGroup, groups: [groupB]))
        let clash = await richError(.alreadyExists) {
          try await canned.createCannedResponse(Self.createRequest("A2", body: "a", shortcut: shortcut, scope: .skillGroup, groups: [groupA, groupC]))
        }
        let info = clash?.details.compactMap(\.errorInfo).first
        #expect(info?.reason == "SHORTCUT_IN_USE" && info?.metadata["canned_response_id"] == inA.cannedResponseID)
        await expectCode(.alreadyExists, containing: shortcut) {
          try await canned.createCannedResponse(Self.createRequest("Team", body: "t", shortcut: shortcut))
        }
        // Moving B into A's group clashes; after A is deleted the shortcut is free there.
        let b = try await canned.listCannedResponses(.with { $0.skillGroupID = groupB; $0.query = shortcut }).cannedResponses
        #expect(b.count == 1)
        let moveB = Support_Chat_V1_UpdateCannedResponseRequest.with {
          $0.cannedResponse = .with { $0.cannedResponseID = b[0].cannedResponseID; $0.skillGroupIds = [groupA] }
          $0.updateMask = .with { $0.paths = ["skill_group_ids"] }
        }
        await expectCode(.alreadyExists) { try await canned.updateCannedResponse(moveB) }
        _ = try await canned.deleteCannedResponse(.with { $0.cannedResponseID = inA.cannedResponseID })
        #expect(try await canned.updateCannedResponse(moveB).skillGroupIds == [groupA])
      }
    }

    @Test("list: title order, cursor pages, skill group, purpose and case-insensitive substring filters")
    func cannedList() async throws {
      try await mesh.withGateway { grpc in
        let canned = Canned(wrapping: grpc)
        let marker = uniqueID("List")
        let group = try await Self.skillGroup(grpc)
        var expected: [String] = []
        for (index, title) in ["c", "a", "b", "a", "d"].enumerated() {
          var request = Self.createRequest("\(title) \(marker)", body: "body \(index) 退货说明")
          if index == 4 { request.scope = .skillGroup; request.skillGroupIds = [group] }
          if index == 2 { request.purpose = .greeting }
          expected.append(try await canned.createCannedResponse(request).cannedResponseID)
        }
        var seen: [Support_Chat_V1_CannedResponse] = []
        var token = ""
        repeat {
          let page = try await canned.listCannedResponses(.with { $0.query = marker.uppercased(); $0.pageSize = 2; $0.pageToken = token })
          seen += page.cannedResponses
          token = page.nextPageToken
        } while !token.isEmpty
        #expect(seen.map(\.title) == ["a", "a", "b", "c", "d"].map { "\($0) \(marker)" })
        #expect(Set(seen.map(\.cannedResponseID)) == Set(expected))
        let aTitles = seen.prefix(2).map(\.cannedResponseID)
        #expect(aTitles == aTitles.sorted(), "equal titles are ordered by id")
        let inGroup = try await canned.listCannedResponses(.with { $0.query = marker; $0.skillGroupID = group })
        #expect(inGroup.cannedResponses.count == 5, "TEAM responses plus the group's")
        let otherGroup = try await canned.listCannedResponses(.with { $0.query = marker; $0.skillGroupID = uniqueID("other") })
        #expect(otherGroup.cannedResponses.count == 4)
        let greetings = try await canned.listCannedResponses(.with { $0.query = marker; $0.purpose = .greeting })
        #expect(greetings.cannedResponses.map(\.title) == ["b \(marker)"])
        let chinese = try await canned.listCannedResponses(.with { $0.query = "body 3 退货" })
        #expect(chinese.cannedResponses.contains { $0.cannedResponseID == expected[3] })
        let short = try await canned.listCannedResponses(.with { $0.query = "y 4" })
        #expect(short.cannedResponses.contains { $0.cannedResponseID == expected[4] })

        let first = try await canned.listCannedResponses(.with { $0.query = marker; $0.pageSize = 1 })
        await expectCode(.invalidArgument, containing: "page_token") {
          try await canned.listCannedResponses(.with { $0.query = "other"; $0.pageSize = 1; $0.pageToken = first.nextPageToken })
        }
        await expectCode(.invalidArgument, containing: "page_token") { try await canned.listCannedResponses(.with { $0.pageToken = "garbage" }) }
        await expectCode(.invalidArgument, containing: "page_size") { try await canned.listCannedResponses(.with { $0.pageSize = 501 }) }
        await expectCode(.invalidArgument, containing: "page_size") { try await canned.listCannedResponses(.with { $0.pageSize = -1 }) }
      }
    }

    @Test("render fills the conversation's values, overridden by placeholder_values, and reports missing ones")
    func render() async throws {
      try await mesh.withGateway { grpc in
        let canned = Canned(wrapping: grpc)
        let chat = Chat(wrapping: grpc)
        let response = try await canned.createCannedResponse(
          Self.createRequest("Render", body: "{{您好}} {shopper_name}: 订单 {order_id} ({conversation_id}) {agent_name} {coupon}"))
        let conversation = try await chat.startConversation(.with {
          $0.requestID = uniqueID("start"); $0.shopperID = uniqueID("shopper"); $0.channel = .web
          $0.orderID = "E20261126"; $0.shopperDisplayName = "王女士"; $0.initialMessage = uniqueID("hello")
        })
        let rendered = try await canned.renderCannedResponse(.with {
          $0.cannedResponseID = response.cannedResponseID; $0.conversationID = conversation.conversationID
          $0.placeholderValues = ["order_id": "E-override", "coupon": ""]
        })
        #expect(rendered.text == "{您好} 王女士: 订单 E-override (\(conversation.conversationID)) {agent_name} {coupon}")
        #expect(rendered.missingPlaceholders == ["agent_name", "coupon"])
        let bare = try await canned.renderCannedResponse(.with { $0.cannedResponseID = response.cannedResponseID })
        #expect(bare.missingPlaceholders == ["shopper_name", "order_id", "conversation_id", "agent_name", "coupon"])
        await expectCode(.notFound) {
          try await canned.renderCannedResponse(.with { $0.cannedResponseID = response.cannedResponseID; $0.conversationID = UUID().uuidString })
        }
        await expectCode(.invalidArgument, containing: "placeholder_values") {
          try await canned.renderCannedResponse(.with { $0.cannedResponseID = response.cannedResponseID; $0.placeholderValues = ["Bad Name": "x"] })
        }
        await expectCode(.notFound) { try await canned.renderCannedResponse(.with { $0.cannedResponseID = UUID().uuidString }) }
      }
    }

    @Test("SendMessage with a canned response: rendered, exclusive with text, values required, staff only")
    func sendCanned() async throws {
      let shopper = uniqueID("shopper")
      let supervisor = uniqueID("supervisor")
      let (conversation, response, deleted) = try await mesh.withGateway { grpc in
        let canned = Canned(wrapping: grpc)
        let response = try await canned.createCannedResponse(
          Self.createRequest("Send", body: "{shopper_name} 您好, 我是 {agent_name}, 订单 {order_id} 已发货 {tracking_no}"))
        let deleted = try await canned.createCannedResponse(Self.createRequest("Gone", body: "bye"))
        _ = try await canned.deleteCannedResponse(.with { $0.cannedResponseID = deleted.cannedResponseID })
        let conversation = try await Chat(wrapping: grpc).startConversation(.with {
          $0.requestID = uniqueID("start"); $0.shopperID = shopper; $0.channel = .app
          $0.orderID = "E777"; $0.shopperDisplayName = "李先生"; $0.initialMessage = uniqueID("hello")
        })
        return (conversation, response, deleted)
      }
      try await mesh.withGateway(as: .supervisor(supervisor)) { grpc in
        let chat = Chat(wrapping: grpc)
        func send(_ change: (inout Support_Chat_V1_SendMessageRequest) -> Void) -> Support_Chat_V1_SendMessageRequest {
          var request = Support_Chat_V1_SendMessageRequest.with {
            $0.requestID = uniqueID("msg"); $0.conversationID = conversation.conversationID
            $0.sender = .with { $0.kind = .supervisor; $0.id = supervisor; $0.displayName = "小张" }
            $0.cannedResponseID = response.cannedResponseID; $0.placeholderValues = ["tracking_no": "SF123"]
          }
          change(&request)
          return request
        }
        let request = send { _ in }
        let message = try await chat.sendMessage(request)
        #expect(message.text == "李先生 您好, 我是 小张, 订单 E777 已发货 SF123")
        #expect(message.cannedResponseID == response.cannedResponseID)
        #expect(try await chat.sendMessage(request) == message, "a retry returns the stored message")
        let missing = await richError(.invalidArgument) { try await chat.sendMessage(send { $0.placeholderValues = [:] }) }
        #expect(missing?.message.contains("{tracking_no}") == true)
        #expect(missing?.details.compactMap(\.badRequest).first?.violations.first?.field == "placeholder_values")
        await expectCode(.invalidArgument, containing: "canned_response_id") { try await chat.sendMessage(send { $0.text = "also text" }) }
        await expectCode(.notFound) { try await chat.sendMessage(send { $0.cannedResponseID = deleted.cannedResponseID }) }
        await expectCode(.notFound) { try await chat.sendMessage(send { $0.cannedResponseID = UUID().uuidString }) }
        let history = try await chat.listMessages(.with { $0.conversationID = conversation.conversationID })
        #expect(history.messages.filter { !$0.cannedResponseID.isEmpty }.count == 1, "refused sends stored nothing")
      }
      try await mesh.withGateway(as: .shopper(shopper)) { grpc in
        await expectCode(.permissionDenied) {
          try await Chat(wrapping: grpc).sendMessage(.with {
            $0.requestID = uniqueID("msg"); $0.conversationID = conversation.conversationID
            $0.sender = .with { $0.kind = .shopper; $0.id = shopper }; $0.cannedResponseID = response.cannedResponseID
          })
        }
        await expectCode(.permissionDenied) {
          try await Canned(wrapping: grpc).getCannedResponse(.with { $0.cannedResponseID = response.cannedResponseID })
        }
      }
    }

    // MARK: - FAQ

    /// FAQ entries a test made, deleted when it ends (failed or not): the mesh is shared, and a
    /// published entry left behind would be suggested to other tests' new conversations.
    actor Created {
      var ids: [String] = []
      func add(_ entry: Support_Chat_V1_FaqEntry) -> Support_Chat_V1_FaqEntry {
        ids.append(entry.faqEntryID)
        return entry
      }
    }

    static func withCleanup(_ body: (Faq<HTTP2ClientTransport.Posix>, Created) async throws -> Void) async throws {
      try await mesh.withGateway { grpc in
        let faq = Faq(wrapping: grpc)
        let created = Created()
        let outcome: Result<Void, any Error>
        do { outcome = .success(try await body(faq, created)) } catch { outcome = .failure(error) }
        for id in await created.ids {
          _ = try? await faq.deleteFaqEntry(.with { $0.faqEntryID = id })
        }
        try outcome.get()
      }
    }

    static func faqRequest(_ question: String, _ answer: String, keywords: [String] = [], category: String, status: Support_Chat_V1_FaqEntryStatus = .published) -> Support_Chat_V1_CreateFaqEntryRequest {
      .with {
        $0.requestID = uniqueID("faq"); $0.question = question; $0.answer = answer; $0.keywords = keywords
        $0.category = category; $0.status = status
      }
    }

    @Test("FAQ create, get, list, update, delete; bad input; retries")
    func faqCrud() async throws {
      try await Self.withCleanup { faq, created in
        let category = uniqueID("cat")
        let request = Self.faqRequest("How long does shipping take?", "Usually 2-3 days.", keywords: [" Shipping Time "], category: category, status: .unspecified)
        let entry = await created.add(try await faq.createFaqEntry(request))
        #expect(entry.status == .draft && entry.version == 1 && entry.keywords == ["shipping time"])
        #expect(try await faq.createFaqEntry(request) == entry)
        let cases: [(String, (inout Support_Chat_V1_CreateFaqEntryRequest) -> Void)] = [
          ("request_id", { $0.requestID = "" }),
          ("question", { $0.question = "" }),
          ("question", { $0.question = String(repeating: "问", count: 501) }),
          ("answer", { $0.answer = String(repeating: "答", count: 10_001) }),
          ("keywords", { $0.keywords = (0...30).map { "k\($0)" } }),
          ("keywords[1]", { $0.keywords = ["ok", " "] }),
          ("attachments[0].uri", { $0.attachments = [.init()] }),
        ]
        for (field, change) in cases {
          var bad = Self.faqRequest("q", "a", category: category)
          change(&bad)
          await expectCode(.invalidArgument, containing: field) { try await faq.createFaqEntry(bad) }
        }
        let published = try await faq.updateFaqEntry(.with {
          $0.faqEntry = .with { $0.faqEntryID = entry.faqEntryID; $0.status = .published; $0.answer = "ignored" }
          $0.updateMask = .with { $0.paths = ["status"] }
          $0.expectedVersion = 1
        })
        #expect(published.status == .published && published.version == 2 && published.answer == "Usually 2-3 days.")
        await expectCode(.aborted) {
          try await faq.updateFaqEntry(.with {
            $0.faqEntry = .with { $0.faqEntryID = entry.faqEntryID; $0.category = "x" }
            $0.updateMask = .with { $0.paths = ["category"] }
            $0.expectedVersion = 1
          })
        }
        await expectCode(.invalidArgument, containing: "faq_entry.status") {
          try await faq.updateFaqEntry(.with {
            $0.faqEntry = .with { $0.faqEntryID = entry.faqEntryID }
            $0.updateMask = .with { $0.paths = ["status"] }
          })
        }
        await expectCode(.invalidArgument, containing: "update_mask") {
          try await faq.updateFaqEntry(.with { $0.faqEntry = .with { $0.faqEntryID = entry.faqEntryID } })
        }
        _ = await created.add(try await faq.createFaqEntry(Self.faqRequest("A first question", "a", category: category, status: .draft)))
        _ = await created.add(try await faq.createFaqEntry(Self.faqRequest("Z last question", "z", category: category, status: .archived)))
        var questions: [String] = []
        var token = ""
        repeat {
          let page = try await faq.listFaqEntries(.with { $0.category = category; $0.pageSize = 1; $0.pageToken = token })
          questions += page.faqEntries.map(\.question)
          token = page.nextPageToken
        } while !token.isEmpty
        #expect(questions == ["A first question", "How long does shipping take?", "Z last question"])
        let drafts = try await faq.listFaqEntries(.with { $0.category = category; $0.status = .draft })
        #expect(drafts.faqEntries.map(\.question) == ["A first question"])

        await expectCode(.aborted) { try await faq.deleteFaqEntry(.with { $0.faqEntryID = entry.faqEntryID; $0.expectedVersion = 1 }) }
        _ = try await faq.deleteFaqEntry(.with { $0.faqEntryID = entry.faqEntryID; $0.expectedVersion = 2 })
        await expectCode(.notFound) { try await faq.getFaqEntry(.with { $0.faqEntryID = entry.faqEntryID }) }
        await expectCode(.notFound) { try await faq.deleteFaqEntry(.with { $0.faqEntryID = entry.faqEntryID }) }
      }
    }

    @Test("SearchFaq ranks Chinese and English matches, question over answer, published only, in pages")
    func search() async throws {
      try await Self.withCleanup { faq, created in
        let category = uniqueID("search")
        let refund = await created.add(try await faq.createFaqEntry(Self.faqRequest(
          "如何申请退货退款？", "在订单详情页点击申请售后，选择退货退款。七天无理由退货。", keywords: ["退货", "refund"], category: category)))
        let mentionsInAnswer = await created.add(try await faq.createFaqEntry(Self.faqRequest(
          "商品有质量问题怎么办？", "可以申请换货或退货，也可以维修。", category: category)))
        let shipping = await created.add(try await faq.createFaqEntry(Self.faqRequest(
          "快递多久能到？", "一般发货后两到三天送达。", keywords: ["物流"], category: category)))
        let english = await created.add(try await faq.createFaqEntry(Self.faqRequest(
          "How do I return an item?", "Open the order, choose Return, and print the label. Refunds arrive within 5 days.", category: category)))
        let englishAnswer = await created.add(try await faq.createFaqEntry(Self.faqRequest(
          "Can I change my delivery address?", "Yes, before the parcel ships; a return to sender costs extra.", category: category)))
        _ = await created.add(try await faq.createFaqEntry(Self.faqRequest("退货的草稿", "退货 draft", category: category, status: .draft)))
        _ = await created.add(try await faq.createFaqEntry(Self.faqRequest("退货的旧答案", "退货 archived", category: category, status: .archived)))

        let chinese = try await faq.searchFaq(.with { $0.query = "我想退货，怎么办？"; $0.category = category })
        // 退货 in the question (and a keyword) first; 退货 in the answer next; a lone 货 (in 发货)
        // last; drafts, archived and unrelated entries not at all.
        #expect(chinese.results.map(\.faqEntry.faqEntryID) == [refund.faqEntryID, mentionsInAnswer.faqEntryID, shipping.faqEntryID])
        #expect(chinese.results.first?.matchedKeywords == ["退货"])
        #expect(chinese.results.count == 3 && chinese.results[0].score > chinese.results[1].score && chinese.results[1].score > chinese.results[2].score)

        let parcel = try await faq.searchFaq(.with { $0.query = "我的快递到哪了"; $0.category = category })
        #expect(parcel.results.first?.faqEntry.faqEntryID == shipping.faqEntryID)

        let returns = try await faq.searchFaq(.with { $0.query = "How can I RETURN my items?"; $0.category = category })
        #expect(returns.results.map(\.faqEntry.faqEntryID) == [english.faqEntryID, englishAnswer.faqEntryID])

        let byKeyword = try await faq.searchFaq(.with { $0.keywords = ["REFUND", "物流"]; $0.category = category })
        #expect(Set(byKeyword.results.map(\.faqEntry.faqEntryID)) == [refund.faqEntryID, shipping.faqEntryID])

        var paged: [String] = []
        var token = ""
        repeat {
          let page = try await faq.searchFaq(.with { $0.query = "退货 return refund"; $0.category = category; $0.pageSize = 1; $0.pageToken = token })
          paged += page.results.map(\.faqEntry.faqEntryID)
          token = page.nextPageToken
        } while !token.isEmpty
        let whole = try await faq.searchFaq(.with { $0.query = "退货 return refund"; $0.category = category })
        #expect(paged == whole.results.map(\.faqEntry.faqEntryID) && paged.count >= 3)

        await expectCode(.invalidArgument, containing: "query") { try await faq.searchFaq(.init()) }
        await expectCode(.invalidArgument, containing: "query") { try await faq.searchFaq(.with { $0.query = String(repeating: "q", count: 501) }) }
        await expectCode(.invalidArgument, containing: "page_size") { try await faq.searchFaq(.with { $0.query = "x"; $0.pageSize = 101 }) }
        await expectCode(.invalidArgument, containing: "page_token") {
          try await faq.searchFaq(.with { $0.query = "other"; $0.pageToken = whole.nextPageToken.isEmpty ? "bad" : whole.nextPageToken })
        }
      }
    }

    @Test("shoppers may only read published FAQ entries and search; they may not write or use canned responses")
    func shopperPermissions() async throws {
      try await Self.withCleanup { faq, created in
        let category = uniqueID("perm")
        let published = await created.add(try await faq.createFaqEntry(Self.faqRequest("Published \(category)", "yes", category: category)))
        let draft = await created.add(try await faq.createFaqEntry(Self.faqRequest("Draft \(category)", "no", category: category, status: .draft)))
        try await mesh.withGateway(as: .shopper(uniqueID("shopper"))) { grpc in
          let faq = Faq(wrapping: grpc)
          #expect(try await faq.getFaqEntry(.with { $0.faqEntryID = published.faqEntryID }) == published)
          await expectCode(.notFound) { try await faq.getFaqEntry(.with { $0.faqEntryID = draft.faqEntryID }) }
          let listed = try await faq.listFaqEntries(.with { $0.category = category })
          #expect(listed.faqEntries.map(\.faqEntryID) == [published.faqEntryID])
          await expectCode(.permissionDenied) { try await faq.listFaqEntries(.with { $0.category = category; $0.status = .draft }) }
          let found = try await faq.searchFaq(.with { $0.query = category; $0.category = category })
          #expect(found.results.map(\.faqEntry.faqEntryID) == [published.faqEntryID])
          await expectCode(.permissionDenied) { try await faq.createFaqEntry(Self.faqRequest("q", "a", category: category)) }
          await expectCode(.permissionDenied) {
            try await faq.updateFaqEntry(.with {
              $0.faqEntry = .with { $0.faqEntryID = draft.faqEntryID; $0.status = .published }
              $0.updateMask = .with { $0.paths = ["status"] }
            })
          }
          await expectCode(.permissionDenied) { try await faq.deleteFaqEntry(.with { $0.faqEntryID = published.faqEntryID }) }
          await expectCode(.permissionDenied) { try await Canned(wrapping: grpc).listCannedResponses(.init()) }
          await expectCode(.permissionDenied) { try await Canned(wrapping: grpc).createCannedResponse(Self.createRequest("x", body: "y")) }
        }
        try await mesh.withGateway(as: .agent(uniqueID("agent"))) { grpc in
          #expect(try await Faq(wrapping: grpc).getFaqEntry(.with { $0.faqEntryID = draft.faqEntryID }) == draft, "staff see drafts")
          let byAgent = try await Canned(wrapping: grpc).createCannedResponse(Self.createRequest("By agent", body: "hi"))
          #expect(byAgent.createdBy.kind == .agent)
        }
        #expect(try await faq.getFaqEntry(.with { $0.faqEntryID = draft.faqEntryID }).status == .draft, "refused updates changed nothing")
      }
    }

    @Test("a new conversation whose first message matches published FAQ entries gets them as a SYSTEM message first")
    func suggestions() async throws {
      try await Self.withCleanup { faq, created in
        // A made-up product word keeps other tests' entries out of this test's matches.
        let product = "zq" + uniqueID("x").suffix(6)
        let best = await created.add(try await faq.createFaqEntry(Self.faqRequest(
          "\(product) 如何申请退货？", String(repeating: "在订单详情页申请售后。", count: 40), keywords: [product], category: "returns")))
        let second = await created.add(try await faq.createFaqEntry(Self.faqRequest(
          "\(product) 保修多久？", "\(product) 退货 and warranty: one year.", category: "returns")))
        _ = await created.add(try await faq.createFaqEntry(Self.faqRequest(
          "\(product) 退货 draft", "draft", category: "returns", status: .draft)))
        let shopper = uniqueID("shopper")
        try await mesh.withGateway(as: .shopper(shopper)) { grpc in
          let chat = Chat(wrapping: grpc)
          let start = Support_Chat_V1_StartConversationRequest.with {
            $0.requestID = uniqueID("start"); $0.shopperID = shopper; $0.channel = .web
            $0.initialMessage = "我的\(product)想退货"
          }
          let conversation = try await chat.startConversation(start)
          #expect(conversation.lastSequence == 3, "QUEUED status, initial message, suggestions")
          #expect(try await chat.startConversation(start).lastSequence == 3, "a retried start adds nothing")
          let messages = try await chat.listMessages(.with { $0.conversationID = conversation.conversationID }).messages
          #expect(messages.map(\.sequence) == [2, 3])
          let suggestion = try #require(messages.last)
          #expect(suggestion.sender.kind == .system && suggestion.conversationID == conversation.conversationID)
          #expect(suggestion.suggestedFaqEntryIds == [best.faqEntryID, second.faqEntryID], "best match first; drafts never")
          #expect(suggestion.text.contains(best.question) && suggestion.text.contains(second.question))
          #expect(suggestion.text.count < 1_000, "answers are previewed, not copied whole")
          #expect(messages.first?.suggestedFaqEntryIds.isEmpty == true)

          let unrelated = try await chat.startConversation(.with {
            $0.requestID = uniqueID("start"); $0.shopperID = shopper; $0.channel = .web; $0.initialMessage = "qx" + uniqueID("y")
          })
          #expect(unrelated.lastSequence == 2, "no match, no suggestions message")
        }
      }
    }
  }
}

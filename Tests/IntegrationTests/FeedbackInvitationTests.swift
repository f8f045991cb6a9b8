import Crypto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Hummingbird
import ServiceKit
import SupportCodec
import Synchronization
import TestSupport
import Testing

extension MeshTests {
  /// SurveyInvitationSender: the invitation of a survey feedback creates itself reaches the
  /// shop's notification service (here a real HTTP server) with a working link, signed, and is
  /// retried after a failure.
  @Suite("Feedback survey invitations")
  struct FeedbackInvitations {
    /// The mesh's SUPPORTMESH_FEEDBACK_INVITATION_URL points here (WholeMesh).
    static func port(_ mesh: Mesh) -> Int { mesh.portBase + 70 }
    static let path = "/invitations"
    static let secret = "invitation-test-secret"

    /// What the receiver saw: per survey id, each request's body, signature and answer.
    final class Received: Sendable {
      struct Request: Sendable {
        var body: Data
        var signature: String
        var idempotencyKey: String
        var answered: Int
      }
      let requests = Mutex<[String: [Request]]>([:])
    }

    /// Serves the invitation endpoint while `body` runs: the first request for each survey is
    /// answered 503 (the notifier is busy), the next ones 200.
    static func withReceiver(_ mesh: Mesh, _ received: Received, _ body: @Sendable () async throws -> Void) async throws {
      let router = Router()
      router.post("/invitations") { request, _ -> Response in
        let bytes = try await request.body.collect(upTo: 1 << 20)
        let data = Data(bytes.readableBytesView)
        let surveyID = (try? JSONDecoder().decode(SurveyInvitationPayload.self, from: data))?.survey_id ?? ""
        let status = received.requests.withLock { requests in
          let answered = (requests[surveyID]?.isEmpty ?? true) ? 503 : 200
          requests[surveyID, default: []].append(.init(
            body: data, signature: request.headers[.init("X-SupportMesh-Signature")!] ?? "",
            idempotencyKey: request.headers[.init("Idempotency-Key")!] ?? "", answered: answered))
          return answered
        }
        return Response(status: .init(code: status))
      }
      let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port(mesh))))
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.runService(gracefulShutdownSignals: []) }
        try await body()
        group.cancelAll()
      }
    }

    struct SurveyInvitationPayload: Codable {
      var survey_id: String
      var shopper_id: String
      var subject_kind: String
      var subject_id: String
      var agent_id: String
      var channel: String
      var link: String
      var token: String
      var expire_time: String
    }

    @Test("a closed chat's survey invitation is POSTed, signed, retried after a 503, and its link's token opens the survey")
    func invitationDelivered() async throws {
      let m = try mesh
      let received = Received()
      try await Self.withReceiver(m, received) {
        let (group, agent) = try await m.withGateway { grpc in
          let agents = Support_Chat_V1_AgentService.Client(wrapping: grpc)
          let group = try await agents.createSkillGroup(.with {
            $0.requestID = uniqueID("req"); $0.name = uniqueID("Invitation Group"); $0.offlinePolicy = .keep; $0.assignmentPolicy = .leastLoaded
          })
          let agent = try await agents.createAgent(.with {
            $0.requestID = uniqueID("req"); $0.displayName = "Inviter"; $0.role = .afterSales
            $0.maxConcurrentConversations = 1; $0.skillGroupIds = [group.skillGroupID]
          })
          _ = try await agents.setAgentPresence(.with { $0.agentID = agent.agentID; $0.presence = .online })
          return (group, agent)
        }
        let shopper = uniqueID("shopper")
        let conversation = try await m.withGateway(as: .shopper(shopper)) { grpc in
          try await Support_Chat_V1_ConversationService.Client(wrapping: grpc).startConversation(.with {
            $0.requestID = uniqueID("req"); $0.shopperID = shopper; $0.channel = .app; $0.skillGroupID = group.skillGroupID
            $0.initialMessage = "Where is my parcel?"
          })
        }
        try await m.withGateway(as: .agent(agent.agentID)) { grpc in
          let chat = Support_Chat_V1_ConversationService.Client(wrapping: grpc)
          _ = try await chat.sendMessage(.with {
            $0.requestID = uniqueID("msg"); $0.conversationID = conversation.conversationID; $0.text = "It arrives tomorrow."
            $0.sender = .with { $0.kind = .agent; $0.id = agent.agentID }
          })
          _ = try await chat.closeConversation(.with { $0.conversationID = conversation.conversationID; $0.reason = .resolved })
        }
        // Feedback creates the survey from ConversationClosedEvent, then invites.
        let deadline = ContinuousClock.now + .seconds(30)
        var surveyID = ""
        var delivered: [Received.Request] = []
        while ContinuousClock.now < deadline {
          if surveyID.isEmpty {
            surveyID = try await m.withGateway { grpc in
              try await Support_Feedback_V1_SurveyService.Client(wrapping: grpc).listSurveys(.with {
                $0.subject = .with { $0.kind = .conversation; $0.id = conversation.conversationID }
              }).surveys.first?.surveyID ?? ""
            }
          }
          delivered = received.requests.withLock { $0[surveyID] ?? [] }
          if delivered.contains(where: { $0.answered == 200 }) { break }
          try await Task.sleep(for: .milliseconds(200))
        }
        try #require(!surveyID.isEmpty, "the closed chat got a survey")
        #expect(delivered.map(\.answered) == [503, 200], "retried once after the 503, then never again")
        #expect(delivered.allSatisfy { $0.idempotencyKey == surveyID })
        let last = try #require(delivered.last)
        let mac = HMAC<SHA256>.authenticationCode(for: last.body, using: SymmetricKey(data: Array(Self.secret.utf8)))
        #expect(last.signature == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
        let payload = try JSONDecoder().decode(SurveyInvitationPayload.self, from: last.body)
        #expect(payload.shopper_id == shopper && payload.subject_kind == "CONVERSATION" && payload.subject_id == conversation.conversationID)
        #expect(payload.agent_id == agent.agentID && payload.channel == "APP" && payload.link.hasSuffix("/survey/\(payload.token)"))
        // The token in the link opens the survey for its shopper.
        let opened = try await m.withGateway(as: .shopper(shopper)) { grpc in
          try await Support_Feedback_V1_SurveyService.Client(wrapping: grpc).getSurveyByToken(.with { $0.token = payload.token })
        }
        #expect(opened.surveyID == surveyID && opened.token.isEmpty)
        // Sent: a later pass does not send it again.
        try await Task.sleep(for: .seconds(2))
        #expect(received.requests.withLock { $0[surveyID]?.count } == 2)
      }
    }
  }
}

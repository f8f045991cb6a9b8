import FeedbackService
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import ServiceKit
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  /// Survey tokens as bearer secrets, ListSurveys, and the expiry sweep, through the gateway.
  @Suite("Feedback surveys: tokens, lists, expiry")
  struct FeedbackSurveys {
    typealias Surveys = Support_Feedback_V1_SurveyService.Client<HTTP2ClientTransport.Posix>

    static func createRequest(shopper: String, agent: String = "", expireIn seconds: Double? = nil) -> Support_Feedback_V1_CreateSurveyRequest {
      .with {
        $0.requestID = uniqueID("req"); $0.subject = .with { $0.kind = .ticket; $0.id = uniqueID("ticket") }
        $0.shopperID = shopper; $0.agentID = agent; $0.channel = .web
        if let seconds { $0.expireTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(seconds)) }
      }
    }

    @Test("the token comes only from CreateSurvey (a retry re-derives it); reads, lists and events never carry it; only its hash is stored")
    func tokenIsABearerSecret() async throws {
      let m = try mesh
      let shopper = uniqueID("shopper")
      let request = Self.createRequest(shopper: shopper)
      let survey = try await m.withGateway { grpc in
        let surveys = Surveys(wrapping: grpc)
        let survey = try await surveys.createSurvey(request)
        #expect(survey.token.count == 43, "256 bits, base64url without padding")
        #expect(try await surveys.createSurvey(request).token == survey.token, "a retried create gets the same token back")
        #expect(try await surveys.getSurvey(.with { $0.surveyID = survey.surveyID }).token.isEmpty)
        #expect(try await surveys.getSurveyByToken(.with { $0.token = survey.token }).surveyID == survey.surveyID)
        return survey
      }
      try await m.withGateway(as: .shopper(shopper)) { grpc in
        let surveys = Surveys(wrapping: grpc)
        #expect(try await surveys.getSurvey(.with { $0.surveyID = survey.surveyID }).token.isEmpty, "not even to the shopper")
        let mine = try await surveys.listSurveys(.init())
        #expect(mine.surveys.map(\.surveyID) == [survey.surveyID] && mine.surveys[0].token.isEmpty)
        #expect(try await surveys.getSurveyByToken(.with { $0.token = survey.token }).token.isEmpty)
      }
      // Stored: the hash only; the message and the event log do not hold the token.
      let token = survey.token
      #expect(try m.query("SELECT encode(token_hash, 'hex') = encode(sha256(convert_to('\(token)', 'UTF8')), 'hex') FROM feedback.surveys WHERE survey_id = '\(survey.surveyID)'") == "t")
      #expect(try m.query("SELECT count(*) FROM feedback.surveys WHERE position(convert_to('\(token)', 'UTF8') IN body) > 0") == "0")
      #expect(try m.query("SELECT count(*) FROM feedback.event_outbox WHERE subject = '\(survey.surveyID)' AND event_type = 'support.feedback.v1.SurveyCreatedEvent'") == "1")
      #expect(try m.query("SELECT count(*) FROM feedback.event_outbox WHERE position(convert_to('\(token)', 'UTF8') IN envelope) > 0") == "0")
    }

    @Test("ListSurveys filters by subject, agent, status and create time, newest first, in cursor pages; shoppers see their own only")
    func listSurveys() async throws {
      let m = try mesh
      let agent = uniqueID("agent")
      let shopper = uniqueID("shopper")
      try await m.withGateway { grpc in
        let surveys = Surveys(wrapping: grpc)
        let start = Date()
        var created: [Support_Feedback_V1_Survey] = []
        for _ in 0..<3 { created.append(try await surveys.createSurvey(Self.createRequest(shopper: shopper, agent: agent))) }
        let answered = try await surveys.submitSurveyAnswer(.with { $0.token = created[1].token; $0.csat = 2 })
        let newest = created.reversed().map(\.surveyID)
        let first = try await surveys.listSurveys(.with { $0.agentID = agent; $0.pageSize = 2 })
        #expect(first.surveys.map(\.surveyID) == Array(newest.prefix(2)) && first.surveys.allSatisfy { $0.token.isEmpty })
        let second = try await surveys.listSurveys(.with { $0.agentID = agent; $0.pageSize = 2; $0.pageToken = first.nextPageToken })
        #expect(second.surveys.map(\.surveyID) == [newest[2]] && second.nextPageToken.isEmpty)
        #expect(try await surveys.listSurveys(.with { $0.agentID = agent; $0.status = .answered }).surveys.map(\.surveyID) == [answered.surveyID])
        #expect(try await surveys.listSurveys(.with { $0.agentID = agent; $0.status = .pending }).surveys.count == 2)
        #expect(try await surveys.listSurveys(.with { $0.subject = created[0].subject }).surveys.map(\.surveyID) == [created[0].surveyID])
        let window = try await surveys.listSurveys(.with {
          $0.agentID = agent; $0.createTimeRange = .with { $0.startTime = Google_Protobuf_Timestamp(date: start.addingTimeInterval(-60)); $0.endTime = Google_Protobuf_Timestamp(date: start.addingTimeInterval(-30)) }
        })
        #expect(window.surveys.isEmpty)
        await expectCode(.invalidArgument, containing: "subject.kind") { try await surveys.listSurveys(.with { $0.subject = .with { $0.id = "x" } }) }
        await expectCode(.invalidArgument, containing: "subject.id") { try await surveys.listSurveys(.with { $0.subject = .with { $0.kind = .ticket } }) }
        await expectCode(.invalidArgument, containing: "create_time_range") {
          try await surveys.listSurveys(.with { $0.createTimeRange = .with { $0.startTime = Google_Protobuf_Timestamp(seconds: 200, nanos: 0); $0.endTime = Google_Protobuf_Timestamp(seconds: 100, nanos: 0) } })
        }
        await expectCode(.invalidArgument, containing: "page_token") {
          try await surveys.listSurveys(.with { $0.agentID = uniqueID("other"); $0.pageToken = first.nextPageToken })
        }
        await expectCode(.invalidArgument, containing: "page_size") { try await surveys.listSurveys(.with { $0.pageSize = 501 }) }
      }
      try await m.withGateway(as: .shopper(uniqueID("bob"))) { grpc async throws in
        #expect(try await Surveys(wrapping: grpc).listSurveys(.with { $0.agentID = agent }).surveys.isEmpty, "another shopper's surveys are not listed")
      }
    }

    @Test("migration 5 hashes the tokens of existing surveys and removes them from the stored messages")
    func tokenMigration() async throws {
      let m = try mesh
      let migrations = FeedbackServiceDefinition.definition.migrations
      let surveysTable = try #require(migrations.first { $0.version == 1 })
      let hashTokens = try #require(migrations.first { $0.version == 5 })
      // A row as the first release wrote it: the token in its column and in the message.
      let token = String((UUID().uuidString + UUID().uuidString).replacingOccurrences(of: "-", with: "").prefix(43))
      var survey = Support_Feedback_V1_Survey.with {
        $0.surveyID = UUID().uuidString.lowercased(); $0.subject = .with { $0.kind = .ticket; $0.id = "t-1" }
        $0.shopperID = "s-1"; $0.agentID = "a-1"; $0.token = token; $0.status = .pending; $0.version = 1; $0.skillGroup = "after-sales"
      }
      func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
      let before = hex(try survey.serializedBytes())
      survey.token = ""
      let after = hex(try survey.serializedBytes())
      let schema = "migration_test_\(UUID().uuidString.prefix(8).lowercased())"
      let script = ["CREATE SCHEMA \(schema);", "SET search_path TO \(schema);"] + surveysTable.statements + [
        """
        INSERT INTO surveys (survey_id, request_id, request_fingerprint, subject_kind, subject_id, shopper_id, token, status, created_at, expires_at, version, body)
        VALUES ('\(survey.surveyID)', 'r-1', 'f', 2, 't-1', 's-1', '\(token)', 1, now(), now() + interval '1 day', 1, '\\x\(before)');
        """,
      ] + hashTokens.statements + [
        "SELECT encode(body, 'hex') || ' ' || (token_hash = sha256(convert_to('\(token)', 'UTF8')))::text FROM surveys;"
      ]
      let output = try m.query(script.joined(separator: "\n"))
      _ = try m.query("DROP SCHEMA \(schema) CASCADE")
      #expect(before != after && before.contains(hex(Array(token.utf8))))
      #expect(output.split(separator: "\n").last.map(String.init) == "\(after) true", "\(output)")
      #expect(!output.contains(hex(Array(token.utf8))))
    }

    @Test("the sweep records an expired survey EXPIRED and announces SurveyExpiredEvent; answering it still fails SURVEY_EXPIRED")
    func expirySweep() async throws {
      let m = try mesh
      let shopper = uniqueID("shopper")
      let survey = try await m.withGateway { grpc in
        try await Surveys(wrapping: grpc).createSurvey(Self.createRequest(shopper: shopper, expireIn: 1.5))
      }
      #expect(try m.query("SELECT status FROM feedback.surveys WHERE survey_id = '\(survey.surveyID)'") == "1")
      // The mesh under test sweeps every second (SUPPORTMESH_FEEDBACK_SURVEY_SWEEP_SECONDS=1).
      try await waitFor(seconds: 20) { try m.query("SELECT status FROM feedback.surveys WHERE survey_id = '\(survey.surveyID)'") == "3" }
      try await m.withGateway { grpc in
        let surveys = Surveys(wrapping: grpc)
        let expired = try await surveys.getSurvey(.with { $0.surveyID = survey.surveyID })
        #expect(expired.status == .expired && expired.version == 2)
        #expect(try await surveys.listSurveys(.with { $0.subject = survey.subject; $0.status = .expired }).surveys.map(\.surveyID) == [survey.surveyID])
        let events = try await MeshTests.FeedbackFollowUps.feedbackEvents(grpc, types: [Support_Feedback_V1_SurveyExpiredEvent.protoMessageName]) { events in
          events.contains { $0.subject == survey.surveyID }
        }
        let mine = events.filter { $0.subject == survey.surveyID }
        #expect(mine.count == 1)
        guard case .surveyExpired(let event) = mine.first?.payload else {
          Issue.record("no SurveyExpiredEvent: \(mine)")
          return
        }
        #expect(event.surveyID == survey.surveyID && event.shopperID == shopper && event.surveyVersion == 2 && event.eventID == mine[0].eventID)
      }
      try await m.withGateway(as: .shopper(shopper)) { grpc in
        let refused = await richError(.failedPrecondition) {
          try await Surveys(wrapping: grpc).submitSurveyAnswer(.with { $0.token = survey.token; $0.csat = 5 })
        }
        #expect(refused?.details.compactMap(\.errorInfo).first?.reason == "SURVEY_EXPIRED")
      }
    }
  }
}

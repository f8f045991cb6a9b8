import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Gateway
import ServiceKit
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  /// Who may call what, through the gateway with real credentials: the API keys and the
  /// development identity provider that `./mesh run` made.
  @Suite("Identity and permissions through the gateway")
  struct Identity {
    typealias Tickets = Support_Tickets_V1_TicketService.Client
    typealias Chat = Support_Chat_V1_ConversationService.Client
    typealias Surveys = Support_Feedback_V1_SurveyService.Client
    typealias Shipments = Support_Logistics_V1_ShipmentService.Client

    @Test("no credentials, bad keys and bad tokens are UNAUTHENTICATED; health needs none")
    func unauthenticated() async throws {
      let secrets = try mesh.secrets
      let otherIdP = FileManager.default.temporaryDirectory.appendingPathComponent("other-idp-\(UUID().uuidString)")
      try GatewayCommand.makeCredentials(in: otherIdP.path)
      defer { try? FileManager.default.removeItem(at: otherIdP) }
      let devKey = secrets.appendingPathComponent("dev-jwt-key.json").path
      let forged = try await GatewayCommand.mintToken(keyFile: otherIdP.appendingPathComponent("dev-jwt-key.json").path, subject: "s-1", role: .shopper)
      let expired = try await GatewayCommand.mintToken(keyFile: devKey, subject: "s-1", role: .shopper, ttl: -3600)
      let otherAudience = try await GatewayCommand.mintToken(keyFile: devKey, subject: "s-1", role: .shopper, audience: "someone-else")
      let otherIssuer = try await GatewayCommand.mintToken(keyFile: devKey, subject: "s-1", role: .shopper, issuer: "evil")
      // alg "none": a header and claims with no signature.
      let unsigned = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "."
        + Base64URL.encode(Array(#"{"sub":"s-1","role":"service","iss":"supportmesh-dev","aud":"supportmesh","exp":9999999999}"#.utf8)) + "."
      let cases: [(TestCaller, String)] = [
        (.none, "missing credentials"), (.apiKey("smk_admin_not-the-secret"), "invalid API key"), (.apiKey("nonsense"), "invalid API key"),
        (.token(forged), "signature"), (.token(expired), "expired"), (.token(otherAudience), "audience"),
        (.token(otherIssuer), "issuer"), (.token(unsigned), "algorithm"), (.token("not.a.jwt"), "invalid token"),
      ]
      for (caller, reason) in cases {
        try await mesh.withGateway(as: caller) { grpc async throws in
          await expectCode(.unauthenticated, containing: reason) {
            try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = UUID().uuidString })
          }
          await expectCode(.unauthenticated) { try await Chat(wrapping: grpc).getConversation(.with { $0.conversationID = UUID().uuidString }) }
          await expectCode(.unauthenticated) { try await Shipments(wrapping: grpc).getShipment(.with { $0.shipmentID = UUID().uuidString }) }
          await expectCode(.unauthenticated) { try await Surveys(wrapping: grpc).getSurvey(.with { $0.surveyID = UUID().uuidString }) }
          let health = try await Grpc_Health_V1_Health.Client(wrapping: grpc).check(.with { $0.service = "support.tickets.v1.TicketService" })
          #expect(health.status == .serving)
        }
      }
    }

    @Test("backends accept only the caller the gateway signed")
    func backendsTrustOnlyTheGateway() async throws {
      let m = try mesh
      let adminKey = try #require(try await m.credentials(for: .admin))
      try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: m.grpcPort("tickets")), transportSecurity: .plaintext)
      ) { grpc async throws in
        let tickets = Tickets(wrapping: grpc)
        // The gateway's credentials mean nothing to a backend…
        await expectCode(.unauthenticated, containing: "gateway") {
          try await tickets.getTicket(.with { $0.ticketID = UUID().uuidString }, metadata: header(adminKey.key, adminKey.value))
        }
        // …nor does a caller header signed with another secret, or one made for another method.
        let forged = try SignedCallerHeader(secret: Array(repeating: 7, count: 32))
          .sign(Caller(subject: "x", role: .service, scopes: ["*"]), method: "support.tickets.v1.TicketService/GetTicket")
        await expectCode(.unauthenticated, containing: "signature") {
          try await tickets.getTicket(.with { $0.ticketID = UUID().uuidString }, metadata: header(SignedCallerHeader.metadataKey, forged))
        }
        let real = try SignedCallerHeader(secretFile: m.secrets.appendingPathComponent("caller-secret").path)
        let otherMethod = real.sign(Caller(subject: "x", role: .service, scopes: ["*"]), method: "support.tickets.v1.TicketService/ListTickets")
        await expectCode(.unauthenticated, containing: "another method") {
          try await tickets.getTicket(.with { $0.ticketID = UUID().uuidString }, metadata: header(SignedCallerHeader.metadataKey, otherMethod))
        }
        let stale = real.sign(Caller(subject: "x", role: .service, scopes: ["*"]), method: "support.tickets.v1.TicketService/GetTicket", now: Date().addingTimeInterval(-600))
        await expectCode(.unauthenticated, containing: "expired") {
          try await tickets.getTicket(.with { $0.ticketID = UUID().uuidString }, metadata: header(SignedCallerHeader.metadataKey, stale))
        }
      }
      // A shopper who sends a caller header of their own through the gateway gains nothing.
      let shopper = uniqueID("shopper")
      let other = uniqueID("shopper")
      let ticket = try await m.withGateway { try await Tickets(wrapping: $0).createTicket(Tickets_.returnRequest(shopper: other)) }
      let real = try SignedCallerHeader(secretFile: m.secrets.appendingPathComponent("caller-secret").path)
      let elevated = real.sign(Caller(subject: "x", role: .service, scopes: ["*"]), method: "support.tickets.v1.TicketService/GetTicket")
      try await m.withGateway(as: .shopper(shopper)) { grpc async throws in
        await expectCode(.notFound) {
          try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = ticket.ticketID }, metadata: header(SignedCallerHeader.metadataKey, elevated))
        }
      }
    }

    @Test("API keys: scopes limit the methods (PERMISSION_DENIED), and a rotated key works without a restart")
    func apiKeyScopesAndRotation() async throws {
      let m = try mesh
      let file = m.secrets.appendingPathComponent("api-keys.json").path
      let id = "orders-\(UUID().uuidString.prefix(6).lowercased())"
      let first = try GatewayCommand.addAPIKey(file: file, id: id, role: .service, scopes: ["support.tickets.v1.TicketService/CheckEligibility"])
      let check = Support_Tickets_V1_CheckEligibilityRequest.with {
        $0.type = .inquiry; $0.category = .transaction
      }
      try await waitUntilAccepted(.apiKey(first)) { try await Tickets(wrapping: $0).checkEligibility(check) }
      try await m.withGateway(as: .apiKey(first)) { grpc async throws in
        #expect(try await Tickets(wrapping: grpc).checkEligibility(check).eligible)
        await expectCode(.permissionDenied, containing: "outside its scopes") {
          try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = UUID().uuidString })
        }
        await expectCode(.permissionDenied) { try await Chat(wrapping: grpc).getConversation(.with { $0.conversationID = UUID().uuidString }) }
      }
      // Rotation: a new key for the same id replaces the old one; the gateway re-reads the file.
      let second = try GatewayCommand.addAPIKey(file: file, id: id, role: .service, scopes: ["support.tickets.v1.*"])
      try await waitUntilAccepted(.apiKey(second)) { try await Tickets(wrapping: $0).checkEligibility(check) }
      try await m.withGateway(as: .apiKey(second)) { grpc async throws in
        await expectCode(.notFound) { try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = UUID().uuidString }) }
      }
      try await m.withGateway(as: .apiKey(first)) { grpc async throws in
        await expectCode(.unauthenticated) { try await Tickets(wrapping: grpc).checkEligibility(check) }
      }
      // A token's scope claim limits it the same way.
      try await m.withGateway(as: .person(.agent, "agent-s", scope: "support.chat.v1.*")) { grpc async throws in
        await expectCode(.permissionDenied, containing: "outside its scopes") {
          try await Tickets(wrapping: grpc).getTicket(.with { $0.ticketID = UUID().uuidString })
        }
        await expectCode(.notFound) { try await Chat(wrapping: grpc).getConversation(.with { $0.conversationID = UUID().uuidString }) }
      }
    }

    /// Calls until the gateway has picked up a changed key file (it re-reads within a second or two).
    func waitUntilAccepted<T: Sendable>(_ caller: TestCaller, _ call: @escaping (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T) async throws {
      let deadline = ContinuousClock.now + .seconds(10)
      while true {
        do {
          _ = try await mesh.withGateway(as: caller, call)
          return
        } catch let error as RPCError where error.code == .unauthenticated && ContinuousClock.now < deadline {
          try await Task.sleep(for: .milliseconds(200))
        }
      }
    }

    @Test("tickets: a shopper files and reads only their own cases, cannot override eligibility or act as someone else")
    func shopperTickets() async throws {
      let m = try mesh
      let alice = uniqueID("alice")
      let bob = uniqueID("bob")
      let mine = try await m.withGateway(as: .shopper(alice)) { grpc async throws in
        let tickets = Tickets(wrapping: grpc)
        let created = try await tickets.createTicket(Tickets_.returnRequest(shopper: alice))
        #expect(created.createdBy.kind == .shopper && created.createdBy.id == alice, "the actor is the verified caller")
        await expectCode(.permissionDenied, containing: "shopper_id") { try await tickets.createTicket(Tickets_.returnRequest(shopper: bob)) }
        var late = Tickets_.returnRequest(shopper: alice)
        late.deliveredTime = daysAgo(40)
        late.eligibilityOverrideReason = "I insist"
        await expectCode(.permissionDenied, containing: "eligibility_override_reason") { try await tickets.createTicket(late) }
        var posing = Tickets_.returnRequest(shopper: alice)
        posing.actor = .with { $0.kind = .agent; $0.id = "agent-1" }
        await expectCode(.permissionDenied, containing: "actor") { try await tickets.createTicket(posing) }
        let listed = try await tickets.listTickets(.init())
        #expect(listed.tickets.map(\.ticketID) == [created.ticketID], "a shopper's list is their own cases")
        return created
      }
      try await m.withGateway(as: .shopper(bob)) { grpc async throws in
        let tickets = Tickets(wrapping: grpc)
        await expectCode(.notFound) { try await tickets.getTicket(.with { $0.ticketID = mine.ticketID }) }
        await expectCode(.permissionDenied) { try await tickets.listTickets(.with { $0.shopperID = alice }) }
        #expect(try await tickets.listTickets(.init()).tickets.isEmpty)
        // Methods for agents only are refused at the gateway.
        await expectCode(.permissionDenied, containing: "shoppers may not call") {
          try await tickets.assignTicket(.with { $0.ticketID = mine.ticketID; $0.agentID = "a" })
        }
        await expectCode(.permissionDenied, containing: "shoppers may not call") {
          try await Support_Chat_V1_AgentService.Client(wrapping: grpc).createAgent(.init())
        }
      }
      try await m.withGateway(as: .agent("agent-7")) { grpc async throws in
        let tickets = Tickets(wrapping: grpc)
        #expect(try await tickets.getTicket(.with { $0.ticketID = mine.ticketID }).ticketID == mine.ticketID)
        var late = Tickets_.returnRequest(shopper: alice, order: uniqueID("order"))
        late.deliveredTime = daysAgo(40)
        late.eligibilityOverrideReason = "Goodwill: courier lost the first parcel"
        let filed = try await tickets.createTicket(late)
        #expect(filed.createdBy.kind == .agent && filed.createdBy.id == "agent-7")
        var posing = Tickets_.returnRequest(shopper: alice, order: uniqueID("order"))
        posing.actor = .with { $0.kind = .agent; $0.id = "agent-8" }
        await expectCode(.permissionDenied, containing: "actor.id") { try await tickets.createTicket(posing) }
      }
    }

    @Test("chat: a shopper starts and writes only in their own conversations, and only as themselves")
    func shopperChat() async throws {
      let m = try mesh
      let alice = uniqueID("alice")
      let conversation = try await m.withGateway(as: .shopper(alice)) { grpc async throws in
        let chat = Chat(wrapping: grpc)
        await expectCode(.permissionDenied, containing: "shopper_id") {
          try await chat.startConversation(.with { $0.requestID = uniqueID("r"); $0.shopperID = "someone"; $0.channel = .web; $0.initialMessage = "hi" })
        }
        let conversation = try await chat.startConversation(.with {
          $0.requestID = uniqueID("r"); $0.shopperID = alice; $0.channel = .web; $0.initialMessage = "hi"
        })
        await expectCode(.permissionDenied, containing: "sender") {
          try await chat.sendMessage(.with {
            $0.requestID = uniqueID("m"); $0.conversationID = conversation.conversationID
            $0.sender = .with { $0.kind = .system }; $0.text = "I am the system"
          })
        }
        #expect(try await chat.listMessages(.with { $0.conversationID = conversation.conversationID }).messages.count == 1)
        return conversation
      }
      try await m.withGateway(as: .shopper(uniqueID("bob"))) { grpc async throws in
        let chat = Chat(wrapping: grpc)
        await expectCode(.permissionDenied) { try await chat.getConversation(.with { $0.conversationID = conversation.conversationID }) }
        await expectCode(.permissionDenied) { try await chat.listMessages(.with { $0.conversationID = conversation.conversationID }) }
        await expectCode(.permissionDenied) {
          try await chat.sendMessage(.with {
            $0.requestID = uniqueID("m"); $0.conversationID = conversation.conversationID
            $0.sender = .with { $0.kind = .shopper }; $0.text = "let me in"
          })
        }
      }
      try await m.withGateway(as: .agent("agent-1")) { grpc async throws in
        #expect(try await Chat(wrapping: grpc).getConversation(.with { $0.conversationID = conversation.conversationID }).shopperID == alice)
      }
    }

    @Test("surveys: the token comes only from CreateSurvey; agents cannot answer; a shopper follows only their own shipments")
    func surveysAndShipments() async throws {
      let m = try mesh
      let alice = uniqueID("alice")
      let survey = try await m.withGateway { grpc async throws in
        try await Surveys(wrapping: grpc).createSurvey(.with {
          $0.requestID = uniqueID("r"); $0.subject = .with { $0.kind = .ticket; $0.id = uniqueID("t") }; $0.shopperID = alice
        })
      }
      #expect(!survey.token.isEmpty, "the creator gets the token to send the invitation")
      let token = try await m.withGateway(as: .shopper(alice)) { grpc async throws in
        let surveys = Surveys(wrapping: grpc)
        await expectCode(.permissionDenied, containing: "shoppers may not call") {
          try await surveys.createSurvey(.with { $0.requestID = uniqueID("r"); $0.subject = .with { $0.kind = .ticket; $0.id = "t" }; $0.shopperID = alice })
        }
        #expect(try await surveys.getSurvey(.with { $0.surveyID = survey.surveyID }).token.isEmpty, "not even the shopper reads it back")
        return survey.token
      }
      try await m.withGateway(as: .agent("agent-1")) { grpc async throws in
        let surveys = Surveys(wrapping: grpc)
        #expect(try await surveys.getSurvey(.with { $0.surveyID = survey.surveyID }).token.isEmpty)
        #expect(try await surveys.getSurveyByToken(.with { $0.token = token }).token.isEmpty)
        await expectCode(.permissionDenied) { try await surveys.submitSurveyAnswer(.with { $0.token = token; $0.csat = 5 }) }
      }
      try await m.withGateway(as: .shopper(uniqueID("bob"))) { grpc async throws in
        let surveys = Surveys(wrapping: grpc)
        await expectCode(.notFound) { try await surveys.getSurvey(.with { $0.surveyID = survey.surveyID }) }
        await expectCode(.notFound) { try await surveys.getSurveyByToken(.with { $0.token = token }) }
        await expectCode(.notFound) { try await surveys.submitSurveyAnswer(.with { $0.token = token; $0.csat = 1 }) }
        await expectCode(.notFound) { try await Shipments(wrapping: grpc).getShipment(.with { $0.shipmentID = UUID().uuidString }) }
        await expectCode(.permissionDenied, containing: "shoppers may not call") {
          try await Shipments(wrapping: grpc).recordTrackingEvents(.with { $0.carrierCode = "SF"; $0.trackingNumber = "1"; $0.events = [.init()] })
        }
      }
      try await m.withGateway(as: .shopper(alice)) { grpc async throws in
        #expect(try await Surveys(wrapping: grpc).submitSurveyAnswer(.with { $0.token = token; $0.csat = 4 }).status == .answered)
      }

      // Shipments: alice reads, lists and watches the one registered for her; bob sees none of it.
      let order = uniqueID("order")
      let (mine, anonymous) = try await m.withGateway { grpc async throws in
        let shipments = Shipments(wrapping: grpc)
        let anonymous = MeshTests.LogisticsExceptionCases.outbound(order: order, shopper: "")
        return (
          try await shipments.createShipment(MeshTests.LogisticsExceptionCases.outbound(order: order, shopper: alice)),
          try await shipments.createShipment(anonymous)
        )
      }
      try await m.withGateway(as: .shopper(alice)) { grpc async throws in
        let shipments = Shipments(wrapping: grpc)
        #expect(try await shipments.getShipment(.with { $0.shipmentID = mine.shipmentID }).shopperID == alice)
        await expectCode(.notFound) { try await shipments.getShipment(.with { $0.shipmentID = anonymous.shipmentID }) }
        #expect(try await shipments.listShipments(.with { $0.orderID = order }).shipments.map(\.shipmentID) == [mine.shipmentID])
        await expectCode(.permissionDenied, containing: "shopper_id") {
          try await shipments.listShipments(.with { $0.shopperID = uniqueID("bob") })
        }
        let first = try await shipments.watchShipment(.with { $0.shipmentID = mine.shipmentID }) { response in
          for try await change in response.messages { return change.sequence }
          return Int64(0)
        }
        #expect(first == 1, "the CREATED change replays first")
        await expectCode(.notFound) {
          try await shipments.watchShipment(.with { $0.shipmentID = anonymous.shipmentID }) { response in
            for try await _ in response.messages {}
          }
        }
        await expectCode(.permissionDenied, containing: "shoppers may not call") {
          try await shipments.createShipment(MeshTests.LogisticsExceptionCases.outbound(order: order, shopper: alice))
        }
      }
      try await m.withGateway(as: .shopper(uniqueID("bob"))) { grpc async throws in
        let shipments = Shipments(wrapping: grpc)
        await expectCode(.notFound) { try await shipments.getShipment(.with { $0.shipmentID = mine.shipmentID }) }
        #expect(try await shipments.listShipments(.with { $0.orderID = order }).shipments.isEmpty)
      }
      try await m.withGateway(as: .agent("agent-1")) { grpc async throws in
        let listed = try await Shipments(wrapping: grpc).listShipments(.with { $0.orderID = order; $0.shopperID = alice })
        #expect(listed.shipments.map(\.shipmentID) == [mine.shipmentID], "staff filter by shopper")
      }
    }

    @Test("150 concurrent streams on one connection all run, at the gateway and at a service: the limit is advertised, not enforced by failing the connection")
    func manyStreamsOnOneConnection() async throws {
      let m = try mesh
      try await m.withGateway { grpc async throws in
        #expect(try await Self.concurrentWatches(150, Grpc_Health_V1_Health.Client(wrapping: grpc), service: "") == 150)
      }
      try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: m.grpcPort("tickets")), transportSecurity: .plaintext)
      ) { grpc async throws in
        let health = Grpc_Health_V1_Health.Client(wrapping: grpc)
        #expect(try await Self.concurrentWatches(150, health, service: "support.tickets.v1.TicketService") == 150)
      }
    }

    /// Opens `count` health watches at once on one connection; returns how many saw SERVING.
    static func concurrentWatches<Transport: ClientTransport>(_ count: Int, _ health: Grpc_Health_V1_Health.Client<Transport>, service: String) async throws -> Int {
      // One call first: the connection is up and the server's SETTINGS have arrived.
      _ = try await health.check(.with { $0.service = service })
      return try await withThrowingTaskGroup(of: Bool.self) { group in
        for _ in 0..<count {
          group.addTask {
            var options = CallOptions.defaults
            options.timeout = .seconds(20)
            return try await health.watch(.with { $0.service = service }, options: options) { response in
              for try await status in response.messages { return status.status == .serving }
              return false
            }
          }
        }
        var served = 0
        for try await ok in group where ok { served += 1 }
        return served
      }
    }

    @Test("a NUL character in any string field is INVALID_ARGUMENT naming the field, and nothing is written")
    func nulCharacters() async throws {
      try await mesh.withGateway { grpc async throws in
        let tickets = Tickets(wrapping: grpc)
        let shopper = uniqueID("shopper")
        var title = Tickets_.returnRequest(shopper: shopper)
        title.title = "bad\u{0}title"
        await expectCode(.invalidArgument, containing: "title") { try await tickets.createTicket(title) }
        var nested = Tickets_.returnRequest(shopper: shopper)
        nested.items[0].sku = "SKU\u{0}"
        await expectCode(.invalidArgument, containing: "items[0].sku") { try await tickets.createTicket(nested) }
        #expect(try await tickets.listTickets(.with { $0.shopperID = shopper }).tickets.isEmpty)
        await expectCode(.invalidArgument, containing: "initial_message") {
          try await Chat(wrapping: grpc).startConversation(.with {
            $0.requestID = uniqueID("r"); $0.shopperID = shopper; $0.channel = .web; $0.initialMessage = "\u{0}"
          })
        }
      }
    }
  }
}

/// Metadata holding one string entry.
func header(_ key: String, _ value: String) -> Metadata {
  var metadata = Metadata()
  metadata.addString(value, forKey: key)
  return metadata
}

/// The tickets suite's request builders, shared with the identity tests.
typealias Tickets_ = MeshTests.Tickets

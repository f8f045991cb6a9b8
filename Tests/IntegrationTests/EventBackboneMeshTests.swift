import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import ServiceKit
import SupportCodec
import TestSupport
import Testing

extension MeshTests {
  /// The real tickets process as an event producer: CreateTicket writes TicketCreatedEvent to
  /// its outbox in the same transaction, and its EventLog streams it.
  @Suite("EventBackbone: tickets serves its event log")
  struct EventBackboneTickets {
    static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test("CreateTicket's TicketCreatedEvent streams from the tickets process, once, with its envelope filled in")
    func ticketCreatedStreams() async throws {
      let m = try mesh
      let requestID = uniqueID("trace")
      let request = Tickets.returnRequest(shopper: uniqueID("shopper"))
      let (ticket, marker) = try await m.withGateway { grpc in
        let tickets = Support_Tickets_V1_TicketService.Client(wrapping: grpc)
        var traced = Metadata()
        traced.addString(requestID, forKey: RequestContext.requestIDKey)
        traced.addString(Self.traceparent, forKey: "traceparent")
        let ticket = try await tickets.createTicket(request, metadata: traced)
        // A retry of the same create is answered from the first result and announces nothing.
        _ = try await tickets.createTicket(request)
        let marker = try await tickets.createTicket(Tickets.returnRequest(shopper: uniqueID("shopper")))
        return (ticket, marker)
      }
      // Service to service: straight to the tickets process, signed as role service.
      let events = try await m.withEventLog("tickets") { eventLog, metadata, options in
        try await eventLog.streamEvents(
          .with { $0.afterPosition = 0; $0.types = [Support_Tickets_V1_TicketCreatedEvent.protoMessageName] },
          metadata: metadata, options: options
        ) { response in
          var events: [EventEnvelope] = []
          for try await message in response.messages {
            guard case .event(let event) = message.item else { continue }
            events.append(event)
            if event.subject == marker.ticketID { break }
          }
          return events
        }
      }
      let mine = events.filter { $0.subject == ticket.ticketID }
      #expect(mine.count == 1, "one event for the ticket, none for the retried create")
      let event = try #require(mine.first)
      #expect(event.producer == "tickets")
      #expect(event.type == "support.tickets.v1.TicketCreatedEvent")
      #expect(event.requestID == requestID, "the request id of the causing call")
      #expect(event.traceparent == Self.traceparent, "the W3C trace context of the causing call")
      #expect(UUID(uuidString: event.eventID) != nil)
      #expect(abs(event.occurTime.date.timeIntervalSince(ticket.createTime.date)) < 0.001)
      guard case .ticketCreated(let payload) = event.payload else {
        Issue.record("payload is not TicketCreatedEvent: \(event)")
        return
      }
      #expect(payload.eventID == event.eventID, "one dedupe key: the payload repeats the envelope's")
      #expect(payload.ticketID == ticket.ticketID && payload.ticketVersion == 1 && payload.shopperID == request.shopperID)
      #expect(payload.items == ticket.items && payload.type == .returnAndRefund)
      let positions = events.map(\.position)
      #expect(positions == positions.sorted() && Set(positions).count == positions.count, "in position order, no repeats")

      // The same from Python grpcio (Tests/interop/events_tail.py, the loop docs/events.md shows).
      let python = try #require(ProcessInfo.processInfo.environment["SUPPORTMESH_TEST_PYTHON"], "SUPPORTMESH_TEST_PYTHON is not set: run ./mesh test")
      let process = Process()
      process.executableURL = URL(fileURLWithPath: python)
      process.arguments = [
        m.root.appendingPathComponent("Tests/interop/events_tail.py").path, "127.0.0.1:\(m.grpcPort("tickets"))",
        "--caller-secret", m.secrets.appendingPathComponent("caller-secret").path,
        "--types", "support.tickets.v1.TicketCreatedEvent", "--until-subject", ticket.ticketID, "--timeout", "60",
      ]
      let (status, text) = try Mesh.runCollectingOutput(process)
      #expect(status == 0, "\(text)")
      #expect(text.contains("\(event.position)\tsupport.tickets.v1.TicketCreatedEvent\t\(ticket.ticketID)\t\(event.eventID)"), "\(text)")

      // Shoppers may not read the log, even directly with a signed header.
      let header = try SignedCallerHeader(secretFile: m.secrets.appendingPathComponent("caller-secret").path)
      let shopperHeader = header.sign(Caller(subject: request.shopperID, role: .shopper, scopes: ["*"]), method: "support.events.v1.EventLog/StreamEvents")
      var shopperMetadata = Metadata()
      shopperMetadata.addString(shopperHeader, forKey: SignedCallerHeader.metadataKey)
      try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: m.grpcPort("tickets")), transportSecurity: .plaintext)
      ) { client in
        await expectCode(.permissionDenied) {
          try await Support_Events_V1_EventLog.Client(wrapping: client).streamEvents(
            .with { $0.afterPosition = 0 }, metadata: shopperMetadata
          ) { response in
            for try await _ in response.messages {}
          }
        }
      }
    }
  }
}

import Foundation
import GRPCCore
import SupportCodec
import SwiftProtobuf
import Testing

@Suite("Contracts")
struct ContractTests {
  func roundTrip<M: SwiftProtobuf.Message & Equatable>(_ message: M) throws {
    let binary: [UInt8] = try message.serializedBytes()
    #expect(try M(serializedBytes: binary) == message)
    let json = try message.jsonString()
    #expect(try M(jsonString: json) == message)
  }

  @Test("a ticket survives binary and JSON round trips")
  func ticketRoundTrip() throws {
    var ticket = Support_Tickets_V1_Ticket()
    ticket.ticketID = "3f2c1b0a-0000-4000-8000-000000000001"
    ticket.type = .returnAndRefund
    ticket.category = .productQuality
    ticket.status = .submitted
    ticket.priority = .urgent
    ticket.shopperID = "shopper-1"
    ticket.items = [.with {
      $0.orderID = "order-1"; $0.orderItemID = "line-1"; $0.sku = "SKU"; $0.quantity = 2
      $0.unitPrice = .with { $0.amountMinor = 12_345; $0.currencyCode = "CNY" }
    }]
    ticket.title = "七日无理由退货"
    ticket.evidence = [.with { $0.kind = .photo; $0.uri = "s3://evidence/a.jpg"; $0.mediaType = "image/jpeg"; $0.sizeBytes = 1024 }]
    ticket.createTime = Google_Protobuf_Timestamp(seconds: 1_790_000_000, nanos: 123_000)
    ticket.sla.firstResponseDueTime = Google_Protobuf_Timestamp(seconds: 1_790_086_400)
    ticket.sla.pausedDuration = Google_Protobuf_Duration(seconds: 30)
    ticket.version = 3
    try roundTrip(ticket)
    let json = try ticket.jsonString()
    #expect(json.contains("\"type\":\"TICKET_TYPE_RETURN_AND_REFUND\""))
    #expect(json.contains("\"amountMinor\":\"12345\""))
  }

  @Test("chat, logistics, feedback and event messages survive round trips")
  func otherRoundTrips() throws {
    try roundTrip(Support_Chat_V1_SendMessageRequest.with {
      $0.requestID = "r1"; $0.conversationID = "c1"; $0.text = "您好"
      $0.sender = .with { $0.kind = .agent; $0.id = "agent-7" }
      $0.placeholderValues = ["shopper_name": "李雷", "order_id": "o-9"]
    })
    try roundTrip(Support_Logistics_V1_RecordTrackingEventsRequest.with {
      $0.carrierCode = "SF"; $0.trackingNumber = "SF123"
      $0.events = [.with { $0.carrierEventID = "e1"; $0.carrierStatusCode = "80"; $0.status = .delivered; $0.eventTime = .init(seconds: 1) }]
    })
    try roundTrip(Support_Feedback_V1_SubmitSurveyAnswerRequest.with { $0.token = "t"; $0.csat = 5; $0.comment = "很满意" })
    let envelope = Support_Events_V1_EventEnvelope.with {
      $0.eventID = "ev-1"; $0.producer = "tickets"; $0.position = 42; $0.requestID = "req-1"
      $0.type = "support.tickets.v1.TicketResolvedEvent"; $0.subject = "t-1"
      $0.ticketResolved = .with { $0.ticketID = "t-1" }
    }
    try roundTrip(envelope)
    #expect(envelope.payload != nil)
  }

  @Test("optional survey scores keep presence: 0 is an answer, unset is not")
  func optionalPresence() throws {
    let zero = Support_Feedback_V1_SubmitSurveyAnswerRequest.with { $0.token = "t"; $0.nps = 0 }
    let decoded = try Support_Feedback_V1_SubmitSurveyAnswerRequest(serializedBytes: try zero.serializedBytes() as [UInt8])
    #expect(decoded.hasNps && decoded.nps == 0)
    #expect(!decoded.hasCsat)
  }

  @Test("every service of the four backends is in the catalog with its methods")
  func catalog() {
    let services = ServiceCatalog.backends.flatMap(\.services).map(\.fullyQualifiedService)
    #expect(Set(services) == [
      "support.chat.v1.ConversationService", "support.chat.v1.AgentService", "support.chat.v1.CannedResponseService",
      "support.chat.v1.FaqService", "support.tickets.v1.TicketService", "support.logistics.v1.ShipmentService",
      "support.feedback.v1.SurveyService", "support.feedback.v1.FollowUpService", "support.feedback.v1.ServiceQualityService",
      "support.tickets.v1.SlaService",
    ])
    for backend in ServiceCatalog.backends {
      #expect(!backend.methods.isEmpty)
      for method in backend.methods {
        #expect(backend.services.contains(method.service), "\(method) belongs to \(backend.name)")
      }
    }
    #expect(ServiceCatalog.backend(serving: "support.tickets.v1.TicketService")?.name == "tickets")
    #expect(ServiceCatalog.backend(serving: "support.nope.v1.X") == nil)
    #expect(Support_Tickets_V1_TicketService.Method.CreateTicket.descriptor.fullyQualifiedMethod == "support.tickets.v1.TicketService/CreateTicket")
    #expect(Grpc_Health_V1_Health.Method.descriptors.map(\.method) == ["Check", "List", "Watch"])
  }

  @Test("raw message codec passes bytes through unchanged")
  func rawCodec() throws {
    let bytes: [UInt8] = [0x0A, 0x03, 0x61, 0x62, 0x63, 0xFF]
    let serialized: [UInt8] = try RawMessageSerializer().serialize(bytes)
    #expect(serialized == bytes)
    #expect(try RawMessageDeserializer().deserialize(serialized) == bytes)
  }

  @Test("the long-lived methods are exactly the contract's server streams")
  func longLivedMethods() throws {
    let proto = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../proto").standardized
    var streams = Set<String>()
    let files = FileManager.default.enumerator(at: proto, includingPropertiesForKeys: nil)
    while let file = files?.nextObject() as? URL {
      guard file.pathExtension == "proto" else { continue }
      let text = try String(contentsOf: file, encoding: .utf8)
      let package = text.split(separator: "\n").first { $0.hasPrefix("package ") }.map { $0.dropFirst(8).dropLast() } ?? ""
      var service = ""
      for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
        if line.hasPrefix("service ") { service = String(line.split(separator: " ")[1]) }
        if line.hasPrefix("rpc "), line.contains("returns (stream") {
          let name = line.dropFirst(4).prefix { $0 != "(" }
          streams.insert("\(package).\(service)/\(name)")
        }
      }
    }
    #expect(!streams.isEmpty)
    #expect(streams == ServiceCatalog.longLivedMethods)
  }
}

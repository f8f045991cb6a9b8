import Foundation
import GRPCCore
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

extension MeshTests {
  @Suite("Tickets through the gateway")
  struct Tickets {
    typealias Client = Support_Tickets_V1_TicketService.Client

    static func returnRequest(shopper: String, order: String = uniqueID("order"), item: String = "line-1") -> Support_Tickets_V1_CreateTicketRequest {
      .with {
        $0.requestID = uniqueID("req")
        $0.type = .returnAndRefund
        $0.category = .productQuality
        $0.shopperID = shopper
        $0.items = [.with {
          $0.orderID = order; $0.orderItemID = item; $0.sku = "SKU-9"; $0.quantity = 1
          $0.unitPrice = .with { $0.amountMinor = 9_900; $0.currencyCode = "CNY" }
        }]
        $0.title = "Cracked screen"
        $0.description_p = "The screen arrived cracked."
        $0.evidence = [.with { $0.kind = .photo; $0.uri = "s3://evidence/crack.jpg"; $0.mediaType = "image/jpeg" }]
        $0.deliveredTime = daysAgo(2)
        $0.requestedRefund = .with { $0.amountMinor = 9_900; $0.currencyCode = "CNY" }
        $0.channel = .app
      }
    }

    @Test("create is idempotent on request_id; get returns it; unknown ids are NOT_FOUND")
    func createGet() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let request = Self.returnRequest(shopper: uniqueID("shopper"))
        let created = try await tickets.createTicket(request)
        #expect(created.status == .submitted && created.version == 1 && created.priority == .normal)
        #expect(created.sla.resolutionDueTime.date.timeIntervalSince(created.createTime.date) == 72 * 3600)
        #expect(created.sla.firstResponseDueTime.date.timeIntervalSince(created.createTime.date) == 24 * 3600)
        #expect(created.eligibility.first?.policyWindow == .qualityWarranty)
        #expect(created.eligibility.first?.returnShippingPayer == .seller)

        let retried = try await tickets.createTicket(request)
        #expect(retried == created, "a retry returns the first result unchanged")

        var changed = request
        changed.title = "Something else"
        await expectCode(.alreadyExists, containing: created.ticketID) { try await tickets.createTicket(changed) }

        let fetched = try await tickets.getTicket(.with { $0.ticketID = created.ticketID })
        #expect(fetched == created)
        await expectCode(.notFound) { try await tickets.getTicket(.with { $0.ticketID = UUID().uuidString }) }
        await expectCode(.notFound) { try await tickets.getTicket(.with { $0.ticketID = "not-a-ticket-id" }) }
        await expectCode(.invalidArgument, containing: "ticket_id") { try await tickets.getTicket(.init()) }
      }
    }

    @Test("concurrent retries of one create all get the same ticket")
    func concurrentRetries() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let request = Self.returnRequest(shopper: uniqueID("shopper"))
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
          for _ in 0..<6 { group.addTask { try await tickets.createTicket(request).ticketID } }
          return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
        let listed = try await tickets.listTickets(.with { $0.shopperID = request.shopperID })
        #expect(listed.tickets.count == 1)
      }
    }

    @Test("forged page tokens and absurd times are INVALID_ARGUMENT, never a crash")
    func hostileInput() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        // A token with the right filter fingerprint but an absurd key (the fingerprint of "no
        // filters" is public: FNV-1a of nothing).
        func token(_ json: String) -> String {
          Data(json.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        }
        for forged in [
          token(#"{"key":-9223372036854775808,"id":"\#(UUID().uuidString)","filter":"cbf29ce484222325"}"#),
          token(#"{"key":1790000000000000,"id":"not-a-uuid","filter":"cbf29ce484222325"}"#),
        ] {
          await expectCode(.invalidArgument, containing: "page_token") { try await tickets.listTickets(.with { $0.pageToken = forged }) }
        }
        var request = Self.returnRequest(shopper: uniqueID("shopper"))
        request.deliveredTime = Google_Protobuf_Timestamp(seconds: -9_000_000_000_000_000, nanos: 0)
        await expectCode(.invalidArgument, containing: "delivered_time") { try await tickets.createTicket(request) }
        // Still serving.
        _ = try await tickets.listTickets(.init())
      }
    }

    @Test("bad input is INVALID_ARGUMENT naming the field, and changes nothing")
    func invalidInput() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let shopper = uniqueID("shopper")
        var request = Self.returnRequest(shopper: shopper)
        request.type = .unspecified
        await expectCode(.invalidArgument, containing: "type") { try await tickets.createTicket(request) }
        request = Self.returnRequest(shopper: shopper)
        request.items[0].orderID = ""
        await expectCode(.invalidArgument, containing: "items[0].order_id") { try await tickets.createTicket(request) }
        request = Self.returnRequest(shopper: shopper)
        request.requestedRefund.currencyCode = "usd"
        await expectCode(.invalidArgument, containing: "requested_refund.currency_code") { try await tickets.createTicket(request) }
        request = Self.returnRequest(shopper: shopper)
        request.deliveredTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(86_400))
        await expectCode(.invalidArgument, containing: "delivered_time") { try await tickets.createTicket(request) }
        request = Self.returnRequest(shopper: shopper)
        request.items = []
        await expectCode(.invalidArgument, containing: "items") { try await tickets.createTicket(request) }
        let listed = try await tickets.listTickets(.with { $0.shopperID = shopper })
        #expect(listed.tickets.isEmpty, "nothing was written")
      }
    }

    @Test("eligibility windows decide: 7-day no-reason return, override by an agent, one open case per item")
    func eligibility() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        var late = Self.returnRequest(shopper: uniqueID("shopper"))
        late.category = .transaction
        late.deliveredTime = daysAgo(10)
        late.goodsCondition = .intact
        await expectCode(.failedPrecondition, containing: "7-day") { try await tickets.createTicket(late) }

        var inTime = late
        inTime.requestID = uniqueID("req")
        inTime.deliveredTime = daysAgo(3)
        let created = try await tickets.createTicket(inTime)
        #expect(created.eligibility[0].policyWindow == .noReasonReturn)
        #expect(created.eligibility[0].returnShippingPayer == .shopper)

        var second = inTime
        second.requestID = uniqueID("req")
        await expectCode(.alreadyExists, containing: created.ticketID) { try await tickets.createTicket(second) }

        var overridden = late
        overridden.requestID = uniqueID("req")
        overridden.items[0].orderID = uniqueID("order")
        overridden.eligibilityOverrideReason = "VIP goodwill, approved by supervisor"
        overridden.actor = .with { $0.kind = .agent; $0.id = "agent-1" }
        let filed = try await tickets.createTicket(overridden)
        #expect(filed.eligibility[0].eligible == false && filed.createdBy.id == "agent-1")

        let check = try await tickets.checkEligibility(.with {
          $0.type = .exchange; $0.category = .transaction; $0.deliveredTime = daysAgo(20); $0.goodsCondition = .intact
          $0.item = .with { $0.orderID = "o" }
        })
        #expect(!check.eligible && check.policyWindow == .exchange && check.reasons == [.windowExpired])
        let notDelivered = try await tickets.checkEligibility(.with {
          $0.type = .refundOnly; $0.category = .logistics; $0.item = .with { $0.orderID = "o" }
        })
        #expect(notDelivered.eligible && notDelivered.policyWindow == .notDelivered)
      }
    }

    @Test("list filters and cursor pages: newest first, no duplicates, tokens bound to filters")
    func listing() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        let shopper = uniqueID("shopper")
        var ids: [String] = []
        for index in 0..<5 {
          var request = Self.returnRequest(shopper: shopper)
          if index == 4 { request.type = .complaint; request.category = .serviceAttitude; request.clearRequestedRefund() }
          ids.append(try await tickets.createTicket(request).ticketID)
        }
        var seen: [String] = []
        var token = ""
        repeat {
          let page = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.pageSize = 2; $0.pageToken = token })
          #expect(page.tickets.count <= 2)
          seen += page.tickets.map(\.ticketID)
          token = page.nextPageToken
        } while !token.isEmpty
        #expect(seen == ids.reversed(), "newest first, every ticket once")

        let complaints = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.types = [.complaint] })
        #expect(complaints.tickets.map(\.ticketID) == [ids[4]])
        let submitted = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.statuses = [.submitted, .underReview] })
        #expect(submitted.tickets.count == 5)
        let closed = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.statuses = [.closed] })
        #expect(closed.tickets.isEmpty)

        let first = try await tickets.getTicket(.with { $0.ticketID = ids[0] })
        let byOrder = try await tickets.listTickets(.with { $0.orderID = first.items[0].orderID })
        #expect(byOrder.tickets.map(\.ticketID) == [ids[0]])
        let breached = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.slaBreachedOnly = true })
        #expect(breached.tickets.isEmpty, "fresh tickets are within their SLA")

        let page = try await tickets.listTickets(.with { $0.shopperID = shopper; $0.pageSize = 1 })
        await expectCode(.invalidArgument, containing: "page_token") {
          try await tickets.listTickets(.with { $0.shopperID = "someone-else"; $0.pageToken = page.nextPageToken })
        }
        await expectCode(.invalidArgument, containing: "page_size") { try await tickets.listTickets(.with { $0.pageSize = 501 }) }
      }
    }

    @Test("methods of the contract this release does not serve answer UNIMPLEMENTED")
    func notYetServed() async throws {
      try await mesh.withGateway { grpc in
        let tickets = Client(wrapping: grpc)
        await expectCode(.unimplemented) { try await tickets.transitionTicket(.with { $0.ticketID = UUID().uuidString }) }
      }
    }
  }
}
